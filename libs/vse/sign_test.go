package vse_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"

	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/libs/vse/vsetest"
)

func TestSignDigestVerifiesUnderAttestationPublicKey(t *testing.T) {
	ks := acme()
	der, err := ks.AttestationPublicKey()
	if err != nil {
		t.Fatalf("AttestationPublicKey: %v", err)
	}
	parsed, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("parsing the attestation public key as PKIX: %v", err)
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("attestation public key is %T, want a P-256 *ecdsa.PublicKey", parsed)
	}

	// The public key must be the one that belongs to the test scalar, not merely some key.
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), vsetest.AttestationKey)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&priv.PublicKey) {
		t.Error("attestation public key does not match the test attestation scalar")
	}
	want, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der, want) {
		t.Errorf("attestation public key DER = %x, want crypto/x509's %x", der, want)
	}

	for _, msg := range []string{"", "challenge 1", "challenge 2"} {
		digest := sha256.Sum256([]byte(msg))
		sig, err := ks.SignDigest(digest[:])
		if err != nil {
			t.Fatalf("SignDigest(%q): %v", msg, err)
		}
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Errorf("signature over %q does not verify", msg)
		}
		other := sha256.Sum256([]byte(msg + "!"))
		if ecdsa.VerifyASN1(pub, other[:], sig) {
			t.Errorf("signature over %q also verifies for another digest", msg)
		}
	}
}

func TestSignaturesFitMaxSignatureSize(t *testing.T) {
	// DER lengths vary with the leading bytes of r and s; enough signatures make the longest
	// forms (a sign byte on both integers) all but certain to appear.
	ks := acme()
	longest := 0
	for i := range 300 {
		digest := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		sig, err := ks.SignDigest(digest[:])
		if err != nil {
			t.Fatalf("SignDigest: %v", err)
		}
		longest = max(longest, len(sig))
	}
	if longest > vse.MaxSignatureSize {
		t.Errorf("a signature was %d bytes, more than MaxSignatureSize %d",
			longest, vse.MaxSignatureSize)
	}
	if longest < vse.MaxSignatureSize-2 {
		t.Errorf("longest of 300 signatures was %d bytes; MaxSignatureSize %d looks too large",
			longest, vse.MaxSignatureSize)
	}
}

func TestSignDigestRefusesOtherLengths(t *testing.T) {
	for _, n := range []int{0, 1, 20, 31, 33, 48, 64} {
		sig, err := acme().SignDigest(make([]byte, n))
		if !errors.Is(err, vse.ErrDigestSize) {
			t.Errorf("SignDigest of %d bytes: error = %v, want ErrDigestSize", n, err)
		}
		if sig != nil {
			t.Errorf("SignDigest of %d bytes returned a signature", n)
		}
	}
}

func TestUnprovisionedKeysetRefusesEverything(t *testing.T) {
	var ks *vse.Keyset // what unprovisioned firmware's keyset.Open returns
	digest := sha256.Sum256([]byte("m"))
	sealed := make([]byte, vse.SealOverhead)
	sealed[0] = 1

	tests := []struct {
		name string
		call func() ([]byte, error)
	}{
		{"Seal", func() ([]byte, error) { return ks.Seal([]byte("p"), nil) }},
		{"Unseal", func() ([]byte, error) { return ks.Unseal(sealed, nil) }},
		{"SignDigest", func() ([]byte, error) { return ks.SignDigest(digest[:]) }},
		{"AttestationPublicKey", ks.AttestationPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.call()
			if !errors.Is(err, vse.ErrUnprovisioned) {
				t.Errorf("error = %v, want ErrUnprovisioned", err)
			}
			if out != nil {
				t.Errorf("returned %x alongside the error", out)
			}
		})
	}
}

func TestMalformedKeysetIsRefused(t *testing.T) {
	p256Order, _ := new(big.Int).SetString(
		"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
	digest := sha256.Sum256([]byte("m"))

	tests := []struct {
		name string
		edit func(ks *vse.Keyset)
		call func(ks *vse.Keyset) error
	}{
		{
			name: "no storage key shares",
			edit: func(ks *vse.Keyset) { ks.StorageKey = nil },
			call: func(ks *vse.Keyset) error { _, err := ks.Seal(nil, nil); return err },
		},
		{
			name: "AES-128 storage key",
			edit: func(ks *vse.Keyset) { ks.StorageKey = vsetest.Split(vsetest.StorageKey[:16], 3, 1) },
			call: func(ks *vse.Keyset) error { _, err := ks.Seal(nil, nil); return err },
		},
		{
			name: "share with a broken permutation",
			edit: func(ks *vse.Keyset) { ks.StorageKey[1].Perm[0] = ks.StorageKey[1].Perm[1] },
			call: func(ks *vse.Keyset) error { _, err := ks.Seal(nil, nil); return err },
		},
		{
			name: "no customer name",
			edit: func(ks *vse.Keyset) { ks.Customer = "" },
			call: func(ks *vse.Keyset) error { _, err := ks.Seal(nil, nil); return err },
		},
		{
			name: "no attestation key shares",
			edit: func(ks *vse.Keyset) { ks.AttestationKey = nil },
			call: func(ks *vse.Keyset) error { _, err := ks.SignDigest(digest[:]); return err },
		},
		{
			name: "zero attestation scalar",
			edit: func(ks *vse.Keyset) { ks.AttestationKey = vsetest.Split(make([]byte, 32), 3, 1) },
			call: func(ks *vse.Keyset) error { _, err := ks.SignDigest(digest[:]); return err },
		},
		{
			name: "attestation scalar equal to the group order",
			edit: func(ks *vse.Keyset) { ks.AttestationKey = vsetest.Split(p256Order.Bytes(), 3, 1) },
			call: func(ks *vse.Keyset) error { _, err := ks.AttestationPublicKey(); return err },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := acme()
			tt.edit(ks)
			if err := tt.call(ks); !errors.Is(err, vse.ErrKeyset) {
				t.Errorf("error = %v, want ErrKeyset", err)
			}
		})
	}
}
