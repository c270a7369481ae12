package vse

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sealed format, version 1:
//
//	version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes)
//
// The GCM additional data is not the caller's AAD alone but sealAAD's encoding of it, which
// binds the format version and the customer name.
const (
	sealVersion   byte = 1
	sealNonceSize      = 12
	sealTagSize        = 16

	// SealOverhead is how many bytes Seal adds to the plaintext.
	SealOverhead = 1 + sealNonceSize + sealTagSize
)

// sealLabel separates sealed-data AAD from any other use of the storage key.
const sealLabel = "vsefab/vse/seal\x00"

var (
	// ErrMalformed reports input to Unseal that is not sealed data of a known format.
	ErrMalformed = errors.New("vse: sealed data is malformed")

	// ErrAuthentication reports sealed data that does not open under this keyset and AAD.
	ErrAuthentication = errors.New("vse: sealed data failed authentication")
)

// Seal encrypts and authenticates plaintext under the storage key, binding aad and the
// keyset's customer name. Only Unseal on a keyset of the same customer and storage key, given
// the same aad, opens the result.
//
// Limitation: the nonce is random, and every device of a customer shares the storage key, so
// the customer's whole fleet should stay under 2^32 seals per storage key. Beyond that the
// chance of a repeated nonce, which breaks GCM for that key, passes one in 2^32.
func (k *Keyset) Seal(plaintext, aad []byte) ([]byte, error) {
	if k == nil {
		return nil, ErrUnprovisioned
	}
	if k.Customer == "" {
		return nil, fmt.Errorf("%w: it has no customer name to bind sealed data to", ErrKeyset)
	}

	sealed := make([]byte, 1+sealNonceSize, SealOverhead+len(plaintext))
	sealed[0] = sealVersion
	nonce := sealed[1 : 1+sealNonceSize]
	// crypto/rand.Read never returns an error: it crashes the process rather than hand back a
	// nonce it could not fill.
	rand.Read(nonce)

	err := k.withStorageAEAD(func(aead cipher.AEAD) error {
		sealed = aead.Seal(sealed, nonce, plaintext, k.sealAAD(sealVersion, aad))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sealed, nil
}

// Unseal checks and decrypts data made by Seal. It returns ErrMalformed for input that is not
// sealed data, and ErrAuthentication for sealed data that was altered, sealed under another
// AAD or another storage key, or sealed by another customer's firmware.
func (k *Keyset) Unseal(sealed, aad []byte) ([]byte, error) {
	if _, err := UnsealedSize(sealed); err != nil {
		return nil, err
	}
	if k == nil {
		return nil, ErrUnprovisioned
	}
	if k.Customer == "" {
		return nil, fmt.Errorf("%w: it has no customer name to check sealed data against",
			ErrKeyset)
	}

	nonce := sealed[1 : 1+sealNonceSize]
	ciphertext := sealed[1+sealNonceSize:]

	var plaintext []byte
	err := k.withStorageAEAD(func(aead cipher.AEAD) error {
		var err error
		plaintext, err = aead.Open(nil, nonce, ciphertext, k.sealAAD(sealed[0], aad))
		if err != nil {
			return fmt.Errorf("%w: it was altered, or sealed with other AAD, another storage key "+
				"or another customer's firmware", ErrAuthentication)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return plaintext, nil
}

// UnsealedSize returns how many bytes Unseal returns for sealed if it authenticates, so a
// caller can size a buffer first. It returns ErrMalformed for input that is not sealed data of
// a format this firmware reads. It needs no keyset and checks no authentication.
func UnsealedSize(sealed []byte) (int, error) {
	if len(sealed) < SealOverhead {
		return 0, fmt.Errorf("%w: %d bytes is shorter than the %d-byte minimum",
			ErrMalformed, len(sealed), SealOverhead)
	}
	if sealed[0] != sealVersion {
		return 0, fmt.Errorf("%w: format version %d, this firmware reads version %d",
			ErrMalformed, sealed[0], sealVersion)
	}
	return len(sealed) - SealOverhead, nil
}

// sealAAD encodes the GCM additional data. The customer name is length-prefixed so that no
// pair of customer name and caller AAD encodes the same as another pair; the caller's AAD
// comes last and needs no prefix. The firmware ID and versions are left out on purpose: data
// sealed before a firmware update must still open after it.
func (k *Keyset) sealAAD(version byte, aad []byte) []byte {
	b := make([]byte, 0, len(sealLabel)+1+4+len(k.Customer)+len(aad))
	b = append(b, sealLabel...)
	b = append(b, version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(k.Customer)))
	b = append(b, k.Customer...)
	return append(b, aad...)
}
