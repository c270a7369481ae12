package red_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

func TestSignBundle(t *testing.T) {
	ctx := context.Background()
	cfg := &vsefabpb.CustomerConfig{Customer: "acme", KeysetVersion: 1, FirmwareVersion: "1.0.0"}
	out, err := red.Generate(ctx, emulator.Emulator{}, red.Request{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := red.MarshalManifest(out.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	md := sha256.Sum256(manifest)
	lib := sha256.Sum256([]byte("library"))
	index := func() *vsefabpb.BundleIndex {
		return &vsefabpb.BundleIndex{Format: red.BundleFormat, Customer: "acme", KeysetVersion: 1,
			FirmwareId: out.Manifest.FirmwareId, FirmwareVersion: "1.0.0", Files: []*vsefabpb.BundleFile{
				{Path: "libfirmware.so", Sha256: lib[:], Size: 7},
				{Path: red.BundleManifestPath, Sha256: md[:], Size: uint64(len(manifest))},
			}}
	}

	sig, err := red.SignBundle(ctx, emulator.Emulator{}, cfg, manifest, out.ManifestSig, index())
	if err != nil {
		t.Fatal(err)
	}
	bin, err := red.MarshalBundleIndex(index())
	if err != nil {
		t.Fatal(err)
	}
	if err := red.VerifyBundleIndex(bin, sig); err != nil {
		t.Fatalf("the signature over the index does not verify: %v", err)
	}
	// A bundle signature can never pass for a manifest signature over the same bytes.
	if err := red.VerifyManifest(bin, sig); err == nil {
		t.Error("the bundle signature verifies as a manifest signature")
	}
	other := index()
	other.Files[0].Sha256 = md[:]
	otherBin, _ := red.MarshalBundleIndex(other)
	if err := red.VerifyBundleIndex(otherBin, sig); !errors.Is(err, red.ErrBadBundle) {
		t.Errorf("the signature verifies over another index: %v", err)
	}

	badSig := proto.Clone(out.ManifestSig).(*vsefabpb.ManifestSignature)
	badSig.Signature[len(badSig.Signature)-1] ^= 1
	globex := &vsefabpb.CustomerConfig{Customer: "globex", KeysetVersion: 1, FirmwareVersion: "1.0.0"}
	for _, tc := range []struct {
		name   string
		cfg    *vsefabpb.CustomerConfig
		sig    *vsefabpb.ManifestSignature
		change func(*vsefabpb.BundleIndex)
		want   error
	}{
		{"another customer's config", globex, out.ManifestSig, func(*vsefabpb.BundleIndex) {}, red.ErrBadBundle},
		{"a forged manifest signature", cfg, badSig, func(*vsefabpb.BundleIndex) {}, red.ErrBadSignature},
		{"another format", cfg, out.ManifestSig, func(i *vsefabpb.BundleIndex) { i.Format = "zip" }, red.ErrBadBundle},
		{"another firmware ID", cfg, out.ManifestSig, func(i *vsefabpb.BundleIndex) { i.FirmwareId = "00" }, red.ErrBadBundle},
		{"the manifest not listed", cfg, out.ManifestSig, func(i *vsefabpb.BundleIndex) { i.Files = i.Files[:1] }, red.ErrBadBundle},
		{"another manifest listed", cfg, out.ManifestSig, func(i *vsefabpb.BundleIndex) { i.Files[1].Sha256 = lib[:] }, red.ErrBadBundle},
		{"a path out of the bundle", cfg, out.ManifestSig, func(i *vsefabpb.BundleIndex) { i.Files[0].Path = "../libfirmware.so" }, red.ErrBadBundle},
		{"unsorted paths", cfg, out.ManifestSig, func(i *vsefabpb.BundleIndex) { i.Files[0], i.Files[1] = i.Files[1], i.Files[0] }, red.ErrBadBundle},
	} {
		idx := index()
		tc.change(idx)
		if _, err := red.SignBundle(ctx, emulator.Emulator{}, tc.cfg, manifest, tc.sig, idx); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
