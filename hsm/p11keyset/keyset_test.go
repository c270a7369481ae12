package p11keyset

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/pkcs11uri"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// checkKeyset checks what the red side needs of a keyset: the roles in order, labels,
// 16-byte IDs, 32-byte values, and an attestation key whose scalar and public key agree.
func checkKeyset(t *testing.T, ks *red.Keyset, customer string, version uint32) {
	t.Helper()
	if ks.Customer != customer || ks.Version != version || len(ks.Keys) != len(red.Roles) {
		t.Fatalf("keyset %s/%d with %d keys, want %s/%d with %d", ks.Customer, ks.Version,
			len(ks.Keys), customer, version, len(red.Roles))
	}
	for i, k := range ks.Keys {
		if k.Role != red.Roles[i] || k.Label != red.Label(customer, version, k.Role) {
			t.Errorf("key %d is %s %s", i, k.Role, k.Label)
		}
		if len(k.ID) != 16 || len(k.Value) != 32 || bytes.Equal(k.Value, make([]byte, 32)) {
			t.Errorf("%s: ID of %d bytes, value of %d bytes (or all zero)", k.Label, len(k.ID), len(k.Value))
		}
		if (k.PublicKey != nil) != (k.Role == red.RoleAttestation) {
			t.Errorf("%s: public key present = %v", k.Label, k.PublicKey != nil)
		}
	}
	att := ks.Key(red.RoleAttestation)
	pub, err := x509.ParsePKIXPublicKey(att.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), att.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.PublicKey.Equal(pub) {
		t.Error("the attestation scalar is not the private half of the attestation public key")
	}
}

func TestEnsureKeysetCreatesThenReuses(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "vse-test")
	b, closeB := openBackend(t, tok)
	defer closeB()

	first, err := b.EnsureKeyset(ctx, "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyset(t, first, "acme", 1)
	again, err := b.EnsureKeyset(ctx, "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first.Keys {
		a, g := first.Keys[i], again.Keys[i]
		if !bytes.Equal(a.ID, g.ID) || !bytes.Equal(a.Value, g.Value) || !bytes.Equal(a.PublicKey, g.PublicKey) {
			t.Errorf("%s: second EnsureKeyset returned another key", a.Label)
		}
	}
	want := []string{"vsefab/acme/1/attestation", "vsefab/acme/1/attestation",
		"vsefab/acme/1/storage", "vsefab/acme/1/transform", "vsefab/acme/kek"}
	got := labels(t, b)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("token holds %v, want %v", got, want)
	}

	// Another backend over a fresh open of the module (as a restarted agent would have)
	// finds the same keyset.
	closeB()
	b2 := backendFor(t, tok)
	third, err := b2.EnsureKeyset(ctx, "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first.Keys {
		if !bytes.Equal(first.Keys[i].Value, third.Keys[i].Value) {
			t.Errorf("%s differs after the module was opened again", first.Keys[i].Label)
		}
	}
}

func TestKeysetsDifferAcrossCustomersAndVersions(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	seen := map[string]string{}
	for _, c := range []struct {
		customer string
		version  uint32
	}{{"acme", 1}, {"acme", 2}, {"globex", 1}, {"globex", 7}} {
		ks, err := b.EnsureKeyset(ctx, c.customer, c.version)
		if err != nil {
			t.Fatal(err)
		}
		checkKeyset(t, ks, c.customer, c.version)
		for _, k := range ks.Keys {
			for _, v := range [][]byte{k.ID, k.Value} {
				if prev, dup := seen[string(v)]; dup {
					t.Errorf("%s repeats an ID or value of %s", k.Label, prev)
				}
				seen[string(v)] = k.Label
			}
		}
	}
	l := labels(t, b)
	if count(l, KEKLabel("acme")) != 1 || count(l, KEKLabel("globex")) != 1 || len(l) != 4*4+2 {
		t.Errorf("token holds %v: want 4 keysets of 4 objects and one KEK per customer", l)
	}
}

func TestEnsureKeysetRefusesBadRequests(t *testing.T) {
	b, _ := newBackend(t)
	for _, c := range []struct {
		customer string
		version  uint32
	}{{"acme", 0}, {"Acme", 1}, {"", 1}, {"../x", 1}, {"a/b", 1}} {
		if _, err := b.EnsureKeyset(context.Background(), c.customer, c.version); err == nil {
			t.Errorf("%q/%d: no error", c.customer, c.version)
		}
	}
	if l := labels(t, b); len(l) != 0 {
		t.Errorf("refused requests left objects: %v", l)
	}
}

