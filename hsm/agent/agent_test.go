package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// serve starts an agent on a fresh socket and returns its path.
func serve(t *testing.T, b red.Backend) string {
	t.Helper()
	// Unix socket paths are short (108 bytes); t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &Server{Backend: b, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func request(customer string) *vsefabpb.GenerateRequest {
	return &vsefabpb.GenerateRequest{
		Config: &vsefabpb.CustomerConfig{
			Customer: customer, KeysetVersion: 1, FirmwareVersion: "1.0.0",
		},
		ConfigDigest: red.DigestFile([]byte(customer)),
		Generator:    "test",
		BazelTarget:  "//customers/" + customer + ":firmware",
	}
}

func TestGenerateThroughAgentMatchesInProcess(t *testing.T) {
	path := serve(t, emulator.Emulator{})
	got, err := Client{Socket: path}.Generate(context.Background(), request("acme"))
	if err != nil {
		t.Fatal(err)
	}
	r := request("acme")
	want, err := red.Generate(context.Background(), emulator.Emulator{}, red.Request{
		Config: r.Config, ConfigDigest: r.ConfigDigest, Generator: r.Generator,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range red.SourceFiles {
		if !bytes.Equal(got.Sources[name], want.Sources[name]) {
			t.Errorf("%s differs between agent and in-process generation", name)
		}
	}
	if !bytes.Equal(got.Escrow, want.Escrow) || !proto.Equal(got.Manifest, want.Manifest) {
		t.Error("escrow or manifest differs between agent and in-process generation")
	}
}

func TestSocketIsPrivate(t *testing.T) {
	path := serve(t, emulator.Emulator{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %o, want 600", perm)
	}
}

func TestListenRefusesWhatIsInTheWay(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Error("the file in the way was changed")
	}

	live := serve(t, emulator.Emulator{})
	if _, err := Listen(live); err == nil || !strings.Contains(err.Error(), "another agent") {
		t.Errorf("Listen over a live agent: %v", err)
	}
	if _, err := (Client{Socket: live}).Status(context.Background()); err != nil {
		t.Errorf("the live agent stopped answering: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// Closing a unix listener removes its file; keep the file to play a crashed agent.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()
}

func TestNoAgent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none")
	_, err := Client{Socket: path}.Generate(context.Background(), request("acme"))
	if !errors.Is(err, ErrNoAgent) || !strings.Contains(err.Error(), "vsefab agent") {
		t.Fatalf("err = %v, want ErrNoAgent telling how to start one", err)
	}
}

func TestAgentDiesMidRequest(t *testing.T) {
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			var req vsefabpb.AgentRequest
			_ = readMessage(c, &req)
			c.Close() // dies before answering
		}
	}()
	_, err = Client{Socket: path}.Generate(context.Background(), request("acme"))
	if err == nil || !strings.Contains(err.Error(), "without answering") {
		t.Fatalf("err = %v, want one saying the agent closed without answering", err)
	}
}

func TestRefusesInvalidConfig(t *testing.T) {
	path := serve(t, emulator.Emulator{})
	r := request("acme")
	r.Config.KeysetVersion = 0
	_, err := Client{Socket: path}.Generate(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "keyset_version") {
		t.Fatalf("err = %v, want a refusal naming keyset_version", err)
	}
}

func TestConcurrentClients(t *testing.T) {
	path := serve(t, emulator.Emulator{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			customer := []string{"acme", "globex"}[i%2]
			if _, err := (Client{Socket: path}).Generate(context.Background(), request(customer)); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := Client{Socket: path}.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestsServed != 16 || st.HsmKind != vsefabpb.HsmKind_TEST {
		t.Errorf("status = %v, want 16 requests served by a TEST HSM", st)
	}
}

func TestListenRefusesSharedDirectoryAndLongPath(t *testing.T) {
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(shared, "s")); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("Listen in a world-writable directory: %v", err)
	}
	long := "/tmp/" + strings.Repeat("x", 120)
	if _, err := Listen(long); err == nil || !strings.Contains(err.Error(), "shorter --socket") {
		t.Errorf("Listen on a %d-byte path: %v", len(long), err)
	}
	if _, err := os.Stat(long); !os.IsNotExist(err) {
		t.Error("a path too long for a socket was created")
	}
}
