package p11

import (
	"encoding/binary"
	"fmt"

	"github.com/miekg/pkcs11"
)

// maxFound bounds a search: no lookup of vsefab's expects more than a handful of objects.
const maxFound = 4096

// Session is a session lent by Token.Do, valid only inside the function it was lent to.
type Session struct {
	t *Token
	h pkcs11.SessionHandle
}

// Handle is the PKCS#11 session handle, for calls this package does not wrap.
func (s *Session) Handle() pkcs11.SessionHandle { return s.h }

// Ctx is the module's miekg/pkcs11 context, for calls this package does not wrap.
func (s *Session) Ctx() *pkcs11.Ctx { return s.t.mod.ctx }

// Token is the token the session is open on.
func (s *Session) Token() *Token { return s.t }

// Err wraps err, returned by a miekg/pkcs11 call on this session, with the step and object
// it concerned and the hint its return value suggests. A nil err stays nil.
func (s *Session) Err(op, object string, err error) error {
	return wrapRV(op, s.t.label, object, err)
}

// Find returns every object matching template.
func (s *Session) Find(template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	ctx := s.Ctx()
	if err := ctx.FindObjectsInit(s.h, template); err != nil {
		return nil, s.Err("C_FindObjectsInit", "", err)
	}
	var all []pkcs11.ObjectHandle
	var ferr error
	for len(all) <= maxFound {
		objs, _, err := ctx.FindObjects(s.h, 64)
		if err != nil {
			ferr = s.Err("C_FindObjects", "", err)
			break
		}
		if len(objs) == 0 {
			break
		}
		all = append(all, objs...)
	}
	// Always end the search, or the session can start no other.
	if err := ctx.FindObjectsFinal(s.h); err != nil && ferr == nil {
		ferr = s.Err("C_FindObjectsFinal", "", err)
	}
	if ferr != nil {
		return nil, ferr
	}
	if len(all) > maxFound {
		return nil, &Error{Op: "find", Token: s.t.label, Err: fmt.Errorf("more than %d objects match", maxFound)}
	}
	return all, nil
}

// FindOne returns the one object matching template; what names it in errors (its label,
// say). Nothing matching is ErrNotFound, several matching is ErrAmbiguous: never a guess.
func (s *Session) FindOne(what string, template []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	objs, err := s.Find(template)
	if err != nil {
		return 0, err
	}
	switch len(objs) {
	case 1:
		return objs[0], nil
	case 0:
		return 0, &Error{Op: "find", Object: what, Token: s.t.label, Err: ErrNotFound}
	default:
		return 0, &Error{Op: "find", Object: what, Token: s.t.label, Err: ErrAmbiguous,
			Hint: fmt.Sprintf("%d objects match; labels must be unique: find out which one is "+
				"wrong (pkcs11-tool --list-objects) and delete it", len(objs))}
	}
}

// LabelTemplate matches objects of class whose CKA_LABEL is label.
func LabelTemplate(class uint, label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
}

// Random returns n bytes from the token's random number generator.
func (s *Session) Random(n int) ([]byte, error) {
	b, err := s.Ctx().GenerateRandom(s.h, n)
	if err != nil {
		return nil, s.Err("C_GenerateRandom", "", err)
	}
	if len(b) != n {
		return nil, &Error{Op: "C_GenerateRandom", Token: s.t.label,
			Err: fmt.Errorf("got %d bytes, asked for %d", len(b), n)}
	}
	return b, nil
}

// Destroy destroys the object o; what names it in errors.
func (s *Session) Destroy(o pkcs11.ObjectHandle, what string) error {
	return s.Err("C_DestroyObject", what, s.Ctx().DestroyObject(s.h, o))
}

// Attributes are attribute values read from one object, with what the token would not say.
type Attributes struct {
	object string // what the object is, for errors
	token  string
	values map[uint][]byte
	// sensitive are attributes the token refused to reveal (CKR_ATTRIBUTE_SENSITIVE, or a
	// length of CK_UNAVAILABLE_INFORMATION).
	sensitive map[uint]bool
	// missing are attributes the object does not have (CKR_ATTRIBUTE_TYPE_INVALID).
	missing map[uint]bool
}

