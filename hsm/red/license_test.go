package red_test

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/libs/vse/vsetest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// firmwareKeyset is the runtime keyset acme's emulator firmware holds.
func firmwareKeyset(t *testing.T, customer string) *vse.Keyset {
	t.Helper()
	ks, err := emulator.Emulator{}.EnsureKeyset(context.Background(), customer, 1)
	if err != nil {
		t.Fatal(err)
	}
	k := vsetest.Keyset(customer, ks.Key(red.RoleStorage).Value, ks.Key(red.RoleAttestation).Value)
	if k.RootPublicKey, err = emulator.RootPublicKey(); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIssueLicense(t *testing.T) {
	ctx := context.Background()
	terms := vse.LicenseTerms{AppIDs: []string{"com.acme.wallet"}, Features: []string{"seal"}, NotAfter: 100}
	lic, err := red.IssueLicense(ctx, emulator.Emulator{}, "acme", 1, terms)
	if err != nil {
		t.Fatal(err)
	}
	again, err := red.IssueLicense(ctx, emulator.Emulator{}, "acme", 1, terms)
	if err != nil || string(again) != string(lic) {
		t.Fatalf("an emulator license is not reproducible (%v)", err)
	}
	if _, err := firmwareKeyset(t, "acme").CheckLicense(lic, "com.acme.wallet", 100); err != nil {
		t.Fatalf("acme's firmware refuses acme's license: %v", err)
	}
	if _, err := firmwareKeyset(t, "globex").CheckLicense(lic, "com.acme.wallet", 100); !errors.Is(err, vse.ErrLicenseCustomer) {
		t.Fatalf("globex's firmware on acme's license: err = %v, want ErrLicenseCustomer", err)
	}

	// The generated keyset package carries the root public key the firmware checks with.
	out, err := red.Generate(ctx, emulator.Emulator{}, red.Request{
		Config: &vsefabpb.CustomerConfig{Customer: "acme", KeysetVersion: 1, FirmwareVersion: "1.0.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`RootPublicKey:\s+\[\]byte\("`).Match(out.Sources["keyset.go"]) {
		t.Error("keyset.go does not set RootPublicKey")
	}
}
