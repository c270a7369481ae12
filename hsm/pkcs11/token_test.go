package p11_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// openToken opens tok's token, logs in and closes it when the test ends.
func openToken(t *testing.T, tok *softhsmtest.Token) *p11.Token {
	t.Helper()
	tk, err := p11.OpenToken(tok.Module, tok.Label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tk.Close(); err != nil {
			t.Errorf("closing token %s: %v", tok.Label, err)
		}
	})
	if err := tk.Login(tok.PIN); err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenByLabel(t *testing.T) {
	const full = "vsefab-label-of-32-bytes-exactly" // fills the field: no padding at all
	tok := softhsmtest.New(t, "vse-test")
	tok.Another(t, "vse-test-2")
	tok.Another(t, "vse test")
	tok.Another(t, full)
	tok.Another(t, "twin")
	tok.Another(t, "twin")

	m, err := p11.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	tests := []struct {
		label string
		want  string // "" for found, else a fragment of the error
	}{
		{"vse-test", ""},
		{"vse-test-2", ""},
		{"vse test", ""},
		{full, ""},
		{"vse-tes", "no token with this exact label"},
		{"VSE-TEST", "no token with this exact label"},
		{"vse-test-", "no token with this exact label"},
		{"vse test ", "does not end in a blank"},
		{" vse-test", "no token with this exact label"},
		{"vse-test\x00", "no token with this exact label"},
		{"", "1 to 32 bytes"},
		{full + "x", "1 to 32 bytes"},
		{"twin", "2 tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			tk, err := m.Token(tc.label, 1)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer tk.Close()
				if tk.Label() != tc.label || tk.Info().Label != tc.label {
					t.Fatalf("asked for %q, got %q (token info %q)", tc.label, tk.Label(), tk.Info().Label)
				}
				return
			}
			if err == nil {
				tk.Close()
				t.Fatalf("label %q matched token %q", tc.label, tk.Info().Label)
			}
			if !errors.Is(err, p11.ErrNoToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrNoToken saying %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.label)) {
				t.Errorf("error does not name the label: %v", err)
			}
		})
	}

	// The near miss lists what is there, so a typo is easy to see.
	_, err = m.Token("vse-tes", 1)
	if !strings.Contains(err.Error(), `"vse-test"`) {
		t.Errorf("error does not list the tokens present: %v", err)
	}
}

