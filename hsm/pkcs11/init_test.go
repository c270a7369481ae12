package p11_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// pinOf is a PIN of n bytes, a through z over and over.
func pinOf(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

func TestInitToken(t *testing.T) {
	env := softhsmtest.Empty(t)
	m, err := p11.Open(env.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	so, user := []byte("so-pin-for-init"), []byte("user-pin-for-init")
	if err := m.InitToken("vse-init", so, user); err != nil {
		t.Fatal(err)
	}
	if err := m.InitToken("vse-init", so, user); !errors.Is(err, p11.ErrLabelTaken) {
		t.Fatalf("second InitToken with the same label: err = %v, want ErrLabelTaken", err)
	}
	tok, err := m.Token("vse-init", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.Login(user); err != nil {
		t.Fatalf("login with the user PIN set by InitToken: %v", err)
	}

	// A length the token refuses is caught before the token sees it: no token is initialized.
	err = m.InitToken("vse-too-short", so, []byte("abc"))
	if !p11.IsRV(err, pkcs11.CKR_PIN_LEN_RANGE) || !strings.Contains(err.Error(), "nothing was sent") {
		t.Fatalf("short user PIN: err = %v, want CKR_PIN_LEN_RANGE before any call", err)
	}
	if _, err := m.Token("vse-too-short", 1); !errors.Is(err, p11.ErrNoToken) {
		t.Fatalf("a refused InitToken left a token behind: %v", err)
	}
}

// TestPINLengths initializes a token for each PIN length around the limits SoftHSM sets
// (4 to 255) and logs in: the lengths inside work in full, and a login with the PIN one byte
// short fails, so nothing truncated it; the lengths outside are refused before C_Login.
func TestPINLengths(t *testing.T) {
	env := softhsmtest.Empty(t)
	m, err := p11.Open(env.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	so := []byte("so-pin-lengths")

	for _, n := range []int{4, 31, 32, 33, 64, 255} {
		label := "len-" + strconv.Itoa(n)
		pin := pinOf(n)
		if err := m.InitToken(label, so, pin); err != nil {
			t.Fatalf("%d-byte PIN: InitToken: %v", n, err)
		}
		tok, err := m.Token(label, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n > 4 {
			if err := tok.Login(pin[:n-1]); !p11.IsRV(err, pkcs11.CKR_PIN_INCORRECT) {
				t.Errorf("%d-byte PIN: login with its first %d bytes: err = %v, want CKR_PIN_INCORRECT", n, n-1, err)
			}
		}
		if err := tok.Login(pin); err != nil {
			t.Errorf("%d-byte PIN: %v", n, err)
		}
		tok.Close()
	}

	for _, n := range []int{3, 256} {
		if err := m.InitToken("len-bad", so, pinOf(n)); !p11.IsRV(err, pkcs11.CKR_PIN_LEN_RANGE) {
			t.Errorf("%d-byte PIN: InitToken err = %v, want CKR_PIN_LEN_RANGE", n, err)
		}
	}
	// Login refuses the same lengths without calling C_Login: 256 bytes on a token whose PIN
	// is 255 bytes would otherwise be a wrong PIN, counted against the retry limit.
	tok, err := m.Token("len-255", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	long := append(pinOf(255), 'z')
	if err := tok.Login(long); !p11.IsRV(err, pkcs11.CKR_PIN_LEN_RANGE) ||
		!strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("256-byte PIN: Login err = %v, want CKR_PIN_LEN_RANGE before C_Login", err)
	}
}

// TestWrongPINLeavesOthersWorking logs in to one token, fails a login on a second token of
// the same module, and checks the first still works and the second's retry succeeds.
func TestWrongPINLeavesOthersWorking(t *testing.T) {
	a := softhsmtest.New(t, "vse-a")
	b := a.Another(t, "vse-b")
	ta := openToken(t, a)

	tb, err := p11.OpenToken(b.Module, b.Label)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	// Halves entered the wrong way round make a wrong PIN of the right length.
	half := len(b.PIN) / 2
	swapped := append(append([]byte{}, b.PIN[half:]...), b.PIN[:half]...)
	err = tb.Login(swapped)
	if !p11.IsRV(err, pkcs11.CKR_PIN_INCORRECT) {
		t.Fatalf("swapped halves: err = %v, want CKR_PIN_INCORRECT", err)
	}
	for _, h := range [][]byte{b.PIN[:half], b.PIN[half:]} {
		if strings.Contains(err.Error(), string(h)) {
			t.Errorf("the error shows a half: %v", err)
		}
	}
	if strings.Contains(err.Error(), "custodian 1") || strings.Contains(err.Error(), "custodian 2") {
		t.Errorf("the error names a half: %v", err)
	}

	err = ta.Do(context.Background(), func(s *p11.Session) error {
		_, err := s.Random(16)
		return err
	})
	if err != nil {
		t.Fatalf("token %s after a failed login on %s: %v", a.Label, b.Label, err)
	}
	if in, err := ta.LoggedIn(); err != nil || !in {
		t.Fatalf("token %s logged out by a failed login elsewhere: %v, %v", a.Label, in, err)
	}
	if err := tb.Login(b.PIN); err != nil {
		t.Fatalf("retry with the right PIN: %v", err)
	}
}
