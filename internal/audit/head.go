package audit

import (
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Head names the last checkpoint of a log: its sequence and the SHA-256 hash of its line.
// A log cut back to an earlier checkpoint still verifies on its own, since every line left is
// chained and signed; only a head kept outside the log shows what was removed. The agent
// writes its log's head when it closes it, and custodians keep it with their records of the
// window; VerifyHead checks a log against it.
type Head struct {
	Sequence uint64
	Hash     [hashSize]byte
}

// String gives the head as SEQUENCE:HASH, the form ParseHead reads.
func (h Head) String() string {
	return fmt.Sprintf("%d:%x", h.Sequence, h.Hash)
}

// ParseHead reads a head written by String; surrounding white space is ignored.
func ParseHead(s string) (Head, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	var h Head
	n, err := strconv.ParseUint(seq, 10, 64)
	b, herr := hex.DecodeString(hash)
	if !ok || err != nil || n == 0 || herr != nil || len(b) != hashSize {
		return Head{}, fmt.Errorf("audit: %q is not a log head: want SEQUENCE:HASH, the "+
			"sequence of the last checkpoint and the %d-byte hash of its line in hex, as the "+
			"agent writes it", s, hashSize)
	}
	h.Sequence = n
	copy(h.Hash[:], b)
	return h, nil
}

// VerifyHead is Verify, and checks in addition that the log holds the checkpoint head names:
// a log that ends before it was cut short, and one that holds another checkpoint for the same
// record was rewritten from there. Records after the head, from later windows, are fine.
func VerifyHead(r io.Reader, pub crypto.PublicKey, head Head) (Report, error) {
	k, err := p256Key(pub)
	if err != nil {
		return Report{}, err
	}
	v, err := verifyLines(r, k)
	if v == nil {
		return Report{}, err
	}
	found, at := false, -1
	for i, l := range v.lines {
		if cp := l.entry.GetCheckpoint(); cp != nil && cp.GetSequence() == head.Sequence {
			found, at = l.hash == head.Hash, i
			break
		}
	}
	cut := &Problem{Kind: ErrCut, Line: v.rep.Lines + 1, Detail: fmt.Sprintf("the log ends "+
		"with record %d, but its recorded head is the checkpoint of record %d: the lines after "+
		"line %d were removed", v.rep.LastSequence, head.Sequence, v.rep.Lines)}
	switch {
	case v.rep.Problem != nil:
		// Damage at the end of a log that stops short of its head is the cut, not a crash.
		if at < 0 && v.rep.LastSequence < head.Sequence &&
			(errors.Is(v.rep.Problem, ErrTruncated) || errors.Is(v.rep.Problem, ErrIncomplete)) {
			cut.Detail += "; " + v.rep.Problem.Detail
			v.rep.Problem = cut
			return v.rep, cut
		}
		return v.rep, err
	case found:
		return v.rep, nil
	case at >= 0:
		v.rep.Problem = v.problem(ErrEdited, at, fmt.Sprintf("the checkpoint of record %d is "+
			"not the head recorded for the log (its line hashes to %x, the head says %x): "+
			"the log was rewritten from there", head.Sequence, v.lines[at].hash[:8], head.Hash[:8]))
	case v.rep.LastSequence >= head.Sequence:
		v.rep.Problem = &Problem{Kind: ErrEdited, Line: v.rep.Lines, Detail: fmt.Sprintf(
			"the log holds no checkpoint of record %d, which its recorded head names: the log "+
				"was rewritten", head.Sequence)}
	default:
		v.rep.Problem = cut
	}
	return v.rep, v.rep.Problem
}
