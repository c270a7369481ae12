package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/outfile"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

const bundleSynopsis = `Packs what an app team receives into one deterministic .tar.gz: the firmware as a shared
library and as a static archive, its header, the manifest with its root signature, the
customer's licenses and a README. An index of every file's SHA-256 is signed by the HSM's
root signing key, which signs only next to a manifest it signed itself; vsefab verify checks
a bundle. Run by Bazel for the <name>_bundle target of vse_firmware.`

// Bundle entries carry no time, owner or build-host mode, so two builds give the same bytes.
var bundleModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	bundleIndexPath = "index.pb"
	bundleSigPath   = "index.sig"
)

// multiFlag collects a flag given several times.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runBundle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle", bundleSynopsis, stderr)
	cfgPath := fs.String("config", "", "customer config (textproto); required")
	customer := fs.String("customer", "", "customer the build target declares; must equal the config's")
	name := fs.String("name", "", "the firmware's name: files are lib<name>.so, lib<name>.a, <name>.h; required")
	dir := fs.String("dir", "", "top directory inside the archive; required")
	manifest := fs.String("manifest", "", "the binary manifest; required")
	manifestSig := fs.String("manifest-sig", "", "its root signature; required")
	manifestJSON := fs.String("manifest-json", "", "the manifest as JSON; required")
	library := fs.String("library", "", "the shared library; required")
	archive := fs.String("archive", "", "the static archive; required")
	header := fs.String("header", "", "the C header; required")
	var licenses multiFlag
	fs.Var(&licenses, "license", "a license file for the firmware (repeatable)")
	out := fs.String("out", "", "output: the bundle, .tar.gz; required")
	hf := addHSMFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for flagName, v := range map[string]string{"--config": *cfgPath, "--name": *name, "--dir": *dir,
		"--manifest": *manifest, "--manifest-sig": *manifestSig, "--manifest-json": *manifestJSON,
		"--library": *library, "--archive": *archive, "--header": *header, "--out": *out} {
		if v == "" {
			return fmt.Errorf("flag %s is required (see vsefab bundle --help)", flagName)
		}
	}
	if err := hf.check(); err != nil {
		return err
	}
	cfg, _, err := loadConfig(*cfgPath, *customer)
	if err != nil {
		return err
	}

	files := map[string][]byte{}
	for p, src := range map[string]string{
		red.BundleManifestPath: *manifest, "manifest.sig": *manifestSig, "manifest.json": *manifestJSON,
		"lib" + *name + ".so": *library, "lib" + *name + ".a": *archive, *name + ".h": *header,
	} {
		if files[p], err = os.ReadFile(src); err != nil {
			return err
		}
	}
	for _, l := range licenses {
		p := "licenses/" + filepath.Base(l)
		if _, dup := files[p]; dup {
			return fmt.Errorf("--license %s: two licenses are named %s; give them different target names", l, filepath.Base(l))
		}
		if files[p], err = os.ReadFile(l); err != nil {
			return err
		}
	}
	var m vsefabpb.Manifest
	if err := proto.Unmarshal(files[red.BundleManifestPath], &m); err != nil {
		return fmt.Errorf("--manifest %s: not a manifest: %w", *manifest, err)
	}
	var msig vsefabpb.ManifestSignature
	if err := proto.Unmarshal(files["manifest.sig"], &msig); err != nil {
		return fmt.Errorf("--manifest-sig %s: not a manifest signature: %w", *manifestSig, err)
	}
	readme, err := bundleReadme(*name, &m, licenses)
	if err != nil {
		return err
	}
	files["README.md"] = readme

	idx := &vsefabpb.BundleIndex{Format: red.BundleFormat, Customer: m.GetCustomer(),
		KeysetVersion: m.GetKeysetVersion(), FirmwareId: m.GetFirmwareId(), FirmwareVersion: m.GetFirmwareVersion()}
	for _, p := range sortedKeys(files) {
		d := sha256.Sum256(files[p])
		idx.Files = append(idx.Files, &vsefabpb.BundleFile{Path: p, Sha256: d[:], Size: uint64(len(files[p]))})
	}

	var sig *vsefabpb.ManifestSignature
	backend, err := hf.inProcess()
	if err != nil {
		return err
	}
	if backend == nil {
		sig, err = agent.Client{Socket: *hf.agent}.SignBundle(ctx, &vsefabpb.BundleRequest{
			Config: cfg, Manifest: files[red.BundleManifestPath], ManifestSignature: &msig, Index: idx,
			BazelTarget: *hf.target, Production: *hf.production, ExpectToken: *hf.expectToken, ExpectModule: *hf.expectModule,
		})
	} else {
		sig, err = red.SignBundle(ctx, backend, cfg, files[red.BundleManifestPath], &msig, idx)
	}
	if err != nil {
		return err
	}
	if files[bundleIndexPath], err = red.MarshalBundleIndex(idx); err != nil {
		return err
	}
	if err := red.VerifyBundleIndex(files[bundleIndexPath], sig); err != nil {
		return err
	}
	det := proto.MarshalOptions{Deterministic: true}
	if files[bundleSigPath], err = det.Marshal(sig); err != nil {
		return err
	}
	tgz, err := writeBundle(*dir, files)
	if err != nil {
		return err
	}
	set := outfile.NewSet()
	set.Add(*out, tgz)
	if err := set.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bundle %s: %d files, firmware %s of %s\n", *out, len(files), m.GetFirmwareId(), m.GetCustomer())
	return nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// writeBundle makes the archive: one top directory, entries sorted, fixed times, owners and
