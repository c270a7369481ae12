// Package red is the red side of vsefab: the only package that holds plaintext secrets. It
// runs inside the HSM boundary (in process for the emulator, in the agent for a PKCS#11 token)
// and turns a customer's keyset into what the black side may see: generated firmware source in
// which each secret exists only as masked shares, an escrow file wrapped under the customer's
// key-encryption key, and a manifest of identifiers, check values and public keys.
//
// Every import of this package is a place where plaintext can exist; keep them few. Every
// buffer that held a secret is wiped before the function that made it returns.
package red
