package red

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// BundleFormat is the format string of every bundle index this version writes.
const BundleFormat = "vsefab bundle v1"

// BundleManifestPath is where a bundle keeps the binary manifest; the index must list it.
const BundleManifestPath = "manifest.pb"

// bundleDomain starts the message the root key signs for a bundle index. A manifest or a
// license never starts with it, so a signature over one can never pass for the other.
const bundleDomain = "vsefab bundle index v1\x00"

// ErrBadBundle: a bundle index the red side will not sign, or one whose signature fails.
var ErrBadBundle = errors.New("bad bundle index")

// MarshalBundleIndex is the encoding of idx that is stored and signed.
func MarshalBundleIndex(idx *vsefabpb.BundleIndex) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(idx)
}

// BundleDigest is the digest the root key signs for the encoded index bin.
func BundleDigest(bin []byte) []byte {
	h := sha256.New()
	h.Write([]byte(bundleDomain))
	h.Write(bin)
	return h.Sum(nil)
}

// SignBundle has the root signing key sign a bundle's index. It signs only an index for the
// config's customer and keyset that lists exactly the manifest given, signed by this same
// root key: a build host can have the root key endorse the files it built, but only next to
// firmware the HSM itself made.
func SignBundle(ctx context.Context, b Backend, cfg *vsefabpb.CustomerConfig, manifest []byte,
	manifestSig *vsefabpb.ManifestSignature, idx *vsefabpb.BundleIndex) (*vsefabpb.ManifestSignature, error) {
	who := fmt.Sprintf("bundle of %s/%d", cfg.GetCustomer(), cfg.GetKeysetVersion())
	if err := VerifyManifest(manifest, manifestSig); err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	var m vsefabpb.Manifest
	if err := proto.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: the manifest does not parse: %w", who, ErrBadBundle, err)
	}
	if err := CheckBundleIndex(idx, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	if m.GetCustomer() != cfg.GetCustomer() || m.GetKeysetVersion() != cfg.GetKeysetVersion() {
		return nil, fmt.Errorf("%s: %w: the manifest is for %s/%d", who, ErrBadBundle, m.GetCustomer(), m.GetKeysetVersion())
	}
	digest := sha256.Sum256(manifest)
	if f := findBundleFile(idx, BundleManifestPath); f == nil || !bytes.Equal(f.GetSha256(), digest[:]) {
		return nil, fmt.Errorf("%s: %w: the index does not list the manifest given as %s", who, ErrBadBundle, BundleManifestPath)
	}
	bin, err := MarshalBundleIndex(idx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	s, err := b.SignRoot(ctx, BundleDigest(bin))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	if !bytes.Equal(s.PublicKey, manifestSig.GetPublicKey()) {
		return nil, fmt.Errorf("%s: %w: the manifest was signed by another root key (id %x) than this HSM's (id %x)",
			who, ErrBadBundle, manifestSig.GetKeyId(), s.KeyID)
	}
	sig := &vsefabpb.ManifestSignature{ManifestSha256: BundleDigest(bin), Signature: s.DER, KeyId: s.KeyID,
		KeyLabel: s.Label, PublicKey: s.PublicKey}
	if err := VerifyBundleIndex(bin, sig); err != nil {
		return nil, fmt.Errorf("%s: the HSM's signature: %w", who, err)
	}
	return sig, nil
}

// VerifyBundleIndex checks that sig is a signature over the encoded index bin, under the
// public key sig names. Whether that key is a trusted root is the caller's question.
func VerifyBundleIndex(bin []byte, sig *vsefabpb.ManifestSignature) error {
	if !bytes.Equal(BundleDigest(bin), sig.GetManifestSha256()) {
		return fmt.Errorf("%w: the signature was made over another index", ErrBadBundle)
	}
	// The signed digest is of the domain-prefixed index, so the manifest check applies as is.
	if err := VerifyManifest(append([]byte(bundleDomain), bin...), sig); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBundle, err)
	}
	return nil
}

// CheckBundleIndex checks the shape of idx against the manifest it goes with: format,
// customer, keyset, firmware ID, and file paths that are clean, relative, sorted and unique.
func CheckBundleIndex(idx *vsefabpb.BundleIndex, m *vsefabpb.Manifest) error {
	switch {
	case idx.GetFormat() != BundleFormat:
		return fmt.Errorf("%w: format %q, want %q", ErrBadBundle, idx.GetFormat(), BundleFormat)
	case idx.GetCustomer() != m.GetCustomer() || idx.GetKeysetVersion() != m.GetKeysetVersion():
		return fmt.Errorf("%w: index is for %s/%d, manifest for %s/%d", ErrBadBundle,
			idx.GetCustomer(), idx.GetKeysetVersion(), m.GetCustomer(), m.GetKeysetVersion())
	case idx.GetFirmwareId() != m.GetFirmwareId() || idx.GetFirmwareVersion() != m.GetFirmwareVersion():
		return fmt.Errorf("%w: index names firmware %s %s, manifest %s %s", ErrBadBundle,
			idx.GetFirmwareId(), idx.GetFirmwareVersion(), m.GetFirmwareId(), m.GetFirmwareVersion())
	}
	prev := ""
	for _, f := range idx.GetFiles() {
		p := f.GetPath()
		if p == "" || path.Clean(p) != p || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("%w: file path %q is not a clean relative path", ErrBadBundle, p)
		}
		if p <= prev {
			return fmt.Errorf("%w: file paths are not sorted and unique at %q", ErrBadBundle, p)
		}
		if len(f.GetSha256()) != sha256.Size {
			return fmt.Errorf("%w: file %s has no SHA-256", ErrBadBundle, p)
		}
		prev = p
	}
	return nil
}

func findBundleFile(idx *vsefabpb.BundleIndex, p string) *vsefabpb.BundleFile {
	for _, f := range idx.GetFiles() {
		if f.GetPath() == p {
			return f
		}
	}
	return nil
}
