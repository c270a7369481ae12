package vse

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// A license grants one customer's firmware to some apps, with some features, until a time.
// The vendor issues it inside the HSM boundary: the terms are encrypted under the customer's
// license key (derived from the keyset's storage key, so only that customer's firmware reads
// them) and the result is signed by the root signing key (so only the vendor makes them).
//
// File format, version 1 (integers big-endian):
//
//	"VSEL" || 0x01 || len(customer) (1 byte) || customer || keyset version (4 bytes)
//	   || nonce (12 bytes) || len(ciphertext) (4 bytes) || AES-256-GCM ciphertext and tag
//	   || len(signature) (2 bytes) || ECDSA P-256 signature, ASN.1 DER
//
// The signature covers every byte before its length; the GCM additional data is the header
// up to the nonce. The terms, encrypted:
//
//	not after (8 bytes, Unix seconds) || count (1 byte) || (len (1 byte) || app ID)...
//	   || count (1 byte) || (len (1 byte) || feature)...
const (
	licenseMagic   = "VSEL"
	licenseVersion = 1
	licenseKeyInfo = "vsefab/vse/license-key\x00"
	licenseNonce   = 12
)

// The ways a license is refused. Each has its own code in the C ABI.
var (
	ErrLicenseMalformed = errors.New("vse: not a license file")
	ErrLicenseSignature = errors.New("vse: license signature does not verify under this firmware's root key")
	ErrLicenseCustomer  = errors.New("vse: license is for another customer or keyset")
	ErrLicenseApp       = errors.New("vse: license does not list this app")
	ErrLicenseExpired   = errors.New("vse: license has expired")
)

// LicenseTerms are what a license grants.
type LicenseTerms struct {
	AppIDs   []string
	Features []string
	NotAfter int64 // Unix seconds; the license is valid up to and including this second
}

// LicenseKey derives the customer's license key from the keyset's storage key.
func LicenseKey(storageKey []byte, customer string) ([]byte, error) {
	return hkdf.Key(sha256.New, storageKey, nil, licenseKeyInfo+customer, 32)
}

// licenseHeader is the start of the file: the additional data of the encryption.
func licenseHeader(customer string, keysetVersion uint32) []byte {
	h := append([]byte(licenseMagic), licenseVersion, byte(len(customer)))
	h = append(h, customer...)
	return binary.BigEndian.AppendUint32(h, keysetVersion)
}

// SealLicense encrypts terms under licenseKey and returns the part of the license file the
// root key signs. The nonce is derived from the key and the terms, so the same terms give the
// same file (reproducible builds) and different terms never share a nonce.
func SealLicense(licenseKey []byte, customer string, keysetVersion uint32, terms LicenseTerms) ([]byte, error) {
	if len(customer) == 0 || len(customer) > 255 {
		return nil, fmt.Errorf("vse: license for customer %q: name of 1 to 255 bytes", customer)
	}
	plain, err := encodeTerms(terms)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, licenseKey)
	mac.Write([]byte("nonce\x00"))
	mac.Write(plain)
	nonce := mac.Sum(nil)[:licenseNonce]
	block, err := aes.NewCipher(licenseKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	hdr := licenseHeader(customer, keysetVersion)
	ct := aead.Seal(nil, nonce, plain, hdr)
	out := append(hdr, nonce...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(ct)))
	return append(out, ct...), nil
}

// AppendLicenseSignature completes a license file with the root signature over signed.
func AppendLicenseSignature(signed, sig []byte) []byte {
	out := binary.BigEndian.AppendUint16(slices.Clone(signed), uint16(len(sig)))
	return append(out, sig...)
}

