package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/vsefab/vsefab/firmware/keyset"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/libs/vse/vsetest"
)

// These tests call the layer under exports.go the way a C caller calls the library: pointers
// and lengths over memory the test owns.

func unprovisioned() firmware { return openFirmware(keyset.Open) }

func provisioned(customer string) firmware {
	return firmware{keyset: vsetest.Keyset(customer, vsetest.StorageKey, vsetest.AttestationKey)}
}

// ptr is what a C caller passes for b: NULL when it is empty.
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

var (
	digest    = func() []byte { d := sha256.Sum256([]byte("challenge")); return d[:] }()
	challenge = []byte("a verifier's 16+ byte challenge")
	// wellFormed looks like sealed data to every check that needs no key.
	wellFormed = append([]byte{1}, make([]byte, vse.SealOverhead+3)...)
)

// outCall is an ABI call that writes to an output buffer, with its other arguments bound.
type outCall struct {
	name string
	call func(f firmware, out unsafe.Pointer, outLen *uintptr) int
}

func outCalls(sealed []byte) []outCall {
	pt, aad := []byte("plaintext"), []byte("slot 1")
	return []outCall{
		{"vse_seal", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return f.cSeal(ptr(pt), uintptr(len(pt)), ptr(aad), uintptr(len(aad)), out, outLen)
		}},
		{"vse_unseal", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return f.cUnseal(ptr(sealed), uintptr(len(sealed)), ptr(aad), uintptr(len(aad)),
				out, outLen)
		}},
		{"vse_sign_digest", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return f.cSignDigest(ptr(digest), uintptr(len(digest)), out, outLen)
		}},
		{"vse_attest", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return f.cAttest(ptr(challenge), uintptr(len(challenge)), out, outLen)
		}},
		{"vse_attestation_public_key", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return cOutOnly(f.attestationPublicKey, out, outLen)
		}},
		{"vse_firmware_id", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return cOutOnly(f.firmwareID, out, outLen)
		}},
		{"vse_version", func(f firmware, out unsafe.Pointer, outLen *uintptr) int {
			return cOutOnly(f.version, out, outLen)
		}},
	}
}

func TestUnprovisionedFirmwareRefusesEveryCall(t *testing.T) {
	if _, code := loaded().ready(); code != codeUnprovisioned {
		t.Fatalf("the firmware this package links reports code %d, want %d (unprovisioned)",
			code, codeUnprovisioned)
	}

	for _, c := range outCalls(wellFormed) {
		t.Run(c.name, func(t *testing.T) {
			out := make([]byte, 4096)
			outLen := uintptr(len(out))
			if code := c.call(unprovisioned(), ptr(out), &outLen); code != codeUnprovisioned {
				t.Errorf("code = %d (%s), want %d", code, message(code), codeUnprovisioned)
			}
			if outLen != 0 {
				t.Errorf("*out_len = %d, want 0", outLen)
			}
			if !bytes.Equal(out, make([]byte, len(out))) {
				t.Error("output buffer was written")
			}
		})
	}
}

