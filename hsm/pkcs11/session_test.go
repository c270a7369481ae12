package p11_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

func aesKeyTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
}

func genAES(t *testing.T, tk *p11.Token, label string) {
	t.Helper()
	err := tk.Do(context.Background(), func(s *p11.Session) error {
		_, err := s.Ctx().GenerateKey(s.Handle(),
			[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, aesKeyTemplate(label))
		return s.Err("C_GenerateKey", label, err)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFindOne(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	tk := openToken(t, tok)

	genAES(t, tk, "one")
	genAES(t, tk, "twice")
	genAES(t, tk, "twice")
	// A duplicate planted by another process, as a racing agent would.
	genAES(t, tk, "planted")
	tok.Tool(t, append(tok.LoginArgs(), "--keygen", "--key-type", "AES:32", "--label", "planted")...)

	tests := []struct {
		label string
		want  error
	}{
		{"one", nil},
		{"twice", p11.ErrAmbiguous},
		{"planted", p11.ErrAmbiguous},
		{"none", p11.ErrNotFound},
		{"on", p11.ErrNotFound}, // a prefix is not a match
	}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			err := tk.Do(context.Background(), func(s *p11.Session) error {
				_, err := s.FindOne(tc.label, p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, tc.label))
				return err
			})
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("FindOne(%q): err = %v, want %v", tc.label, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.label) {
				t.Errorf("error does not name the label: %v", err)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	tk := openToken(t, tok)
	genAES(t, tk, "aes-key")

	err := tk.Do(context.Background(), func(s *p11.Session) error {
		o, err := s.FindOne("aes-key", p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, "aes-key"))
		if err != nil {
			return err
		}
		// One sensitive and one invalid attribute among readable ones: the token refuses the
		// whole template, and each readable value must still come back.
		a, err := s.Attributes(o, "aes-key", pkcs11.CKA_LABEL, pkcs11.CKA_VALUE, pkcs11.CKA_VALUE_LEN,
			pkcs11.CKA_SENSITIVE, pkcs11.CKA_EC_POINT, pkcs11.CKA_CLASS, pkcs11.CKA_ID)
		if err != nil {
			return err
		}
		if v, err := a.Bytes(pkcs11.CKA_LABEL); err != nil || string(v) != "aes-key" {
			t.Errorf("CKA_LABEL = %q, %v", v, err)
		}
		if n, err := a.Ulong(pkcs11.CKA_VALUE_LEN); err != nil || n != 32 {
			t.Errorf("CKA_VALUE_LEN = %d, %v", n, err)
		}
		if c, err := a.Ulong(pkcs11.CKA_CLASS); err != nil || c != pkcs11.CKO_SECRET_KEY {
			t.Errorf("CKA_CLASS = %d, %v", c, err)
		}
		if b, err := a.Bool(pkcs11.CKA_SENSITIVE); err != nil || !b {
			t.Errorf("CKA_SENSITIVE = %v, %v", b, err)
		}
		if id, err := a.Bytes(pkcs11.CKA_ID); err != nil || len(id) != 0 {
			t.Errorf("CKA_ID = %x, %v; want empty", id, err)
		}
		if !a.Sensitive(pkcs11.CKA_VALUE) {
			t.Error("CKA_VALUE of a sensitive key not marked sensitive")
		}
		if _, err := a.Bytes(pkcs11.CKA_VALUE); !errors.Is(err, p11.ErrSensitive) ||
			!strings.Contains(err.Error(), "CKA_VALUE") {
			t.Errorf("CKA_VALUE: err = %v, want ErrSensitive naming the attribute", err)
		}
		if !a.Missing(pkcs11.CKA_EC_POINT) {
			t.Error("CKA_EC_POINT of an AES key not marked missing")
		}
		if _, err := a.Bool(pkcs11.CKA_EC_POINT); !errors.Is(err, p11.ErrAttribute) {
			t.Errorf("CKA_EC_POINT: err = %v, want ErrAttribute", err)
		}
		if _, err := a.Bool(pkcs11.CKA_LABEL); !errors.Is(err, p11.ErrAttribute) {
			t.Errorf("CKA_LABEL read as a bool: err = %v, want ErrAttribute", err)
		}
		if _, err := a.Bytes(pkcs11.CKA_WRAP); !errors.Is(err, p11.ErrAttribute) {
			t.Errorf("an attribute not asked for: err = %v, want ErrAttribute", err)
		}

		// A destroyed object is an error with the module's return value, not an empty read.
		if err := s.Destroy(o, "aes-key"); err != nil {
			return err
		}
		_, err = s.Attributes(o, "aes-key", pkcs11.CKA_LABEL)
		if !p11.IsRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) || !strings.Contains(err.Error(), "aes-key") {
			t.Errorf("attributes of a destroyed object: err = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRandom(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	tk := openToken(t, tok)
	var a, b []byte
	err := tk.Do(context.Background(), func(s *p11.Session) error {
		var err error
		if a, err = s.Random(16); err != nil {
			return err
		}
		b, err = s.Random(16)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 16 || string(a) == string(b) {
		t.Fatalf("Random gave %x and %x", a, b)
	}
}
