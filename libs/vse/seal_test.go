package vse_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/libs/vse/vsetest"
)

func acme() *vse.Keyset {
	return vsetest.Keyset("acme", vsetest.StorageKey, vsetest.AttestationKey)
}

func TestSealUnsealRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext, no aad", nil, nil},
		{"empty plaintext with aad", []byte{}, []byte("slot 1")},
		{"one byte", []byte{0x42}, []byte("slot 1")},
		{"a block and a half", bytes.Repeat([]byte("x"), 24), nil},
		{"large", bytes.Repeat([]byte("0123456789"), 10_000), []byte("backup")},
	}
	ks := acme()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := ks.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got, want := len(sealed), len(tt.plaintext)+vse.SealOverhead; got != want {
				t.Errorf("sealed length = %d, want %d", got, want)
			}
			if sealed[0] != 1 {
				t.Errorf("sealed version byte = %d, want 1", sealed[0])
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(sealed, tt.plaintext[:8]) {
				t.Error("sealed data contains the plaintext")
			}

			got, err := ks.Unseal(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Unseal: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Unseal = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	ks := acme()
	a, err := ks.Seal([]byte("same"), nil)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	b, err := ks.Seal([]byte("same"), nil)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Errorf("two seals used the same nonce %x", a[1:13])
	}
}

// TestSealFormat opens sealed data with AES-GCM directly, from the format as documented, so a
// change that would strand data already sealed on devices fails here.
func TestSealFormat(t *testing.T) {
	plaintext, aad := []byte("device secret"), []byte("slot 7")
	sealed, err := acme().Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}

	block, err := aes.NewCipher(vsetest.StorageKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	var gcmAAD []byte
	gcmAAD = append(gcmAAD, "vsefab/vse/seal\x00"...)
	gcmAAD = append(gcmAAD, 1)
	gcmAAD = binary.BigEndian.AppendUint32(gcmAAD, uint32(len("acme")))
	gcmAAD = append(gcmAAD, "acme"...)
	gcmAAD = append(gcmAAD, aad...)

	got, err := aead.Open(nil, sealed[1:13], sealed[13:], gcmAAD)
	if err != nil {
		t.Fatalf("opening sealed data as documented: %v", err)
	}
	if !bytes.Equal(got, plaintext) {
		t.Errorf("opened %q, want %q", got, plaintext)
	}
}

func TestUnsealedSize(t *testing.T) {
	tests := []struct {
		name    string
		sealed  []byte
		want    int
		wantErr error
	}{
		{"empty", nil, 0, vse.ErrMalformed},
		{"one byte short", append([]byte{1}, make([]byte, vse.SealOverhead-2)...), 0, vse.ErrMalformed},
		{"empty plaintext", append([]byte{1}, make([]byte, vse.SealOverhead-1)...), 0, nil},
		{"ten-byte plaintext", append([]byte{1}, make([]byte, vse.SealOverhead+9)...), 10, nil},
		{"version 0", make([]byte, vse.SealOverhead), 0, vse.ErrMalformed},
		{"version 2", append([]byte{2}, make([]byte, vse.SealOverhead)...), 0, vse.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vse.UnsealedSize(tt.sealed)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UnsealedSize error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("UnsealedSize = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestUnsealRejectsDamagedInput(t *testing.T) {
	aad := []byte("slot 1")
	sealed, err := acme().Seal([]byte("attested counter value"), aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}

	tests := []struct {
		name    string
		sealed  []byte
		aad     []byte
		wantErr error
	}{
		{"empty", nil, aad, vse.ErrMalformed},
		{"one byte short of the minimum", sealed[:vse.SealOverhead-1], aad, vse.ErrMalformed},
		{"unknown version", flip(0), aad, vse.ErrMalformed},
		{"nonce altered", flip(1), aad, vse.ErrAuthentication},
		{"ciphertext altered", flip(13), aad, vse.ErrAuthentication},
		{"tag altered", flip(len(sealed) - 1), aad, vse.ErrAuthentication},
		{"truncated", sealed[:len(sealed)-1], aad, vse.ErrAuthentication},
		{"extended", append(bytes.Clone(sealed), 0), aad, vse.ErrAuthentication},
		{"other aad", sealed, []byte("slot 2"), vse.ErrAuthentication},
		{"no aad", sealed, nil, vse.ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := acme().Unseal(tt.sealed, tt.aad)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unseal error = %v, want %v", err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Unseal returned %q alongside an error", got)
			}
		})
	}
}

func TestUnsealRefusesOtherKeysets(t *testing.T) {
	tests := []struct {
		name     string
		sealer   *vse.Keyset
		sealAAD  []byte
		opener   *vse.Keyset
		openAAD  []byte
		wantOpen bool
	}{
		{
			name:     "same customer and key",
			sealer:   acme(),
			opener:   vsetest.Keyset("acme", vsetest.StorageKey, vsetest.AttestationKey),
			wantOpen: true,
		},
		{
			name:   "other customer, same storage key",
			sealer: acme(),
			opener: vsetest.Keyset("globex", vsetest.StorageKey, vsetest.AttestationKey),
		},
		{
			name:   "same customer, other storage key",
			sealer: acme(),
			opener: vsetest.Keyset("acme", vsetest.OtherStorageKey, vsetest.AttestationKey),
		},
		{
			// Without the length prefix both would bind "acmex".
			name:    "customer name and aad shifted across their boundary",
			sealer:  acme(),
			sealAAD: []byte("x"),
			opener:  vsetest.Keyset("acmex", vsetest.StorageKey, vsetest.AttestationKey),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := tt.sealer.Seal([]byte("secret"), tt.sealAAD)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			_, err = tt.opener.Unseal(sealed, tt.openAAD)
			if tt.wantOpen && err != nil {
				t.Errorf("Unseal: %v, want it to open", err)
			}
			if !tt.wantOpen && !errors.Is(err, vse.ErrAuthentication) {
				t.Errorf("Unseal error = %v, want ErrAuthentication", err)
			}
		})
	}
}
