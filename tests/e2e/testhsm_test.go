package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/escrowtest"
	"github.com/vsefab/vsefab/internal/leakcheck"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

var (
	vsefabOnce sync.Once
	vsefabPath string
	vsefabErr  error
)

// vsefabTool builds the vsefab command once per test run, outside Bazel, so agents can start
// while Bazel's outputs are being cleaned.
func vsefabTool(t *testing.T) string {
	t.Helper()
	vsefabOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vsefab-tool")
		if err != nil {
			vsefabErr = err
			return
		}
		vsefabPath = filepath.Join(dir, "vsefab")
		cmd := exec.Command("go", "build", "-o", vsefabPath, "./tools/vsefab")
		cmd.Dir = root(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			vsefabErr = fmt.Errorf("go build ./tools/vsefab: %v\n%s", err, out)
		}
	})
	if vsefabErr != nil {
		t.Fatal(vsefabErr)
	}
	return vsefabPath
}

// testAgent is a vsefab agent serving a throwaway SoftHSM token.
type testAgent struct {
	tok    *softhsmtest.Token
	socket string
	log    string
	cmd    *exec.Cmd
	done   chan error
}

func startAgent(t *testing.T, tok *softhsmtest.Token) *testAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "vsa") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return startAgentOn(t, tok, filepath.Join(dir, "agent.sock"))
}

// startAgentOn starts an agent for tok listening on socket.
func startAgentOn(t *testing.T, tok *softhsmtest.Token, socket string) *testAgent {
	t.Helper()
	dir := filepath.Dir(socket)
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, tok.PIN, 0o600); err != nil {
		t.Fatal(err)
	}
	a := &testAgent{tok: tok, socket: socket, log: filepath.Join(dir, "agent.log"), done: make(chan error, 1)}
	logf, err := os.OpenFile(a.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	hsm := "pkcs11:token=" + tok.Label + "?module-path=" + tok.Module
	a.cmd = exec.Command(vsefabTool(t), "agent", "--hsm", hsm, "--socket", a.socket, "--pin-file", pinFile)
	a.cmd.Env = tok.Env
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- a.cmd.Wait(); logf.Close() }()
	t.Cleanup(a.stop)

	for i := 0; i < 100; i++ {
		if _, err := os.Stat(a.socket); err == nil {
			return a
		}
		select {
		case err := <-a.done:
			log, _ := os.ReadFile(a.log)
			t.Fatalf("agent exited: %v\n%s", err, log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("agent did not listen on %s", a.socket)
	return nil
}

func (a *testAgent) stop() {
	if a.cmd.ProcessState == nil {
		_ = a.cmd.Process.Signal(os.Interrupt)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			_ = a.cmd.Process.Kill()
			<-a.done
		}
	}
}

func (a *testAgent) kill() {
	_ = a.cmd.Process.Kill()
	<-a.done
}

func (a *testAgent) flags() []string {
	return []string{"--config=testhsm", "--//hsm:agent_socket=" + a.socket}
}

// tokenObjects lists the labels of the objects on the token, with pkcs11-tool, and each
// object's attributes as pkcs11-tool prints them.
func tokenObjects(t *testing.T, tok *softhsmtest.Token) map[string][]string {
	t.Helper()
	cmd := exec.Command("pkcs11-tool", "--module", tok.Module, "--token-label", tok.Label,
		"--login", "--pin", "env:VSEFAB_TEST_PIN", "--list-objects")
	cmd.Env = append(tok.Env, "VSEFAB_TEST_PIN="+string(tok.PIN))
	// Stdout alone: pkcs11-tool's notes on stderr would otherwise land inside its listing.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pkcs11-tool --list-objects: %v\n%s", err, stderr.Bytes())
	}
	objs := map[string][]string{}
	var label string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			label = ""
		}
		if m := regexp.MustCompile(`^\s+label:\s+(.*)$`).FindStringSubmatch(line); m != nil {
			label = strings.TrimSpace(m[1])
			objs[label] = append(objs[label], "object")
			continue
		}
		if label != "" {
			objs[label] = append(objs[label], strings.TrimSpace(line))
		}
	}
	return objs
}

