package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/audit"
	"github.com/vsefab/vsefab/internal/outfile"
	"github.com/vsefab/vsefab/internal/pin"
)

const agentSynopsis = `Runs the red side in a process of its own: opens the HSM, logs in, and answers
vsefab gen (run by Bazel actions with --config=testhsm or --config=prod) on a unix socket that
only this user can open. It answers only requests whose answers cannot hold a plaintext
secret. Stop it with SIGINT or SIGTERM; requests under way are finished first.

With --production it serves a production window under dual control: the two custodians
each give their half of the user PIN (--pin1, --pin2), the PIN is wiped once the token has
it, and the agent serves only the named customers, only until the window ends and only
--max-builds builds, then logs out and exits. Every request and refusal goes to the audit
log, whose checkpoints the token's audit key signs.`

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlags("agent", agentSynopsis, stderr)
	hsm := fs.String("hsm", "", `HSM: a PKCS#11 URI with token and module-path, for example
'pkcs11:token=vse-test?module-path=/usr/lib/softhsm/libsofthsm2.so'; required`)
	socket := fs.String("socket", defaultSocket, "unix socket to serve on")
	pin1 := fs.String("pin1", pin.SourcePrompt, "custodian 1's half of the user PIN: "+pin.SourceHelp)
	pin2 := fs.String("pin2", pin.SourcePrompt, "custodian 2's half of the user PIN: "+pin.SourceHelp)
	pinFile := fs.String("pin-file", "", "test tokens only: a file holding the whole user PIN, instead of the halves")
	production := fs.Bool("production", false, "serve a production window (needs --window, --customers and --audit-log)")
	window := fs.Duration("window", 0, "production: how long the agent serves, for example 30m")
	customers := fs.String("customers", "", "production: the customers served, comma-separated")
	maxBuilds := fs.Int("max-builds", 0, "production: how many requests (a firmware's keyset, a license, a bundle signature: one each) are served before the agent exits (0: no limit)")
	auditLog := fs.String("audit-log", "", "append-only audit log (created if missing); required with --production")
	auditHead := fs.String("audit-head", "", "a new file the agent writes the audit log's head to when it exits "+
		"(SEQUENCE:HASH of its last checkpoint): custodians keep it with their records, and "+
		"vsefab audit verify --head-file finds any line removed after it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *auditHead != "" {
		if *auditLog == "" {
			return errors.New("--audit-head names where to write the head of the audit log: add --audit-log")
		}
		if err := checkAuditHeadPath(*auditHead, *auditLog, *socket); err != nil {
			return err
		}
	}
	if *hsm == "" {
		return fmt.Errorf("flag --hsm is required (see vsefab agent --help)")
	}
	pol, err := agentPolicy(*production, *window, *customers, *maxBuilds, *auditLog, *pinFile)
	if err != nil {
		return err
	}
	if err := agent.CheckSocketPath(*socket); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	pins := pinSources{halves: [2]string{*pin1, *pin2}, file: *pinFile}
	backend, tok, u, err := openBackendOn(*hsm, pins, *production, log)
	if err != nil {
		return err
	}
	defer func() {
		tok.Close()
		log.Info("logged out", "token", tok.Label())
	}()

	var aw *audit.Writer
	if *auditLog != "" {
		signer, serr := backend.AuditSigner(ctx)
		if serr != nil {
			return serr
		}
		// Assigned, not declared: the deferred close below reports into the named result.
		aw, err = audit.Open(*auditLog, signer, audit.Options{})
		if err != nil {
			return err
		}
		defer func() {
			if cerr := aw.Close(); cerr != nil {
				log.Error("closing the audit log", "err", cerr)
				err = errors.Join(err, cerr)
				return
			}
			if herr := writeAuditHead(aw, *auditLog, *auditHead, log); herr != nil {
				err = errors.Join(err, herr)
			}
		}()
	}
	if *production {
		// Fail now, not at the first build, when the ceremony has not run on this token.
		if _, err := backend.SignRoot(ctx, make([]byte, 32)); err != nil {
			return err
		}
	}

	l, err := agent.Listen(*socket)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if pol != nil {
		pol.Until = time.Now().Add(*window)
		pol.Exhausted = func() { cancel(errMaxBuilds) }
		var timer context.CancelFunc
		ctx, timer = context.WithDeadlineCause(ctx, pol.Until, errWindowClosed)
		defer timer()
	}
	srv := &agent.Server{Backend: backend, Log: log, Policy: pol, Token: u.Token(), Module: u.ModulePath()}
	if aw != nil {
		srv.Audit = aw
	}
	open := audit.Record{Operation: "agent-start", Result: audit.OK, Reason: describe(backend, pol)}
	if err := appendAudit(aw, open); err != nil {
		l.Close()
		os.Remove(*socket)
		return err
	}
	log.Info("agent serving", "socket", *socket, "hsm", backend.URI(), "kind", backend.Kind().String(),
		"production", *production)
	err = srv.Serve(ctx, l)
	os.Remove(*socket)
	why := "stopped by a signal"
	if c := context.Cause(ctx); errors.Is(c, errWindowClosed) || errors.Is(c, errMaxBuilds) {
		why = c.Error()
	}
	log.Info("agent stopped", "why", why)
	if aerr := appendAudit(aw, audit.Record{Operation: "agent-stop", Result: audit.OK, Reason: why}); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return err
}

