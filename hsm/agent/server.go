package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/config"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Server answers agent requests with the red side over one backend.
type Server struct {
	Backend red.Backend
	Log     *slog.Logger

	// RequestTimeout bounds one request's HSM work; zero means two minutes.
	RequestTimeout time.Duration

	served atomic.Uint64
	wg     sync.WaitGroup
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
		return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Status{
			Status: &vsefabpb.StatusResponse{
				HsmUri: s.Backend.URI(), HsmKind: s.Backend.Kind(), RequestsServed: s.served.Load(),
			},
		}}
	case *vsefabpb.AgentRequest_Generate:
		return s.generate(ctx, r.Generate)
	default:
		return errorResponse("unknown request: this agent answers generate and status")
	}
}

func (s *Server) generate(ctx context.Context, g *vsefabpb.GenerateRequest) *vsefabpb.AgentResponse {
	cfg := g.GetConfig()
	log := s.Log.With("op", "generate", "customer", cfg.GetCustomer(),
		"keyset_version", cfg.GetKeysetVersion(), "target", g.GetBazelTarget())
	log.Info("generating")
	if err := config.Validate(cfg); err != nil {
		log.Warn("refused", "err", err)
		return errorResponse(err.Error())
	}
	out, err := red.Generate(ctx, s.Backend, red.Request{
		Config: cfg, ConfigDigest: g.GetConfigDigest(), Generator: g.GetGenerator(),
	})
	if err != nil {
		log.Warn("failed", "err", err)
		return errorResponse(err.Error())
	}
	s.served.Add(1)
	log.Info("generated", "firmware_id", out.Manifest.GetFirmwareId())

	resp := &vsefabpb.GenerateResponse{Escrow: out.Escrow, Manifest: out.Manifest}
	for _, name := range red.SourceFiles {
		resp.Sources = append(resp.Sources, &vsefabpb.SourceFile{Name: name, Content: out.Sources[name]})
	}
	return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Generate{Generate: resp}}
}

func errorResponse(msg string) *vsefabpb.AgentResponse {
	return &vsefabpb.AgentResponse{Response: &vsefabpb.AgentResponse_Error{
		Error: &vsefabpb.AgentError{Message: msg},
	}}
}
