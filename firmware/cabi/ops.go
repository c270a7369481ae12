package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/vsefab/vsefab/firmware/keyset"
	"github.com/vsefab/vsefab/libs/vse"
)

// firmware is the keyset as the C ABI sees it, opened once.
//
// Each operation returns n and a code: on codeOK, n is the bytes written to the output; on
// codeBufferTooSmall, the output size needed; otherwise 0. Operations check, in order, the
// arguments, then that the firmware is provisioned, then the output size, so a caller's bug
// shows as codeArgument even in unprovisioned development builds.
type firmware struct {
	keyset *vse.Keyset
	err    error
}

// loaded is the firmware every exported function uses.
var loaded = sync.OnceValue(func() firmware { return openFirmware(keyset.Open) })

// openFirmware calls open, turning a panic into an error: it runs inside the first exported
// call, where a panic must not escape.
func openFirmware(open func() (*vse.Keyset, error)) (f firmware) {
	defer func() {
		if r := recover(); r != nil {
			f = firmware{err: fmt.Errorf("cabi: opening the keyset panicked: %v", r)}
		}
	}()

	ks, err := open()
	return firmware{keyset: ks, err: err}
}

// ready returns the keyset, or the code for why there is none to use.
func (f firmware) ready() (*vse.Keyset, int) {
	switch {
	case errors.Is(f.err, vse.ErrUnprovisioned):
		return nil, codeUnprovisioned
	case f.err != nil:
		return nil, codeInternal
	case f.keyset == nil:
		return nil, codeUnprovisioned
	}
	return f.keyset, codeOK
}

func (f firmware) seal(plaintext, aad, out []byte) (n, code int) {
	if len(plaintext) > math.MaxInt-vse.SealOverhead {
		return 0, codeArgument
	}
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}
	if need := len(plaintext) + vse.SealOverhead; len(out) < need {
		return need, codeBufferTooSmall
	}

	sealed, err := ks.Seal(plaintext, aad)
	if err != nil {
		return 0, codeOf(err)
	}
	return copy(out, sealed), codeOK
}

func (f firmware) unseal(sealed, aad, out []byte) (n, code int) {
	need, err := vse.UnsealedSize(sealed)
	if err != nil {
		return 0, codeOf(err)
	}
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}
	if len(out) < need {
		return need, codeBufferTooSmall
	}

	plaintext, err := ks.Unseal(sealed, aad)
	if err != nil {
		return 0, codeOf(err)
	}
	// The caller's buffer is now the only copy the caller asked for; the Go one goes.
	n = copy(out, plaintext)
	clear(plaintext)
	return n, codeOK
}

func (f firmware) signDigest(digest, sig []byte) (n, code int) {
	if len(digest) != sha256.Size {
		return 0, codeArgument
	}
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}
	// The length of a DER signature is known only after signing, so ask for room for the
	// longest rather than sign twice.
	if len(sig) < vse.MaxSignatureSize {
		return vse.MaxSignatureSize, codeBufferTooSmall
	}

	s, err := ks.SignDigest(digest)
	if err != nil {
		return 0, codeOf(err)
	}
	return copy(sig, s), codeOK
}

func (f firmware) attest(challenge, sig []byte) (n, code int) {
	if len(challenge) < vse.MinChallengeSize || len(challenge) > vse.MaxChallengeSize {
		return 0, codeArgument
	}
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}
	if len(sig) < vse.MaxSignatureSize {
		return vse.MaxSignatureSize, codeBufferTooSmall
	}
	s, err := ks.Attest(challenge)
	if err != nil {
		return 0, codeOf(err)
	}
	return copy(sig, s), codeOK
}

func (f firmware) checkLicense(license []byte, appID string, now int64) int {
	ks, code := f.ready()
	if code != codeOK {
		return code
	}
	_, err := ks.CheckLicense(license, appID, now)
	return codeOf(err)
}

func (f firmware) attestationPublicKey(out []byte) (n, code int) {
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}

	der, err := ks.AttestationPublicKey()
	if err != nil {
		return 0, codeOf(err)
	}
	if len(out) < len(der) {
		return len(der), codeBufferTooSmall
	}
	return copy(out, der), codeOK
}

func (f firmware) firmwareID(out []byte) (n, code int) {
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}
	return cString(out, ks.FirmwareID)
}

func (f firmware) version(out []byte) (n, code int) {
	ks, code := f.ready()
	if code != codeOK {
		return 0, code
	}
	return cString(out, ks.FirmwareVersion)
}

// cString writes s and a terminating NUL to out. n is the length without the NUL on success,
// and the size needed with the NUL when out is too small.
func cString(out []byte, s string) (n, code int) {
	// A NUL inside s would silently cut the string short in C.
	if strings.IndexByte(s, 0) >= 0 {
		return 0, codeInternal
	}
	if len(out) < len(s)+1 {
		return len(s) + 1, codeBufferTooSmall
	}
	n = copy(out, s)
	out[n] = 0
	return n, codeOK
}
