package p11

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// DefaultSessions is how many sessions a Token lends out at once unless told otherwise.
const DefaultSessions = 8

// labelSize is the size of CK_TOKEN_INFO's label field, blank padded.
const labelSize = 32

// Token is one token of a module, chosen by its label, with a pool of sessions. A Token is
// safe for concurrent use; each session it lends serves one caller at a time.
type Token struct {
	mod   *Module
	slot  uint
	label string
	info  pkcs11.TokenInfo

	// sem holds one element per session lent out.
	sem chan struct{}

	mu sync.Mutex
	// idle are open sessions waiting to be lent again.
	idle []pkcs11.SessionHandle
	// anchor is the session Login used. It stays open until Close: PKCS#11 logs the
	// application out of the token when its last session closes.
	anchor    pkcs11.SessionHandle
	hasAnchor bool
	closed    bool
}

// OpenToken opens the module at modulePath and its token labelled label. Closing the Token
// closes the module too (its last user finalizes it).
func OpenToken(modulePath, label string) (*Token, error) {
	m, err := Open(modulePath)
	if err != nil {
		return nil, err
	}
	t, err := m.Token(label, DefaultSessions)
	// The token holds a reference of its own; this one was only for finding it.
	if cerr := m.Close(); err == nil && cerr != nil {
		t.Close()
		return nil, cerr
	}
	return t, err
}

// Token finds the one token whose label is label and returns it with a pool of at most
// sessions sessions. The label field is 32 bytes padded with blanks: only trailing blanks
// are removed before the comparison, which is otherwise exact (case, inner spaces). No token
// with the label, or several, is an error naming it (errors.Is ErrNoToken). Tokens are
// never chosen by slot number: slot numbers change when tokens come and go.
func (m *Module) Token(label string, sessions int) (*Token, error) {
	if label == "" || len(label) > labelSize || strings.HasSuffix(label, " ") {
		return nil, &Error{Op: "find token", Object: fmt.Sprintf("%q", label), Err: ErrNoToken,
			Hint: "a token label is 1 to 32 bytes and does not end in a blank"}
	}
	if sessions < 1 {
		sessions = DefaultSessions
	}
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, wrapRV("C_GetSlotList of module", "", m.path, err)
	}

	var found []uint
	var infos []pkcs11.TokenInfo
	var seen []string
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil {
			// The token may have gone between the two calls; it is not the one asked for
			// if it has no info to give.
			continue
		}
		// miekg/pkcs11 removes trailing blanks, and only those.
		if ti.Label == label {
			found = append(found, s)
			infos = append(infos, ti)
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			seen = append(seen, fmt.Sprintf("%q", ti.Label))
		}
	}
	switch len(found) {
	case 0:
		present := "none"
		if len(seen) > 0 {
			present = strings.Join(seen, ", ")
		}
		return nil, &Error{Op: "find token", Object: fmt.Sprintf("%q", label), Err: ErrNoToken,
			Hint: fmt.Sprintf("module %s has no token with this exact label (tokens: %s)", m.path, present)}
	case 1:
	default:
		return nil, &Error{Op: "find token", Object: fmt.Sprintf("%q", label), Err: ErrNoToken,
			Hint: fmt.Sprintf("%d tokens of module %s carry this label; labels must be unique: "+
				"relabel or remove all but one", len(found), m.path)}
	}

	if err := m.retain(); err != nil {
		return nil, err
	}
	return &Token{mod: m, slot: found[0], label: label, info: infos[0],
		sem: make(chan struct{}, sessions)}, nil
}

// Label is the token's label.
func (t *Token) Label() string { return t.label }

// Module is the module the token belongs to.
func (t *Token) Module() *Module { return t.mod }

// Info is what C_GetTokenInfo reported when the token was found.
func (t *Token) Info() pkcs11.TokenInfo { return t.info }

