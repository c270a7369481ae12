package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vsefab/vsefab/hsm/agent"
)

const statusSynopsis = `Asks a running agent which HSM it serves and how many requests it has served: the
check before a build that the agent on the socket is the one meant.`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", statusSynopsis, stderr)
	socket := fs.String("socket", defaultSocket, "unix socket of the agent")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := agent.Client{Socket: *socket}.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	_, err = fmt.Fprintf(stdout, "agent %s\n  hsm:        %s\n  kind:       %s\n  production: %v\n  served:     %d requests\n",
		*socket, st.HsmUri, st.HsmKind, st.Production, st.RequestsServed)
	return err
}
