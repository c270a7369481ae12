package vse

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrDigestSize reports a digest that is not a SHA-256 digest's 32 bytes.
var ErrDigestSize = errors.New("vse: digest is not 32 bytes")

// MaxSignatureSize is the longest DER signature SignDigest returns: a SEQUENCE header and two
// INTEGERs of up to 33 bytes each (32 bytes of P-256 value and a sign byte).
const MaxSignatureSize = 2 + 2*(2+33)

// SignDigest signs a SHA-256 digest with the attestation key and returns the ECDSA P-256
// signature in ASN.1 DER. It refuses digests of any other length rather than let ECDSA
// truncate or pad them, because a caller who passes one has hashed with the wrong function.
func (k *Keyset) SignDigest(digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: got %d bytes; hash the message with SHA-256 and pass the digest",
			ErrDigestSize, len(digest))
	}
	if k == nil {
		return nil, ErrUnprovisioned
	}

	var sig []byte
	err := k.withAttestationKey(func(priv *ecdsa.PrivateKey) error {
		var err error
		sig, err = ecdsa.SignASN1(rand.Reader, priv, digest)
		if err != nil {
			return fmt.Errorf("vse: signing with the attestation key: %w", err)
		}

		// A signature made under a fault (a glitched computation) can reveal the key. Checking
		// it before release keeps such a signature inside the firmware.
		if !ecdsa.VerifyASN1(&priv.PublicKey, digest, sig) {
			return errors.New("vse: signature failed verification under the attestation key " +
				"and was withheld; the device may be faulty")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// AttestationPublicKey returns the attestation public key as a PKIX SubjectPublicKeyInfo in
// DER, the form certificates and verifiers take.
func (k *Keyset) AttestationPublicKey() ([]byte, error) {
	if k == nil {
		return nil, ErrUnprovisioned
	}

	var der []byte
	err := k.withAttestationKey(func(priv *ecdsa.PrivateKey) error {
		point, err := priv.PublicKey.Bytes()
		if err != nil {
			return fmt.Errorf("vse: encoding the attestation public key: %w", err)
		}
		if len(point) != p256PointSize {
			return fmt.Errorf("vse: attestation public key encodes as %d bytes, want %d",
				len(point), p256PointSize)
		}

		der = make([]byte, 0, len(p256SPKIPrefix)+p256PointSize)
		der = append(der, p256SPKIPrefix...)
		der = append(der, point...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return der, nil
}

// p256SPKIPrefix is the DER of a P-256 SubjectPublicKeyInfo up to the uncompressed point that
// ends it. It is written out, rather than made by crypto/x509, because crypto/x509 brings the
// networking packages into the firmware, about 400 KB of code a phone app gains nothing from.
var p256SPKIPrefix = []byte{
	0x30, 0x59, // SEQUENCE, 89 bytes: SubjectPublicKeyInfo
	0x30, 0x13, // SEQUENCE, 19 bytes: AlgorithmIdentifier
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // OID 1.2.840.10045.2.1, ecPublicKey
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // OID 1.2.840.10045.3.1.7, P-256
	0x03, 0x42, 0x00, // BIT STRING, 66 bytes, no unused bits
}

// p256PointSize is an uncompressed P-256 point: 0x04, then X and Y of 32 bytes each.
const p256PointSize = 1 + 2*32
