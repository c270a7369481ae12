package p11keyset

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
)

// idLen is the size of the random CKA_ID of each key.
const idLen = 16

// aesKeyLen is the size of every AES key here: AES-256.
const aesKeyLen = 32

// attr is an attribute a key must have after creation, and the value it must hold.
type attr struct {
	typ  uint
	kind attrKind
	b    bool
	u    uint
	v    []byte
}

type attrKind int

const (
	isBool      attrKind = iota
	isUlong              // CK_ULONG
	isBytes              // exact bytes
	isSensitive          // the token must refuse to reveal it
)

func boolAttr(t uint, v bool) attr    { return attr{typ: t, kind: isBool, b: v} }
func ulongAttr(t uint, v uint) attr   { return attr{typ: t, kind: isUlong, u: v} }
func bytesAttr(t uint, v []byte) attr { return attr{typ: t, kind: isBytes, v: v} }
func sensitiveAttr(t uint) attr       { return attr{typ: t, kind: isSensitive} }

// template turns the attributes into a creation template; the sensitive-value checks and
// what only the token sets (CKA_LOCAL, CKA_ALWAYS_SENSITIVE, ...) are left out.
func template(attrs []attr) []*pkcs11.Attribute {
	var t []*pkcs11.Attribute
	for _, a := range attrs {
		switch {
		case tokenSet[a.typ] || a.kind == isSensitive:
		case a.kind == isBool:
			t = append(t, pkcs11.NewAttribute(a.typ, a.b))
		case a.kind == isUlong:
			t = append(t, pkcs11.NewAttribute(a.typ, a.u))
		default:
			t = append(t, pkcs11.NewAttribute(a.typ, a.v))
		}
	}
	return t
}

// tokenSet are attributes the token sets itself; a template must not carry them.
var tokenSet = map[uint]bool{
	pkcs11.CKA_LOCAL:             true,
	pkcs11.CKA_ALWAYS_SENSITIVE:  true,
	pkcs11.CKA_NEVER_EXTRACTABLE: true,
	pkcs11.CKA_EC_POINT:          true,
}

// keysetSecretKey is a keyset's AES-256 key (storage, transform): on the token, sensitive,
// extractable only so that it can leave wrapped, usable only to encrypt (for its check
// value). CKA_MODIFIABLE and CKA_COPYABLE false keep anyone from widening its use later.
func keysetSecretKey(label string, id []byte) []attr {
	return []attr{
		ulongAttr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		ulongAttr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		ulongAttr(pkcs11.CKA_VALUE_LEN, aesKeyLen),
		bytesAttr(pkcs11.CKA_LABEL, []byte(label)),
		bytesAttr(pkcs11.CKA_ID, id),
		boolAttr(pkcs11.CKA_TOKEN, true),
		boolAttr(pkcs11.CKA_PRIVATE, true),
		boolAttr(pkcs11.CKA_SENSITIVE, true),
		boolAttr(pkcs11.CKA_EXTRACTABLE, true),
		boolAttr(pkcs11.CKA_MODIFIABLE, false),
		boolAttr(pkcs11.CKA_COPYABLE, false),
		boolAttr(pkcs11.CKA_DESTROYABLE, true),
		boolAttr(pkcs11.CKA_ENCRYPT, true),
		boolAttr(pkcs11.CKA_DECRYPT, false),
		boolAttr(pkcs11.CKA_WRAP, false),
		boolAttr(pkcs11.CKA_UNWRAP, false),
		boolAttr(pkcs11.CKA_SIGN, false),
		boolAttr(pkcs11.CKA_VERIFY, false),
		boolAttr(pkcs11.CKA_DERIVE, false),
		boolAttr(pkcs11.CKA_LOCAL, true),
		boolAttr(pkcs11.CKA_ALWAYS_SENSITIVE, true),
		boolAttr(pkcs11.CKA_NEVER_EXTRACTABLE, false),
		sensitiveAttr(pkcs11.CKA_VALUE),
	}
}

