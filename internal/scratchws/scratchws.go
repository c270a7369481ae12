// Package scratchws makes Bazel workspaces of their own that use vsefab as the external
// repository @vsefab, the way a vendor keeps its customers apart from vsefab's tree, and runs
// Bazel in them. Tests and benchmarks use it for fleets of generated customers, which must
// not land in vsefab's own workspace, where //... would build them.
//
// A scratch workspace borrows rules_go and the Go SDK that vsefab's own workspace has already
// fetched, so it fetches nothing. It has a Bazel server of its own: its builds, cleans and
// caches never disturb vsefab's.
package scratchws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vsefab/vsefab/internal/onboard"
)

// Options shape a new workspace.
type Options struct {
	// RegisterEmulator registers @vsefab//hsm:emulator, as a vendor's WORKSPACE does.
	RegisterEmulator bool
	// Bazelrc is appended to the workspace's .bazelrc.
	Bazelrc string
}

// Workspace is a scratch Bazel workspace.
type Workspace struct {
	Dir string // its root
}

// Defs is the label a scratch workspace's BUILD files load the rules from.
const Defs = "@vsefab//rules:defs.bzl"

// New makes a workspace in dir, which must be empty or absent, for the vsefab checkout at
// vsefabRoot.
func New(dir, vsefabRoot string, opts Options) (*Workspace, error) {
	base, err := mainOutputBase(vsefabRoot)
	if err != nil {
		return nil, err
	}
	ws := fmt.Sprintf(`workspace(name = "scratch")

local_repository(name = "vsefab", path = %[1]q)
local_repository(name = "bazel_skylib", path = "/usr/share/bazel/tools/skylib")
local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")
local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
local_repository(name = "rules_cc", path = %[1]q + "/third_party/rules_cc")
local_repository(name = "remote_coverage_tools", path = %[1]q + "/third_party/remote_coverage_tools")

load("@vsefab//rules/private:repositories.bzl", "vsefab_go_repositories")

vsefab_go_repositories()

load("@io_bazel_rules_go//go:deps.bzl", "go_register_toolchains", "go_rules_dependencies", "go_wrap_sdk")

go_rules_dependencies()

go_wrap_sdk(name = "go_sdk", root_file = "@go_sdk_dist//:VERSION")

go_register_toolchains()
`, vsefabRoot)
	if opts.RegisterEmulator {
		ws += "\nregister_toolchains(\"@vsefab//hsm:emulator\")\n"
	}
	configs, err := hsmConfigs(vsefabRoot)
	if err != nil {
		return nil, err
	}
	rc := fmt.Sprintf(`build --nosandbox_debug
build --incompatible_strict_action_env
build --override_repository=io_bazel_rules_go=%s
build --override_repository=go_sdk_dist=%s
%s%s`, filepath.Join(base, "external", "io_bazel_rules_go"), filepath.Join(base, "external", "go_sdk_dist"), configs, opts.Bazelrc)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		return nil, fmt.Errorf("scratch workspace %s: the directory must be empty (%v)", dir, err)
	}
	for name, content := range map[string]string{"WORKSPACE": ws, "BUILD.bazel": "", ".bazelrc": rc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	return &Workspace{Dir: dir}, nil
}

// hsmConfigs is vsefab's --config=testhsm and --config=prod, as a workspace that has vsefab
// as @vsefab writes them: taken from vsefab's own .bazelrc, so tests of them test the real
// ones.
func hsmConfigs(root string) (string, error) {
	rc, err := os.ReadFile(filepath.Join(root, ".bazelrc"))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range strings.Split(string(rc), "\n") {
		if strings.HasPrefix(l, "build:testhsm ") || strings.HasPrefix(l, "build:prod ") {
			b.WriteString(strings.ReplaceAll(l, "=//hsm:", "=@vsefab//hsm:") + "\n")
		}
	}
	if !strings.Contains(b.String(), "build:testhsm --extra_toolchains=@vsefab//hsm:softhsm") {
		return "", fmt.Errorf("%s/.bazelrc has no build:testhsm --extra_toolchains=//hsm:softhsm line", root)
	}
	return b.String(), nil
}

// mainOutputBase is the output base of vsefab's own workspace, after making sure the
// repositories a scratch workspace borrows from it are there.
func mainOutputBase(root string) (string, error) {
	info := exec.Command("bazel", "info", "output_base")
	info.Dir = root
	// Stdout only: Bazel's notes, such as waiting for another command, go to stderr.
	out, err := info.Output()
	if err != nil {
		return "", fmt.Errorf("bazel info output_base in %s: %v", root, err)
	}
	base := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(base, "external", "go_sdk_dist", "VERSION")); err == nil {
		return base, nil
	}
	fetch := exec.Command("bazel", "fetch", "@go_sdk_dist//:VERSION", "@io_bazel_rules_go//go:def.bzl")
	fetch.Dir = root
	if out, err := fetch.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bazel fetch in %s: %v\n%s", root, err, out)
	}
	if _, err := os.Stat(filepath.Join(base, "external", "go_sdk_dist", "VERSION")); err != nil {
		return "", fmt.Errorf("bazel fetch in %s did not fetch the Go SDK: %v", root, err)
	}
	return base, nil
}

