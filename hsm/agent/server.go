package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/audit"
	"github.com/vsefab/vsefab/internal/config"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Server answers agent requests with the red side over one backend.
type Server struct {
	Backend red.Backend
	Log     *slog.Logger

	// Policy limits what is served; nil serves every valid request.
	Policy *Policy

	// Audit, when set, receives one record per request, refusals included. A record that
	// cannot be written fails the request: nothing is served that the log does not show.
	Audit Auditor

	// Token and Module name the HSM the backend is on, for production builds that ask for
	// a particular one.
	Token, Module string

	// RequestTimeout bounds one request's HSM work; zero means two minutes.
	RequestTimeout time.Duration

	served atomic.Uint64
	wg     sync.WaitGroup

	mu      sync.Mutex
	started int // generate requests admitted under Policy.MaxBuilds, not failed
}

// Policy is what a production window allows.
type Policy struct {
	// Production marks the agent as serving a production window under dual control; builds
	// with --config=prod are refused by any other.
	Production bool
	// Until ends the window; zero means no end.
	Until time.Time
	// Customers are the only customers served; empty means all.
	Customers map[string]bool
	// MaxBuilds is how many generate requests may succeed; zero means no limit. Exhausted is
	// called once the last one has.
	MaxBuilds int
	Exhausted func()
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Auditor takes the agent's audit records; *audit.Writer is one.
type Auditor interface {
	Append(audit.Record) error
}

// Listen makes the agent's socket at path, readable and writable by this user only. A path
// that exists is refused unless it is a socket nobody answers on (an agent that died), which
// is removed first.
func Listen(path string) (net.Listener, error) {
	if err := CheckSocketPath(path); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent socket %s: %w", path, err)
	}
	if err := checkPrivateDir(dir); err != nil {
		return nil, fmt.Errorf("agent socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("agent socket %s: a file that is not a socket is in the way; "+
				"choose another --socket or move the file", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("agent socket %s: another agent is listening there; stop it "+
				"or choose another --socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("agent socket %s: removing the stale socket: %w", path, err)
		}
	}

	// The umask closes the window between bind and chmod in which another user could connect.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("agent socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("agent socket %s: %w", path, err)
	}
	return l, nil
}

// maxSocketPath is the longest path a unix socket address holds on Linux (108 bytes with the
// terminating NUL).
const maxSocketPath = 107

// CheckSocketPath refuses a path no unix socket can have, so the agent can say so before it
// opens the HSM.
func CheckSocketPath(path string) error {
	if path == "" {
		return errors.New("agent socket: no path given; pass --socket PATH")
	}
	if len(path) > maxSocketPath {
		return fmt.Errorf("agent socket %s: %d bytes long, but a unix socket path holds at most %d: "+
			"choose a shorter --socket", path, len(path), maxSocketPath)
	}
	return nil
}

// checkPrivateDir refuses a socket directory another user owns or may write to: whoever
// controls the directory can put their own socket in the agent's place.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() {
		return fmt.Errorf("directory %s is not a directory", dir)
	}
	if int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("directory %s is owned by uid %d with mode %o; the agent needs a "+
			"directory of its own user that no one else may write to (chmod 700, or choose "+
			"another --socket)", dir, st.Uid, fi.Mode().Perm())
	}
	return nil
}

// maxConnections bounds the connections served at once; more wait in the listen queue, so a
// flood of idle connections cannot exhaust the agent's file descriptors.
const maxConnections = 64

// Serve answers connections on l until ctx ends, then waits for requests under way.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	slots := make(chan struct{}, maxConnections)
	backoff := 5 * time.Millisecond
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			s.wg.Wait()
			return nil
		}
		c, err := l.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			// Running out of file descriptors and the like pass: wait and accept again,
			// rather than leave every build without its HSM.
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) {
				s.Log.Warn("accept failed; retrying", "err", err, "wait", backoff)
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			s.wg.Wait()
			return fmt.Errorf("agent: accept: %w", err)
		}
		backoff = 5 * time.Millisecond
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-slots }()
			defer c.Close()
			s.handle(ctx, c)
		}()
	}
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	timeout := s.RequestTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var req vsefabpb.AgentRequest
	if err := readMessage(c, &req); err != nil {
		s.Log.Warn("request unreadable", "err", err)
		_ = writeMessage(c, errorResponse("unreadable request: "+err.Error()))
		return
	}
	resp := s.answer(ctx, &req)
	if err := writeMessage(c, resp); err != nil {
		s.Log.Warn("response not sent", "err", err)
	}
}

