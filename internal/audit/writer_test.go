package audit

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// verifyFile verifies the log at path with s's public key.
func verifyFile(t *testing.T, path string, s Signer) (Report, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, s.PublicKey())
}

func TestReopenContinuesTheChain(t *testing.T) {
	s := newSoftSigner(t)
	path := writeLog(t, s, 10)

	w, err := Open(path, s, Options{})
	if err != nil {
		t.Fatalf("reopening a good log: %v", err)
	}
	for i := 11; i <= 15; i++ {
		if err := w.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := verifyFile(t, path, s)
	want := Report{Lines: 17, Records: 15, Checkpoints: 2, LastSequence: 15, Protected: 15}
	if err != nil || rep != want {
		t.Errorf("Verify = %+v, %v; want %+v", rep, err, want)
	}
	first := parse(t, readLog(t, path)[11]).GetRecord()
	if first.GetSequence() != 11 {
		t.Errorf("the first record after reopening has sequence %d, want 11", first.GetSequence())
	}
}

func TestReopenAndCloseWritesNothing(t *testing.T) {
	s := newSoftSigner(t)
	path := writeLog(t, s, 3)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("opening and closing changed the log:\n%s\n---\n%s", before, after)
	}
}

func TestOpenRefusesDamagedLog(t *testing.T) {
	s := newSoftSigner(t)
	lines := readLog(t, writeLog(t, s, 20)) // records 17 to 20 on lines 18 to 21

	edited := make([][]byte, len(lines))
	copy(edited, lines)
	edited[4] = bytes.Replace(edited[4], []byte(`"acme"`), []byte(`"evil"`), 1)

	tests := []struct {
		name   string
		log    []byte
		accept bool
		want   error // nil: Open succeeds and appending gives a log that verifies
	}{
		{name: "edited", log: join(edited), want: ErrEdited},
		{name: "edited, tail accepted", log: join(edited), accept: true, want: ErrEdited},
		{name: "unprotected tail", log: join(lines[:21]), want: ErrTruncated},
		{name: "unprotected tail, accepted", log: join(lines[:21]), accept: true},
		{name: "partial line", log: append(join(lines[:21]), lines[21][:9]...), want: ErrIncomplete},
		{name: "partial line, tail accepted", log: append(join(lines[:21]), lines[21][:9]...),
			accept: true, want: ErrIncomplete},
		{name: "signed by another key", log: join(readLog(t, writeLog(t, newSoftSigner(t), 3))),
			want: ErrForgedCheckpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, tc.log, 0o600); err != nil {
				t.Fatal(err)
			}
			w, err := Open(path, s, Options{AcceptUnprotectedTail: tc.accept})
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Open: %v; want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the log", err)
				}
				after, rerr := os.ReadFile(path)
				if rerr != nil || !bytes.Equal(after, tc.log) {
					t.Errorf("a refused log was changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := w.Append(record(21)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if rep, err := verifyFile(t, path, s); err != nil || rep.Records != 21 {
				t.Errorf("Verify after continuing = %+v, %v; want 21 good records", rep, err)
			}
		})
	}
}

func TestConcurrentAppend(t *testing.T) {
	s := newSoftSigner(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, s, Options{CheckpointEvery: 7})
	if err != nil {
		t.Fatal(err)
	}

	const goroutines, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- w.Append(record(g*each + i))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := verifyFile(t, path, s)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	n := goroutines * each
	if rep.Records != n || rep.Protected != uint64(n) || rep.Checkpoints != (n+6)/7 {
		t.Errorf("report = %+v; want %d records, all protected, %d checkpoints", rep, n, (n+6)/7)
	}
}

func TestLogFileMode(t *testing.T) {
	s := newSoftSigner(t)
	path := writeLog(t, s, 1)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("log mode = %04o, want 0600", perm)
	}

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, s, Options{}); err == nil || !strings.Contains(err.Error(), "0640") {
		t.Errorf("Open of a log with mode 0640: %v; want a refusal naming the mode", err)
	}
}

