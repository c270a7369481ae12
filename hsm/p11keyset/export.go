package p11keyset

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// kwp is AES key wrap with padding (RFC 5649), the only way keys leave the token here.
func kwp() []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
}

// tokenCheckValue encrypts a zero block with the AES key o on the token and returns the
// first 8 bytes: the check value the manifest records, computed where the key lives.
func tokenCheckValue(s *p11.Session, o object) ([]byte, error) {
	ecb := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}
	if err := s.Ctx().EncryptInit(s.Handle(), ecb, o.h); err != nil {
		return nil, s.Err("C_EncryptInit (check value) with", o.label, err)
	}
	out, err := s.Ctx().Encrypt(s.Handle(), make([]byte, 16))
	if err != nil {
		return nil, s.Err("C_Encrypt (check value) with", o.label, err)
	}
	if len(out) != 16 {
		return nil, fmt.Errorf("%w: %s: AES-ECB of one block gave %d bytes", ErrCheck, o, len(out))
	}
	return out[:8], nil
}

// proveKeyPair signs a random digest with the private key on the token and verifies the
// signature in software under the public key's CKA_EC_POINT, which it returns.
func proveKeyPair(s *p11.Session, priv, pub object) (*ecdsa.PublicKey, error) {
	key, err := publicKey(s, pub)
	if err != nil {
		return nil, err
	}
	digest, err := s.Random(32)
	if err != nil {
		return nil, err
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
	if err := s.Ctx().SignInit(s.Handle(), mech, priv.h); err != nil {
		return nil, s.Err("C_SignInit (proof) with", priv.label, err)
	}
	sig, err := s.Ctx().Sign(s.Handle(), digest)
	if err != nil {
		return nil, s.Err("C_Sign (proof) with", priv.label, err)
	}
	// CKM_ECDSA signatures are r and s, each as long as the order: 32 bytes for P-256.
	if len(sig) != 64 {
		return nil, fmt.Errorf("%w: %s: a P-256 signature of %d bytes, want 64", ErrCheck, priv, len(sig))
	}
	r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, digest, r, ss) {
		return nil, fmt.Errorf("%w: the signature %s made on the token does not verify under %s",
			ErrCheck, priv, pub)
	}
	return key, nil
}

// export brings the keyset's plaintext to the red side. Each key leaves the token wrapped
// (CKM_AES_KEY_WRAP_PAD) under a session transport key whose value the red side drew from
// the token's generator, and is unwrapped in software. The transport key is destroyed
// afterwards and every buffer that held plaintext is wiped. kcv are the check values the
// token computed: each unwrapped AES key must give the same.
func (b *Backend) export(s *p11.Session, customer string, version uint32, k *keysetObjects, kcv map[string][]byte) (*red.Keyset, error) {
	transport, err := s.Random(aesKeyLen)
	if err != nil {
		return nil, err
	}
	defer clear(transport)
	th, err := s.Ctx().CreateObject(s.Handle(), transportKey(transport))
	if err != nil {
		return nil, s.Err("C_CreateObject", "vsefab/transport (session transport key)", err)
	}

	ks, err := b.unwrapAll(s, th, transport, customer, version, k, kcv)
	if derr := s.Destroy(th, "vsefab/transport (session transport key)"); derr != nil {
		// The key dies with its session at the latest; Do closes a failed session.
		ks.Wipe()
		return nil, errors.Join(err, derr)
	}
	if err != nil {
		ks.Wipe()
		return nil, err
	}
	return ks, nil
}

