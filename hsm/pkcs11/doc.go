// Package p11 is vsefab's access to PKCS#11 modules, over github.com/miekg/pkcs11. It does
// the parts that are easy to get subtly wrong, once:
//
//   - Open loads a module once per process and counts its users: one C_Initialize, one
//     C_Finalize, and none at all when someone else in the process initialized it. A bad module
//     file is an error naming the path, never a panic.
//   - Module.Token chooses a token by its exact label, never by slot number, and refuses a
//     label that no token, or several, carry.
//   - Token lends sessions from a pool and closes every session it opens, a failed one at
//     once; Login keeps one logged-in session for the life of the Token.
//   - Session.FindOne refuses zero and several matches; Session.Attributes copes with
//     attributes the token will not reveal.
//   - DecodeECPoint takes CKA_EC_POINT apart strictly.
//   - Token.CheckMechanisms says which mechanism, use or key size a token lacks.
//
// Errors are *Error or *MechanismError: they say what failed, on which object and token,
// and what to do. The sentinel errors (ErrNotFound, ErrAmbiguous, ...) work with errors.Is,
// and the module's return value with errors.As(err, new(pkcs11.Error)).
//
// The package holds no key material of its own. What callers read through it (wrapped keys,
// random bytes) is theirs to wipe.
//
// Limitations:
//   - miekg/pkcs11 copies attribute values, PINs and the results of C_GenerateRandom and
//     C_WrapKey through C memory that it frees without wiping.
//   - A Token's sessions are read/write; a read-only token cannot be used.
package p11
