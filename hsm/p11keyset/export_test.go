package p11keyset

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

func mustPKCS8(t *testing.T, algParams asn1.RawValue, ec ecPrivateKey) []byte {
	t.Helper()
	inner, err := asn1.Marshal(ec)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(privateKeyInfo{
		Algorithm:  pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: algParams},
		PrivateKey: inner,
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestECScalar(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	scalar, _ := key.Bytes()
	point, _ := key.PublicKey.Bytes()
	std, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p256 := asn1.RawValue{FullBytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}
	p384 := asn1.RawValue{FullBytes: []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}}
	zeros := func(n int) []byte { return make([]byte, n) }
	padTo8 := func(b []byte) []byte { return append(bytes.Clone(b), zeros((8-len(b)%8)%8)...) }

	// A scalar with a leading zero byte, written short as some encoders do.
	var short *ecdsa.PrivateKey
	for short == nil {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if b, _ := k.Bytes(); b[0] == 0 {
			short = k
		}
	}
	shortScalar, _ := short.Bytes()
	shortDER := mustPKCS8(t, p256, ecPrivateKey{Version: 1, PrivateKey: shortScalar[1:]})

	tests := []struct {
		name   string
		der    []byte
		pub    *ecdsa.PublicKey
		padded bool
		want   []byte // nil: must fail
	}{
		{"Go's PKCS#8", std, &key.PublicKey, false, scalar},
		{"curve only in the algorithm", mustPKCS8(t, p256, ecPrivateKey{Version: 1, PrivateKey: scalar}), &key.PublicKey, false, scalar},
		{"curve only in ECPrivateKey", mustPKCS8(t, asn1.RawValue{}, ecPrivateKey{Version: 1, PrivateKey: scalar, Curve: oidP256}), &key.PublicKey, false, scalar},
		{"short scalar is zero-padded", shortDER, &short.PublicKey, false, shortScalar},
		{"zero padding to 8, allowed", padTo8(std), &key.PublicKey, true, scalar},
		{"zero padding to 8, not allowed", append(bytes.Clone(std), 0), &key.PublicKey, false, nil},
		{"eight zero bytes", append(bytes.Clone(std), zeros(8)...), &key.PublicKey, true, nil},
		{"non-zero trailing byte", append(bytes.Clone(std), 1), &key.PublicKey, true, nil},
		{"another key's public key", std, &other.PublicKey, false, nil},
		{"no curve at all", mustPKCS8(t, asn1.RawValue{}, ecPrivateKey{Version: 1, PrivateKey: scalar}), &key.PublicKey, false, nil},
		{"P-384 in the algorithm", mustPKCS8(t, p384, ecPrivateKey{Version: 1, PrivateKey: scalar}), &key.PublicKey, false, nil},
		{"ECPrivateKey version 0", mustPKCS8(t, p256, ecPrivateKey{Version: 0, PrivateKey: scalar}), &key.PublicKey, false, nil},
		{"33-byte scalar", mustPKCS8(t, p256, ecPrivateKey{Version: 1, PrivateKey: append([]byte{0}, scalar...)}), &key.PublicKey, false, nil},
		{"zero scalar", mustPKCS8(t, p256, ecPrivateKey{Version: 1, PrivateKey: zeros(32)}), &key.PublicKey, false, nil},
		{"public key in ECPrivateKey differs", mustPKCS8(t, p256, ecPrivateKey{Version: 1, PrivateKey: scalar,
			PublicKey: asn1.BitString{Bytes: append([]byte{4}, zeros(64)...), BitLength: 65 * 8}}), &key.PublicKey, false, nil},
		{"public key in ECPrivateKey agrees", mustPKCS8(t, p256, ecPrivateKey{Version: 1, PrivateKey: scalar,
			PublicKey: asn1.BitString{Bytes: point, BitLength: 65 * 8}}), &key.PublicKey, false, scalar},
		{"not DER", []byte("not der"), &key.PublicKey, false, nil},
		{"empty", nil, &key.PublicKey, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ecScalar(tc.der, tc.pub, tc.padded)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted, scalar %x", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 32 || !bytes.Equal(got, tc.want) {
				t.Fatalf("scalar %x, want %x", got, tc.want)
			}
		})
	}
}
