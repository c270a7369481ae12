package red_test

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/leakcheck"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

func generate(t *testing.T, customer string, version uint32) *red.Output {
	t.Helper()
	out, err := red.Generate(context.Background(), emulator.Emulator{}, red.Request{
		Config: &vsefabpb.CustomerConfig{
			Customer: customer, KeysetVersion: version, FirmwareVersion: "1.0.0",
		},
		ConfigDigest: red.DigestFile([]byte(customer)),
		Generator:    "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func secretsOf(t *testing.T, customer string, version uint32) map[string][]byte {
	t.Helper()
	ks, err := emulator.Emulator{}.EnsureKeyset(context.Background(), customer, version)
	if err != nil {
		t.Fatal(err)
	}
	s := map[string][]byte{}
	for _, k := range ks.Keys {
		s[k.Label] = k.Value
	}
	kek, err := emulator.CustomerKEK(customer)
	if err != nil {
		t.Fatal(err)
	}
	s["kek/"+customer] = kek
	return s
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(t, "acme", 1), generate(t, "acme", 1)
	for _, name := range red.SourceFiles {
		if !bytes.Equal(a.Sources[name], b.Sources[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if !bytes.Equal(a.Escrow, b.Escrow) || !proto.Equal(a.Manifest, b.Manifest) {
		t.Error("escrow or manifest differs between two runs")
	}
	c := generate(t, "acme", 2)
	if bytes.Equal(a.Sources["shares_0.go"], c.Sources["shares_0.go"]) {
		t.Error("keyset versions 1 and 2 gave the same shares")
	}
}

func TestGenerateLeaksNoSecret(t *testing.T) {
	out := generate(t, "acme", 1)
	secrets := secretsOf(t, "acme", 1)
	m, err := proto.Marshal(out.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"escrow": out.Escrow, "manifest": m}
	for name, src := range out.Sources {
		files[name] = src
	}
	for name, data := range files {
		if found := leakcheck.Find(data, secrets); len(found) > 0 {
			t.Errorf("%s holds %v", name, found)
		}
	}
}

func TestEscrowUnwrapsToKeyset(t *testing.T) {
	out := generate(t, "acme", 1)
	kek, err := emulator.CustomerKEK("acme")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := red.UnwrapPad(kek, out.Escrow)
	if err != nil {
		t.Fatal(err)
	}
	var rec vsefabpb.EscrowKeyset
	if err := proto.Unmarshal(plain, &rec); err != nil {
		t.Fatal(err)
	}
	secrets := secretsOf(t, "acme", 1)
	if len(rec.Keys) != len(red.Roles) {
		t.Fatalf("escrow holds %d keys, want %d", len(rec.Keys), len(red.Roles))
	}
	for _, k := range rec.Keys {
		if !bytes.Equal(k.Value, secrets[red.Label("acme", 1, k.Role)]) {
			t.Errorf("escrowed %s key differs from the keyset's", k.Role)
		}
	}
	globexKEK, err := emulator.CustomerKEK("globex")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := red.UnwrapPad(globexKEK, out.Escrow); err == nil {
		t.Error("globex's KEK unwrapped acme's escrow")
	}
}

func TestNoValueSharedAcrossCustomersVersionsRoles(t *testing.T) {
	seen := map[string]string{}
	for _, c := range []string{"acme", "globex"} {
		for _, v := range []uint32{1, 2} {
			for label, s := range secretsOf(t, c, v) {
				if prev, dup := seen[string(s)]; dup && prev != label {
					t.Errorf("%s and %s share a value", prev, label)
				}
				seen[string(s)] = label
			}
			for _, k := range generate(t, c, v).Manifest.Keys {
				for _, id := range [][]byte{k.KeyId, k.CheckValue} {
					if prev, dup := seen[string(id)]; dup {
						t.Errorf("%s: key ID or check value repeats %s", k.Label, prev)
					}
					seen[string(id)] = k.Label
				}
			}
		}
	}
}

func TestGenerateRefusesBadRequests(t *testing.T) {
	for _, cfg := range []*vsefabpb.CustomerConfig{
		{Customer: "acme", KeysetVersion: 0},
		{Customer: "Acme", KeysetVersion: 1},
		{Customer: "", KeysetVersion: 1},
		{Customer: "../x", KeysetVersion: 1},
	} {
		if _, err := red.Generate(context.Background(), emulator.Emulator{}, red.Request{Config: cfg}); err == nil {
			t.Errorf("config %v: no error", cfg)
		}
	}
}