// searchTree reports every file under the directories that holds a secret.
func searchTree(t *testing.T, secrets map[string][]byte, dirs ...string) int {
	t.Helper()
	n := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			if found := leakcheck.Find(data, secrets); len(found) > 0 {
				t.Errorf("%s holds %v", p, found)
			}
			// A bundle's files are compressed: search them as the app team unpacks them.
			if strings.HasSuffix(p, ".tar.gz") {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				raw, err := io.ReadAll(zr)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				if found := leakcheck.Find(raw, secrets); len(found) > 0 {
					t.Errorf("%s, uncompressed, holds %v", p, found)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func emulatorManifest(t *testing.T, customer string) *vsefabpb.Manifest {
	t.Helper()
	out, err := red.Generate(context.Background(), emulator.Emulator{}, red.Request{
		Config: &vsefabpb.CustomerConfig{Customer: customer, KeysetVersion: 1, FirmwareVersion: "1.0.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Manifest
}

func TestTestHSM(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	a := startAgent(t, tok)
	execLog := filepath.Join(t.TempDir(), "exec.json")
	targets := append(a.flags(), "--execution_log_json_file="+execLog)
	targets = append(append([]string{"build"}, targets...), buildTargets...)
	buildOut := mustBazel(t, targets...)

	t.Run("firmware works", func(t *testing.T) {
		for _, c := range customers {
			checkFirmware(t, c, vsefabpb.HsmKind_TEST_TOKEN)
		}
		checkIsolated(t)
		var all []*vsefabpb.Manifest
		for _, c := range customers {
			all = append(all, manifest(t, c), emulatorManifest(t, c))
		}
		checkUnique(t, all...)
	})

	t.Run("licenses", func(t *testing.T) {
		checkLicenses(t)
		// The emulator's license for acme is refused by acme's firmware from the token:
		// another root key signed it.
		emu, err := red.IssueLicense(context.Background(), emulator.Emulator{}, "acme", 1,
			vse.LicenseTerms{AppIDs: []string{"com.acme.wallet"}, NotAfter: 1893456000})
		if err != nil {
			t.Fatal(err)
		}
		if out, code := driver(t, "acme", "license", hex.EncodeToString(emu), "com.acme.wallet", "1800000000"); code != 16 {
			t.Errorf("emulator license on test-token firmware: exit %d (%s), want 16 (VSE_ERR_LICENSE_SIGNATURE)", code, out)
		}
	})

	t.Run("objects on the token", func(t *testing.T) {
		objs := tokenObjects(t, tok)
		for _, c := range customers {
			for _, role := range red.Roles {
				if _, ok := objs[red.Label(c, 1, role)]; !ok {
					t.Errorf("no object labelled %s; token holds %v", red.Label(c, 1, role), keys(objs))
				}
			}
			kek := strings.Join(objs["vsefab/"+c+"/kek"], "\n")
			if !strings.Contains(kek, "never extractable") || !strings.Contains(kek, "sensitive") {
				t.Errorf("KEK of %s is not sensitive and never extractable:\n%s", c, kek)
			}
			storage := strings.Join(objs[red.Label(c, 1, red.RoleStorage)], "\n")
			if !strings.Contains(storage, "sensitive") {
				t.Errorf("storage key of %s is not sensitive:\n%s", c, storage)
			}
		}
	})

	t.Run("no secret in any output", func(t *testing.T) {
		secrets := map[string][]byte{}
		for _, c := range customers {
			escrow, err := os.ReadFile(bin(t, "customers/"+c+"/firmware.escrow.bin"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range escrowtest.Secrets(t, tok, c, escrow) {
				secrets[k] = v
			}
		}
		dirs, _ := filepath.Glob(filepath.Join(root(t), "bazel-out", "*", "bin", "customers"))
		n := searchTree(t, secrets, dirs...)
		for _, f := range []string{a.log, execLog} {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if found := leakcheck.Find(data, secrets); len(found) > 0 {
				t.Errorf("%s holds %v", f, found)
			}
		}
		if found := leakcheck.Find([]byte(buildOut), secrets); len(found) > 0 {
			t.Errorf("Bazel's output holds %v", found)
		}
		if n < 10 {
			t.Errorf("searched only %d files", n)
		}
	})

	t.Run("no PIN or secret in any action's command line or environment", func(t *testing.T) {
		args := append(append([]string{"aquery"}, a.flags()...), "deps(//customers/...)")
		out := mustBazel(t, args...)
		if !strings.Contains(out, "Mnemonic: VseGen") || !strings.Contains(out, "--agent") {
			t.Fatalf("aquery shows no secrets action talking to an agent:\n%.2000s", out)
		}
		secrets := map[string][]byte{"user PIN": tok.PIN, "SO PIN": []byte(tok.SOPIN)}
		if found := leakcheck.Find([]byte(out), secrets); len(found) > 0 {
			t.Errorf("aquery shows %v", found)
		}
		for _, bad := range []string{"SOFTHSM2_CONF", "PIN"} {
			if strings.Contains(out, bad+"=") {
				t.Errorf("an action's environment sets %s", bad)
			}
		}
	})

	t.Run("rebuild after clean reuses the keysets", func(t *testing.T) {
		first := outputs(t)
		firstBundles := map[string]map[string][]byte{}
		for _, c := range customers {
			firstBundles[c] = untar(t, bundlePath(t, c))
		}
		mustBazel(t, "clean")
		mustBazel(t, append(append([]string{"build"}, a.flags()...), buildTargets...)...)
		// A token's ECDSA signatures are randomized: the signatures over the manifest, the
		// bundle's index and each license are new each time, while what they sign is the
		// same. The index lists each license's digest, so it changes with them.
		again := outputs(t)
		for _, c := range customers {
			for _, f := range []string{"firmware.manifest.sig", "firmware_bundle.tar.gz"} {
				delete(first, c+"/"+f)
				delete(again, c+"/"+f)
			}
			bundle := untar(t, bundlePath(t, c))
			for name, data := range firstBundles[c] {
				signed := strings.HasSuffix(name, ".sig") || strings.HasSuffix(name, ".license") ||
					strings.HasSuffix(name, "/index.pb")
				if _, ok := bundle[name]; !ok {
					t.Errorf("%s's bundle lacks %s after bazel clean", c, name)
				} else if !signed && !bytes.Equal(bundle[name], data) {
					t.Errorf("%s's bundle: %s differs after bazel clean", c, name)
				}
			}
			if len(bundle) != len(firstBundles[c]) {
				t.Errorf("%s's bundle has %d entries after bazel clean, %d before", c, len(bundle), len(firstBundles[c]))
			}
		}
		if d := diff(first, again); len(d) > 0 {
			t.Errorf("testhsm build after bazel clean differs in %v", d)
		}
	})

	t.Run("new keyset version rotates and keeps the old", func(t *testing.T) {
		dir := t.TempDir()
		v1 := genViaAgent(t, a, dir, "acme", 1)
		v2 := genViaAgent(t, a, dir, "acme", 2)
		built := manifest(t, "acme")
		if len(v1.Keys) != len(built.Keys) {
			t.Fatalf("version 1 through the agent has %d keys, the built firmware %d", len(v1.Keys), len(built.Keys))
		}
		for i := range v1.Keys {
			if !proto.Equal(v1.Keys[i], built.Keys[i]) {
				t.Errorf("key %s through the agent differs from the built firmware's: the keyset was not reused",
					v1.Keys[i].Label)
			}
		}
		checkUnique(t, v1, v2)
		objs := tokenObjects(t, tok)
		for _, v := range []uint32{1, 2} {
			for _, role := range red.Roles {
				if _, ok := objs[red.Label("acme", v, role)]; !ok {
					t.Errorf("no object labelled %s after rotation", red.Label("acme", v, role))
				}
			}
		}
	})
}

// genViaAgent runs vsefab gen against the agent for (customer, version) and returns the
// manifest.
func genViaAgent(t *testing.T, a *testAgent, dir, customer string, version uint32) *vsefabpb.Manifest {
	t.Helper()
	if out, code := gen(t, a, dir, customer, version); code != 0 {
		t.Fatalf("vsefab gen %s/%d: exit %d\n%s", customer, version, code, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s-%d", customer, version), "manifest.pb"))
	if err != nil {
		t.Fatal(err)
	}
	m := &vsefabpb.Manifest{}
	if err := proto.Unmarshal(raw, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(m map[string][]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}
