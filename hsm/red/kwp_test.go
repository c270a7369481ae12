package red

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The two examples of RFC 5649, section 6.
func TestWrapPadRFC5649Vectors(t *testing.T) {
	kek := "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
	tests := []struct{ name, key, wrapped string }{
		{"20 bytes", "c37b7e6492584340bed12207808941155068f738",
			"138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"7 bytes", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := WrapPad(unhex(t, kek), unhex(t, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tc.wrapped {
				t.Fatalf("WrapPad = %x, want %s", got, tc.wrapped)
			}
			back, err := UnwrapPad(unhex(t, kek), got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, unhex(t, tc.key)) {
				t.Fatalf("UnwrapPad = %x, want %s", back, tc.key)
			}
		})
	}
}

func TestUnwrapPadRefusesTampering(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 32)
	for _, size := range []int{1, 8, 9, 32, 100} {
		w, err := WrapPad(kek, bytes.Repeat([]byte{0xab}, size))
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			bad := bytes.Clone(w)
			bad[i] ^= 1
			if _, err := UnwrapPad(kek, bad); !errors.Is(err, ErrUnwrap) {
				t.Fatalf("size %d, flipped byte %d: err = %v, want ErrUnwrap", size, i, err)
			}
		}
		other := bytes.Repeat([]byte{8}, 32)
		if _, err := UnwrapPad(other, w); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("size %d, other key: err = %v, want ErrUnwrap", size, err)
		}
	}
}
