package p11keyset

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// Labels of the long-term keys the ceremony makes besides the root signing key
// (red.RootSignLabel) and the customers' KEKs (KEKLabel).
const (
	// RootKEKLabel wraps the customers' KEKs when an HSM is backed up or replaced.
	RootKEKLabel = "vsefab/root/kek"
	// AuditSignLabel signs the agents' audit checkpoints: a key of its own, so the root key
	// is used only to endorse firmware.
	AuditSignLabel = "vsefab/audit/sign"
)

// ErrNoLongTermKey: a long-term key is missing and the backend may not create it.
var ErrNoLongTermKey = errors.New("long-term key missing")

// ErrLabelInUse: the ceremony was asked for a key whose label an object already has.
var ErrLabelInUse = errors.New("label in use")

// signingPrivateKey is the private half of a long-term signing key: unlike a keyset's
// attestation key it never leaves the token, not even wrapped.
func signingPrivateKey(label string, id []byte) []attr {
	attrs := slices.Clone(attestationPrivateKey(label, id))
	for i, a := range attrs {
		switch a.typ {
		case pkcs11.CKA_EXTRACTABLE:
			attrs[i].b = false
		case pkcs11.CKA_NEVER_EXTRACTABLE:
			attrs[i].b = true
		}
	}
	return attrs
}

// keyPair is a long-term signing key on the token.
type keyPair struct {
	priv, pub object
	key       *ecdsa.PublicKey
}

// signingKey returns the key pair labelled label, checked. Under CreateKEK a missing one is
// created, as test tokens have no ceremony; under RequireKEK that is ErrNoLongTermKey.
func (b *Backend) signingKey(s *p11.Session, label string) (keyPair, error) {
	objs, err := findLabel(s, label)
	if err != nil {
		return keyPair{}, err
	}
	switch {
	case len(objs) == 2 && sameClasses(objs, []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY}):
		kp := keyPair{priv: objs[0], pub: objs[1]}
		if kp.priv.class != pkcs11.CKO_PRIVATE_KEY {
			kp.priv, kp.pub = kp.pub, kp.priv
		}
		if err := checkAttrs(s, kp.priv.h, kp.priv.String(), signingPrivateKey(label, kp.priv.id)); err != nil {
			return keyPair{}, err
		}
		if err := checkAttrs(s, kp.pub.h, kp.pub.String(), attestationPublicKey(label, kp.pub.id)); err != nil {
			return keyPair{}, err
		}
		kp.key, err = publicKey(s, kp.pub)
		return kp, err
	case len(objs) > 0:
		return keyPair{}, fmt.Errorf("%w: %d objects are labelled %s on token %s, want one key pair: "+
			"find out where the others came from", p11.ErrAmbiguous, len(objs), label, b.tok.Label())
	case b.kekPolicy == RequireKEK:
		return keyPair{}, fmt.Errorf("%w: token %s has no %s: the key ceremony makes it "+
			"(vsefab ceremony --root)", ErrNoLongTermKey, b.tok.Label(), label)
	}
	return b.createSigningKey(s, label)
}

// createSigningKey makes a P-256 key pair labelled label and proves it by signing.
func (b *Backend) createSigningKey(s *p11.Session, label string) (keyPair, error) {
	id, err := s.Random(idLen)
	if err != nil {
		return keyPair{}, err
	}
	pub, priv, err := s.Ctx().GenerateKeyPair(s.Handle(),
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		template(attestationPublicKey(label, id)), template(signingPrivateKey(label, id)))
	if err != nil {
		return keyPair{}, s.Err("C_GenerateKeyPair", label, err)
	}
	kp := keyPair{
		priv: object{h: priv, label: label, class: pkcs11.CKO_PRIVATE_KEY, id: id},
		pub:  object{h: pub, label: label, class: pkcs11.CKO_PUBLIC_KEY, id: id},
	}
	err = checkAttrs(s, priv, kp.priv.String(), signingPrivateKey(label, id))
	if err == nil {
		err = checkAttrs(s, pub, kp.pub.String(), attestationPublicKey(label, id))
	}
	if err == nil {
		kp.key, err = proveKeyPair(s, kp.priv, kp.pub)
	}
	if err == nil {
		err = b.single(s, kp.priv)
	}
	if err != nil {
		return keyPair{}, errors.Join(err, b.rollback(s, []object{kp.pub, kp.priv}))
	}
	b.log.Info("signing key created", "token", b.tok.Label(), "label", label, "id", fmt.Sprintf("%x", id))
	return kp, nil
}

// publicKey reads and decodes the CKA_EC_POINT of a public key object.
func publicKey(s *p11.Session, pub object) (*ecdsa.PublicKey, error) {
	a, err := s.Attributes(pub.h, pub.String(), pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, err
	}
	der, err := a.Bytes(pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, err
	}
	key, err := p11.DecodeECPoint(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCheck, pub, err)
	}
	return key, nil
}

