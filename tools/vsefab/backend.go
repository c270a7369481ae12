package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/p11keyset"
	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/pkcs11uri"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/pin"
)

// openAgentBackend opens the HSM an agent serves and logs in to it. The PIN is read from
// pinFile once and wiped as soon as the token has it. The returned function releases the HSM.
func openAgentBackend(uri, pinFile string, log *slog.Logger) (red.Backend, func(), error) {
	if uri == emulator.URI {
		// An agent's answers are trusted as a token's: one serving the public test seed
		// would pass emulator keys off to --config=testhsm builds.
		return nil, nil, errors.New("--hsm emulator:: the emulator runs inside vsefab gen and " +
			"needs no agent; an agent serves a PKCS#11 token")
	}

	u, err := pkcs11uri.Parse(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("--hsm: %w", err)
	}
	if u.Token() == "" || u.ModulePath() == "" {
		return nil, nil, fmt.Errorf("--hsm %s: name the token and its module, as in "+
			"'pkcs11:token=LABEL?module-path=/path/to/module.so'", u)
	}
	if pinFile == "" {
		return nil, nil, fmt.Errorf("--pin-file is required to log in to token %q", u.Token())
	}

	tok, err := p11.OpenToken(u.ModulePath(), u.Token())
	if err != nil {
		return nil, nil, err
	}
	userPIN, err := pin.ReadFile(pinFile, "user PIN")
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	err = tok.Login(userPIN)
	pin.Wipe(userPIN)
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	b, err := p11keyset.New(tok, p11keyset.WithLogger(log))
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	return b, func() { tok.Close() }, nil
}
