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

	// SignRoot signs a SHA-256 digest with the root signing key, the key that endorses
	// manifests.
	SignRoot(ctx context.Context, digest []byte) (*Signature, error)
}

// RootSignLabel is the label of the root signing key.
const RootSignLabel = "vsefab/root/sign"

// Signature is an ECDSA P-256 signature made inside the HSM, with the key that made it.
type Signature struct {
	DER       []byte // ASN.1 DER (r, s)
	KeyID     []byte // CKA_ID of the private key
	Label     string
	PublicKey []byte // PKIX DER
}
