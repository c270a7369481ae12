package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/pkcs11uri"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

const inspectSynopsis = `Shows what a firmware bundle (.tar.gz) or manifest (NAME.manifest.pb, with NAME.manifest.sig
beside it) holds: customer, versions, HSM, each key by URI and check value, the bundle's
files, and whether every signature verifies (under --root-key when given, else under the key
the signature names). The exit status is 1 when a check fails.

usage: vsefab inspect [--json] [--root-key FILE] BUNDLE|MANIFEST`

// inspection is what inspect reports; --json prints it as is.
type inspection struct {
	Path            string          `json:"path"`
	Kind            string          `json:"kind"` // "bundle" or "manifest"
	Customer        string          `json:"customer"`
	FirmwareID      string          `json:"firmware_id"`
	FirmwareVersion string          `json:"firmware_version"`
	KeysetVersion   uint32          `json:"keyset_version"`
	HSMKind         string          `json:"hsm_kind"`
	HSMURI          string          `json:"hsm_uri"`
	Generator       string          `json:"generator"`
	Keys            []inspectedKey  `json:"keys"`
	Files           []inspectedFile `json:"files,omitempty"`
	RootKeyID       string          `json:"root_key_id,omitempty"`
	SignaturesValid bool            `json:"signatures_valid"`
	Problems        []string        `json:"problems,omitempty"`
}

type inspectedKey struct {
	Role       string `json:"role"`
	URI        string `json:"uri"`
	KeyID      string `json:"key_id"`
	CheckValue string `json:"check_value"`
	Algorithm  string `json:"algorithm"`
	PublicKey  string `json:"public_key,omitempty"` // hex PKIX DER
}

type inspectedFile struct {
	Path   string `json:"path"`
	Size   uint64 `json:"size"`
	SHA256 string `json:"sha256"`
}

func runInspect(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", inspectSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	rootKey := fs.String("root-key", "", "the trusted root signing key, PEM or DER (the ceremony's root.pub.pem)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "name one bundle or manifest after the flags")
		fs.Usage()
		return errUsage
	}
	trusted, err := trustedRoot(*rootKey)
	if err != nil {
		return err
	}
	path := fs.Arg(0)
	in, err := inspect(path, trusted)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(in); err != nil {
			return err
		}
	} else {
		printInspection(stdout, in)
	}
	if !in.SignaturesValid {
		return fmt.Errorf("%s: %d check(s) failed", path, len(in.Problems))
	}
	return nil
}

func inspect(path string, trusted []byte) (*inspection, error) {
	in := &inspection{Path: path, Kind: "manifest"}
	var m *vsefabpb.Manifest
	var sigRaw []byte
	if isBundle(path) {
		in.Kind = "bundle"
		b, err := readBundle(path)
		if err != nil {
			return nil, err
		}
		idx, problems := b.verify(trusted)
		in.Problems = problems
		for _, f := range idx.GetFiles() {
			in.Files = append(in.Files, inspectedFile{Path: f.GetPath(), Size: f.GetSize(), SHA256: hex.EncodeToString(f.GetSha256())})
		}
		var more []string
		m, more = checkManifest(red.BundleManifestPath, b.files[red.BundleManifestPath], b.files["manifest.sig"], nil, trusted, false)
		in.Problems = append(in.Problems, more...)
		sigRaw = b.files["manifest.sig"]
	} else {
		var more []string
		m, more = verifyOne(path, trusted, false)
		in.Problems = more
		sigRaw, _ = os.ReadFile(strings.TrimSuffix(path, ".pb") + ".sig")
	}
	if m == nil {
		return nil, fmt.Errorf("%s", strings.Join(in.Problems, "; "))
	}
	var sig vsefabpb.ManifestSignature
	if proto.Unmarshal(sigRaw, &sig) == nil && len(sig.GetKeyId()) > 0 {
		in.RootKeyID = hex.EncodeToString(sig.GetKeyId())
	}
	in.Customer, in.FirmwareID, in.FirmwareVersion = m.GetCustomer(), m.GetFirmwareId(), m.GetFirmwareVersion()
	in.KeysetVersion, in.HSMKind, in.HSMURI, in.Generator = m.GetKeysetVersion(), m.GetHsmKind().String(), m.GetHsmUri(), m.GetGenerator()
	for _, k := range m.GetKeys() {
		ik := inspectedKey{Role: k.GetRole(), URI: keyURI(m.GetHsmUri(), k), KeyID: hex.EncodeToString(k.GetKeyId()),
			CheckValue: hex.EncodeToString(k.GetCheckValue()), Algorithm: k.GetAlgorithm()}
		if len(k.GetPublicKey()) > 0 {
			ik.PublicKey = hex.EncodeToString(k.GetPublicKey())
		}
		in.Keys = append(in.Keys, ik)
	}
	in.SignaturesValid = len(in.Problems) == 0
	return in, nil
}

// keyURI names a key of the manifest's HSM: for a token, its PKCS#11 URI with the object
// and ID (without the module path, which is the build host's business); for the emulator,
// the label.
func keyURI(hsmURI string, k *vsefabpb.KeyRecord) string {
	u, err := pkcs11uri.Parse(hsmURI)
	if err != nil {
		return hsmURI + k.GetLabel()
	}
	key := pkcs11uri.New()
	if tok := u.Token(); tok != "" {
		_ = key.SetPath("token", tok)
	}
	if key.SetPath("object", k.GetLabel()) != nil || key.SetPathBytes("id", k.GetKeyId()) != nil {
		return hsmURI + " " + k.GetLabel()
	}
	return key.String()
}

func printInspection(w io.Writer, in *inspection) {
	fmt.Fprintf(w, "%s: firmware %s\n", in.Kind, in.Path)
	fmt.Fprintf(w, "  customer          %s\n", in.Customer)
	fmt.Fprintf(w, "  firmware version  %s\n", in.FirmwareVersion)
	fmt.Fprintf(w, "  keyset version    %d\n", in.KeysetVersion)
	fmt.Fprintf(w, "  firmware ID       %s\n", in.FirmwareID)
	fmt.Fprintf(w, "  HSM               %s (%s)\n", in.HSMURI, in.HSMKind)
	if in.HSMKind != vsefabpb.HsmKind_PRODUCTION.String() {
		fmt.Fprintf(w, "                    not production firmware: never ship it\n")
	}
	fmt.Fprintf(w, "  generator         %s\n", in.Generator)
	fmt.Fprintf(w, "  keys\n")
	for _, k := range in.Keys {
		fmt.Fprintf(w, "    %-12s %s\n", k.Role, k.URI)
		fmt.Fprintf(w, "    %-12s %s, check value %s\n", "", k.Algorithm, k.CheckValue)
	}
	if len(in.Files) > 0 {
		fmt.Fprintf(w, "  files\n")
		for _, f := range in.Files {
			fmt.Fprintf(w, "    %-24s %9d  sha256 %s\n", f.Path, f.Size, f.SHA256)
		}
	}
	if in.SignaturesValid {
		fmt.Fprintf(w, "  signatures        valid (root key id %s)\n", in.RootKeyID)
		return
	}
	fmt.Fprintf(w, "  signatures        NOT VALID\n")
	for _, p := range in.Problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
}
