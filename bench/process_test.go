package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/internal/agenttest"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

var (
	binOnce                          sync.Once
	helloBin, helloCgoBin, vsefabBin string
	binErr                           error
)

// binaries builds the hello-world baselines and the vsefab command once per run, with the
// same Go toolchain and flags.
func binaries(b *testing.B) (hello, helloCgo, vsefab string) {
	b.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vsefab-bench")
		if err != nil {
			binErr = err
			return
		}
		helloBin, helloCgoBin, vsefabBin = filepath.Join(dir, "hello"), filepath.Join(dir, "hellocgo"), filepath.Join(dir, "vsefab")
		for pkg, out := range map[string]string{"./hello": helloBin, "./hellocgo": helloCgoBin, "../tools/vsefab": vsefabBin} {
			if o, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, o)
				return
			}
		}
	})
	if binErr != nil {
		b.Fatal(binErr)
	}
	return helloBin, helloCgoBin, vsefabBin
}

// runProcess runs a command to its end.
func runProcess(b *testing.B, name string, args ...string) {
	b.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// peakRSS runs a command under GNU time and returns its peak resident memory in bytes. The
// rusage Go gets for its own children is no use here: Go starts them with vfork, and Linux
// counts the parent's resident memory at the exec into the child's peak.
func peakRSS(b *testing.B, name string, args ...string) int64 {
	b.Helper()
	report := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", report, name}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("time %s %s: %v\n%s (GNU time comes with make deps)", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		b.Fatal(err)
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		b.Fatalf("GNU time reported %q", data)
	}
	return kib << 10
}

// genArgs are the arguments of a vsefab gen as a Bazel action runs it, writing into a new
// directory under dir.
func genArgs(b *testing.B, dir string, i int, hsm ...string) []string {
	b.Helper()
	out, err := os.MkdirTemp(dir, "gen")
	if err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.textproto")
	if _, err := os.Stat(cfg); err != nil {
		if err := os.WriteFile(cfg, []byte("customer: \"bench\"\nkeyset_version: 1\nfirmware_version: \"1.0.0\"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	args := []string{"gen", "--config", cfg, "--customer", "bench", "--target", "//bench:firmware_" + strconv.Itoa(i),
		"--out-dir", filepath.Join(out, "keyset"), "--escrow", filepath.Join(out, "escrow.bin"),
		"--manifest", filepath.Join(out, "manifest.pb"), "--manifest-json", filepath.Join(out, "manifest.json"),
		"--manifest-sig", filepath.Join(out, "manifest.sig"), "--log", filepath.Join(out, "gen.log")}
	return append(args, hsm...)
}

// BenchmarkStart measures what a secrets action costs beyond the HSM's own work: the start of
// the vsefab process and one round trip to the agent, against the start of a Go hello-world
// (the baseline). The gen cases are whole secrets actions of a customer whose keyset exists.
func BenchmarkStart(b *testing.B) {
	hello, helloCgo, vsefab := binaries(b)
	socket := agenttest.Serve(b, agenttest.Backend(b, softhsmtest.New(b, "vse-bench")))
	dir := b.TempDir()
	// The keyset is created once, so the gen cases measure a rebuild's action.
	runProcess(b, vsefab, genArgs(b, dir, -1, "--agent", socket)...)

	cases := []struct {
		name string
		args func(i int) []string
		bin  string
	}{
		{"hello", func(int) []string { return nil }, hello},
		{"hello-cgo", func(int) []string { return nil }, helloCgo},
		{"vsefab-version", func(int) []string { return []string{"version"} }, vsefab},
		{"vsefab-status", func(int) []string { return []string{"status", "--socket", socket} }, vsefab},
		{"gen-emulator", func(i int) []string { return genArgs(b, dir, i) }, vsefab},
		{"gen-agent", func(i int) []string { return genArgs(b, dir, i, "--agent", socket) }, vsefab},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				args := c.args(i)
				b.StartTimer()
				runProcess(b, c.bin, args...)
				b.StopTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/process")
			b.ReportMetric(float64(peakRSS(b, c.bin, c.args(b.N)...))/(1<<20), "peak-MiB")
		})
	}
}

// BenchmarkAgentMemory runs a vsefab agent process on a fresh token and has 16 clients ask it
// for new keysets at once; it reports the agent's resident memory before the load (the
// baseline) and its peak.
func BenchmarkAgentMemory(b *testing.B) {
	_, _, vsefab := binaries(b)
	st := softhsmtest.New(b, "vse-bench")
	dir, err := os.MkdirTemp("", "vsa")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	pinFile, socket := filepath.Join(dir, "pin"), filepath.Join(dir, "agent.sock")
	if err := os.WriteFile(pinFile, st.PIN, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(vsefab, "agent", "--hsm", "pkcs11:token="+st.Label+"?module-path="+st.Module,
		"--socket", socket, "--pin-file", pinFile)
	cmd.Env = st.Env
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	client := agent.Client{Socket: socket}
	for i := 0; ; i++ {
		if _, err := client.Status(context.Background()); err == nil {
			break
		} else if i == 100 {
			b.Fatalf("agent does not answer on %s: %v\n%s", socket, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	idle := residentKiB(b, cmd.Process.Pid, "VmHWM")
	concurrently(b, 16, func(ctx context.Context, i int64) error {
		_, err := client.Generate(ctx, &vsefabpb.GenerateRequest{Config: config(i)})
		return err
	})
	b.ReportMetric(float64(idle)/1024, "idle-MiB")
	b.ReportMetric(float64(residentKiB(b, cmd.Process.Pid, "VmHWM"))/1024, "peak-MiB")
}

// residentKiB reads one of a process's memory figures from /proc.
func residentKiB(b *testing.B, pid int, field string) int64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}
