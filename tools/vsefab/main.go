// Command vsefab manufactures per-customer VSE firmware. Bazel actions run its gen subcommand;
// operators run the others.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// version is the generator version recorded in every manifest.
const version = "0.1.0"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"gen":                {"generate one customer's keyset package, escrow file and manifest (run by Bazel)", runGen},
	"agent":              {"serve the red side of an HSM to builds on a unix socket", runAgent},
	"audit":              {"check an agent's audit log: vsefab audit verify --public-key FILE LOG", runAudit},
	"version":            {"print the version", runVersion},
	"status":             {"ask a running agent which HSM it serves: vsefab status --socket PATH", runStatus},
	"license":            {"issue a license for a customer's firmware (run by Bazel for vse_license)", runLicense},
	"token":              {"initialize a token under dual control: vsefab token init", runToken},
	"customer":           {"add a customer to the workspace, or list them: vsefab customer add NAME, vsefab customer list", runCustomer},
	"ceremony":           {"create the root keys and customers' keys on a token under dual control", runCeremony},
	"verify":             {"check manifests: signatures, unique keys and, with --prod, production origin", runVerify},
	"bundle":             {"pack a firmware's files into a signed, deterministic archive (run by Bazel)", runBundle},
	"inspect":            {"show what a bundle or manifest holds and whether its signatures verify", runInspect},
	"verify-attestation": {"check a firmware's answer to a challenge against its signed manifest", runVerifyAttestation},
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vsefab: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "vsefab %s: %v\n", args[0], err)
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vsefab COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-19s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun vsefab COMMAND --help for the flags of a command.")
}

// newFlags makes a flag set that reports errors to stderr and describes the command.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vsefab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vsefab %s [flags]\n\n%s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into errUsage so they print once.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "Prints the version of vsefab.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vsefab %s\n", version)
	return nil
}
