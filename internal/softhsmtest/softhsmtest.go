// Package softhsmtest makes throwaway SoftHSM2 tokens for tests: each lives in the test's
// temporary directory, has a PIN made up for that run, and is gone when the test ends.
//
// A token from here is never a production token: its PINs are random test values printed
// nowhere, and its configuration file exists only under t.TempDir(). The fixture refuses to
// run silently without SoftHSM: a missing softhsm2-util or module fails the test and says to
// run `make deps`.
//
// SoftHSM reads SOFTHSM2_CONF when the module is initialized, so New sets it for the whole
// test process (t.Setenv, which also keeps such tests from running in parallel). A test must
// close every module it opened before the next test makes its own token, or the module keeps
// using the first test's token directory.
package softhsmtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// modulePaths are where Debian and common builds install the SoftHSM2 module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// Token is one initialized SoftHSM2 token.
type Token struct {
	Module string   // path of the SoftHSM2 PKCS#11 module
	Label  string   // token label
	PIN    []byte   // user PIN: random per run, a test value by construction
	SOPIN  string   // security officer PIN: random per run
	Conf   string   // the softhsm2.conf that SOFTHSM2_CONF names for this process
	Dir    string   // the token directory (directories.tokendir)
	Env    []string // the environment for subprocesses (pkcs11-tool, an agent): SOFTHSM2_CONF set
}

// New makes a fresh token directory and configuration in t.TempDir(), points SOFTHSM2_CONF
// at it for the rest of the test and initializes one token labelled label. Each of
// extraConf is appended to softhsm2.conf as a line, e.g. "slots.mechanisms = -CKM_AES_GCM"
// to take a mechanism away.
func New(t testing.TB, label string, extraConf ...string) *Token {
	t.Helper()
	return Empty(t, extraConf...).initToken(t, tool(t, "softhsm2-util"), label)
}

// Empty is New without the token: SoftHSM offers one uninitialized token, for tests of
// token initialization. The result has no label and no PINs.
func Empty(t testing.TB, extraConf ...string) *Token {
	t.Helper()
	tool(t, "softhsm2-util")
	module := findModule(t)

	// Not t.TempDir: its name comes from the test's, and SoftHSM's configuration parser
	// cuts a path at an "=", which subtest names such as "clients=4" hold.
	root, err := os.MkdirTemp("", "softhsm")
	if err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dir := filepath.Join(root, "tokens")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	conf := filepath.Join(root, "softhsm2.conf")
	text := "# Written by internal/softhsmtest for one test run.\n" +
		"directories.tokendir = " + dir + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n"
	for _, line := range extraConf {
		text += line + "\n"
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)

	return &Token{Module: module, Conf: conf, Dir: dir, Env: environ(conf)}
}

// Another initializes a second token, labelled label, in the same token directory and
// configuration as tok, so one module sees both. Call it before the module is opened:
// SoftHSM lists the tokens it finds when it is initialized.
func (tok *Token) Another(t testing.TB, label string) *Token {
	t.Helper()
	return tok.initToken(t, tool(t, "softhsm2-util"), label)
}

func (tok *Token) initToken(t testing.TB, util, label string) *Token {
	t.Helper()
	n := &Token{
		Module: tok.Module, Label: label, Conf: tok.Conf, Dir: tok.Dir, Env: tok.Env,
		PIN:   []byte("test-pin-" + randomHex(t, 8)),
		SOPIN: "test-so-" + randomHex(t, 8),
	}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label,
		"--so-pin", n.SOPIN, "--pin", string(n.PIN))
	cmd.Env = n.Env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsmtest: softhsm2-util --init-token --label %q: %v\n%s", label, err, out)
	}
	return n
}

// Tool runs pkcs11-tool against tok's token with args appended to --module and --token-label,
// and returns its standard output. A failure ends the test.
func (tok *Token) Tool(t testing.TB, args ...string) string {
	t.Helper()
	out, err := tok.TryTool(t, args...)
	if err != nil {
		t.Fatalf("softhsmtest: pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TryTool is Tool that returns the error instead of ending the test; the output holds
// standard output and standard error.
func (tok *Token) TryTool(t testing.TB, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"--module", tok.Module, "--token-label", tok.Label}, args...)
	cmd := exec.Command(tool(t, "pkcs11-tool"), full...)
	cmd.Env = tok.Env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// LoginArgs are pkcs11-tool's arguments to log in as tok's user.
func (tok *Token) LoginArgs() []string {
	return []string{"--login", "--pin", string(tok.PIN)}
}

func environ(conf string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOFTHSM2_CONF=") {
			env = append(env, kv)
		}
	}
	return append(env, "SOFTHSM2_CONF="+conf)
}

func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// Bazel's strict action environment has /usr/bin on PATH; a bare `go test` from an odd
	// shell may not.
	if p := "/usr/bin/" + name; isFile(p) {
		return p
	}
	t.Fatalf("softhsmtest: %s not found: run `make deps` (it installs softhsm2 and opensc)", name)
	return ""
}

func findModule(t testing.TB) string {
	t.Helper()
	for _, p := range modulePaths {
		if isFile(p) {
			return p
		}
	}
	t.Fatalf("softhsmtest: no SoftHSM2 module at %s: run `make deps` (it installs softhsm2)",
		strings.Join(modulePaths, ", "))
	return ""
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	return hex.EncodeToString(b)
}

// String describes the token without its PINs.
func (tok *Token) String() string {
	return fmt.Sprintf("SoftHSM token %q in %s", tok.Label, tok.Dir)
}