func TestArgumentErrors(t *testing.T) {
	buf := make([]byte, 4096)
	seven := []byte("7 bytes")
	tooLong := uintptr(math.MaxInt) + 1

	tests := []struct {
		name string
		call func(f firmware, outLen *uintptr) int
	}{
		{"seal: NULL plaintext with a length", func(f firmware, outLen *uintptr) int {
			return f.cSeal(nil, 5, nil, 0, ptr(buf), outLen)
		}},
		{"seal: NULL aad with a length", func(f firmware, outLen *uintptr) int {
			return f.cSeal(ptr(seven), 7, nil, 1, ptr(buf), outLen)
		}},
		{"seal: NULL output with a capacity", func(f firmware, outLen *uintptr) int {
			*outLen = 100
			return f.cSeal(ptr(seven), 7, nil, 0, nil, outLen)
		}},
		{"seal: length past the largest slice", func(f firmware, outLen *uintptr) int {
			return f.cSeal(ptr(seven), tooLong, nil, 0, ptr(buf), outLen)
		}},
		{"unseal: NULL input with a length", func(f firmware, outLen *uintptr) int {
			return f.cUnseal(nil, 40, nil, 0, ptr(buf), outLen)
		}},
		{"unseal: input shorter than any sealed data", func(f firmware, outLen *uintptr) int {
			return f.cUnseal(ptr(seven), 7, nil, 0, ptr(buf), outLen)
		}},
		{"unseal: unknown format version", func(f firmware, outLen *uintptr) int {
			in := bytes.Clone(wellFormed)
			in[0] = 9
			return f.cUnseal(ptr(in), uintptr(len(in)), nil, 0, ptr(buf), outLen)
		}},
		{"sign: empty digest", func(f firmware, outLen *uintptr) int {
			return f.cSignDigest(nil, 0, ptr(buf), outLen)
		}},
		{"sign: 31-byte digest", func(f firmware, outLen *uintptr) int {
			return f.cSignDigest(ptr(digest), 31, ptr(buf), outLen)
		}},
		{"sign: 48-byte digest", func(f firmware, outLen *uintptr) int {
			return f.cSignDigest(ptr(buf), 48, ptr(buf), outLen)
		}},
		{"sign: NULL digest with a length", func(f firmware, outLen *uintptr) int {
			return f.cSignDigest(nil, 32, ptr(buf), outLen)
		}},
		{"public key: NULL output with a capacity", func(f firmware, outLen *uintptr) int {
			return cOutOnly(f.attestationPublicKey, nil, outLen)
		}},
		{"version: NULL output with a capacity", func(f firmware, outLen *uintptr) int {
			return cOutOnly(f.version, nil, outLen)
		}},
	}
	firmwares := []struct {
		name string
		f    firmware
	}{
		{"unprovisioned", unprovisioned()},
		{"provisioned", provisioned("acme")},
	}
	for _, fw := range firmwares {
		for _, tt := range tests {
			t.Run(fw.name+"/"+tt.name, func(t *testing.T) {
				outLen := uintptr(len(buf))
				if code := tt.call(fw.f, &outLen); code != codeArgument {
					t.Errorf("code = %d (%s), want %d", code, message(code), codeArgument)
				}
				if outLen != 0 {
					t.Errorf("*out_len = %d, want 0", outLen)
				}
			})
		}
	}
}

func TestNullLengthPointer(t *testing.T) {
	buf := make([]byte, 4096)
	seven := []byte("7 bytes")
	tests := []struct {
		name string
		call func(f firmware) int
	}{
		{"seal: NULL out_len", func(f firmware) int {
			return f.cSeal(ptr(seven), 7, nil, 0, ptr(buf), nil)
		}},
		{"unseal: NULL out_len", func(f firmware) int {
			return f.cUnseal(ptr(wellFormed), uintptr(len(wellFormed)), nil, 0, ptr(buf), nil)
		}},
		{"sign: NULL sig_len", func(f firmware) int {
			return f.cSignDigest(ptr(digest), 32, ptr(buf), nil)
		}},
		{"public key: NULL out_len", func(f firmware) int {
			return cOutOnly(f.attestationPublicKey, ptr(buf), nil)
		}},
		{"firmware ID: NULL out_len", func(f firmware) int {
			return cOutOnly(f.firmwareID, ptr(buf), nil)
		}},
	}
	for _, f := range []firmware{unprovisioned(), provisioned("acme")} {
		for _, tt := range tests {
			if code := tt.call(f); code != codeArgument {
				t.Errorf("%s: code = %d (%s), want %d", tt.name, code, message(code), codeArgument)
			}
		}
	}
}

