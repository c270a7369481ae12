package p11_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

func TestCheckMechanisms(t *testing.T) {
	tok := softhsmtest.New(t, "vse-test")
	tk := openToken(t, tok)

	tests := []struct {
		name string
		need p11.Need
		want []string // fragments of the error; none: no error
		isRV bool     // CKR_MECHANISM_INVALID reachable with errors.As
		isOK bool
	}{
		{name: "AES key wrap with padding, 256-bit KEK",
			need: p11.Need{Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Flags: pkcs11.CKF_WRAP | pkcs11.CKF_UNWRAP, KeyBits: 256},
			isOK: true},
		{name: "AES key generation, 256 bits",
			need: p11.Need{Mechanism: pkcs11.CKM_AES_KEY_GEN, Flags: pkcs11.CKF_GENERATE, KeyBits: 256},
			isOK: true},
		{name: "ECDSA on P-256",
			need: p11.Need{Mechanism: pkcs11.CKM_ECDSA, Flags: pkcs11.CKF_SIGN | pkcs11.CKF_EC_NAMEDCURVE, KeyBits: 256},
			isOK: true},
		{name: "mechanism SoftHSM lacks",
			need: p11.Need{Mechanism: pkcs11.CKM_AES_CCM, Flags: pkcs11.CKF_ENCRYPT},
			want: []string{"token vse-test lacks CKM_AES_CCM (0x1088) for encrypt"}, isRV: true},
		{name: "mechanism SoftHSM has, for a use it lacks",
			need: p11.Need{Mechanism: pkcs11.CKM_AES_GCM, Flags: pkcs11.CKF_WRAP},
			want: []string{"token vse-test lacks CKM_AES_GCM (0x1087) for wrap", "only for encrypt and decrypt"}},
		{name: "ECB is not a wrap mechanism on SoftHSM",
			need: p11.Need{Mechanism: pkcs11.CKM_AES_ECB, Flags: pkcs11.CKF_ENCRYPT | pkcs11.CKF_WRAP},
			want: []string{"CKM_AES_ECB (0x1081) for encrypt and wrap"}},
		{name: "key size out of range",
			need: p11.Need{Mechanism: pkcs11.CKM_AES_KEY_GEN, Flags: pkcs11.CKF_GENERATE, KeyBits: 512},
			want: []string{"CKM_AES_KEY_GEN (0x1080) for key generation with 512-bit keys", "16 to 32 bytes"}},
		{name: "unnamed mechanism",
			need: p11.Need{Mechanism: 0x8000_1234, Flags: pkcs11.CKF_SIGN},
			want: []string{"mechanism 0x80001234 for sign"}, isRV: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tk.CheckMechanisms(tc.need)
			if tc.isOK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, p11.ErrMechanism) {
				t.Errorf("errors.Is(err, ErrMechanism) is false: %v", err)
			}
			var rv pkcs11.Error
			if got := errors.As(err, &rv) && rv == pkcs11.CKR_MECHANISM_INVALID; got != tc.isRV {
				t.Errorf("CKR_MECHANISM_INVALID reachable = %v, want %v: %v", got, tc.isRV, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}

	// Several shortfalls are all reported.
	err := tk.CheckMechanisms(
		p11.Need{Mechanism: pkcs11.CKM_AES_CCM},
		p11.Need{Mechanism: pkcs11.CKM_ECDSA, Flags: pkcs11.CKF_SIGN},
		p11.Need{Mechanism: pkcs11.CKM_SHA3_256, Flags: pkcs11.CKF_DIGEST},
	)
	if err == nil || !strings.Contains(err.Error(), "CKM_AES_CCM") || !strings.Contains(err.Error(), "CKM_SHA3_256") ||
		strings.Contains(err.Error(), "CKM_ECDSA") {
		t.Errorf("joined error should name CCM and SHA3-256 and not ECDSA: %v", err)
	}
}

// SoftHSM answers C_GetMechanismInfo for a mechanism its configuration took away, and then
// refuses to use it: the check must go by C_GetMechanismList too.
func TestCheckMechanismsDisabledByConfig(t *testing.T) {
	// SoftHSM 2.6.1 ignores the first name after the '-' of slots.mechanisms.
	tok := softhsmtest.New(t, "vse-test", "slots.mechanisms = -CKM_AES_GCM,CKM_AES_KEY_WRAP_PAD")
	tk := openToken(t, tok)
	err := tk.CheckMechanisms(p11.Need{Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Flags: pkcs11.CKF_WRAP})
	if !errors.Is(err, p11.ErrMechanism) ||
		!strings.Contains(err.Error(), "token vse-test lacks CKM_AES_KEY_WRAP_PAD (0x210a) for wrap") {
		t.Fatalf("err = %v, want the disabled mechanism named", err)
	}
	if err := tk.CheckMechanisms(p11.Need{Mechanism: pkcs11.CKM_AES_GCM, Flags: pkcs11.CKF_ENCRYPT}); err != nil {
		t.Fatalf("CKM_AES_GCM: %v", err)
	}
}
