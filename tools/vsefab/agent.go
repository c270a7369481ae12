package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vsefab/vsefab/hsm/agent"
)

const agentSynopsis = `Runs the red side in a process of its own: opens the HSM, logs in, and answers
vsefab gen (run by Bazel actions with --config=testhsm or --config=prod) on a unix socket that
only this user can open. It answers only requests whose answers cannot hold a plaintext
secret. Stop it with SIGINT or SIGTERM; requests under way are finished first.`

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("agent", agentSynopsis, stderr)
	hsm := fs.String("hsm", "", `HSM: a PKCS#11 URI with token and module-path, for example
'pkcs11:token=vse-test?module-path=/usr/lib/softhsm/libsofthsm2.so'; required`)
	socket := fs.String("socket", defaultSocket, "unix socket to serve on")
	pinFile := fs.String("pin-file", "", "file holding the token's user PIN (read once; one trailing newline is stripped)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *hsm == "" {
		return fmt.Errorf("flag --hsm is required (see vsefab agent --help)")
	}

	if err := agent.CheckSocketPath(*socket); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	backend, closeBackend, err := openAgentBackend(*hsm, *pinFile, log)
	if err != nil {
		return err
	}
	defer closeBackend()

	l, err := agent.Listen(*socket)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("agent serving", "socket", *socket, "hsm", backend.URI(), "kind", backend.Kind().String())
	srv := &agent.Server{Backend: backend, Log: log}
	err = srv.Serve(ctx, l)
	os.Remove(*socket)
	log.Info("agent stopped")
	return err
}

// defaultSocket is where the agent listens and Bazel's --//hsm:agent_socket points unless
// told otherwise.
const defaultSocket = "/tmp/vsefab/agent.sock"
