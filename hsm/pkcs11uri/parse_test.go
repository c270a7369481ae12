package pkcs11uri

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in    string
		wants []string // each must appear in the message
	}{
		{"token=a", []string{`missing scheme`, `"pkcs11:"`}},
		{"", []string{"missing scheme"}},
		{"pkcs11", []string{"missing scheme"}},
		{"pkcs12:token=a", []string{"missing scheme"}},
		{"pkcs11=token=a", []string{"missing scheme"}},

		{"pkcs11:=a", []string{"path attribute at byte 7: empty name before '='"}},
		{"pkcs11:;", []string{"path attribute at byte 7: empty attribute; remove the stray ';'"}},
		{"pkcs11:token=a;;object=b", []string{"path attribute at byte 15: empty attribute"}},
		{"pkcs11:token=a;", []string{"path attribute at byte 15: empty attribute"}},
		{"pkcs11:?&", []string{"query attribute at byte 8: empty attribute; remove the stray '&'"}},
		{"pkcs11:?module-name=a&&x=b", []string{"query attribute at byte 22: empty attribute"}},
		{"pkcs11:token", []string{"path attribute at byte 7: no '=' between name and value"}},
		{"pkcs11:?x-a=1&x-b", []string{"query attribute at byte 14: no '='"}},
		{"pkcs11:to.ken=a", []string{
			"path attribute at byte 7: character '.' at byte 9 is not allowed in a name"}},
		{"pkcs11:t\u00f6ken=a", []string{"character 0xC3 at byte 8 is not allowed in a name"}},

		{"pkcs11:token=a%2", []string{
			`path attribute "token" at byte 7: malformed percent-escape "%2" at byte 14`}},
		{"pkcs11:token=a%zz", []string{`"token"`, `malformed percent-escape "%zz" at byte 14`}},
		{"pkcs11:token=a%", []string{`"token"`, `malformed percent-escape "%" at byte 14`}},
		{"pkcs11:token=a%%41", []string{`malformed percent-escape "%%4" at byte 14`}},
		{"pkcs11:token=a?module-name=%G1", []string{
			`query attribute "module-name" at byte 15: malformed percent-escape "%G1" at byte 27`}},

		{"pkcs11:token=a b", []string{`path attribute "token" at byte 7: ` +
			`character ' ' at byte 14 must be percent-encoded as %20`}},
		{"pkcs11:token=vsefab/acme", []string{`"token"`, `character '/' at byte 19`, "as %2F"}},
		{"pkcs11:token=Z\u00fcrich", []string{`"token"`, "character 0xC3 at byte 14", "as %C3"}},
		{"pkcs11:token=a#frag", []string{`"token"`, `character '#' at byte 14`, "as %23"}},
		{"pkcs11:token=a\n", []string{`"token"`, `character 0x0A at byte 14`, "as %0A"}},
		{"pkcs11:?x-a=b;c", []string{
			`query attribute "x-a" at byte 8`, `character ';' at byte 13`}},

		{"pkcs11:token=a;token=b", []string{
			`path attribute "token" at byte 15: given twice (first at byte 7)`}},
		{"pkcs11:TOKEN=a;object=o;Token=b", []string{
			`path attribute "token" at byte 24: given twice (first at byte 7)`}},
		{"pkcs11:x-v=1;x-v=1", []string{`path attribute "x-v" at byte 13: given twice`}},
		{"pkcs11:?module-path=/a&module-path=/b", []string{`query attribute "module-path" ` +
			`at byte 23: given twice (first at byte 8); name one module`}},

		{"pkcs11:?token=a", []string{`query attribute "token" at byte 8: belongs in the path`}},
		{"pkcs11:object=k?id=%01", []string{
			`query attribute "id" at byte 16: belongs in the path`}},
		{"pkcs11:module-name=a", []string{
			`path attribute "module-name" at byte 7: belongs in the query`}},
		{"pkcs11:module-path=/lib/p11.so", []string{`"module-path"`, "belongs in the query"}},

		{"pkcs11:type=key", []string{
			`path attribute "type" at byte 7: "key" is not an object type`}},
		{"pkcs11:type=", []string{`"type"`, `"" is not an object type`}},
		{"pkcs11:type=Private", []string{`"type"`, `"Private" is not an object type`}},
		{"pkcs11:slot-id=x1", []string{
			`path attribute "slot-id" at byte 7: "x1" is not a slot number`}},
		{"pkcs11:slot-id=", []string{`"slot-id"`, `"" is not a slot number`}},
		{"pkcs11:slot-id=99999999999999999999", []string{`"slot-id"`, "too large"}},
		{"pkcs11:library-version=1.", []string{`"library-version"`, `"1." is not a version`}},
		{"pkcs11:library-version=1.2.3", []string{`"library-version"`, `"1.2.3" is not a version`}},
		{"pkcs11:library-version=.5", []string{`"library-version"`, `".5" is not a version`}},
	}

	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.in, u)
			}
			if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrPIN) {
				t.Errorf("error %v does not wrap ErrMalformed alone", err)
			}
			if !strings.HasPrefix(err.Error(), "pkcs11uri: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, in := range []string{
		"pkcs11:",
		"pkcs11:?",
		"pkcs11:serial=",
		"pkcs11:slot-id=0",
		"pkcs11:slot-id=18446744073709551615",
		"pkcs11:library-version=2",
		"pkcs11:library-version=2.40",
		"pkcs11:type=private;x-vsefab-keyset=acme%2F1",
		"pkcs11:token=:[]@!$'()*+,=&?x-q=:[]@!$'()*+,=/?|",
		"pkcs11:object=~a.b_c-d",
		"pkcs11:?x-a=1&x-a=1",
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

// pinSecret is a PIN used only to make sure that no error shows it. It holds characters that
// must be encoded in the path, in the query, or both.
const pinSecret = "Geheim-4711 \u00fc;&?/"

// pinForms lists the spellings of pinSecret that must never appear in an error: raw,
// encoded as a path or a query value, fully encoded in upper and lower case, and pieces.
func pinForms() []string {
	full := string(appendEscaped(nil, pinSecret, nil))
	return []string{
		pinSecret,
		string(appendEscaped(nil, pinSecret, &pathKeep)),
		string(appendEscaped(nil, pinSecret, &queryKeep)),
		full,
		strings.ToLower(full),
		"Geheim",
		"4711",
		"%47%65", // "Ge", fully encoded
	}
}

func assertNoPIN(t *testing.T, err error) {
	t.Helper()
	for _, form := range pinForms() {
		if strings.Contains(err.Error(), form) {
			t.Errorf("error %q contains the PIN as %q", err, form)
		}
	}
}

func TestPINRefusedAndRedacted(t *testing.T) {
	path := string(appendEscaped(nil, pinSecret, &pathKeep))
	query := string(appendEscaped(nil, pinSecret, &queryKeep))
	full := string(appendEscaped(nil, pinSecret, nil))

	tests := []struct {
		name string
		in   string
		want string // "" when the message may not name the attribute
	}{
		{"pin-value in the query", "pkcs11:token=t?pin-value=" + query,
			`query attribute "pin-value" at byte 15 (value <redacted>) is refused`},
		{"pin-value in the path", "pkcs11:object=k;pin-value=" + path,
			`path attribute "pin-value" at byte 16 (value <redacted>) is refused`},
		{"pin-value fully encoded", "pkcs11:token=t?pin-value=" + full, `"pin-value"`},
		{"pin-value raw", "pkcs11:token=t?pin-value=" + pinSecret, `"pin-value"`},
		{"pin-value raw in the path", "pkcs11:pin-value=" + pinSecret, `"pin-value"`},
		{"pin-source in the query", "pkcs11:token=t?pin-source=file:/run/Geheim-4711/pin",
			`query attribute "pin-source" at byte 15 (value <redacted>)`},
		{"pin-source in the path", "pkcs11:pin-source=file:%2Frun%2FGeheim-4711",
			`path attribute "pin-source" at byte 7`},
		{"pin-value after a module", "pkcs11:token=t?module-name=m&PIN-VALUE=" + query,
			`query attribute "pin-value" at byte 29`},
		{"pin_value spelling", "pkcs11:token=t?Pin_Value=" + query, `"pin_value"`},
		{"vendor user PIN", "pkcs11:token=t?x-user-pin=" + query, `"x-user-pin"`},
		{"vendor password", "pkcs11:token=t;x-password=" + path, `"x-password"`},
		{"PIN before a duplicate", "pkcs11:token=a;token=b;type=bogus?pin-value=" + query,
			`"pin-value"`},
		{"PIN before a bad escape", "pkcs11:token=%zz?pin-value=" + query, `"pin-value"`},
		{"PIN with a bad escape", "pkcs11:token=t?pin-value=Geheim-4711%zz", `"pin-value"`},
		{"PIN glued to its name", "pkcs11:token=t?pinvalueGeheim4711",
			"query attribute at byte 15"},
		{"PIN after a bad name", "pkcs11:pin value=Geheim-4711", "path attribute at byte 7"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse accepted a URI with a PIN: %q", u)
			}
			if !errors.Is(err, ErrPIN) || errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrPIN alone", err)
			}
			msg := err.Error()
			for _, want := range []string{"<redacted>", "PIN", tc.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			assertNoPIN(t, err)
		})
	}
}

