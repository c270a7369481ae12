package main

/*
#include <stddef.h>
#include <stdint.h>

// Virtual secure element firmware: C ABI.
//
// Return codes. vse_strerror(code) describes each.
#define VSE_OK 0
#define VSE_ERR_ARGUMENT 1
#define VSE_ERR_BUFFER_TOO_SMALL 2
#define VSE_ERR_AUTH 3
#define VSE_ERR_UNPROVISIONED 4
#define VSE_ERR_INTERNAL 5
#define VSE_ERR_LICENSE_SIGNATURE 6
#define VSE_ERR_LICENSE_CUSTOMER 7
#define VSE_ERR_LICENSE_APP 8
#define VSE_ERR_LICENSE_EXPIRED 9

// Rules every function follows:
//  - An input or output pointer may be NULL only when its length is 0. A length pointer
//    (out_len, sig_len) may never be NULL. Breaking either gives VSE_ERR_ARGUMENT.
//  - On entry *out_len is the capacity of out. On VSE_OK it is the number of bytes written.
//    On VSE_ERR_BUFFER_TOO_SMALL it is the capacity needed, and out is untouched, so a call
//    with (NULL, &len) and len == 0 asks for the size. On any other code it is 0.
//  - Arguments are checked before the keyset, so a malformed call gives VSE_ERR_ARGUMENT
//    even from unprovisioned firmware, which otherwise gives VSE_ERR_UNPROVISIONED.
//  - Any function may be called from any thread at any time.
//
// vse_seal: encrypts and authenticates pt under the storage key, bound to aad and to the
//   customer. out needs pt_len + VSE_SEAL_OVERHEAD bytes.
// vse_unseal: opens data made by vse_seal given the same aad. out needs
//   in_len - VSE_SEAL_OVERHEAD bytes. VSE_ERR_AUTH: the data was altered, or sealed with other
//   aad, another storage key or another customer's firmware. VSE_ERR_ARGUMENT: in is not
//   sealed data.
// vse_sign_digest: signs a SHA-256 digest, which must be 32 bytes, with the attestation key.
//   Writes an ECDSA P-256 signature in ASN.1 DER; sig needs VSE_SIGNATURE_MAX_LEN bytes.
// vse_attest: answers a verifier's challenge (16 to 1024 bytes) with an ECDSA P-256 signature
//   in ASN.1 DER by the attestation key over SHA-256("vsefab attestation v1" 0x00 firmware ID
//   0x00 challenge); sig needs VSE_SIGNATURE_MAX_LEN bytes. `vsefab verify-attestation`
//   checks it against the firmware's signed manifest.
// vse_license_check: checks a license file (from vse_license) for the app app_id at time
//   now_unix (Unix seconds, from a clock the caller trusts). VSE_OK: signed by the vendor's
//   root key, for this customer and keyset, listing app_id, not expired.
//   VSE_ERR_LICENSE_SIGNATURE: not the vendor's, or altered. VSE_ERR_LICENSE_CUSTOMER:
//   another customer's or keyset's. VSE_ERR_LICENSE_APP: app_id not listed.
//   VSE_ERR_LICENSE_EXPIRED: past its date. VSE_ERR_ARGUMENT: not a license file, or empty.
// vse_attestation_public_key: writes the attestation public key as a DER
//   SubjectPublicKeyInfo.
// vse_firmware_id, vse_version: write the firmware ID (hex) or the firmware version with a
//   terminating NUL. On VSE_OK *out_len is the length without the NUL; on
//   VSE_ERR_BUFFER_TOO_SMALL it is the capacity needed, NUL included.
// vse_strerror: a static description of a return code; do not free it.

// Sealed data is this many bytes longer than its plaintext.
#define VSE_SEAL_OVERHEAD 29

// The longest signature vse_sign_digest writes. A smaller sig buffer gets
// VSE_ERR_BUFFER_TOO_SMALL even when the signature would have fitted.
#define VSE_SIGNATURE_MAX_LEN 72

// cgo writes the prototypes below this preamble from Go types, which cannot say const; these
// names carry it into them.
typedef const uint8_t vse_const_u8;
typedef const char vse_const_char;
*/
import "C"

import (
	"unsafe"

	"github.com/vsefab/vsefab/libs/vse"
)