// The attributes as another tool sees them, and what they forbid.
func TestKeyAttributesOnToken(t *testing.T) {
	ctx := context.Background()
	b, tok := newBackend(t)
	if _, err := b.EnsureKeyset(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}

	// pkcs11-tool --list-objects: one block per object, "label:" and "Access:" lines.
	out := tok.Tool(t, append(tok.LoginArgs(), "--list-objects")...)
	access := map[string][]string{} // "label/kind" -> access words
	var label, kind string
	for _, line := range strings.Split(out, "\n") {
		f := strings.TrimSpace(line)
		switch {
		case strings.HasSuffix(f, "Object; AES length 32"), strings.HasPrefix(f, "Private Key Object"),
			strings.HasPrefix(f, "Public Key Object"):
			kind = strings.Fields(f)[0]
		case strings.HasPrefix(f, "label:"):
			label = strings.TrimSpace(strings.TrimPrefix(f, "label:"))
		case strings.HasPrefix(f, "Access:"):
			access[label+"/"+kind] = strings.Split(strings.TrimSpace(strings.TrimPrefix(f, "Access:")), ", ")
		}
	}
	has := func(words []string, w string) bool {
		for _, x := range words {
			if x == w {
				return true
			}
		}
		return false
	}
	tests := []struct {
		object  string
		want    []string
		notWant []string
	}{
		{"vsefab/acme/1/storage/Secret", []string{"sensitive", "always sensitive", "extractable", "local"},
			[]string{"never extractable"}},
		{"vsefab/acme/1/transform/Secret", []string{"sensitive", "always sensitive", "extractable", "local"},
			[]string{"never extractable"}},
		{"vsefab/acme/1/attestation/Private", []string{"sensitive", "always sensitive", "extractable", "local"},
			[]string{"never extractable"}},
		{"vsefab/acme/1/attestation/Public", []string{"local"}, []string{"sensitive"}},
		{"vsefab/acme/kek/Secret", []string{"sensitive", "always sensitive", "never extractable", "local"},
			[]string{"extractable"}},
	}
	for _, tc := range tests {
		words, ok := access[tc.object]
		if !ok {
			t.Errorf("pkcs11-tool does not list %s:\n%s", tc.object, out)
			continue
		}
		for _, w := range tc.want {
			if !has(words, w) {
				t.Errorf("%s: access %v lacks %q", tc.object, words, w)
			}
		}
		for _, w := range tc.notWant {
			if has(words, w) {
				t.Errorf("%s: access %v has %q", tc.object, words, w)
			}
		}
	}

	// Through the API: no value readable, no attribute changeable, no copy, and the KEK
	// does not leave the token even wrapped.
	err := b.tok.Do(ctx, func(s *p11.Session) error {
		for _, l := range []string{"vsefab/acme/1/storage", "vsefab/acme/1/transform", "vsefab/acme/kek"} {
			o, err := s.FindOne(l, p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, l))
			if err != nil {
				return err
			}
			a, err := s.Attributes(o, l, pkcs11.CKA_VALUE, pkcs11.CKA_MODIFIABLE, pkcs11.CKA_COPYABLE)
			if err != nil {
				return err
			}
			if !a.Sensitive(pkcs11.CKA_VALUE) {
				t.Errorf("%s: CKA_VALUE is readable", l)
			}
			for _, at := range []uint{pkcs11.CKA_MODIFIABLE, pkcs11.CKA_COPYABLE} {
				if v, err := a.Bool(at); err != nil || v {
					t.Errorf("%s: %s = %v, %v; want false", l, p11.AttributeName(at), v, err)
				}
			}
			err = s.Ctx().SetAttributeValue(s.Handle(), o, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true)})
			if err == nil {
				t.Errorf("%s: CKA_DECRYPT could be turned on", l)
			}
			if _, err := s.Ctx().CopyObject(s.Handle(), o, nil); err == nil {
				t.Errorf("%s: could be copied", l)
			}
		}

		kek, err := s.FindOne("kek", p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, KEKLabel("acme")))
		if err != nil {
			return err
		}
		storage, err := s.FindOne("storage", p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, "vsefab/acme/1/storage"))
		if err != nil {
			return err
		}
		_, err = s.Ctx().WrapKey(s.Handle(), kwp(), storage, kek)
		if !p11.IsRV(err, pkcs11.CKR_KEY_UNEXTRACTABLE) && !p11.IsRV(err, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED) {
			t.Errorf("wrapping the KEK: err = %v, want it refused", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentEnsureKeysetCreatesOne(t *testing.T) {
	b, _ := newBackend(t)
	const n = 8
	results := make([]*red.Keyset, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = b.EnsureKeyset(context.Background(), "acme", 1)
		}()
	}
	close(start)
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		for k := range results[0].Keys {
			if !bytes.Equal(results[i].Keys[k].ID, results[0].Keys[k].ID) ||
				!bytes.Equal(results[i].Keys[k].Value, results[0].Keys[k].Value) {
				t.Errorf("request %d got another %s", i, results[0].Keys[k].Label)
			}
		}
	}
	l := labels(t, b)
	for _, role := range red.Roles {
		want := 1
		if role == red.RoleAttestation {
			want = 2
		}
		if got := count(l, red.Label("acme", 1, role)); got != want {
			t.Errorf("%d objects labelled %s, want %d", got, red.Label("acme", 1, role), want)
		}
	}
	if count(l, KEKLabel("acme")) != 1 {
		t.Errorf("%d KEKs for acme", count(l, KEKLabel("acme")))
	}
}

