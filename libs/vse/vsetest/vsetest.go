// Package vsetest builds keysets for tests from secrets given in the clear, split into shares
// the way a generated keyset package holds them. It is for tests only: anything built with it
// has its secrets in the test's source.
package vsetest

import (
	"encoding/hex"
	"math/rand/v2"

	"github.com/vsefab/vsefab/libs/share"
	"github.com/vsefab/vsefab/libs/vse"
)

// Test secrets. They are fixed so a failing test reproduces, and distinct so a test that mixes
// them up fails.
var (
	StorageKey      = mustHex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
	OtherStorageKey = mustHex("7a11c4029e5b33d048e26f17a9805c2e9104bd6a3fc87215e0592b8d46f31ca7")

	// AttestationKey is a P-256 private scalar, well inside [1, n-1].
	AttestationKey = mustHex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("vsetest: bad hex in a test secret: " + err.Error())
	}
	return b
}

// Split divides secret into n additive shares, each masked and permuted as package share
// describes: Data[i] = s[Perm[i]] ^ Stream(Mask)[i]. seed makes the split reproducible.
// secret must be 1 to 256 bytes, the lengths a share's permutation can index, and n at least 1.
func Split(secret []byte, n int, seed uint64) []share.Share {
	if len(secret) == 0 || len(secret) > 256 || n < 1 {
		panic("vsetest: Split needs a 1 to 256 byte secret and at least one share")
	}
	r := rand.New(rand.NewPCG(seed, uint64(len(secret))))

	// The first n-1 additive shares are random; the last makes their XOR the secret.
	additive := make([][]byte, n)
	last := append([]byte(nil), secret...)
	for i := range n - 1 {
		additive[i] = make([]byte, len(secret))
		for j := range additive[i] {
			additive[i][j] = byte(r.Uint32())
			last[j] ^= additive[i][j]
		}
	}
	additive[n-1] = last

	shares := make([]share.Share, n)
	for i, s := range additive {
		perm := make([]byte, len(secret))
		for j, p := range r.Perm(len(secret)) {
			perm[j] = byte(p)
		}
		mask := r.Uint64() | 1 // the mask seed must not be zero

		stream := share.NewStream(mask)
		data := make([]byte, len(secret))
		for j := range data {
			data[j] = s[perm[j]] ^ stream.Next()
		}
		shares[i] = share.Share{Data: data, Perm: perm, Mask: mask}
	}
	return shares
}

// Keyset returns a provisioned keyset for customer whose storage and attestation keys are the
// given secrets, each split into three shares.
func Keyset(customer string, storageKey, attestationKey []byte) *vse.Keyset {
	return &vse.Keyset{
		FirmwareID:      "00112233445566778899aabbccddeeff",
		Customer:        customer,
		KeysetVersion:   1,
		FirmwareVersion: "1.0.0-test",
		StorageKey:      Split(storageKey, 3, 1),
		AttestationKey:  Split(attestationKey, 3, 2),
	}
}
