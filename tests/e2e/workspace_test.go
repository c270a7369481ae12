package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsefab/vsefab/internal/scratchws"
)

// scratchWorkspace makes a workspace of its own that uses vsefab as the external repository
// @vsefab, registers the emulator HSM toolchain only if asked to, and holds build as
// customers/x/BUILD.bazel.
func scratchWorkspace(t *testing.T, build string, registerHSM bool) *scratchws.Workspace {
	t.Helper()
	w, err := scratchws.New(t.TempDir(), root(t), scratchws.Options{RegisterEmulator: registerHSM})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	if err := w.WriteFile("customers/x/BUILD.bazel", build); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile("customers/x/config.textproto", "customer: \"x\"\nkeyset_version: 1\nfirmware_version: \"1.0.0\"\n"); err != nil {
		t.Fatal(err)
	}
	return w
}

// scratchBuild builds targets in a scratch workspace and returns Bazel's output.
func scratchBuild(t *testing.T, w *scratchws.Workspace, targets ...string) (string, error) {
	t.Helper()
	r, err := w.Bazel(nil, append([]string{"build"}, targets...)...)
	return r.Output, err
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
			if m, _ := filepath.Glob(filepath.Join(scratch.Dir, "bazel-out", "*", "bin", "customers", "x", "*")); len(m) > 0 {
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
	dir := scratch.Dir
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
