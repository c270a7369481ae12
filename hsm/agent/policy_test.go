package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/internal/audit"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// records is an Auditor that keeps what it is given, or fails when told to.
type records struct {
	mu   sync.Mutex
	list []audit.Record
	fail error
}

func (r *records) Append(rec audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.list = append(r.list, rec)
	return nil
}

func (r *records) last() audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list[len(r.list)-1]
}

func prodRequest(customer string) *vsefabpb.AgentRequest {
	g := request(customer)
	g.Production, g.ExpectToken, g.ExpectModule = true, "vse-prod", "/opt/hsm.so"
	return &vsefabpb.AgentRequest{Request: &vsefabpb.AgentRequest_Generate{Generate: g}}
}

func TestPolicyRefusesAndAudits(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	exhausted := 0
	rec := &records{}
	srv := &Server{
		Backend: emulator.Emulator{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Audit: rec, Token: "vse-prod", Module: "/opt/hsm.so",
		Policy: &Policy{Production: true, Until: now.Add(30 * time.Minute),
			Customers: map[string]bool{"acme": true, "globex": true}, MaxBuilds: 2,
			Exhausted: func() { exhausted++ }, Now: func() time.Time { return now }},
	}
	ctx := context.Background()
	ask := func(req *vsefabpb.AgentRequest) string {
		return srv.answer(ctx, req).GetError().GetMessage()
	}

	wrongToken := prodRequest("acme")
	wrongToken.GetGenerate().ExpectToken = "vse-test"
	testBuild := prodRequest("acme")
	testBuild.GetGenerate().Production = false
	for _, tc := range []struct {
		name string
		req  *vsefabpb.AgentRequest
		want string
	}{
		{"customer outside the window", prodRequest("initech"), "customers: customer \"initech\""},
		{"another token", wrongToken, "wants token \"vse-test\""},
		{"not a prod build", testBuild, "production: this agent serves a production window"},
	} {
		msg := ask(tc.req)
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: answer %q, want a refusal naming %q", tc.name, msg, tc.want)
		}
		if r := rec.last(); r.Result != audit.Refused || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: audited as %+v", tc.name, r)
		}
	}

	for _, c := range []string{"acme", "globex"} {
		if msg := ask(prodRequest(c)); msg != "" {
			t.Fatalf("%s in the window: %s", c, msg)
		}
		if r := rec.last(); r.Result != audit.OK || r.Customer != c || len(r.KeyIDs) != 3 ||
			r.BazelTarget != "//customers/"+c+":firmware" {
			t.Errorf("%s: audited as %+v", c, r)
		}
	}
	if exhausted != 1 {
		t.Errorf("Exhausted called %d times after the last build, want 1", exhausted)
	}
	if msg := ask(prodRequest("acme")); !strings.Contains(msg, "max-builds: this window's 2 builds are used") {
		t.Errorf("third build: %q", msg)
	}

	srv.Policy.MaxBuilds = 0
	now = now.Add(31 * time.Minute)
	if msg := ask(prodRequest("acme")); !strings.Contains(msg, "window: the production window closed at 2026-12-03T12:30:00Z") {
		t.Errorf("after the window: %q", msg)
	}
	if r := rec.last(); r.Result != audit.Refused || !strings.Contains(r.Reason, "window closed") {
		t.Errorf("after the window: audited as %+v", r)
	}

	// Nothing is served that the log does not show.
	rec.fail = errors.New("disk full")
	srv.Policy.Until = time.Time{}
	if msg := ask(prodRequest("acme")); !strings.Contains(msg, "could not write its audit log") {
		t.Errorf("with the audit log failing: %q", msg)
	}
}
