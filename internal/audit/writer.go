package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// DefaultCheckpointEvery is how many records a checkpoint follows unless Options says otherwise.
const DefaultCheckpointEvery = 16

// Options tune a Writer.
type Options struct {
	// CheckpointEvery is how many records are appended between checkpoints; zero means
	// DefaultCheckpointEvery.
	CheckpointEvery int

	// AcceptUnprotectedTail lets Open continue a log that ends with records no checkpoint
	// covers, as a crash leaves it; the next checkpoint then covers them. Set it only after a
	// person has read those records: anyone who could write the file could have added them.
	AcceptUnprotectedTail bool
}

// Writer appends records to one log file. Its methods are safe for concurrent use.
type Writer struct {
	path   string
	signer Signer
	pub    *ecdsa.PublicKey
	every  int

	mu      sync.Mutex
	f       *os.File
	seq     uint64         // sequence of the last record written
	last    [hashSize]byte // hash of the last line written
	pending int            // records written since the last checkpoint
	head    Head           // the last checkpoint written; zero while there is none
	broken  error          // set when a write failed part way; nothing more is written
}

// Open opens the log at path for appending, creating it with mode 0600 if it does not exist.
// An existing log is verified first with the signer's public key; a log that does not verify
// is refused with Verify's error. Only one Writer may have a log open at a time.
func Open(path string, signer Signer, opts Options) (*Writer, error) {
	if signer == nil {
		return nil, errors.New("audit: Open needs a signer for the checkpoints")
	}
	pub, err := p256Key(signer.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("audit: signer %x: %w", signer.KeyID(), err)
	}
	every := opts.CheckpointEvery
	if every == 0 {
		every = DefaultCheckpointEvery
	}
	if every < 0 {
		return nil, fmt.Errorf("audit: CheckpointEvery is %d; give a positive count or zero "+
			"for %d", every, DefaultCheckpointEvery)
	}

	f, created, err := openFile(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, signer: signer, pub: pub, every: every, f: f}
	if created {
		// The new name must survive a crash as well as what is written under it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
		return w, nil
	}

	// The log is read through the descriptor just locked, so it is the file appended to.
	rep, st, err := verify(f, pub)
	if err != nil && !(opts.AcceptUnprotectedTail && errors.Is(err, ErrTruncated)) {
		f.Close()
		return nil, fmt.Errorf("audit: log %s cannot be continued: %w; keep it for review "+
			"and start a new log", path, err)
	}
	w.seq = rep.LastSequence
	w.last = st.lastHash
	w.pending = rep.Unprotected
	if rep.Unprotected == 0 && rep.Protected > 0 {
		w.head = Head{Sequence: rep.Protected, Hash: st.lastHash}
	}
	return w, nil
}

// openFile opens path for appending and takes the log's lock, refusing anything but a regular
// file only its owner may read and write.
func openFile(path string) (f *os.File, created bool, err error) {
	const flags = os.O_RDWR | os.O_APPEND | syscall.O_NOFOLLOW
	f, err = os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, 0o600)
	created = err == nil
	if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(path, flags, 0)
	}
	if err != nil {
		return nil, false, fmt.Errorf("audit: log %s: %w", path, err)
	}

	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("audit: log %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, fmt.Errorf("audit: log %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		f.Close()
		return nil, false, fmt.Errorf("audit: log %s has mode %04o, so others may read or "+
			"change it; check it, then chmod 600 it", path, perm)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("audit: log %s is open in another writer (%v); one "+
			"writer per log", path, err)
	}
	return f, created, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit: syncing directory %s: %w", dir, err)
	}
	return nil
}

