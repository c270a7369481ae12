package p11

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// Sentinel errors callers branch on with errors.Is. The PKCS#11 return value, when there is
// one, is reachable too: errors.As(err, new(pkcs11.Error)).
var (
	// ErrNotModule: the file is not a loadable PKCS#11 module.
	ErrNotModule = errors.New("not a PKCS#11 module")
	// ErrNoToken: no token, or more than one, carries the label asked for.
	ErrNoToken = errors.New("no single token with that label")
	// ErrNotFound: an object lookup matched nothing.
	ErrNotFound = errors.New("no object matches")
	// ErrAmbiguous: an object lookup matched more than one object.
	ErrAmbiguous = errors.New("several objects match")
	// ErrMechanism: the token lacks a mechanism, or a use or key size of it.
	ErrMechanism = errors.New("token lacks a mechanism")
	// ErrSensitive: the token refuses to reveal an attribute.
	ErrSensitive = errors.New("attribute is sensitive")
	// ErrAttribute: an attribute is missing or does not hold what was expected.
	ErrAttribute = errors.New("unexpected attribute")
	// ErrECPoint: CKA_EC_POINT is not a DER OCTET STRING holding an uncompressed P-256 point.
	ErrECPoint = errors.New("malformed EC point")
	// ErrClosed: the module or token was closed.
	ErrClosed = errors.New("closed")
)

// Error is a failed step against a PKCS#11 module: what was done, to what, on which token,
// why it failed and what to do about it.
type Error struct {
	Op     string // the step: "C_Login", "find", "read attributes", ...
	Token  string // the token label; empty for module-wide steps
	Object string // the object, usually its label; empty when the step has none
	Err    error  // a pkcs11.Error, one of the sentinel errors, or both joined
	Hint   string // what to do next; may be empty
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("p11: ")
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" " + e.Object)
	}
	if e.Token != "" {
		fmt.Fprintf(&b, " on token %q", e.Token)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// wrapRV wraps an error returned by miekg/pkcs11 with what was being done, adding the hint
// its return value suggests.
func wrapRV(op, token, object string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Token: token, Object: object, Err: err}
	var rv pkcs11.Error
	if errors.As(err, &rv) {
		e.Hint = hints[uint(rv)]
	}
	return e
}

// IsRV reports whether err carries the PKCS#11 return value rv.
func IsRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

var hints = map[uint]string{
	pkcs11.CKR_PIN_INCORRECT: "the PIN, both custodians' halves together, is not the token's: " +
		"both custodians enter their halves again (which half was wrong cannot be told); " +
		"tokens lock the user after repeated failures",
	pkcs11.CKR_PIN_LOCKED:         "the user PIN is locked: the security officer must unlock or reset it",
	pkcs11.CKR_PIN_LEN_RANGE:      "the PIN is longer or shorter than the token accepts",
	pkcs11.CKR_PIN_EXPIRED:        "the user PIN has expired: set a new one with the token's tools",
	pkcs11.CKR_USER_NOT_LOGGED_IN: "log in to the token first",
	pkcs11.CKR_USER_PIN_NOT_INITIALIZED: "the token has no user PIN yet: initialize it " +
		"(softhsm2-util --init-token, or the vendor's tool)",
	pkcs11.CKR_TOKEN_WRITE_PROTECTED: "the token is read-only",
	pkcs11.CKR_GENERAL_ERROR: "SoftHSM says this when it cannot write its token directory " +
		"(a read-only sandbox?): check that directories.tokendir in SOFTHSM2_CONF is writable",
	pkcs11.CKR_DEVICE_MEMORY:          "the token is full: delete unused objects",
	pkcs11.CKR_HOST_MEMORY:            "the module ran out of memory",
	pkcs11.CKR_DEVICE_REMOVED:         "the token went away: reconnect it and start again",
	pkcs11.CKR_TOKEN_NOT_PRESENT:      "the token went away: reconnect it and start again",
	pkcs11.CKR_SESSION_HANDLE_INVALID: "the session was closed under us: start again",
	pkcs11.CKR_SESSION_CLOSED:         "the session was closed under us: start again",
	pkcs11.CKR_MECHANISM_INVALID:      "the token does not support the mechanism",
	pkcs11.CKR_KEY_UNEXTRACTABLE:      "the key is not extractable: it cannot leave the token, not even wrapped",
	pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED: "the key's usage attributes (CKA_WRAP, CKA_SIGN, ...) " +
		"forbid this operation",
	pkcs11.CKR_KEY_NOT_WRAPPABLE:        "the token cannot wrap this kind of key with this mechanism",
	pkcs11.CKR_TEMPLATE_INCONSISTENT:    "the token refused the attribute template",
	pkcs11.CKR_TEMPLATE_INCOMPLETE:      "the token wants attributes the template lacks",
	pkcs11.CKR_ATTRIBUTE_VALUE_INVALID:  "the token refused an attribute value",
	pkcs11.CKR_ATTRIBUTE_READ_ONLY:      "the token does not let this attribute be set",
	pkcs11.CKR_WRAPPED_KEY_INVALID:      "wrong key-encryption key, or the wrapped data was altered",
	pkcs11.CKR_ENCRYPTED_DATA_INVALID:   "wrong key, or the data was altered",
	pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED: "the module was closed (Module.Close) while still in use",
	pkcs11.CKR_OBJECT_HANDLE_INVALID:    "the object was destroyed meanwhile, perhaps by another process",
}
