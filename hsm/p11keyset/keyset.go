package p11keyset

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// object is one token object of a keyset.
type object struct {
	h     pkcs11.ObjectHandle
	label string
	class uint
	id    []byte
}

func (o object) String() string {
	return fmt.Sprintf("%s (%s, CKA_ID %x)", o.label, className(o.class), o.id)
}

// keysetObjects are the token objects of one keyset, complete.
type keysetObjects struct {
	storage, transform    object
	attestPriv, attestPub object
	pub                   *ecdsa.PublicKey // attestPub's CKA_EC_POINT, once checked
}

func (k *keysetObjects) all() []object {
	return []object{k.storage, k.attestPriv, k.attestPub, k.transform}
}

// want is the objects each role of a keyset has: one secret key, or a key pair.
var want = map[string][]uint{
	red.RoleStorage:     {pkcs11.CKO_SECRET_KEY},
	red.RoleAttestation: {pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY},
	red.RoleTransform:   {pkcs11.CKO_SECRET_KEY},
}

// EnsureKeyset returns the keyset of (customer, version): the one on the token if it is
// there whole, a new one if none of it is there. Whatever a failed creation made it
// destroys again. A keyset partly there (someone's leftover) or there twice is an error
// that names what was found and how to clean up; nothing is guessed. The customer's KEK is
// ensured first (see WrapForEscrow), so a backend that may not create it fails before
// creating anything.
func (b *Backend) EnsureKeyset(ctx context.Context, customer string, version uint32) (*red.Keyset, error) {
	if err := red.CheckCustomer(customer); err != nil {
		return nil, err
	}
	if version == 0 {
		return nil, fmt.Errorf("keyset version of customer %q is 0: versions start at 1", customer)
	}
	name := "vsefab/" + customer + "/" + strconv.FormatUint(uint64(version), 10)
	unlock, err := b.lock(ctx, tokenWrites)
	if err != nil {
		return nil, err
	}
	defer unlock()

	var ks *red.Keyset
	err = b.tok.Do(ctx, func(s *p11.Session) error {
		if _, err := b.kek(ctx, s, customer); err != nil {
			return err
		}
		if err := b.recover(ctx, s, customer, version); err != nil {
			return err
		}
		objs, err := b.lookup(s, customer, version)
		if err != nil {
			return err
		}
		var kcv map[string][]byte
		if objs == nil {
			if objs, kcv, err = b.create(ctx, s, customer, version); err != nil {
				return err
			}
		} else if kcv, err = b.check(s, objs); err != nil {
			return err
		}
		ks, err = b.export(s, customer, version, objs, kcv)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("p11keyset: keyset %s: %w", name, err)
	}
	return ks, nil
}

// lookup finds the keyset's objects: all of them (a complete keyset), none (nil, nil), or
// an ErrPartialKeyset error.
func (b *Backend) lookup(s *p11.Session, customer string, version uint32) (*keysetObjects, error) {
	found := map[string][]object{}
	total := 0
	for _, role := range red.Roles {
		label := red.Label(customer, version, role)
		objs, err := findLabel(s, label)
		if err != nil {
			return nil, err
		}
		found[role] = objs
		total += len(objs)
	}
	if total == 0 {
		return nil, nil
	}

	complete := true
	for _, role := range red.Roles {
		if !sameClasses(found[role], want[role]) {
			complete = false
		}
	}
	if !complete {
		return nil, b.partial(customer, version, found)
	}
	k := &keysetObjects{storage: found[red.RoleStorage][0], transform: found[red.RoleTransform][0]}
	for _, o := range found[red.RoleAttestation] {
		if o.class == pkcs11.CKO_PRIVATE_KEY {
			k.attestPriv = o
		} else {
			k.attestPub = o
		}
	}
	return k, nil
}

// findLabel returns every object labelled label, with its class and ID.
func findLabel(s *p11.Session, label string) ([]object, error) {
	hs, err := s.Find([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return nil, err
	}
	objs := make([]object, 0, len(hs))
	for _, h := range hs {
		a, err := s.Attributes(h, label, pkcs11.CKA_CLASS, pkcs11.CKA_ID)
		if err != nil {
			return nil, err
		}
		class, err := a.Ulong(pkcs11.CKA_CLASS)
		if err != nil {
			return nil, err
		}
		id, _ := a.Bytes(pkcs11.CKA_ID)
		objs = append(objs, object{h: h, label: label, class: class, id: id})
	}
	return objs, nil
}

// sameClasses reports whether objs are exactly one object of each class in classes.
func sameClasses(objs []object, classes []uint) bool {
	if len(objs) != len(classes) {
		return false
	}
	seen := map[uint]bool{}
	for _, o := range objs {
		seen[o.class] = true
	}
	for _, c := range classes {
		if !seen[c] {
			return false
		}
	}
	return true
}

// partial describes a keyset that is neither absent nor whole, and how to clean it up.
func (b *Backend) partial(customer string, version uint32, found map[string][]object) error {
	var have, cleanup []string
	for _, role := range red.Roles {
		label := red.Label(customer, version, role)
		if len(found[role]) == 0 {
			have = append(have, label+": nothing")
			continue
		}
		var parts []string
		for _, o := range found[role] {
			parts = append(parts, fmt.Sprintf("%s with CKA_ID %x", className(o.class), o.id))
			cleanup = append(cleanup, b.deleteCommand(o))
		}
		have = append(have, label+": "+strings.Join(parts, ", "))
	}
	return fmt.Errorf("%w on token %s: found %s; a keyset is one secret key each for %s and %s "+
		"and a key pair for %s. Part of a keyset is a leftover (a crash, another tool, a second "+
		"copy): nothing is created over it. Once you are sure no firmware uses these objects, "+
		"delete them and run again:\n  %s",
		ErrPartialKeyset, b.tok.Label(), strings.Join(have, "; "),
		red.RoleStorage, red.RoleTransform, red.RoleAttestation, strings.Join(cleanup, "\n  "))
}

// deleteCommand is the pkcs11-tool command that deletes o, PIN left out.
func (b *Backend) deleteCommand(o object) string {
	types := map[uint]string{
		pkcs11.CKO_SECRET_KEY: "secrkey", pkcs11.CKO_PRIVATE_KEY: "privkey",
		pkcs11.CKO_PUBLIC_KEY: "pubkey", pkcs11.CKO_DATA: "data", pkcs11.CKO_CERTIFICATE: "cert",
	}
	typ, ok := types[o.class]
	if !ok {
		typ = fmt.Sprintf("<class %#x>", o.class)
	}
	return fmt.Sprintf("pkcs11-tool --module %s --token-label '%s' --login --delete-object "+
		"--type %s --label '%s' --id %s", b.tok.Module().Path(), b.tok.Label(), typ, o.label,
		hex.EncodeToString(o.id))
}

func className(c uint) string {
	switch c {
	case pkcs11.CKO_SECRET_KEY:
		return "secret key"
	case pkcs11.CKO_PRIVATE_KEY:
		return "private key"
	case pkcs11.CKO_PUBLIC_KEY:
		return "public key"
	case pkcs11.CKO_DATA:
		return "data object"
	case pkcs11.CKO_CERTIFICATE:
		return "certificate"
	}
	return fmt.Sprintf("object of class %#x", c)
}

// create makes a keyset all or nothing: any failure destroys every object made so far.
// It returns the objects and the check values the token computed for the AES keys.
func (b *Backend) create(ctx context.Context, s *p11.Session, customer string, version uint32) (*keysetObjects, map[string][]byte, error) {
	// The journal marker outlives a crash of this process part-way through, so the next
	// request knows the objects it finds are a creation that never finished.
	marker, err := b.startCreation(s, customer, version)
	if err != nil {
		return nil, nil, err
	}
	var made []object
	objs, kcv, err := b.createObjects(s, customer, version, &made)
	if err == nil {
		// Another process may have created the same keyset meanwhile: look again, and
		// accept only exactly what this request made. Never pick one of two.
		again, lerr := b.lookup(s, customer, version)
		switch {
		case lerr != nil && !errors.Is(lerr, ErrPartialKeyset):
			err = lerr
		case lerr != nil || again == nil || !sameHandles(again, objs):
			err = fmt.Errorf("%w: objects with this keyset's labels appeared on token %s while "+
				"this request created it (another process creating it too?); this request's "+
				"objects are destroyed: run again, and a whole keyset is reused, a broken one "+
				"reported", ErrPartialKeyset, b.tok.Label())
		}
	}
	if err == nil {
		err = b.finishCreation(s, marker)
	}
	if err != nil {
		err = errors.Join(err, b.rollback(s, made))
		if derr := s.Destroy(marker.h, marker.label); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, nil, err
	}

	b.log.InfoContext(ctx, "keyset created", "token", b.tok.Label(), "customer", customer,
		"version", version, "storage_id", hex.EncodeToString(objs.storage.id),
		"attestation_id", hex.EncodeToString(objs.attestPriv.id),
		"transform_id", hex.EncodeToString(objs.transform.id))
	return objs, kcv, nil
}

func sameHandles(a, b *keysetObjects) bool {
	x, y := a.all(), b.all()
	for i := range x {
		if x[i].h != y[i].h {
			return false
		}
	}
	return true
}

// createObjects makes the keyset's objects, appending each to *made as soon as it exists,
// then checks them.
func (b *Backend) createObjects(s *p11.Session, customer string, version uint32, made *[]object) (*keysetObjects, map[string][]byte, error) {
	ctx, h := s.Ctx(), s.Handle()
	k := &keysetObjects{}
	step := func() error {
		if b.afterObjects != nil {
			return b.afterObjects(len(*made))
		}
		return nil
	}

	for _, role := range []string{red.RoleStorage, red.RoleAttestation, red.RoleTransform} {
		label := red.Label(customer, version, role)
		id, err := s.Random(idLen)
		if err != nil {
			return nil, nil, err
		}
		switch role {
		case red.RoleAttestation:
			pub, priv, err := ctx.GenerateKeyPair(h,
				[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
				template(attestationPublicKey(label, id)), template(attestationPrivateKey(label, id)))
			if err != nil {
				return nil, nil, s.Err("C_GenerateKeyPair", label, err)
			}
			k.attestPub = object{h: pub, label: label, class: pkcs11.CKO_PUBLIC_KEY, id: id}
			k.attestPriv = object{h: priv, label: label, class: pkcs11.CKO_PRIVATE_KEY, id: id}
			*made = append(*made, k.attestPub, k.attestPriv)
		default:
			o, err := ctx.GenerateKey(h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
				template(keysetSecretKey(label, id)))
			if err != nil {
				return nil, nil, s.Err("C_GenerateKey", label, err)
			}
			obj := object{h: o, label: label, class: pkcs11.CKO_SECRET_KEY, id: id}
			if role == red.RoleStorage {
				k.storage = obj
			} else {
				k.transform = obj
			}
			*made = append(*made, obj)
		}
		if err := step(); err != nil {
			return nil, nil, err
		}
	}

	kcv, err := b.check(s, k)
	if err != nil {
		return nil, nil, err
	}
	return k, kcv, nil
}

// rollback destroys what a failed creation made, newest first. What it cannot destroy it
// names, with the command that would.
func (b *Backend) rollback(s *p11.Session, made []object) error {
	var left []string
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if err := s.Destroy(made[i].h, made[i].label); err != nil {
			errs = append(errs, err)
			left = append(left, b.deleteCommand(made[i]))
		}
	}
	if len(left) == 0 {
		if len(made) > 0 {
			b.log.Warn("keyset creation failed; destroyed what it made", "token", b.tok.Label(),
				"objects", len(made))
		}
		return nil
	}
	return fmt.Errorf("p11keyset: could not destroy %d objects of the failed creation (%w); "+
		"delete them by hand before running again:\n  %s", len(left), errors.Join(errs...),
		strings.Join(left, "\n  "))
}

// check verifies every attribute of the keyset's objects and proves each key: the key pair
// signs on the token and the signature verifies in software; each AES key encrypts a zero
// block on the token, whose first 8 bytes (the check value) it returns by role.
func (b *Backend) check(s *p11.Session, k *keysetObjects) (map[string][]byte, error) {
	if len(k.attestPriv.id) != idLen || string(k.attestPriv.id) != string(k.attestPub.id) {
		return nil, fmt.Errorf("%w: the attestation key pair %s has CKA_IDs %x and %x; want one "+
			"%d-byte ID for both halves", ErrCheck, k.attestPriv.label, k.attestPriv.id,
			k.attestPub.id, idLen)
	}
	kcv := map[string][]byte{}
	for _, c := range []struct {
		role string
		o    object
	}{{red.RoleStorage, k.storage}, {red.RoleTransform, k.transform}} {
		if len(c.o.id) != idLen {
			return nil, fmt.Errorf("%w: %s has a CKA_ID of %d bytes, want %d", ErrCheck, c.o, len(c.o.id), idLen)
		}
		if err := checkAttrs(s, c.o.h, c.o.String(), keysetSecretKey(c.o.label, c.o.id)); err != nil {
			return nil, err
		}
		v, err := tokenCheckValue(s, c.o)
		if err != nil {
			return nil, err
		}
		kcv[c.role] = v
	}
	if err := checkAttrs(s, k.attestPriv.h, k.attestPriv.String(),
		attestationPrivateKey(k.attestPriv.label, k.attestPriv.id)); err != nil {
		return nil, err
	}
	if err := checkAttrs(s, k.attestPub.h, k.attestPub.String(),
		attestationPublicKey(k.attestPub.label, k.attestPub.id)); err != nil {
		return nil, err
	}
	pub, err := proveKeyPair(s, k.attestPriv, k.attestPub)
	if err != nil {
		return nil, err
	}
	k.pub = pub
	return kcv, nil
}
