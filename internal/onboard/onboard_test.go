package onboard

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bazelbuild/buildtools/build"
)

const acmeBuild = `load("//rules:defs.bzl", "vse_customer", "vse_firmware", "vse_license")

vse_customer(
    name = "acme",
    config = "config.textproto",
)

vse_firmware(
    name = "firmware",
    customer = ":acme",
    licenses = [":license"],
    platforms = ["linux_amd64"],
)

vse_license(
    name = "license",
    app_ids = ["com.acme.wallet"],
    customer = ":acme",
    features = ["seal"],
    not_after = "2030-01-01T00:00:00Z",
)
`

// workspace makes a workspace holding acme, and other whose config names customer "dup".
func workspace(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"WORKSPACE":                       "",
		"rules/defs.bzl":                  "",
		"customers/acme/BUILD.bazel":      acmeBuild,
		"customers/acme/config.textproto": "customer: \"acme\"\ndisplay_name: \"ACME\"\nkeyset_version: 3\nfirmware_version: \"2.1.0\"\n",
		"customers/other/BUILD.bazel":     "load(\"//rules:defs.bzl\", \"vse_customer\")\n\nvse_customer(\n    name = \"other\",\n    customer = \"dup\",\n    config = \"c.textproto\",\n)\n",
		"customers/other/c.textproto":     "customer: \"dup\"\nkeyset_version: 1\nfirmware_version: \"1.0.0\"\n",
		"customers/README.md":             "not a package",
		"customers/empty/.keep":           "",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(root, name), content)
	}
	return root
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// snapshot is every file under root with its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(root, p)
		if info.IsDir() {
			files[r+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		files[r] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// formatted fails unless content is what buildifier would leave it as.
func formatted(t *testing.T, name, content string) *build.File {
	t.Helper()
	f, err := build.ParseBuild(name, []byte(content))
	if err != nil {
		t.Fatalf("%s does not parse: %v", name, err)
	}
	if got := string(build.Format(f)); got != content {
		t.Errorf("%s is not buildifier-formatted:\n%s\nformatted:\n%s", name, content, got)
	}
	return f
}

func TestAddWritesAPackageThatLists(t *testing.T) {
	root := workspace(t)
	ch, err := Add(root, "initech", Options{DisplayName: `Initech "Intl" \ Co`})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"customers/initech/BUILD.bazel", "customers/initech/config.textproto"}
	if !reflect.DeepEqual(ch.Written, want) {
		t.Errorf("wrote %v, want %v", ch.Written, want)
	}

	f := formatted(t, "BUILD.bazel", readFile(t, filepath.Join(root, want[0])))
	if l, ok := f.Stmt[0].(*build.LoadStmt); !ok || l.Module.Value != "//rules:defs.bzl" {
		t.Errorf("first statement is %s, want the load of //rules:defs.bzl", build.FormatString(f.Stmt[0]))
	}
	if r := f.RuleNamed("firmware"); r == nil || r.Kind() != "vse_firmware" || r.AttrString("customer") != ":initech" {
		t.Errorf("no vse_firmware of :initech named firmware in\n%s", build.Format(f))
	}

	cs, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Customer)
		if c.Customer == "initech" {
			if c.DisplayName != `Initech "Intl" \ Co` || c.KeysetVersion != 1 || c.FirmwareVersion != "1.0.0" ||
				!reflect.DeepEqual(c.Firmware, []string{"firmware"}) || len(c.Licenses) != 0 {
				t.Errorf("initech lists as %+v", c)
			}
		}
		if c.Customer == "acme" && (!reflect.DeepEqual(c.Licenses, []string{"license"}) || c.KeysetVersion != 3) {
			t.Errorf("acme lists as %+v", c)
		}
	}
	if !reflect.DeepEqual(names, []string{"acme", "initech", "dup"}) {
		t.Errorf("List gives %v, want acme, initech, dup in package order", names)
	}
}

func TestAddOutsideVsefabLoadsTheExternalRepository(t *testing.T) {
	root := workspace(t)
	if err := os.Remove(filepath.Join(root, "rules", "defs.bzl")); err != nil {
		t.Fatal(err)
	}
	if _, err := Add(root, "initech", Options{}); err != nil {
		t.Fatal(err)
	}
	if b := readFile(t, filepath.Join(root, "customers/initech/BUILD.bazel")); !strings.HasPrefix(b,
		`load("@vsefab//rules:defs.bzl", "vse_customer", "vse_firmware")`) {
		t.Errorf("BUILD file does not load @vsefab//rules:defs.bzl:\n%s", b)
	}
}

func TestAddRefusesAndWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"Initech", Options{}, "a-z, 0-9"},
		{"1nitech", Options{}, "starting with a letter"},
		{"ini-tech", Options{}, "a-z, 0-9"},
		{"ini/tech", Options{}, "a-z, 0-9"},
		{"../acme", Options{}, "a-z, 0-9"},
		{"", Options{}, "use 1 to 63"},
		{strings.Repeat("a", 64), Options{}, "use 1 to 63"},
		{"root", Options{}, "reserved"},
		{"audit", Options{}, "reserved"},
		{"transport", Options{}, "reserved"},
		{"escrow", Options{}, "reserved"},
		{"acme", Options{}, "--update"},
		{"dup", Options{}, "already declared by //customers/other:other"},
		{"initech", Options{From: "nobody"}, "--from nobody"},
		{"initech", Options{From: "Acme"}, "--from"},
		{"initech", Options{Update: true}, "does not exist"},
		{"acme", Options{Update: true, From: "other"}, "new customers only"},
		{"initech", Options{DisplayName: strings.Repeat("x", 300)}, "display_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := workspace(t)
			before := snapshot(t, root)
			_, err := Add(root, tc.name, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Add(%q, %+v) = %v, want an error saying %q", tc.name, tc.opts, err, tc.want)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused Add changed the workspace: %v", changed(before, after))
			}
		})
	}
	t.Run("exists is a sentinel", func(t *testing.T) {
		if _, err := Add(workspace(t), "acme", Options{}); !errors.Is(err, ErrExists) {
			t.Errorf("Add of an existing customer = %v, want ErrExists", err)
		}
	})
	t.Run("not a workspace", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Add(dir, "initech", Options{}); err == nil || !strings.Contains(err.Error(), "--workspace") {
			t.Errorf("Add outside a workspace = %v", err)
		}
		if after := snapshot(t, dir); len(after) != 1 {
			t.Errorf("Add outside a workspace wrote %v", after)
		}
	})
}

func changed(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k)
		}
	}
	sort.Strings(d)
	return d
}

func TestUpdateKeepsEdits(t *testing.T) {
	root := workspace(t)
	if _, err := Add(root, "initech", Options{}); err != nil {
		t.Fatal(err)
	}
	buildPath := filepath.Join(root, "customers/initech/BUILD.bazel")
	cfgPath := filepath.Join(root, "customers/initech/config.textproto")

	// A person's edits: a header comment, a target of their own, an attribute, a raised
	// firmware version, and the firmware target deleted.
	edited := `# Initech's firmware; ask the release team before changing it.

load("//rules:defs.bzl", "vse_customer")

vse_customer(
    name = "initech",
    config = "config.textproto",  # kept beside this file
)

genrule(
    name = "notes",
    outs = ["notes.txt"],
    cmd = "echo hi > $@",
)
`
	writeFile(t, buildPath, edited)
	cfg := strings.Replace(readFile(t, cfgPath), `"1.0.0"`, `"2.0.0"`, 1)
	writeFile(t, cfgPath, cfg)

	ch, err := Add(root, "initech", Options{Update: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ch.Written, []string{"customers/initech/BUILD.bazel"}) {
		t.Errorf("update wrote %v, want the BUILD file only", ch.Written)
	}
	got := readFile(t, buildPath)
	f := formatted(t, "BUILD.bazel", got)
	for _, keep := range []string{"# Initech's firmware; ask the release team", "# kept beside this file",
		`name = "notes"`, `cmd = "echo hi > $@"`} {
		if !strings.Contains(got, keep) {
			t.Errorf("update lost %q:\n%s", keep, got)
		}
	}
	if r := f.RuleNamed("firmware"); r == nil || r.Kind() != "vse_firmware" {
		t.Errorf("update did not bring back the firmware target:\n%s", got)
	}
	if !strings.Contains(got, `load("//rules:defs.bzl", "vse_customer", "vse_firmware")`) {
		t.Errorf("update did not extend the existing load:\n%s", got)
	}
	if readFile(t, cfgPath) != cfg {
		t.Errorf("update rewrote the config")
	}

	// Once complete, an update changes nothing.
	before := snapshot(t, root)
	ch, err = Add(root, "initech", Options{Update: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Written) != 0 || len(ch.Unchanged) != 2 {
		t.Errorf("second update: wrote %v, kept %v", ch.Written, ch.Unchanged)
	}
	if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
		t.Errorf("second update changed %v", changed(before, after))
	}
}

func TestUpdateRefusesWhatItCannotMerge(t *testing.T) {
	tests := []struct {
		name, build, want string
	}{
		{"firmware is another rule", "genrule(name = \"firmware\", outs = [\"x\"], cmd = \"\")\n",
			"target firmware is a genrule"},
		{"customer target is another rule", "filegroup(name = \"initech\")\n",
			"target initech is a filegroup"},
		{"syntax error", "vse_customer(name = \n", "BUILD.bazel:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := workspace(t)
			writeFile(t, filepath.Join(root, "customers/initech/BUILD.bazel"), tc.build)
			before := snapshot(t, root)
			_, err := Add(root, "initech", Options{Update: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update = %v, want an error saying %q", err, tc.want)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused update changed %v", changed(before, after))
			}
		})
	}
}

func TestAddFromTemplate(t *testing.T) {
	root := workspace(t)
	if _, err := Add(root, "initech", Options{From: "acme"}); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, filepath.Join(root, "customers/initech/BUILD.bazel"))
	f := formatted(t, "BUILD.bazel", got)
	if strings.Contains(got, "acme") || strings.Contains(got, "license") {
		t.Errorf("the new BUILD file keeps acme's names or licenses:\n%s", got)
	}
	fw := f.RuleNamed("firmware")
	if fw == nil || fw.AttrString("customer") != ":initech" ||
		!reflect.DeepEqual(fw.AttrStrings("platforms"), []string{"linux_amd64"}) {
		t.Errorf("the firmware target is not acme's for initech:\n%s", got)
	}
	cfg := readFile(t, filepath.Join(root, "customers/initech/config.textproto"))
	for _, want := range []string{`customer: "initech"`, "keyset_version: 1", `firmware_version: "2.1.0"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "ACME") {
		t.Errorf("config keeps acme's display name:\n%s", cfg)
	}
	if !bytes.Equal([]byte(readFile(t, filepath.Join(root, "customers/acme/BUILD.bazel"))), []byte(acmeBuild)) {
		t.Error("the template's BUILD file changed")
	}
}
