package vse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"

	"github.com/vsefab/vsefab/libs/share"
)

// This file is the only place in the runtime where a secret exists recombined. Every use goes
// through withSecret, so the buffer is wiped on every path out, panics included.

const (
	storageKeySize     = 32 // AES-256
	attestationKeySize = 32 // P-256 scalar
)

// withSecret recombines shares into a buffer of size bytes, hands it to use, and wipes it
// when use returns. use must not keep the buffer or a slice of it.
func withSecret(what string, shares []share.Share, size int, use func(secret []byte) error) error {
	if len(shares) == 0 {
		return fmt.Errorf("%w: it has no %s shares; regenerate the keyset package", ErrKeyset, what)
	}

	secret := make([]byte, size)
	defer share.Wipe(secret)

	if err := share.Combine(secret, shares...); err != nil {
		return fmt.Errorf("%w: recombining the %s: %w; regenerate the keyset package",
			ErrKeyset, what, err)
	}
	return use(secret)
}

// withStorageAEAD runs use with AES-256-GCM keyed by the storage key.
//
// Limitation: crypto/aes expands the key into a schedule inside the returned cipher, which
// this package cannot reach to wipe. The schedule stays in memory until the garbage collector
// reuses that memory, long after the recombined key itself has been wiped.
func (k *Keyset) withStorageAEAD(use func(aead cipher.AEAD) error) error {
	return withSecret("storage key", k.StorageKey, storageKeySize, func(key []byte) error {
		block, err := aes.NewCipher(key)
		if err != nil {
			return fmt.Errorf("%w: storage key does not make an AES-256 cipher: %w", ErrKeyset, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fmt.Errorf("vse: setting up AES-GCM: %w", err)
		}
		return use(aead)
	})
}

// withAttestationKey runs use with the attestation key as an ECDSA P-256 private key.
//
// Limitation: crypto/ecdsa copies the scalar into the PrivateKey it returns (D, and the FIPS
// module's own key), and this package cannot wipe those copies. They stay in memory until the
// garbage collector reuses that memory, long after the recombined scalar has been wiped.
func (k *Keyset) withAttestationKey(use func(priv *ecdsa.PrivateKey) error) error {
	const what = "attestation key"
	return withSecret(what, k.AttestationKey, attestationKeySize, func(scalar []byte) error {
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
		if err != nil {
			return fmt.Errorf("%w: attestation key is not a valid P-256 private scalar (%w); "+
				"regenerate the keyset package", ErrKeyset, err)
		}
		return use(priv)
	})
}