func TestOpenRefusesSecondWriter(t *testing.T) {
	s := newSoftSigner(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Open(path, s, Options{}); err == nil {
		t.Fatal("a second writer opened a log the first holds")
	}
}

func TestOpenRefusesSymlink(t *testing.T) {
	s := newSoftSigner(t)
	dir := t.TempDir()
	target := writeLog(t, s, 1)
	link := filepath.Join(dir, "audit.log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link, s, Options{}); err == nil {
		t.Fatal("Open followed a symlink")
	}
}

func TestAppendRefusesBadRecords(t *testing.T) {
	s := newSoftSigner(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	for name, rec := range map[string]Record{
		"no operation": {Result: OK},
		"no result":    {Operation: "generate"},
		"other result": {Operation: "generate", Result: "maybe"},
	} {
		if err := w.Append(rec); err == nil {
			t.Errorf("Append accepted a record with %s", name)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("refused records were written")
	}
}

func TestAppendCleansText(t *testing.T) {
	s := newSoftSigner(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2031, 2, 3, 4, 5, 6, 7, time.FixedZone("CET", 3600))
	err = w.Append(Record{Time: when, Operation: "generate", Customer: "ac\xffme", Result: Failed,
		Reason: strings.Repeat("é", 3*maxReason)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	lines := readLog(t, path)
	r := parse(t, lines[0]).GetRecord()
	if r.GetCustomer() != "ac\uFFFDme" {
		t.Errorf("customer = %q, want the invalid byte replaced", r.GetCustomer())
	}
	if len(r.GetReason()) > maxReason || !utf8.ValidString(r.GetReason()) ||
		!strings.HasSuffix(r.GetReason(), "...") {
		t.Errorf("reason of %d bytes not cut to %d on a character boundary", len(r.GetReason()), maxReason)
	}
	if r.GetTime() != "2031-02-03T03:05:06.000000007Z" {
		t.Errorf("time = %q, want RFC 3339 in UTC", r.GetTime())
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, lines[0]); err != nil || !bytes.Equal(compact.Bytes(), lines[0]) {
		t.Errorf("line is not compact JSON: %s", lines[0])
	}
	if rep, err := verifyFile(t, path, s); err != nil || rep.Records != 1 {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestCheckpointRetriedAfterSignerFails(t *testing.T) {
	s := newSoftSigner(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, s, Options{CheckpointEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(record(1)); err != nil {
		t.Fatal(err)
	}

	s.fail = errors.New("token removed")
	err = w.Append(record(2))
	if err == nil || !strings.Contains(err.Error(), "record 2 itself is written") {
		t.Fatalf("Append with a failing signer: %v; want it to say the record was written", err)
	}
	s.fail = nil
	if err := w.Append(record(3)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := verifyFile(t, path, s)
	// The checkpoint that failed after record 2 is made after record 3.
	want := Report{Lines: 4, Records: 3, Checkpoints: 1, LastSequence: 3, Protected: 3}
	if err != nil || rep != want {
		t.Errorf("Verify = %+v, %v; want %+v", rep, err, want)
	}
}

// A signer whose signatures its public key does not verify must not put checkpoints in the log.
func TestCheckpointCheckedBeforeWriting(t *testing.T) {
	s := newSoftSigner(t)
	liar := &mismatchedSigner{softSigner: s, pub: newSoftSigner(t)}
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, liar, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close wrote a checkpoint its signer's public key does not verify")
	}
	if lines := readLog(t, path); len(lines) != 1 {
		t.Errorf("log has %d lines, want the record alone", len(lines))
	}
}

type mismatchedSigner struct {
	*softSigner
	pub *softSigner
}

func (m *mismatchedSigner) PublicKey() crypto.PublicKey { return m.pub.PublicKey() }

func TestAppendAfterClose(t *testing.T) {
	s := newSoftSigner(t)
	w, err := Open(filepath.Join(t.TempDir(), "audit.log"), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(record(1)); err == nil {
		t.Error("Append after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
