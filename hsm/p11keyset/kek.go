package p11keyset

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// KEKLabel is the label of a customer's key-encryption key.
func KEKLabel(customer string) string { return "vsefab/" + customer + "/kek" }

// kek returns the customer's key-encryption key, checked. Under CreateKEK a customer without
// one gets one; under RequireKEK that is ErrNoKEK. The KEK is the customer's, not a keyset's:
// a failed keyset creation leaves it, since another keyset of the customer, or escrow already
// written, may depend on it.
func (b *Backend) kek(ctx context.Context, s *p11.Session, customer string) (pkcs11.ObjectHandle, error) {
	label := KEKLabel(customer)
	unlock, err := b.lock(ctx, "kek "+label)
	if err != nil {
		return 0, err
	}
	defer unlock()

	objs, err := findLabel(s, label)
	if err != nil {
		return 0, err
	}
	switch {
	case len(objs) == 1 && objs[0].class == pkcs11.CKO_SECRET_KEY:
		o := objs[0]
		if err := checkAttrs(s, o.h, o.String(), kekKey(label, o.id, b.kwpPads)); err != nil {
			return 0, err
		}
		return o.h, nil
	case len(objs) > 0:
		var cleanup []string
		for _, o := range objs {
			cleanup = append(cleanup, o.String())
		}
		return 0, fmt.Errorf("%w: %d objects are labelled %s on token %s (%v), want one secret "+
			"key: find out which is the customer's KEK before deleting anything, since escrow "+
			"files depend on it", p11.ErrAmbiguous, len(objs), label, b.tok.Label(), cleanup)
	case b.kekPolicy == RequireKEK:
		return 0, fmt.Errorf("%w: customer %s has no key-encryption key (%s) on token %s, and this "+
			"backend may not create one: the key ceremony creates customer KEKs", ErrNoKEK,
			customer, label, b.tok.Label())
	}

	o, err := b.createKEK(s, label)
	if err != nil {
		return 0, err
	}
	b.log.InfoContext(ctx, "customer KEK created", "token", b.tok.Label(), "label", label,
		"id", hex.EncodeToString(o.id))
	return o.h, nil
}

// createKEK makes a key-encryption key labelled label and checks it; a KEK that fails its
// check, or that another process made at the same time, is destroyed again.
func (b *Backend) createKEK(s *p11.Session, label string) (object, error) {
	id, err := s.Random(idLen)
	if err != nil {
		return object{}, err
	}
	h, err := s.Ctx().GenerateKey(s.Handle(),
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, template(kekKey(label, id, b.kwpPads)))
	if err != nil {
		return object{}, s.Err("C_GenerateKey", label, err)
	}
	o := object{h: h, label: label, class: pkcs11.CKO_SECRET_KEY, id: id}
	err = checkAttrs(s, h, o.String(), kekKey(label, id, b.kwpPads))
	if err == nil {
		err = b.single(s, o)
	}
	if err != nil {
		return object{}, errors.Join(err, b.rollback(s, []object{o}))
	}
	return o, nil
}

// single checks that o is the only object with its label: one made by another process
// meanwhile makes two, and then neither is used.
func (b *Backend) single(s *p11.Session, o object) error {
	again, err := findLabel(s, o.label)
	if err != nil {
		return err
	}
	for _, a := range again {
		if a.h != o.h && a.class == o.class {
			return fmt.Errorf("%w: another %s appeared on token %s while this one was created; "+
				"this one is destroyed: run again", p11.ErrAmbiguous, o.label, b.tok.Label())
		}
	}
	return nil
}

