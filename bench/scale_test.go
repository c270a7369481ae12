package bench

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vsefab/vsefab/internal/agenttest"
	"github.com/vsefab/vsefab/internal/scratchws"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

var (
	scaleSizes = flag.String("scale.sizes", "1,10,50,200", "BenchmarkScale: fleet sizes, comma-separated")
	scaleHSMs  = flag.String("scale.hsms", "emulator,testhsm", "BenchmarkScale: HSMs, comma-separated: emulator, testhsm")
	floorMax   = flag.Int("scale.floor-max", 50, "BenchmarkScale: measure the floor for fleets up to this size")
)

// BenchmarkScale builds fleets of generated customers in a workspace of their own, with the
// emulator and with a SoftHSM token behind an agent, and reports for each size:
//
//   - cold-s: the fleet's firmware and bundles after bazel clean, shared code included;
//   - warm-s: the same after every customer's keyset_version changed, so every customer's
//     actions run again and nothing shared does: the cost per customer;
//   - floor-s: the floor, the same firmware built from its generated keyset package supplied
//     as plain source (compile and link of the shared library and the static archive), its
//     packages already loaded and analysed; overhead-% is warm-s over floor-s: what the
//     secrets actions and the bundles add;
//   - noop-s: a rebuild with nothing changed;
//   - incr-spawns: the spawns run after one customer's config changed, and incr-foreign, how
//     many of them belong to another customer (must be 0).
//
// All times are Bazel's own "Elapsed time". Run it with make bench-scale; bench/README.md
// has the figures.
func BenchmarkScale(b *testing.B) {
	var sizes []int
	for _, s := range strings.Split(*scaleSizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("-scale.sizes: %q is not a fleet size", s)
		}
		sizes = append(sizes, n)
	}
	maxSize := 0
	for _, n := range sizes {
		maxSize = max(maxSize, n)
	}
	for _, hsm := range strings.Split(*scaleHSMs, ",") {
		b.Run("hsm="+hsm, func(b *testing.B) {
			f := newFleet(b, hsm, maxSize)
			for _, n := range sizes {
				b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) { f.measure(b, n) })
			}
		})
	}
}

type fleet struct {
	w     *scratchws.Workspace
	names []string
	flags []string // of every build: the HSM's config
	round int      // how many times every customer's keyset_version was raised
}

