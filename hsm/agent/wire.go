// Package agent is the boundary between the black side and the red side when the HSM is a
// real token: the agent process holds the logged-in HSM session and the red side, and
// answers vsefab gen (the black side, run by Bazel actions) over a unix socket with the
// protocol of proto/agent.proto. Nothing it sends can be a plaintext secret: the protocol
// has no message that could hold one.
package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// maxMessage bounds one framed message. A generate response is a few tens of kilobytes; the
// bound keeps a confused peer from making the other side allocate without limit.
const maxMessage = 16 << 20

// ErrTooLarge reports a frame longer than maxMessage.
var ErrTooLarge = errors.New("agent: message too large")

func writeMessage(w io.Writer, m proto.Message) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	if len(b) > maxMessage {
		return ErrTooLarge
	}
	frame := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(frame, uint32(len(b)))
	copy(frame[4:], b)
	_, err = w.Write(frame)
	return err
}

func readMessage(r io.Reader, m proto.Message) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessage {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return proto.Unmarshal(b, m)
}
