package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func bundlePath(t *testing.T, customer string) string {
	return bin(t, "customers/"+customer+"/firmware_bundle.tar.gz")
}

// rootPEM writes the root public key that signed customer's manifest, as verifiers get it.
func rootPEM(t *testing.T, customer string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "root.pub.pem")
	block := &pem.Block{Type: "PUBLIC KEY", Bytes: manifestSignature(t, customer).PublicKey}
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBundle(t *testing.T) {
	build(t)
	for _, c := range customers {
		t.Run(c, func(t *testing.T) { checkBundle(t, c) })
	}
	t.Run("tampered", checkTamperedBundles)
	t.Run("docs example", checkDocsExample)
}

// checkBundle checks customer's built bundle: vsefab inspect reports what the manifest beside
// the firmware says, and vsefab verify passes under the root key that signed it.
func checkBundle(t *testing.T, c string) {
	t.Helper()
	root := rootPEM(t, c)
	out, err := exec.Command(vsefabTool(t), "inspect", "--json", "--root-key", root, bundlePath(t, c)).Output()
	if err != nil {
		t.Fatalf("vsefab inspect --json: %v\n%s", err, out)
	}
	var got struct {
		Customer        string `json:"customer"`
		FirmwareID      string `json:"firmware_id"`
		FirmwareVersion string `json:"firmware_version"`
		KeysetVersion   uint32 `json:"keyset_version"`
		HSMKind         string `json:"hsm_kind"`
		SignaturesValid bool   `json:"signatures_valid"`
		Keys            []struct {
			KeyID      string `json:"key_id"`
			CheckValue string `json:"check_value"`
		} `json:"keys"`
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	m := manifest(t, c)
	if got.Customer != m.Customer || got.FirmwareID != m.FirmwareId || got.FirmwareVersion != m.FirmwareVersion ||
		got.KeysetVersion != m.KeysetVersion || got.HSMKind != m.HsmKind.String() || !got.SignaturesValid {
		t.Errorf("inspect says %+v; the manifest %v", got, m)
	}
	if len(got.Keys) != len(m.Keys) {
		t.Fatalf("inspect lists %d keys, the manifest %d", len(got.Keys), len(m.Keys))
	}
	for i, k := range m.Keys {
		if got.Keys[i].KeyID != hex.EncodeToString(k.KeyId) || got.Keys[i].CheckValue != hex.EncodeToString(k.CheckValue) {
			t.Errorf("key %s: inspect says id %s check %s", k.Label, got.Keys[i].KeyID, got.Keys[i].CheckValue)
		}
	}
	var paths []string
	for _, f := range got.Files {
		paths = append(paths, f.Path)
	}
	want := "README.md firmware.h libfirmware.a libfirmware.so licenses/license.license manifest.json manifest.pb manifest.sig"
	if strings.Join(paths, " ") != want {
		t.Errorf("bundle files %v, want %s", paths, want)
	}
	// The files in the bundle are the ones built.
	files := untar(t, bundlePath(t, c))
	for name, built := range map[string]string{"libfirmware.so": "libfirmware.so", "manifest.pb": "firmware.manifest.pb",
		"licenses/license.license": "license.license"} {
		data, err := os.ReadFile(bin(t, "customers/"+c+"/"+built))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(files[c+"-firmware/"+name], data) {
			t.Errorf("the bundle's %s is not the built %s", name, built)
		}
	}
	if out, err := exec.Command(vsefabTool(t), "verify", "--root-key", root, bundlePath(t, c)).CombinedOutput(); err != nil {
		t.Errorf("vsefab verify of the built bundle: %v\n%s", err, out)
	}
}

// untar reads a .tar.gz into memory, by entry name, in order of the archive.
func untar(t *testing.T, p string) map[string][]byte {
	t.Helper()
	entries, _ := untarOrdered(t, p)
	return entries
}

func untarOrdered(t *testing.T, p string) (map[string][]byte, []*tar.Header) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var hdrs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
	}
}