// Attributes reads the attributes types of o; what names o in errors. An attribute the
// token refuses to reveal or the object lacks is not an error here: Attributes records it,
// and asking for its value (Bytes, Bool, Ulong) then fails with ErrSensitive or
// ErrAttribute.
func (s *Session) Attributes(o pkcs11.ObjectHandle, what string, types ...uint) (*Attributes, error) {
	a := &Attributes{object: what, token: s.t.label, values: map[uint][]byte{},
		sensitive: map[uint]bool{}, missing: map[uint]bool{}}
	if len(types) == 0 {
		return a, nil
	}

	// All at once first; a token answers CKR_ATTRIBUTE_SENSITIVE or
	// CKR_ATTRIBUTE_TYPE_INVALID for the whole template if one attribute is, so then
	// each on its own.
	got, err := s.getAttributes(o, what, types)
	if err == nil {
		for i, t := range types {
			a.record(t, got[i].Value)
		}
		return a, nil
	}
	if !IsRV(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) && !IsRV(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) {
		return nil, err
	}
	for _, t := range types {
		got, err := s.getAttributes(o, what, []uint{t})
		switch {
		case err == nil:
			a.record(t, got[0].Value)
		case IsRV(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE):
			a.sensitive[t] = true
		case IsRV(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID):
			a.missing[t] = true
		default:
			return nil, err
		}
	}
	return a, nil
}

// getAttributes is one C_GetAttributeValue, sized by miekg/pkcs11 with a first call. Should
// a value grow between that call and the second (CKR_BUFFER_TOO_SMALL), it asks again.
func (s *Session) getAttributes(o pkcs11.ObjectHandle, what string, types []uint) ([]*pkcs11.Attribute, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	var err error
	for try := 0; try < 3; try++ {
		var got []*pkcs11.Attribute
		got, err = s.Ctx().GetAttributeValue(s.h, o, tmpl)
		if err == nil {
			if len(got) != len(types) {
				return nil, &Error{Op: "C_GetAttributeValue", Object: what, Token: s.t.label,
					Err: fmt.Errorf("%d values for %d attributes", len(got), len(types))}
			}
			return got, nil
		}
		if !IsRV(err, pkcs11.CKR_BUFFER_TOO_SMALL) {
			break
		}
	}
	return nil, s.Err("C_GetAttributeValue", what, err)
}

func (a *Attributes) record(t uint, v []byte) {
	// miekg/pkcs11 leaves Value nil for a length of CK_UNAVAILABLE_INFORMATION, and
	// non-nil (perhaps empty) otherwise.
	if v == nil {
		a.sensitive[t] = true
		return
	}
	a.values[t] = v
}

// Sensitive reports whether the token refused to reveal attribute t.
func (a *Attributes) Sensitive(t uint) bool { return a.sensitive[t] }

// Missing reports whether the object lacks attribute t.
func (a *Attributes) Missing(t uint) bool { return a.missing[t] }

// Bytes returns the value of attribute t.
func (a *Attributes) Bytes(t uint) ([]byte, error) {
	if v, ok := a.values[t]; ok {
		return v, nil
	}
	if a.sensitive[t] {
		return nil, a.err(t, ErrSensitive, "")
	}
	if a.missing[t] {
		return nil, a.err(t, ErrAttribute, "the object has no such attribute")
	}
	return nil, a.err(t, ErrAttribute, "not read")
}

// Bool returns the CK_BBOOL attribute t.
func (a *Attributes) Bool(t uint) (bool, error) {
	v, err := a.Bytes(t)
	if err != nil {
		return false, err
	}
	if len(v) != 1 {
		return false, a.err(t, ErrAttribute, fmt.Sprintf("%d bytes for a CK_BBOOL", len(v)))
	}
	return v[0] != 0, nil
}

// Ulong returns the CK_ULONG attribute t (a class, key type or length).
func (a *Attributes) Ulong(t uint) (uint, error) {
	v, err := a.Bytes(t)
	if err != nil {
		return 0, err
	}
	// CK_ULONG is the C unsigned long of the platform, in its byte order.
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), nil
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), nil
	}
	return 0, a.err(t, ErrAttribute, fmt.Sprintf("%d bytes for a CK_ULONG", len(v)))
}

func (a *Attributes) err(t uint, sentinel error, detail string) error {
	err := sentinel
	if detail != "" {
		err = fmt.Errorf("%w: %s", sentinel, detail)
	}
	return &Error{Op: "read " + AttributeName(t) + " of", Object: a.object, Token: a.token, Err: err}
}
