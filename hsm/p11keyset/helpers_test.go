package p11keyset

import (
	"context"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// newBackend makes a fresh SoftHSM token, logs in and returns a backend over it; the token
// is closed when the test ends.
func newBackend(t *testing.T, opts ...Option) (*Backend, *softhsmtest.Token) {
	t.Helper()
	tok := softhsmtest.New(t, "vse-test")
	return backendFor(t, tok, opts...), tok
}

// backendFor opens tok, logs in and returns a backend over it; the token is closed when the
// test ends.
func backendFor(t *testing.T, tok *softhsmtest.Token, opts ...Option) *Backend {
	t.Helper()
	b, closeB := openBackend(t, tok, opts...)
	t.Cleanup(closeB)
	return b
}

// openBackend is backendFor that leaves closing the token (once) to the caller.
func openBackend(t *testing.T, tok *softhsmtest.Token, opts ...Option) (*Backend, func()) {
	t.Helper()
	tk, err := p11.OpenToken(tok.Module, tok.Label)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeTk := func() {
		once.Do(func() {
			if err := tk.Close(); err != nil {
				t.Errorf("closing the token: %v", err)
			}
		})
	}
	if err := tk.Login(tok.PIN); err != nil {
		closeTk()
		t.Fatal(err)
	}
	b, err := New(tk, opts...)
	if err != nil {
		closeTk()
		t.Fatal(err)
	}
	return b, closeTk
}

// labels returns the label of every object on the token, session objects included, one
// entry per object.
func labels(t *testing.T, b *Backend) []string {
	t.Helper()
	var out []string
	err := b.tok.Do(context.Background(), func(s *p11.Session) error {
		hs, err := s.Find(nil)
		if err != nil {
			return err
		}
		for _, h := range hs {
			a, err := s.Attributes(h, "object", pkcs11.CKA_LABEL)
			if err != nil {
				return err
			}
			l, err := a.Bytes(pkcs11.CKA_LABEL)
			if err != nil {
				return err
			}
			out = append(out, string(l))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
