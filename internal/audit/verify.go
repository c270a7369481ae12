package audit

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Report is what Verify found. When it stops at a problem, the counts cover the lines before
// the problem.
type Report struct {
	Lines        int      // complete lines in the log
	Records      int      // records that verified
	Checkpoints  int      // checkpoints that verified
	LastSequence uint64   // the last record that verified
	Protected    uint64   // the last record a verified checkpoint covers, and with it all before
	Unprotected  int      // verified records after the last verified checkpoint
	Incomplete   bool     // the log ends in the middle of a line
	Problem      *Problem // the first bad entry; nil when the whole log verifies
}

// Problem is the first bad entry of a log. It is an error that wraps one of the Err values of
// this package, so callers branch with errors.Is.
type Problem struct {
	Kind     error  // ErrEdited, ErrDeleted, ...
	Line     int    // counted from 1
	Sequence uint64 // the sequence number the line holds; zero when there is none to read
	Detail   string // what is wrong, in words
}

func (p *Problem) Error() string {
	where := fmt.Sprintf("line %d", p.Line)
	if p.Sequence != 0 {
		where += fmt.Sprintf(" (sequence %d)", p.Sequence)
	}
	return fmt.Sprintf("audit: %s: %s: %s", where, strings.TrimPrefix(p.Kind.Error(), "audit: "),
		p.Detail)
}

func (p *Problem) Unwrap() error { return p.Kind }

// Verify reads a log to its end and checks it with the public key alone: every record chains
// to the line before it, sequence numbers run from 1 without gaps, every checkpoint follows the
// record it names and carries a valid signature, and no record comes after the last checkpoint.
// A log that passes returns a nil error. Otherwise the error is the Report's Problem, except
// when the log cannot be read or pub is not an ECDSA P-256 key.
func Verify(r io.Reader, pub crypto.PublicKey) (Report, error) {
	k, err := p256Key(pub)
	if err != nil {
		return Report{}, err
	}
	rep, _, err := verify(r, k)
	return rep, err
}

// tail is what a Writer needs to continue a log Verify has read.
type tail struct {
	lastHash [hashSize]byte
}

// line is one complete line of a log, parsed.
type line struct {
	hash  [hashSize]byte
	entry *vsefabpb.AuditEntry // nil when err is set
	err   error
}

// link returns the hash the line claims for the line before it.
func (l *line) link() []byte {
	if r := l.entry.GetRecord(); r != nil {
		return r.GetPrevHash()
	}
	return l.entry.GetCheckpoint().GetRecordHash()
}

func (l *line) sequence() uint64 {
	if r := l.entry.GetRecord(); r != nil {
		return r.GetSequence()
	}
	return l.entry.GetCheckpoint().GetSequence()
}

type verifier struct {
	pub   *ecdsa.PublicKey
	lines []line
	first map[[hashSize]byte]int // a line's hash to the first index holding it

	rep             Report
	tail            tail
	expect          uint64 // the sequence the next record must have
	unprotectedFrom int    // index of the first record no checkpoint covers yet; -1 if none
}

func verify(r io.Reader, pub *ecdsa.PublicKey) (Report, tail, error) {
	v, err := verifyLines(r, pub)
	if v == nil {
		return Report{}, tail{}, err
	}
	return v.rep, v.tail, err
}

