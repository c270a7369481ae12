// Package vse is the virtual secure element's runtime: the operations the firmware offers
// (seal, unseal, sign a digest, report its identity) over a keyset whose secrets are held as
// transformed shares and recombined only for the moment of each operation.
package vse

import (
	"errors"

	"github.com/vsefab/vsefab/libs/share"
)

// ErrUnprovisioned is returned by firmware that was built without a customer keyset.
var ErrUnprovisioned = errors.New("vse: firmware is not provisioned with a keyset")

// ErrKeyset reports a keyset whose secrets cannot be recombined or used: a generated keyset
// package that is damaged or was made by an incompatible generator.
var ErrKeyset = errors.New("vse: keyset is malformed")

// Keyset is what a generated keyset package hands the runtime: identity in the clear, secrets
// only as shares.
//
// Its methods only read the keyset, so they are safe to call from many goroutines at once. A
// nil *Keyset is the unprovisioned firmware: every operation returns ErrUnprovisioned.
type Keyset struct {
	FirmwareID      string // hex firmware ID, as in the manifest
	Customer        string
	KeysetVersion   uint32
	FirmwareVersion string
	RootPublicKey   []byte // PKIX DER of the vendor's root signing key, which signs licenses

	StorageKey     []share.Share // AES-256 storage root key, 32 bytes once combined
	AttestationKey []share.Share // ECDSA P-256 private scalar, 32 bytes big-endian once combined
}
