package p11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
)

// P256Params is CKA_EC_PARAMS for NIST P-256: the DER of its named-curve OID,
// 1.2.840.10045.3.1.7.
var P256Params = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// p256PointLen is an uncompressed P-256 point: 0x04, X, Y.
const p256PointLen = 1 + 2*32

// DecodeECPoint decodes CKA_EC_POINT of a P-256 public key, strictly: a DER OCTET STRING
// (tag 0x04, minimal length in short or long form, nothing after it) wrapping an
// uncompressed point that lies on P-256. A bare point without the OCTET STRING, which some
// old modules return, is refused too. Errors are ErrECPoint.
func DecodeECPoint(der []byte) (*ecdsa.PublicKey, error) {
	point, err := octetString(der)
	if err != nil {
		return nil, fmt.Errorf("p11: CKA_EC_POINT: %w: %s", ErrECPoint, err)
	}
	if len(point) != p256PointLen || point[0] != 0x04 {
		return nil, fmt.Errorf("p11: CKA_EC_POINT: %w: want a 65-byte uncompressed P-256 point "+
			"(0x04, X, Y), got %d bytes", ErrECPoint, len(point))
	}
	// Refuses coordinates outside the field, points off the curve and the point at infinity.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("p11: CKA_EC_POINT: %w: %v", ErrECPoint, err)
	}
	return pub, nil
}

// octetString returns the contents of the DER OCTET STRING that is exactly der.
func octetString(der []byte) ([]byte, error) {
	if len(der) < 2 {
		return nil, fmt.Errorf("%d bytes is too short for an OCTET STRING", len(der))
	}
	if der[0] != 0x04 {
		return nil, fmt.Errorf("tag %#02x, want 0x04 (OCTET STRING)", der[0])
	}

	var n, hdr int
	switch l := der[1]; {
	case l < 0x80: // short form
		n, hdr = int(l), 2
	case l == 0x80:
		return nil, fmt.Errorf("indefinite length is not DER")
	default: // long form: l&0x7f length bytes follow
		k := int(l & 0x7f)
		if k > 4 {
			return nil, fmt.Errorf("%d length bytes", k)
		}
		if len(der) < 2+k {
			return nil, fmt.Errorf("length bytes cut off")
		}
		if der[2] == 0 {
			return nil, fmt.Errorf("length with a leading zero byte is not DER")
		}
		for _, b := range der[2 : 2+k] {
			n = n<<8 | int(b)
		}
		if n < 0x80 {
			return nil, fmt.Errorf("long-form length %d fits the short form: not DER", n)
		}
		hdr = 2 + k
	}

	switch rest := len(der) - hdr; {
	case rest < n:
		return nil, fmt.Errorf("length says %d bytes, %d follow", n, rest)
	case rest > n:
		return nil, fmt.Errorf("%d bytes trail the OCTET STRING", rest-n)
	}
	return der[hdr:], nil
}

// EncodeECPoint is the CKA_EC_POINT form of pub: the DER OCTET STRING of its uncompressed
// point.
func EncodeECPoint(pub *ecdsa.PublicKey) ([]byte, error) {
	point, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("p11: encode EC point: %w", err)
	}
	if len(point) >= 0x80 {
		return nil, fmt.Errorf("p11: encode EC point: %d-byte point: only P-256 is supported", len(point))
	}
	return append([]byte{0x04, byte(len(point))}, point...), nil
}
