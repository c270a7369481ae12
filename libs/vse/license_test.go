package vse_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/libs/vse/vsetest"
)

// issue makes a license the way the vendor's red side does, with root as the root key.
func issue(t *testing.T, root *ecdsa.PrivateKey, storageKey []byte, customer string, version uint32, terms vse.LicenseTerms) []byte {
	t.Helper()
	lk, err := vse.LicenseKey(storageKey, customer)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := vse.SealLicense(lk, customer, version, terms)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(signed)
	sig, err := ecdsa.SignASN1(rand.Reader, root, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return vse.AppendLicenseSignature(signed, sig)
}

func TestCheckLicense(t *testing.T) {
	root, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootDER, _ := x509.MarshalPKIXPublicKey(&root.PublicKey)
	withRoot := func(k *vse.Keyset) *vse.Keyset { k.RootPublicKey = rootDER; return k }
	acme := withRoot(vsetest.Keyset("acme", vsetest.StorageKey, vsetest.AttestationKey))
	globex := withRoot(vsetest.Keyset("globex", vsetest.OtherStorageKey, vsetest.AttestationKey))
	acmeV2 := withRoot(vsetest.Keyset("acme", vsetest.OtherStorageKey, vsetest.AttestationKey))
	acmeV2.KeysetVersion = 2

	terms := vse.LicenseTerms{AppIDs: []string{"com.acme.wallet", "com.acme.pay"}, Features: []string{"seal"}, NotAfter: 2000}
	good := issue(t, root, vsetest.StorageKey, "acme", 1, terms)
	flipped := append([]byte{}, good...)
	flipped[len(flipped)/2] ^= 1

	for _, tc := range []struct {
		name string
		k    *vse.Keyset
		file []byte
		app  string
		now  int64
		want error
	}{
		{"valid", acme, good, "com.acme.pay", 1999, nil},
		{"valid in its last second", acme, good, "com.acme.wallet", 2000, nil},
		{"expired", acme, good, "com.acme.wallet", 2001, vse.ErrLicenseExpired},
		{"wrong app", acme, good, "com.acme.other", 1000, vse.ErrLicenseApp},
		{"other customer's firmware", globex, good, "com.acme.wallet", 1000, vse.ErrLicenseCustomer},
		{"other keyset of the customer", acmeV2, good, "com.acme.wallet", 1000, vse.ErrLicenseCustomer},
		{"flipped byte", acme, flipped, "com.acme.wallet", 1000, vse.ErrLicenseSignature},
		{"other root", acme, issue(t, other, vsetest.StorageKey, "acme", 1, terms), "com.acme.wallet", 1000, vse.ErrLicenseSignature},
		{"truncated", acme, good[:len(good)-1], "com.acme.wallet", 1000, vse.ErrLicenseMalformed},
		{"empty", acme, nil, "com.acme.wallet", 1000, vse.ErrLicenseMalformed},
		{"unprovisioned", nil, good, "com.acme.wallet", 1000, vse.ErrUnprovisioned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.k.CheckLicense(tc.file, tc.app, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil && got == nil) {
				t.Fatalf("CheckLicense = %v, %v; want %v", got, err, tc.want)
			}
			if tc.want == nil && (len(got.AppIDs) != 2 || got.Features[0] != "seal" || got.NotAfter != 2000) {
				t.Errorf("terms = %+v", got)
			}
		})
	}

	// The same terms give the same file; other terms another nonce.
	lk, _ := vse.LicenseKey(vsetest.StorageKey, "acme")
	a, _ := vse.SealLicense(lk, "acme", 1, terms)
	b, _ := vse.SealLicense(lk, "acme", 1, terms)
	terms.NotAfter++
	c, _ := vse.SealLicense(lk, "acme", 1, terms)
	if string(a) != string(b) || string(a[:30]) == string(c[:30]) && string(a) == string(c) {
		t.Error("sealing is not deterministic, or ignores the terms")
	}
}
