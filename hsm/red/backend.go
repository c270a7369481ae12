package red

import (
	"context"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Backend is an HSM as the red side drives it.
type Backend interface {
	// Kind says what the secrets' origin is worth; it goes in the manifest.
	Kind() vsefabpb.HsmKind

	// URI names the HSM in manifests and logs: a PKCS#11 URI, or "emulator:".
	URI() string

	// EnsureKeyset returns the keyset of (customer, version), creating it on first use and
	// returning the same keyset on every later call. Creation is all or nothing. The caller
	// owns the result and wipes it.
	EnsureKeyset(ctx context.Context, customer string, version uint32) (*Keyset, error)

	// WrapForEscrow wraps plaintext under the customer's key-encryption key with RFC 5649
	// key wrap with padding.
	WrapForEscrow(ctx context.Context, customer string, plaintext []byte) ([]byte, error)
}