func TestBufferTooSmall(t *testing.T) {
	f := provisioned("acme")
	sealed := sealFor(t, f, []byte("plaintext"), []byte("slot 1"))
	wantSize := map[string]int{
		"vse_seal":                   len("plaintext") + vse.SealOverhead,
		"vse_unseal":                 len("plaintext"),
		"vse_sign_digest":            vse.MaxSignatureSize,
		"vse_attest":                 vse.MaxSignatureSize,
		"vse_attestation_public_key": 91,
		"vse_firmware_id":            len(f.keyset.FirmwareID) + 1,
		"vse_version":                len(f.keyset.FirmwareVersion) + 1,
	}

	for _, c := range outCalls(sealed) {
		t.Run(c.name, func(t *testing.T) {
			want := wantSize[c.name]

			var size uintptr // a size query: NULL with capacity 0
			if code := c.call(f, nil, &size); code != codeBufferTooSmall {
				t.Fatalf("size query: code = %d (%s), want %d",
					code, message(code), codeBufferTooSmall)
			}
			if int(size) != want {
				t.Errorf("size query: *out_len = %d, want %d", size, want)
			}

			short := bytes.Repeat([]byte{0xee}, want-1)
			shortLen := uintptr(len(short))
			if code := c.call(f, ptr(short), &shortLen); code != codeBufferTooSmall {
				t.Fatalf("one byte short: code = %d (%s), want %d",
					code, message(code), codeBufferTooSmall)
			}
			if int(shortLen) != want {
				t.Errorf("one byte short: *out_len = %d, want %d", shortLen, want)
			}
			if !bytes.Equal(short, bytes.Repeat([]byte{0xee}, want-1)) {
				t.Error("one byte short: the output buffer was written")
			}

			exact := make([]byte, want)
			exactLen := uintptr(len(exact))
			if code := c.call(f, ptr(exact), &exactLen); code != codeOK {
				t.Fatalf("exact size: code = %d (%s), want %d", code, message(code), codeOK)
			}
			if exactLen == 0 || int(exactLen) > want {
				t.Errorf("exact size: *out_len = %d, want 1 to %d", exactLen, want)
			}
		})
	}
}

// sealFor seals through the ABI and returns the sealed bytes.
func sealFor(t *testing.T, f firmware, pt, aad []byte) []byte {
	t.Helper()
	out := make([]byte, len(pt)+vse.SealOverhead)
	outLen := uintptr(len(out))
	if code := f.cSeal(ptr(pt), uintptr(len(pt)), ptr(aad), uintptr(len(aad)), ptr(out),
		&outLen); code != codeOK {
		t.Fatalf("vse_seal: code %d (%s)", code, message(code))
	}
	return out[:outLen]
}

func TestSealUnsealThroughABI(t *testing.T) {
	acme := provisioned("acme")
	pt, aad := []byte("wrapped session key"), []byte("slot 1")
	sealed := sealFor(t, acme, pt, aad)

	tests := []struct {
		name     string
		opener   firmware
		sealed   []byte
		aad      []byte
		wantCode int
	}{
		{"same firmware and aad", acme, sealed, aad, codeOK},
		{"empty plaintext", acme, sealFor(t, acme, nil, nil), nil, codeOK},
		{"other aad", acme, sealed, []byte("slot 2"), codeAuth},
		{"no aad", acme, sealed, nil, codeAuth},
		{"altered", acme, func() []byte { b := bytes.Clone(sealed); b[20] ^= 1; return b }(),
			aad, codeAuth},
		{"other customer's firmware", provisioned("globex"), sealed, aad, codeAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make([]byte, 256)
			outLen := uintptr(len(out))
			code := tt.opener.cUnseal(ptr(tt.sealed), uintptr(len(tt.sealed)), ptr(tt.aad),
				uintptr(len(tt.aad)), ptr(out), &outLen)
			if code != tt.wantCode {
				t.Fatalf("code = %d (%s), want %d", code, message(code), tt.wantCode)
			}
			if code != codeOK {
				if outLen != 0 {
					t.Errorf("*out_len = %d after a failure, want 0", outLen)
				}
				return
			}
			want, _ := vse.UnsealedSize(tt.sealed)
			if int(outLen) != want {
				t.Errorf("*out_len = %d, want %d", outLen, want)
			}
			if tt.name == "same firmware and aad" && !bytes.Equal(out[:outLen], pt) {
				t.Errorf("unsealed %q, want %q", out[:outLen], pt)
			}
		})
	}
}

