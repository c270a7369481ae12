package pkcs11uri

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The examples of RFC 7512 section 3, each with what Parse must make of it. The four that
// carry pin-source or pin-value are refused; the fourth is also given without its query.
func TestRFCExamples(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		path      []Attr
		query     []Attr
		canonical string // "" when String must give back the input
		err       error
	}{
		{name: "empty", in: "pkcs11:"},
		{
			name: "public key",
			in:   "pkcs11:object=my-pubkey;type=public",
			path: []Attr{{"object", "my-pubkey"}, {"type", "public"}},
		},
		{
			name: "pin-source file",
			in:   "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
			err:  ErrPIN,
		},
		{
			name: "certificate with pin-source",
			in: "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;" +
				"manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;" +
				"id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
			err: ErrPIN,
		},
		{
			name: "certificate without its query",
			in: "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;" +
				"manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;" +
				"id=%69%95%3E%5C%F4%BD%EC%91;serial=",
			path: []Attr{
				{"token", "The Software PKCS#11 Softtoken"},
				{"manufacturer", "Snake Oil, Inc."},
				{"model", "1.0"},
				{"object", "my-certificate"},
				{"type", "cert"},
				{"id", "\x69\x95\x3e\x5c\xf4\xbd\xec\x91"},
				{"serial", ""},
			},
		},
		{
			name:  "module-name",
			in:    "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
			path:  []Attr{{"object", "my-sign-key"}, {"type", "private"}},
			query: []Attr{{"module-name", "mypkcs11"}},
		},
		{
			name:  "module-path",
			in:    "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
			path:  []Attr{{"object", "my-sign-key"}, {"type", "private"}},
			query: []Attr{{"module-path", "/mnt/libmypkcs11.so.1"}},
		},
		{
			name: "pin-value",
			in: "pkcs11:token=Software%20PKCS%2311%20softtoken;" +
				"manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
			err: ErrPIN,
		},
		{
			name: "slot",
			in:   "pkcs11:slot-description=Sun%20Metaslot",
			path: []Attr{{"slot-description", "Sun Metaslot"}},
		},
		{
			name: "library",
			in: "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;" +
				"library-description=Soft%20Token%20Library;library-version=1.23",
			path: []Attr{
				{"library-manufacturer", "Snake Oil, Inc."},
				{"library-description", "Soft Token Library"},
				{"library-version", "1.23"},
			},
		},
		{
			name: "percent sign in label, mixed-case hex in id",
			in: "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;" +
				"id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
			path: []Attr{
				{"token", "My token% created by Joe"},
				{"library-version", "3"},
				{"id", "\x01\x02\x03\xba\xdd\xca\xfe\x04\x05\x06"},
			},
			canonical: "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;" +
				"id=%01%02%03%BA%DD%CA%FE%04%05%06",
		},
		{
			name: "percent and semicolon in label",
			in: "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;" +
				"object=my-certificate;type=cert",
			path: []Attr{
				{"token", "A name with a substring %;"},
				{"object", "my-certificate"},
				{"type", "cert"},
			},
		},
		{
			name: "non-ASCII label",
			in: "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;" +
				"object=my-certificate;type=cert",
			path: []Attr{
				{"token", "Name with a small A with acute: \u00e1"},
				{"object", "my-certificate"},
				{"type", "cert"},
			},
		},
		{
			name: "vendor attributes with pin-source",
			in: "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a" +
				"?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
			err: ErrPIN,
		},
		{
			name: "vendor attributes without pin-source",
			in: "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a" +
				"?vendor-bbb=value-b",
			path: []Attr{
				{"token", "my-token"},
				{"object", "my-certificate"},
				{"type", "cert"},
				{"vendor-aaa", "value-a"},
			},
			query: []Attr{{"vendor-bbb", "value-b"}},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse(%q) error = %v, want one wrapping %v", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}

			if got := u.PathAttrs(); !slices.Equal(got, tc.path) {
				t.Errorf("path = %q, want %q", got, tc.path)
			}
			if got := u.QueryAttrs(); !slices.Equal(got, tc.query) {
				t.Errorf("query = %q, want %q", got, tc.query)
			}

			want := tc.canonical
			if want == "" {
				want = tc.in
			}
			if got := u.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			assertRoundTrip(t, u)
		})
	}
}