func TestTwoTokensInOneProcess(t *testing.T) {
	a := softhsmtest.New(t, "vse-a")
	b := a.Another(t, "vse-b")
	ta, tb := openToken(t, a), openToken(t, b)

	ctx := context.Background()
	mk := func(tk *p11.Token) {
		err := tk.Do(ctx, func(s *p11.Session) error {
			_, err := s.Ctx().CreateObject(s.Handle(), []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, "only-on-"+tk.Label()),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte("x")),
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(ta)
	mk(tb)

	for _, c := range []struct {
		tk    *p11.Token
		label string
		found bool
	}{
		{ta, "only-on-vse-a", true},
		{ta, "only-on-vse-b", false},
		{tb, "only-on-vse-b", true},
		{tb, "only-on-vse-a", false},
	} {
		err := c.tk.Do(ctx, func(s *p11.Session) error {
			_, err := s.FindOne(c.label, p11.LabelTemplate(pkcs11.CKO_DATA, c.label))
			return err
		})
		if c.found && err != nil || !c.found && !errors.Is(err, p11.ErrNotFound) {
			t.Errorf("token %s, object %s: err = %v, found should be %v", c.tk.Label(), c.label, err, c.found)
		}
	}
	if ta.Module() != tb.Module() {
		t.Error("two tokens of one module file got two Modules")
	}
}

func TestLogin(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	tk, err := p11.OpenToken(tok.Module, tok.Label)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()

	if min, max := tk.PINLen(); min != 4 || max != 255 {
		t.Errorf("PINLen() = %d, %d; SoftHSM 2.6 says 4, 255", min, max)
	}
	if in, err := tk.LoggedIn(); err != nil || in {
		t.Fatalf("LoggedIn before Login = %v, %v", in, err)
	}

	err = tk.Login([]byte("wrong-pin"))
	var rv pkcs11.Error
	if !errors.As(err, &rv) || rv != pkcs11.CKR_PIN_INCORRECT {
		t.Fatalf("wrong PIN: err = %v, want CKR_PIN_INCORRECT reachable with errors.As", err)
	}
	if !strings.Contains(err.Error(), "C_Login") || !strings.Contains(err.Error(), "vse-test") ||
		!strings.Contains(err.Error(), "both custodians enter their halves again") {
		t.Errorf("wrong PIN: error should say what failed, where and what to do: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-pin") {
		t.Errorf("error shows the PIN: %v", err)
	}

	if err := tk.Login([]byte("abc")); !p11.IsRV(err, pkcs11.CKR_PIN_LEN_RANGE) ||
		!strings.Contains(err.Error(), "4 to 255") {
		t.Errorf("short PIN: err = %v, want CKR_PIN_LEN_RANGE with the token's range", err)
	}

	if err := tk.Login(tok.PIN); err != nil {
		t.Fatal(err)
	}
	// Logged in already: success, not CKR_USER_ALREADY_LOGGED_IN.
	if err := tk.Login(tok.PIN); err != nil {
		t.Fatalf("second Login: %v", err)
	}
	if in, err := tk.LoggedIn(); err != nil || !in {
		t.Fatalf("LoggedIn after Login = %v, %v", in, err)
	}

	// The login outlives the sessions Do lends and closes.
	for i := 0; i < 3; i++ {
		tk.Do(context.Background(), func(*p11.Session) error { return errors.New("close it") })
	}
	err = tk.Do(context.Background(), func(s *p11.Session) error {
		si, err := s.Ctx().GetSessionInfo(s.Handle())
		if err == nil && si.State != pkcs11.CKS_RW_USER_FUNCTIONS {
			t.Errorf("pool session state %d, want CKS_RW_USER_FUNCTIONS", si.State)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSessionPool(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	m, err := p11.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tk, err := m.Token(tok.Label, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	valid := func(h pkcs11.SessionHandle) bool {
		_, err := m.Ctx().GetSessionInfo(h)
		return err == nil
	}

	// A session that served without error is lent again; one whose user failed is closed.
	var first, second, failed pkcs11.SessionHandle
	tk.Do(ctx, func(s *p11.Session) error { first = s.Handle(); return nil })
	tk.Do(ctx, func(s *p11.Session) error { second = s.Handle(); return nil })
	if first != second {
		t.Errorf("an idle session was not reused: %d then %d", first, second)
	}
	boom := errors.New("boom")
	if err := tk.Do(ctx, func(s *p11.Session) error { failed = s.Handle(); return boom }); err != boom {
		t.Fatalf("Do returned %v, want fn's error unchanged", err)
	}
	if valid(failed) {
		t.Error("the session of a failed Do is still open")
	}
	func() {
		defer func() { recover() }()
		tk.Do(ctx, func(s *p11.Session) error { failed = s.Handle(); panic("boom") })
	}()
	if valid(failed) {
		t.Error("the session of a panicking Do is still open")
	}

	// Never more sessions lent at once than the pool allows.
	var busy, most atomic.Int32
	var wg sync.WaitGroup
	handles := make(chan pkcs11.SessionHandle, 100)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := tk.Do(ctx, func(s *p11.Session) error {
				n := busy.Add(1)
				for {
					old := most.Load()
					if n <= old || most.CompareAndSwap(old, n) {
						break
					}
				}
				handles <- s.Handle()
				time.Sleep(10 * time.Millisecond)
				busy.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() > 3 {
		t.Errorf("%d sessions lent at once from a pool of 3", most.Load())
	}

	// A full pool makes the next caller wait, and its context ends the wait.
	hold, held := make(chan struct{}), make(chan struct{})
	for i := 0; i < 3; i++ {
		go tk.Do(ctx, func(*p11.Session) error { held <- struct{}{}; <-hold; return nil })
	}
	for i := 0; i < 3; i++ {
		<-held
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = tk.Do(short, func(*p11.Session) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do on a full pool: err = %v, want the context's deadline", err)
	}
	close(hold)

	// Close waits for lent sessions, then closes every session it opened.
	if err := tk.Close(); err != nil {
		t.Fatal(err)
	}
	close(handles)
	for h := range handles {
		if valid(h) {
			t.Errorf("session %d still open after Close", h)
		}
	}
	if err := tk.Do(ctx, func(*p11.Session) error { return nil }); !errors.Is(err, p11.ErrClosed) {
		t.Errorf("Do after Close: err = %v, want ErrClosed", err)
	}
}
