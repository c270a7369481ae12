package pkcs11uri

// byteSet says which bytes a part of the URI may hold unencoded.
type byteSet [256]bool

func newByteSet(chars ...string) byteSet {
	var s byteSet
	for _, cs := range chars {
		for i := 0; i < len(cs); i++ {
			s[cs[i]] = true
		}
	}
	return s
}

// The RFC 7512 grammar: a value may hold the URI's unreserved characters and the reserved
// ones that are not a delimiter where the value stands. '&' separates query attributes but
// not path ones; '/', '?' and '|' mean nothing inside a query.
const (
	unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	resAvail   = ":[]@!$'()*+,="
)

var (
	pathKeep  = newByteSet(unreserved, resAvail, "&")
	queryKeep = newByteSet(unreserved, resAvail, "/?|")
	nameChars = newByteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
)

const upperHex = "0123456789ABCDEF"

// appendEscaped appends v to b, each byte in keep as is and every other byte as %XX. A nil
// keep encodes every byte.
func appendEscaped(b []byte, v string, keep *byteSet) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if keep != nil && keep[c] {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&0x0F])
	}
	return b
}

// escapeError says where in an encoded value decoding stopped and why.
type escapeError struct {
	at     int    // offset of the offending byte in the value
	escape string // the malformed escape, or "" when a byte should have been encoded
}

// unescape decodes a value in which every byte outside keep must be written as %XX.
func unescape(v string, keep *byteSet) (string, *escapeError) {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '%':
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return "", &escapeError{at: i, escape: v[i:min(i+3, len(v))]}
			}
			out = append(out, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
		case keep[c]:
			out = append(out, c)
		default:
			return "", &escapeError{at: i}
		}
	}
	return string(out), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