func (s *Server) answer(ctx context.Context, req *vsefabpb.AgentRequest) *vsefabpb.AgentResponse {
	switch r := req.Request.(type) {
	case *vsefabpb.AgentRequest_Status:
		rec := audit.Record{Operation: "status", Result: audit.OK}
		if err := s.audit(rec); err != nil {
			return errorResponse(err.Error())
		}
		return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Status{
			Status: &vsefabpb.StatusResponse{
				HsmUri: s.Backend.URI(), HsmKind: s.Backend.Kind(), RequestsServed: s.served.Load(),
				Production: s.Policy != nil && s.Policy.Production,
			},
		}}
	case *vsefabpb.AgentRequest_Generate:
		return s.generate(ctx, r.Generate)
	case *vsefabpb.AgentRequest_License:
		return s.license(ctx, r.License)
	case *vsefabpb.AgentRequest_Bundle:
		return s.bundle(ctx, r.Bundle)
	default:
		rec := audit.Record{Operation: "unknown", Result: audit.Refused, Reason: "unknown request"}
		if err := s.audit(rec); err != nil {
			return errorResponse(err.Error())
		}
		return errorResponse("unknown request: this agent answers generate, license, bundle and status")
	}
}

// audit appends rec when the server keeps an audit log.
func (s *Server) audit(rec audit.Record) error {
	if s.Audit == nil {
		return nil
	}
	if err := s.Audit.Append(rec); err != nil {
		s.Log.Error("audit record not written; request refused", "op", rec.Operation, "err", err)
		return fmt.Errorf("the agent could not write its audit log, so it serves nothing: %w", err)
	}
	return nil
}

// admission is what the policy looks at in a request.
type admission interface {
	GetConfig() *vsefabpb.CustomerConfig
	GetProduction() bool
	GetExpectToken() string
	GetExpectModule() string
}