func TestSignatureVerifiesUnderPublicKeyThroughABI(t *testing.T) {
	f := provisioned("acme")

	der := make([]byte, 128)
	derLen := uintptr(len(der))
	if code := cOutOnly(f.attestationPublicKey, ptr(der), &derLen); code != codeOK {
		t.Fatalf("vse_attestation_public_key: code %d (%s)", code, message(code))
	}
	key, err := x509.ParsePKIXPublicKey(der[:derLen])
	if err != nil {
		t.Fatalf("parsing the public key: %v", err)
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T, want *ecdsa.PublicKey", key)
	}

	sig := make([]byte, vse.MaxSignatureSize)
	sigLen := uintptr(len(sig))
	if code := f.cSignDigest(ptr(digest), uintptr(len(digest)), ptr(sig), &sigLen); code != codeOK {
		t.Fatalf("vse_sign_digest: code %d (%s)", code, message(code))
	}
	if !ecdsa.VerifyASN1(pub, digest, sig[:sigLen]) {
		t.Error("signature does not verify under the attestation public key")
	}

	sigLen = uintptr(len(sig))
	if code := f.cAttest(ptr(challenge), uintptr(len(challenge)), ptr(sig), &sigLen); code != codeOK {
		t.Fatalf("vse_attest: code %d (%s)", code, message(code))
	}
	if !ecdsa.VerifyASN1(pub, vse.AttestationDigest(f.keyset.FirmwareID, challenge), sig[:sigLen]) {
		t.Error("attestation does not verify under the attestation public key")
	}
	short := challenge[:vse.MinChallengeSize-1]
	sigLen = uintptr(len(sig))
	if code := f.cAttest(ptr(short), uintptr(len(short)), ptr(sig), &sigLen); code != codeArgument {
		t.Errorf("vse_attest of a %d-byte challenge: code %d, want codeArgument", len(short), code)
	}
}

func TestFirmwareStrings(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		op       func(firmware, []byte) (int, int)
		wantCode int
	}{
		{"firmware ID", "0123abcd", firmware.firmwareID, codeOK},
		{"version", "2.4.1", firmware.version, codeOK},
		{"empty version", "", firmware.version, codeOK},
		{"ID with a NUL inside", "01\x0023", firmware.firmwareID, codeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := provisioned("acme")
			f.keyset.FirmwareID, f.keyset.FirmwareVersion = tt.value, tt.value

			out := bytes.Repeat([]byte{0xee}, 64)
			outLen := uintptr(len(out))
			op := func(b []byte) (int, int) { return tt.op(f, b) }
			code := cOutOnly(op, ptr(out), &outLen)
			if code != tt.wantCode {
				t.Fatalf("code = %d (%s), want %d", code, message(code), tt.wantCode)
			}
			if code != codeOK {
				return
			}
			if int(outLen) != len(tt.value) {
				t.Errorf("*out_len = %d, want %d, the length without the NUL",
					outLen, len(tt.value))
			}
			if got := string(out[:outLen]); got != tt.value {
				t.Errorf("wrote %q, want %q", got, tt.value)
			}
			if out[outLen] != 0 {
				t.Errorf("byte after the string is %#x, want NUL", out[outLen])
			}
		})
	}
}

func TestOpenFirmware(t *testing.T) {
	ks := vsetest.Keyset("acme", vsetest.StorageKey, vsetest.AttestationKey)
	tests := []struct {
		name     string
		open     func() (*vse.Keyset, error)
		wantCode int
	}{
		{"provisioned", func() (*vse.Keyset, error) { return ks, nil }, codeOK},
		{"unprovisioned", func() (*vse.Keyset, error) {
			return nil, vse.ErrUnprovisioned
		}, codeUnprovisioned},
		{"wrapped unprovisioned", func() (*vse.Keyset, error) {
			return nil, fmt.Errorf("generated keyset: %w", vse.ErrUnprovisioned)
		}, codeUnprovisioned},
		{"no keyset and no error", func() (*vse.Keyset, error) { return nil, nil }, codeUnprovisioned},
		{"other error", func() (*vse.Keyset, error) {
			return nil, errors.New("integrity check failed")
		}, codeInternal},
		{"panic", func() (*vse.Keyset, error) { panic("generated keyset is broken") }, codeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := openFirmware(tt.open).ready()
			if code != tt.wantCode {
				t.Errorf("ready code = %d (%s), want %d", code, message(code), tt.wantCode)
			}
			if (got != nil) != (tt.wantCode == codeOK) {
				t.Errorf("ready keyset = %v with code %d", got, code)
			}
		})
	}
}

