// Package share is the firmware's half of the secret transformation: it recombines a secret
// from the masked, permuted shares that the red side spread over the generated keyset
// package. It never sees how the shares were made, and keeps a recombined secret only in the
// caller's buffer, which the caller wipes.
//
// A share is stored as Data[i] = s[Perm[i]] ^ Stream(Mask)[i], where s is one additive (XOR)
// share of the secret. The secret is the XOR of all its shares.
//
// Limitation: this is obfuscation, not a white-box construction. Anyone who runs the firmware
// under a debugger can read a secret at the moment of use.
package share

import "errors"

// Share is one masked, permuted additive share of a secret.
type Share struct {
	Data []byte // masked share bytes, in permuted order
	Perm []byte // Perm[i] is the position in the secret of Data[i]
	Mask uint64 // seed of the mask stream; never zero
}

// ErrMalformed reports shares whose lengths, permutation or mask do not fit the secret.
var ErrMalformed = errors.New("share: malformed share")

// Combine writes the secret recombined from shares into dst, which must be as long as every
// share. dst holds a plaintext secret afterwards: the caller wipes it with Wipe after use.
func Combine(dst []byte, shares ...Share) error {
	if len(shares) == 0 || len(dst) > 256 {
		return ErrMalformed
	}
	for _, s := range shares {
		if len(s.Data) != len(dst) || len(s.Perm) != len(dst) || s.Mask == 0 {
			return ErrMalformed
		}
		if !isPermutation(s.Perm) {
			return ErrMalformed
		}
	}

	Wipe(dst)
	for _, s := range shares {
		m := NewStream(s.Mask)
		for i, b := range s.Data {
			dst[s.Perm[i]] ^= b ^ m.Next()
		}
	}
	return nil
}

func isPermutation(p []byte) bool {
	var seen [256]bool
	for _, v := range p {
		if int(v) >= len(p) || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

// Wipe zeroes b.
func Wipe(b []byte) {
	clear(b)
}

// Stream is the mask stream: xorshift64*, one byte per step. It is a mask, not a cipher; its
// only job is that no share is stored as its plain bytes.
type Stream struct{ state uint64 }

// NewStream starts the mask stream for seed, which must not be zero.
func NewStream(seed uint64) *Stream { return &Stream{state: seed} }

// Next returns the next mask byte.
func (s *Stream) Next() byte {
	s.state ^= s.state >> 12
	s.state ^= s.state << 25
	s.state ^= s.state >> 27
	return byte((s.state * 0x2545F4914F6CDD1D) >> 56)
}
