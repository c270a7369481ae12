package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// halves splits tok's PIN into two half files, as two custodians would keep them.
func halves(t *testing.T, tok *softhsmtest.Token) (string, string) {
	t.Helper()
	dir := t.TempDir()
	n := len(tok.PIN) / 2
	var srcs [2]string
	for i, h := range [][]byte{tok.PIN[:n], tok.PIN[n:]} {
		p := filepath.Join(dir, []string{"c1", "c2"}[i])
		if err := os.WriteFile(p, append(append([]byte{}, h...), '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		srcs[i] = "file:" + p
	}
	return srcs[0], srcs[1]
}

func TestCeremonyCommand(t *testing.T) {
	tok := softhsmtest.New(t, "vse-ceremony")
	hsm := "pkcs11:token=" + tok.Label + "?module-path=" + tok.Module
	h1, h2 := halves(t, tok)
	out := filepath.Join(t.TempDir(), "records")

	code, stdout, stderr := runVsefab("ceremony", "--hsm", hsm, "--pin1", h1, "--pin2", h2,
		"--root", "--customers", "acme,globex", "--out-dir", out)
	if code != 0 {
		t.Fatalf("ceremony: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"vsefab/root/sign", "vsefab/root/kek", "vsefab/audit/sign",
		"vsefab/acme/kek", "vsefab/globex/kek", "check value:", "BEGIN PUBLIC KEY", "Custodian 2: name"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("record lacks %q:\n%s", want, stdout)
		}
	}
	record, err := os.ReadFile(filepath.Join(out, "record.txt"))
	if err != nil || string(record) != stdout {
		t.Errorf("record.txt differs from the printed record (%v)", err)
	}
	for _, f := range []string{"root.pub.pem", "audit.pub.pem"} {
		if _, err := readPublicKey("test", filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// An existing output is refused before anyone is asked for a PIN: with prompts as the
	// sources and no terminal, reaching the PIN would fail differently.
	code, _, stderr = runVsefab("ceremony", "--hsm", hsm, "--customers", "initech", "--out-dir", out)
	if code == 0 || !strings.Contains(stderr, "record.txt exists: refusing to overwrite it") {
		t.Errorf("existing record: exit %d: %s", code, stderr)
	}

	// A label in use is refused; the root keys are not made twice.
	code, _, stderr = runVsefab("ceremony", "--hsm", hsm, "--pin1", h1, "--pin2", h2, "--root")
	if code == 0 || !strings.Contains(stderr, "never reuses a label") {
		t.Errorf("second root ceremony: exit %d: %s", code, stderr)
	}

	// A half that is empty is refused, naming whose.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runVsefab("ceremony", "--hsm", hsm, "--pin1", h1, "--pin2", "file:"+empty, "--customers", "initech")
	if code == 0 || !strings.Contains(stderr, "custodian 2's half of the user PIN") || !strings.Contains(stderr, "empty") {
		t.Errorf("empty half: exit %d: %s", code, stderr)
	}
	// Halves swapped: one error that names neither.
	code, _, stderr = runVsefab("ceremony", "--hsm", hsm, "--pin1", h2, "--pin2", h1, "--customers", "initech")
	if code == 0 || !strings.Contains(stderr, "both custodians enter their halves again") ||
		strings.Contains(stderr, "custodian 1's") || strings.Contains(stderr, string(tok.PIN[:4])) {
		t.Errorf("swapped halves: exit %d: %s", code, stderr)
	}
}

func TestAgentProductionFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--window", "30m"}, "add --production"},
		{[]string{"--production", "--customers", "acme", "--audit-log", "a"}, "needs --window"},
		{[]string{"--production", "--window", "1m", "--audit-log", "a"}, "needs --customers"},
		{[]string{"--production", "--window", "1m", "--customers", "acme"}, "needs --audit-log"},
		{[]string{"--production", "--window", "1m", "--customers", "acme,root", "--audit-log", "a"}, "reserved"},
		{[]string{"--production", "--window", "1m", "--customers", "acme", "--audit-log", "a", "--pin-file", "p"}, "dual control"},
	} {
		args := append([]string{"agent", "--hsm", "pkcs11:token=x?module-path=/nonexistent.so"}, tc.args...)
		code, _, stderr := runVsefab(args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d: %s, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestAgentAuditHeadFlags(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.head")
	if err := os.WriteFile(existing, []byte("1:00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--audit-head", filepath.Join(dir, "h")}, "add --audit-log"},
		{[]string{"--audit-log", logPath, "--audit-head", existing}, "exists"},
		{[]string{"--audit-log", logPath, "--audit-head", logPath}, "name a file of its own"},
		{[]string{"--audit-log", logPath, "--audit-head", filepath.Join(dir, "no", "h")}, "its directory must exist"},
	} {
		args := append([]string{"agent", "--hsm", "pkcs11:token=x?module-path=/nonexistent.so"}, tc.args...)
		code, _, stderr := runVsefab(args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d: %s, want %q", tc.args, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(logPath); err == nil {
		t.Error("a refused agent created the audit log")
	}
}

// An agent whose head file cannot be written when it exits says so and exits non-zero: a
// head the custodians cannot trust must not look like one written.
func TestAgentAuditHeadFailureIsAnError(t *testing.T) {
	st := softhsmtest.New(t, "vse-head")
	dir, err := os.MkdirTemp("", "vsh") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pinFile, socket := filepath.Join(dir, "pin"), filepath.Join(dir, "a.sock")
	head := filepath.Join(dir, "window.head")
	if err := os.WriteFile(pinFile, st.PIN, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range st.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == "SOFTHSM2_CONF" {
			t.Setenv(k, v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"agent", "--hsm", "pkcs11:token=" + st.Label + "?module-path=" + st.Module,
			"--socket", socket, "--pin-file", pinFile, "--audit-log", filepath.Join(dir, "audit.log"),
			"--audit-head", head}, io.Discard, &stderr)
	}()
	for i := 0; ; i++ {
		if _, err := os.Stat(socket); err == nil {
			break
		} else if i == 200 {
			t.Fatal("the agent did not listen")
		}
		time.Sleep(25 * time.Millisecond)
	}
	// Someone puts a file where the head goes while the window is open.
	if err := os.WriteFile(head, []byte("1:00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cancel()
	if code := <-done; code == 0 || !strings.Contains(stderr.String(), "--audit-head") {
		t.Errorf("agent exit %d; stderr:\n%s", code, stderr.String())
	}
	if data, _ := os.ReadFile(head); string(data) != "1:00\n" {
		t.Errorf("the head file was overwritten: %q", data)
	}
}
