package main

import (
	"errors"

	"github.com/vsefab/vsefab/libs/vse"
)

// Return codes of the C ABI. exports.go defines the same values as C macros and does not
// compile if the two lists disagree.
const (
	codeOK             = 0
	codeArgument       = 1
	codeBufferTooSmall = 2
	codeAuth           = 3
	codeUnprovisioned  = 4
	codeInternal       = 5
	// A license refused by vse_license_check, one code per reason.
	codeLicenseSignature = 6
	codeLicenseCustomer  = 7
	codeLicenseApp       = 8
	codeLicenseExpired   = 9
)

// messages are vse_strerror's texts, indexed by code. They are for a developer reading a log,
// so each says what to do.
var messages = [...]string{
	codeOK: "success",
	codeArgument: "invalid argument: a NULL pointer with a non-zero length, a NULL length " +
		"pointer, a digest that is not 32 bytes, a challenge outside 16 to 1024 bytes, or input " +
		"that is not sealed data or not a license file",
	codeBufferTooSmall: "output buffer too small: *out_len now holds the size needed; " +
		"call again with a buffer that large",
	codeAuth: "sealed data failed authentication: it was altered, or sealed with other AAD, " +
		"another storage key or another customer's firmware",
	codeUnprovisioned: "firmware is not provisioned with a keyset: link the app against " +
		"the customer build of the library",
	codeInternal: "internal firmware error: the library or its keyset is faulty; " +
		"report it with the firmware ID",
	codeLicenseSignature: "license not signed by this firmware's vendor root key, or altered: " +
		"ask the vendor for a license made for this firmware",
	codeLicenseCustomer: "license is for another customer or another keyset version of this " +
		"firmware: use the license shipped with this firmware",
	codeLicenseApp:     "license does not list this app's ID: ask the vendor to add it",
	codeLicenseExpired: "license has expired at the time given: renew it with the vendor",
}

const unknownMessage = "unknown vse error code"

// message returns the text for code, or unknownMessage for a code this firmware never returns.
func message(code int) string {
	if code < 0 || code >= len(messages) {
		return unknownMessage
	}
	return messages[code]
}

// codeOf maps an error from package vse to the return code a C caller branches on.
func codeOf(err error) int {
	switch {
	case err == nil:
		return codeOK
	case errors.Is(err, vse.ErrUnprovisioned):
		return codeUnprovisioned
	case errors.Is(err, vse.ErrAuthentication):
		return codeAuth
	case errors.Is(err, vse.ErrMalformed), errors.Is(err, vse.ErrDigestSize), errors.Is(err, vse.ErrChallengeSize),
		errors.Is(err, vse.ErrLicenseMalformed):
		return codeArgument
	case errors.Is(err, vse.ErrLicenseSignature):
		return codeLicenseSignature
	case errors.Is(err, vse.ErrLicenseCustomer):
		return codeLicenseCustomer
	case errors.Is(err, vse.ErrLicenseApp):
		return codeLicenseApp
	case errors.Is(err, vse.ErrLicenseExpired):
		return codeLicenseExpired
	default:
		return codeInternal
	}
}
