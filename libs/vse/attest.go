package vse

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// Challenge sizes Attest accepts: at least 16 bytes, so a verifier's random challenge cannot
// be guessed and answered ahead of time, and a bound that keeps the call cheap.
const (
	MinChallengeSize = 16
	MaxChallengeSize = 1024
)

// ErrChallengeSize reports a challenge outside MinChallengeSize..MaxChallengeSize.
var ErrChallengeSize = errors.New("vse: challenge size out of range")

// attestationContext starts every attested message, so that an attestation names what it is.
const attestationContext = "vsefab attestation v1"

// AttestationDigest is what the firmware with firmwareID signs to answer challenge: SHA-256
// over the context, the firmware ID and the challenge, each but the last followed by a zero
// byte. Verifiers compute it the same way.
func AttestationDigest(firmwareID string, challenge []byte) []byte {
	h := sha256.New()
	h.Write([]byte(attestationContext))
	h.Write([]byte{0})
	h.Write([]byte(firmwareID))
	h.Write([]byte{0})
	h.Write(challenge)
	return h.Sum(nil)
}

// Attest answers a verifier's challenge: an ECDSA P-256 signature (ASN.1 DER) with the
// attestation key over AttestationDigest(k.FirmwareID, challenge). A verifier that trusts the
// manifest's root signature, which endorses the attestation public key, learns that the
// answer came from this customer's genuine firmware.
func (k *Keyset) Attest(challenge []byte) ([]byte, error) {
	if len(challenge) < MinChallengeSize || len(challenge) > MaxChallengeSize {
		return nil, fmt.Errorf("%w: got %d bytes, want %d to %d", ErrChallengeSize, len(challenge),
			MinChallengeSize, MaxChallengeSize)
	}
	if k == nil {
		return nil, ErrUnprovisioned
	}
	return k.SignDigest(AttestationDigest(k.FirmwareID, challenge))
}
