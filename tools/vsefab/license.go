package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/outfile"
	"github.com/vsefab/vsefab/libs/vse"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

const licenseSynopsis = `Issues a license for the firmware of the customer's (customer, keyset_version): the
apps it may run in, the features it grants and the time it ends, encrypted under the
customer's license key and signed by the HSM's root signing key. The firmware checks it
with vse_license_check. Run by Bazel for vse_license targets.`

func runLicense(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("license", licenseSynopsis, stderr)
	cfgPath := fs.String("config", "", "customer config (textproto); required")
	customer := fs.String("customer", "", "customer the build target declares; must equal the config's")
	appIDs := fs.String("app-ids", "", "app IDs the license lists, comma-separated; required")
	features := fs.String("features", "", "features the license grants, comma-separated")
	notAfter := fs.String("not-after", "", "last moment the license is valid, RFC 3339 (2027-12-31T23:59:59Z); required")
	out := fs.String("out", "", "output: the license file; required")
	hf := addHSMFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]string{"--config": *cfgPath, "--app-ids": *appIDs,
		"--not-after": *notAfter, "--out": *out} {
		if v == "" {
			return fmt.Errorf("flag %s is required (see vsefab license --help)", name)
		}
	}
	until, err := time.Parse(time.RFC3339, *notAfter)
	if err != nil {
		return fmt.Errorf("--not-after %q: not an RFC 3339 time such as 2027-12-31T23:59:59Z", *notAfter)
	}
	if err := hf.check(); err != nil {
		return err
	}
	cfg, _, err := loadConfig(*cfgPath, *customer)
	if err != nil {
		return err
	}
	terms := vse.LicenseTerms{AppIDs: splitList(*appIDs), Features: splitList(*features), NotAfter: until.Unix()}

	var lic []byte
	backend, err := hf.inProcess()
	if err != nil {
		return err
	}
	if backend == nil {
		lic, err = agent.Client{Socket: *hf.agent}.License(ctx, &vsefabpb.LicenseRequest{
			Config: cfg, AppIds: terms.AppIDs, Features: terms.Features, NotAfter: terms.NotAfter,
			BazelTarget: *hf.target, Production: *hf.production, ExpectToken: *hf.expectToken, ExpectModule: *hf.expectModule,
		})
	} else {
		lic, err = red.IssueLicense(ctx, backend, cfg.GetCustomer(), cfg.GetKeysetVersion(), terms)
	}
	if err != nil {
		return err
	}
	set := outfile.NewSet()
	set.Add(*out, lic)
	return set.Commit()
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
