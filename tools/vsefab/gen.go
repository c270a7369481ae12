package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/vsefab/vsefab/hsm/agent"
	"github.com/vsefab/vsefab/hsm/emulator"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/config"
	"github.com/vsefab/vsefab/internal/outfile"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

const genSynopsis = `Ensures the keyset of the customer's (customer, keyset_version) exists in the HSM,
then writes the transformed keyset package, the escrow file and the manifest. No output is
written unless every step succeeds, and no existing file is overwritten. Plaintext secrets
never leave the red side: the outputs hold shares, wrapped keys and public data only.`

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", genSynopsis, stderr)
	cfgPath := fs.String("config", "", "customer config (textproto of vsefab.v1.CustomerConfig); required")
	customer := fs.String("customer", "", "customer the build target declares; must equal the config's customer field")
	hf := addHSMFlags(fs)
	outDir := fs.String("out-dir", "", "directory for the generated keyset package sources; required")
	escrowPath := fs.String("escrow", "", "output: keyset wrapped under the customer KEK (RFC 5649); required")
	manifestPath := fs.String("manifest", "", "output: manifest, binary protobuf; required")
	manifestJSON := fs.String("manifest-json", "", "output: manifest, JSON; required")
	manifestSig := fs.String("manifest-sig", "", "output: root signature over the binary manifest (vsefab.v1.ManifestSignature); required")
	logPath := fs.String("log", "", "output: copy of the step log (optional)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]string{"--config": *cfgPath, "--out-dir": *outDir,
		"--escrow": *escrowPath, "--manifest": *manifestPath, "--manifest-json": *manifestJSON,
		"--manifest-sig": *manifestSig} {
		if v == "" {
			return fmt.Errorf("flag %s is required (see vsefab gen --help)", name)
		}
	}

	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.MultiWriter(stderr, &logBuf), &slog.HandlerOptions{
		// Outputs must be reproducible, so the log carries no time.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))

	cfg, raw, err := loadConfig(*cfgPath, *customer)
	if err != nil {
		return err
	}
	if err := hf.check(); err != nil {
		return err
	}
	log.Info("config read", "config", *cfgPath, "customer", cfg.GetCustomer(),
		"keyset_version", cfg.GetKeysetVersion())

	req := red.Request{Config: cfg, ConfigDigest: red.DigestFile(raw), Generator: "vsefab " + version}
	var out *red.Output
	via := "in-process"
	backend, err := hf.inProcess()
	if err != nil {
		return err
	}
	if backend == nil {
		via = "agent"
		out, err = agent.Client{Socket: *hf.agent}.Generate(ctx, &vsefabpb.GenerateRequest{
			Config: cfg, ConfigDigest: req.ConfigDigest, Generator: req.Generator, BazelTarget: *hf.target,
			Production: *hf.production, ExpectToken: *hf.expectToken, ExpectModule: *hf.expectModule,
		})
	} else {
		out, err = red.Generate(ctx, backend, req)
	}
	if err != nil {
		return err
	}
	log.Info("keyset ready", "hsm", out.Manifest.HsmUri, "via", via,
		"customer", out.Manifest.Customer, "keyset_version", out.Manifest.KeysetVersion,
		"firmware_id", out.Manifest.FirmwareId)

	bin, err := red.MarshalManifest(out.Manifest)
	if err != nil {
		return err
	}
	// The signature was made over the red side's encoding; this one must be the same bytes.
	if err := red.VerifyManifest(bin, out.ManifestSig); err != nil {
		return fmt.Errorf("manifest of %s: %w", out.Manifest.GetCustomer(), err)
	}
	sig, err := proto.MarshalOptions{Deterministic: true}.Marshal(out.ManifestSig)
	if err != nil {
		return fmt.Errorf("manifest signature: %w", err)
	}
	js, err := manifestToJSON(out.Manifest)
	if err != nil {
		return err
	}

	set := outfile.NewSet()
	for _, name := range red.SourceFiles {
		set.Add(filepath.Join(*outDir, name), out.Sources[name])
	}
	set.Add(*escrowPath, out.Escrow)
	set.Add(*manifestPath, bin)
	set.Add(*manifestJSON, js)
	set.Add(*manifestSig, sig)
	log.Info("outputs ready", "sources", len(red.SourceFiles), "escrow_bytes", len(out.Escrow),
		"keys", len(out.Manifest.Keys))
	if *logPath != "" {
		log.Info("writing outputs", "dir", *outDir)
		set.Add(*logPath, logBuf.Bytes())
	}
	return set.Commit()
}

// loadConfig loads the customer config at path, which must be for customer when the build
// target declares one.
func loadConfig(path, customer string) (*vsefabpb.CustomerConfig, []byte, error) {
	cfg, raw, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	if customer != "" && cfg.GetCustomer() != customer {
		return nil, nil, fmt.Errorf("%s: field customer is %q but the build target declares customer %q: "+
			"make them equal", path, cfg.GetCustomer(), customer)
	}
	return cfg, raw, nil
}

func openBackend(uri string) (red.Backend, error) {
	if uri == emulator.URI {
		return emulator.Emulator{}, nil
	}
	return nil, fmt.Errorf("--hsm %q: unknown HSM; use %q", uri, emulator.URI)
}

// manifestToJSON renders m as indented JSON. protojson's own spacing is deliberately
// unstable, so it is normalised here to keep the file reproducible.
func manifestToJSON(m proto.Message) ([]byte, error) {
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("manifest JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("manifest JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
