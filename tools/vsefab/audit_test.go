package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsefab/vsefab/internal/audit"
)

type testSigner struct{ key *ecdsa.PrivateKey }

func (s testSigner) Sign(digest []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.key, digest)
}
func (s testSigner) PublicKey() crypto.PublicKey { return &s.key.PublicKey }
func (s testSigner) KeyID() []byte               { return []byte("test") }

// auditFixture writes a log of 20 records and its signer's public key, PEM and DER, into dir,
// and returns them with the log's head.
func auditFixture(t *testing.T, dir string) (logPath, pemPath, derPath, head string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(dir, "audit.log")
	w, err := audit.Open(logPath, testSigner{key}, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		err := w.Append(audit.Record{Operation: "generate", Customer: "acme", KeysetVersion: 1,
			BazelTarget: "//customers/acme:firmware", Result: audit.OK})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, ok := w.Head()
	if !ok {
		t.Fatal("no head")
	}
	head = h.String()

	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemPath, derPath = filepath.Join(dir, "audit.pem"), filepath.Join(dir, "audit.der")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(pemPath, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(derPath, der, 0o644); err != nil {
		t.Fatal(err)
	}
	return logPath, pemPath, derPath, head
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	logPath, pemPath, derPath, head := auditFixture(t, dir)

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	truncated := filepath.Join(dir, "truncated.log")
	if err := os.WriteFile(truncated, []byte(strings.Join(lines[:20], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Lines 1 to 17 end with the checkpoint of record 16.
	cut := filepath.Join(dir, "cut.log")
	if err := os.WriteFile(cut, []byte(strings.Join(lines[:17], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	headFile := filepath.Join(dir, "window.head")
	if err := os.WriteFile(headFile, []byte(head+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines[2] = strings.Replace(lines[2], `"acme"`, `"evil"`, 1)
	edited := filepath.Join(dir, "edited.log")
	if err := os.WriteFile(edited, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, otherKey, _, _ := auditFixture(t, t.TempDir())

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // each must appear
		stderr string
	}{{
		name:   "good log, PEM key",
		args:   []string{"--public-key", pemPath, logPath},
		stdout: []string{"OK " + logPath, "20 records", "protected:    records 1 to 20"},
	}, {
		name:   "good log, DER key",
		args:   []string{"--public-key", derPath, logPath},
		stdout: []string{"OK " + logPath},
	}, {
		name:   "good log and its head",
		args:   []string{"--public-key", pemPath, "--head", head, logPath},
		stdout: []string{"OK " + logPath, "head:         the checkpoint of record 20, as recorded"},
	}, {
		name: "log cut back to a checkpoint, against its head",
		args: []string{"--public-key", pemPath, "--head", head, cut},
		code: 1,
		stdout: []string{"FAILED " + cut, "line 18: the log ends before its recorded head",
			"the lines after line 17 were removed"},
		stderr: "does not verify",
	}, {
		name:   "the head from a file",
		args:   []string{"--public-key", pemPath, "--head-file", headFile, cut},
		code:   1,
		stdout: []string{"the log ends before its recorded head"},
	}, {
		name:   "an empty head is not a check left out",
		args:   []string{"--public-key", pemPath, "--head=", cut},
		code:   1,
		stderr: "is not a log head",
	}, {
		name:   "a head file that is not there",
		args:   []string{"--public-key", pemPath, "--head-file", filepath.Join(dir, "none"), cut},
		code:   1,
		stderr: "--head-file: open",
	}, {
		name:   "both head flags",
		args:   []string{"--public-key", pemPath, "--head", head, "--head-file", headFile, logPath},
		code:   1,
		stderr: "not both",
	}, {
		name:   "head that is not one",
		args:   []string{"--public-key", pemPath, "--head", "20", logPath},
		code:   1,
		stderr: "--head: audit: \"20\" is not a log head",
	}, {
		name: "edited record",
		args: []string{"--public-key", pemPath, edited},
		code: 1,
		stdout: []string{"FAILED " + edited, "line 3 (sequence 3): entry edited",
			"before the check stopped"},
		stderr: "does not verify",
	}, {
		name: "unprotected tail",
		args: []string{"--public-key", pemPath, truncated},
		code: 1,
		stdout: []string{"FAILED " + truncated, "records 17 to 19 are unprotected",
			"unprotected:  records 17 to 19"},
	}, {
		name:   "another key",
		args:   []string{"--public-key", otherKey, logPath},
		code:   1,
		stdout: []string{"line 17 (sequence 16): checkpoint signature does not verify"},
	}, {
		name:   "no key",
		args:   []string{logPath},
		code:   1,
		stderr: "--public-key is required",
	}, {
		name:   "no log",
		args:   []string{"--public-key", pemPath},
		code:   1,
		stderr: "name one log",
	}, {
		name:   "key file is not a key",
		args:   []string{"--public-key", logPath, logPath},
		code:   1,
		stderr: "not a PKIX public key",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"audit", "verify"}, tc.args...),
				&stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, &stderr)
			}
			if tc.code == 0 && stderr.Len() != 0 {
				t.Errorf("stderr of a good log: %s", &stderr)
			}
		})
	}
}

func TestAuditUnknownSubcommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"audit", "check"}, &stdout, &stderr); code == 0 {
		t.Errorf("vsefab audit check exited 0")
	}
	if !strings.Contains(stderr.String(), "usage: vsefab audit verify") {
		t.Errorf("no usage on stderr: %s", &stderr)
	}
}