// WrapForEscrow wraps plaintext under the customer's KEK with CKM_AES_KEY_WRAP_PAD, inside
// the token: plaintext goes in as a short-lived session object, which is destroyed again. The
// result is RFC 5649 key wrap with padding of plaintext. Under CreateKEK a customer's first
// escrow creates its KEK.
func (b *Backend) WrapForEscrow(ctx context.Context, customer string, plaintext []byte) ([]byte, error) {
	if err := red.CheckCustomer(customer); err != nil {
		return nil, err
	}
	if len(plaintext) == 0 {
		return nil, fmt.Errorf("p11keyset: escrow for %s: nothing to wrap", customer)
	}
	unlock, err := b.lock(ctx, tokenWrites)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var wrapped []byte
	err = b.tok.Do(ctx, func(s *p11.Session) error {
		kek, err := b.kek(ctx, s, customer)
		if err != nil {
			return err
		}
		if b.kwpPads && len(plaintext)%8 != 0 {
			wrapped, err = wrapPadECB(s, kek, KEKLabel(customer), plaintext)
			return err
		}
		o, err := s.Ctx().CreateObject(s.Handle(), escrowObject(plaintext))
		if err != nil {
			return s.Err("C_CreateObject", "vsefab/escrow (session object)", err)
		}
		wrapped, err = s.Ctx().WrapKey(s.Handle(), kwp(), kek, o)
		err = s.Err("C_WrapKey (CKM_AES_KEY_WRAP_PAD) under", KEKLabel(customer), err)
		return errors.Join(err, s.Destroy(o, "vsefab/escrow (session object)"))
	})
	if err != nil {
		return nil, fmt.Errorf("p11keyset: escrow for %s: %w", customer, err)
	}
	if want := 8 + 8*((len(plaintext)+7)/8); len(wrapped) != want {
		return nil, fmt.Errorf("p11keyset: escrow for %s: %w: CKM_AES_KEY_WRAP_PAD of %d bytes gave "+
			"%d bytes, RFC 5649 says %d", customer, ErrCheck, len(plaintext), len(wrapped), want)
	}
	return wrapped, nil
}

// wrapPadECB computes RFC 5649 key wrap with padding of plaintext under the KEK kek, using
// the token only for AES-ECB encryption of single blocks under the KEK. It stands in for
// C_WrapKey on a token whose CKM_AES_KEY_WRAP_PAD zero-pads keys to a multiple of 8 bytes
// first (SoftHSM 2.6): the plaintext length the wrapping records would then be the padded
// one, and the escrow would unwrap with trailing zero bytes that break its parsing.
func wrapPadECB(s *p11.Session, kek pkcs11.ObjectHandle, label string, plaintext []byte) ([]byte, error) {
	ecb := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}
	encrypt := func(block []byte) error {
		if err := s.Ctx().EncryptInit(s.Handle(), ecb, kek); err != nil {
			return s.Err("C_EncryptInit (RFC 5649 step) with", label, err)
		}
		out, err := s.Ctx().Encrypt(s.Handle(), block)
		defer clear(out)
		if err != nil {
			return s.Err("C_Encrypt (RFC 5649 step) with", label, err)
		}
		if len(out) != len(block) {
			return fmt.Errorf("%w: AES-ECB of %d bytes under %s gave %d", ErrCheck, len(block), label, len(out))
		}
		copy(block, out)
		return nil
	}

	// RFC 5649: the alternative initial value A65959A6 and the plaintext length, then the
	// plaintext zero-padded to whole 8-byte semiblocks.
	n := (len(plaintext) + 7) / 8
	out := make([]byte, 8+8*n)
	binary.BigEndian.PutUint32(out[:4], 0xA65959A6)
	binary.BigEndian.PutUint32(out[4:8], uint32(len(plaintext)))
	copy(out[8:], plaintext)
	if n == 1 {
		// One semiblock: a single AES encryption of the whole 16 bytes.
		if err := encrypt(out); err != nil {
			clear(out)
			return nil, err
		}
		return out, nil
	}

	// More: the key wrapping process W of RFC 3394, section 2.2.1, with that initial value.
	var blk [16]byte
	defer clear(blk[:])
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(blk[:8], out[:8])
			copy(blk[8:], out[8*i:8*i+8])
			if err := encrypt(blk[:]); err != nil {
				clear(out)
				return nil, err
			}
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(blk[:8])^t)
			copy(out[8*i:8*i+8], blk[8:])
		}
	}
	return out, nil
}