// verifyLines is verify, returning the verifier with every line it parsed.
func verifyLines(r io.Reader, pub *ecdsa.PublicKey) (*verifier, error) {
	raw, partial, err := readLines(r)
	if err != nil {
		return nil, err
	}

	v := &verifier{pub: pub, first: make(map[[hashSize]byte]int, len(raw)), expect: 1,
		unprotectedFrom: -1}
	v.rep.Lines = len(raw)
	for i, b := range raw {
		l := line{hash: sha256.Sum256(b)}
		if len(b) > maxLine {
			l.err = fmt.Errorf("the line has %d bytes, more than the %d a line may hold",
				len(b), maxLine)
		} else {
			l.entry, l.err = decodeEntry(b)
		}
		if _, seen := v.first[l.hash]; !seen {
			v.first[l.hash] = i
		}
		v.lines = append(v.lines, l)
		raw[i] = nil
	}
	v.rep.Incomplete = len(partial) > 0

	if p := v.check(); p != nil {
		v.rep.Problem = p
		return v, p
	}

	v.rep.Unprotected = int(v.rep.LastSequence - v.rep.Protected)
	if n := len(v.lines); n > 0 {
		v.tail.lastHash = v.lines[n-1].hash
	}
	switch {
	case len(partial) > 0:
		v.rep.Problem = &Problem{Kind: ErrIncomplete, Line: len(raw) + 1,
			Detail: fmt.Sprintf("it has %d bytes and no newline; the lines before it verify, "+
				"and %d record(s) at their end have no checkpoint", len(partial),
				v.rep.Unprotected)}
	case v.rep.Unprotected > 0:
		v.rep.Problem = v.problem(ErrTruncated, v.unprotectedFrom, span("record",
			v.rep.Protected+1, v.rep.LastSequence, "is", "are")+" unprotected: the writer "+
			"stopped before its next checkpoint, or lines after them were removed")
	default:
		return v, nil
	}
	return v, v.rep.Problem
}

// readLines splits a log into its complete lines, without their newlines, and what follows
// the last newline.
func readLines(r io.Reader) (lines [][]byte, partial []byte, err error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.ReadBytes('\n')
		if n := len(b); n > 0 && b[n-1] == '\n' {
			lines = append(lines, b[:n-1])
		} else {
			partial = b
		}
		if err == io.EOF {
			return lines, partial, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("audit: reading the log: %w", err)
		}
	}
}

// check walks the lines in order and returns the first problem.
func (v *verifier) check() *Problem {
	for i := range v.lines {
		l := &v.lines[i]
		if l.err != nil {
			return v.problem(ErrMalformed, i, l.err.Error())
		}

		cp := l.entry.GetCheckpoint()
		if cp != nil && !checkSignature(v.pub, cp) {
			return v.problem(ErrForgedCheckpoint, i, fmt.Sprintf("the signature, by key %x as "+
				"the line says, does not verify with the public key given", cp.GetKeyId()))
		}
		if !bytes.Equal(l.link(), v.want(i)) {
			return v.brokenLink(i)
		}

		if cp == nil {
			if l.sequence() != v.expect {
				return v.misnumbered(i)
			}
			if v.unprotectedFrom < 0 {
				v.unprotectedFrom = i
			}
			v.rep.Records++
			v.rep.LastSequence = v.expect
			v.expect++
			continue
		}

		// The link holds, so record_hash is the hash of the line before, if there is one.
		var prev *vsefabpb.AuditRecord
		if i > 0 {
			prev = v.lines[i-1].entry.GetRecord()
		}
		if prev == nil {
			return v.problem(ErrInserted, i, "a checkpoint must follow the record it covers, "+
				"and this one follows none")
		}
		if cp.GetSequence() != prev.GetSequence() {
			return v.problem(ErrForgedCheckpoint, i, fmt.Sprintf("it names sequence %d but "+
				"signs record %d on the line before; the log's writer never does that",
				cp.GetSequence(), prev.GetSequence()))
		}
		v.rep.Checkpoints++
		v.rep.Protected = cp.GetSequence()
		v.unprotectedFrom = -1
	}
	return nil
}

// want is the link line i must hold: the hash of the line before, or zeros on the first line.
func (v *verifier) want(i int) []byte {
	if i == 0 {
		return make([]byte, hashSize)
	}
	return v.lines[i-1].hash[:]
}