// sign signs a SHA-256 digest with priv on the token and returns an ASN.1 DER signature.
func sign(s *p11.Session, priv object, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("p11keyset: signing with %s: a digest of %d bytes, want SHA-256", priv.label, len(digest))
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
	if err := s.Ctx().SignInit(s.Handle(), mech, priv.h); err != nil {
		return nil, s.Err("C_SignInit with", priv.label, err)
	}
	raw, err := s.Ctx().Sign(s.Handle(), digest)
	if err != nil {
		return nil, s.Err("C_Sign with", priv.label, err)
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("%w: %s: a P-256 signature of %d bytes, want 64", ErrCheck, priv, len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}

// signWith signs digest with the key pair labelled label.
func (b *Backend) signWith(ctx context.Context, label string, digest []byte) (*red.Signature, error) {
	unlock, err := b.lock(ctx, tokenWrites)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var sig red.Signature
	err = b.tok.Do(ctx, func(s *p11.Session) error {
		kp, err := b.signingKey(s, label)
		if err != nil {
			return err
		}
		der, err := sign(s, kp.priv, digest)
		if err != nil {
			return err
		}
		pub, err := x509.MarshalPKIXPublicKey(kp.key)
		if err != nil {
			return err
		}
		sig = red.Signature{DER: der, KeyID: kp.priv.id, Label: label, PublicKey: pub}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("p11keyset: signing with %s: %w", label, err)
	}
	return &sig, nil
}

// SignRoot signs digest with the root signing key.
func (b *Backend) SignRoot(ctx context.Context, digest []byte) (*red.Signature, error) {
	return b.signWith(ctx, red.RootSignLabel, digest)
}

// AuditSigner signs audit checkpoints with the token's audit signing key.
type AuditSigner struct {
	b   *Backend
	pub *ecdsa.PublicKey
	id  []byte
}

// AuditSigner returns the signer of audit checkpoints, finding (or, under CreateKEK,
// creating) the audit signing key once; a first signature, over a zero digest, proves the
// key signs before the log depends on it.
func (b *Backend) AuditSigner(ctx context.Context) (*AuditSigner, error) {
	sig, err := b.signWith(ctx, AuditSignLabel, make([]byte, sha256.Size))
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(sig.PublicKey)
	if err != nil {
		return nil, err
	}
	return &AuditSigner{b: b, pub: pub.(*ecdsa.PublicKey), id: sig.KeyID}, nil
}

// Sign signs a checkpoint digest on the token.
func (a *AuditSigner) Sign(digest []byte) ([]byte, error) {
	sig, err := a.b.signWith(context.Background(), AuditSignLabel, digest)
	if err != nil {
		return nil, err
	}
	if string(sig.KeyID) != string(a.id) {
		return nil, fmt.Errorf("p11keyset: %s on token %s changed (CKA_ID %x, was %x) while the log was open",
			AuditSignLabel, a.b.tok.Label(), sig.KeyID, a.id)
	}
	return sig.DER, nil
}

// PublicKey is the audit signing key's public half.
func (a *AuditSigner) PublicKey() crypto.PublicKey { return a.pub }

// KeyID is the audit signing key's CKA_ID.
func (a *AuditSigner) KeyID() []byte { return a.id }

// kekProof wraps an all-zero AES-256 session key under the KEK, unwraps the result on the
// token again and checks the unwrapped key encrypts as the zero key does. It returns the
// KEK's check value: the first 8 bytes of SHA-256 over that wrapping, which AES key wrap
// makes deterministic and which a KEK that may not encrypt can still give.
func kekProof(s *p11.Session, kek object) ([]byte, error) {
	zero := make([]byte, aesKeyLen)
	src, err := s.Ctx().CreateObject(s.Handle(), []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, zero),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "vsefab/kek-proof"),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	})
	if err != nil {
		return nil, s.Err("C_CreateObject", "vsefab/kek-proof (session object)", err)
	}
	defer s.Destroy(src, "vsefab/kek-proof (session object)")
	wrapped, err := s.Ctx().WrapKey(s.Handle(), kwp(), kek.h, src)
	if err != nil {
		return nil, s.Err("C_WrapKey (proof) under", kek.label, err)
	}
	back, err := s.Ctx().UnwrapKey(s.Handle(), kwp(), kek.h, wrapped, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "vsefab/kek-proof"),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
	})
	if err != nil {
		return nil, s.Err("C_UnwrapKey (proof) under", kek.label, err)
	}
	defer s.Destroy(back, "vsefab/kek-proof (unwrapped session object)")
	got, err := tokenCheckValue(s, object{h: back, label: "vsefab/kek-proof", class: pkcs11.CKO_SECRET_KEY})
	if err != nil {
		return nil, err
	}
	c, _ := aes.NewCipher(zero)
	want := make([]byte, aes.BlockSize)
	c.Encrypt(want, want)
	if string(got) != string(want[:8]) {
		return nil, fmt.Errorf("%w: %s: a key wrapped and unwrapped under it came back changed", ErrCheck, kek)
	}
	sum := sha256.Sum256(wrapped)
	return sum[:8], nil
}
