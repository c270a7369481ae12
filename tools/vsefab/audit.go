package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vsefab/vsefab/internal/audit"
)

const auditVerifySynopsis = `Checks an agent's audit log with the public key of its checkpoint
signing key, and names the first line that was edited, deleted, put in, moved or forged. It
exits with status 0 only when every record is chained and covered by a valid checkpoint; a
log that ends with records no checkpoint covers, or with an incomplete line, exits 1 too.
A log cut back to one of its checkpoints still verifies on its own: give --head, the head the
agent wrote when it closed the log, to find lines removed after it.`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	}
	w := stderr
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		w = stdout
	} else if len(args) > 0 {
		fmt.Fprintf(stderr, "vsefab audit: unknown subcommand %q\n", args[0])
	}
	fmt.Fprintln(w, "usage: vsefab audit verify --public-key FILE [--head SEQUENCE:HASH | --head-file FILE] LOG")
	if w == stdout {
		return nil
	}
	return errUsage
}

func runAuditVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", auditVerifySynopsis, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vsefab audit verify --public-key FILE [--head SEQUENCE:HASH | --head-file FILE] LOG\n\n%s\n\nflags:\n",
			auditVerifySynopsis)
		fs.PrintDefaults()
	}
	keyPath := fs.String("public-key", "", "the checkpoint signing key's public key: PKIX, PEM or DER; required")
	headFlag := fs.String("head", "", "the log's head as the agent wrote it when it closed the log "+
		"(SEQUENCE:HASH, from agent --audit-head): the log must hold that checkpoint, so lines "+
		"removed after it are found")
	headFile := fs.String("head-file", "", "a file holding the head, as agent --audit-head writes it; instead of --head")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "name one log to verify, after the flags")
		fs.Usage()
		return errUsage
	}
	logPath := fs.Arg(0)
	if *keyPath == "" {
		return errors.New("flag --public-key is required (see vsefab audit verify --help)")
	}

	pub, err := readPublicKey("--public-key", *keyPath)
	if err != nil {
		return err
	}
	head, err := headFromFlags(fs, *headFlag, *headFile)
	if err != nil {
		return err
	}
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var rep audit.Report
	if head != nil {
		rep, err = audit.VerifyHead(f, pub, *head)
	} else {
		rep, err = audit.Verify(f, pub)
	}
	if err != nil && rep.Problem == nil {
		return fmt.Errorf("%s: %w", logPath, err)
	}

	printReport(stdout, logPath, rep)
	if head != nil && rep.Problem == nil {
		fmt.Fprintf(stdout, "  head:         the checkpoint of record %d, as recorded\n", head.Sequence)
	}
	if rep.Problem != nil {
		return fmt.Errorf("%s does not verify", logPath)
	}
	return nil
}

// headFromFlags reads the head --head or --head-file gives; nil when neither is set. A flag set
// to nothing is an error, not a check left out: "--head-file $FILE" with FILE unset must not
// pass a cut log.
func headFromFlags(fs *flag.FlagSet, value, file string) (*audit.Head, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var h audit.Head
	var err error
	switch {
	case set["head"] && set["head-file"]:
		return nil, errors.New("give the head with --head or --head-file, not both")
	case set["head"]:
		h, err = audit.ParseHead(value)
		if err != nil {
			return nil, fmt.Errorf("--head: %w", err)
		}
	case set["head-file"]:
		data, rerr := os.ReadFile(file)
		if rerr != nil {
			return nil, fmt.Errorf("--head-file: %w", rerr)
		}
		h, err = audit.ParseHead(string(data))
		if err != nil {
			return nil, fmt.Errorf("--head-file %s: %w", file, err)
		}
	default:
		return nil, nil
	}
	return &h, nil
}

// readPublicKey reads a PKIX public key, PEM ("PUBLIC KEY") or DER.
func readPublicKey(flag, path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s %s: a PEM %q block; give a PUBLIC KEY", flag, path,
				block.Type)
		}
		der = block.Bytes
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s %s: not a PKIX public key in PEM or DER: %w", flag, path,
			err)
	}
	return pub, nil
}

// printReport writes a one-line verdict, then what Verify counted.
func printReport(w io.Writer, path string, rep audit.Report) {
	if p := rep.Problem; p != nil {
		fmt.Fprintf(w, "FAILED %s: %v\n", path, p)
	} else {
		fmt.Fprintf(w, "OK %s: %d records, every one covered by a signed checkpoint\n", path,
			rep.Records)
	}

	upTo := ""
	if rep.Problem != nil && !errors.Is(rep.Problem, audit.ErrTruncated) &&
		!errors.Is(rep.Problem, audit.ErrIncomplete) {
		upTo = " before the check stopped"
	}
	fmt.Fprintf(w, "  lines:        %d complete\n", rep.Lines)
	if rep.Incomplete {
		fmt.Fprintf(w, "                and an incomplete last line\n")
	}
	fmt.Fprintf(w, "  records:      %d chained%s\n", rep.Records, upTo)
	fmt.Fprintf(w, "  checkpoints:  %d with valid signatures\n", rep.Checkpoints)
	if rep.Protected > 0 {
		fmt.Fprintf(w, "  protected:    records 1 to %d\n", rep.Protected)
	} else {
		fmt.Fprintf(w, "  protected:    none\n")
	}
	if rep.Unprotected > 0 {
		fmt.Fprintf(w, "  unprotected:  records %d to %d, after the last checkpoint\n",
			rep.Protected+1, rep.LastSequence)
	}
}