func TestSettersRefusePIN(t *testing.T) {
	tests := []struct {
		name string
		set  func(u *URI) error
		want string
	}{
		{"SetQuery pin-value", func(u *URI) error { return u.SetQuery("pin-value", pinSecret) },
			`query attribute "pin-value" (value <redacted>) is refused`},
		{"SetPath pin-value", func(u *URI) error { return u.SetPath("pin-value", pinSecret) },
			`path attribute "pin-value" (value <redacted>) is refused`},
		{"SetPathBytes pin-value", func(u *URI) error {
			return u.SetPathBytes("pin-value", []byte(pinSecret))
		}, `path attribute "pin-value"`},
		{"SetQuery pin-source", func(u *URI) error {
			return u.SetQuery("pin-source", "file:/run/Geheim-4711")
		}, `query attribute "pin-source"`},
		{"SetQuery Pin_Value", func(u *URI) error { return u.SetQuery("Pin_Value", pinSecret) },
			`query attribute "pin_value"`},
		{"SetPath so PIN", func(u *URI) error { return u.SetPath("x-so-pin", pinSecret) },
			`path attribute "x-so-pin"`},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := New()
			if err := u.SetPath("token", "acme"); err != nil {
				t.Fatal(err)
			}

			err := tc.set(u)
			if !errors.Is(err, ErrPIN) {
				t.Fatalf("error = %v, want one wrapping ErrPIN", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			assertNoPIN(t, err)
			if got := u.String(); got != "pkcs11:token=acme" {
				t.Errorf("a refused setter changed the URI to %q", got)
			}
		})
	}
}

// Errors other than the PIN refusal must not quote a PIN either, when a malformed URI has
// one where the parser cannot tell it is a PIN.
func TestOtherErrorsDoNotQuoteValues(t *testing.T) {
	for _, in := range []string{
		"token=t?pin-value=Geheim-4711",    // no scheme
		"pkcs11:Geheim-4711",               // no '='
		"pkcs11:token=a;token=Geheim-4711", // duplicate
	} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		assertNoPIN(t, err)
	}
}

func TestIsPINName(t *testing.T) {
	for name, want := range map[string]bool{
		"pin-value": true, "pin-source": true, "PIN-VALUE": true, "pinvalue": true,
		"pin_source": true, "x-pin-value": true, "x-user-pin": true, "so-pin": true, "pin": true,
		"x-password": true, "passphrase": true,
		"token": false, "x-mapping": false, "x-spinner": false, "x-pinned-cert": false,
		"object": false, "module-path": false,
	} {
		if got := isPINName(name); got != want {
			t.Errorf("isPINName(%q) = %v, want %v", name, got, want)
		}
	}
}
