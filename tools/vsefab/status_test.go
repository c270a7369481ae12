package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vsefab/vsefab/internal/agenttest"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

func TestStatus(t *testing.T) {
	st := softhsmtest.New(t, "vse-status")
	socket := agenttest.Serve(t, agenttest.Backend(t, st))

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"status", "--socket", socket}, &stdout, &stderr); code != 0 {
		t.Fatalf("vsefab status: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"token=vse-status", "TEST_TOKEN", "production: false"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("vsefab status does not say %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"status", "--json", "--socket", socket}, &stdout, &stderr); code != 0 {
		t.Fatalf("vsefab status --json: exit %d: %s", code, stderr.String())
	}
	var fields map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["production"]; !ok {
		t.Errorf("vsefab status --json leaves out production:\n%s", stdout.String())
	}
	var s vsefabpb.StatusResponse
	if err := protojson.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("vsefab status --json printed %q: %v", stdout.String(), err)
	}
	if s.HsmKind != vsefabpb.HsmKind_TEST_TOKEN || !strings.Contains(s.HsmUri, "token=vse-status") {
		t.Errorf("status: %v", &s)
	}

	// No agent on the socket: the error names it.
	stderr.Reset()
	missing := filepath.Join(t.TempDir(), "none.sock")
	if code := run(context.Background(), []string{"status", "--socket", missing}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), missing) {
		t.Errorf("status of a missing agent: exit %d, %q", code, stderr.String())
	}
}
