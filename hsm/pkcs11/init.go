package p11

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// ErrLabelTaken: a token with the label exists already.
var ErrLabelTaken = errors.New("a token has this label already")

// InitToken initializes the module's first uninitialized token: it gets label and the
// security officer PIN soPIN (C_InitToken), then the SO logs in and sets the user PIN userPIN
// (C_InitPIN). Both PINs are checked against the token's length limits before the token sees
// either, so a refused length costs no attempt and changes nothing. InitToken keeps neither
// PIN and wipes neither: the caller does.
//
// A label already in use is refused (ErrLabelTaken), because tokens are found by label alone.
func (m *Module) InitToken(label string, soPIN, userPIN []byte) error {
	if label == "" || len(label) > labelSize || label[len(label)-1] == ' ' {
		return &Error{Op: "C_InitToken", Object: fmt.Sprintf("%q", label), Err: ErrNoToken,
			Hint: "a token label is 1 to 32 bytes and does not end in a blank"}
	}
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return wrapRV("C_GetSlotList of module", "", m.path, err)
	}
	free, found := uint(0), false
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			if ti.Label == label {
				return &Error{Op: "C_InitToken", Object: fmt.Sprintf("%q", label), Err: ErrLabelTaken,
					Hint: fmt.Sprintf("module %s has a token labelled so; choose another label "+
						"(an existing token is never initialized again by vsefab)", m.path)}
			}
			continue
		}
		if !found {
			free, found = s, true
			if err := checkPINLen(ti, "SO PIN", soPIN); err != nil {
				return err
			}
			if err := checkPINLen(ti, "user PIN", userPIN); err != nil {
				return err
			}
		}
	}
	if !found {
		return &Error{Op: "C_InitToken", Object: fmt.Sprintf("%q", label), Err: ErrNoToken,
			Hint: fmt.Sprintf("module %s has no uninitialized token: add one with the HSM's "+
				"administration tool (SoftHSM always offers one free slot)", m.path)}
	}

	if err := m.ctx.InitToken(free, pinString(soPIN), label); err != nil {
		return wrapRV("C_InitToken", label, "", err)
	}
	h, err := m.ctx.OpenSession(free, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return initPINFailed(label, wrapRV("C_OpenSession", label, "", err))
	}
	defer m.ctx.CloseSession(h)
	if err := m.ctx.Login(h, pkcs11.CKU_SO, pinString(soPIN)); err != nil {
		return initPINFailed(label, wrapRV("C_Login (security officer)", label, "", err))
	}
	defer m.ctx.Logout(h)
	if err := m.ctx.InitPIN(h, pinString(userPIN)); err != nil {
		return initPINFailed(label, wrapRV("C_InitPIN", label, "", err))
	}
	return nil
}

// initPINFailed says what state a token is left in when its user PIN could not be set.
func initPINFailed(label string, err error) error {
	return fmt.Errorf("%w; token %q is initialized but has no user PIN: the security officer "+
		"sets it with the HSM's tools, or the token is initialized again", err, label)
}

// checkPINLen refuses a PIN the token's limits rule out, without saying how long it is.
func checkPINLen(ti pkcs11.TokenInfo, what string, pin []byte) error {
	min, max := ti.MinPinLen, ti.MaxPinLen
	if max == 0 || max == pkcs11.CK_UNAVAILABLE_INFORMATION {
		return nil
	}
	if n := uint(len(pin)); n < min || n > max {
		return &Error{Op: "check " + what, Token: ti.Label,
			Err:  pkcs11.Error(pkcs11.CKR_PIN_LEN_RANGE),
			Hint: fmt.Sprintf("the token takes PINs of %d to %d bytes, both halves together; nothing was sent to the token", min, max)}
	}
	return nil
}

// pinString is a string over the caller's bytes, so no Go copy of the PIN outlives the call.
//
// Limitation: miekg/pkcs11 copies it into C memory and frees that without wiping.
func pinString(pin []byte) string {
	if len(pin) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(pin), len(pin))
}
