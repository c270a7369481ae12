package p11keyset

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// CeremonyKey is one key a ceremony made, as its record shows it to the custodians.
type CeremonyKey struct {
	Label      string
	ID         []byte // CKA_ID
	Type       string // "ECDSA-P256 key pair" or "AES-256 key-encryption key"
	PublicKey  []byte // PKIX DER, key pairs only
	CheckValue []byte // key pairs: SHA-256(public key)[:8]; KEKs: see kekProof
}

// Ceremony makes long-term keys. With root it makes the root signing key, the root KEK and
// the audit signing key; for each of customers, the customer's KEK. Without root, the root
// keys must exist already. Every label is checked unused before anything is made, each key
// is proved right after it is made (a signature that verifies, a wrap that unwraps), and a
// failure destroys everything this ceremony made: it is all or nothing.
func (b *Backend) Ceremony(ctx context.Context, root bool, customers []string) ([]CeremonyKey, error) {
	type plan struct {
		label string
		pair  bool
	}
	var plans []plan
	if root {
		plans = append(plans, plan{red.RootSignLabel, true}, plan{RootKEKLabel, false},
			plan{AuditSignLabel, true})
	}
	seen := map[string]bool{}
	for _, c := range customers {
		if err := red.CheckCustomer(c); err != nil {
			return nil, err
		}
		if seen[c] {
			return nil, fmt.Errorf("customer %s is named twice", c)
		}
		seen[c] = true
		plans = append(plans, plan{KEKLabel(c), false})
	}
	if len(plans) == 0 {
		return nil, errors.New("nothing to make: ask for the root keys, customers, or both")
	}

	unlock, err := b.lock(ctx, tokenWrites)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var made []CeremonyKey
	err = b.tok.Do(ctx, func(s *p11.Session) error {
		if !root {
			for _, l := range []string{red.RootSignLabel, RootKEKLabel, AuditSignLabel} {
				objs, err := findLabel(s, l)
				if err != nil {
					return err
				}
				if len(objs) == 0 {
					return fmt.Errorf("%w: token %s has no %s: the first ceremony makes the root "+
						"keys (--root)", ErrNoLongTermKey, b.tok.Label(), l)
				}
			}
		}
		for _, p := range plans {
			objs, err := findLabel(s, p.label)
			if err != nil {
				return err
			}
			if len(objs) > 0 {
				return fmt.Errorf("%w: token %s already has %s: a ceremony never "+
					"reuses a label; nothing was made", ErrLabelInUse, b.tok.Label(), objs[0])
			}
		}

		var objs []object
		for _, p := range plans {
			k, o, err := b.ceremonyKey(s, p.label, p.pair)
			if err != nil {
				return errors.Join(err, b.rollback(s, objs))
			}
			objs = append(objs, o...)
			made = append(made, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("p11keyset: ceremony on token %s: %w", b.tok.Label(), err)
	}
	return made, nil
}

// ceremonyKey makes and proves one key; it returns the objects made for a later rollback.
func (b *Backend) ceremonyKey(s *p11.Session, label string, pair bool) (CeremonyKey, []object, error) {
	if pair {
		kp, err := b.createSigningKey(s, label)
		if err != nil {
			return CeremonyKey{}, nil, err
		}
		objs := []object{kp.pub, kp.priv}
		pub, err := x509.MarshalPKIXPublicKey(kp.key)
		if err != nil {
			return CeremonyKey{}, objs, err
		}
		sum := sha256.Sum256(pub)
		return CeremonyKey{Label: label, ID: kp.priv.id, Type: "ECDSA-P256 key pair",
			PublicKey: pub, CheckValue: sum[:8]}, objs, nil
	}
	o, err := b.createKEK(s, label)
	if err != nil {
		return CeremonyKey{}, nil, err
	}
	kcv, err := kekProof(s, o)
	if err != nil {
		return CeremonyKey{}, []object{o}, err
	}
	return CeremonyKey{Label: label, ID: o.id, Type: "AES-256 key-encryption key", CheckValue: kcv},
		[]object{o}, nil
}
