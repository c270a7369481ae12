package red

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Request asks the red side for one customer's firmware secrets.
type Request struct {
	Config       *vsefabpb.CustomerConfig
	ConfigDigest []byte // SHA-256 of the config file as read
	Generator    string // name and version of the generator, recorded in the manifest
}

// Output is everything the black side receives: no field holds a plaintext secret.
type Output struct {
	Sources  map[string][]byte // the keyset package, file name to Go source
	Escrow   []byte            // the keyset wrapped under the customer's KEK (RFC 5649)
	Manifest *vsefabpb.Manifest
	// ManifestSig is the root signature over the manifest's deterministic binary encoding.
	ManifestSig *vsefabpb.ManifestSignature
}

// Generate ensures the keyset of the request's (customer, keyset version) exists in the HSM
// and transforms it into firmware source, escrow file and manifest.
func Generate(ctx context.Context, b Backend, req Request) (*Output, error) {
	cfg := req.Config
	ks, err := b.EnsureKeyset(ctx, cfg.GetCustomer(), cfg.GetKeysetVersion())
	if err != nil {
		return nil, err
	}
	defer ks.Wipe()
	if err := checkKeyset(ks, cfg); err != nil {
		return nil, err
	}

	m := &vsefabpb.Manifest{
		FirmwareId:      FirmwareID(ks, cfg.GetFirmwareVersion()),
		Customer:        ks.Customer,
		KeysetVersion:   ks.Version,
		FirmwareVersion: cfg.GetFirmwareVersion(),
		HsmKind:         b.Kind(),
		HsmUri:          b.URI(),
		Generator:       req.Generator,
		Inputs:          []*vsefabpb.InputDigest{{Name: "config", Sha256: req.ConfigDigest}},
	}
	for i := range ks.Keys {
		k := &ks.Keys[i]
		kcv, err := CheckValue(k)
		if err != nil {
			return nil, err
		}
		alg := "AES-256"
		if k.PublicKey != nil {
			alg = "ECDSA-P256"
		}
		m.Keys = append(m.Keys, &vsefabpb.KeyRecord{
			Role: k.Role, Label: k.Label, KeyId: k.ID, CheckValue: kcv,
			PublicKey: k.PublicKey, Algorithm: alg,
		})
	}

	sig, err := signManifest(ctx, b, m)
	if err != nil {
		return nil, err
	}
	srcs, err := Transform(ks, Identity{
		FirmwareID: m.FirmwareId, Customer: ks.Customer, KeysetVersion: ks.Version,
		FirmwareVersion: cfg.GetFirmwareVersion(), RootPublicKey: sig.GetPublicKey(),
	})
	if err != nil {
		return nil, err
	}

	escrow, err := escrowKeyset(ctx, b, ks)
	if err != nil {
		return nil, err
	}
	return &Output{Sources: srcs, Escrow: escrow, Manifest: m, ManifestSig: sig}, nil
}

// MarshalManifest is the binary encoding of m that is written to disk and signed.
func MarshalManifest(m *vsefabpb.Manifest) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s/%d: %w", m.GetCustomer(), m.GetKeysetVersion(), err)
	}
	return b, nil
}

// signManifest has the root signing key sign m, and checks the signature before returning
// it: a signature that does not verify must not reach a customer.
func signManifest(ctx context.Context, b Backend, m *vsefabpb.Manifest) (*vsefabpb.ManifestSignature, error) {
	bin, err := MarshalManifest(m)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(bin)
	s, err := b.SignRoot(ctx, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing the manifest of %s/%d: %w", m.GetCustomer(), m.GetKeysetVersion(), err)
	}
	sig := &vsefabpb.ManifestSignature{ManifestSha256: digest[:], Signature: s.DER, KeyId: s.KeyID,
		KeyLabel: s.Label, PublicKey: s.PublicKey}
	if err := VerifyManifest(bin, sig); err != nil {
		return nil, fmt.Errorf("signing the manifest of %s/%d: the HSM's signature: %w",
			m.GetCustomer(), m.GetKeysetVersion(), err)
	}
	return sig, nil
}

// ErrBadSignature: a manifest signature does not verify, or does not cover the manifest.
var ErrBadSignature = errors.New("manifest signature does not verify")

// VerifyManifest checks that sig covers exactly bin and verifies under the public key sig
// names. Whether that key is the root a verifier trusts is the verifier's question.
func VerifyManifest(bin []byte, sig *vsefabpb.ManifestSignature) error {
	digest := sha256.Sum256(bin)
	if !bytes.Equal(digest[:], sig.GetManifestSha256()) {
		return fmt.Errorf("%w: it was made over another manifest (SHA-256 %x, this one is %x)",
			ErrBadSignature, sig.GetManifestSha256(), digest)
	}
	pub, err := x509.ParsePKIXPublicKey(sig.GetPublicKey())
	if err != nil {
		return fmt.Errorf("%w: signer's public key: %w", ErrBadSignature, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return fmt.Errorf("%w: signer's key is %T, want ECDSA P-256", ErrBadSignature, pub)
	}
	if !ecdsa.VerifyASN1(ec, digest[:], sig.GetSignature()) {
		return fmt.Errorf("%w under key %s (id %x)", ErrBadSignature, sig.GetKeyLabel(), sig.GetKeyId())
	}
	return nil
}

// checkKeyset refuses a keyset the backend returned for something other than what was asked,
// or without the roles the firmware needs: a wrong keyset must never be compiled in.
func checkKeyset(ks *Keyset, cfg *vsefabpb.CustomerConfig) error {
	if ks.Customer != cfg.GetCustomer() || ks.Version != cfg.GetKeysetVersion() {
		return fmt.Errorf("HSM returned keyset %s/%d for a request of %s/%d",
			ks.Customer, ks.Version, cfg.GetCustomer(), cfg.GetKeysetVersion())
	}
	if len(ks.Keys) != len(Roles) {
		return fmt.Errorf("keyset %s/%d has %d keys, want %d", ks.Customer, ks.Version, len(ks.Keys), len(Roles))
	}
	for i, role := range Roles {
		k := ks.Keys[i]
		if k.Role != role || len(k.ID) == 0 || len(k.Value) != 32 {
			return fmt.Errorf("keyset %s/%d: key %d is not a usable %s key", ks.Customer, ks.Version, i, role)
		}
	}
	return nil
}

func escrowKeyset(ctx context.Context, b Backend, ks *Keyset) ([]byte, error) {
	rec := &vsefabpb.EscrowKeyset{Customer: ks.Customer, KeysetVersion: ks.Version}
	for _, k := range ks.Keys {
		rec.Keys = append(rec.Keys, &vsefabpb.EscrowKey{Role: k.Role, KeyId: k.ID, Value: k.Value})
	}
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("escrow %s/%d: %w", ks.Customer, ks.Version, err)
	}
	defer clear(plain)
	wrapped, err := b.WrapForEscrow(ctx, ks.Customer, plain)
	if err != nil {
		return nil, fmt.Errorf("escrow %s/%d: %w", ks.Customer, ks.Version, err)
	}
	return wrapped, nil
}

// DigestFile is the input digest the manifest records for a file's contents.
func DigestFile(contents []byte) []byte {
	sum := sha256.Sum256(contents)
	return sum[:]
}
