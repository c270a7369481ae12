package vse

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vsefab/vsefab/libs/share"
)

// oneShare stores secret as a single share with the identity permutation. The external tests
// use vsetest for realistic splits; this file cannot import it without an import cycle.
func oneShare(secret []byte) []share.Share {
	const mask = 0x9e3779b97f4a7c15
	stream := share.NewStream(mask)
	data := make([]byte, len(secret))
	for i := range secret {
		data[i] = secret[i] ^ stream.Next()
	}
	return []share.Share{{Data: data, Perm: identity(len(secret)), Mask: mask}}
}

func identity(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

func TestWithSecretWipesAfterUse(t *testing.T) {
	secret := bytes.Repeat([]byte{0xa7}, 32)
	errUse := errors.New("use failed")

	tests := []struct {
		name    string
		outcome func() error // what use returns, after it has kept the buffer
		wantErr error
		panics  bool
	}{
		{name: "use succeeds", outcome: func() error { return nil }},
		{name: "use fails", outcome: func() error { return errUse }, wantErr: errUse},
		{name: "use panics", outcome: func() error { panic("use panicked") }, panics: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The test keeps the buffer on purpose, to look at it after withSecret returns.
			var kept []byte
			var err error
			func() {
				defer func() {
					if r := recover(); (r != nil) != tt.panics {
						t.Errorf("recovered %v, want a panic: %v", r, tt.panics)
					}
				}()
				err = withSecret("test key", oneShare(secret), len(secret), func(b []byte) error {
					if !bytes.Equal(b, secret) {
						t.Errorf("use got %x, want the recombined secret %x", b, secret)
					}
					kept = b
					return tt.outcome()
				})
			}()

			if !errors.Is(err, tt.wantErr) {
				t.Errorf("withSecret error = %v, want %v", err, tt.wantErr)
			}
			if len(kept) != len(secret) {
				t.Fatalf("use saw %d bytes, want %d", len(kept), len(secret))
			}
			if !bytes.Equal(kept, make([]byte, len(secret))) {
				t.Errorf("buffer after withSecret = %x, want all zero", kept)
			}
		})
	}
}

func TestWithSecretRefusesBadShares(t *testing.T) {
	tests := []struct {
		name   string
		shares []share.Share
		size   int
	}{
		{"no shares", nil, 32},
		{"shares shorter than the secret", oneShare(make([]byte, 16)), 32},
		{"shares longer than the secret", oneShare(make([]byte, 33)), 32},
		{"zero mask", []share.Share{{Data: make([]byte, 32), Perm: identity(32)}}, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := withSecret("test key", tt.shares, tt.size, func([]byte) error {
				called = true
				return nil
			})
			if !errors.Is(err, ErrKeyset) {
				t.Errorf("withSecret error = %v, want ErrKeyset", err)
			}
			if called {
				t.Error("withSecret called use with shares it should have refused")
			}
		})
	}
}
