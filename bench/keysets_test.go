// Package bench holds vsefab's benchmarks; bench/README.md says how to run each.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/p11keyset"
	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// backend makes a fresh SoftHSM token and a logged-in keyset backend over it.
func backend(b *testing.B) *p11keyset.Backend {
	b.Helper()
	st := softhsmtest.New(b, "vse-bench")
	tok, err := p11.OpenToken(st.Module, st.Label)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tok.Close() })
	if err := tok.Login(st.PIN); err != nil {
		b.Fatal(err)
	}
	be, err := p11keyset.New(tok)
	if err != nil {
		b.Fatal(err)
	}
	return be
}

func config(i int) *vsefabpb.CustomerConfig {
	return &vsefabpb.CustomerConfig{
		Customer: fmt.Sprintf("bench%d", i), KeysetVersion: 1, FirmwareVersion: "1.0.0",
	}
}

// BenchmarkKeysetDirect is the limit: a new customer's keyset created, exported, transformed
// and escrowed by red.Generate in this process, straight on the token.
func BenchmarkKeysetDirect(b *testing.B) {
	be := backend(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := red.Generate(ctx, be, red.Request{Config: config(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keysets/s")
}

// BenchmarkKeysetAgent is the same work asked of an agent over its unix socket, as vsefab gen
// asks it: the difference to BenchmarkKeysetDirect is the protocol's cost.
func BenchmarkKeysetAgent(b *testing.B) {
	be := backend(b)
	dir, err := os.MkdirTemp("", "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "s")
	l, err := agent.Listen(socket)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &agent.Server{Backend: be, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	b.Cleanup(func() { cancel(); <-done })

	client := agent.Client{Socket: socket}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := client.Generate(ctx, &vsefabpb.GenerateRequest{Config: config(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keysets/s")
}
