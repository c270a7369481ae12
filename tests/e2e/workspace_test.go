package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scratchWorkspace makes a workspace of its own that uses vsefab as the external repository
// @vsefab, registers the emulator HSM toolchain only if asked to, and holds build as
// customers/x/BUILD.bazel. It
// borrows rules_go and the Go SDK already fetched for the main workspace, so it fetches
// nothing.
func scratchWorkspace(t *testing.T, build string, registerHSM bool) string {
	t.Helper()
	info := exec.Command("bazel", "info", "output_base")
	info.Dir = root(t)
	// Stdout only: Bazel's notes, such as waiting for another command, go to stderr.
	out, err := info.Output()
	if err != nil {
		t.Fatalf("bazel info output_base: %v", err)
	}
	mainBase := strings.TrimSpace(string(out))
	dir := t.TempDir()
	ws := fmt.Sprintf(`workspace(name = "scratch")
local_repository(name = "vsefab", path = %[1]q)
local_repository(name = "bazel_skylib", path = "/usr/share/bazel/tools/skylib")
local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")
local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
local_repository(name = "rules_cc", path = %[1]q + "/third_party/rules_cc")
local_repository(name = "remote_coverage_tools", path = %[1]q + "/third_party/remote_coverage_tools")
load("@vsefab//rules/private:repositories.bzl", "vsefab_go_repositories")
vsefab_go_repositories()
load("@io_bazel_rules_go//go:deps.bzl", "go_register_toolchains", "go_rules_dependencies", "go_wrap_sdk")
go_rules_dependencies()
go_wrap_sdk(name = "go_sdk", root_file = "@go_sdk_dist//:VERSION")
go_register_toolchains()
`, root(t))
	if registerHSM {
		ws += "register_toolchains(\"@vsefab//hsm:emulator\")\n"
	}
	files := map[string]string{
		"WORKSPACE":                    ws,
		"BUILD.bazel":                  "",
		".bazelrc":                     "build --nosandbox_debug\n",
		"customers/x/BUILD.bazel":      build,
		"customers/x/config.textproto": "customer: \"x\"\nkeyset_version: 1\nfirmware_version: \"1.0.0\"\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		cmd := exec.Command("bazel", "shutdown")
		cmd.Dir = dir
		_ = cmd.Run()
	})
	return dir + "\x00" + mainBase
}

// scratchBuild builds targets in a scratch workspace and returns Bazel's output.
func scratchBuild(t *testing.T, scratch string, targets ...string) (string, error) {
	t.Helper()
	dir, mainBase, _ := strings.Cut(scratch, "\x00")
	cmd := exec.Command("bazel", append([]string{"build",
		"--override_repository=io_bazel_rules_go=" + filepath.Join(mainBase, "external", "io_bazel_rules_go"),
		"--override_repository=go_sdk_dist=" + filepath.Join(mainBase, "external", "go_sdk_dist")},
		targets...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const scratchLoad = `load("@vsefab//rules:defs.bzl", "vse_customer", "vse_firmware")
`

func TestBadBuildFilesFailClearly(t *testing.T) {
	build(t) // the main workspace's repositories must be fetched to be borrowed
	tests := []struct {
		name, build string
		registerHSM bool
		want        []string
	}{
		{"missing toolchain", scratchLoad + `
vse_customer(name = "x", config = "config.textproto")
vse_firmware(name = "firmware", customer = ":x")
`, false, []string{"no matching toolchains found", "hsm:toolchain_type"}},
		{"no customer attribute", scratchLoad + `
vse_firmware(name = "firmware")
`, true, []string{"attribute customer is required", `customer = ":acme"`}},
		{"misspelt attribute", scratchLoad + `
vse_customer(name = "x", config = "config.textproto")
vse_firmware(name = "firmware", customer = ":x", custommer = ":x")
`, true, []string{"unknown attribute(s) custommer"}},
		{"bad customer name", scratchLoad + `
vse_customer(name = "x", customer = "Bad-Name", config = "config.textproto")
vse_firmware(name = "firmware", customer = ":x")
`, true, []string{"customer name \"Bad-Name\"", "a-z, 0-9"}},
		{"platform needing an SDK", scratchLoad + `
vse_customer(name = "x", config = "config.textproto")
vse_firmware(name = "firmware", customer = ":x", platforms = ["linux_amd64", "android_arm64"])
`, true, []string{`platform "android_arm64" cannot be built here`, "Android NDK"}},
		{"unknown platform", scratchLoad + `
vse_customer(name = "x", config = "config.textproto")
vse_firmware(name = "firmware", customer = ":x", platforms = ["amiga_m68k"])
`, true, []string{`platform "amiga_m68k" is not known`, "linux_amd64"}},
		{"not a customer", scratchLoad + `
filegroup(name = "x", srcs = ["config.textproto"])
vse_firmware(name = "firmware", customer = ":x")
`, true, []string{"VseCustomerInfo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scratch := scratchWorkspace(t, tc.build, tc.registerHSM)
			out, err := scratchBuild(t, scratch, "//customers/x:firmware")
			if err == nil {
				t.Fatalf("build succeeded:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
			dir, _, _ := strings.Cut(scratch, "\x00")
			if m, _ := filepath.Glob(filepath.Join(dir, "bazel-out", "*", "bin", "customers", "x", "*")); len(m) > 0 {
				t.Errorf("failed build left outputs: %v", m)
			}
		})
	}
}

// TestExternalWorkspaceBuilds proves the rules work from a workspace of their own, the way a
// vendor keeps its customers apart from vsefab's tree, and that a customer onboarded there
// with vsefab customer add builds with no hand edit.
func TestExternalWorkspaceBuilds(t *testing.T) {
	build(t)
	scratch := scratchWorkspace(t, scratchLoad+`
vse_customer(name = "x", config = "config.textproto")
vse_firmware(name = "firmware", customer = ":x")
`, true)
	dir, _, _ := strings.Cut(scratch, "\x00")
	add := exec.Command(vsefabTool(t), "customer", "add", "initech")
	add.Dir = dir
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("vsefab customer add initech: %v\n%s", err, out)
	}
	if out, err := scratchBuild(t, scratch, "//customers/x:firmware", "//customers/initech:firmware"); err != nil {
		t.Fatalf("build failed: %v\n%s", err, out)
	}
	for _, c := range []string{"x", "initech"} {
		if _, err := os.Stat(filepath.Join(dir, "bazel-bin", "customers", c, "libfirmware.so")); err != nil {
			t.Error(err)
		}
	}
	m, err := os.ReadFile(filepath.Join(dir, "bazel-bin", "customers", "initech", "firmware.manifest.json"))
	if err != nil || !strings.Contains(string(m), `"initech"`) {
		t.Errorf("initech's manifest does not name initech: %v\n%s", err, m)
	}
}
