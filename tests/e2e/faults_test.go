package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

var fleet = func() []string {
	var f []string
	for i := 1; i <= 20; i++ {
		f = append(f, fmt.Sprintf("//tests/e2e/fleet:f%02d_firmware", i))
	}
	return f
}()

// keysetsWhole fails unless every keyset on the token is complete: all roles, each once.
func keysetsWhole(t *testing.T, tok *softhsmtest.Token) int {
	t.Helper()
	perKeyset := map[string]map[string]int{}
	for label := range tokenObjects(t, tok) {
		parts := strings.Split(label, "/")
		if len(parts) != 4 || parts[0] != "vsefab" {
			continue
		}
		ks := strings.Join(parts[:3], "/")
		if perKeyset[ks] == nil {
			perKeyset[ks] = map[string]int{}
		}
		perKeyset[ks][parts[3]]++
	}
	for ks, roles := range perKeyset {
		for _, role := range red.Roles {
			if roles[role] == 0 {
				t.Errorf("keyset %s is half made: has %v, lacks %s", ks, roles, role)
			}
		}
	}
	return len(perKeyset)
}

func TestManyBuildsAgainstOneAgent(t *testing.T) {
	tok := softhsmtest.New(t, "vse-fleet")
	a := startAgent(t, tok)
	args := append(append([]string{"build", "--jobs=8"}, a.flags()...), fleet...)
	mustBazel(t, args...)
	if n := keysetsWhole(t, tok); n != len(fleet) {
		t.Errorf("token holds %d keysets, want %d", n, len(fleet))
	}
}

func TestAgentKilledMidBuild(t *testing.T) {
	tok := softhsmtest.New(t, "vse-kill")
	a := startAgent(t, tok)

	// Watch the agent's log, and kill it as soon as a request has started, most likely while
	// it creates a keyset, with Bazel's other requests queued behind it.
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		// The build may first compile for ten minutes in a new configuration.
		for i := 0; i < 30000; i++ {
			f, err := os.Open(a.log)
			if err == nil {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					if strings.Contains(sc.Text(), "msg=serving op=generate") {
						f.Close()
						a.kill()
						return
					}
				}
				f.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	args := append(append([]string{"build", "--jobs=8", "--keep_going"}, a.flags()...), fleet...)
	out, err := bazel(t, args...)
	<-killed
	if err == nil {
		t.Fatal("the build succeeded although its agent was killed")
	}
	if !strings.Contains(out, "without answering") && !strings.Contains(out, "no agent is running") {
		t.Errorf("the build's error does not say the agent went away:\n%s", out)
	}

	// A new agent clears whatever creation the old one left unfinished, and the build
	// completes with whole keysets only.
	a = startAgentOn(t, tok, a.socket)
	mustBazel(t, args...)
	if n := keysetsWhole(t, tok); n != len(fleet) {
		t.Errorf("token holds %d keysets, want %d", n, len(fleet))
	}
	for label := range tokenObjects(t, tok) {
		if strings.HasSuffix(label, "/creating") {
			t.Errorf("creation marker %s left behind", label)
		}
	}
}

func TestAgentFaults(t *testing.T) {
	tok := softhsmtest.New(t, "vse-faults")
	dir := t.TempDir()

	t.Run("agent not running", func(t *testing.T) {
		a := &testAgent{socket: filepath.Join(dir, "nobody.sock")}
		out, code := gen(t, a, dir, "acme", 1)
		if code == 0 || !strings.Contains(out, "no agent is running") || !strings.Contains(out, "vsefab agent") {
			t.Errorf("exit %d, output %q", code, out)
		}
	})

	t.Run("wrong module path", func(t *testing.T) {
		cmd := exec.Command(vsefabTool(t), "agent", "--hsm",
			"pkcs11:token=vse-faults?module-path=/nonexistent/libnone.so", "--socket", filepath.Join(dir, "s"),
			"--pin-file", "/dev/null")
		cmd.Env = tok.Env
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "/nonexistent/libnone.so") {
			t.Errorf("agent on a wrong module: %v\n%s", err, out)
		}
	})

	a := startAgent(t, tok)

	t.Run("duplicate label planted", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			cmd := exec.Command("pkcs11-tool", "--module", tok.Module, "--token-label", tok.Label,
				"--login", "--pin", "env:VSEFAB_TEST_PIN", "--keygen", "--key-type", "AES:32",
				"--label", red.Label("dupe", 1, red.RoleStorage))
			cmd.Env = append(tok.Env, "VSEFAB_TEST_PIN="+string(tok.PIN))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("pkcs11-tool --keygen: %v\n%s", err, out)
			}
		}
		out, code := gen(t, a, dir, "dupe", 1)
		if code == 0 || !strings.Contains(out, red.Label("dupe", 1, red.RoleStorage)) {
			t.Errorf("exit %d, output %q: want a refusal naming the duplicated label", code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "dupe-1", "manifest.pb")); err == nil {
			t.Error("a manifest was written")
		}
	})

	t.Run("token removed", func(t *testing.T) {
		if err := os.RemoveAll(tok.Dir); err != nil {
			t.Fatal(err)
		}
		out, code := gen(t, a, dir, "gone", 1)
		if code == 0 {
			t.Errorf("gen succeeded with the token removed: %s", out)
		}
		if _, err := os.Stat(filepath.Join(dir, "gone-1", "manifest.pb")); err == nil {
			t.Error("a manifest was written")
		}
	})
}

// gen runs vsefab gen for (customer, version) against a, with outputs in
// dir/<customer>-<version>, and returns its output and exit code.
func gen(t *testing.T, a *testAgent, dir, customer string, version uint32) (string, int) {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("%s-%d", customer, version))
	cfg := out + ".textproto"
	text := fmt.Sprintf("customer: %q\nkeyset_version: %d\nfirmware_version: \"1.0.0\"\n", customer, version)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vsefabTool(t), "gen", "--config", cfg, "--customer", customer, "--agent", a.socket,
		"--out-dir", out, "--escrow", out+"/escrow.bin", "--manifest", out+"/manifest.pb",
		"--manifest-json", out+"/manifest.json", "--manifest-sig", out+"/manifest.sig")
	b, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(b), ee.ExitCode()
		}
		t.Fatal(err)
	}
	return string(b), 0
}