// These fail to compile when the C macros and the Go constants disagree, or when size_t and
// uintptr differ in size, which args.go's conversions rely on.
var (
	_ = [1]struct{}{}[C.VSE_OK-codeOK]
	_ = [1]struct{}{}[C.VSE_ERR_ARGUMENT-codeArgument]
	_ = [1]struct{}{}[C.VSE_ERR_BUFFER_TOO_SMALL-codeBufferTooSmall]
	_ = [1]struct{}{}[C.VSE_ERR_AUTH-codeAuth]
	_ = [1]struct{}{}[C.VSE_ERR_UNPROVISIONED-codeUnprovisioned]
	_ = [1]struct{}{}[C.VSE_ERR_INTERNAL-codeInternal]
	_ = [1]struct{}{}[C.VSE_ERR_LICENSE_SIGNATURE-codeLicenseSignature]
	_ = [1]struct{}{}[C.VSE_ERR_LICENSE_CUSTOMER-codeLicenseCustomer]
	_ = [1]struct{}{}[C.VSE_ERR_LICENSE_APP-codeLicenseApp]
	_ = [1]struct{}{}[C.VSE_ERR_LICENSE_EXPIRED-codeLicenseExpired]
	_ = [1]struct{}{}[C.VSE_SEAL_OVERHEAD-vse.SealOverhead]
	_ = [1]struct{}{}[C.VSE_SIGNATURE_MAX_LEN-vse.MaxSignatureSize]
	_ = [1]struct{}{}[unsafe.Sizeof(C.size_t(0))-unsafe.Sizeof(uintptr(0))]
)

// cMessages holds vse_strerror's texts in C memory, made once and never freed, so the pointers
// it returns stay valid for the life of the process. The last entry is for unknown codes.
var cMessages = func() []*C.char {
	m := make([]*C.char, len(messages)+1)
	for code := range messages {
		m[code] = C.CString(messages[code])
	}
	m[len(messages)] = C.CString(unknownMessage)
	return m
}()

func sizePtr(p *C.size_t) *uintptr { return (*uintptr)(unsafe.Pointer(p)) }

// The exported functions only convert C types for args.go. What each promises a C caller is
// written in the preamble above, because cgo copies the preamble, and not Go comments, into the
// generated header. Parameter names are C style because they appear there too.

//export vse_seal
func vse_seal(pt *C.vse_const_u8, pt_len C.size_t, aad *C.vse_const_u8, aad_len C.size_t,
	out *C.uint8_t, out_len *C.size_t) C.int {
	return C.int(loaded().cSeal(unsafe.Pointer(pt), uintptr(pt_len), unsafe.Pointer(aad),
		uintptr(aad_len), unsafe.Pointer(out), sizePtr(out_len)))
}

//export vse_unseal
func vse_unseal(in *C.vse_const_u8, in_len C.size_t, aad *C.vse_const_u8, aad_len C.size_t,
	out *C.uint8_t, out_len *C.size_t) C.int {
	return C.int(loaded().cUnseal(unsafe.Pointer(in), uintptr(in_len), unsafe.Pointer(aad),
		uintptr(aad_len), unsafe.Pointer(out), sizePtr(out_len)))
}

//export vse_sign_digest
func vse_sign_digest(digest *C.vse_const_u8, digest_len C.size_t,
	sig *C.uint8_t, sig_len *C.size_t) C.int {
	return C.int(loaded().cSignDigest(unsafe.Pointer(digest), uintptr(digest_len),
		unsafe.Pointer(sig), sizePtr(sig_len)))
}

//export vse_attest
func vse_attest(challenge *C.vse_const_u8, challenge_len C.size_t,
	sig *C.uint8_t, sig_len *C.size_t) C.int {
	return C.int(loaded().cAttest(unsafe.Pointer(challenge), uintptr(challenge_len),
		unsafe.Pointer(sig), sizePtr(sig_len)))
}

//export vse_license_check
func vse_license_check(license *C.vse_const_u8, license_len C.size_t, app_id *C.vse_const_char,
	app_id_len C.size_t, now_unix C.int64_t) C.int {
	return C.int(loaded().cLicenseCheck(unsafe.Pointer(license), uintptr(license_len),
		unsafe.Pointer(app_id), uintptr(app_id_len), int64(now_unix)))
}

//export vse_attestation_public_key
func vse_attestation_public_key(out *C.uint8_t, out_len *C.size_t) C.int {
	return C.int(cOutOnly(loaded().attestationPublicKey, unsafe.Pointer(out), sizePtr(out_len)))
}

//export vse_firmware_id
func vse_firmware_id(out *C.char, out_len *C.size_t) C.int {
	return C.int(cOutOnly(loaded().firmwareID, unsafe.Pointer(out), sizePtr(out_len)))
}

//export vse_version
func vse_version(out *C.char, out_len *C.size_t) C.int {
	return C.int(cOutOnly(loaded().version, unsafe.Pointer(out), sizePtr(out_len)))
}

//export vse_strerror
func vse_strerror(code C.int) *C.vse_const_char {
	i := int(code)
	if i < 0 || i >= len(messages) {
		i = len(messages)
	}
	return (*C.vse_const_char)(unsafe.Pointer(cMessages[i]))
}
