package softhsmtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	tok := New(t, "vse-test", "slots.removable = false")
	other := tok.Another(t, "vse-other")

	conf, err := os.ReadFile(tok.Conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"directories.tokendir = " + tok.Dir, "objectstore.backend = file",
		"log.level = ERROR", "slots.removable = false"} {
		if !strings.Contains(string(conf), line+"\n") {
			t.Errorf("softhsm2.conf lacks %q:\n%s", line, conf)
		}
	}
	if got := os.Getenv("SOFTHSM2_CONF"); got != tok.Conf {
		t.Errorf("SOFTHSM2_CONF = %q, want %q", got, tok.Conf)
	}
	if n := strings.Count(strings.Join(tok.Env, "\n"), "SOFTHSM2_CONF="); n != 1 {
		t.Errorf("Env sets SOFTHSM2_CONF %d times", n)
	}

	// Per-run test PINs, never a default.
	for _, pin := range [][]byte{tok.PIN, other.PIN} {
		if !bytes.HasPrefix(pin, []byte("test-pin-")) || len(pin) != len("test-pin-")+16 {
			t.Errorf("PIN %q is not a per-run test PIN", pin)
		}
	}
	if bytes.Equal(tok.PIN, other.PIN) || tok.SOPIN == other.SOPIN {
		t.Error("two tokens got the same PIN")
	}
	if strings.Contains(tok.String(), string(tok.PIN)) || strings.Contains(tok.String(), tok.SOPIN) {
		t.Error("String shows a PIN")
	}

	cmd := exec.Command(tool(t, "softhsm2-util"), "--show-slots")
	cmd.Env = tok.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --show-slots: %v\n%s", err, out)
	}
	for _, l := range []string{"vse-test", "vse-other"} {
		if !strings.Contains(string(out), "Label:            "+l+" ") {
			t.Errorf("softhsm2-util does not show token %s:\n%s", l, out)
		}
	}

	// pkcs11-tool logs in with the PIN and finds the token by label.
	if out := tok.Tool(t, append(tok.LoginArgs(), "--list-objects")...); strings.Contains(out, "error") {
		t.Errorf("pkcs11-tool: %s", out)
	}
	if _, err := tok.TryTool(t, "--login", "--pin", "wrong-pin", "--list-objects"); err == nil {
		t.Error("pkcs11-tool logged in with a wrong PIN")
	}
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

type fatal struct{}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = strings.TrimSpace(strings.ReplaceAll(format, "%s", "")) // the format says enough
	panic(fatal{})
}

func TestMissingToolSaysMakeDeps(t *testing.T) {
	f := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					panic(r)
				}
			}
		}()
		tool(f, "softhsm2-util-that-does-not-exist")
	}()
	if !strings.Contains(f.msg, "make deps") {
		t.Fatalf("missing tool: message %q does not say to run make deps", f.msg)
	}
}
