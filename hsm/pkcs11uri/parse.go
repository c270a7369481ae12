package pkcs11uri

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrMalformed is wrapped by every error for a URI that breaks the RFC 7512 grammar or
	// the rules in the package comment.
	ErrMalformed = errors.New("pkcs11uri: malformed PKCS#11 URI")

	// ErrPIN is wrapped by the error for a URI that carries a PIN or says where one is kept.
	ErrPIN = errors.New("pkcs11uri: PKCS#11 URI carries a PIN")
)

// uriError is an error of this package: a full message, and the sentinel it wraps.
type uriError struct {
	msg  string
	kind error
}

func (e *uriError) Error() string { return e.msg }
func (e *uriError) Unwrap() error { return e.kind }

// where locates an attribute for an error message.
type where struct {
	part string // "path" or "query"
	name string // lowercase name, or "" when it is not known or not safe to show
	at   int    // byte offset of the attribute in the input to Parse, or -1
}

func (w where) String() string {
	s := w.part + " attribute"
	if w.name != "" {
		s += fmt.Sprintf(" %q", w.name)
	}
	if w.at >= 0 {
		s += fmt.Sprintf(" at byte %d", w.at)
	}
	return s
}

// byteAt names the input offset of a byte the message points at, when there is an input.
func (w where) byteAt(off int) string {
	if w.at < 0 {
		return ""
	}
	return fmt.Sprintf(" at byte %d", w.at+off)
}

func malformed(w where, format string, args ...any) error {
	return &uriError{
		msg:  "pkcs11uri: " + w.String() + ": " + fmt.Sprintf(format, args...),
		kind: ErrMalformed,
	}
}

// refusePIN is the one error that concerns a PIN. It takes no value, so it cannot show one.
func refusePIN(w where) error {
	return &uriError{
		msg: "pkcs11uri: " + w.String() + " (value <redacted>) is refused: a PKCS#11 URI " +
			"must not carry a PIN or say where one is kept, because vsefab prints URIs in " +
			"flags, manifests and logs; remove the attribute and supply the PIN separately",
		kind: ErrPIN,
	}
}

// showByte renders one byte of the input for a message: printable ASCII quoted, anything
// else in hex, so a message never holds a broken UTF-8 sequence or a control character.
func showByte(c byte) string {
	if ' ' <= c && c <= '~' {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("0x%02X", c)
}

// segment is one attribute as written, before any check.
type segment struct {
	part string
	text string
	at   int // byte offset of text in the input
}

// split cuts the text of a part into its attributes; base is the offset of text in the input.
func split(part, text string, sep byte, base int) []segment {
	if text == "" {
		return nil
	}

	var segs []segment
	for {
		i := strings.IndexByte(text, sep)
		if i < 0 {
			return append(segs, segment{part: part, text: text, at: base})
		}
		segs = append(segs, segment{part: part, text: text[:i], at: base})
		text = text[i+1:]
		base += i + 1
	}
}

// Parse parses a PKCS#11 URI. It refuses what the package comment lists, with an error that
// wraps ErrPIN or ErrMalformed.
func Parse(s string) (*URI, error) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return nil, &uriError{
			msg:  `pkcs11uri: missing scheme: a PKCS#11 URI starts with "pkcs11:"`,
			kind: ErrMalformed,
		}
	}

	rest := s[len(prefix):]
	pathText, queryText, _ := strings.Cut(rest, "?")
	segs := split("path", pathText, ';', len(prefix))
	segs = append(segs, split("query", queryText, '&', len(prefix)+len(pathText)+1)...)

	// A PIN anywhere is refused before any other check, so that no other message can quote
	// a piece of it.
	for _, seg := range segs {
		name, _, hasValue := strings.Cut(seg.text, "=")
		if !isPINName(name) {
			continue
		}
		w := where{part: seg.part, at: seg.at}
		if hasValue && validName(name) {
			w.name = strings.ToLower(name)
		}
		return nil, refusePIN(w)
	}

	u := &URI{}
	first := map[string]int{} // offset of each path attribute and standard query attribute
	for _, seg := range segs {
		a, err := parseSegment(seg)
		if err != nil {
			return nil, err
		}

		key := seg.part + " " + a.Name
		if seg.part == "path" || queryNames[a.Name] {
			if at, dup := first[key]; dup {
				w := where{part: seg.part, name: a.Name, at: seg.at}
				return nil, malformed(w, "given twice (first at byte %d); %s", at, duplicateHint(seg.part))
			}
			first[key] = seg.at
		}

		if seg.part == "path" {
			u.path = append(u.path, a)
		} else {
			u.query = append(u.query, a)
		}
	}
	return u, nil
}