// admit applies the policy to a request. On success the request holds one of the window's
// builds until release says whether it was used.
func (s *Server) admit(g admission) (release func(ok bool), err error) {
	none := func(bool) {}
	if g.GetProduction() {
		if s.Policy == nil || !s.Policy.Production {
			return nil, errors.New("this build is --config=prod, but the agent serves no production " +
				"window: the custodians start one with vsefab agent --production")
		}
		if g.GetExpectToken() != s.Token || g.GetExpectModule() != s.Module {
			return nil, fmt.Errorf("this build wants token %q of module %s, but the agent serves "+
				"token %q of module %s: fix --//hsm:prod_token and --//hsm:prod_module, or start "+
				"the agent on that token", g.GetExpectToken(), g.GetExpectModule(), s.Token, s.Module)
		}
	}
	p := s.Policy
	if p == nil {
		return none, nil
	}
	if p.Production && !g.GetProduction() {
		return nil, errors.New("production: this agent serves a production window, which only " +
			"--config=prod builds may use")
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	if !p.Until.IsZero() && !now().Before(p.Until) {
		return nil, fmt.Errorf("window: the production window closed at %s", p.Until.UTC().Format(time.RFC3339))
	}
	if c := g.GetConfig().GetCustomer(); len(p.Customers) > 0 && !p.Customers[c] {
		return nil, fmt.Errorf("customers: customer %q is not in this window's customers (%s)", c, customerList(p.Customers))
	}
	if p.MaxBuilds == 0 {
		return none, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started >= p.MaxBuilds {
		return nil, fmt.Errorf("max-builds: this window's %d builds are used", p.MaxBuilds)
	}
	s.started++
	return func(ok bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ok {
			s.started--
			return
		}
		if s.served.Load() >= uint64(p.MaxBuilds) && p.Exhausted != nil {
			p.Exhausted()
		}
	}, nil
}

func customerList(m map[string]bool) string {
	l := make([]string, 0, len(m))
	for c := range m {
		l = append(l, c)
	}
	slices.Sort(l)
	return strings.Join(l, ",")
}

// serve runs one policy-bound request: the config is validated, the policy admits it (each
// request takes one of the window's builds), work runs on the red side, and one audit record
// says how it ended, refusal or not.
func (s *Server) serve(op, target string, req admission,
	work func(rec *audit.Record) (*vsefabpb.AgentResponse, error)) *vsefabpb.AgentResponse {
	cfg := req.GetConfig()
	log := s.Log.With("op", op, "customer", cfg.GetCustomer(),
		"keyset_version", cfg.GetKeysetVersion(), "target", target)
	rec := audit.Record{Operation: op, Customer: cfg.GetCustomer(),
		KeysetVersion: cfg.GetKeysetVersion(), BazelTarget: target}
	refuse := func(result audit.Result, err error) *vsefabpb.AgentResponse {
		log.Warn(string(result), "err", err)
		rec.Result, rec.Reason = result, err.Error()
		if aerr := s.audit(rec); aerr != nil {
			return errorResponse(aerr.Error())
		}
		return errorResponse(err.Error())
	}
	log.Info("serving")
	if err := config.Validate(cfg); err != nil {
		return refuse(audit.Refused, err)
	}
	release, err := s.admit(req)
	if err != nil {
		return refuse(audit.Refused, fmt.Errorf("refused by the agent's policy: %w", err))
	}
	resp, err := work(&rec)
	if err != nil {
		release(false)
		return refuse(audit.Failed, err)
	}
	rec.Result = audit.OK
	if err := s.audit(rec); err != nil {
		release(false)
		return errorResponse(err.Error())
	}
	s.served.Add(1)
	release(true)
	log.Info("served")
	return resp
}

func (s *Server) generate(ctx context.Context, g *vsefabpb.GenerateRequest) *vsefabpb.AgentResponse {
	return s.serve("generate", g.GetBazelTarget(), g, func(rec *audit.Record) (*vsefabpb.AgentResponse, error) {
		out, err := red.Generate(ctx, s.Backend, red.Request{
			Config: g.GetConfig(), ConfigDigest: g.GetConfigDigest(), Generator: g.GetGenerator(),
		})
		if err != nil {
			return nil, err
		}
		for _, k := range out.Manifest.GetKeys() {
			rec.KeyIDs = append(rec.KeyIDs, k.GetKeyId())
		}
		resp := &vsefabpb.GenerateResponse{Escrow: out.Escrow, Manifest: out.Manifest, ManifestSignature: out.ManifestSig}
		for _, name := range red.SourceFiles {
			resp.Sources = append(resp.Sources, &vsefabpb.SourceFile{Name: name, Content: out.Sources[name]})
		}
		return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Generate{Generate: resp}}, nil
	})
}

func (s *Server) license(ctx context.Context, l *vsefabpb.LicenseRequest) *vsefabpb.AgentResponse {
	return s.serve("license", l.GetBazelTarget(), l, func(*audit.Record) (*vsefabpb.AgentResponse, error) {
		cfg := l.GetConfig()
		lic, err := red.IssueLicense(ctx, s.Backend, cfg.GetCustomer(), cfg.GetKeysetVersion(), vse.LicenseTerms{
			AppIDs: l.GetAppIds(), Features: l.GetFeatures(), NotAfter: l.GetNotAfter(),
		})
		if err != nil {
			return nil, err
		}
		return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_License{
			License: &vsefabpb.LicenseResponse{License: lic},
		}}, nil
	})
}

// bundle signs a bundle's index.
func (s *Server) bundle(ctx context.Context, b *vsefabpb.BundleRequest) *vsefabpb.AgentResponse {
	return s.serve("bundle", b.GetBazelTarget(), b, func(rec *audit.Record) (*vsefabpb.AgentResponse, error) {
		sig, err := red.SignBundle(ctx, s.Backend, b.GetConfig(), b.GetManifest(), b.GetManifestSignature(), b.GetIndex())
		if err != nil {
			return nil, err
		}
		rec.KeyIDs = [][]byte{sig.GetKeyId()}
		return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Bundle{
			Bundle: &vsefabpb.BundleResponse{Signature: sig},
		}}, nil
	})
}

func errorResponse(msg string) *vsefabpb.AgentResponse {
	return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Error{
		Error: &vsefabpb.AgentError{Message: msg},
	}}
}