// TestHSMFlags are the flags of a build with the test HSM served on socket; in a workspace
// that has vsefab as @vsefab, the build setting is @vsefab's.
func TestHSMFlags(socket string) []string {
	return []string{"--config=testhsm", "--@vsefab//hsm:agent_socket=" + socket}
}

// AddCustomers onboards customers the way `vsefab customer add` does.
func (w *Workspace) AddCustomers(names ...string) error {
	for _, n := range names {
		if _, err := onboard.Add(w.Dir, n, onboard.Options{Defs: Defs}); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes a file of the workspace, making its directory.
func (w *Workspace) WriteFile(rel, content string) error {
	p := filepath.Join(w.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// Run is one Bazel command's outcome.
type Run struct {
	Output string        // stdout and stderr, interleaved
	Wall   time.Duration // the bazel client's run time, as seen from here
	// Elapsed is Bazel's own "Elapsed time" of a build: from the start of analysis to the
	// end of execution, without the client's start-up; zero if Bazel did not print it.
	Elapsed time.Duration
	// Processes is the number of spawns the build accounted for, and ByRunner how many of
	// them each runner (linux-sandbox, internal, remote cache hit, ...) handled.
	Processes int
	ByRunner  map[string]int
}

// Executed is the number of spawns that ran or came from a cache: all but internal ones.
func (r *Run) Executed() int { return r.Processes - r.ByRunner["internal"] }

// Bazel runs a bazel command in the workspace; env, if not nil, replaces the environment.
func (w *Workspace) Bazel(env []string, args ...string) (*Run, error) {
	cmd := exec.Command("bazel", args...)
	cmd.Dir = w.Dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := &Run{Output: out.String(), Wall: time.Since(start)}
	r.parse()
	if err != nil {
		return r, fmt.Errorf("bazel %s in %s: %v\n%s", strings.Join(args, " "), w.Dir, err, tail(r.Output, 40))
	}
	return r, nil
}

// Shutdown stops the workspace's Bazel server.
func (w *Workspace) Shutdown() {
	cmd := exec.Command("bazel", "shutdown")
	cmd.Dir = w.Dir
	_ = cmd.Run()
}

var (
	elapsedRE   = regexp.MustCompile(`INFO: Elapsed time: ([0-9.]+)s`)
	processesRE = regexp.MustCompile(`INFO: (\d+) process(?:es)?(?:: ([^\n]*))?\.\n`)
	runnerRE    = regexp.MustCompile(`^(\d+) (.+)$`)
)

func (r *Run) parse() {
	if m := elapsedRE.FindStringSubmatch(r.Output); m != nil {
		s, _ := strconv.ParseFloat(m[1], 64)
		r.Elapsed = time.Duration(s * float64(time.Second))
	}
	r.ByRunner = map[string]int{}
	m := processesRE.FindStringSubmatch(r.Output)
	if m == nil {
		return
	}
	r.Processes, _ = strconv.Atoi(m[1])
	for _, part := range strings.Split(m[2], ", ") {
		if pm := runnerRE.FindStringSubmatch(strings.TrimSpace(part)); pm != nil {
			n, _ := strconv.Atoi(pm[1])
			r.ByRunner[pm[2]] += n
		}
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Spawn is one entry of Bazel's execution log (--execution_log_json_file).
type Spawn struct {
	Mnemonic       string   `json:"mnemonic"`
	ListedOutputs  []string `json:"listedOutputs"`
	Inputs         []File   `json:"inputs"`
	ActualOutputs  []File   `json:"actualOutputs"`
	Remotable      bool     `json:"remotable"`
	Cacheable      bool     `json:"cacheable"`
	RemoteCacheHit bool     `json:"remoteCacheHit"`
	Runner         string   `json:"runner"`
}

// File is an input or output of a spawn.
type File struct {
	Path   string `json:"path"`
	Digest struct {
		Hash string `json:"hash"`
	} `json:"digest"`
}

// WritesOnlyUnder says whether every output of a spawn is under dir, a path from the
// workspace root such as "customers/acme", in whatever configuration. Bazel 4.2's execution
// log does not name a spawn's target, but every output sits in its target's package, under
// bazel-out/<configuration>/bin.
func WritesOnlyUnder(s Spawn, dir string) bool {
	for _, o := range s.ListedOutputs {
		parts := strings.SplitN(o, "/", 4) // bazel-out, configuration, bin, the rest
		if len(parts) < 4 || parts[0] != "bazel-out" || !strings.HasPrefix(parts[3], dir+"/") {
			return false
		}
	}
	return len(s.ListedOutputs) > 0
}

// ReadExecLog reads an execution log written with --execution_log_json_file.
func ReadExecLog(path string) ([]Spawn, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var spawns []Spawn
	dec := json.NewDecoder(f)
	for {
		var s Spawn
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			return spawns, nil
		} else if err != nil {
			return nil, fmt.Errorf("execution log %s: %v", path, err)
		}
		spawns = append(spawns, s)
	}
}