var (
	errWindowClosed = errors.New("the production window closed")
	errMaxBuilds    = errors.New("the window's builds are used")
)

// checkAuditHeadPath refuses, before anything is done, a head file the agent could not write
// when it exits: one that exists, the log's or the socket's own path, or one in a directory
// that is not there.
func checkAuditHeadPath(head, logPath, socket string) error {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	if abs(head) == abs(logPath) || abs(head) == abs(socket) {
		return fmt.Errorf("--audit-head %s is the path of the audit log or the socket: name a file of its own", head)
	}
	if err := outfile.RefuseExisting(head); err != nil {
		return fmt.Errorf("--audit-head: %w", err)
	}
	if fi, err := os.Stat(filepath.Dir(head)); err != nil || !fi.IsDir() {
		return fmt.Errorf("--audit-head %s: its directory must exist (%v)", head, err)
	}
	return nil
}

// writeAuditHead logs the head of a closed audit log and writes it to path, if one is given.
func writeAuditHead(aw *audit.Writer, logPath, path string, log *slog.Logger) error {
	h, ok := aw.Head()
	if !ok {
		return nil
	}
	log.Info("audit log closed", "log", logPath, "head", h.String())
	if path == "" {
		return nil
	}
	out := outfile.NewSet()
	out.Add(path, []byte(h.String()+"\n"))
	if err := out.Commit(); err != nil {
		return fmt.Errorf("--audit-head: %w; the head is %s: record it by hand", err, h)
	}
	return nil
}

func appendAudit(aw *audit.Writer, rec audit.Record) error {
	if aw == nil {
		return nil
	}
	return aw.Append(rec)
}

// agentPolicy checks the production flags and turns them into the server's policy; nil
// means a test agent, which serves every request.
func agentPolicy(production bool, window time.Duration, customers string, maxBuilds int, auditLog, pinFile string) (*agent.Policy, error) {
	if !production {
		if window != 0 || customers != "" || maxBuilds != 0 {
			return nil, errors.New("--window, --customers and --max-builds limit a production window: add --production")
		}
		return nil, nil
	}
	switch {
	case pinFile != "":
		return nil, errors.New("--pin-file holds a whole PIN, which no one may under dual control: " +
			"each custodian gives a half with --pin1 and --pin2")
	case window <= 0:
		return nil, errors.New("--production needs --window, how long the agent serves (for example --window 30m)")
	case customers == "":
		return nil, errors.New("--production needs --customers, the customers this window serves (for example --customers acme,globex)")
	case maxBuilds < 0:
		return nil, fmt.Errorf("--max-builds %d: give a count, or 0 for no limit", maxBuilds)
	case auditLog == "":
		return nil, errors.New("--production needs --audit-log: every production request is audited")
	}
	pol := &agent.Policy{Production: true, Customers: map[string]bool{}, MaxBuilds: maxBuilds}
	for _, c := range strings.Split(customers, ",") {
		if err := red.CheckCustomer(c); err != nil {
			return nil, fmt.Errorf("--customers: %w", err)
		}
		pol.Customers[c] = true
	}
	return pol, nil
}

// describe is the agent-start record's reason: what this agent serves.
func describe(b red.Backend, pol *agent.Policy) string {
	s := "hsm " + b.URI() + " kind " + b.Kind().String()
	if pol == nil {
		return s + "; test agent, no window"
	}
	var cs []string
	for c := range pol.Customers {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	s += "; production window until " + pol.Until.UTC().Format(time.RFC3339) + ", customers " + strings.Join(cs, ",")
	if pol.MaxBuilds > 0 {
		s += ", max builds " + strconv.Itoa(pol.MaxBuilds)
	}
	return s
}

// defaultSocket is where the agent listens and Bazel's --//hsm:agent_socket points unless
// told otherwise.
const defaultSocket = "/tmp/vsefab/agent.sock"