// attestationPrivateKey is the private half of the attestation key pair: sensitive,
// extractable only wrapped, for signing only.
func attestationPrivateKey(label string, id []byte) []attr {
	return []attr{
		ulongAttr(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		ulongAttr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		bytesAttr(pkcs11.CKA_LABEL, []byte(label)),
		bytesAttr(pkcs11.CKA_ID, id),
		boolAttr(pkcs11.CKA_TOKEN, true),
		boolAttr(pkcs11.CKA_PRIVATE, true),
		boolAttr(pkcs11.CKA_SENSITIVE, true),
		boolAttr(pkcs11.CKA_EXTRACTABLE, true),
		boolAttr(pkcs11.CKA_MODIFIABLE, false),
		boolAttr(pkcs11.CKA_COPYABLE, false),
		boolAttr(pkcs11.CKA_DESTROYABLE, true),
		boolAttr(pkcs11.CKA_SIGN, true),
		boolAttr(pkcs11.CKA_DECRYPT, false),
		boolAttr(pkcs11.CKA_UNWRAP, false),
		boolAttr(pkcs11.CKA_DERIVE, false),
		boolAttr(pkcs11.CKA_LOCAL, true),
		boolAttr(pkcs11.CKA_ALWAYS_SENSITIVE, true),
		boolAttr(pkcs11.CKA_NEVER_EXTRACTABLE, false),
		sensitiveAttr(pkcs11.CKA_VALUE),
	}
}

// attestationPublicKey is the public half; its CKA_EC_POINT is read and checked apart.
func attestationPublicKey(label string, id []byte) []attr {
	return []attr{
		ulongAttr(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		ulongAttr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		bytesAttr(pkcs11.CKA_EC_PARAMS, p11.P256Params),
		bytesAttr(pkcs11.CKA_LABEL, []byte(label)),
		bytesAttr(pkcs11.CKA_ID, id),
		boolAttr(pkcs11.CKA_TOKEN, true),
		boolAttr(pkcs11.CKA_PRIVATE, false),
		boolAttr(pkcs11.CKA_MODIFIABLE, false),
		boolAttr(pkcs11.CKA_COPYABLE, false),
		boolAttr(pkcs11.CKA_DESTROYABLE, true),
		boolAttr(pkcs11.CKA_VERIFY, true),
		boolAttr(pkcs11.CKA_ENCRYPT, false),
		boolAttr(pkcs11.CKA_WRAP, false),
		boolAttr(pkcs11.CKA_DERIVE, false),
		boolAttr(pkcs11.CKA_LOCAL, true),
	}
}

// kekKey is a customer's key-encryption key: long-term, sensitive, never extractable, for
// wrapping escrow and unwrapping it again when the vendor re-issues firmware. encrypt gives
// it CKA_ENCRYPT too, which only a token whose key wrap zero-pads needs (see wrapPadECB).
func kekKey(label string, id []byte, encrypt bool) []attr {
	return []attr{
		ulongAttr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		ulongAttr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		ulongAttr(pkcs11.CKA_VALUE_LEN, aesKeyLen),
		bytesAttr(pkcs11.CKA_LABEL, []byte(label)),
		bytesAttr(pkcs11.CKA_ID, id),
		boolAttr(pkcs11.CKA_TOKEN, true),
		boolAttr(pkcs11.CKA_PRIVATE, true),
		boolAttr(pkcs11.CKA_SENSITIVE, true),
		boolAttr(pkcs11.CKA_EXTRACTABLE, false),
		boolAttr(pkcs11.CKA_MODIFIABLE, false),
		boolAttr(pkcs11.CKA_COPYABLE, false),
		boolAttr(pkcs11.CKA_WRAP, true),
		boolAttr(pkcs11.CKA_UNWRAP, true),
		boolAttr(pkcs11.CKA_ENCRYPT, encrypt),
		boolAttr(pkcs11.CKA_DECRYPT, false),
		boolAttr(pkcs11.CKA_SIGN, false),
		boolAttr(pkcs11.CKA_VERIFY, false),
		boolAttr(pkcs11.CKA_DERIVE, false),
		boolAttr(pkcs11.CKA_ALWAYS_SENSITIVE, true),
		boolAttr(pkcs11.CKA_NEVER_EXTRACTABLE, true),
		sensitiveAttr(pkcs11.CKA_VALUE),
	}
}

// transportKey is the session key a keyset leaves the token under: its value comes from
// the token's random generator through the red side, it wraps and does nothing else, and it
// vanishes with its session at the latest.
func transportKey(value []byte) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "vsefab/transport"),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
	}
}

// escrowObject holds escrow plaintext on the token just long enough to wrap it.
func escrowObject(value []byte) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "vsefab/escrow"),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
}

// checkAttrs reads every attribute in want from o and reports each that differs, as one
// ErrCheck error naming the object.
func checkAttrs(s *p11.Session, o pkcs11.ObjectHandle, what string, want []attr) error {
	types := make([]uint, len(want))
	for i, a := range want {
		types[i] = a.typ
	}
	got, err := s.Attributes(o, what, types...)
	if err != nil {
		return err
	}
	var bad []string
	for _, a := range want {
		name := p11.AttributeName(a.typ)
		switch a.kind {
		case isSensitive:
			if !got.Sensitive(a.typ) {
				bad = append(bad, name+" is readable, want it sensitive")
			}
		case isBool:
			v, err := got.Bool(a.typ)
			if err != nil {
				bad = append(bad, err.Error())
			} else if v != a.b {
				bad = append(bad, fmt.Sprintf("%s is %v, want %v", name, v, a.b))
			}
		case isUlong:
			v, err := got.Ulong(a.typ)
			if err != nil {
				bad = append(bad, err.Error())
			} else if v != a.u {
				bad = append(bad, fmt.Sprintf("%s is %#x, want %#x", name, v, a.u))
			}
		case isBytes:
			v, err := got.Bytes(a.typ)
			if err != nil {
				bad = append(bad, err.Error())
			} else if !bytes.Equal(v, a.v) {
				bad = append(bad, fmt.Sprintf("%s is %x, want %x", name, v, a.v))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s on token %s: %s; vsefab did not make this object as it is now: "+
			"find out who changed it before using or deleting it", ErrCheck, what, s.Token().Label(),
			strings.Join(bad, "; "))
	}
	return nil
}
