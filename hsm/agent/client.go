package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// ErrNoAgent reports that nothing listens on the socket.
var ErrNoAgent = errors.New("no agent is running")

// Client talks to the agent at Socket.
type Client struct {
	Socket string
}

func (c Client) call(ctx context.Context, req *vsefabpb.AgentRequest) (*vsefabpb.AgentResponse, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("agent socket %s: %w: start one with `vsefab agent --socket %s "+
				"--hsm URI ...` (see vsefab agent --help), then build again", c.Socket, ErrNoAgent, c.Socket)
		}
		return nil, fmt.Errorf("agent socket %s: %w", c.Socket, err)
	}
	defer conn.Close()
	if err := checkPeer(conn); err != nil {
		return nil, fmt.Errorf("agent socket %s: %w", c.Socket, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if err := writeMessage(conn, req); err != nil {
		return nil, fmt.Errorf("agent socket %s: sending the request: %w", c.Socket, err)
	}
	var resp vsefabpb.AgentResponse
	if err := readMessage(conn, &resp); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, fmt.Errorf("agent socket %s: the agent closed the connection without "+
				"answering (did it stop or crash? see its log); nothing was written, build again "+
				"once it runs", c.Socket)
		}
		return nil, fmt.Errorf("agent socket %s: reading the answer: %w", c.Socket, err)
	}
	if e := resp.GetError(); e != nil {
		return nil, fmt.Errorf("agent: %s", e.GetMessage())
	}
	return &resp, nil
}

// Status asks the agent what it serves.
func (c Client) Status(ctx context.Context) (*vsefabpb.StatusResponse, error) {
	resp, err := c.call(ctx, &vsefabpb.AgentRequest{Request: &vsefabpb.AgentRequest_Status{
		Status: &vsefabpb.StatusRequest{},
	}})
	if err != nil {
		return nil, err
	}
	st := resp.GetStatus()
	if st == nil {
		return nil, fmt.Errorf("agent socket %s: answer to status is not a status", c.Socket)
	}
	return st, nil
}

// Generate asks the agent for a customer's firmware secrets, transformed.
func (c Client) Generate(ctx context.Context, req *vsefabpb.GenerateRequest) (*red.Output, error) {
	resp, err := c.call(ctx, &vsefabpb.AgentRequest{Request: &vsefabpb.AgentRequest_Generate{Generate: req}})
	if err != nil {
		return nil, err
	}
	g := resp.GetGenerate()
	if g == nil || g.GetManifest() == nil {
		return nil, fmt.Errorf("agent socket %s: answer to generate holds no manifest", c.Socket)
	}
	if g.GetManifestSignature() == nil {
		return nil, fmt.Errorf("agent socket %s: answer to generate holds no manifest signature", c.Socket)
	}
	out := &red.Output{Sources: map[string][]byte{}, Escrow: g.GetEscrow(), Manifest: g.GetManifest(),
		ManifestSig: g.GetManifestSignature()}
	for _, f := range g.GetSources() {
		out.Sources[f.GetName()] = f.GetContent()
	}
	for _, name := range red.SourceFiles {
		if _, ok := out.Sources[name]; !ok {
			return nil, fmt.Errorf("agent socket %s: answer lacks source file %s", c.Socket, name)
		}
	}
	if len(out.Sources) != len(red.SourceFiles) || len(out.Escrow) == 0 {
		return nil, fmt.Errorf("agent socket %s: answer holds %d source files and %d escrow bytes",
			c.Socket, len(out.Sources), len(out.Escrow))
	}
	return out, nil
}

// License asks the agent for a license.
func (c Client) License(ctx context.Context, req *vsefabpb.LicenseRequest) ([]byte, error) {
	resp, err := c.call(ctx, &vsefabpb.AgentRequest{Request: &vsefabpb.AgentRequest_License{License: req}})
	if err != nil {
		return nil, err
	}
	l := resp.GetLicense()
	if l == nil || len(l.GetLicense()) == 0 {
		return nil, fmt.Errorf("agent socket %s: answer to license holds no license", c.Socket)
	}
	return l.GetLicense(), nil
}

// checkPeer refuses an agent that runs as another user: its answers become firmware.
func checkPeer(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("reading the agent's credentials: %w", credErr)
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("the process listening there runs as uid %d, not as this user (uid %d): "+
			"refusing its answers; check who started it", cred.Uid, os.Getuid())
	}
	return nil
}

// SignBundle asks the agent for the root signature over a bundle's index.
func (c Client) SignBundle(ctx context.Context, req *vsefabpb.BundleRequest) (*vsefabpb.ManifestSignature, error) {
	resp, err := c.call(ctx, &vsefabpb.AgentRequest{Request: &vsefabpb.AgentRequest_Bundle{Bundle: req}})
	if err != nil {
		return nil, err
	}
	sig := resp.GetBundle().GetSignature()
	if len(sig.GetSignature()) == 0 {
		return nil, fmt.Errorf("agent at %s answered a bundle request without a signature", c.Socket)
	}
	return sig, nil
}
