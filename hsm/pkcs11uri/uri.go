package pkcs11uri

import (
	"slices"
	"strconv"
	"strings"
)

// prefix starts every PKCS#11 URI; Parse accepts it in any letter case, String prints it so.
const prefix = "pkcs11:"

// ObjectType is the value of the type attribute: the class of object a URI selects.
type ObjectType string

// The object types RFC 7512 defines, one for each PKCS#11 object class a URI can select.
const (
	TypePrivate   ObjectType = "private"    // CKO_PRIVATE_KEY
	TypePublic    ObjectType = "public"     // CKO_PUBLIC_KEY
	TypeSecretKey ObjectType = "secret-key" // CKO_SECRET_KEY
	TypeCert      ObjectType = "cert"       // CKO_CERTIFICATE
	TypeData      ObjectType = "data"       // CKO_DATA
)

// Attr is one attribute of a URI: its lowercase name and its decoded value, which may hold
// any bytes (the id attribute holds binary).
type Attr struct {
	Name  string
	Value string
}

// URI is a PKCS#11 URI: the path attributes and the query attributes, each list in order.
// Every URI this package hands out has passed the checks Parse makes. The zero value is the
// empty URI "pkcs11:", which matches every object of every token.
type URI struct {
	path  []Attr
	query []Attr
}

// The attributes RFC 7512 defines, by the part of the URI they belong to. pin-source and
// pin-value are query attributes, but every URI holding one is refused.
var (
	pathNames = map[string]bool{
		"token": true, "manufacturer": true, "serial": true, "model": true,
		"library-manufacturer": true, "library-description": true, "library-version": true,
		"object": true, "type": true, "id": true,
		"slot-description": true, "slot-manufacturer": true, "slot-id": true,
	}
	queryNames = map[string]bool{
		"module-name": true, "module-path": true, "pin-source": true, "pin-value": true,
	}
)

// New returns an empty URI, "pkcs11:", for the setters to fill.
func New() *URI {
	return &URI{}
}

// String returns the canonical text of u, described in the package comment.
func (u *URI) String() string {
	b := []byte(prefix)
	for i, a := range u.path {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, a.Name...)
		b = append(b, '=')
		if a.Name == "id" {
			b = appendEscaped(b, a.Value, nil)
		} else {
			b = appendEscaped(b, a.Value, &pathKeep)
		}
	}

	for i, a := range u.query {
		if i == 0 {
			b = append(b, '?')
		} else {
			b = append(b, '&')
		}
		b = append(b, a.Name...)
		b = append(b, '=')
		b = appendEscaped(b, a.Value, &queryKeep)
	}
	return string(b)
}

// Equal reports whether u and v hold the same attributes, in the same order, in the same
// parts. Two URIs are equal exactly when their String results are.
func (u *URI) Equal(v *URI) bool {
	return slices.Equal(u.path, v.path) && slices.Equal(u.query, v.query)
}

// Path returns the decoded value of the path attribute name and whether it is present.
func (u *URI) Path(name string) (string, bool) {
	return lookup(u.path, strings.ToLower(name))
}

// Query returns the decoded value of the query attribute name and whether it is present.
// Only vendor attributes may appear more than once; Query returns the first.
func (u *URI) Query(name string) (string, bool) {
	return lookup(u.query, strings.ToLower(name))
}

// PathAttrs returns a copy of the path attributes in order.
func (u *URI) PathAttrs() []Attr {
	return slices.Clone(u.path)
}

// QueryAttrs returns a copy of the query attributes in order.
func (u *URI) QueryAttrs() []Attr {
	return slices.Clone(u.query)
}

// Token returns the token label (CK_TOKEN_INFO label), or "" when the URI has none.
func (u *URI) Token() string {
	v, _ := u.Path("token")
	return v
}

// Object returns the object label (CKA_LABEL), or "" when the URI has none.
func (u *URI) Object() string {
	v, _ := u.Path("object")
	return v
}

// ID returns a copy of the object identifier (CKA_ID), or nil when the URI has none.
func (u *URI) ID() []byte {
	v, ok := u.Path("id")
	if !ok {
		return nil
	}
	return []byte(v)
}

// Type returns the object type, or "" when the URI has none.
func (u *URI) Type() ObjectType {
	v, _ := u.Path("type")
	return ObjectType(v)
}

// Manufacturer returns the token manufacturer (CK_TOKEN_INFO manufacturerID), or "".
func (u *URI) Manufacturer() string {
	v, _ := u.Path("manufacturer")
	return v
}

// Serial returns the token serial number (CK_TOKEN_INFO serialNumber), or "".
func (u *URI) Serial() string {
	v, _ := u.Path("serial")
	return v
}

// Model returns the token model (CK_TOKEN_INFO model), or "".
func (u *URI) Model() string {
	v, _ := u.Path("model")
	return v
}

// SlotID returns the slot number (CK_SLOT_ID) and whether the URI has one.
func (u *URI) SlotID() (uint64, bool) {
	v, ok := u.Path("slot-id")
	if !ok {
		return 0, false
	}

	// Every slot-id was checked to fit when it was parsed or set.
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// ModuleName returns the name of the PKCS#11 module to load, or "".
func (u *URI) ModuleName() string {
	v, _ := u.Query("module-name")
	return v
}

// ModulePath returns the file system path of the PKCS#11 module to load, or "".
func (u *URI) ModulePath() string {
	v, _ := u.Query("module-path")
	return v
}

// SetPath sets the path attribute name to value. An attribute already present keeps its
// place; a new one goes last. It refuses what Parse refuses: a PIN, a name that is malformed
// or belongs in the query, a value the name does not allow.
func (u *URI) SetPath(name, value string) error {
	a, err := checkAttr(where{part: "path", at: -1}, name, value)
	if err != nil {
		return err
	}
	u.path = set(u.path, a)
	return nil
}

// SetPathBytes sets the path attribute name to a binary value, such as an id.
func (u *URI) SetPathBytes(name string, value []byte) error {
	return u.SetPath(name, string(value))
}

// SetQuery sets the query attribute name to value. An attribute already present keeps the
// place of its first occurrence and loses any others; a new one goes last. It refuses what
// Parse refuses.
func (u *URI) SetQuery(name, value string) error {
	a, err := checkAttr(where{part: "query", at: -1}, name, value)
	if err != nil {
		return err
	}
	u.query = set(u.query, a)
	return nil
}

func lookup(attrs []Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// set puts a in place of the first attribute of the same name, dropping any later ones, or
// appends it.
func set(attrs []Attr, a Attr) []Attr {
	i := slices.IndexFunc(attrs, func(b Attr) bool { return b.Name == a.Name })
	if i < 0 {
		return append(attrs, a)
	}

	attrs[i] = a
	rest := slices.DeleteFunc(attrs[i+1:], func(b Attr) bool { return b.Name == a.Name })
	return attrs[:i+1+len(rest)]
}