func newFleet(b *testing.B, hsm string, size int) *fleet {
	b.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	w, err := scratchws.New(b.TempDir(), root, scratchws.Options{RegisterEmulator: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Shutdown)
	f := &fleet{w: w}
	for i := 1; i <= size; i++ {
		f.names = append(f.names, fmt.Sprintf("s%04d", i))
	}
	if err := w.AddCustomers(f.names...); err != nil {
		b.Fatal(err)
	}
	switch hsm {
	case "emulator":
	case "testhsm":
		socket := agenttest.Serve(b, agenttest.Backend(b, softhsmtest.New(b, "vse-scale")))
		f.flags = scratchws.TestHSMFlags(socket)
	default:
		b.Fatalf("-scale.hsms: %q is not an HSM: use emulator or testhsm", hsm)
	}
	return f
}

func (f *fleet) build(b *testing.B, execLog string, targets []string) *scratchws.Run {
	b.Helper()
	args := append([]string{"build"}, f.flags...)
	if execLog != "" {
		args = append(args, "--execution_log_json_file="+execLog)
	}
	r, err := f.w.Bazel(nil, append(args, targets...)...)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func (f *fleet) targets(n int, pkg string, names ...string) []string {
	var t []string
	for _, c := range f.names[:n] {
		for _, name := range names {
			t = append(t, "//"+pkg+"/"+c+":"+name)
		}
	}
	return t
}

// setConfig rewrites a customer's config.
func (f *fleet) setConfig(b *testing.B, c string, keysetVersion int, firmwareVersion string) {
	b.Helper()
	cfg := fmt.Sprintf("customer: %q\nkeyset_version: %d\nfirmware_version: %q\n", c, keysetVersion, firmwareVersion)
	if err := f.w.WriteFile(filepath.Join("customers", c, "config.textproto"), cfg); err != nil {
		b.Fatal(err)
	}
}

// writeFloor makes floor/<c>: the customer's generated keyset package as plain source, as
// the last build generated it, and the firmware linked from it as vse_firmware links it.
// Each round's package holds new keys, so after a warm round every floor package compiles and
// links anew, exactly as the customer's own targets did.
func (f *fleet) writeFloor(b *testing.B, n int) {
	b.Helper()
	for _, c := range f.names[:n] {
		// rules_go builds the library's dependencies in a configuration of its own.
		gen := filepath.Join(f.w.Dir, "bazel-out", "*", "bin", "customers", c, "firmware_secrets", "keyset", "*.go")
		srcs, err := filepath.Glob(gen)
		if err != nil || len(srcs) != 4 {
			b.Fatalf("%s: want the 4 generated keyset sources of one configuration, found %v (%v)", gen, srcs, err)
		}
		var names []string
		for _, s := range srcs {
			data, err := os.ReadFile(s)
			if err != nil {
				b.Fatal(err)
			}
			names = append(names, strconv.Quote(filepath.Base(s)))
			if err := f.w.WriteFile(filepath.Join("floor", c, filepath.Base(s)), string(data)); err != nil {
				b.Fatal(err)
			}
		}
		build := fmt.Sprintf(`load("@io_bazel_rules_go//go:def.bzl", "go_binary", "go_library")
load("@vsefab//firmware/cabi:deps.bzl", "CABI_DEPS")

go_library(
    name = "keyset",
    srcs = [%s],
    importpath = "github.com/vsefab/vsefab/firmware/keyset",
    deps = ["@vsefab//libs/share", "@vsefab//libs/vse"],
)

go_binary(
    name = "lib",
    srcs = ["@vsefab//firmware/cabi:srcs"],
    cgo = True,
    linkmode = "c-shared",
    out = "libfirmware.so",
    clinkopts = ["-Wl,-soname,libfirmware.so"],
    deps = [":keyset"] + CABI_DEPS,
)

go_binary(
    name = "archive",
    srcs = ["@vsefab//firmware/cabi:srcs"],
    cgo = True,
    linkmode = "c-archive",
    out = "libfirmware.a",
    deps = [":keyset"] + CABI_DEPS,
)
`, strings.Join(names, ", "))
		if err := f.w.WriteFile(filepath.Join("floor", c, "BUILD.bazel"), build); err != nil {
			b.Fatal(err)
		}
	}
}

func (f *fleet) measure(b *testing.B, n int) {
	full := f.targets(n, "customers", "firmware", "firmware_bundle")
	if _, err := f.w.Bazel(nil, "clean"); err != nil {
		b.Fatal(err)
	}
	cold := f.build(b, "", full)

	// Every customer's actions run again, nothing shared does.
	f.round++
	for _, c := range f.names[:n] {
		f.setConfig(b, c, 1+f.round, "1.0.0")
	}
	warm := f.build(b, "", full)

	// The floor, loaded and analysed first, as the fleet's packages are by the builds before.
	var floorRun *scratchws.Run
	if n <= *floorMax {
		floor := f.targets(n, "floor", "lib", "archive")
		f.writeFloor(b, n)
		f.build(b, "", append([]string{"--nobuild"}, floor...))
		floorRun = f.build(b, "", floor)
	}

	noop := f.build(b, "", full)

	// One customer changes; the others' actions must not run.
	changed := f.names[n/2]
	f.setConfig(b, changed, 1+f.round, "1.0."+strconv.Itoa(f.round))
	execLog := filepath.Join(b.TempDir(), "exec.json")
	incr := f.build(b, execLog, full)
	spawns, err := scratchws.ReadExecLog(execLog)
	if err != nil {
		b.Fatal(err)
	}
	foreign := 0
	for _, s := range spawns {
		if !scratchws.WritesOnlyUnder(s, "customers/"+changed) {
			foreign++
			b.Errorf("after a change to %s's config, %s writing %v ran", changed, s.Mnemonic, s.ListedOutputs)
		}
	}

	sec := func(r *scratchws.Run) float64 { return r.Elapsed.Seconds() }
	b.ReportMetric(sec(cold), "cold-s")
	b.ReportMetric(sec(cold)/float64(n), "cold-s/customer")
	b.ReportMetric(sec(warm), "warm-s")
	b.ReportMetric(sec(warm)/float64(n), "warm-s/customer")
	if floorRun != nil {
		b.ReportMetric(sec(floorRun), "floor-s")
		b.ReportMetric(100*(sec(warm)/sec(floorRun)-1), "overhead-%")
	}
	b.ReportMetric(sec(noop), "noop-s")
	b.ReportMetric(float64(len(spawns)), "incr-spawns")
	b.ReportMetric(float64(foreign), "incr-foreign")
	floorNote := "not measured"
	if floorRun != nil {
		floorNote = fmt.Sprintf("%.1fs (%d spawns)", sec(floorRun), floorRun.Executed())
	}
	b.Logf("%d customers: cold %.1fs (%d spawns), warm %.1fs (%d spawns), floor %s, no-op %.2fs, one changed: %d spawns (Bazel: %d)",
		n, sec(cold), cold.Executed(), sec(warm), warm.Executed(), floorNote, sec(noop), len(spawns), incr.Executed())
}
