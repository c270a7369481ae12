package p11keyset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/pkcs11uri"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrPartialKeyset: some of a keyset's objects exist and some do not, or some exist
	// twice. Nothing is created or guessed; a person cleans up.
	ErrPartialKeyset = errors.New("keyset is partly present")
	// ErrNoKEK: the customer has no key-encryption key and the backend may not create one.
	ErrNoKEK = errors.New("customer has no key-encryption key")
	// ErrCheck: an object does not have the attributes vsefab gives it, or failed its proof
	// (sign and verify, check value).
	ErrCheck = errors.New("key failed its check")
)

// KEKPolicy says whether the backend may create a customer's key-encryption key.
type KEKPolicy int

const (
	// CreateKEK creates a customer's KEK the first time the customer is served. For test
	// tokens, where no ceremony runs.
	CreateKEK KEKPolicy = iota
	// RequireKEK refuses a customer whose KEK the ceremony has not created. For production.
	RequireKEK
)

// Option configures a Backend.
type Option func(*Backend)

// WithKind sets the HSM kind manifests record; the default is TEST_TOKEN.
func WithKind(k vsefabpb.HsmKind) Option { return func(b *Backend) { b.kind = k } }

// WithKEKPolicy sets whether customer KEKs may be created; the default is CreateKEK.
func WithKEKPolicy(p KEKPolicy) Option { return func(b *Backend) { b.kekPolicy = p } }

// WithLogger sets where the backend says what it created; the default discards.
func WithLogger(l *slog.Logger) Option { return func(b *Backend) { b.log = l } }

// Backend is a red.Backend over a logged-in PKCS#11 token. It is safe for concurrent use.
type Backend struct {
	tok       *p11.Token
	kind      vsefabpb.HsmKind
	kekPolicy KEKPolicy
	log       *slog.Logger
	uri       string

	// kwpPads is true for a token whose CKM_AES_KEY_WRAP_PAD zero-pads a key to a multiple
	// of 8 bytes before wrapping it, so that the wrapping unwraps to the padded length
	// (SoftHSM 2.6 does). New finds out.
	kwpPads bool

	// afterObjects, when set, runs after each object, or key pair, keyset creation makes,
	// with the number made so far; an error from it fails the creation there. Tests inject
	// failures with it.
	afterObjects func(n int) error

	// locks holds a one-slot channel per keyset and per customer KEK, so two requests of
	// this process never create the same objects.
	locks sync.Map
}

var _ red.Backend = (*Backend)(nil)

// mechanisms are what the backend asks of a token, checked once by New.
var mechanisms = []p11.Need{
	{Mechanism: pkcs11.CKM_AES_KEY_GEN, Flags: pkcs11.CKF_GENERATE, KeyBits: 256},
	{Mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN, Flags: pkcs11.CKF_GENERATE_KEY_PAIR, KeyBits: 256},
	{Mechanism: pkcs11.CKM_ECDSA, Flags: pkcs11.CKF_SIGN, KeyBits: 256},
	{Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Flags: pkcs11.CKF_WRAP, KeyBits: 256},
	{Mechanism: pkcs11.CKM_AES_ECB, Flags: pkcs11.CKF_ENCRYPT, KeyBits: 256},
}