// runCleanup runs the pkcs11-tool commands an error prints, with the test token's PIN.
func runCleanup(t *testing.T, tok *softhsmtest.Token, msg string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "pkcs11-tool ") {
			continue
		}
		var args []string
		for _, f := range strings.Fields(line)[1:] {
			args = append(args, strings.Trim(f, "'"))
		}
		cmd := exec.Command("pkcs11-tool", append(args, "--pin", string(tok.PIN))...)
		cmd.Env = tok.Env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cleanup command %q: %v\n%s", line, err, out)
		}
		n++
	}
	return n
}

func TestFailedCreationLeavesNothing(t *testing.T) {
	injected := errors.New("injected failure")
	tests := []struct {
		name  string
		after int // objects made when the hook fails
	}{
		{"after the storage key", 1},
		{"after the attestation key pair", 3},
		{"after every object, before the checks", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBackend(t)
			calls := 0
			b.afterObjects = func(n int) error {
				calls++
				if n == tc.after {
					return injected
				}
				return nil
			}
			_, err := b.EnsureKeyset(context.Background(), "acme", 1)
			if !errors.Is(err, injected) {
				t.Fatalf("err = %v, want the injected failure", err)
			}
			if calls == 0 {
				t.Fatal("the hook never ran")
			}
			// The KEK is the customer's, created before the keyset: it stays.
			if l := labels(t, b); len(l) != 1 || l[0] != KEKLabel("acme") {
				t.Fatalf("after the failure the token holds %v, want only the KEK", l)
			}

			b.afterObjects = nil
			ks, err := b.EnsureKeyset(context.Background(), "acme", 1)
			if err != nil {
				t.Fatalf("a run after the failure: %v", err)
			}
			checkKeyset(t, ks, "acme", 1)
		})
	}
}

// Another process creates the same keyset while this one does: the re-lookup sees two,
// this request's objects go, and the leftover is reported with working cleanup commands.
func TestRaceWithAnotherProcess(t *testing.T) {
	b, tok := newBackend(t)
	b.afterObjects = func(n int) error {
		if n == 4 {
			tok.Tool(t, append(tok.LoginArgs(), "--keygen", "--key-type", "AES:32",
				"--label", "vsefab/acme/1/storage", "--id", "0102")...)
		}
		return nil
	}
	_, err := b.EnsureKeyset(context.Background(), "acme", 1)
	if !errors.Is(err, ErrPartialKeyset) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("err = %v, want ErrPartialKeyset about another process", err)
	}
	l := labels(t, b)
	sort.Strings(l)
	if strings.Join(l, " ") != "vsefab/acme/1/storage vsefab/acme/kek" {
		t.Fatalf("token holds %v, want only the other process's key and the KEK", l)
	}

	b.afterObjects = nil
	_, err = b.EnsureKeyset(context.Background(), "acme", 1)
	if !errors.Is(err, ErrPartialKeyset) {
		t.Fatalf("with a leftover key: err = %v, want ErrPartialKeyset", err)
	}
	for _, w := range []string{"vsefab/acme/1/storage: secret key with CKA_ID 0102",
		"vsefab/acme/1/transform: nothing", "--delete-object"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	if n := runCleanup(t, tok, err.Error()); n != 1 {
		t.Fatalf("%d cleanup commands, want 1", n)
	}
	if _, err := b.EnsureKeyset(context.Background(), "acme", 1); err != nil {
		t.Fatalf("after the cleanup: %v", err)
	}
}