// modes.
func writeBundle(dir string, files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	hdr := func(name string, mode int64, typ byte, size int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: int64(size),
			ModTime: bundleModTime, Format: tar.FormatPAX})
	}
	if err := hdr(dir+"/", 0o755, tar.TypeDir, 0); err != nil {
		return nil, err
	}
	for _, p := range sortedKeys(files) {
		if d := path.Dir(p); d != "." && !dirs[d] {
			dirs[d] = true
			if err := hdr(dir+"/"+d+"/", 0o755, tar.TypeDir, 0); err != nil {
				return nil, err
			}
		}
		if err := hdr(dir+"/"+p, 0o644, tar.TypeReg, len(files[p])); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bundle is a bundle as read back: its files by path below the top directory.
type bundle struct {
	dir   string
	files map[string][]byte
}

// maxBundle bounds what reading a bundle may allocate: firmware is megabytes, not gigabytes.
const maxBundle = 1 << 30

// errNotBundle: the file is not a gzip-compressed tar.
var errNotBundle = errors.New("not a firmware bundle (.tar.gz)")

// readBundle reads a bundle. It refuses what writeBundle never makes: entries outside one top
// directory, links, devices, duplicates.
func readBundle(p string) (*bundle, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, errNotBundle)
	}
	tr := tar.NewReader(io.LimitReader(zr, maxBundle))
	b := &bundle{files: map[string][]byte{}}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: damaged archive: %w", p, err)
		}
		top, rest, _ := strings.Cut(strings.TrimSuffix(h.Name, "/"), "/")
		if b.dir == "" {
			b.dir = top
		}
		if top != b.dir || path.Clean(h.Name) != strings.TrimSuffix(h.Name, "/") || strings.Contains(h.Name, "..") {
			return nil, fmt.Errorf("%s: entry %q is outside the bundle's directory %s/", p, h.Name, b.dir)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("%s: entry %q is not a regular file or directory", p, h.Name)
		}
		if _, dup := b.files[rest]; dup || rest == "" {
			return nil, fmt.Errorf("%s: entry %q appears twice", p, h.Name)
		}
		if b.files[rest], err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("%s: damaged archive at %q: %w", p, h.Name, err)
		}
	}
	// The gzip checksum is checked only at the end of its stream, past the tar's last entry.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("%s: damaged archive: %w", p, err)
	}
	return b, nil
}

