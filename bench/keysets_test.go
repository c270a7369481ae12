// Package bench holds vsefab's benchmarks; bench/README.md says how to run each.
package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/agenttest"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// clientCounts are the numbers of concurrent clients each throughput benchmark runs with: one
// build, a few, and Bazel's default parallelism on a large build machine.
var clientCounts = []int{1, 4, 16}

func config(i int64) *vsefabpb.CustomerConfig {
	return &vsefabpb.CustomerConfig{
		Customer: fmt.Sprintf("bench%d", i), KeysetVersion: 1, FirmwareVersion: "1.0.0",
	}
}

// concurrently runs b.N calls of one over clients goroutines, each call for a new customer,
// and reports keysets per second. Any failure fails the benchmark.
func concurrently(b *testing.B, clients int, one func(ctx context.Context, i int64) error) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := one(ctx, i); err != nil {
					errs <- fmt.Errorf("keyset %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Error(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keysets/s")
}

// BenchmarkKeysetDirect is the limit: a new customer's keyset created, exported, transformed
// and escrowed by red.Generate in this process, straight on a fresh SoftHSM2 token.
func BenchmarkKeysetDirect(b *testing.B) {
	for _, clients := range clientCounts {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			be := agenttest.Backend(b, softhsmtest.New(b, "vse-bench"))
			concurrently(b, clients, func(ctx context.Context, i int64) error {
				_, err := red.Generate(ctx, be, red.Request{Config: config(i)})
				return err
			})
		})
	}
}

// BenchmarkKeysetAgent is the same work asked of an agent over its unix socket, one
// connection per keyset as vsefab gen asks it: the difference to BenchmarkKeysetDirect is
// the protocol's cost.
func BenchmarkKeysetAgent(b *testing.B) {
	for _, clients := range clientCounts {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			socket := agenttest.Serve(b, agenttest.Backend(b, softhsmtest.New(b, "vse-bench")))
			client := agent.Client{Socket: socket}
			concurrently(b, clients, func(ctx context.Context, i int64) error {
				_, err := client.Generate(ctx, &vsefabpb.GenerateRequest{Config: config(i)})
				return err
			})
		})
	}
}
