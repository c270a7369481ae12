// Package remotecache proves what vsefab builds put in a shared Bazel cache: everything of an
// emulator build, which is hermetic, and nothing of a build with a real token's keys.
package remotecache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/internal/agenttest"
	"github.com/vsefab/vsefab/internal/escrowtest"
	"github.com/vsefab/vsefab/internal/leakcheck"
	"github.com/vsefab/vsefab/internal/scratchws"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// fleetSize is the number of customers of the emulator build.
const fleetSize = 50

// hsmMnemonics are the actions that ask the HSM.
var hsmMnemonics = map[string]bool{"VseGen": true, "VseBundle": true, "VseLicense": true}

func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// webdav is an nginx serving Bazel's HTTP cache protocol (GET and PUT of /ac/HASH and
// /cas/HASH) from a directory, on loopback.
type webdav struct {
	URL  string
	Root string // the cache's files: ac/HASH and cas/HASH
}

func startNginx(t *testing.T) *webdav {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Fatal("nginx is not installed: run make deps, which installs Debian's nginx-light")
		}
		nginx = "/usr/sbin/nginx"
	}
	dir := t.TempDir()
	w := &webdav{Root: filepath.Join(dir, "cache")}
	for _, d := range []string{w.Root, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A port the kernel just handed out; nginx cannot report one it chose itself.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot write the test's directory.
		user = "user root;"
	}
	conf := fmt.Sprintf(`%[1]s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events {}
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/tmp;
	proxy_temp_path %[2]s/tmp;
	fastcgi_temp_path %[2]s/tmp;
	uwsgi_temp_path %[2]s/tmp;
	scgi_temp_path %[2]s/tmp;
	server {
		listen %[3]s;
		root %[4]s;
		client_max_body_size 0;
		location / {
			dav_methods PUT;
			create_full_put_path on;
		}
	}
}
`, user, dir, addr, w.Root)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
	})
	w.URL = "http://" + addr
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return w
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		case <-time.After(100 * time.Millisecond):
		}
		if i == 100 {
			t.Fatalf("nginx does not listen on %s", addr)
		}
	}
}

