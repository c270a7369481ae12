// Package audit keeps the agent's audit trail: an append-only file with one JSON line per
// entry. Each record of an operation carries the SHA-256 hash of the line before it, so the
// lines form a chain; every few records, and when the log is closed, a checkpoint line signs
// the chain so far with an ECDSA P-256 key (in production, a key in the HSM). Verify checks a
// log with the public key alone and names the first line that is wrong and how.
//
// A record holds names, versions, key IDs, a Bazel target, a result and a message. Its type has
// no field for key values, shares or PIN bytes, and none may be put in its strings.
//
// Writer refuses to append to a log that does not verify, to share a log with another writer,
// and to use a log file others may read or write.
//
// A log cut back to one of its checkpoints verifies on its own; VerifyHead finds the cut,
// given the head the writer left when it closed the log (see Head). Records after the last
// checkpoint are reported as unprotected, not proven changed. Verify holds the
// whole log in memory, parsed: about a kilobyte a record.
package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Result says how an operation ended.
type Result string

// The results a record may hold.
const (
	OK      Result = "ok"
	Refused Result = "refused"
	Failed  Result = "failed"
)

// Record is one operation of the agent, as the caller describes it. Append adds the sequence
// number and the chain.
type Record struct {
	Time          time.Time // when the operation ended; zero means when Append is called
	Operation     string    // "generate", ...; required
	Customer      string
	KeysetVersion uint32
	KeyIDs        [][]byte // CKA_IDs of the keys the operation used
	BazelTarget   string
	Result        Result // required
	Reason        string // for Refused and Failed: the message the client was given
}

// Signer signs checkpoints. Sign gets a SHA-256 digest and returns an ASN.1 DER ECDSA P-256
// signature; KeyID names the key in the log (its CKA_ID in an HSM).
type Signer interface {
	Sign(digest []byte) ([]byte, error)
	PublicKey() crypto.PublicKey
	KeyID() []byte
}

// The kinds of damage Verify tells apart. A *Problem wraps exactly one of them.
var (
	ErrMalformed        = errors.New("audit: entry unreadable")
	ErrEdited           = errors.New("audit: entry edited")
	ErrDeleted          = errors.New("audit: records deleted")
	ErrInserted         = errors.New("audit: entry inserted")
	ErrReordered        = errors.New("audit: entries reordered")
	ErrForgedCheckpoint = errors.New("audit: checkpoint signature does not verify")
	ErrTruncated        = errors.New("audit: the log ends with records no checkpoint covers")
	ErrIncomplete       = errors.New("audit: the last entry is incomplete (a write was interrupted)")
	ErrCut              = errors.New("audit: the log ends before its recorded head")
)

// hashSize is the size of the chain's hashes: SHA-256.
const hashSize = sha256.Size

// maxLine bounds one line of a log. Append shortens reasons so a record stays far below it.
const (
	maxLine   = 1 << 20
	maxReason = 4096
)

// checkpointContext starts every signed digest, so a checkpoint signature cannot be taken for
// a signature the same key makes for anything else.
const checkpointContext = "vsefab audit checkpoint v1\n"

// checkpointDigest is what a checkpoint's signature covers; audit.proto describes it.
func checkpointDigest(seq uint64, recordHash, keyID []byte) []byte {
	h := sha256.New()
	h.Write([]byte(checkpointContext))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], seq)
	h.Write(n[:])
	h.Write(recordHash)
	h.Write(keyID)
	return h.Sum(nil)
}

// checkSignature reports whether sig is pub's signature of a checkpoint.
func checkSignature(pub *ecdsa.PublicKey, cp *vsefabpb.AuditCheckpoint) bool {
	if len(cp.GetRecordHash()) != hashSize {
		return false
	}
	digest := checkpointDigest(cp.GetSequence(), cp.GetRecordHash(), cp.GetKeyId())
	return ecdsa.VerifyASN1(pub, digest, cp.GetSignature())
}

// p256Key returns pub as an ECDSA P-256 key, or says why it is not one.
func p256Key(pub crypto.PublicKey) (*ecdsa.PublicKey, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k == nil {
		return nil, fmt.Errorf("audit: the public key is a %T; checkpoints are signed with "+
			"ECDSA P-256", pub)
	}
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("audit: the public key is on %s; checkpoints are signed with "+
			"ECDSA P-256", k.Curve.Params().Name)
	}
	return k, nil
}

var lineJSON = protojson.MarshalOptions{UseProtoNames: true}

// encodeEntry returns the line for e, without its newline: the protojson form made compact, so
// the same entry always gives the same bytes from one version of this package.
func encodeEntry(e *vsefabpb.AuditEntry) ([]byte, error) {
	js, err := lineJSON.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding an entry: %w", err)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, js); err != nil {
		return nil, fmt.Errorf("audit: encoding an entry: %w", err)
	}
	if line.Len() > maxLine {
		return nil, fmt.Errorf("audit: an entry of %d bytes is longer than the %d a line may "+
			"hold", line.Len(), maxLine)
	}
	return line.Bytes(), nil
}

// decodeEntry parses one line and checks the fields Verify relies on.
func decodeEntry(line []byte) (*vsefabpb.AuditEntry, error) {
	var e vsefabpb.AuditEntry
	if err := protojson.Unmarshal(line, &e); err != nil {
		return nil, fmt.Errorf("not an audit entry: %v", err)
	}
	switch {
	case e.GetRecord() != nil:
		r := e.GetRecord()
		if len(r.GetPrevHash()) != hashSize {
			return nil, fmt.Errorf("prev_hash has %d bytes, not %d", len(r.GetPrevHash()),
				hashSize)
		}
		if r.GetSequence() == 0 {
			return nil, errors.New("a record without a sequence number")
		}
		if r.GetOperation() == "" {
			return nil, errors.New("a record without an operation")
		}
		switch Result(r.GetResult()) {
		case OK, Refused, Failed:
		default:
			return nil, fmt.Errorf("result %q is none of ok, refused, failed", r.GetResult())
		}
		if _, err := time.Parse(time.RFC3339Nano, r.GetTime()); err != nil {
			return nil, fmt.Errorf("time %q is not RFC 3339", r.GetTime())
		}
	case e.GetCheckpoint() != nil:
		c := e.GetCheckpoint()
		if len(c.GetRecordHash()) != hashSize {
			return nil, fmt.Errorf("record_hash has %d bytes, not %d", len(c.GetRecordHash()),
				hashSize)
		}
	default:
		return nil, errors.New("neither a record nor a checkpoint")
	}
	return &e, nil
}
