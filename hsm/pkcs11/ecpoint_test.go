package p11_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

func TestDecodeECPoint(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	good := append([]byte{0x04, 0x41}, point...)

	// The same point with y replaced by y+1: off the curve.
	offCurve := bytes.Clone(point)
	offCurve[64]++
	// x = p, which is outside the field, with any y.
	p := elliptic.P256().Params().P.FillBytes(make([]byte, 32))
	outside := append(append([]byte{0x04}, p...), point[33:]...)
	// A point of another curve: P-384's generator has 48-byte coordinates.
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	compressed := elliptic.MarshalCompressed(elliptic.P256(), key.X, key.Y)
	infinity := make([]byte, 65)
	infinity[0] = 0x04

	wrap := func(content []byte) []byte { return append([]byte{0x04, byte(len(content))}, content...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"tag only", []byte{0x04}},
		{"bare point, no OCTET STRING", point},
		{"BIT STRING tag", cat([]byte{0x03, 0x41}, point)},
		{"length one short", cat([]byte{0x04, 0x40}, point)},
		{"length one long", cat([]byte{0x04, 0x42}, point)},
		{"trailing byte", cat(good, []byte{0x00})},
		{"truncated", good[:len(good)-1]},
		{"indefinite length", cat([]byte{0x04, 0x80}, point, []byte{0, 0})},
		{"long form for a short length", cat([]byte{0x04, 0x81, 0x41}, point)},
		{"long form with a leading zero", cat([]byte{0x04, 0x82, 0x00, 0x41}, point)},
		{"long form, length bytes cut off", []byte{0x04, 0x82, 0x01}},
		{"long form, five length bytes", cat([]byte{0x04, 0x85, 1, 0, 0, 0, 0x41}, point)},
		{"long form, valid DER but too long for P-256", cat([]byte{0x04, 0x81, 0x81}, point, make([]byte, 64))},
		{"compressed point", wrap(compressed)},
		{"hybrid-form prefix", wrap(cat([]byte{0x06}, point[1:]))},
		{"point at infinity", wrap([]byte{0x00})},
		{"all-zero coordinates", wrap(infinity)},
		{"off the curve", wrap(offCurve)},
		{"x outside the field", wrap(outside)},
		{"P-384 point", cat([]byte{0x04, 0x61}, p384.PublicKey().Bytes())},
		{"OCTET STRING in an OCTET STRING", wrap(good)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := p11.DecodeECPoint(tc.der)
			if err == nil {
				t.Fatalf("decoded %x as %v", tc.der, pub)
			}
			if !errors.Is(err, p11.ErrECPoint) {
				t.Fatalf("err = %v, want ErrECPoint", err)
			}
		})
	}

	pub, err := p11.DecodeECPoint(good)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Fatal("decoded point differs from the key's")
	}
	enc, err := p11.EncodeECPoint(pub)
	if err != nil || !bytes.Equal(enc, good) {
		t.Fatalf("EncodeECPoint = %x, %v; want %x", enc, err, good)
	}
}

// The point a token writes decodes, and verifies what the token signs.
func TestDecodeECPointFromToken(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	tk := openToken(t, tok)
	digest := sha256.Sum256([]byte("attest"))
	err := tk.Do(context.Background(), func(s *p11.Session) error {
		pubH, privH, err := s.Ctx().GenerateKeyPair(s.Handle(),
			[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, p11.P256Params),
				pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			})
		if err != nil {
			return s.Err("C_GenerateKeyPair", "", err)
		}
		a, err := s.Attributes(pubH, "public key", pkcs11.CKA_EC_POINT)
		if err != nil {
			return err
		}
		der, err := a.Bytes(pkcs11.CKA_EC_POINT)
		if err != nil {
			return err
		}
		pub, err := p11.DecodeECPoint(der)
		if err != nil {
			return err
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
		if err := s.Ctx().SignInit(s.Handle(), mech, privH); err != nil {
			return err
		}
		sig, err := s.Ctx().Sign(s.Handle(), digest[:])
		if err != nil {
			return err
		}
		if len(sig) != 64 {
			t.Fatalf("CKM_ECDSA signature of %d bytes, want r||s of 64", len(sig))
		}
		r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, ss) {
			t.Error("the token's signature does not verify under its decoded point")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
