package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/p11keyset"
	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/pkcs11uri"
	"github.com/vsefab/vsefab/internal/pin"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// pinSources says where a token's PIN comes from: both custodians' halves, or, for test
// tokens only, one file holding the whole PIN.
type pinSources struct {
	halves [pin.Custodians]string
	file   string
}

// read reads the PIN; the caller wipes it.
func (p pinSources) read(what string) ([]byte, error) {
	if p.file != "" {
		return pin.ReadFile(p.file, what)
	}
	var tty *os.File
	if p.halves[0] == pin.SourcePrompt || p.halves[1] == pin.SourcePrompt {
		if err := pin.CheckSources(what, p.halves); err != nil {
			return nil, err
		}
		t, err := pin.OpenTerminal()
		if err != nil {
			return nil, err
		}
		defer t.Close()
		tty = t
	}
	return pin.ReadSplit(what, p.halves, tty)
}

// openToken opens the token a PKCS#11 URI with token and module-path names.
func openToken(flag, uri string) (*p11.Token, *pkcs11uri.URI, error) {
	if uri == emulator.URI {
		// An agent's answers are trusted as a token's: one serving the public test seed
		// would pass emulator keys off to --config=testhsm builds.
		return nil, nil, fmt.Errorf("%s emulator:: the emulator runs inside vsefab gen and "+
			"needs no agent, ceremony or PIN; this command works on a PKCS#11 token", flag)
	}
	u, err := pkcs11uri.Parse(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", flag, err)
	}
	if u.Token() == "" || u.ModulePath() == "" {
		return nil, nil, fmt.Errorf("%s %s: name the token and its module, as in "+
			"'pkcs11:token=LABEL?module-path=/path/to/module.so'", flag, u)
	}
	tok, err := p11.OpenToken(u.ModulePath(), u.Token())
	if err != nil {
		return nil, nil, err
	}
	return tok, u, nil
}

// login reads the user PIN from pins and logs in; the PIN is wiped whatever happens.
func login(tok *p11.Token, pins pinSources) error {
	userPIN, err := pins.read("user PIN")
	if err != nil {
		return err
	}
	err = tok.Login(userPIN)
	pin.Wipe(userPIN)
	return err
}

// isTestToken reports whether the token is a software token anyone may hold: firmware from
// it is marked TEST_TOKEN, never PRODUCTION, whatever mode the agent runs in.
func isTestToken(tok *p11.Token) bool {
	return strings.HasPrefix(tok.Info().ManufacturerID, "SoftHSM")
}

// openBackendOn opens and logs in to the token uri names and returns a keyset backend on it.
// production selects the production policy: PRODUCTION kind (unless the token is a test
// token) and no key the ceremony has not made.
func openBackendOn(uri string, pins pinSources, production bool, log *slog.Logger) (*p11keyset.Backend, *p11.Token, *pkcs11uri.URI, error) {
	tok, u, err := openToken("--hsm", uri)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := login(tok, pins); err != nil {
		tok.Close()
		return nil, nil, nil, err
	}
	opts := []p11keyset.Option{p11keyset.WithLogger(log)}
	if production {
		kind := vsefabpb.HsmKind_PRODUCTION
		if isTestToken(tok) {
			kind = vsefabpb.HsmKind_TEST_TOKEN
			log.Warn("the token is a software token: firmware from it is marked TEST_TOKEN and "+
				"fails production verification", "token", tok.Label(), "manufacturer", tok.Info().ManufacturerID)
		}
		opts = append(opts, p11keyset.WithKind(kind), p11keyset.WithKEKPolicy(p11keyset.RequireKEK))
	}
	b, err := p11keyset.New(tok, opts...)
	if err != nil {
		tok.Close()
		return nil, nil, nil, err
	}
	return b, tok, u, nil
}
