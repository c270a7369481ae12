package main

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/vsefab/vsefab/hsm/p11keyset"
	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/outfile"
	"github.com/vsefab/vsefab/internal/pin"
)

const tokenInitSynopsis = `Initializes a token under dual control: the module's first uninitialized token gets
the label, and the security officer PIN and the user PIN are each made of two halves that the
two custodians enter separately (--so-pin1/--so-pin2, --pin1/--pin2). Both PINs are checked
against the token's length limits before the token sees either. A label already in use is
refused.`

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		const usage = "usage: vsefab token init --module PATH --label LABEL [PIN sources]\n\n" +
			"Run vsefab token init --help for the flags."
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, usage)
			return nil
		}
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	fs := newFlags("token init", tokenInitSynopsis, stderr)
	module := fs.String("module", "", "path of the token's PKCS#11 module; required")
	label := fs.String("label", "", "label for the new token (1 to 32 bytes); required")
	so1 := fs.String("so-pin1", pin.SourcePrompt, "custodian 1's half of the SO PIN: "+pin.SourceHelp)
	so2 := fs.String("so-pin2", pin.SourcePrompt, "custodian 2's half of the SO PIN: "+pin.SourceHelp)
	u1 := fs.String("pin1", pin.SourcePrompt, "custodian 1's half of the user PIN: "+pin.SourceHelp)
	u2 := fs.String("pin2", pin.SourcePrompt, "custodian 2's half of the user PIN: "+pin.SourceHelp)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *module == "" || *label == "" {
		return errors.New("flags --module and --label are required (see vsefab token init --help)")
	}
	m, err := p11.Open(*module)
	if err != nil {
		return err
	}
	defer m.Close()

	so, err := pinSources{halves: [2]string{*so1, *so2}}.read("SO PIN")
	if err != nil {
		return err
	}
	defer pin.Wipe(so)
	user, err := pinSources{halves: [2]string{*u1, *u2}}.read("user PIN")
	if err != nil {
		return err
	}
	defer pin.Wipe(user)
	if err := m.InitToken(*label, so, user); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token %q initialized on module %s; its user PIN is the two custodians' halves, custodian 1's first\n", *label, *module)
	return nil
}

const ceremonySynopsis = `Creates long-term keys on a token under dual control. With --root: the root signing
key (endorses every manifest), the root key-encryption key and the audit signing key (signs
agents' audit checkpoints). With --customers: each customer's key-encryption key; production
agents serve only customers whose keys a ceremony made. Every label is checked unused before
anything is created, each key is proved right after it is created, and a failure destroys
what this ceremony created. The record of what was made is printed and, with --out-dir,
written with the public keys, for the custodians to sign off.`

func runCeremony(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ceremony", ceremonySynopsis, stderr)
	hsm := fs.String("hsm", "", "the token: a PKCS#11 URI with token and module-path; required")
	pin1 := fs.String("pin1", pin.SourcePrompt, "custodian 1's half of the user PIN: "+pin.SourceHelp)
	pin2 := fs.String("pin2", pin.SourcePrompt, "custodian 2's half of the user PIN: "+pin.SourceHelp)
	root := fs.Bool("root", false, "create the root signing key, root KEK and audit signing key")
	customers := fs.String("customers", "", "create these customers' KEKs, comma-separated")
	outDir := fs.String("out-dir", "", "write record.txt, root.pub.pem and audit.pub.pem here (existing files are never overwritten)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *hsm == "" {
		return errors.New("flag --hsm is required (see vsefab ceremony --help)")
	}
	var names []string
	if *customers != "" {
		names = strings.Split(*customers, ",")
	}
	if !*root && len(names) == 0 {
		return errors.New("nothing to create: pass --root, --customers, or both")
	}
	// Refuse outputs that exist before anyone enters a PIN or a key is made.
	set := outfile.NewSet()
	var paths []string
	if *outDir != "" {
		paths = []string{filepath.Join(*outDir, "record.txt")}
		if *root {
			paths = append(paths, filepath.Join(*outDir, "root.pub.pem"), filepath.Join(*outDir, "audit.pub.pem"))
		}
		if err := outfile.RefuseExisting(paths...); err != nil {
			return err
		}
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	backend, tok, _, err := openBackendOn(*hsm, pinSources{halves: [2]string{*pin1, *pin2}}, true, log)
	if err != nil {
		return err
	}
	defer tok.Close()
	keys, err := backend.Ceremony(ctx, *root, names)
	if err != nil {
		return err
	}
	record := ceremonyRecord(backend.URI(), keys)
	if _, err := io.WriteString(stdout, record); err != nil {
		return err
	}
	if *outDir == "" {
		return nil
	}
	set.Add(paths[0], []byte(record))
	for _, k := range keys {
		switch k.Label {
		case red.RootSignLabel:
			set.Add(paths[1], pemPublicKey(k.PublicKey))
		case p11keyset.AuditSignLabel:
			set.Add(paths[2], pemPublicKey(k.PublicKey))
		}
	}
	if err := set.Commit(); err != nil {
		return fmt.Errorf("the keys were made (see the record above), but writing the record failed: %w", err)
	}
	return nil
}

func pemPublicKey(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ceremonyRecord is what the custodians read and sign: each key made, with what identifies it.
func ceremonyRecord(uri string, keys []p11keyset.CeremonyKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vsefab key ceremony record\nHSM: %s\nDate: %s\n\n", uri, time.Now().UTC().Format(time.RFC3339))
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\n  type:        %s\n  CKA_ID:      %s\n  check value: %s\n  URI:         %s;object=%s\n",
			k.Label, k.Type, hex.EncodeToString(k.ID), hex.EncodeToString(k.CheckValue), uri, k.Label)
		if k.PublicKey != nil {
			fmt.Fprintf(&b, "  public key:\n%s", indent(string(pemPublicKey(k.PublicKey)), "    "))
		}
		b.WriteString("\n")
	}
	b.WriteString("Custodian 1: name ____________________ signature ____________________\n")
	b.WriteString("Custodian 2: name ____________________ signature ____________________\n")
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