// duplicateHint says what a path or a query may hold once.
func duplicateHint(part string) string {
	if part == "path" {
		return "a path names each attribute once"
	}
	return "name one module"
}

// parseSegment checks one attribute as written and decodes its value.
func parseSegment(seg segment) (Attr, error) {
	w := where{part: seg.part, at: seg.at}
	if seg.text == "" {
		sep := ';'
		if seg.part == "query" {
			sep = '&'
		}
		return Attr{}, malformed(w, "empty attribute; remove the stray %q", sep)
	}

	name, value, hasValue := strings.Cut(seg.text, "=")
	if !hasValue {
		return Attr{}, malformed(w, "no '=' between name and value; write name=value")
	}
	if err := checkName(w, name); err != nil {
		return Attr{}, err
	}
	w.name = strings.ToLower(name)
	if err := checkPart(w); err != nil {
		return Attr{}, err
	}

	keep := &pathKeep
	if seg.part == "query" {
		keep = &queryKeep
	}
	decoded, bad := unescape(value, keep)
	if bad != nil {
		off := len(name) + 1 + bad.at
		if bad.escape != "" {
			return Attr{}, malformed(w, "malformed percent-escape %q%s; write '%%' and two hex "+
				"digits, and '%%' itself as %%25", bad.escape, w.byteAt(off))
		}
		c := value[bad.at]
		return Attr{}, malformed(w, "character %s%s must be percent-encoded as %%%02X",
			showByte(c), w.byteAt(off), c)
	}

	if err := checkValue(w, decoded); err != nil {
		return Attr{}, err
	}
	return Attr{Name: w.name, Value: decoded}, nil
}

// checkAttr applies to an attribute set through the API the checks Parse makes, and
// returns it with its name in lowercase.
func checkAttr(w where, name, value string) (Attr, error) {
	if isPINName(name) {
		if validName(name) {
			w.name = strings.ToLower(name)
		}
		return Attr{}, refusePIN(w)
	}
	if err := checkName(w, name); err != nil {
		return Attr{}, err
	}
	w.name = strings.ToLower(name)
	if err := checkPart(w); err != nil {
		return Attr{}, err
	}
	if err := checkValue(w, value); err != nil {
		return Attr{}, err
	}
	return Attr{Name: w.name, Value: value}, nil
}

func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		if !nameChars[name[i]] {
			return false
		}
	}
	return name != ""
}

func checkName(w where, name string) error {
	if name == "" {
		return malformed(w, "empty name before '='")
	}
	for i := 0; i < len(name); i++ {
		if !nameChars[name[i]] {
			return malformed(w, "character %s%s is not allowed in a name; names use letters, "+
				"digits, '-' and '_'", showByte(name[i]), w.byteAt(i))
		}
	}
	return nil
}

// checkPart refuses a standard attribute on the wrong side of '?'.
func checkPart(w where) error {
	switch {
	case w.part == "path" && queryNames[w.name]:
		return malformed(w, "belongs in the query, after '?'")
	case w.part == "query" && pathNames[w.name]:
		return malformed(w, "belongs in the path, before '?'")
	}
	return nil
}

// checkValue checks the values RFC 7512 gives a grammar of their own. Every other value may
// hold any bytes.
func checkValue(w where, v string) error {
	if w.part != "path" {
		return nil
	}

	switch w.name {
	case "type":
		switch ObjectType(v) {
		case TypePrivate, TypePublic, TypeSecretKey, TypeCert, TypeData:
			return nil
		}
		return malformed(w, "%q is not an object type; use private, public, secret-key, "+
			"cert or data", v)
	case "slot-id":
		if !isDigits(v) {
			return malformed(w, "%q is not a slot number; write a decimal number", v)
		}
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return malformed(w, "%q is too large for a slot number; the limit is 2^64-1", v)
		}
	case "library-version":
		major, minor, hasMinor := strings.Cut(v, ".")
		if !isDigits(major) || hasMinor && !isDigits(minor) {
			return malformed(w, "%q is not a version; write major or major.minor, as in 2 "+
				"or 2.40", v)
		}
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isPINName reports whether an attribute name is, or looks like, one that holds a PIN or
// names where one is kept: pin-value and pin-source in any letter case or spelling
// (pinvalue, PIN_Source, x-pin-value), and any name with pin, password or passphrase as a
// word (x-user-pin, so-pin, x-password). Words are split at every character that is not a
// letter or digit, so a malformed name is judged the same way.
func isPINName(name string) bool {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	})
	squeezed := strings.Join(words, "")
	if strings.Contains(squeezed, "pinvalue") || strings.Contains(squeezed, "pinsource") {
		return true
	}

	for _, word := range words {
		switch word {
		case "pin", "password", "passphrase":
			return true
		}
	}
	return false
}
