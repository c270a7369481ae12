package main

import (
	"math"
	"unsafe"
)

// This file takes the C caller's pointers and lengths, as uintptr-sized values, checks them,
// and hands ops.go slices. Nothing here keeps a slice over caller memory past the call.

// cBytes returns the n bytes at p as a slice over the caller's memory, without copying. A NULL
// pointer is accepted only with length 0, so a caller may pass (NULL, 0) for empty input and
// for a size query.
func cBytes(p unsafe.Pointer, n uintptr) ([]byte, bool) {
	if n > math.MaxInt {
		return nil, false
	}
	if p == nil {
		return nil, n == 0
	}
	return unsafe.Slice((*byte)(p), int(n)), true
}

// cOut returns the output buffer at p whose capacity *lenp holds, and sets *lenp to 0 so
// that every failure leaves it 0; report sets it on success and on codeBufferTooSmall.
func cOut(p unsafe.Pointer, lenp *uintptr) ([]byte, bool) {
	if lenp == nil {
		return nil, false
	}
	capacity := *lenp
	*lenp = 0
	return cBytes(p, capacity)
}

// report stores n for the caller where the code says it means something, and returns code.
func report(lenp *uintptr, n, code int) int {
	if lenp != nil && (code == codeOK || code == codeBufferTooSmall) {
		*lenp = uintptr(n)
	}
	return code
}

// guard turns a panic into codeInternal. A Go panic that unwound into the app's C frames would
// take the whole app down.
//
// Limitation: fatal runtime errors, such as running out of memory or a fault on a wild
// pointer the caller passed, are not panics; they still end the process.
func guard(code *int) {
	if recover() != nil {
		*code = codeInternal
	}
}

func (f firmware) cSeal(pt unsafe.Pointer, ptLen uintptr, aad unsafe.Pointer, aadLen uintptr,
	out unsafe.Pointer, outLen *uintptr) (code int) {
	defer guard(&code)

	ptBuf, ok1 := cBytes(pt, ptLen)
	aadBuf, ok2 := cBytes(aad, aadLen)
	outBuf, ok3 := cOut(out, outLen)
	if !ok1 || !ok2 || !ok3 {
		return codeArgument
	}
	n, code := f.seal(ptBuf, aadBuf, outBuf)
	return report(outLen, n, code)
}

func (f firmware) cUnseal(in unsafe.Pointer, inLen uintptr, aad unsafe.Pointer, aadLen uintptr,
	out unsafe.Pointer, outLen *uintptr) (code int) {
	defer guard(&code)

	inBuf, ok1 := cBytes(in, inLen)
	aadBuf, ok2 := cBytes(aad, aadLen)
	outBuf, ok3 := cOut(out, outLen)
	if !ok1 || !ok2 || !ok3 {
		return codeArgument
	}
	n, code := f.unseal(inBuf, aadBuf, outBuf)
	return report(outLen, n, code)
}

func (f firmware) cSignDigest(digest unsafe.Pointer, digestLen uintptr, sig unsafe.Pointer,
	sigLen *uintptr) int {
	return cInOut(f.signDigest, digest, digestLen, sig, sigLen)
}

func (f firmware) cAttest(challenge unsafe.Pointer, challengeLen uintptr, sig unsafe.Pointer,
	sigLen *uintptr) int {
	return cInOut(f.attest, challenge, challengeLen, sig, sigLen)
}

func (f firmware) cLicenseCheck(license unsafe.Pointer, licenseLen uintptr, appID unsafe.Pointer,
	appIDLen uintptr, now int64) (code int) {
	defer guard(&code)

	lic, ok1 := cBytes(license, licenseLen)
	app, ok2 := cBytes(appID, appIDLen)
	if !ok1 || !ok2 || len(lic) == 0 || len(app) == 0 {
		return codeArgument
	}
	return f.checkLicense(lic, string(app), now)
}

// cInOut runs op, one of the operations from one input to one output, over the caller's
// buffers.
func cInOut(op func(in, out []byte) (int, int), in unsafe.Pointer, inLen uintptr, out unsafe.Pointer,
	outLen *uintptr) (code int) {
	defer guard(&code)

	inBuf, ok1 := cBytes(in, inLen)
	outBuf, ok2 := cOut(out, outLen)
	if !ok1 || !ok2 {
		return codeArgument
	}
	n, code := op(inBuf, outBuf)
	return report(outLen, n, code)
}

// cOutOnly runs op, one of the operations that only write output, over the caller's buffer.
func cOutOnly(op func([]byte) (int, int), out unsafe.Pointer, outLen *uintptr) (code int) {
	defer guard(&code)

	outBuf, ok := cOut(out, outLen)
	if !ok {
		return codeArgument
	}
	n, code := op(outBuf)
	return report(outLen, n, code)
}
