package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/p11keyset"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/agenttest"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// runVsefab runs the command line in process and returns the exit code and both outputs.
func runVsefab(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	if code, stderr := runGenIn(t, dir, goodConfig); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	manifest := filepath.Join(dir, "out", "manifest.pb")
	emuKey, err := emulator.RootPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := filepath.Join(dir, "emulator-root.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: emuKey}), 0o644); err != nil {
		t.Fatal(err)
	}

	if code, out, stderr := runVsefab("verify", "--root-key", rootPEM, manifest); code != 0 ||
		!strings.HasPrefix(out, "ok ") {
		t.Fatalf("verify of a fresh emulator manifest: exit %d\n%s%s", code, out, stderr)
	}

	// The same manifest twice repeats every key ID and check value.
	code, out, _ := runVsefab("verify", manifest, manifest)
	if code == 0 || !strings.Contains(out, "key ID") || !strings.Contains(out, "check value") {
		t.Errorf("a manifest given twice: exit %d\n%s", code, out)
	}

	// Production verification refuses the emulator's root key, and emulator firmware.
	code, _, stderr := runVsefab("verify", "--prod", "--root-key", rootPEM, manifest)
	if code == 0 || !strings.Contains(stderr, "emulator's root key") {
		t.Errorf("--prod with the emulator's root key: exit %d: %s", code, stderr)
	}
	code, _, stderr = runVsefab("verify", "--prod", manifest)
	if code == 0 || !strings.Contains(stderr, "needs --root-key") {
		t.Errorf("--prod without a root key: exit %d: %s", code, stderr)
	}

	// One flipped byte in the manifest, or in its signature, fails.
	for _, name := range []string{"manifest.pb", "manifest.sig"} {
		p := filepath.Join(dir, "out", name)
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(orig)
		bad[len(bad)-5] ^= 0x01
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, _ := runVsefab("verify", manifest)
		if code == 0 || !strings.Contains(out, "FAIL") {
			t.Errorf("%s with a flipped byte: exit %d\n%s", name, code, out)
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyAttestation(t *testing.T) {
	dirs := map[string]string{}
	for _, c := range []string{"acme", "globex"} {
		dirs[c] = t.TempDir()
		cfg := strings.ReplaceAll(goodConfig, `"acme"`, `"`+c+`"`)
		code, stderr := runGenInFor(t, dirs[c], c, cfg)
		if code != 0 {
			t.Fatalf("gen %s: %s", c, stderr)
		}
	}
	emuKey, err := emulator.RootPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: emuKey}), 0o644); err != nil {
		t.Fatal(err)
	}

	// acme's firmware answers, as vse_attest would.
	ks, err := emulator.Emulator{}.EnsureKeyset(context.Background(), "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), ks.Keys[1].Value)
	if err != nil || ks.Keys[1].Role != red.RoleAttestation {
		t.Fatalf("emulator attestation key: %v", err)
	}
	acme := manifestOf(t, filepath.Join(dirs["acme"], "out", "manifest.pb"))
	challenge := []byte("backend challenge 0123456789")
	sig, err := ecdsa.SignASN1(rand.Reader, priv, vse.AttestationDigest(acme.GetFirmwareId(), challenge))
	if err != nil {
		t.Fatal(err)
	}

	verify := func(customer string, challenge []byte) (int, string) {
		code, out, stderr := runVsefab("verify-attestation", "--manifest",
			filepath.Join(dirs[customer], "out", "manifest.pb"), "--root-key", rootPEM,
			"--challenge", hex.EncodeToString(challenge), "--response", hex.EncodeToString(sig))
		return code, out + stderr
	}
	if code, out := verify("acme", challenge); code != 0 || !strings.Contains(out, "genuine: firmware") {
		t.Fatalf("acme's answer against acme's manifest: exit %d: %s", code, out)
	}
	if code, out := verify("globex", challenge); code == 0 || !strings.Contains(out, "not genuine") {
		t.Errorf("acme's answer against globex's manifest: exit %d: %s", code, out)
	}
	if code, out := verify("acme", []byte("another challenge of the backend")); code == 0 || !strings.Contains(out, "not genuine") {
		t.Errorf("answer to another challenge: exit %d: %s", code, out)
	}
}

func manifestOf(t *testing.T, path string) *vsefabpb.Manifest {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m vsefabpb.Manifest
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// Production verification accepts firmware whose manifest says PRODUCTION and refuses the same
// token's firmware marked TEST_TOKEN, under one root key.
func TestVerifyProdAcceptsOnlyProductionFirmware(t *testing.T) {
	st := softhsmtest.New(t, "vse-prodverify")
	dir := t.TempDir()
	var root []byte
	kinds := []vsefabpb.HsmKind{vsefabpb.HsmKind_PRODUCTION, vsefabpb.HsmKind_TEST_TOKEN}
	ceremony := agenttest.Backend(t, st)
	if _, err := ceremony.Ceremony(context.Background(), true, []string{"production", "testtoken"}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		customer := strings.ToLower(strings.ReplaceAll(kind.String(), "_", ""))
		be := agenttest.Backend(t, st, p11keyset.WithKind(kind), p11keyset.WithKEKPolicy(p11keyset.RequireKEK))
		out, err := red.Generate(context.Background(), be, red.Request{Config: &vsefabpb.CustomerConfig{
			Customer: customer, KeysetVersion: 1, FirmwareVersion: "1.0.0"}})
		if err != nil {
			t.Fatal(err)
		}
		bin, err := red.MarshalManifest(out.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := proto.Marshal(out.ManifestSig)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{customer + ".manifest.pb": bin, customer + ".manifest.sig": sig} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if root != nil && !bytes.Equal(root, out.ManifestSig.GetPublicKey()) {
			t.Fatal("the two backends of one token signed with different root keys")
		}
		root = out.ManifestSig.GetPublicKey()
	}
	rootPEM := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: root}), 0o644); err != nil {
		t.Fatal(err)
	}
	prod, testTok := filepath.Join(dir, "production.manifest.pb"), filepath.Join(dir, "testtoken.manifest.pb")
	if code, out, stderr := runVsefab("verify", "--prod", "--root-key", rootPEM, prod); code != 0 {
		t.Errorf("verify --prod of production firmware: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ := runVsefab("verify", "--prod", "--root-key", rootPEM, prod, testTok)
	if code == 0 || !strings.Contains(out, "made on a test token") || strings.Contains(out, "FAIL "+prod) {
		t.Errorf("verify --prod of production and test-token firmware: exit %d\n%s", code, out)
	}
}