// PINLen is the shortest and longest PIN the token accepts (ulMinPinLen, ulMaxPinLen).
func (t *Token) PINLen() (min, max uint) { return t.info.MinPinLen, t.info.MaxPinLen }

// Login logs the user in with pin, through a session kept open until Close so the login
// lasts for the life of the Token. A token already logged in (CKR_USER_ALREADY_LOGGED_IN,
// by this process) is success. Login does not keep pin and does not wipe it: the caller
// wipes it.
func (t *Token) Login(pin []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return &Error{Op: "C_Login", Token: t.label, Err: ErrClosed}
	}
	if err := checkPINLen(t.info, "user PIN", pin); err != nil {
		return err
	}
	if !t.hasAnchor {
		h, err := t.mod.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return wrapRV("C_OpenSession", t.label, "", err)
		}
		t.anchor, t.hasAnchor = h, true
	}

	err := t.mod.ctx.Login(t.anchor, pkcs11.CKU_USER, pinString(pin))
	if err == nil || IsRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return nil
	}
	return wrapRV("C_Login", t.label, "", err)
}

// LoggedIn reports whether this process is logged in to the token as its user.
func (t *Token) LoggedIn() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || !t.hasAnchor {
		return false, nil
	}
	si, err := t.mod.ctx.GetSessionInfo(t.anchor)
	if err != nil {
		return false, wrapRV("C_GetSessionInfo", t.label, "", err)
	}
	return si.State == pkcs11.CKS_RW_USER_FUNCTIONS || si.State == pkcs11.CKS_RO_USER_FUNCTIONS, nil
}

// Do lends fn a read/write session, waiting while all are lent out (ctx ends the wait). A
// session whose fn returned an error (or panicked) is closed rather than lent again, so no
// half-finished operation, and no session object fn left behind, reaches the next caller.
func (t *Token) Do(ctx context.Context, fn func(*Session) error) error {
	s, err := t.get(ctx)
	if err != nil {
		return err
	}
	ok := false
	defer func() { t.put(s, ok) }()
	err = fn(s)
	ok = err == nil
	return err
}

func (t *Token) get(ctx context.Context) (*Session, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{Op: "wait for a session", Token: t.label, Err: ctx.Err()}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		<-t.sem
		return nil, &Error{Op: "open session", Token: t.label, Err: ErrClosed}
	}
	if n := len(t.idle); n > 0 {
		h := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return &Session{t: t, h: h}, nil
	}
	h, err := t.mod.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		<-t.sem
		return nil, wrapRV("C_OpenSession", t.label, "", err)
	}
	return &Session{t: t, h: h}, nil
}

func (t *Token) put(s *Session, reuse bool) {
	t.mu.Lock()
	if reuse && !t.closed {
		t.idle = append(t.idle, s.h)
	} else {
		// Nothing to do about a failure to close: the session is gone either way.
		_ = t.mod.ctx.CloseSession(s.h)
	}
	s.h = 0
	t.mu.Unlock()
	<-t.sem
}

// Close waits for lent sessions to come back, closes every session the Token opened (which
// logs the process out once no other Token of it is open) and gives back the module.
func (t *Token) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return &Error{Op: "close", Token: t.label, Err: ErrClosed}
	}
	t.closed = true
	t.mu.Unlock()

	// Wait until no session is lent out: each borrower gives its slot back in put.
	for i := 0; i < cap(t.sem); i++ {
		t.sem <- struct{}{}
	}

	t.mu.Lock()
	for _, h := range t.idle {
		_ = t.mod.ctx.CloseSession(h)
	}
	t.idle = nil
	if t.hasAnchor {
		_ = t.mod.ctx.CloseSession(t.anchor)
		t.hasAnchor = false
	}
	t.mu.Unlock()

	// Let anyone still waiting in get through, to find the Token closed.
	for i := 0; i < cap(t.sem); i++ {
		<-t.sem
	}
	return t.mod.Close()
}
