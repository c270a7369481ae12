package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/internal/leakcheck"
)

const goodConfig = `customer: "acme"
keyset_version: 1
firmware_version: "1.0.0"
`

// runGenIn runs vsefab gen with outputs in dir/out and returns the exit code and stderr.
func runGenIn(t *testing.T, dir, config string, extra ...string) (int, string) {
	t.Helper()
	return runGenInFor(t, dir, "acme", config, extra...)
}

// runGenInFor is runGenIn for a build target that declares customer.
func runGenInFor(t *testing.T, dir, customer, config string, extra ...string) (int, string) {
	t.Helper()
	cfg := filepath.Join(dir, "config.textproto")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := append([]string{"gen", "--config", cfg, "--customer", customer,
		"--out-dir", filepath.Join(out, "src"), "--escrow", filepath.Join(out, "escrow.bin"),
		"--manifest", filepath.Join(out, "manifest.pb"), "--manifest-json", filepath.Join(out, "manifest.json"),
		"--manifest-sig", filepath.Join(out, "manifest.sig"),
		"--log", filepath.Join(out, "gen.log")}, extra...)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stderr.String()
}

func TestGenWritesOutputsWithoutSecrets(t *testing.T) {
	dir := t.TempDir()
	code, stderr := runGenIn(t, dir, goodConfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ks, err := emulator.Emulator{}.EnsureKeyset(context.Background(), "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{}
	for _, k := range ks.Keys {
		secrets[k.Label] = k.Value
	}
	n := 0
	err = filepath.Walk(filepath.Join(dir, "out"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		n++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if found := leakcheck.Find(data, secrets); len(found) > 0 {
			t.Errorf("%s holds %v", p, found)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("gen wrote %d files, want 9", n)
	}
	if found := leakcheck.Find([]byte(stderr), secrets); len(found) > 0 {
		t.Errorf("log holds %v", found)
	}
	if lines := strings.Count(stderr, "\n"); lines < 3 {
		t.Errorf("log has %d lines, want one per step", lines)
	}
}

func TestGenBadInputWritesNothing(t *testing.T) {
	tests := []struct{ name, config, want string }{
		{"malformed", `customer: "acme`, "config.textproto"},
		{"unknown field", goodConfig + "colour: 3\n", "colour"},
		{"version 0", strings.Replace(goodConfig, "keyset_version: 1", "keyset_version: 0", 1), "keyset_version"},
		{"other customer", strings.Replace(goodConfig, "acme", "globex", 1), "field customer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stderr := runGenIn(t, dir, tc.config)
			if code == 0 {
				t.Fatal("gen succeeded")
			}
			if !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("stderr %q: want one error naming %q", stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
				t.Errorf("gen left output behind: %v", err)
			}
		})
	}
}

func TestGenUnknownHSM(t *testing.T) {
	dir := t.TempDir()
	code, stderr := runGenIn(t, dir, goodConfig, "--hsm", "pkcs11:token=nope")
	if code == 0 || !strings.Contains(stderr, "--hsm") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestHelpListsCommands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("help does not list %s", name)
		}
	}
}
