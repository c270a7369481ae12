// Package leakcheck finds known test secrets in build outputs, in each encoding a secret could
// take on its way out: raw bytes, hex in either case, base64 in its four alphabets, and the
// ways Go source writes bytes. Tests use it to prove that red/black separation holds.
package leakcheck

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Encodings returns each encoding of secret under its name.
func Encodings(secret []byte) map[string][]byte {
	enc := map[string][]byte{
		"raw":          secret,
		"hex":          []byte(hex.EncodeToString(secret)),
		"HEX":          []byte(strings.ToUpper(hex.EncodeToString(secret))),
		"base64":       []byte(base64.StdEncoding.EncodeToString(secret)),
		"base64url":    []byte(base64.URLEncoding.EncodeToString(secret)),
		"base64raw":    []byte(base64.RawStdEncoding.EncodeToString(secret)),
		"base64rawurl": []byte(base64.RawURLEncoding.EncodeToString(secret)),
	}
	var lit, litUpper, litTight, dec, esc strings.Builder
	for i, b := range secret {
		if i > 0 {
			lit.WriteString(", ")
			litUpper.WriteString(", ")
			litTight.WriteString(",")
			dec.WriteString(", ")
		}
		fmt.Fprintf(&lit, "0x%02x", b)
		fmt.Fprintf(&litUpper, "0x%02X", b)
		fmt.Fprintf(&litTight, "0x%02x", b)
		fmt.Fprintf(&dec, "%d", b)
		fmt.Fprintf(&esc, "\\x%02x", b)
	}
	enc["go-bytes"] = []byte(lit.String())
	enc["go-bytes-upper"] = []byte(litUpper.String())
	enc["go-bytes-tight"] = []byte(litTight.String())
	enc["go-bytes-decimal"] = []byte(dec.String())
	enc["go-string-escape"] = []byte(esc.String())
	// Base64 of a secret that starts at another byte offset in a larger buffer shifts its
	// alphabet; search the three alignments' stable middle too.
	for shift := 1; shift < 3; shift++ {
		padded := append(make([]byte, shift), secret...)
		s := base64.StdEncoding.EncodeToString(padded)
		enc[fmt.Sprintf("base64+%d", shift)] = []byte(s[4 : len(s)-4])
		u := base64.URLEncoding.EncodeToString(padded)
		enc[fmt.Sprintf("base64url+%d", shift)] = []byte(u[4 : len(u)-4])
	}
	return enc
}

// Find reports every secret found in data, as "secret-name (encoding)".
func Find(data []byte, secrets map[string][]byte) []string {
	var found []string
	var lower []byte // data in lower case, made once and only if a hex encoding needs it
	for name, secret := range secrets {
		for enc, needle := range Encodings(secret) {
			hit := bytes.Contains(data, needle)
			if !hit && strings.HasPrefix(enc, "hex") {
				if lower == nil {
					lower = bytes.ToLower(data)
				}
				hit = bytes.Contains(lower, bytes.ToLower(needle))
			}
			if hit {
				found = append(found, name+" ("+enc+")")
			}
		}
	}
	return found
}
