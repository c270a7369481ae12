package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsefab/vsefab/hsm/emulator"
)

// runVsefab runs the command line in process and returns the exit code and both outputs.
func runVsefab(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	if code, stderr := runGenIn(t, dir, goodConfig); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	manifest := filepath.Join(dir, "out", "manifest.pb")
	emuKey, err := emulator.RootPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := filepath.Join(dir, "emulator-root.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: emuKey}), 0o644); err != nil {
		t.Fatal(err)
	}

	if code, out, stderr := runVsefab("verify", "--root-key", rootPEM, manifest); code != 0 ||
		!strings.HasPrefix(out, "ok ") {
		t.Fatalf("verify of a fresh emulator manifest: exit %d\n%s%s", code, out, stderr)
	}

	// The same manifest twice repeats every key ID and check value.
	code, out, _ := runVsefab("verify", manifest, manifest)
	if code == 0 || !strings.Contains(out, "key ID") || !strings.Contains(out, "check value") {
		t.Errorf("a manifest given twice: exit %d\n%s", code, out)
	}

	// Production verification refuses the emulator's root key, and emulator firmware.
	code, _, stderr := runVsefab("verify", "--prod", "--root-key", rootPEM, manifest)
	if code == 0 || !strings.Contains(stderr, "emulator's root key") {
		t.Errorf("--prod with the emulator's root key: exit %d: %s", code, stderr)
	}
	code, _, stderr = runVsefab("verify", "--prod", manifest)
	if code == 0 || !strings.Contains(stderr, "needs --root-key") {
		t.Errorf("--prod without a root key: exit %d: %s", code, stderr)
	}

	// One flipped byte in the manifest, or in its signature, fails.
	for _, name := range []string{"manifest.pb", "manifest.sig"} {
		p := filepath.Join(dir, "out", name)
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(orig)
		bad[len(bad)-5] ^= 0x01
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, _ := runVsefab("verify", manifest)
		if code == 0 || !strings.Contains(out, "FAIL") {
			t.Errorf("%s with a flipped byte: exit %d\n%s", name, code, out)
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
