package p11

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// Need is what a caller requires of one mechanism: that the token has it, for every use in
// Flags (CKF_WRAP, CKF_SIGN, ...), and for keys of KeyBits bits (0: any size).
type Need struct {
	Mechanism uint
	Flags     uint
	KeyBits   uint
}

// MechanismError says that a token lacks a mechanism, or the use or key size asked of it.
// errors.Is(err, ErrMechanism) holds; when the token does not know the mechanism at all the
// pkcs11.Error (CKR_MECHANISM_INVALID) is reachable with errors.As.
type MechanismError struct {
	Token  string
	Need   Need
	Reason string // what the token offers instead; empty when it lacks the mechanism
	Err    error  // the token's answer, when it gave one
}

func (e *MechanismError) Error() string {
	s := fmt.Sprintf("p11: token %s lacks %s for %s", e.Token, MechanismName(e.Need.Mechanism), uses(e.Need.Flags))
	if e.Need.KeyBits != 0 {
		s += fmt.Sprintf(" with %d-bit keys", e.Need.KeyBits)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + "; use a token (or module version) that supports it"
}

func (e *MechanismError) Is(target error) bool { return target == ErrMechanism }

func (e *MechanismError) Unwrap() error { return e.Err }

// byteSized are mechanisms whose CK_MECHANISM_INFO key sizes PKCS#11 gives in bytes; the
// others (EC, RSA) give bits.
var byteSized = map[uint]bool{
	pkcs11.CKM_AES_KEY_GEN:            true,
	pkcs11.CKM_AES_ECB:                true,
	pkcs11.CKM_AES_CBC:                true,
	pkcs11.CKM_AES_CBC_PAD:            true,
	pkcs11.CKM_AES_CTR:                true,
	pkcs11.CKM_AES_GCM:                true,
	pkcs11.CKM_AES_CMAC:               true,
	pkcs11.CKM_AES_KEY_WRAP:           true,
	pkcs11.CKM_AES_KEY_WRAP_PAD:       true,
	pkcs11.CKM_GENERIC_SECRET_KEY_GEN: true,
	pkcs11.CKM_SHA256_HMAC:            true,
}

// CheckMechanisms asks the token about each need and returns every shortfall, joined; each
// is a *MechanismError. A mechanism must be in C_GetMechanismList and C_GetMechanismInfo must
// report the uses and key size: SoftHSM 2.6 still answers C_GetMechanismInfo for a mechanism
// its configuration (slots.mechanisms) has taken away, and then refuses to use it.
func (t *Token) CheckMechanisms(needs ...Need) error {
	list, err := t.mod.ctx.GetMechanismList(t.slot)
	if err != nil {
		return wrapRV("C_GetMechanismList", t.label, "", err)
	}
	listed := map[uint]bool{}
	for _, m := range list {
		listed[m.Mechanism] = true
	}
	var errs []error
	for _, n := range needs {
		if !listed[n.Mechanism] {
			errs = append(errs, &MechanismError{Token: t.label, Need: n,
				Err: pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)})
			continue
		}
		if err := t.checkMechanism(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Token) checkMechanism(n Need) error {
	info, err := t.mod.ctx.GetMechanismInfo(t.slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(n.Mechanism, nil)})
	if err != nil {
		if IsRV(err, pkcs11.CKR_MECHANISM_INVALID) {
			return &MechanismError{Token: t.label, Need: n, Err: err}
		}
		return wrapRV("C_GetMechanismInfo of", t.label, MechanismName(n.Mechanism), err)
	}
	if missing := n.Flags &^ info.Flags; missing != 0 {
		return &MechanismError{Token: t.label, Need: n,
			Reason: fmt.Sprintf("it offers it only for %s", uses(info.Flags&allUseFlags))}
	}
	if n.KeyBits == 0 || (info.MinKeySize == 0 && info.MaxKeySize == 0) {
		return nil
	}
	unit, size := "bits", n.KeyBits
	if byteSized[n.Mechanism] {
		unit, size = "bytes", (n.KeyBits+7)/8
	}
	if size >= info.MinKeySize && size <= info.MaxKeySize {
		return nil
	}
	// Some tokens give AES sizes in bits although PKCS#11 says bytes.
	if byteSized[n.Mechanism] && info.MaxKeySize >= 128 &&
		n.KeyBits >= info.MinKeySize && n.KeyBits <= info.MaxKeySize {
		return nil
	}
	return &MechanismError{Token: t.label, Need: n,
		Reason: fmt.Sprintf("it takes keys of %d to %d %s", info.MinKeySize, info.MaxKeySize, unit)}
}

// allUseFlags are the flags that say what a mechanism can be used for.
var allUseFlags = func() uint {
	var f uint
	for _, u := range flagUses {
		f |= u.flag
	}
	return f
}()
