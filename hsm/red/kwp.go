package red

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// RFC 5649 alternative initial value, high half.
const kwpAIV = 0xA65959A6

// ErrUnwrap reports a wrapped key that fails its integrity check: wrong key or altered data.
var ErrUnwrap = errors.New("red: key unwrap failed: wrong key-encryption key or altered data")

// WrapPad wraps plaintext under kek with AES key wrap with padding (RFC 5649). The emulator
// uses it; a PKCS#11 token does the same with CKM_AES_KEY_WRAP_PAD inside the HSM.
func WrapPad(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key wrap: key-encryption key: %w", err)
	}
	if len(plaintext) == 0 || uint64(len(plaintext)) > 1<<32-1 {
		return nil, fmt.Errorf("key wrap: plaintext length %d is outside 1..2^32-1", len(plaintext))
	}

	n := (len(plaintext) + 7) / 8
	out := make([]byte, 8+8*n)
	binary.BigEndian.PutUint32(out[0:4], kwpAIV)
	binary.BigEndian.PutUint32(out[4:8], uint32(len(plaintext)))
	copy(out[8:], plaintext)

	if n == 1 {
		block.Encrypt(out, out)
		return out, nil
	}
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	clear(b[:])
	return out, nil
}

// UnwrapPad reverses WrapPad. The result is plaintext key material: the caller wipes it.
func UnwrapPad(kek, wrapped []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key unwrap: key-encryption key: %w", err)
	}
	if len(wrapped) < 16 || len(wrapped)%8 != 0 {
		return nil, fmt.Errorf("key unwrap: wrapped length %d is not a multiple of 8 of at least 16: %w",
			len(wrapped), ErrUnwrap)
	}

	n := len(wrapped)/8 - 1
	buf := make([]byte, len(wrapped))
	copy(buf, wrapped)
	if n == 1 {
		block.Decrypt(buf, buf)
	} else {
		var b [16]byte
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(buf[:8])^t)
				copy(b[8:], buf[8*i:8*i+8])
				block.Decrypt(b[:], b[:])
				copy(buf[:8], b[:8])
				copy(buf[8*i:8*i+8], b[8:])
			}
		}
		clear(b[:])
	}

	mli := int(binary.BigEndian.Uint32(buf[4:8]))
	ok := binary.BigEndian.Uint32(buf[0:4]) == kwpAIV && mli > 8*(n-1) && mli <= 8*n
	if ok {
		var zero [8]byte
		pad := buf[8+mli:]
		ok = subtle.ConstantTimeCompare(pad, zero[:len(pad)]) == 1
	}
	if !ok {
		clear(buf)
		return nil, ErrUnwrap
	}
	out := make([]byte, mli)
	copy(out, buf[8:8+mli])
	clear(buf)
	return out, nil
}
