package pkcs11uri_test

import (
	"errors"
	"fmt"

	"github.com/vsefab/vsefab/hsm/pkcs11uri"
)

func ExampleParse() {
	u, err := pkcs11uri.Parse("pkcs11:token=vsefab%2Facme%2F1%2Fstorage;object=kek;" +
		"type=secret-key;id=%4B%31?module-path=/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Token())
	fmt.Println(u.Object(), u.Type(), u.ID())
	fmt.Println(u.ModulePath())
	// Output:
	// vsefab/acme/1/storage
	// kek secret-key [75 49]
	// /usr/lib/softhsm/libsofthsm2.so
}

func ExampleURI_SetPath() {
	u := pkcs11uri.New()
	for _, err := range []error{
		u.SetPath("token", "Test; Token"),
		u.SetPath("object", "Zürich"),
		u.SetPathBytes("id", []byte("k1")),
		u.SetQuery("module-name", "softhsm2"),
	} {
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(u)
	// Output:
	// pkcs11:token=Test%3B%20Token;object=Z%C3%BCrich;id=%6B%31?module-name=softhsm2
}

func ExampleParse_errors() {
	for _, s := range []string{
		"token=acme",
		"pkcs11:token=acme;object=kek;token=other",
		"pkcs11:token=acme%2",
		"pkcs11:token=acme/1",
		"pkcs11:?token=acme",
		"pkcs11:token=acme?pin-value=1234",
	} {
		_, err := pkcs11uri.Parse(s)
		fmt.Println(errors.Is(err, pkcs11uri.ErrPIN), err)
	}
	// Output:
	// false pkcs11uri: missing scheme: a PKCS#11 URI starts with "pkcs11:"
	// false pkcs11uri: path attribute "token" at byte 29: given twice (first at byte 7); a path names each attribute once
	// false pkcs11uri: path attribute "token" at byte 7: malformed percent-escape "%2" at byte 17; write '%' and two hex digits, and '%' itself as %25
	// false pkcs11uri: path attribute "token" at byte 7: character '/' at byte 17 must be percent-encoded as %2F
	// false pkcs11uri: query attribute "token" at byte 8: belongs in the path, before '?'
	// true pkcs11uri: query attribute "pin-value" at byte 18 (value <redacted>) is refused: a PKCS#11 URI must not carry a PIN or say where one is kept, because vsefab prints URIs in flags, manifests and logs; remove the attribute and supply the PIN separately
}