// chainsTo reports whether line i exists, parses and holds link.
func (v *verifier) chainsTo(i int, link []byte) bool {
	return i < len(v.lines) && v.lines[i].err == nil && bytes.Equal(v.lines[i].link(), link)
}

// brokenLink explains why line i does not chain to the line before it.
func (v *verifier) brokenLink(i int) *Problem {
	l := &v.lines[i]

	// The line it chains to comes later: lines were moved. (decodeEntry checked the link's
	// length.)
	j, found := v.first[[hashSize]byte(l.link())]
	if found && j > i {
		return v.problem(ErrReordered, i, fmt.Sprintf("it chains to line %d, which comes "+
			"after it", j+1))
	}

	// The line was put in: the next one chains past it, or it copies an earlier line.
	if v.chainsTo(i+1, v.want(i)) {
		return v.problem(ErrInserted, i, fmt.Sprintf("line %d chains to the line before it",
			i+2))
	}
	if c := v.first[l.hash]; c < i {
		return v.problem(ErrInserted, i, fmt.Sprintf("it is a copy of line %d", c+1))
	}

	// The line it chains to is further back: the lines between were put in.
	if found && j < i-1 {
		return v.problem(ErrInserted, j+1, fmt.Sprintf("line %d chains to line %d, so %s put "+
			"in between", i+1, j+1, span("line", uint64(j+2), uint64(i), "was", "were")))
	}

	// The line it chains to is gone.
	if p := v.sequenceGap(i); p != nil {
		return p
	}

	// Nothing is missing, so a line was changed. When the next line does not chain to this
	// record either, this record's own link was changed; otherwise the line before it was.
	if i == 0 {
		return v.problem(ErrEdited, i, "the first line must chain to 32 zero bytes")
	}
	if l.entry.GetRecord() != nil && i+1 < len(v.lines) && v.lines[i+1].err == nil &&
		!v.chainsTo(i+1, l.hash[:]) {
		return v.problem(ErrEdited, i, fmt.Sprintf("it chains to no line of the log, and "+
			"line %d does not chain to it either", i+2))
	}
	return v.problem(ErrEdited, i-1, fmt.Sprintf("line %d does not chain to it: it was "+
		"changed, or a checkpoint after it removed", i+1))
}

// misnumbered explains a line that chains to the line before it but holds the wrong sequence.
func (v *verifier) misnumbered(i int) *Problem {
	if v.chainsTo(i+1, v.want(i)) {
		return v.problem(ErrInserted, i, fmt.Sprintf("line %d chains to the line before it",
			i+2))
	}
	return v.sequenceGap(i)
}

// sequenceGap explains line i by its sequence number when that is not the one expected: a
// higher number means records were deleted, a lower one that a line was added. It returns nil
// when the number is the one expected.
func (v *verifier) sequenceGap(i int) *Problem {
	got, want := v.lines[i].sequence(), v.expect
	if v.lines[i].entry.GetCheckpoint() != nil {
		// A checkpoint names the record before it; none before the first record.
		got++
	}
	switch {
	case got > want:
		return v.problem(ErrDeleted, i, span("record", want, got-1, "is", "are")+
			" missing before it")
	case got < want:
		return v.problem(ErrInserted, i, fmt.Sprintf("it holds sequence %d, but record %d "+
			"came before it", v.lines[i].sequence(), want-1))
	}
	return nil
}

func (v *verifier) problem(kind error, i int, detail string) *Problem {
	p := &Problem{Kind: kind, Line: i + 1, Detail: detail}
	if i < len(v.lines) && v.lines[i].err == nil {
		p.Sequence = v.lines[i].sequence()
	}
	return p
}

// span names the things numbered from to to with a verb that agrees: "record 7 is" or
// "records 5 to 9 are".
func span(thing string, from, to uint64, one, many string) string {
	if from == to {
		return fmt.Sprintf("%s %d %s", thing, from, one)
	}
	return fmt.Sprintf("%ss %d to %d %s", thing, from, to, many)
}
