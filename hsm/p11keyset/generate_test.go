package p11keyset

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/leakcheck"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// The whole red-side pipeline over a SoftHSM token: no secret in any output, and the escrow
// opens (on the token) to the keyset.
func TestGenerateWithSoftHSM(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	out, err := red.Generate(ctx, b, red.Request{
		Config:       &vsefabpb.CustomerConfig{Customer: "acme", KeysetVersion: 1, FirmwareVersion: "1.0.0"},
		ConfigDigest: red.DigestFile([]byte("acme")),
		Generator:    "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := b.EnsureKeyset(ctx, "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Wipe()

	secrets := map[string][]byte{}
	for _, k := range ks.Keys {
		secrets[k.Label] = k.Value
	}
	m, err := proto.Marshal(out.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"escrow": out.Escrow, "manifest": m}
	for name, src := range out.Sources {
		files[name] = src
	}
	if len(out.Sources) != len(red.SourceFiles) {
		t.Fatalf("%d source files, want %d", len(out.Sources), len(red.SourceFiles))
	}
	for name, data := range files {
		if found := leakcheck.Find(data, secrets); len(found) > 0 {
			t.Errorf("%s holds %v", name, found)
		}
	}
	// leakcheck finds what it is given: make sure it would have.
	if len(leakcheck.Find(append([]byte("x"), ks.Keys[0].Value...), secrets)) == 0 {
		t.Fatal("leakcheck does not find a planted secret")
	}

	if out.Manifest.GetHsmKind() != vsefabpb.HsmKind_TEST_TOKEN || out.Manifest.GetHsmUri() != "pkcs11:token=vse-test" {
		t.Errorf("manifest says %v at %s", out.Manifest.GetHsmKind(), out.Manifest.GetHsmUri())
	}
	for i, rec := range out.Manifest.GetKeys() {
		k := ks.Keys[i]
		kcv, err := red.CheckValue(&k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.GetKeyId(), k.ID) || !bytes.Equal(rec.GetCheckValue(), kcv) {
			t.Errorf("manifest record %s does not match the keyset", rec.GetLabel())
		}
	}

	plain, _, err := unwrapOnToken(t, b, "acme", out.Escrow, true)
	if err != nil {
		t.Fatal(err)
	}
	var rec vsefabpb.EscrowKeyset
	if err := proto.Unmarshal(plain, &rec); err != nil {
		t.Fatalf("escrow does not parse after unwrapping: %v", err)
	}
	if len(rec.GetKeys()) != len(ks.Keys) {
		t.Fatalf("escrow holds %d keys", len(rec.GetKeys()))
	}
	for i, k := range rec.GetKeys() {
		if !bytes.Equal(k.GetValue(), ks.Keys[i].Value) || !bytes.Equal(k.GetKeyId(), ks.Keys[i].ID) {
			t.Errorf("escrowed %s differs from the keyset's", k.GetRole())
		}
	}

	// A second run gives byte-identical outputs: the keyset is reused.
	again, err := red.Generate(ctx, b, red.Request{
		Config:       &vsefabpb.CustomerConfig{Customer: "acme", KeysetVersion: 1, FirmwareVersion: "1.0.0"},
		ConfigDigest: red.DigestFile([]byte("acme")),
		Generator:    "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range red.SourceFiles {
		if !bytes.Equal(out.Sources[name], again.Sources[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if !proto.Equal(out.Manifest, again.Manifest) {
		t.Error("manifest differs between two runs")
	}
}
