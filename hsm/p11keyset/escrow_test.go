package p11keyset

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// unwrapOnToken unwraps wrapped under the customer's KEK on the token into a session
// generic secret and returns its value, or the token's error. The object is made
// non-sensitive and extractable: an object with CKA_EXTRACTABLE false cannot reveal
// CKA_VALUE (PKCS#11 forbids it, and TestEscrowUnwrapToUnextractableHidesValue shows SoftHSM
// keeps to that), and the value is the proof.
func unwrapOnToken(t *testing.T, b *Backend, customer string, wrapped []byte, extractable bool) ([]byte, bool, error) {
	t.Helper()
	var value []byte
	var sensitive bool
	err := b.tok.Do(context.Background(), func(s *p11.Session) error {
		kek, err := s.FindOne("kek", p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, KEKLabel(customer)))
		if err != nil {
			return err
		}
		o, err := s.Ctx().UnwrapKey(s.Handle(), kwp(), kek, wrapped, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable),
		})
		if err != nil {
			return s.Err("C_UnwrapKey", "escrow", err)
		}
		defer s.Destroy(o, "unwrapped escrow")
		a, err := s.Attributes(o, "unwrapped escrow", pkcs11.CKA_VALUE)
		if err != nil {
			return err
		}
		sensitive = a.Sensitive(pkcs11.CKA_VALUE)
		value, _ = a.Bytes(pkcs11.CKA_VALUE)
		return nil
	})
	return value, sensitive, err
}

// The escrow is proved by unwrapping it on the token under the same KEK and reading the
// value back: it must be the plaintext exactly, for every length, which is what RFC 5649
// promises and what SoftHSM's own CKM_AES_KEY_WRAP_PAD gets wrong for lengths that are not a
// multiple of 8 (see wrapPadECB).
func TestWrapForEscrowUnwrapsOnToken(t *testing.T) {
	b, _ := newBackend(t)
	ctx := context.Background()
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 203, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			plain := bytes.Repeat([]byte{0xa5, 0x01, 0x7e}, n)[:n]
			wrapped, err := b.WrapForEscrow(ctx, "acme", plain)
			if err != nil {
				t.Fatal(err)
			}
			if want := 8 + 8*((n+7)/8); len(wrapped) != want {
				t.Fatalf("wrapped %d bytes into %d, RFC 5649 says %d", n, len(wrapped), want)
			}
			got, _, err := unwrapOnToken(t, b, "acme", wrapped, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("escrow unwraps to %x, want %x", got, plain)
			}

			other, err := b.WrapForEscrow(ctx, "globex", plain)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(other, wrapped) {
				t.Fatal("acme's and globex's escrow of the same plaintext are equal")
			}
			if _, _, err := unwrapOnToken(t, b, "globex", wrapped, true); err == nil {
				t.Fatal("globex's KEK unwrapped acme's escrow")
			}
		})
	}
	for _, l := range labels(t, b) {
		if l == "vsefab/escrow" || l == "vsefab/transport" {
			t.Errorf("a session object was left behind: %s", l)
		}
	}
}

func TestEscrowUnwrapToUnextractableHidesValue(t *testing.T) {
	b, _ := newBackend(t)
	wrapped, err := b.WrapForEscrow(context.Background(), "acme", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	v, sensitive, err := unwrapOnToken(t, b, "acme", wrapped, false)
	if err != nil {
		t.Fatal(err)
	}
	if !sensitive || v != nil {
		t.Fatalf("CKA_VALUE of an unextractable object read as %x", v)
	}
}

func TestWrapForEscrowRefuses(t *testing.T) {
	b, _ := newBackend(t)
	if _, err := b.WrapForEscrow(context.Background(), "Acme", []byte("x")); err == nil {
		t.Error("bad customer name accepted")
	}
	if _, err := b.WrapForEscrow(context.Background(), "acme", nil); err == nil {
		t.Error("empty plaintext accepted")
	}
}

// wrapPadECB against the software RFC 5649 of hsm/red, under a key of known value.
func TestWrapPadECBIsRFC5649(t *testing.T) {
	b, _ := newBackend(t)
	key := bytes.Repeat([]byte{0x42}, 32)
	err := b.tok.Do(context.Background(), func(s *p11.Session) error {
		h, err := s.Ctx().CreateObject(s.Handle(), []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, key),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		})
		if err != nil {
			return err
		}
		for n := 1; n <= 41; n++ {
			plain := bytes.Repeat([]byte{byte(n)}, n)
			got, err := wrapPadECB(s, h, "test key", plain)
			if err != nil {
				return err
			}
			want, err := red.WrapPad(key, plain)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%d bytes: %x, want %x", n, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The start-up probe on SoftHSM 2.6.1: its key wrap with padding zero-pads first.
func TestProbeFindsSoftHSMPadding(t *testing.T) {
	b, _ := newBackend(t)
	if !b.kwpPads {
		t.Error("SoftHSM 2.6's CKM_AES_KEY_WRAP_PAD zero-pads keys, but the probe says it does not; " +
			"if a newer SoftHSM fixed it, the KEK no longer needs CKA_ENCRYPT: update this test")
	}
	if _, err := b.WrapForEscrow(context.Background(), "acme", []byte("x")); err != nil {
		t.Fatal(err)
	}
	err := b.tok.Do(context.Background(), func(s *p11.Session) error {
		kek, err := s.FindOne("kek", p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, KEKLabel("acme")))
		if err != nil {
			return err
		}
		a, err := s.Attributes(kek, "kek", pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT)
		if err != nil {
			return err
		}
		enc, _ := a.Bool(pkcs11.CKA_ENCRYPT)
		dec, _ := a.Bool(pkcs11.CKA_DECRYPT)
		if enc != b.kwpPads || dec {
			t.Errorf("KEK CKA_ENCRYPT = %v, CKA_DECRYPT = %v; want %v, false", enc, dec, b.kwpPads)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
