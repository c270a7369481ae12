package p11_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// nonPKCS11Library is a shared library every Linux machine has that is no PKCS#11 module.
func nonPKCS11Library(t *testing.T) string {
	t.Helper()
	for _, p := range []string{
		"/lib/x86_64-linux-gnu/libz.so.1",
		"/usr/lib/x86_64-linux-gnu/libz.so.1",
		"/lib/aarch64-linux-gnu/libz.so.1",
		"/lib/x86_64-linux-gnu/libm.so.6",
		"/lib/aarch64-linux-gnu/libm.so.6",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("no libz or libm found to stand for a shared library that is not a PKCS#11 module")
	return ""
}

func TestOpenRefusesBadModules(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "module.txt")
	if err := os.WriteFile(text, []byte("not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// ELF magic and then junk: debug/elf cannot parse it, so only dlopen refuses it, and
	// miekg/pkcs11 reports that as a nil context.
	damaged := filepath.Join(dir, "damaged.so")
	junk := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...)
	if err := os.WriteFile(damaged, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.so")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.so")
	if err := os.Symlink(filepath.Join(dir, "gone.so"), dangling); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		path      string
		notModule bool   // errors.Is(err, ErrNotModule)
		want      string // in the message besides the path
	}{
		{"missing file", filepath.Join(dir, "missing.so"), false, "no such file"},
		{"dangling symlink", dangling, false, "no such file"},
		{"directory", dir, true, "not a regular file"},
		{"text file", text, true, "no ELF header"},
		{"empty file", empty, true, "no ELF header"},
		{"shared library without C_GetFunctionList", nonPKCS11Library(t), true, "C_GetFunctionList"},
		{"damaged ELF file", damaged, true, "dlopen failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := p11.Open(tc.path)
			if err == nil {
				m.Close()
				t.Fatalf("Open(%s) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error does not name the path %s: %v", tc.path, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error lacks %q: %v", tc.want, err)
			}
			if got := errors.Is(err, p11.ErrNotModule); got != tc.notModule {
				t.Errorf("errors.Is(err, ErrNotModule) = %v, want %v: %v", got, tc.notModule, err)
			}
		})
	}
}

func TestOpenRefusesUnreadableModule(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode; the unreadable case needs another user")
	}
	p := filepath.Join(t.TempDir(), "secret.so")
	if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := p11.Open(p)
	if err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Open of an unreadable file: err = %v, want a permission error naming it", err)
	}
}

func TestOpenIsSharedAndCounted(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	link := filepath.Join(t.TempDir(), "softhsm.so")
	if err := os.Symlink(tok.Module, link); err != nil {
		t.Fatal(err)
	}

	a, err := p11.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p11.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("two Opens of one module file (once through a symlink) gave two Modules")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Still open for b: the module must still answer.
	if _, err := b.Ctx().GetSlotList(true); err != nil {
		t.Fatalf("module stopped answering while one user still had it open: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); !errors.Is(err, p11.ErrClosed) {
		t.Fatalf("a Close too many: err = %v, want ErrClosed", err)
	}

	// Finalized and unloaded: a new Open initializes it again.
	c, err := p11.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c == a {
		t.Error("Open after the last Close returned the closed Module")
	}
	tk, err := c.Token(tok.Label, 0)
	if err != nil {
		t.Fatalf("token not found after the module was opened again: %v", err)
	}
	tk.Close()
}

// When someone else in the process initialized the module, Open must use it as it is and
// Close must leave it initialized.
func TestOpenNeverFinalizesWhatItDidNotInitialize(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	other := pkcs11.New(tok.Module)
	if other == nil {
		t.Fatal("miekg/pkcs11 could not load SoftHSM")
	}
	if err := other.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		other.Finalize()
		other.Destroy()
	}()

	m, err := p11.Open(tok.Module)
	if err != nil {
		t.Fatalf("Open of a module initialized by someone else: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetSlotList(true); err != nil {
		t.Fatalf("the other user's module no longer answers after our Close: %v", err)
	}
}
