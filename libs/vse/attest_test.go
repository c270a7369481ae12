package vse_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/vsefab/vsefab/libs/vse"
)

func TestAttestVerifiesForItsFirmwareOnly(t *testing.T) {
	k := acme()
	challenge := []byte("a verifier's fresh challenge")
	sig, err := k.Attest(challenge)
	if err != nil {
		t.Fatal(err)
	}
	der, err := k.AttestationPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	key := pub.(*ecdsa.PublicKey)
	if !ecdsa.VerifyASN1(key, vse.AttestationDigest(k.FirmwareID, challenge), sig) {
		t.Fatal("attestation does not verify")
	}
	if ecdsa.VerifyASN1(key, vse.AttestationDigest(k.FirmwareID, []byte("another challenge, 16+")), sig) {
		t.Error("attestation verifies for another challenge")
	}
	if ecdsa.VerifyASN1(key, vse.AttestationDigest("another-firmware-id", challenge), sig) {
		t.Error("attestation verifies for another firmware ID")
	}
	for _, n := range []int{0, vse.MinChallengeSize - 1, vse.MaxChallengeSize + 1} {
		if _, err := k.Attest(make([]byte, n)); !errors.Is(err, vse.ErrChallengeSize) {
			t.Errorf("%d-byte challenge: err = %v, want ErrChallengeSize", n, err)
		}
	}
	var unprovisioned *vse.Keyset
	if _, err := unprovisioned.Attest(challenge); !errors.Is(err, vse.ErrUnprovisioned) {
		t.Errorf("unprovisioned: err = %v", err)
	}
}
