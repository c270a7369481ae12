// Package p11keyset is the red side's backend for a PKCS#11 token (SoftHSM2 for tests, a
// vendor HSM in production): it keeps each customer's keysets as token objects and hands
// their plaintext to the red side only by way of key wrapping.
//
// A keyset of (customer, version) is four token objects, each labelled
// vsefab/<customer>/<version>/<role> (red.Label) with a CKA_ID of 16 random bytes from the
// token: an AES-256 storage key, an AES-256 transform key and a P-256 attestation key pair
// (both halves share label and ID). Every key is generated on the token, sensitive, and
// extractable only so that it can leave wrapped. Each customer also has a key-encryption key,
// vsefab/<customer>/kek: AES-256, never extractable, for escrow.
//
// What the backend refuses:
//   - to guess: a lookup that finds an object twice, or a keyset in part, is an error naming
//     what was found and how to delete it; nothing is created over it;
//   - to leave half a keyset: a creation that fails destroys every object it made;
//   - to use a key it cannot vouch for: every attribute is read back and compared, the key
//     pair signs on the token and is verified in software, each AES key's check value is
//     computed on the token and again from the exported value;
//   - host randomness: IDs and the transport key come from the token's generator;
//   - under RequireKEK (production), to create a customer KEK: the ceremony does that.
//
// Plaintext reaches the red side like this: the backend draws 32 random bytes from the token,
// imports them as a session AES key (CKA_TOKEN false) that can only wrap, wraps each keyset
// key under it with CKM_AES_KEY_WRAP_PAD, destroys it, and unwraps in software with
// red.UnwrapPad. The EC private key arrives as PKCS#8, from which the 32-byte scalar is taken.
//
// Limitations:
//   - Between the creation of a keyset's last object and the re-lookup that confirms it,
//     another process may find the keyset whole and use it; should this process then roll
//     back (a duplicate appeared, a check failed), that use refers to destroyed objects. A
//     pending label renamed at commit would close the window, but the objects are created
//     with CKA_MODIFIABLE false, which forbids renaming.
//   - Any process logged in to the token can unwrap escrow under a customer KEK into an
//     extractable object (CKA_UNWRAP is true so that the vendor can re-issue firmware): the
//     token's PIN guards escrow, not the KEK's attributes.
//   - SoftHSM 2.6 zero-pads a key to a multiple of 8 bytes before CKM_AES_KEY_WRAP_PAD, so its
//     wrapping records the padded length and unwraps with trailing zeros. New detects this
//     (it wraps a 9-byte probe under a key of known value). On such a token a customer KEK
//     is created with CKA_ENCRYPT as well, and escrow whose length is not a multiple of 8 is
//     wrapped by computing RFC 5649 with the token's AES-ECB under the KEK, one block at a
//     time; the KEK then also serves as a raw AES encryption oracle to whoever holds the PIN.
//     The exported EC private key (PKCS#8) may carry up to 7 such zero bytes, which are
//     accepted only on such a token.
//   - Plaintext crosses miekg/pkcs11's C buffers (C_GenerateRandom's result, the transport
//     key's and the escrow object's CKA_VALUE), which it frees without wiping.
package p11keyset
