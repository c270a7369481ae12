package scratchws

import (
	"testing"
	"time"
)

func TestParseBazelSummary(t *testing.T) {
	for _, tc := range []struct {
		out                 string
		elapsed             time.Duration
		processes, executed int
		hits                int
	}{
		{"INFO: Elapsed time: 12.345s, Critical Path: 3.21s\nINFO: 257 processes: 250 remote cache hit, 7 internal.\n",
			12345 * time.Millisecond, 257, 250, 250},
		{"INFO: Elapsed time: 0.412s, Critical Path: 0.01s\nINFO: 1 process: 1 internal.\n",
			412 * time.Millisecond, 1, 0, 0},
		{"INFO: Elapsed time: 80.000s, Critical Path: 9.00s\nINFO: 345 processes: 120 internal, 225 linux-sandbox.\n",
			80 * time.Second, 345, 225, 0},
		{"INFO: Elapsed time: 0.2s\nINFO: 0 processes.\n", 200 * time.Millisecond, 0, 0, 0},
	} {
		r := &Run{Output: tc.out}
		r.parse()
		if r.Elapsed != tc.elapsed || r.Processes != tc.processes || r.Executed() != tc.executed ||
			r.ByRunner["remote cache hit"] != tc.hits {
			t.Errorf("%q: elapsed %v, %d processes, %d executed, %v", tc.out, r.Elapsed, r.Processes, r.Executed(), r.ByRunner)
		}
	}
}

func TestWritesOnlyUnder(t *testing.T) {
	for _, tc := range []struct {
		outputs []string
		want    bool
	}{
		{[]string{"bazel-out/k8-fastbuild/bin/customers/acme/firmware_secrets/keyset/keyset.go"}, true},
		{[]string{"bazel-out/k8-fastbuild-ST-1234/bin/customers/acme/firmware_keyset.a", "bazel-out/k8-fastbuild/bin/customers/acme/x"}, true},
		{[]string{"bazel-out/k8-fastbuild/bin/customers/acme/x", "bazel-out/k8-fastbuild/bin/customers/acmes/y"}, false},
		{[]string{"bazel-out/k8-fastbuild/bin/customers/acmeco/x"}, false},
		{[]string{"bazel-out/k8-fastbuild/bin/libs/vse/vse.a"}, false},
		{nil, false},
	} {
		if got := WritesOnlyUnder(Spawn{ListedOutputs: tc.outputs}, "customers/acme"); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.outputs, got, tc.want)
		}
	}
}
