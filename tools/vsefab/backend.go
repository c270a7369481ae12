package main

import (
	"fmt"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
)

// openAgentBackend opens the HSM an agent serves. The returned function releases it.
func openAgentBackend(uri, pinFile string) (red.Backend, func(), error) {
	if uri == emulator.URI {
		if pinFile != "" {
			return nil, nil, fmt.Errorf("--pin-file: the emulator has no PIN; leave the flag out")
		}
		return emulator.Emulator{}, func() {}, nil
	}
	return nil, nil, fmt.Errorf("--hsm %q: not a known HSM; use a pkcs11: URI or %q", uri, emulator.URI)
}
