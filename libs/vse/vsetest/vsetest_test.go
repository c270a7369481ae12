package vsetest

import (
	"bytes"
	"testing"

	"github.com/vsefab/vsefab/libs/share"
)

func TestSplitCombinesToSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		n      int
	}{
		{"one share", StorageKey, 1},
		{"three shares", StorageKey, 3},
		{"five shares", AttestationKey, 5},
		{"one byte", []byte{0xa5}, 3},
		{"longest", bytes.Repeat([]byte{0x5a}, 256), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shares := Split(tt.secret, tt.n, 7)
			if len(shares) != tt.n {
				t.Fatalf("Split made %d shares, want %d", len(shares), tt.n)
			}
			for i, s := range shares {
				if bytes.Equal(s.Data, tt.secret) {
					t.Errorf("share %d holds the secret unmasked", i)
				}
			}

			got := make([]byte, len(tt.secret))
			if err := share.Combine(got, shares...); err != nil {
				t.Fatalf("Combine: %v", err)
			}
			if !bytes.Equal(got, tt.secret) {
				t.Errorf("Combine = %x, want %x", got, tt.secret)
			}
		})
	}
}

func TestSplitIsReproducible(t *testing.T) {
	a := Split(StorageKey, 3, 11)
	b := Split(StorageKey, 3, 11)
	c := Split(StorageKey, 3, 12)
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) || !bytes.Equal(a[i].Perm, b[i].Perm) ||
			a[i].Mask != b[i].Mask {
			t.Errorf("share %d differs between two splits with the same seed", i)
		}
	}
	if bytes.Equal(a[0].Data, c[0].Data) {
		t.Error("splits with different seeds made the same first share")
	}
}
