package red

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/vsefab/vsefab/libs/vse"
)

// IssueLicense makes a license for the firmware of (customer, version): the terms encrypted
// under the customer's license key, derived here from the keyset's storage key, and the
// result signed by the root signing key in the HSM.
func IssueLicense(ctx context.Context, b Backend, customer string, version uint32, terms vse.LicenseTerms) ([]byte, error) {
	ks, err := b.EnsureKeyset(ctx, customer, version)
	if err != nil {
		return nil, err
	}
	defer ks.Wipe()
	storage := ks.Key(RoleStorage)
	if storage == nil {
		return nil, fmt.Errorf("license for %s/%d: keyset has no %s key", customer, version, RoleStorage)
	}
	lk, err := vse.LicenseKey(storage.Value, customer)
	if err != nil {
		return nil, err
	}
	defer clear(lk)
	signed, err := vse.SealLicense(lk, customer, version, terms)
	if err != nil {
		return nil, fmt.Errorf("license for %s/%d: %w", customer, version, err)
	}
	digest := sha256.Sum256(signed)
	sig, err := b.SignRoot(ctx, digest[:])
	if err != nil {
		return nil, fmt.Errorf("license for %s/%d: %w", customer, version, err)
	}
	return vse.AppendLicenseSignature(signed, sig.DER), nil
}