// assertRoundTrip checks that u prints to text that parses back to u and prints the same.
func assertRoundTrip(t *testing.T, u *URI) {
	t.Helper()
	s := u.String()
	back, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q), the String of a URI: %v", s, err)
	}
	if !back.Equal(u) {
		t.Fatalf("Parse(%q) = path %q query %q, want path %q query %q",
			s, back.path, back.query, u.path, u.query)
	}
	if again := back.String(); again != s {
		t.Fatalf("String changed across a round trip: %q, then %q", s, again)
	}
}

func TestLabelsRoundTrip(t *testing.T) {
	tests := []struct {
		part  string // "path" or "query"
		name  string
		value string
		want  string
	}{
		{"path", "token", "vsefab/acme/1/storage", "pkcs11:token=vsefab%2Facme%2F1%2Fstorage"},
		{"path", "token", "Test; Token", "pkcs11:token=Test%3B%20Token"},
		{"path", "object", "Z\u00fcrich", "pkcs11:object=Z%C3%BCrich"},
		{"path", "object", "50% off?", "pkcs11:object=50%25%20off%3F"},
		{"path", "token", "a&b=c", "pkcs11:token=a&b=c"},
		{"path", "token", "tab\there", "pkcs11:token=tab%09here"},
		{"path", "token", "\x00\xff", "pkcs11:token=%00%FF"},
		{"path", "serial", "", "pkcs11:serial="},
		{"path", "x-vsefab-custodian", "Ana L\u00f3pez",
			"pkcs11:x-vsefab-custodian=Ana%20L%C3%B3pez"},
		{"path", "slot-id", "18446744073709551615", "pkcs11:slot-id=18446744073709551615"},
		{"query", "module-path", "/usr/lib/softhsm/libsofthsm2.so",
			"pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so"},
		{"query", "module-path", "/opt/HSM vendor/lib?.so",
			"pkcs11:?module-path=/opt/HSM%20vendor/lib?.so"},
		{"query", "module-name", "a&b;c", "pkcs11:?module-name=a%26b%3Bc"},
		{"query", "x-note", "Z\u00fcrich|Gen\u00e8ve", "pkcs11:?x-note=Z%C3%BCrich|Gen%C3%A8ve"},
	}

	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			u := New()
			var err error
			if tc.part == "path" {
				err = u.SetPath(tc.name, tc.value)
			} else {
				err = u.SetQuery(tc.name, tc.value)
			}
			if err != nil {
				t.Fatalf("set %s %q: %v", tc.part, tc.name, err)
			}

			if got := u.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			assertRoundTrip(t, u)

			back, err := Parse(tc.want)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.want, err)
			}
			get := back.Path
			if tc.part == "query" {
				get = back.Query
			}
			if got, ok := get(tc.name); !ok || got != tc.value {
				t.Errorf("%s %q = %q, %v; want %q", tc.part, tc.name, got, ok, tc.value)
			}
		})
	}
}

