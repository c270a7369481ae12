// Package emulator is the default HSM of vsefab: a red-side backend that derives every key
// from a fixed, public test seed, so builds are hermetic, cacheable and reproducible anywhere
// without hardware. Its keys are test values by construction: manifests mark them TEST and
// production verification refuses them.
//
// Each value is HKDF-SHA256 of the seed with the customer, keyset version and role as info,
// so no two customers, versions or roles share a value.
package emulator

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strconv"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// TestSeed is public on purpose: anyone can recompute every emulator key, which is what makes
// emulator firmware worthless outside tests.
const TestSeed = "vsefab emulator test seed, public, never for production"

// URI names the emulator in manifests and logs.
const URI = "emulator:"

// Emulator is the emulator backend. Its zero value is ready to use.
type Emulator struct{}

var _ red.Backend = Emulator{}

// Kind reports TEST.
func (Emulator) Kind() vsefabpb.HsmKind { return vsefabpb.HsmKind_TEST }

// URI reports "emulator:".
func (Emulator) URI() string { return URI }

// derive returns n bytes for info; purpose keeps key values and key IDs apart.
func derive(purpose, customer string, version uint32, role string, n int) ([]byte, error) {
	info := "vsefab/emulator/" + purpose + "/" + customer + "/" +
		strconv.FormatUint(uint64(version), 10) + "/" + role
	return hkdf.Key(sha256.New, []byte(TestSeed), nil, info, n)
}

// EnsureKeyset derives the keyset of (customer, version). Deriving twice gives the same keyset,
// which is the emulator's form of "created on first use, reused after".
func (Emulator) EnsureKeyset(_ context.Context, customer string, version uint32) (*red.Keyset, error) {
	if err := red.CheckCustomer(customer); err != nil {
		return nil, err
	}
	if version == 0 {
		return nil, fmt.Errorf("keyset version of customer %q is 0: versions start at 1", customer)
	}
	ks := &red.Keyset{Customer: customer, Version: version}
	for _, role := range red.Roles {
		k, err := deriveKey(customer, version, role)
		if err != nil {
			ks.Wipe()
			return nil, err
		}
		ks.Keys = append(ks.Keys, k)
	}
	return ks, nil
}

func deriveKey(customer string, version uint32, role string) (red.Key, error) {
	k := red.Key{Role: role, Label: red.Label(customer, version, role)}
	id, err := derive("id", customer, version, role, 16)
	if err != nil {
		return k, err
	}
	k.ID = id

	// A derived scalar outside [1, n-1] is retried with a counter, as FIPS 186-5's
	// rejection sampling does; for P-256 a retry is astronomically rare.
	for try := 0; ; try++ {
		v, err := derive("key", customer, version, role+"/"+strconv.Itoa(try), 32)
		if err != nil {
			return k, err
		}
		if role != red.RoleAttestation {
			k.Value = v
			return k, nil
		}
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), v)
		if err != nil {
			clear(v)
			continue
		}
		pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			clear(v)
			return k, fmt.Errorf("emulator: public key of %s: %w", k.Label, err)
		}
		k.Value, k.PublicKey = v, pub
		return k, nil
	}
}

// rootKey is the emulator's root signing key, derived like every other emulator key.
func rootKey() (*ecdsa.PrivateKey, []byte, error) {
	id, err := derive("id", "root", 0, "sign", 16)
	if err != nil {
		return nil, nil, err
	}
	for try := 0; ; try++ {
		v, err := derive("key", "root", 0, "sign/"+strconv.Itoa(try), 32)
		if err != nil {
			return nil, nil, err
		}
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), v)
		clear(v)
		if err == nil {
			return priv, id, nil
		}
	}
}

// RootPublicKey is the emulator's root signing key (PKIX DER): the key that verifies
// emulator manifests, and that production verification must never be given.
func RootPublicKey() ([]byte, error) {
	priv, _, err := rootKey()
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(&priv.PublicKey)
}

// SignRoot signs digest with the emulator's root key. The signature is deterministic
// (RFC 6979), so emulator builds stay reproducible.
func (Emulator) SignRoot(_ context.Context, digest []byte) (*red.Signature, error) {
	priv, id, err := rootKey()
	if err != nil {
		return nil, err
	}
	der, err := priv.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("emulator: root signature: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &red.Signature{DER: der, KeyID: id, Label: red.RootSignLabel, PublicKey: pub}, nil
}

// CustomerKEK returns the customer's key-encryption key. Exported for tests that open escrow
// files; production HSMs never let this value out.
func CustomerKEK(customer string) ([]byte, error) {
	return derive("kek", customer, 0, "kek", 32)
}

// WrapForEscrow wraps plaintext under the customer's KEK with RFC 5649.
func (Emulator) WrapForEscrow(_ context.Context, customer string, plaintext []byte) ([]byte, error) {
	kek, err := CustomerKEK(customer)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	return red.WrapPad(kek, plaintext)
}
