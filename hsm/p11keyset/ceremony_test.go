package p11keyset

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

func TestCeremony(t *testing.T) {
	ctx := context.Background()
	b, tok := newBackend(t, WithKind(vsefabpb.HsmKind_PRODUCTION), WithKEKPolicy(RequireKEK))

	// Before any ceremony, production refuses everything that needs a long-term key, and
	// creates nothing.
	if _, err := b.EnsureKeyset(ctx, "acme", 1); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("keyset before the ceremony: err = %v, want ErrNoKEK", err)
	}
	if _, err := b.SignRoot(ctx, make([]byte, 32)); !errors.Is(err, ErrNoLongTermKey) {
		t.Fatalf("root signature before the ceremony: err = %v, want ErrNoLongTermKey", err)
	}
	if _, err := b.Ceremony(ctx, false, []string{"acme"}); !errors.Is(err, ErrNoLongTermKey) {
		t.Fatalf("customer ceremony before the root one: err = %v, want ErrNoLongTermKey", err)
	}
	if l := labels(t, b); len(l) != 0 {
		t.Fatalf("refusals left objects: %v", l)
	}

	keys, err := b.Ceremony(ctx, true, []string{"acme", "globex"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	ids := map[string]bool{}
	for _, k := range keys {
		got = append(got, k.Label)
		if len(k.ID) != idLen || ids[string(k.ID)] || len(k.CheckValue) != 8 {
			t.Errorf("%s: id %x (seen before: %v), check value %x", k.Label, k.ID, ids[string(k.ID)], k.CheckValue)
		}
		ids[string(k.ID)] = true
		if k.PublicKey != nil {
			sum := sha256.Sum256(k.PublicKey)
			if string(sum[:8]) != string(k.CheckValue) {
				t.Errorf("%s: check value %x is not the public key's", k.Label, k.CheckValue)
			}
		}
	}
	want := []string{red.RootSignLabel, RootKEKLabel, AuditSignLabel, KEKLabel("acme"), KEKLabel("globex")}
	if !slices.Equal(got, want) {
		t.Fatalf("ceremony made %v, want %v", got, want)
	}
	listing := tok.Tool(t, append(tok.LoginArgs(), "--list-objects")...)
	for _, l := range []string{red.RootSignLabel, RootKEKLabel, AuditSignLabel} {
		if !strings.Contains(listing, l) {
			t.Errorf("pkcs11-tool does not list %s:\n%s", l, listing)
		}
	}

	// The root key signs manifests, verifiably under the public key the record shows.
	digest := sha256.Sum256([]byte("a manifest"))
	sig, err := b.SignRoot(ctx, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if string(sig.PublicKey) != string(keys[0].PublicKey) || string(sig.KeyID) != string(keys[0].ID) {
		t.Fatal("SignRoot used another key than the ceremony's root signing key")
	}
	pub, err := x509.ParsePKIXPublicKey(keys[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig.DER) {
		t.Fatal("root signature does not verify under the recorded public key")
	}
	as, err := b.AuditSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(as.KeyID()) != string(keys[2].ID) {
		t.Fatal("the audit signer is not the ceremony's audit key")
	}

	// Customers the ceremony made are served; others are refused.
	if _, err := b.EnsureKeyset(ctx, "acme", 1); err != nil {
		t.Fatalf("acme after the ceremony: %v", err)
	}
	if _, err := b.EnsureKeyset(ctx, "initech", 1); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("initech, not in the ceremony: err = %v, want ErrNoKEK", err)
	}

	// A second ceremony never reuses a label, and a refusal makes nothing.
	before := labels(t, b)
	for _, tc := range []struct {
		root      bool
		customers []string
	}{{true, nil}, {false, []string{"initech", "acme"}}, {false, []string{"initech", "initech"}},
		{false, []string{"root"}}} {
		if _, err := b.Ceremony(ctx, tc.root, tc.customers); err == nil {
			t.Errorf("ceremony(root %v, %v) succeeded, want a refusal", tc.root, tc.customers)
		}
	}
	if after := labels(t, b); len(after) != len(before) {
		t.Fatalf("refused ceremonies changed the token: %d objects, were %d", len(after), len(before))
	}
	more, err := b.Ceremony(ctx, false, []string{"initech"})
	if err != nil || len(more) != 1 || more[0].Label != KEKLabel("initech") {
		t.Fatalf("customer ceremony: %v, %v", more, err)
	}
	if _, err := b.EnsureKeyset(ctx, "initech", 1); err != nil {
		t.Fatalf("initech after its ceremony: %v", err)
	}
}

// TestRootKeyOnTestTokens: a test token, where no ceremony runs, gets its root and audit
// keys on first use, and keeps them.
func TestRootKeyOnTestTokens(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	first, err := b.SignRoot(ctx, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.SignRoot(ctx, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if string(first.KeyID) != string(second.KeyID) {
		t.Fatal("a second root signature made a second root key")
	}
	if _, err := b.SignRoot(ctx, make([]byte, 20)); err == nil {
		t.Fatal("a 20-byte digest was signed")
	}
}