func TestIDEveryByte(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}

	var want strings.Builder
	want.WriteString("pkcs11:id=")
	for i := range 256 {
		fmt.Fprintf(&want, "%%%02X", i)
	}

	u := New()
	if err := u.SetPathBytes("id", all); err != nil {
		t.Fatal(err)
	}
	if got := u.String(); got != want.String() {
		t.Fatalf("String() = %q, want %q", got, want.String())
	}
	assertRoundTrip(t, u)

	back, err := Parse(want.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := back.ID(); !bytes.Equal(got, all) {
		t.Fatalf("ID() = %x, want %x", got, all)
	}

	// Each byte alone, so a mistake for one value cannot hide among the others.
	for i := range 256 {
		u := New()
		if err := u.SetPathBytes("id", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if got, want := u.String(), fmt.Sprintf("pkcs11:id=%%%02X", i); got != want {
			t.Errorf("id %#02x: String() = %q, want %q", i, got, want)
		}
		assertRoundTrip(t, u)
	}
}

func TestIDIsAlwaysFullyEncoded(t *testing.T) {
	u, err := Parse("pkcs11:id=key-1;object=key-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "pkcs11:id=%6B%65%79%2D%31;object=key-1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := u.ID(); string(got) != "key-1" {
		t.Errorf("ID() = %q, want %q", got, "key-1")
	}
}

func TestPathAndQueryKeptApart(t *testing.T) {
	in := "pkcs11:token=vsefab%2Facme%2F1%2Fstorage;object=kek;type=secret-key;id=%01%02" +
		"?module-path=/usr/lib/softhsm/libsofthsm2.so&module-name=softhsm2&x-a=1&x-a=2"
	u, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}

	wantPath := []Attr{
		{"token", "vsefab/acme/1/storage"},
		{"object", "kek"},
		{"type", "secret-key"},
		{"id", "\x01\x02"},
	}
	wantQuery := []Attr{
		{"module-path", "/usr/lib/softhsm/libsofthsm2.so"},
		{"module-name", "softhsm2"},
		{"x-a", "1"},
		{"x-a", "2"},
	}
	if got := u.PathAttrs(); !slices.Equal(got, wantPath) {
		t.Errorf("path = %q, want %q", got, wantPath)
	}
	if got := u.QueryAttrs(); !slices.Equal(got, wantQuery) {
		t.Errorf("query = %q, want %q", got, wantQuery)
	}

	if _, ok := u.Path("module-path"); ok {
		t.Error(`Path("module-path") found a query attribute`)
	}
	if _, ok := u.Query("token"); ok {
		t.Error(`Query("token") found a path attribute`)
	}
	if got, _ := u.Query("x-a"); got != "1" {
		t.Errorf(`Query("x-a") = %q, want the first, "1"`, got)
	}
	if got := u.String(); got != in {
		t.Errorf("String() = %q, want %q", got, in)
	}

	// The same name on both sides of '?' is two attributes, not a duplicate.
	both, err := Parse("pkcs11:x-site=zrh?x-site=gva")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := both.Path("x-site")
	q, _ := both.Query("x-site")
	if p != "zrh" || q != "gva" {
		t.Errorf("x-site: path %q, query %q; want zrh, gva", p, q)
	}
}

func TestAccessors(t *testing.T) {
	u, err := Parse("pkcs11:token=acme;manufacturer=SoftHSM%20project;serial=1a2b;" +
		"model=SoftHSM%20v2;slot-id=42;object=signing;type=private;id=%CA%FE" +
		"?module-name=softhsm2&module-path=/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		t.Fatal(err)
	}

	slot, hasSlot := u.SlotID()
	got := []string{
		u.Token(), u.Manufacturer(), u.Serial(), u.Model(), fmt.Sprint(slot, hasSlot),
		u.Object(), string(u.Type()), fmt.Sprintf("%x", u.ID()), u.ModuleName(), u.ModulePath(),
	}
	want := []string{
		"acme", "SoftHSM project", "1a2b", "SoftHSM v2", "42 true",
		"signing", "private", "cafe", "softhsm2", "/usr/lib/softhsm/libsofthsm2.so",
	}
	if !slices.Equal(got, want) {
		t.Errorf("accessors = %q, want %q", got, want)
	}
	if u.Type() != TypePrivate {
		t.Errorf("Type() = %q, want TypePrivate", u.Type())
	}

	// An empty URI has none of them.
	empty := New()
	slot, hasSlot = empty.SlotID()
	if empty.Token() != "" || empty.ID() != nil || empty.Type() != "" || hasSlot || slot != 0 ||
		empty.ModulePath() != "" {
		t.Errorf("empty URI reports attributes: %+v", empty)
	}

	// An empty id is present and empty, not absent.
	u, err = Parse("pkcs11:id=")
	if err != nil {
		t.Fatal(err)
	}
	if id := u.ID(); id == nil || len(id) != 0 {
		t.Errorf("ID() of id= is %#v, want an empty non-nil slice", id)
	}

	// ID returns a copy.
	u, err = Parse("pkcs11:id=%01")
	if err != nil {
		t.Fatal(err)
	}
	u.ID()[0] = 0xFF
	if got := u.ID(); got[0] != 0x01 {
		t.Errorf("changing the slice ID returned changed the URI: %x", got)
	}
}

func TestSetters(t *testing.T) {
	u := New()
	steps := []struct {
		set  func() error
		want string
	}{
		{func() error { return u.SetPath("token", "acme") }, "pkcs11:token=acme"},
		{func() error { return u.SetPath("Object", "kek") }, "pkcs11:token=acme;object=kek"},
		{func() error { return u.SetPath("token", "Z\u00fcrich") },
			"pkcs11:token=Z%C3%BCrich;object=kek"},
		{func() error { return u.SetPathBytes("id", []byte{0, 1}) },
			"pkcs11:token=Z%C3%BCrich;object=kek;id=%00%01"},
		{func() error { return u.SetQuery("module-path", "/lib/p11.so") },
			"pkcs11:token=Z%C3%BCrich;object=kek;id=%00%01?module-path=/lib/p11.so"},
		{func() error { return u.SetPath("type", "secret-key") },
			"pkcs11:token=Z%C3%BCrich;object=kek;id=%00%01;type=secret-key" +
				"?module-path=/lib/p11.so"},
	}
	for i, step := range steps {
		if err := step.set(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := u.String(); got != step.want {
			t.Fatalf("step %d: String() = %q, want %q", i, got, step.want)
		}
		assertRoundTrip(t, u)
	}

	// SetQuery keeps the first place of a repeated vendor attribute and drops the rest.
	q, err := Parse("pkcs11:?x-a=1&x-b=2&x-a=3&x-a=4")
	if err != nil {
		t.Fatal(err)
	}
	if err := q.SetQuery("x-a", "5"); err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), "pkcs11:?x-a=5&x-b=2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSetterErrors(t *testing.T) {
	tests := []struct {
		name  string
		set   func(u *URI) error
		wants []string
	}{
		{"bad type", func(u *URI) error { return u.SetPath("type", "key") },
			[]string{`path attribute "type"`, `"key" is not an object type`}},
		{"module-path in path", func(u *URI) error { return u.SetPath("module-path", "/x") },
			[]string{`path attribute "module-path"`, "belongs in the query"}},
		{"token in query", func(u *URI) error { return u.SetQuery("token", "t") },
			[]string{`query attribute "token"`, "belongs in the path"}},
		{"empty name", func(u *URI) error { return u.SetPath("", "v") },
			[]string{"path attribute: empty name"}},
		{"bad name", func(u *URI) error { return u.SetQuery("x/y", "v") },
			[]string{"query attribute: character '/' is not allowed in a name"}},
		{"slot-id", func(u *URI) error { return u.SetPath("slot-id", "-1") },
			[]string{`path attribute "slot-id"`, `"-1" is not a slot number`}},
		{"slot-id too large", func(u *URI) error {
			return u.SetPath("slot-id", "18446744073709551616")
		}, []string{`path attribute "slot-id"`, "too large"}},
		{"library-version", func(u *URI) error { return u.SetPath("library-version", "v1") },
			[]string{`path attribute "library-version"`, `"v1" is not a version`}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := New()
			err := tc.set(u)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error = %v, want one wrapping ErrMalformed", err)
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if got := u.String(); got != "pkcs11:" {
				t.Errorf("a refused setter changed the URI to %q", got)
			}
		})
	}
}