// New returns a backend over tok, which must be logged in and stay open while the backend
// is used; the caller closes it. New checks, once, that the token has every mechanism the
// backend uses.
func New(tok *p11.Token, opts ...Option) (*Backend, error) {
	b := &Backend{
		tok:       tok,
		kind:      vsefabpb.HsmKind_TEST_TOKEN,
		kekPolicy: CreateKEK,
		log:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(b)
	}
	if b.kind == vsefabpb.HsmKind_PRODUCTION && b.kekPolicy == CreateKEK {
		return nil, fmt.Errorf("p11keyset: a PRODUCTION backend must not create customer KEKs "+
			"(the ceremony does): pass WithKEKPolicy(RequireKEK) for token %s", tok.Label())
	}
	uri, err := tokenURI(tok.Label())
	if err != nil {
		return nil, err
	}
	b.uri = uri
	in, err := tok.LoggedIn()
	if err != nil {
		return nil, err
	}
	if !in {
		return nil, fmt.Errorf("p11keyset: token %s: not logged in: call Token.Login first", tok.Label())
	}
	if err := tok.CheckMechanisms(mechanisms...); err != nil {
		return nil, fmt.Errorf("p11keyset: token %s cannot serve keysets: %w", tok.Label(), err)
	}
	err = tok.Do(context.Background(), func(s *p11.Session) error {
		var err error
		b.kwpPads, err = probeKWP(s)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("p11keyset: token %s: %w", tok.Label(), err)
	}
	if b.kwpPads {
		b.log.Warn("token zero-pads keys to 8 bytes before CKM_AES_KEY_WRAP_PAD; escrow of "+
			"other lengths is wrapped by RFC 5649 computed here from the token's AES-ECB under "+
			"the KEK, which therefore also may encrypt", "token", tok.Label())
	}
	return b, nil
}

// probeKWP wraps a 9-byte secret under a session key of known value and unwraps it in
// software: it proves that the token's CKM_AES_KEY_WRAP_PAD is RFC 5649, and finds out
// whether the token zero-pads the key to a multiple of 8 bytes first (true).
func probeKWP(s *p11.Session) (bool, error) {
	transport, err := s.Random(aesKeyLen)
	if err != nil {
		return false, err
	}
	defer clear(transport)
	probe, err := s.Random(9)
	if err != nil {
		return false, err
	}

	th, err := s.Ctx().CreateObject(s.Handle(), transportKey(transport))
	if err != nil {
		return false, s.Err("C_CreateObject", "vsefab/transport (probe)", err)
	}
	defer s.Destroy(th, "vsefab/transport (probe)")
	o, err := s.Ctx().CreateObject(s.Handle(), escrowObject(probe))
	if err != nil {
		return false, s.Err("C_CreateObject", "vsefab/escrow (probe)", err)
	}
	defer s.Destroy(o, "vsefab/escrow (probe)")
	wrapped, err := s.Ctx().WrapKey(s.Handle(), kwp(), th, o)
	if err != nil {
		return false, s.Err("C_WrapKey (CKM_AES_KEY_WRAP_PAD) of", "a 9-byte probe", err)
	}

	got, err := red.UnwrapPad(transport, wrapped)
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: the token's CKM_AES_KEY_WRAP_PAD is not RFC 5649: %w", ErrCheck, err)
	case bytes.Equal(got, probe):
		return false, nil
	case len(got) == 16 && bytes.Equal(got[:9], probe) && bytes.Equal(got[9:], make([]byte, 7)):
		return true, nil
	}
	return false, fmt.Errorf("%w: the token's CKM_AES_KEY_WRAP_PAD of a 9-byte key unwraps to %d "+
		"other bytes", ErrCheck, len(got))
}

// Kind reports the HSM kind set by WithKind.
func (b *Backend) Kind() vsefabpb.HsmKind { return b.kind }

// URI names the token as a PKCS#11 URI.
func (b *Backend) URI() string { return b.uri }

// tokenURI is the PKCS#11 URI (RFC 7512) of the token labelled label.
func tokenURI(label string) (string, error) {
	u := pkcs11uri.New()
	if err := u.SetPath("token", label); err != nil {
		return "", fmt.Errorf("p11keyset: URI of token %q: %w", label, err)
	}
	return u.String(), nil
}

// lock takes the lock called name, waiting until it is free or ctx ends.
// tokenWrites is the lock every keyset and escrow request holds for its whole length, so the
// backend drives the token from one session at a time. SoftHSM 2.6.1, driven from several
// sessions of one process at once, now and then refused key generation with
// CKR_GENERAL_ERROR or CKR_TEMPLATE_INCONSISTENT, or lost an object it had just created
// (seen with eight parallel builds).
//
// Limitation: requests to one backend are served one after another, whatever the token
// could do in parallel.
const tokenWrites = "token writes"

func (b *Backend) lock(ctx context.Context, name string) (unlock func(), err error) {
	v, _ := b.locks.LoadOrStore(name, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("p11keyset: waiting for %s: %w", name, ctx.Err())
	}
}
