package pkcs11uri

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that whatever Parse accepts prints to text that parses back to an equal
// URI, and that String is a fixed point; and that every refusal is an error of this package.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"pkcs11:",
		"pkcs11:object=my-pubkey;type=public",
		"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;" +
			"model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=",
		"pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
		"pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-version=1.23",
		"pkcs11:token=My%20token%25%20created%20by%20Joe;id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
		"pkcs11:token=my-token;vendor-aaa=value-a?vendor-bbb=value-b",
		"pkcs11:token=vsefab%2Facme%2F1%2Fstorage;object=Z%C3%BCrich?x-a=1&x-a=2",
		"pkcs11:token=:[]@!$'()*+,=&?x-q=:[]@!$'()*+,=/?|",
		"PKCS11:Slot-Id=7;TYPE=secret-key",
		"pkcs11:?",
		"pkcs11:token=t?pin-value=1234",
		"pkcs11:token=a%zz",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrPIN) {
				t.Fatalf("Parse(%q): error %v wraps neither sentinel", s, err)
			}
			if !strings.HasPrefix(err.Error(), "pkcs11uri: ") {
				t.Fatalf("Parse(%q): error %q lacks the package prefix", s, err)
			}
			return
		}

		printed := u.String()
		back, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but its String %q fails: %v", s, printed, err)
		}
		if !back.Equal(u) {
			t.Fatalf("Parse(%q): String %q parses to path %q query %q, want path %q query %q",
				s, printed, back.path, back.query, u.path, u.query)
		}
		if again := back.String(); again != printed {
			t.Fatalf("Parse(%q): String is not a fixed point: %q, then %q", s, printed, again)
		}
	})
}

// FuzzPINRedacted checks that the refusal of a PIN does not depend on the PIN: the message
// for any value is the message for a fixed one, so no part of the value can be in it.
func FuzzPINRedacted(f *testing.F) {
	for _, seed := range []string{"1234", pinSecret, "%zz", "a;b&c?d", "", "pin-value=x"} {
		f.Add(seed)
	}

	prefixes := []string{
		"pkcs11:token=t?pin-value=",
		"pkcs11:pin-value=",
		"pkcs11:object=k;type=bogus;pin-source=",
		"pkcs11:token=t?module-name=m&x-user-pin=",
	}
	f.Fuzz(func(t *testing.T, pin string) {
		for _, p := range prefixes {
			_, got := Parse(p + pin)
			_, ref := Parse(p + "REF")
			if !errors.Is(got, ErrPIN) {
				t.Fatalf("Parse(%q) error = %v, want one wrapping ErrPIN", p+pin, got)
			}
			if got.Error() != ref.Error() {
				t.Fatalf("PIN error depends on the PIN: %q, but for a fixed value %q", got, ref)
			}
		}
	})
}