func (b *Backend) unwrapAll(s *p11.Session, th pkcs11.ObjectHandle, transport []byte, customer string, version uint32, k *keysetObjects, kcv map[string][]byte) (*red.Keyset, error) {
	ks := &red.Keyset{Customer: customer, Version: version}
	for _, role := range red.Roles {
		o := k.storage
		switch role {
		case red.RoleAttestation:
			o = k.attestPriv
		case red.RoleTransform:
			o = k.transform
		}
		wrapped, err := s.Ctx().WrapKey(s.Handle(), kwp(), th, o.h)
		if err != nil {
			return ks, s.Err("C_WrapKey (CKM_AES_KEY_WRAP_PAD) of", o.label, err)
		}
		plain, err := red.UnwrapPad(transport, wrapped)
		if err != nil {
			return ks, fmt.Errorf("%w: %s came back from the token in a wrapping that does not "+
				"unwrap: %w", ErrCheck, o, err)
		}
		key := red.Key{Role: role, Label: o.label, ID: bytes.Clone(o.id)}

		if role == red.RoleAttestation {
			key.Value, err = ecScalar(plain, k.pub, b.kwpPads)
			clear(plain)
			if err != nil {
				return ks, fmt.Errorf("%w: %s: %w", ErrCheck, o, err)
			}
			if key.PublicKey, err = x509.MarshalPKIXPublicKey(k.pub); err != nil {
				clear(key.Value)
				return ks, fmt.Errorf("%s: public key: %w", o, err)
			}
			ks.Keys = append(ks.Keys, key)
			continue
		}

		key.Value = plain
		ks.Keys = append(ks.Keys, key) // from here on ks.Wipe reaches it
		if len(plain) != aesKeyLen {
			return ks, fmt.Errorf("%w: %s unwrapped to %d bytes, want %d", ErrCheck, o, len(plain), aesKeyLen)
		}
		v, err := red.CheckValue(&key)
		if err != nil {
			return ks, err
		}
		if subtle.ConstantTimeCompare(v, kcv[role]) != 1 {
			return ks, fmt.Errorf("%w: %s: the exported key's check value %x differs from the "+
				"token's %x", ErrCheck, o, v, kcv[role])
		}
	}
	return ks, nil
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// privateKeyInfo is PKCS#8's PrivateKeyInfo (RFC 5208); attributes are not read.
type privateKeyInfo struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// ecPrivateKey is SEC 1's ECPrivateKey (RFC 5915).
type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// ecScalar takes the P-256 private scalar out of a PKCS#8 PrivateKeyInfo and returns it as
// 32 bytes, big-endian, zero-padded on the left. The key must be the private half of pub.
// padded allows the up to 7 zero bytes a token that zero-pads before key wrap (SoftHSM 2.6)
// leaves after the DER. The caller wipes der and the result; ecScalar wipes its copies.
//
// Limitation: the check against pub goes through crypto/ecdsa, which keeps copies of the
// scalar that cannot be wiped.
func ecScalar(der []byte, pub *ecdsa.PublicKey, padded bool) ([]byte, error) {
	var info privateKeyInfo
	rest, err := asn1.Unmarshal(der, &info)
	defer clear(info.PrivateKey)
	if padded && len(rest) < 8 && len(der)%8 == 0 && bytes.Count(rest, []byte{0}) == len(rest) {
		rest = nil
	}
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("wrapped private key is not a PKCS#8 PrivateKeyInfo")
	}
	if info.Version != 0 || !info.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("wrapped private key is PKCS#8 version %d of algorithm %v, want "+
			"version 0 of id-ecPublicKey", info.Version, info.Algorithm.Algorithm)
	}
	curveInAlg := len(info.Algorithm.Parameters.FullBytes) > 0
	if curveInAlg && !bytes.Equal(info.Algorithm.Parameters.FullBytes, p11.P256Params) {
		return nil, fmt.Errorf("wrapped private key is not on P-256")
	}

	var ec ecPrivateKey
	rest, err = asn1.Unmarshal(info.PrivateKey, &ec)
	defer clear(ec.PrivateKey)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("wrapped private key holds no ECPrivateKey")
	}
	if ec.Version != 1 {
		return nil, fmt.Errorf("ECPrivateKey version %d, want 1", ec.Version)
	}
	if len(ec.Curve) > 0 && !ec.Curve.Equal(oidP256) || len(ec.Curve) == 0 && !curveInAlg {
		return nil, fmt.Errorf("wrapped private key is not marked as a P-256 key")
	}
	if len(ec.PrivateKey) == 0 || len(ec.PrivateKey) > 32 {
		return nil, fmt.Errorf("private key of %d bytes, want at most 32", len(ec.PrivateKey))
	}
	scalar := make([]byte, 32)
	copy(scalar[32-len(ec.PrivateKey):], ec.PrivateKey)

	if len(ec.PublicKey.Bytes) > 0 {
		point, err := pub.Bytes()
		if err != nil || !bytes.Equal(ec.PublicKey.Bytes, point) {
			clear(scalar)
			return nil, fmt.Errorf("the wrapped private key's public key differs from CKA_EC_POINT")
		}
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil || !priv.PublicKey.Equal(pub) {
		clear(scalar)
		return nil, fmt.Errorf("the wrapped private key is not the private half of CKA_EC_POINT")
	}
	return scalar, nil
}
