package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// softSigner signs checkpoints with a key in memory.
type softSigner struct {
	key  *ecdsa.PrivateKey
	id   []byte
	fail error // returned by Sign when set
}

func newSoftSigner(t *testing.T) *softSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(der)
	return &softSigner{key: key, id: id[:8]}
}

func (s *softSigner) Sign(digest []byte) ([]byte, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return ecdsa.SignASN1(rand.Reader, s.key, digest)
}

func (s *softSigner) PublicKey() crypto.PublicKey { return &s.key.PublicKey }
func (s *softSigner) KeyID() []byte               { return s.id }

func record(i int) Record {
	r := Record{
		Operation: "generate", Customer: "acme", KeysetVersion: 1,
		KeyIDs:      [][]byte{{0x01, byte(i)}, {0x02, byte(i)}},
		BazelTarget: "//customers/acme:firmware", Result: OK,
	}
	if i%5 == 0 {
		r.Result, r.Reason = Refused, fmt.Sprintf("customer %d is not in this window", i)
	}
	return r
}

// writeLog writes n records to a new log with a checkpoint every 16 and closes it.
func writeLog(t *testing.T, s Signer, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := w.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// readLog returns a log's lines without their newlines.
func readLog(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(data, []byte("\n"))
	if last := len(lines) - 1; len(lines[last]) != 0 {
		t.Fatalf("%s does not end with a newline", path)
	}
	return lines[:len(lines)-1]
}

func join(lines [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func parse(t *testing.T, line []byte) *vsefabpb.AuditEntry {
	t.Helper()
	var e vsefabpb.AuditEntry
	if err := protojson.Unmarshal(line, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func encode(t *testing.T, e *vsefabpb.AuditEntry) []byte {
	t.Helper()
	line, err := encodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// edit returns line with f applied to its entry.
func edit(t *testing.T, line []byte, f func(*vsefabpb.AuditEntry)) []byte {
	t.Helper()
	e := parse(t, line)
	f(e)
	return encode(t, e)
}

func hashOf(line []byte) []byte {
	h := sha256.Sum256(line)
	return h[:]
}

// A log of 40 records with a checkpoint every 16 has its records and checkpoints on these
// lines (counted from 1): records 1-16 on 1-16, checkpoint 16 on 17, records 17-32 on 18-33,
// checkpoint 32 on 34, records 33-40 on 35-42, checkpoint 40 on 43.
func TestVerifyGoodLog(t *testing.T) {
	s := newSoftSigner(t)
	path := writeLog(t, s, 40)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	rep, err := Verify(f, s.PublicKey())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Report{Lines: 43, Records: 40, Checkpoints: 3, LastSequence: 40, Protected: 40}
	if rep != want {
		t.Errorf("report = %+v, want %+v", rep, want)
	}

	cp := parse(t, readLog(t, path)[16]).GetCheckpoint()
	if cp.GetSequence() != 16 || !bytes.Equal(cp.GetKeyId(), s.id) {
		t.Errorf("line 17 = %v, want checkpoint 16 by key %x", cp, s.id)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	s := newSoftSigner(t)
	other := newSoftSigner(t)
	good := readLog(t, writeLog(t, s, 40))

	// with returns a copy of the good log's lines changed by f.
	with := func(f func(l [][]byte) [][]byte) []byte {
		l := make([][]byte, len(good))
		copy(l, good)
		return join(f(l))
	}
	forged := func(prev []byte) []byte {
		e := parse(t, good[7])
		e.GetRecord().Customer = "mallory"
		e.GetRecord().PrevHash = prev
		return encode(t, e)
	}
	resign := func(e *vsefabpb.AuditEntry, by *softSigner) {
		cp := e.GetCheckpoint()
		cp.KeyId = by.id
		sig, err := by.Sign(checkpointDigest(cp.Sequence, cp.RecordHash, cp.KeyId))
		if err != nil {
			t.Fatal(err)
		}
		cp.Signature = sig
	}
	random := make([]byte, hashSize)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		log      []byte
		kind     error
		line     int
		sequence uint64
		check    func(t *testing.T, rep Report)
	}{{
		name: "edit a field of record 7",
		log: with(func(l [][]byte) [][]byte {
			l[6] = edit(t, l[6], func(e *vsefabpb.AuditEntry) { e.GetRecord().Customer = "mallory" })
			return l
		}),
		kind: ErrEdited, line: 7, sequence: 7,
	}, {
		name: "edit the result of record 16, just before a checkpoint",
		log: with(func(l [][]byte) [][]byte {
			l[15] = edit(t, l[15], func(e *vsefabpb.AuditEntry) { e.GetRecord().Result = "failed" })
			return l
		}),
		kind: ErrEdited, line: 16, sequence: 16,
	}, {
		name: "edit the link of record 7",
		log: with(func(l [][]byte) [][]byte {
			l[6] = edit(t, l[6], func(e *vsefabpb.AuditEntry) { e.GetRecord().PrevHash = random })
			return l
		}),
		kind: ErrEdited, line: 7, sequence: 7,
	}, {
		name: "edit record 40, covered by the last checkpoint",
		log: with(func(l [][]byte) [][]byte {
			l[41] = edit(t, l[41], func(e *vsefabpb.AuditEntry) { e.GetRecord().KeyIds = nil })
			return l
		}),
		kind: ErrEdited, line: 42, sequence: 40,
	}, {
		name: "delete record 7",
		log:  with(func(l [][]byte) [][]byte { return append(l[:6], l[7:]...) }),
		kind: ErrDeleted, line: 7, sequence: 8,
	}, {
		name: "delete records 5 to 9",
		log:  with(func(l [][]byte) [][]byte { return append(l[:4], l[9:]...) }),
		kind: ErrDeleted, line: 5, sequence: 10,
	}, {
		name: "delete record 1",
		log:  with(func(l [][]byte) [][]byte { return l[1:] }),
		kind: ErrDeleted, line: 1, sequence: 2,
	}, {
		name: "delete record 16, just before a checkpoint",
		log:  with(func(l [][]byte) [][]byte { return append(l[:15], l[16:]...) }),
		kind: ErrDeleted, line: 16, sequence: 16,
	}, {
		name: "delete checkpoint 16",
		log:  with(func(l [][]byte) [][]byte { return append(l[:16], l[17:]...) }),
		kind: ErrEdited, line: 16, sequence: 16,
	}, {
		name: "insert a forged record that chains to record 7",
		log: with(func(l [][]byte) [][]byte {
			return append(l[:7], append([][]byte{forged(hashOf(l[6]))}, l[7:]...)...)
		}),
		kind: ErrInserted, line: 8, sequence: 8,
	}, {
		name: "insert a forged record that chains to nothing",
		log: with(func(l [][]byte) [][]byte {
			return append(l[:7], append([][]byte{forged(random)}, l[7:]...)...)
		}),
		kind: ErrInserted, line: 8, sequence: 8,
	}, {
		name: "insert a copy of record 3 after record 9",
		log: with(func(l [][]byte) [][]byte {
			return append(l[:9], append([][]byte{l[2]}, l[9:]...)...)
		}),
		kind: ErrInserted, line: 10, sequence: 3,
	}, {
		name: "swap records 7 and 8",
		log: with(func(l [][]byte) [][]byte {
			l[6], l[7] = l[7], l[6]
			return l
		}),
		kind: ErrReordered, line: 7, sequence: 8,
	}, {
		name: "move record 3 after record 9",
		log: with(func(l [][]byte) [][]byte {
			moved := l[2]
			l = append(l[:2], l[3:]...)
			return append(l[:8], append([][]byte{moved}, l[8:]...)...)
		}),
		kind: ErrReordered, line: 3, sequence: 4,
	}, {
		name: "truncate after record 37",
		log:  with(func(l [][]byte) [][]byte { return l[:39] }),
		kind: ErrTruncated, line: 35, sequence: 33,
		check: func(t *testing.T, rep Report) {
			if rep.Unprotected != 5 || rep.Records != 37 || rep.Protected != 32 || rep.Incomplete {
				t.Errorf("report = %+v, want 37 records, 5 unprotected, protected to 32", rep)
			}
		},
	}, {
		name: "delete the last checkpoint",
		log:  with(func(l [][]byte) [][]byte { return l[:42] }),
		kind: ErrTruncated, line: 35, sequence: 33,
		check: func(t *testing.T, rep Report) {
			if rep.Unprotected != 8 {
				t.Errorf("Unprotected = %d, want 8", rep.Unprotected)
			}
		},
	}, {
		name: "partial last line, a checkpoint",
		log:  append(join(good[:42]), good[42][:len(good[42])/2]...),
		kind: ErrIncomplete, line: 43, sequence: 0,
		check: func(t *testing.T, rep Report) {
			if !rep.Incomplete || rep.Records != 40 || rep.Checkpoints != 2 || rep.Unprotected != 8 {
				t.Errorf("report = %+v, want incomplete, 40 records, 2 checkpoints, 8 unprotected", rep)
			}
		},
	}, {
		name: "partial last line, a record",
		log:  append(join(good[:38]), good[38][:20]...),
		kind: ErrIncomplete, line: 39, sequence: 0,
		check: func(t *testing.T, rep Report) {
			if !rep.Incomplete || rep.Records != 36 || rep.Unprotected != 4 {
				t.Errorf("report = %+v, want incomplete, 36 records, 4 unprotected", rep)
			}
		},
	}, {
		name: "a checkpoint with a flipped signature byte",
		log: with(func(l [][]byte) [][]byte {
			l[16] = edit(t, l[16], func(e *vsefabpb.AuditEntry) { e.GetCheckpoint().Signature[12] ^= 0x01 })
			return l
		}),
		kind: ErrForgedCheckpoint, line: 17, sequence: 16,
	}, {
		name: "a checkpoint re-signed with another key",
		log: with(func(l [][]byte) [][]byte {
			l[33] = edit(t, l[33], func(e *vsefabpb.AuditEntry) { resign(e, other) })
			return l
		}),
		kind: ErrForgedCheckpoint, line: 34, sequence: 32,
	}, {
		name: "edit record 7, rebuild the chain and re-sign checkpoint 16 with another key",
		log: with(func(l [][]byte) [][]byte {
			l[6] = edit(t, l[6], func(e *vsefabpb.AuditEntry) { e.GetRecord().Customer = "mallory" })
			for i := 7; i < 16; i++ {
				l[i] = edit(t, l[i], func(e *vsefabpb.AuditEntry) { e.GetRecord().PrevHash = hashOf(l[i-1]) })
			}
			l[16] = edit(t, l[16], func(e *vsefabpb.AuditEntry) {
				e.GetCheckpoint().RecordHash = hashOf(l[15])
				resign(e, other)
			})
			return l
		}),
		kind: ErrForgedCheckpoint, line: 17, sequence: 16,
	}, {
		name: "a line that is not an entry",
		log: with(func(l [][]byte) [][]byte {
			l[9] = []byte(`{"record":{"sequence":"10"`)
			return l
		}),
		kind: ErrMalformed, line: 10, sequence: 0,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tc.log), s.PublicKey())
			t.Log(err)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("Verify: %v; want %v", err, tc.kind)
			}
			var p *Problem
			if !errors.As(err, &p) || p != rep.Problem {
				t.Fatalf("Verify returned %T %v, and the report holds %v", err, err, rep.Problem)
			}
			if p.Line != tc.line || p.Sequence != tc.sequence {
				t.Errorf("first bad entry: line %d sequence %d; want line %d sequence %d (%v)",
					p.Line, p.Sequence, tc.line, tc.sequence, err)
			}
			if want := fmt.Sprintf("line %d", tc.line); !bytes.Contains([]byte(err.Error()), []byte(want)) {
				t.Errorf("error %q does not name %s", err, want)
			}
			if tc.check != nil {
				tc.check(t, rep)
			}
		})
	}
}

// A log cut back to a checkpoint verifies on its own; against the head its writer left, the
// cut is found, while records appended after the head are not a problem.
func TestVerifyHead(t *testing.T) {
	s := newSoftSigner(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	appendRecords := func(from, to int) Head {
		t.Helper()
		w, err := Open(path, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i <= to; i++ {
			if err := w.Append(record(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		h, ok := w.Head()
		if !ok {
			t.Fatal("no head after Close")
		}
		return h
	}
	head := appendRecords(1, 40)
	if head.Sequence != 40 {
		t.Fatalf("head %v; want record 40", head)
	}
	parsed, err := ParseHead(" " + head.String() + "\n")
	if err != nil || parsed != head {
		t.Fatalf("ParseHead(%q) = %v, %v", head.String(), parsed, err)
	}
	lines := readLog(t, path)

	if _, err := VerifyHead(bytes.NewReader(join(lines)), s.PublicKey(), head); err != nil {
		t.Errorf("the whole log: %v", err)
	}
	// Lines 1 to 34 end with the checkpoint of record 32.
	cut := join(lines[:34])
	if _, err := Verify(bytes.NewReader(cut), s.PublicKey()); err != nil {
		t.Fatalf("a log cut at a checkpoint should verify without its head: %v", err)
	}
	_, err = VerifyHead(bytes.NewReader(cut), s.PublicKey(), head)
	var p *Problem
	if !errors.As(err, &p) || p.Kind != ErrCut || p.Line != 35 ||
		!strings.Contains(err.Error(), "the lines after line 34 were removed") {
		t.Errorf("VerifyHead of a cut log: %v; want truncation after line 34", err)
	}

	// Cut short and then damaged at the end, as a crash would leave it: still the cut.
	for name, damaged := range map[string][]byte{
		"records after a checkpoint": join(lines[:36]),
		"an incomplete last line":    append(join(lines[:34]), lines[34][:10]...),
	} {
		_, err := VerifyHead(bytes.NewReader(damaged), s.PublicKey(), head)
		if !errors.As(err, &p) || p.Kind != ErrCut {
			t.Errorf("VerifyHead of a cut log ending in %s: %v; want it cut", name, err)
		}
	}

	// A later window's records after the head.
	appendRecords(41, 45)
	if _, err := VerifyHead(bytes.NewReader(join(readLog(t, path))), s.PublicKey(), head); err != nil {
		t.Errorf("a log continued after its head: %v", err)
	}

	// Other histories, signed by the same key: one with a checkpoint of record 40 of its own,
	// one with none of record 40.
	for _, n := range []int{40, 41} {
		other := readLog(t, writeLog(t, s, n))
		_, err = VerifyHead(bytes.NewReader(join(other)), s.PublicKey(), head)
		if !errors.As(err, &p) || p.Kind != ErrEdited || !strings.Contains(err.Error(), "rewritten") {
			t.Errorf("VerifyHead of another log of %d records: %v; want it rewritten", n, err)
		}
	}

	for _, bad := range []string{"", "40", "0:" + strings.Repeat("ab", 32), "40:abcd", "x:" + strings.Repeat("ab", 32)} {
		if _, err := ParseHead(bad); err == nil || !strings.Contains(err.Error(), "SEQUENCE:HASH") {
			t.Errorf("ParseHead(%q): %v", bad, err)
		}
	}
}

func TestVerifyIncompleteMessage(t *testing.T) {
	s := newSoftSigner(t)
	lines := readLog(t, writeLog(t, s, 3))
	_, err := Verify(bytes.NewReader(append(join(lines[:3]), lines[3][:10]...)), s.PublicKey())
	want := "the last entry is incomplete (a write was interrupted)"
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("Verify: %v; want it to say %q", err, want)
	}
}

func TestVerifyWithWrongKey(t *testing.T) {
	path := writeLog(t, newSoftSigner(t), 20)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	_, err = Verify(f, newSoftSigner(t).PublicKey())
	var p *Problem
	if !errors.As(err, &p) || p.Kind != ErrForgedCheckpoint || p.Line != 17 {
		t.Errorf("Verify with another key: %v; want a forged checkpoint on line 17", err)
	}
}

func TestVerifyRefusesOtherKeyTypes(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"P-384": &p384.PublicKey, "nil": nil, "bytes": []byte{1}} {
		if _, err := Verify(bytes.NewReader(nil), pub); err == nil {
			t.Errorf("Verify with a %s key succeeded", name)
		}
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	rep, err := Verify(bytes.NewReader(nil), newSoftSigner(t).PublicKey())
	if err != nil || rep != (Report{}) {
		t.Errorf("Verify(empty) = %+v, %v; want an empty report", rep, err)
	}
}

// The record types hold no secret: a field added to either must be checked for that here.
func TestRecordFields(t *testing.T) {
	var names []string
	fields := (&vsefabpb.AuditRecord{}).ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		names = append(names, string(fields.Get(i).Name()))
	}
	want := "[sequence time operation customer keyset_version key_ids bazel_target result reason prev_hash]"
	if got := fmt.Sprint(names); got != want {
		t.Errorf("AuditRecord fields = %s; want %s", got, want)
	}
}
