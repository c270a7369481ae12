package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

const verifySynopsis = `Checks firmware manifests (NAME.manifest.pb, each with NAME.manifest.sig beside it)
and firmware bundles (.tar.gz, from a vse_firmware's _bundle target): the root signature
covers the manifest and verifies, a bundle's signed index matches every file in it, the signer is the root key given with
--root-key, and no key ID or check value appears twice across all the manifests given. With
--prod it also refuses firmware whose secrets came from the emulator or a test token, and a
root key that is the emulator's. Every problem is listed; the exit status is 0 only when
there is none.

usage: vsefab verify [--prod] [--root-key FILE] MANIFEST|BUNDLE...`

func runVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", verifySynopsis, stderr)
	prod := fs.Bool("prod", false, "accept only firmware from a production HSM; needs --root-key")
	rootKey := fs.String("root-key", "", "the trusted root signing key: PKIX public key, PEM or DER (the ceremony's root.pub.pem)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "name at least one manifest or bundle after the flags")
		fs.Usage()
		return errUsage
	}
	trusted, err := trustedRoot(*rootKey)
	if err != nil {
		return err
	}
	if *prod {
		if trusted == nil {
			return errors.New("--prod needs --root-key: production firmware is what the production root key signed")
		}
		emu, err := emulator.RootPublicKey()
		if err != nil {
			return err
		}
		if bytes.Equal(trusted, emu) {
			return fmt.Errorf("--root-key %s is the emulator's root key, which is public: give the "+
				"production root key from the ceremony record", *rootKey)
		}
	}

	var problems []string
	seen := map[string]string{} // "key id " or "check value " + hex -> where first seen
	for _, path := range fs.Args() {
		m, errs := verifyOne(path, trusted, *prod)
		problems = append(problems, errs...)
		if m == nil {
			continue
		}
		for _, k := range m.GetKeys() {
			where := fmt.Sprintf("%s (%s)", path, k.GetLabel())
			for _, v := range []struct{ what, hex string }{
				{"key ID", hex.EncodeToString(k.GetKeyId())},
				{"check value", hex.EncodeToString(k.GetCheckValue())},
			} {
				if first, dup := seen[v.what+" "+v.hex]; dup {
					problems = append(problems, fmt.Sprintf("%s: %s %s repeats %s", where, v.what, v.hex, first))
				} else {
					seen[v.what+" "+v.hex] = where
				}
			}
		}
		if len(errs) == 0 {
			fmt.Fprintf(stdout, "ok   %s: %s keyset %d firmware %s, %s, signed by %s\n", path, m.GetCustomer(),
				m.GetKeysetVersion(), m.GetFirmwareVersion(), m.GetHsmKind(), m.GetHsmUri())
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stdout, "FAIL %s\n", p)
		}
		return fmt.Errorf("%d problem(s) in %d manifest(s)", len(problems), fs.NArg())
	}
	return nil
}

// trustedRoot reads the root key named by --root-key as PKIX DER; nil when none is named.
func trustedRoot(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	pub, err := readPublicKey("--root-key", path)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("--root-key %s: %w", path, err)
	}
	return der, nil
}

// verifyOne checks one manifest and its signature, or one bundle with the manifest in it; the
// manifest is returned when it parsed, for the checks across manifests.
func verifyOne(path string, trusted []byte, prod bool) (*vsefabpb.Manifest, []string) {
	if isBundle(path) {
		b, err := readBundle(path)
		if err != nil {
			return nil, []string{err.Error()}
		}
		_, problems := b.verify(trusted)
		for i, p := range problems {
			problems[i] = path + ": " + p
		}
		m, more := checkManifest(path+"!"+red.BundleManifestPath, b.files[red.BundleManifestPath],
			b.files["manifest.sig"], nil, trusted, prod)
		return m, append(problems, more...)
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	// NAME.manifest.pb is signed in NAME.manifest.sig; any other name in NAME.sig beside it.
	sigPath := strings.TrimSuffix(path, ".pb") + ".sig"
	raw, err := os.ReadFile(sigPath)
	return checkManifest(path, bin, raw, err, trusted, prod)
}

// isBundle says whether the file at path starts as a gzip stream does, as bundles do and
// manifests never do.
func isBundle(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 2)
	_, err = io.ReadFull(f, magic)
	return err == nil && magic[0] == 0x1f && magic[1] == 0x8b
}