func TestPartialKeysetRefused(t *testing.T) {
	tests := []struct {
		name   string
		damage []string // pkcs11-tool arguments, after login, that damage a whole keyset
		want   []string
	}{
		{"transform key deleted",
			[]string{"--delete-object", "--type", "secrkey", "--label", "vsefab/acme/1/transform"},
			[]string{"vsefab/acme/1/transform: nothing", "vsefab/acme/1/storage: secret key"}},
		{"public half deleted",
			[]string{"--delete-object", "--type", "pubkey", "--label", "vsefab/acme/1/attestation"},
			[]string{"vsefab/acme/1/attestation: private key with CKA_ID"}},
		{"storage key twice",
			[]string{"--keygen", "--key-type", "AES:32", "--label", "vsefab/acme/1/storage"},
			[]string{"vsefab/acme/1/storage: secret key with CKA_ID", ", secret key with CKA_ID"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, tok := newBackend(t)
			if _, err := b.EnsureKeyset(context.Background(), "acme", 1); err != nil {
				t.Fatal(err)
			}
			before := labels(t, b)
			tok.Tool(t, append(tok.LoginArgs(), tc.damage...)...)
			after := labels(t, b)
			if len(after) == len(before) {
				t.Fatalf("the damage changed nothing: %v", after)
			}

			_, err := b.EnsureKeyset(context.Background(), "acme", 1)
			if !errors.Is(err, ErrPartialKeyset) {
				t.Fatalf("err = %v, want ErrPartialKeyset", err)
			}
			for _, w := range append(tc.want, "pkcs11-tool --module", "--delete-object") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if got := labels(t, b); len(got) != len(after) {
				t.Errorf("refusing changed the token: %v, was %v", got, after)
			}
		})
	}
}

func TestRequireKEK(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "vse-test")
	prod := backendFor(t, tok, WithKEKPolicy(RequireKEK), WithKind(vsefabpb.HsmKind_PRODUCTION))
	if prod.Kind() != vsefabpb.HsmKind_PRODUCTION {
		t.Errorf("Kind() = %v", prod.Kind())
	}

	_, err := prod.EnsureKeyset(ctx, "acme", 1)
	if !errors.Is(err, ErrNoKEK) || !strings.Contains(err.Error(), "vsefab/acme/kek") {
		t.Fatalf("EnsureKeyset without a KEK: err = %v, want ErrNoKEK naming the label", err)
	}
	if _, err := prod.WrapForEscrow(ctx, "acme", []byte("x")); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("WrapForEscrow without a KEK: err = %v, want ErrNoKEK", err)
	}
	if l := labels(t, prod); len(l) != 0 {
		t.Fatalf("a refused request left %v", l)
	}

	// Once a KEK exists (here made by a test backend; in production by the ceremony) the
	// production backend serves the customer.
	test, err := New(prod.tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := test.WrapForEscrow(ctx, "acme", []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	if _, err := prod.EnsureKeyset(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}

	if _, err := New(prod.tok, WithKind(vsefabpb.HsmKind_PRODUCTION)); err == nil ||
		!strings.Contains(err.Error(), "RequireKEK") {
		t.Errorf("a PRODUCTION backend allowed to create KEKs: err = %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Run("not logged in", func(t *testing.T) {
		tok := softhsmtest.New(t, "vse-test")
		tk, err := p11.OpenToken(tok.Module, tok.Label)
		if err != nil {
			t.Fatal(err)
		}
		defer tk.Close()
		if _, err := New(tk); err == nil || !strings.Contains(err.Error(), "not logged in") {
			t.Fatalf("err = %v, want not logged in", err)
		}
	})
	t.Run("token lacks key wrap with padding", func(t *testing.T) {
		// SoftHSM 2.6.1 ignores the first name after the '-' of slots.mechanisms, so the
		// list starts with one it may keep.
		tok := softhsmtest.New(t, "vse-test", "slots.mechanisms = -CKM_AES_GCM,CKM_AES_KEY_WRAP_PAD")
		tk, err := p11.OpenToken(tok.Module, tok.Label)
		if err != nil {
			t.Fatal(err)
		}
		defer tk.Close()
		if err := tk.Login(tok.PIN); err != nil {
			t.Fatal(err)
		}
		_, err = New(tk)
		if !errors.Is(err, p11.ErrMechanism) ||
			!strings.Contains(err.Error(), "token vse-test lacks CKM_AES_KEY_WRAP_PAD (0x210a) for wrap") {
			t.Fatalf("err = %v, want the missing mechanism named", err)
		}
	})
}

func TestURI(t *testing.T) {
	for _, label := range []string{"vse-test", "vse test", "a;b=c/d?e%f", "Z\u00fcrich_1.~"} {
		uri, err := tokenURI(label)
		if err != nil {
			t.Fatal(err)
		}
		u, err := pkcs11uri.Parse(uri)
		if err != nil {
			t.Fatalf("tokenURI(%q) = %s does not parse: %v", label, uri, err)
		}
		if u.Token() != label || len(u.PathAttrs()) != 1 || len(u.QueryAttrs()) != 0 {
			t.Errorf("tokenURI(%q) = %s names token %q", label, uri, u.Token())
		}
	}
	b, _ := newBackend(t)
	if b.URI() != "pkcs11:token=vse-test" || b.Kind() != vsefabpb.HsmKind_TEST_TOKEN {
		t.Errorf("URI() = %s, Kind() = %v", b.URI(), b.Kind())
	}
}