func TestGuardTurnsPanicIntoInternal(t *testing.T) {
	call := func() (code int) {
		defer guard(&code)
		var m map[string]int
		m["x"] = 1 // a nil-map write panics
		return codeOK
	}
	if code := call(); code != codeInternal {
		t.Errorf("code after a panic = %d, want %d", code, codeInternal)
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, codeOK},
		{vse.ErrUnprovisioned, codeUnprovisioned},
		{fmt.Errorf("x: %w", vse.ErrAuthentication), codeAuth},
		{fmt.Errorf("x: %w", vse.ErrMalformed), codeArgument},
		{fmt.Errorf("x: %w", vse.ErrDigestSize), codeArgument},
		{fmt.Errorf("x: %w", vse.ErrKeyset), codeInternal},
		{fmt.Errorf("x: %w", vse.ErrChallengeSize), codeArgument},
		{fmt.Errorf("x: %w", vse.ErrLicenseMalformed), codeArgument},
		{fmt.Errorf("x: %w", vse.ErrLicenseSignature), codeLicenseSignature},
		{fmt.Errorf("x: %w", vse.ErrLicenseCustomer), codeLicenseCustomer},
		{fmt.Errorf("x: %w", vse.ErrLicenseApp), codeLicenseApp},
		{fmt.Errorf("x: %w", vse.ErrLicenseExpired), codeLicenseExpired},
		{errors.New("anything else"), codeInternal},
	}
	for _, tt := range tests {
		if got := codeOf(tt.err); got != tt.want {
			t.Errorf("codeOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestMessages(t *testing.T) {
	seen := map[string]int{}
	for code := codeOK; code <= codeLicenseExpired; code++ {
		m := message(code)
		if m == "" || m == unknownMessage {
			t.Errorf("code %d has no message of its own", code)
		}
		if prev, ok := seen[m]; ok {
			t.Errorf("codes %d and %d share the message %q", prev, code, m)
		}
		seen[m] = code
	}
	for _, code := range []int{-1, codeLicenseExpired + 1, 1000} {
		if m := message(code); m != unknownMessage {
			t.Errorf("message(%d) = %q, want %q", code, m, unknownMessage)
		}
	}
	if !strings.Contains(message(codeBufferTooSmall), "out_len") {
		t.Errorf("buffer-too-small message %q does not tell the caller where the size is",
			message(codeBufferTooSmall))
	}
}

func TestLicenseCheckThroughABI(t *testing.T) {
	f := provisioned("acme")
	root, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.keyset.RootPublicKey, _ = x509.MarshalPKIXPublicKey(&root.PublicKey)
	lk, err := vse.LicenseKey(vsetest.StorageKey, "acme")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := vse.SealLicense(lk, "acme", 1, vse.LicenseTerms{AppIDs: []string{"com.acme.app"}, NotAfter: 100})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(signed)
	sig, err := ecdsa.SignASN1(rand.Reader, root, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	lic := vse.AppendLicenseSignature(signed, sig)
	check := func(lic []byte, app string, now int64) int {
		return f.cLicenseCheck(ptr(lic), uintptr(len(lic)), ptr([]byte(app)), uintptr(len(app)), now)
	}
	bad := bytes.Clone(lic)
	bad[10] ^= 1
	for _, tc := range []struct {
		name string
		code int
	}{
		{"valid", check(lic, "com.acme.app", 100)},
		{"expired", check(lic, "com.acme.app", 101)},
		{"wrong app", check(lic, "com.acme.other", 1)},
		{"flipped byte", check(bad, "com.acme.app", 1)},
		{"not a license", check([]byte("VSEL"), "com.acme.app", 1)},
		{"no app", check(lic, "", 1)},
	} {
		want := map[string]int{"valid": codeOK, "expired": codeLicenseExpired, "wrong app": codeLicenseApp,
			"flipped byte": codeLicenseSignature, "not a license": codeArgument, "no app": codeArgument}[tc.name]
		if tc.code != want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, tc.code, message(tc.code), want)
		}
	}
	if code := unprovisioned().cLicenseCheck(ptr(lic), uintptr(len(lic)), ptr([]byte("a")), 1, 1); code != codeUnprovisioned {
		t.Errorf("unprovisioned: code %d", code)
	}
}