// Append writes rec as the next record, and a checkpoint after it when one is due. When the
// checkpoint fails, the error says the record itself is written; the next Append or Close
// tries the checkpoint again.
func (w *Writer) Append(rec Record) error {
	if rec.Operation == "" {
		return errors.New("audit: a record needs an operation")
	}
	switch rec.Result {
	case OK, Refused, Failed:
	default:
		return fmt.Errorf("audit: result %q is none of ok, refused, failed", rec.Result)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}

	t := rec.Time
	if t.IsZero() {
		t = time.Now()
	}
	r := &vsefabpb.AuditRecord{
		Sequence:      w.seq + 1,
		Time:          t.UTC().Format(time.RFC3339Nano),
		Operation:     validText(rec.Operation),
		Customer:      validText(rec.Customer),
		KeysetVersion: rec.KeysetVersion,
		BazelTarget:   validText(rec.BazelTarget),
		Result:        string(rec.Result),
		Reason:        shorten(validText(rec.Reason), maxReason),
		PrevHash:      bytes.Clone(w.last[:]),
	}
	for _, id := range rec.KeyIDs {
		r.KeyIds = append(r.KeyIds, bytes.Clone(id))
	}
	entry := &vsefabpb.AuditEntry{Entry: &vsefabpb.AuditEntry_Record{Record: r}}
	if err := w.writeEntry(entry); err != nil {
		return err
	}
	w.seq++
	w.pending++

	if w.pending >= w.every {
		if err := w.checkpoint(); err != nil {
			return fmt.Errorf("%w (record %d itself is written)", err, w.seq)
		}
	}
	return nil
}

// Checkpoint signs and writes a checkpoint now if any record lacks one, then syncs the file.
func (w *Writer) Checkpoint() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.checkpoint()
}

// Close writes a last checkpoint if any record lacks one and closes the file. The log is
// closed even when the checkpoint fails.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.broken
	if err == nil {
		err = w.checkpoint()
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("audit: log %s: %w", w.path, cerr)
	}
	w.f = nil
	return err
}

// Head is the log's last checkpoint: after Close, the head of the whole log. ok is false while
// the log has no checkpoint.
func (w *Writer) Head() (h Head, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.head, w.head.Sequence > 0
}

func (w *Writer) usable() error {
	if w.f == nil {
		return fmt.Errorf("audit: log %s is closed", w.path)
	}
	return w.broken
}

// checkpoint signs the chain up to the last record, checks the signature with the public key
// as Verify will, writes it and syncs. It does nothing when every record is covered.
func (w *Writer) checkpoint() error {
	if w.pending == 0 {
		return nil
	}
	keyID := bytes.Clone(w.signer.KeyID())
	digest := checkpointDigest(w.seq, w.last[:], keyID)
	sig, err := w.signer.Sign(digest)
	if err != nil {
		return fmt.Errorf("audit: checkpoint %d of log %s: signing: %w", w.seq, w.path, err)
	}
	cp := &vsefabpb.AuditCheckpoint{
		Sequence: w.seq, RecordHash: bytes.Clone(w.last[:]), Signature: sig, KeyId: keyID,
	}
	if !checkSignature(w.pub, cp) {
		return fmt.Errorf("audit: checkpoint %d of log %s: signer %x made a signature its "+
			"own public key does not verify; check the signer", w.seq, w.path, keyID)
	}

	entry := &vsefabpb.AuditEntry{Entry: &vsefabpb.AuditEntry_Checkpoint{Checkpoint: cp}}
	if err := w.writeEntry(entry); err != nil {
		return err
	}
	w.pending = 0
	w.head = Head{Sequence: w.seq, Hash: w.last}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("audit: checkpoint %d of log %s: sync: %w", w.seq, w.path, err)
	}
	return nil
}

// writeEntry writes one line with one write, so an interrupted write leaves at most one
// incomplete last line, and moves the chain on. After a failed write the writer is broken:
// what the file ends with is unknown, and the next line could not chain to it.
func (w *Writer) writeEntry(e *vsefabpb.AuditEntry) error {
	line, err := encodeEntry(e)
	if err != nil {
		return err
	}
	n, err := w.f.Write(append(line, '\n'))
	if err != nil {
		w.broken = fmt.Errorf("audit: log %s: a write failed after %d of %d bytes (%v); "+
			"nothing more is written to it; keep it for review and start a new log",
			w.path, n, len(line)+1, err)
		return w.broken
	}
	w.last = sha256.Sum256(line)
	return nil
}

// validText replaces invalid UTF-8, which a JSON string cannot hold.
func validText(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

// shorten cuts s to at most n bytes on a character boundary, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