func encodeTerms(t LicenseTerms) ([]byte, error) {
	out := binary.BigEndian.AppendUint64(nil, uint64(t.NotAfter))
	for _, list := range [][]string{t.AppIDs, t.Features} {
		if len(list) > 255 {
			return nil, fmt.Errorf("vse: a license lists at most 255 app IDs and 255 features, got %d", len(list))
		}
		out = append(out, byte(len(list)))
		for _, s := range list {
			if len(s) == 0 || len(s) > 255 {
				return nil, fmt.Errorf("vse: license entry %q: 1 to 255 bytes", s)
			}
			out = append(out, byte(len(s)))
			out = append(out, s...)
		}
	}
	return out, nil
}

// reader takes a license file apart; any short read marks it malformed.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) next(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() int {
	if p := r.next(1); p != nil {
		return int(p[0])
	}
	return 0
}

func (r *reader) u16() int {
	if p := r.next(2); p != nil {
		return int(binary.BigEndian.Uint16(p))
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.next(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) strings() []string {
	var l []string
	for n := r.u8(); n > 0 && !r.bad; n-- {
		l = append(l, string(r.next(r.u8())))
	}
	return l
}

// CheckLicense checks that file is a license the vendor's root key signed, for this
// customer's keyset, listing appID, and not expired at now (Unix seconds, from the caller:
// the firmware has no clock it can trust). It returns the terms, or one of the ErrLicense
// errors, checked in this order: format, signature, customer, decryption, app, time.
func (k *Keyset) CheckLicense(file []byte, appID string, now int64) (*LicenseTerms, error) {
	if k == nil {
		return nil, ErrUnprovisioned
	}
	r := &reader{b: file}
	magic := r.next(len(licenseMagic))
	version := r.u8()
	customer := string(r.next(r.u8()))
	keysetVersion := r.u32()
	nonce := r.next(licenseNonce)
	ct := r.next(int(r.u32()))
	signedLen := len(file) - len(r.b)
	sig := r.next(r.u16())
	if r.bad || len(r.b) != 0 || !bytes.Equal(magic, []byte(licenseMagic)) || version != licenseVersion {
		return nil, ErrLicenseMalformed
	}

	root, err := x509.ParsePKIXPublicKey(k.RootPublicKey)
	key, ok := root.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w: the firmware has no usable root key", ErrKeyset)
	}
	digest := sha256.Sum256(file[:signedLen])
	if !ecdsa.VerifyASN1(key, digest[:], sig) {
		return nil, ErrLicenseSignature
	}
	if customer != k.Customer || keysetVersion != k.KeysetVersion {
		return nil, fmt.Errorf("%w: it is for %s keyset %d", ErrLicenseCustomer, customer, keysetVersion)
	}

	var plain []byte
	err = withSecret("storage key", k.StorageKey, storageKeySize, func(storage []byte) error {
		lk, err := LicenseKey(storage, k.Customer)
		if err != nil {
			return err
		}
		defer clear(lk)
		block, err := aes.NewCipher(lk)
		if err != nil {
			return err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return err
		}
		plain, err = aead.Open(nil, nonce, ct, licenseHeader(customer, keysetVersion))
		return err
	})
	if err != nil {
		// Signed by the root key for this customer, yet not readable: another keyset's
		// storage key encrypted it.
		return nil, fmt.Errorf("%w: it does not decrypt under this firmware's license key", ErrLicenseCustomer)
	}
	tr := &reader{b: plain}
	terms := &LicenseTerms{}
	if p := tr.next(8); p != nil {
		terms.NotAfter = int64(binary.BigEndian.Uint64(p))
	}
	terms.AppIDs, terms.Features = tr.strings(), tr.strings()
	if tr.bad || len(tr.b) != 0 {
		return nil, ErrLicenseMalformed
	}
	if !slices.Contains(terms.AppIDs, appID) {
		return nil, fmt.Errorf("%w: app %q is not among %q", ErrLicenseApp, appID, terms.AppIDs)
	}
	if now > terms.NotAfter {
		return nil, fmt.Errorf("%w: valid until %d, now is %d", ErrLicenseExpired, terms.NotAfter, now)
	}
	return terms, nil
}
