package red

import (
	"crypto/aes"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strconv"
)

// Roles of the keys in a firmware keyset.
const (
	RoleStorage     = "storage"     // AES-256 storage root key: seal and unseal
	RoleAttestation = "attestation" // ECDSA P-256 key pair: sign digests
	RoleTransform   = "transform"   // random parameters of the code transformation
)

// Roles lists the keyset's roles in the order they appear in manifests and escrow files.
var Roles = []string{RoleStorage, RoleAttestation, RoleTransform}

// Key is one key of a keyset, in plaintext.
type Key struct {
	Role      string
	Label     string // vsefab/<customer>/<version>/<role>
	ID        []byte // CKA_ID, random per key
	Value     []byte // secret: AES key bytes, or the EC private scalar
	PublicKey []byte // PKIX DER, key pairs only
}

// Keyset is the plaintext keyset of one (customer, keyset version).
type Keyset struct {
	Customer string
	Version  uint32
	Keys     []Key // one per entry of Roles, in that order
}

// Key returns the key of role, or nil.
func (k *Keyset) Key(role string) *Key {
	for i := range k.Keys {
		if k.Keys[i].Role == role {
			return &k.Keys[i]
		}
	}
	return nil
}

// Wipe zeroes every secret of the keyset.
func (k *Keyset) Wipe() {
	if k == nil {
		return
	}
	for i := range k.Keys {
		clear(k.Keys[i].Value)
	}
}

var customerName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// CheckCustomer reports whether name can name a customer: it becomes part of key labels,
// Bazel package names and file names, so it is kept to a safe alphabet.
func CheckCustomer(name string) error {
	if !customerName.MatchString(name) {
		return fmt.Errorf("customer name %q: use 1 to 63 characters from a-z, 0-9 and '_', "+
			"starting with a letter", name)
	}
	if Reserved[name] {
		return fmt.Errorf("customer name %q is reserved: the HSM's own objects are labelled "+
			"vsefab/%s...; choose another name", name, name)
	}
	return nil
}

// Reserved are names no customer may have, since the labels of the HSM's own objects use
// them: the long-term keys (vsefab/root/..., vsefab/audit/...) and the session objects the
// red side makes while it exports and escrows a keyset (vsefab/transport, vsefab/escrow).
var Reserved = map[string]bool{"root": true, "audit": true, "transport": true, "escrow": true}

// Label is the HSM object label of a keyset key.
func Label(customer string, version uint32, role string) string {
	return "vsefab/" + customer + "/" + strconv.FormatUint(uint64(version), 10) + "/" + role
}

// CheckValue is the key check value the manifest records: for a symmetric key the first
// 8 bytes of AES-ECB(key, zero block), for a key pair the first 8 bytes of SHA-256 over its
// public key.
func CheckValue(k *Key) ([]byte, error) {
	if k.PublicKey != nil {
		sum := sha256.Sum256(k.PublicKey)
		return sum[:8], nil
	}
	block, err := aes.NewCipher(k.Value)
	if err != nil {
		return nil, fmt.Errorf("check value of %s: %w", k.Label, err)
	}
	var out [aes.BlockSize]byte
	block.Encrypt(out[:], out[:])
	return out[:8], nil
}