// verify checks the bundle's integrity: the index signature (under trusted when given),
// every listed file present with its digest, nothing unlisted. It returns the index when it
// parsed, and the problems found.
func (b *bundle) verify(trusted []byte) (*vsefabpb.BundleIndex, []string) {
	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var idx vsefabpb.BundleIndex
	if err := proto.Unmarshal(b.files[bundleIndexPath], &idx); err != nil || b.files[bundleIndexPath] == nil {
		return nil, []string{"no readable index.pb: not a vsefab bundle, or damaged"}
	}
	var sig vsefabpb.ManifestSignature
	switch {
	case proto.Unmarshal(b.files[bundleSigPath], &sig) != nil || b.files[bundleSigPath] == nil:
		fail("no readable index.sig")
	default:
		if err := red.VerifyBundleIndex(b.files[bundleIndexPath], &sig); err != nil {
			fail("index.sig: %v", err)
		} else if trusted != nil && !bytes.Equal(sig.GetPublicKey(), trusted) {
			fail("index.sig: signed by %s (id %x), which is not the root key given with --root-key", sig.GetKeyLabel(), sig.GetKeyId())
		}
	}
	listed := map[string]bool{bundleIndexPath: true, bundleSigPath: true}
	for _, f := range idx.GetFiles() {
		listed[f.GetPath()] = true
		data, ok := b.files[f.GetPath()]
		d := sha256.Sum256(data)
		switch {
		case !ok:
			fail("%s: listed in the index but missing", f.GetPath())
		case uint64(len(data)) != f.GetSize() || !bytes.Equal(d[:], f.GetSha256()):
			fail("%s: altered: SHA-256 %x, the index says %x", f.GetPath(), d, f.GetSha256())
		}
	}
	for _, p := range sortedKeys(b.files) {
		if !listed[p] {
			fail("%s: not in the index: it was added after signing", p)
		}
	}
	return &idx, problems
}

var readmeTemplate = template.Must(template.New("README").Parse(`# Firmware {{.Name}} for {{.M.Customer}}

Firmware version {{.M.FirmwareVersion}}, keyset version {{.M.KeysetVersion}}, firmware ID
{{.M.FirmwareId}}. Its keys were made by HSM {{.M.HsmUri}} ({{.M.HsmKind}}).
{{- if ne .M.HsmKind.String "PRODUCTION"}}

NOT FOR RELEASE: this firmware's keys come from a test HSM. Use it for development only.
{{- end}}

## Files

- lib{{.Name}}.so: the firmware as a shared library (soname lib{{.Name}}.so)
- lib{{.Name}}.a: the same firmware as a static archive
- {{.Name}}.h: the C header for both
- manifest.pb, manifest.json: what the firmware holds (keys by ID and check value, public
  keys), binary and readable
- manifest.sig: the vendor root key's signature over manifest.pb
- licenses/: the licenses issued for this firmware{{range .Licenses}}
  - licenses/{{.}}{{end}}
- index.pb, index.sig: every file's SHA-256, signed by the vendor root key

## Link

    cc app.c -I. -L. -l{{.Name}} -Wl,-rpath,'$ORIGIN'    # shared
    cc app.c -I. lib{{.Name}}.a -lpthread                # static

Every function returns VSE_OK (0) or an error code; vse_strerror(code) says what to do.
Check a license with vse_license_check before using the firmware.

## Check this bundle

    vsefab verify --root-key root.pub.pem THIS-BUNDLE.tar.gz
`))

func bundleReadme(name string, m *vsefabpb.Manifest, licenses []string) ([]byte, error) {
	var names []string
	for _, l := range licenses {
		names = append(names, filepath.Base(l))
	}
	slices.Sort(names)
	var buf bytes.Buffer
	err := readmeTemplate.Execute(&buf, struct {
		Name     string
		M        *vsefabpb.Manifest
		Licenses []string
	}{name, m, names})
	return buf.Bytes(), err
}
