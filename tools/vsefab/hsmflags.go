package main

import (
	"errors"
	"flag"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
)

// hsmFlags are the flags by which a Bazel action names the HSM it asks: the emulator in
// process, or an agent, and for --config=prod builds the token the agent must serve.
type hsmFlags struct {
	hsm, agent, target        *string
	production                *bool
	expectToken, expectModule *string
}

func addHSMFlags(fs *flag.FlagSet) *hsmFlags {
	return &hsmFlags{
		hsm:          fs.String("hsm", emulator.URI, `HSM to use in process: "emulator:" (deterministic test keys)`),
		agent:        fs.String("agent", "", "unix socket of a running vsefab agent; when set, the agent's HSM is used instead of --hsm"),
		target:       fs.String("target", "", "Bazel label of the target asking, for the agent's log and audit trail"),
		production:   fs.Bool("production", false, "the build is --config=prod: the agent must serve a production window on --expect-token of --expect-module"),
		expectToken:  fs.String("expect-token", "", "with --production: label of the production token"),
		expectModule: fs.String("expect-module", "", "with --production: path of the production PKCS#11 module"),
	}
}

// check refuses a production request that could be answered by anything but the agent of
// the production token.
func (h *hsmFlags) check() error {
	if *h.production && (*h.agent == "" || *h.expectToken == "" || *h.expectModule == "") {
		return errors.New("--production needs --agent, --expect-token and --expect-module: " +
			"production secrets come only from an agent serving the production token")
	}
	return nil
}

// inProcess returns the in-process backend when no agent is named, nil when one is.
func (h *hsmFlags) inProcess() (red.Backend, error) {
	if *h.agent != "" {
		return nil, nil
	}
	return openBackend(*h.hsm)
}
