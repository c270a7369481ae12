// Package e2e builds real firmware with Bazel and checks it from the outside: through its C
// ABI in a separate process, through its manifests, and byte for byte across rebuilds. It
// drives Bazel itself, so it runs under `go test`, not inside `bazel test`.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/leakcheck"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

var customers = []string{"acme", "globex"}

// root is the workspace root: this file lives in tests/e2e.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// bazel runs bazel in the workspace and returns its combined output.
func bazel(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bazel", args...)
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustBazel(t *testing.T, args ...string) string {
	t.Helper()
	out, err := bazel(t, args...)
	if err != nil {
		t.Fatalf("bazel %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var buildTargets = []string{
	"//customers/acme:firmware", "//customers/globex:firmware", "//tests/e2e/cdriver",
	"//customers/acme:license", "//customers/globex:license",
	"//customers/acme:firmware_bundle", "//customers/globex:firmware_bundle",
}

// built is the output of the first build of the test binary's run, for the leak search.
var buildLog string

func build(t *testing.T) {
	t.Helper()
	if buildLog == "" {
		buildLog = mustBazel(t, append([]string{"build"}, buildTargets...)...)
	}
}

func bin(t *testing.T, rel string) string {
	return filepath.Join(root(t), "bazel-bin", rel)
}

func manifest(t *testing.T, customer string) *vsefabpb.Manifest {
	t.Helper()
	raw, err := os.ReadFile(bin(t, "customers/"+customer+"/firmware.manifest.pb"))
	if err != nil {
		t.Fatal(err)
	}
	m := &vsefabpb.Manifest{}
	if err := proto.Unmarshal(raw, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// driver runs one C ABI operation on customer's firmware. It returns stdout and the exit code.
func driver(t *testing.T, customer string, args ...string) (string, int) {
	t.Helper()
	lib := bin(t, "customers/"+customer+"/libfirmware.so")
	cmd := exec.Command(bin(t, "tests/e2e/cdriver/cdriver"), append([]string{lib}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stderr.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("cdriver %v: %v", args, err)
	}
	return strings.TrimSpace(string(out)), 0
}

func mustDriver(t *testing.T, customer string, args ...string) string {
	t.Helper()
	out, code := driver(t, customer, args...)
	if code != 0 {
		t.Fatalf("%s firmware, %v: exit %d: %s", customer, args, code, out)
	}
	return out
}

func TestFirmwareThroughCABI(t *testing.T) {
	build(t)
	for _, c := range customers {
		t.Run(c, func(t *testing.T) { checkFirmware(t, c, vsefabpb.HsmKind_TEST) })
	}
	t.Run("licenses", checkLicenses)
}

// checkFirmware drives customer's built firmware through its C ABI and checks it against
// its manifest, which must name an HSM of kind.
func checkFirmware(t *testing.T, c string, kind vsefabpb.HsmKind) {
	t.Helper()
	m := manifest(t, c)
	if m.Customer != c || m.HsmKind != kind {
		t.Errorf("manifest says customer %q, kind %v; want %q, %v", m.Customer, m.HsmKind, c, kind)
	}
	// The root signature covers the manifest exactly as written.
	raw, err := os.ReadFile(bin(t, "customers/"+c+"/firmware.manifest.pb"))
	if err != nil {
		t.Fatal(err)
	}
	msig := manifestSignature(t, c)
	if err := red.VerifyManifest(raw, msig); err != nil || msig.KeyLabel != red.RootSignLabel {
		t.Errorf("manifest signature by %s: %v", msig.KeyLabel, err)
	}
	if got := mustDriver(t, c, "id"); got != m.FirmwareId {
		t.Errorf("vse_firmware_id = %q, manifest says %q", got, m.FirmwareId)
	}
	if got := mustDriver(t, c, "version"); got != m.FirmwareVersion {
		t.Errorf("vse_version = %q, manifest says %q", got, m.FirmwareVersion)
	}

	msg := hex.EncodeToString([]byte("card data of " + c))
	aad := hex.EncodeToString([]byte("context"))
	sealed := mustDriver(t, c, "seal", msg, aad)
	if strings.Contains(sealed, msg) {
		t.Error("sealed data holds the plaintext")
	}
	if got := mustDriver(t, c, "unseal", sealed, aad); got != msg {
		t.Errorf("unseal = %s, want %s", got, msg)
	}
	if _, code := driver(t, c, "unseal", sealed, hex.EncodeToString([]byte("other"))); code != 13 {
		t.Errorf("unseal under another AAD: exit %d, want 13 (VSE_ERR_AUTH)", code)
	}

	var attPub []byte
	for _, k := range m.Keys {
		if k.Role == red.RoleAttestation {
			attPub = k.PublicKey
		}
	}
	if got := mustDriver(t, c, "pubkey"); got != hex.EncodeToString(attPub) {
		t.Errorf("vse_attestation_public_key differs from the manifest's")
	}
	pub, err := x509.ParsePKIXPublicKey(attPub)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("challenge for " + c))
	sig, err := hex.DecodeString(mustDriver(t, c, "sign", hex.EncodeToString(digest[:])))
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("signature does not verify with the manifest's attestation key")
	}
}

func TestCustomersAreIsolated(t *testing.T) {
	build(t)
	checkIsolated(t)
}

// checkIsolated checks that one customer's firmware cannot open another's sealed data and
// that no key ID or check value repeats across the customers' manifests.
func checkIsolated(t *testing.T) {
	t.Helper()
	aad := hex.EncodeToString([]byte("ctx"))
	sealed := mustDriver(t, "globex", "seal", hex.EncodeToString([]byte("globex secret")), aad)
	if out, code := driver(t, "acme", "unseal", sealed, aad); code != 13 {
		t.Errorf("acme unsealing globex's data: exit %d (%s), want 13 (VSE_ERR_AUTH)", code, out)
	}
	var ms []*vsefabpb.Manifest
	for _, c := range customers {
		ms = append(ms, manifest(t, c))
	}
	checkUnique(t, ms...)

	// acme's answer to a backend's challenge verifies against acme's signed manifest only.
	challenge := hex.EncodeToString([]byte("a customer backend's challenge"))
	response := mustDriver(t, "acme", "attest", challenge)
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY",
		Bytes: manifestSignature(t, "acme").PublicKey}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range customers {
		out, err := exec.Command(vsefabTool(t), "verify-attestation", "--root-key", root,
			"--manifest", bin(t, "customers/"+c+"/firmware.manifest.pb"),
			"--challenge", challenge, "--response", response).CombinedOutput()
		if genuine := err == nil && strings.HasPrefix(string(out), "genuine"); genuine != (c == "acme") {
			t.Errorf("acme's attestation checked against %s's manifest: %v\n%s", c, err, out)
		}
	}
}

// checkLicenses checks the built licenses against the built firmware through the C ABI: each
// refusal has its own code (cdriver exits with 10 + the code).
func checkLicenses(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(bin(t, "customers/acme/license.license"))
	if err != nil {
		t.Fatal(err)
	}
	acme := hex.EncodeToString(data)
	data[len(data)/2] ^= 1
	flipped := hex.EncodeToString(data)
	const expired = "1893456001" // 2030-01-01T00:00:01Z, a second past not_after
	for _, tc := range []struct {
		name, firmware, license, app, now string
		exit                              int
	}{
		{"valid", "acme", acme, "com.acme.wallet", "1800000000", 0},
		{"valid in its last second", "acme", acme, "com.acme.pay", "1893456000", 0},
		{"expired", "acme", acme, "com.acme.wallet", expired, 19},
		{"wrong app", "acme", acme, "com.globex.wallet", "1800000000", 18},
		{"wrong customer", "globex", acme, "com.acme.wallet", "1800000000", 17},
		{"flipped byte", "acme", flipped, "com.acme.wallet", "1800000000", 16},
	} {
		out, code := driver(t, tc.firmware, "license", tc.license, tc.app, tc.now)
		if code != tc.exit {
			t.Errorf("license %s: exit %d (%s), want %d", tc.name, code, out, tc.exit)
		}
	}
}

// manifestSignature reads the root signature next to customer's built manifest.
func manifestSignature(t *testing.T, customer string) *vsefabpb.ManifestSignature {
	t.Helper()
	raw, err := os.ReadFile(bin(t, "customers/"+customer+"/firmware.manifest.sig"))
	if err != nil {
		t.Fatal(err)
	}
	var sig vsefabpb.ManifestSignature
	if err := proto.Unmarshal(raw, &sig); err != nil {
		t.Fatal(err)
	}
	return &sig
}

// checkUnique fails if a key ID or check value repeats across manifests.
func checkUnique(t *testing.T, ms ...*vsefabpb.Manifest) {
	t.Helper()
	seen := map[string]string{}
	for _, m := range ms {
		for _, k := range m.Keys {
			for what, v := range map[string][]byte{"key ID": k.KeyId, "check value": k.CheckValue} {
				if prev, dup := seen[string(v)]; dup {
					t.Errorf("%s of %s (%s) repeats that of %s", what, k.Label, m.HsmKind, prev)
				}
				seen[string(v)] = k.Label + " (" + m.HsmKind.String() + ")"
			}
		}
	}
}

// testSecrets are every emulator secret the two customers' builds involve.
func testSecrets(t *testing.T) map[string][]byte {
	t.Helper()
	s := map[string][]byte{}
	for _, c := range customers {
		ks, err := emulator.Emulator{}.EnsureKeyset(context.Background(), c, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks.Keys {
			s[k.Label] = k.Value
		}
		kek, err := emulator.CustomerKEK(c)
		if err != nil {
			t.Fatal(err)
		}
		s["kek/"+c] = kek
	}
	return s
}

func TestNoSecretInAnyOutput(t *testing.T) {
	build(t)
	secrets := testSecrets(t)
	// Every configuration's outputs: rules_go builds the keyset package in one of its own.
	dirs, err := filepath.Glob(filepath.Join(root(t), "bazel-out", "*", "bin", "customers"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no output directories found: %v", err)
	}
	files := searchTree(t, secrets, dirs...)
	if files < 10 {
		t.Fatalf("searched only %d files: are the outputs where the test looks?", files)
	}
	if found := leakcheck.Find([]byte(buildLog), secrets); len(found) > 0 {
		t.Errorf("Bazel's output holds %v", found)
	}
}

// outputs hashes every file the firmware targets produce.
func outputs(t *testing.T) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, c := range customers {
		for _, rel := range []string{"libfirmware.so", "firmware.h", "firmware.manifest.pb",
			"firmware.manifest.json", "firmware.manifest.sig", "firmware.escrow.bin", "firmware.gen.log",
			"firmware_bundle.tar.gz", "libfirmware.a"} {
			p := bin(t, "customers/"+c+"/"+rel)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sums[c+"/"+rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		}
	}
	return sums
}

func diff(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, k)
		}
	}
	sort.Strings(d)
	return d
}

// TestReproducible runs last in this file: it cleans Bazel's outputs.
func TestReproducible(t *testing.T) {
	build(t)
	first := outputs(t)
	mustBazel(t, append([]string{"build"}, buildTargets...)...)
	if d := diff(first, outputs(t)); len(d) > 0 {
		t.Errorf("second build differs in %v", d)
	}
	mustBazel(t, "clean")
	mustBazel(t, append([]string{"build"}, buildTargets...)...)
	if d := diff(first, outputs(t)); len(d) > 0 {
		t.Errorf("build after bazel clean differs in %v", d)
	}
}