// checkManifest checks a manifest's bytes against its signature's (sigErr says why there is
// none), the trusted root, and with prod the HSM it came from.
func checkManifest(name string, bin, rawSig []byte, sigErr error, trusted []byte, prod bool) (*vsefabpb.Manifest, []string) {
	var m vsefabpb.Manifest
	if err := proto.Unmarshal(bin, &m); err != nil || len(bin) == 0 {
		return nil, []string{fmt.Sprintf("%s: not a manifest (%v)", name, err)}
	}
	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, name+": "+fmt.Sprintf(format, a...)) }

	var sig vsefabpb.ManifestSignature
	switch {
	case sigErr != nil:
		fail("no signature: %v", sigErr)
	case rawSig == nil || proto.Unmarshal(rawSig, &sig) != nil:
		fail("no readable manifest signature beside it")
	default:
		if err := red.VerifyManifest(bin, &sig); err != nil {
			fail("%v", err)
		} else if trusted != nil && !bytes.Equal(sig.GetPublicKey(), trusted) {
			fail("signed by %s (id %x), which is not the root key given with --root-key", sig.GetKeyLabel(), sig.GetKeyId())
		}
	}
	if prod {
		switch m.GetHsmKind() {
		case vsefabpb.HsmKind_PRODUCTION:
		case vsefabpb.HsmKind_TEST:
			fail("made with the emulator (HSM kind TEST): its keys are public test values; never ship it")
		case vsefabpb.HsmKind_TEST_TOKEN:
			fail("made on a test token (%s): its keys were in a software token; never ship it", m.GetHsmUri())
		default:
			fail("HSM kind %v is not PRODUCTION", m.GetHsmKind())
		}
	}
	return &m, problems
}

const verifyAttestationSynopsis = `Checks a firmware's answer to a challenge (what vse_attest returned) against the
firmware's manifest: the manifest's root signature must verify under --root-key, and the
answer must verify under the attestation key the manifest lists, for this firmware ID and
challenge. A customer's backend runs it to tell its genuine firmware from a copy of another
customer's. Exit status 0 means genuine.`

func runVerifyAttestation(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify-attestation", verifyAttestationSynopsis, stderr)
	manifestPath := fs.String("manifest", "", "the firmware's NAME.manifest.pb (NAME.manifest.sig beside it); required")
	rootKey := fs.String("root-key", "", "the trusted root signing key, PEM or DER; required")
	challengeHex := fs.String("challenge", "", "the challenge sent, hex; required")
	responseHex := fs.String("response", "", "the firmware's answer (vse_attest), hex; required")
	prod := fs.Bool("prod", false, "accept only firmware from a production HSM")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]string{"--manifest": *manifestPath, "--root-key": *rootKey,
		"--challenge": *challengeHex, "--response": *responseHex} {
		if v == "" {
			return fmt.Errorf("flag %s is required (see vsefab verify-attestation --help)", name)
		}
	}
	challenge, err := hex.DecodeString(*challengeHex)
	if err != nil {
		return fmt.Errorf("--challenge: not hex: %w", err)
	}
	response, err := hex.DecodeString(*responseHex)
	if err != nil {
		return fmt.Errorf("--response: not hex: %w", err)
	}
	trusted, err := trustedRoot(*rootKey)
	if err != nil {
		return err
	}
	m, problems := verifyOne(*manifestPath, trusted, *prod)
	if len(problems) > 0 {
		return fmt.Errorf("the manifest is not trusted: %s", strings.Join(problems, "; "))
	}
	var att *vsefabpb.KeyRecord
	for _, k := range m.GetKeys() {
		if k.GetRole() == red.RoleAttestation {
			att = k
		}
	}
	if att == nil {
		return fmt.Errorf("%s lists no attestation key", *manifestPath)
	}
	key, err := x509.ParsePKIXPublicKey(att.GetPublicKey())
	ec, ok := key.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return fmt.Errorf("%s: the attestation key is not an ECDSA public key (%v)", *manifestPath, err)
	}
	if !ecdsa.VerifyASN1(ec, vse.AttestationDigest(m.GetFirmwareId(), challenge), response) {
		return fmt.Errorf("not genuine: the response does not verify under the attestation key of "+
			"firmware %s (customer %s) for this challenge", m.GetFirmwareId(), m.GetCustomer())
	}
	fmt.Fprintf(stdout, "genuine: firmware %s of customer %s, keyset %d, firmware version %s, %s\n",
		m.GetFirmwareId(), m.GetCustomer(), m.GetKeysetVersion(), m.GetFirmwareVersion(), m.GetHsmKind())
	return nil
}