// entries lists the cache: each file by its path under the root (ac/HASH or cas/HASH), with
// the SHA-256 of its content.
func (w *webdav) entries(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(w.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.Root, p)
		sum := sha256.Sum256(data)
		m[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fleet() (names, targets []string) {
	for i := 1; i <= fleetSize; i++ {
		n := fmt.Sprintf("r%02d", i)
		names = append(names, n)
		targets = append(targets, "//customers/"+n+":firmware")
	}
	return names, targets
}

func build(t *testing.T, w *scratchws.Workspace, flags []string, targets ...string) (*scratchws.Run, []scratchws.Spawn) {
	t.Helper()
	execLog := filepath.Join(t.TempDir(), "exec.json")
	args := append(append([]string{"build", "--execution_log_json_file=" + execLog}, flags...), targets...)
	r, err := w.Bazel(nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	spawns, err := scratchws.ReadExecLog(execLog)
	if err != nil {
		t.Fatal(err)
	}
	return r, spawns
}

// TestRemoteCache builds a fleet of emulator customers against a WebDAV cache, checks that
// one customer's change rebuilds only that customer and that a clean rebuild comes from the
// cache, then builds with a SoftHSM token's keys and checks that nothing of it reached the
// cache.
func TestRemoteCache(t *testing.T) {
	cache := startNginx(t)
	w, err := scratchws.New(t.TempDir(), root(t), scratchws.Options{
		RegisterEmulator: true,
		Bazelrc:          "build --remote_cache=" + cache.URL + "\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	names, targets := fleet()
	if err := w.AddCustomers(names...); err != nil {
		t.Fatal(err)
	}

	// A cold build fills the cache.
	r, spawns := build(t, w, nil, targets...)
	if r.Executed() == 0 || len(spawns) != r.Executed() {
		t.Fatalf("cold build: %d spawns logged, %d executed by Bazel's count", len(spawns), r.Executed())
	}
	if n := len(cache.entries(t)); n < len(spawns) {
		t.Fatalf("the cache holds %d files after %d spawns", n, len(spawns))
	}

	// One customer's config changes: only that customer's actions run.
	changed := names[6]
	cfg := filepath.Join("customers", changed, "config.textproto")
	old, err := os.ReadFile(filepath.Join(w.Dir, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(cfg, strings.Replace(string(old), `"1.0.0"`, `"1.0.1"`, 1)); err != nil {
		t.Fatal(err)
	}
	r, spawns = build(t, w, nil, targets...)
	checkOnly(t, spawns, changed)
	if len(spawns) != r.Executed() {
		t.Errorf("after changing %s: %d spawns logged, %d executed by Bazel's count", changed, len(spawns), r.Executed())
	}
	if r, _ = build(t, w, nil, targets...); r.Executed() != 0 {
		t.Errorf("a no-op rebuild executed %d spawns:\n%s", r.Executed(), r.Output)
	}
	before := manifests(t, w, names)

	// After bazel clean, everything comes from the cache.
	if _, err := w.Bazel(nil, "clean"); err != nil {
		t.Fatal(err)
	}
	r, spawns = build(t, w, nil, targets...)
	var missed []string
	for _, s := range spawns {
		if !s.RemoteCacheHit {
			missed = append(missed, s.Mnemonic+" "+strings.Join(s.ListedOutputs, " "))
		}
	}
	if len(spawns) == 0 || len(missed) > 0 || r.ByRunner["remote cache hit"] != len(spawns) {
		t.Errorf("clean rebuild: %d spawns, %d remote cache hits by Bazel's count; not from the cache: %v",
			len(spawns), r.ByRunner["remote cache hit"], missed)
	}
	after := manifests(t, w, names)
	for c, m := range before {
		if !bytes.Equal(m, after[c]) {
			t.Errorf("%s's manifest from the cache differs from the one built", c)
		}
	}
	t.Logf("clean rebuild of %d customers: %d spawns, all from the cache, %.1fs", fleetSize, len(spawns), r.Elapsed.Seconds())

	// What the emulator builds made: files of the same bytes are public test articles.
	public := map[string]bool{}
	for _, s := range spawns {
		for _, o := range s.ActualOutputs {
			public[o.Digest.Hash] = true
		}
	}
	checkTestHSMUploadsNothing(t, w, cache, names[:2], public)
}

// checkOnly fails unless every spawn wrote only outputs of customer's package and at least
// its secrets action ran.
func checkOnly(t *testing.T, spawns []scratchws.Spawn, customer string) {
	t.Helper()
	if len(spawns) == 0 {
		t.Fatalf("nothing ran after %s's config changed", customer)
	}
	gen := false
	for _, s := range spawns {
		if !scratchws.WritesOnlyUnder(s, "customers/"+customer) {
			t.Errorf("after a change to %s's config only, %s writing %v ran", customer, s.Mnemonic, s.ListedOutputs)
		}
		gen = gen || s.Mnemonic == "VseGen"
	}
	if !gen {
		t.Errorf("after a change to %s's config its secrets action did not run", customer)
	}
}

func manifests(t *testing.T, w *scratchws.Workspace, names []string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, c := range names {
		b, err := os.ReadFile(filepath.Join(w.Dir, "bazel-bin", "customers", c, "firmware.manifest.pb"))
		if err != nil {
			t.Fatal(err)
		}
		m[c] = b
	}
	return m
}

// checkTestHSMUploadsNothing builds customers' firmware and a bundle with keys from a SoftHSM
// token through the same cache, and checks the cache entry by entry: nothing was added,
// nothing in it is an output of an HSM action or of an action downstream of one, and no
// entry holds a key of the token's keysets in any encoding.
func checkTestHSMUploadsNothing(t *testing.T, w *scratchws.Workspace, cache *webdav, customers []string, public map[string]bool) {
	t.Helper()
	before := cache.entries(t)
	st := softhsmtest.New(t, "vse-cache")
	socket := agenttest.Serve(t, agenttest.Backend(t, st))
	targets := []string{"//customers/" + customers[0] + ":firmware_bundle"}
	for _, c := range customers {
		targets = append(targets, "//customers/"+c+":firmware")
	}
	_, spawns := build(t, w, scratchws.TestHSMFlags(socket), targets...)

	// The build did use the token.
	secrets := map[string][]byte{}
	for _, c := range customers {
		b, err := os.ReadFile(filepath.Join(w.Dir, "bazel-bin", "customers", c, "firmware.manifest.pb"))
		if err != nil {
			t.Fatal(err)
		}
		var m vsefabpb.Manifest
		if err := proto.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.HsmKind != vsefabpb.HsmKind_TEST_TOKEN {
			t.Fatalf("%s's firmware was built with HSM kind %v, not the test token", c, m.HsmKind)
		}
		escrow, err := os.ReadFile(filepath.Join(w.Dir, "bazel-bin", "customers", c, "firmware.escrow.bin"))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range escrowtest.Secrets(t, st, c, escrow) {
			secrets[k] = v
		}
	}

	// Outputs of the HSM's actions, and of every action that read one, transitively.
	tainted := map[string]string{} // path -> digest
	hsmRan := 0
	for changed := true; changed; {
		changed = false
		for _, s := range spawns {
			taint := hsmMnemonics[s.Mnemonic]
			if taint && (s.Remotable || s.Cacheable) {
				t.Errorf("%s writing %v is remotable=%v cacheable=%v: HSM actions must be neither", s.Mnemonic, s.ListedOutputs, s.Remotable, s.Cacheable)
			}
			for _, in := range s.Inputs {
				if _, ok := tainted[in.Path]; ok {
					taint = true
				}
			}
			if !taint {
				continue
			}
			for _, out := range s.ActualOutputs {
				if _, ok := tainted[out.Path]; !ok {
					tainted[out.Path] = out.Digest.Hash
					changed = true
				}
			}
		}
	}
	for _, s := range spawns {
		if hsmMnemonics[s.Mnemonic] {
			hsmRan++
		}
	}
	if hsmRan < len(customers)+1 || len(tainted) < 10 {
		t.Fatalf("the test-token build ran %d HSM actions and derived %d files from them", hsmRan, len(tainted))
	}

	afterEntries := cache.entries(t)
	byDigest := map[string]string{}
	for rel := range afterEntries {
		if !strings.HasPrefix(rel, "ac/") && !strings.HasPrefix(rel, "cas/") {
			t.Errorf("the cache holds %s, neither an action result nor a blob", rel)
		}
		byDigest[filepath.Base(rel)] = rel
	}
	var added []string
	for rel := range afterEntries {
		if _, ok := before[rel]; !ok {
			added = append(added, rel)
		}
	}
	sort.Strings(added)
	if len(added) > 0 {
		t.Errorf("the test-token build added %d cache entries: %v", len(added), added)
	}
	// Some outputs downstream of the keys do not depend on them (a link's export data, cgo's
	// generated header): they are byte for byte what the emulator builds made, and so in the
	// cache already. Any other one found there was uploaded.
	keyIndependent := 0
	for p, d := range tainted {
		rel, ok := byDigest[d]
		switch {
		case ok && public[d]:
			keyIndependent++
		case ok:
			t.Errorf("the cache holds %s, derived from the token's secrets, as %s", p, rel)
		}
	}
	for rel := range afterEntries {
		data, err := os.ReadFile(filepath.Join(cache.Root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(rel, "cas/") && afterEntries[rel] != filepath.Base(rel) {
			t.Errorf("cache blob %s does not hash to its name", rel)
		}
		if found := leakcheck.Find(data, secrets); len(found) > 0 {
			t.Errorf("cache entry %s holds %v", rel, found)
		}
	}
	if keyIndependent > len(tainted)/2 {
		t.Errorf("%d of the %d files derived from the token's keys are the same as emulator outputs: the keys do not reach the firmware", keyIndependent, len(tainted))
	}
	t.Logf("test-token build: %d spawns, %d HSM actions, %d files derived from them (%d the same as the emulator's); cache: %d entries, none added, none derived from the keys, no secret",
		len(spawns), hsmRan, len(tainted), keyIndependent, len(afterEntries))
}
