package share

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// split is the red side's transformation, written out for the test: n additive shares of
// secret, each permuted and masked as Combine expects.
func split(t *testing.T, rng *rand.Rand, secret []byte, n int) []Share {
	t.Helper()
	parts := make([][]byte, n)
	last := bytes.Clone(secret)
	for k := 0; k < n-1; k++ {
		parts[k] = make([]byte, len(secret))
		for i := range parts[k] {
			parts[k][i] = byte(rng.UintN(256))
			last[i] ^= parts[k][i]
		}
	}
	parts[n-1] = last

	shares := make([]Share, n)
	for k, part := range parts {
		perm := make([]byte, len(secret))
		for i, p := range rng.Perm(len(secret)) {
			perm[i] = byte(p)
		}
		mask := rng.Uint64() | 1 // never zero
		m := NewStream(mask)
		data := make([]byte, len(secret))
		for i := range data {
			data[i] = part[perm[i]] ^ m.Next()
		}
		shares[k] = Share{Data: data, Perm: perm, Mask: mask}
	}
	return shares
}

func TestCombineRecoversSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789ABCDEF") // 32 bytes, like an AES-256 key
	rng := rand.New(rand.NewPCG(1, 2))
	shares := split(t, rng, secret, 3)

	for _, s := range shares {
		if bytes.Contains(s.Data, secret[:8]) {
			t.Fatalf("a share stores secret bytes in the clear: %x", s.Data)
		}
	}

	dst := make([]byte, len(secret))
	if err := Combine(dst, shares...); err != nil {
		t.Fatalf("Combine: %v", err)
	}
	if !bytes.Equal(dst, secret) {
		t.Fatalf("Combine = %q, want %q", dst, secret)
	}

	Wipe(dst)
	if !bytes.Equal(dst, make([]byte, len(secret))) {
		t.Fatalf("Wipe left %x", dst)
	}
}

func TestCombineNeedsEveryShare(t *testing.T) {
	secret := []byte("attestation-key-scalar-32-bytes!")
	rng := rand.New(rand.NewPCG(3, 4))
	shares := split(t, rng, secret, 3)

	dst := make([]byte, len(secret))
	if err := Combine(dst, shares[:2]...); err != nil {
		t.Fatalf("Combine: %v", err)
	}
	if bytes.Equal(dst, secret) {
		t.Fatal("two of three shares recombined the secret")
	}
}

func TestCombineRejectsMalformed(t *testing.T) {
	good := split(t, rand.New(rand.NewPCG(5, 6)), []byte("abcd"), 2)
	badPerm := good[0]
	badPerm.Perm = []byte{0, 0, 1, 2}
	zeroMask := good[0]
	zeroMask.Mask = 0

	for name, tc := range map[string]struct {
		dst    []byte
		shares []Share
	}{
		"no shares":       {make([]byte, 4), nil},
		"short dst":       {make([]byte, 3), good},
		"not permutation": {make([]byte, 4), []Share{badPerm, good[1]}},
		"zero mask":       {make([]byte, 4), []Share{zeroMask, good[1]}},
		"too long":        {make([]byte, 257), good},
	} {
		if err := Combine(tc.dst, tc.shares...); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Combine error = %v, want ErrMalformed", name, err)
		}
	}
}

func TestStreamIsDeterministic(t *testing.T) {
	a, b := NewStream(0x1234), NewStream(0x1234)
	c := NewStream(0x1235)
	same, differs := true, false
	for i := 0; i < 64; i++ {
		x, y, z := a.Next(), b.Next(), c.Next()
		same = same && x == y
		differs = differs || x != z
	}
	if !same {
		t.Error("two streams with one seed diverged")
	}
	if !differs {
		t.Error("streams with different seeds gave the same 64 bytes")
	}
}
