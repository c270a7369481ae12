// Package agenttest serves a SoftHSM test token over the agent protocol from inside a test or
// benchmark: the same server, backend and socket as `vsefab agent --pin-file`, without
// building and starting the command.
package agenttest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/p11keyset"
	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// Backend opens the token, logs in and returns a keyset backend over it, closed when the test
// ends.
func Backend(t testing.TB, st *softhsmtest.Token, opts ...p11keyset.Option) *p11keyset.Backend {
	t.Helper()
	tok, err := p11.OpenToken(st.Module, st.Label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	if err := tok.Login(st.PIN); err != nil {
		t.Fatal(err)
	}
	be, err := p11keyset.New(tok, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// Serve serves be on a new socket until the test ends and returns the socket's path.
func Serve(t testing.TB, be *p11keyset.Backend) string {
	t.Helper()
	// Not t.TempDir: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "vsa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "agent.sock")
	l, err := agent.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &agent.Server{Backend: be, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return socket
}