func TestCanonicalForm(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PKCS11:Token=a%2fb", "pkcs11:token=a%2Fb"},
		{"pkcs11:token=%41%3a%3d%26", "pkcs11:token=A:=&"},
		{"pkcs11:id=abc", "pkcs11:id=%61%62%63"},
		{"pkcs11:?", "pkcs11:"},
		{"pkcs11:?module-path=%2Flib%2Fp11.so%3F", "pkcs11:?module-path=/lib/p11.so?"},
		{"pkcs11:token=a=b", "pkcs11:token=a=b"},
		{"pkcs11:X-Vendor=1", "pkcs11:x-vendor=1"},
	}
	for _, tc := range tests {
		u, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := u.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		assertRoundTrip(t, u)
	}
}

func TestEqual(t *testing.T) {
	a, _ := Parse("pkcs11:token=a;object=b?module-name=m")
	tests := []struct {
		in   string
		want bool
	}{
		{"pkcs11:token=a;object=b?module-name=m", true},
		{"pkcs11:TOKEN=%61;object=b?module-name=m", true},
		{"pkcs11:object=b;token=a?module-name=m", false},
		{"pkcs11:token=a;object=b", false},
		{"pkcs11:token=a;object=b?x-module-name=m", false},
	}
	for _, tc := range tests {
		b, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Equal(b); got != tc.want {
			t.Errorf("Equal(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if got := a.String() == b.String(); got != tc.want {
			t.Errorf("String equality for %q = %v, want %v", tc.in, got, tc.want)
		}
	}
}
