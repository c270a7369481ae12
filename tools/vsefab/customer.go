package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/vsefab/vsefab/internal/onboard"
)

const customerSynopsis = `Adds a customer to the workspace, or lists the customers it has.

  vsefab customer add [flags] NAME    writes customers/NAME/BUILD.bazel and config.textproto
  vsefab customer list [--json]       reads every BUILD file under customers/

add refuses a name that exists, is not a valid customer (and so Bazel package) name, or is
reserved for the HSM's long-term key labels; it writes nothing then. With --update it adds
what an existing customer's package lacks (the load, the vse_customer, a vse_firmware) and
keeps everything else in the BUILD file and the config as it is. Through bazel run it works
on the workspace bazel was run in.`

func runCustomer(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: vsefab customer add|list [flags]\n\n%s\n\n"+
			"Run vsefab customer add --help for the flags of add.\n", customerSynopsis)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "add":
		return runCustomerAdd(args[1:], stdout, stderr)
	case "list":
		return runCustomerList(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vsefab customer: unknown subcommand %q: use add or list\n", args[0])
	return errUsage
}

// workspaceFlag is the --workspace flag every customer subcommand takes.
func workspaceFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("BUILD_WORKSPACE_DIRECTORY")
	if def == "" {
		def = "."
	}
	return fs.String("workspace", def, "the Bazel workspace's root; default: the one bazel run "+
		"was run in, else the current directory")
}

func runCustomerAdd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("customer add", customerSynopsis, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vsefab customer add [flags] NAME\n\n%s\n\nflags:\n", customerSynopsis)
		fs.PrintDefaults()
	}
	ws := workspaceFlag(fs)
	from := fs.String("from", "", "an existing customer to start from: its firmware targets and "+
		"firmware version, without its licenses, display name or keys")
	display := fs.String("display-name", "", "the customer's display_name in its config")
	update := fs.Bool("update", false, "complete an existing customer's package instead of refusing it")
	defs := fs.String("defs", "", "the label to load the vse_* rules from; default: //rules:defs.bzl "+
		"in vsefab's own workspace, @vsefab//rules:defs.bzl elsewhere")
	name, err := parseOneArg(fs, args, "NAME")
	if err != nil {
		return err
	}

	ch, err := onboard.Add(*ws, name, onboard.Options{
		From: *from, DisplayName: *display, Update: *update, Defs: *defs})
	if err != nil {
		return err
	}
	for _, p := range ch.Written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	for _, p := range ch.Unchanged {
		fmt.Fprintf(stdout, "kept %s as it is\n", p)
	}
	if len(ch.Written) > 0 {
		fmt.Fprintf(stdout, "build it: bazel build //%s/%s:firmware\n", onboard.Dir, name)
	}
	return nil
}

func runCustomerList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("customer list", customerSynopsis, stderr)
	ws := workspaceFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	customers, err := onboard.List(*ws)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if customers == nil {
			customers = []onboard.Customer{}
		}
		return enc.Encode(customers)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOMER\tTARGET\tKEYSET\tFIRMWARE VERSION\tFIRMWARE\tLICENSES")
	for _, c := range customers {
		fmt.Fprintf(tw, "%s\t//%s:%s\t%d\t%s\t%s\t%s\n", c.Customer, c.Package, c.Target,
			c.KeysetVersion, c.FirmwareVersion, joinOrDash(c.Firmware), joinOrDash(c.Licenses))
	}
	return tw.Flush()
}

func joinOrDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return ":" + strings.Join(s, " :")
}

// parseOneArg parses flags that may come before or after one positional argument, which it
// returns; what names the argument in the message when it is missing or repeated.
func parseOneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", err
			}
			return "", errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(fs.Output(), "want exactly one %s, got %d\n", what, len(positional))
		fs.Usage()
		return "", errUsage
	}
	return positional[0], nil
}
