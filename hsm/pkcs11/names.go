package p11

import (
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// mechanismNames are the mechanisms vsefab uses or is likely to ask about; others print as
// their number.
var mechanismNames = map[uint]string{
	pkcs11.CKM_AES_KEY_GEN:            "CKM_AES_KEY_GEN",
	pkcs11.CKM_AES_ECB:                "CKM_AES_ECB",
	pkcs11.CKM_AES_CBC:                "CKM_AES_CBC",
	pkcs11.CKM_AES_CBC_PAD:            "CKM_AES_CBC_PAD",
	pkcs11.CKM_AES_CTR:                "CKM_AES_CTR",
	pkcs11.CKM_AES_GCM:                "CKM_AES_GCM",
	pkcs11.CKM_AES_CCM:                "CKM_AES_CCM",
	pkcs11.CKM_AES_CMAC:               "CKM_AES_CMAC",
	pkcs11.CKM_AES_KEY_WRAP:           "CKM_AES_KEY_WRAP",
	pkcs11.CKM_AES_KEY_WRAP_PAD:       "CKM_AES_KEY_WRAP_PAD",
	pkcs11.CKM_EC_KEY_PAIR_GEN:        "CKM_EC_KEY_PAIR_GEN",
	pkcs11.CKM_ECDSA:                  "CKM_ECDSA",
	pkcs11.CKM_ECDSA_SHA256:           "CKM_ECDSA_SHA256",
	pkcs11.CKM_ECDH1_DERIVE:           "CKM_ECDH1_DERIVE",
	pkcs11.CKM_SHA256:                 "CKM_SHA256",
	pkcs11.CKM_SHA3_256:               "CKM_SHA3_256",
	pkcs11.CKM_SHA256_HMAC:            "CKM_SHA256_HMAC",
	pkcs11.CKM_GENERIC_SECRET_KEY_GEN: "CKM_GENERIC_SECRET_KEY_GEN",
	pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN:  "CKM_RSA_PKCS_KEY_PAIR_GEN",
	pkcs11.CKM_RSA_PKCS_OAEP:          "CKM_RSA_PKCS_OAEP",
	pkcs11.CKM_RSA_PKCS_PSS:           "CKM_RSA_PKCS_PSS",
}

// MechanismName names a mechanism the way errors print it: "CKM_AES_KEY_WRAP_PAD (0x210a)".
func MechanismName(m uint) string {
	if n, ok := mechanismNames[m]; ok {
		return fmt.Sprintf("%s (%#x)", n, m)
	}
	return fmt.Sprintf("mechanism %#x", m)
}

var attributeNames = map[uint]string{
	pkcs11.CKA_CLASS:             "CKA_CLASS",
	pkcs11.CKA_TOKEN:             "CKA_TOKEN",
	pkcs11.CKA_PRIVATE:           "CKA_PRIVATE",
	pkcs11.CKA_LABEL:             "CKA_LABEL",
	pkcs11.CKA_VALUE:             "CKA_VALUE",
	pkcs11.CKA_KEY_TYPE:          "CKA_KEY_TYPE",
	pkcs11.CKA_ID:                "CKA_ID",
	pkcs11.CKA_SENSITIVE:         "CKA_SENSITIVE",
	pkcs11.CKA_ENCRYPT:           "CKA_ENCRYPT",
	pkcs11.CKA_DECRYPT:           "CKA_DECRYPT",
	pkcs11.CKA_WRAP:              "CKA_WRAP",
	pkcs11.CKA_UNWRAP:            "CKA_UNWRAP",
	pkcs11.CKA_SIGN:              "CKA_SIGN",
	pkcs11.CKA_VERIFY:            "CKA_VERIFY",
	pkcs11.CKA_DERIVE:            "CKA_DERIVE",
	pkcs11.CKA_VALUE_LEN:         "CKA_VALUE_LEN",
	pkcs11.CKA_EXTRACTABLE:       "CKA_EXTRACTABLE",
	pkcs11.CKA_LOCAL:             "CKA_LOCAL",
	pkcs11.CKA_NEVER_EXTRACTABLE: "CKA_NEVER_EXTRACTABLE",
	pkcs11.CKA_ALWAYS_SENSITIVE:  "CKA_ALWAYS_SENSITIVE",
	pkcs11.CKA_MODIFIABLE:        "CKA_MODIFIABLE",
	pkcs11.CKA_COPYABLE:          "CKA_COPYABLE",
	pkcs11.CKA_DESTROYABLE:       "CKA_DESTROYABLE",
	pkcs11.CKA_EC_PARAMS:         "CKA_EC_PARAMS",
	pkcs11.CKA_EC_POINT:          "CKA_EC_POINT",
}

// AttributeName names an attribute type: "CKA_SENSITIVE", or its number.
func AttributeName(a uint) string {
	if n, ok := attributeNames[a]; ok {
		return n
	}
	return fmt.Sprintf("attribute %#x", a)
}

// flagUses are the CKF_ mechanism flags a caller can require, in the words errors use.
var flagUses = []struct {
	flag uint
	use  string
}{
	{pkcs11.CKF_ENCRYPT, "encrypt"},
	{pkcs11.CKF_DECRYPT, "decrypt"},
	{pkcs11.CKF_DIGEST, "digest"},
	{pkcs11.CKF_SIGN, "sign"},
	{pkcs11.CKF_VERIFY, "verify"},
	{pkcs11.CKF_GENERATE, "key generation"},
	{pkcs11.CKF_GENERATE_KEY_PAIR, "key pair generation"},
	{pkcs11.CKF_WRAP, "wrap"},
	{pkcs11.CKF_UNWRAP, "unwrap"},
	{pkcs11.CKF_DERIVE, "derive"},
	{pkcs11.CKF_EC_F_P, "prime-field curves"},
	{pkcs11.CKF_EC_NAMEDCURVE, "named curves"},
	{pkcs11.CKF_EC_UNCOMPRESS, "uncompressed points"},
}

// uses says in words what the flags ask of a mechanism: "wrap and unwrap".
func uses(flags uint) string {
	var words []string
	for _, f := range flagUses {
		if flags&f.flag != 0 {
			words = append(words, f.use)
			flags &^= f.flag
		}
	}
	if flags != 0 {
		words = append(words, fmt.Sprintf("flags %#x", flags))
	}
	if len(words) == 0 {
		return "any use"
	}
	return strings.Join(words, " and ")
}