// retar writes the entries of hdrs back, with the contents in files, to a new .tar.gz.
func retar(t *testing.T, p string, hdrs []*tar.Header, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range hdrs {
		h := *h
		h.Size = int64(len(files[h.Name]))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[h.Name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkTamperedBundles changes acme's bundle in the ways an attacker could and expects
// vsefab verify to fail each time, naming what is wrong.
func checkTamperedBundles(t *testing.T) {
	root := rootPEM(t, "acme")
	orig, err := os.ReadFile(bundlePath(t, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	files, hdrs := untarOrdered(t, bundlePath(t, "acme"))
	globex := untar(t, bundlePath(t, "globex"))
	const dir = "acme-firmware/"
	cases := []struct {
		name, want string
		change     func(p string)
	}{
		// Compressed, a flipped byte damages the stream or changes what it inflates to.
		{"one byte of the archive flipped", "damaged|altered", func(p string) {
			b := bytes.Clone(orig)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o644)
		}},
		{"one byte of the library flipped", "libfirmware.so: altered", func(p string) {
			f := cloneFiles(files)
			f[dir+"libfirmware.so"][4096] ^= 1
			retar(t, p, hdrs, f)
		}},
		{"one byte of the static archive flipped", "libfirmware.a: altered", func(p string) {
			f := cloneFiles(files)
			f[dir+"libfirmware.a"][len(f[dir+"libfirmware.a"])-1] ^= 1
			retar(t, p, hdrs, f)
		}},
		{"a license swapped for globex's", "licenses/license.license: altered", func(p string) {
			f := cloneFiles(files)
			f[dir+"licenses/license.license"] = globex["globex-firmware/licenses/license.license"]
			retar(t, p, hdrs, f)
		}},
		{"a file added", "extra.txt: not in the index", func(p string) {
			f := cloneFiles(files)
			f[dir+"extra.txt"] = []byte("hello")
			h := *hdrs[len(hdrs)-1]
			h.Name = dir + "extra.txt"
			retar(t, p, append(append([]*tar.Header{}, hdrs...), &h), f)
		}},
		{"a file removed", "README.md: listed in the index but missing", func(p string) {
			var kept []*tar.Header
			for _, h := range hdrs {
				if h.Name != dir+"README.md" {
					kept = append(kept, h)
				}
			}
			retar(t, p, kept, files)
		}},
		{"index and signature taken from globex", "manifest.pb: altered", func(p string) {
			f := cloneFiles(files)
			f[dir+"index.pb"] = globex["globex-firmware/index.pb"]
			f[dir+"index.sig"] = globex["globex-firmware/index.sig"]
			retar(t, p, hdrs, f)
		}},
	}
	for _, tc := range cases {
		p := filepath.Join(t.TempDir(), "bundle.tar.gz")
		tc.change(p)
		out, err := exec.Command(vsefabTool(t), "verify", "--root-key", root, p).CombinedOutput()
		named := false
		for _, w := range strings.Split(tc.want, "|") {
			named = named || strings.Contains(string(out), w)
		}
		if err == nil || !named {
			t.Errorf("%s: vsefab verify: %v, want a failure naming %q:\n%s", tc.name, err, tc.want, out)
		}
	}
}

func cloneFiles(m map[string][]byte) map[string][]byte {
	c := make(map[string][]byte, len(m))
	for k, v := range m {
		c[k] = bytes.Clone(v)
	}
	return c
}

// checkDocsExample compiles the C program of docs/customers.md against acme's bundle, both as
// the shared library and as the static archive, and runs it with the bundle's license.
func checkDocsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "customers.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```c\n")
	src, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/customers.md has no ```c block")
	}
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", bundlePath(t, "acme"), "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	fw := filepath.Join(dir, "acme-firmware")
	if err := os.WriteFile(filepath.Join(dir, "app.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m := manifest(t, "acme")
	for _, link := range [][]string{
		{"-L", fw, "-lfirmware", "-Wl,-rpath," + fw},
		{filepath.Join(fw, "libfirmware.a"), "-lpthread"},
	} {
		exe := filepath.Join(dir, "app")
		args := append([]string{"-Wall", "-Werror", filepath.Join(dir, "app.c"), "-I", fw, "-o", exe}, link...)
		if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", args, err, out)
		}
		out, err := exec.Command(exe, filepath.Join(fw, "licenses", "license.license")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "firmware "+m.FirmwareId+": license valid") {
			t.Errorf("the example linked with %v: %v\n%s", link, err, out)
		}
	}
}
