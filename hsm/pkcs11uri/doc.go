// Package pkcs11uri parses and prints PKCS#11 URIs (RFC 7512), the one way vsefab names an
// HSM, a token or a key in flags, toolchains, manifests and logs.
//
// A URI has a path: attributes separated by ';' that select a library, slot, token or object
// (token=..., object=..., id=..., type=...). After an optional '?' comes a query: attributes
// separated by '&' that say how to reach the PKCS#11 module (module-name=..., module-path=...).
// The package keeps path and query apart, each in the order written, and keeps attributes it
// does not know, such as vendor attributes (x-vendor=...), so nothing is lost between Parse
// and String.
//
// String prints a canonical form. Attribute names are lowercase. A value byte that the RFC 7512
// grammar allows unencoded in its part of the URI is printed as is, every other byte as %XX
// with uppercase hex digits, and the id attribute, which holds the binary CKA_ID of an object,
// is percent-encoded in full. Parse(u.String()) returns a URI equal to u.
//
// Parse refuses, with an error that names the attribute and gives the byte offset (counted
// from 0 at the start of the input) of what is wrong:
//   - input that does not start with "pkcs11:" (in any letter case);
//   - an empty attribute, one without '=', an empty name, or a name with characters other
//     than letters, digits, '-' and '_';
//   - a malformed percent-escape, or a character that must be percent-encoded and is not;
//   - a path attribute given twice, or module-name or module-path given twice in the query;
//   - a standard attribute on the wrong side of '?', such as token in the query or
//     module-path in the path;
//   - a type other than private, public, secret-key, cert or data, a slot-id that is not a
//     decimal number below 2^64, or a library-version that is not N or N.M.
//
// Those errors wrap ErrMalformed.
//
// It refuses outright any URI that carries a PIN: pin-value or pin-source, in the path or the
// query, and vendor attributes whose names speak of a PIN, password or passphrase. vsefab
// prints URIs wherever it goes, so a PIN in one would end up in logs and manifests; the PIN
// is supplied some other way. That error wraps ErrPIN and shows the value as <redacted>: no
// part of the value is quoted, raw or percent-encoded. Parse looks for a PIN before anything
// else, so a URI that carries one gets this error even when it is malformed elsewhere.
//
// Limitation: names are matched without regard to letter case and stored in lowercase, so a
// vendor attribute written as X-Vendor comes back from String as x-vendor.
//
// Limitation: values are not checked against the lengths PKCS#11 gives its fields; a token
// label longer than the 32 bytes a token can hold is accepted and then never matches.
package pkcs11uri
