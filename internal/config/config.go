// Package config reads customer configurations: textproto files of vsefab.v1.CustomerConfig.
// Every error names the file, and the field where there is one, and says what to change.
package config

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// ErrInvalid marks a configuration that was read but is not acceptable.
var ErrInvalid = errors.New("invalid customer config")

// Load reads and validates the config at path. It returns the raw bytes too, so callers can
// digest exactly what was read.
func Load(path string) (*vsefabpb.CustomerConfig, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("customer config: %w", err)
	}
	cfg, err := Parse(path, raw)
	if err != nil {
		return nil, nil, err
	}
	return cfg, raw, nil
}

// Parse parses and validates raw, naming path in errors.
func Parse(path string, raw []byte) (*vsefabpb.CustomerConfig, error) {
	cfg := &vsefabpb.CustomerConfig{}
	// DiscardUnknown stays false: a misspelt field must stop the build, not vanish.
	if err := (prototext.UnmarshalOptions{}).Unmarshal(raw, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w: %v (fields are customer, keyset_version, "+
			"firmware_version, display_name)", path, ErrInvalid, err)
	}
	if err := Validate(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks the fields of cfg.
func Validate(cfg *vsefabpb.CustomerConfig) error {
	if cfg.GetCustomer() == "" {
		return fmt.Errorf("%w: field customer is missing: add customer: \"<name>\"", ErrInvalid)
	}
	if err := red.CheckCustomer(cfg.GetCustomer()); err != nil {
		return fmt.Errorf("%w: field customer: %v", ErrInvalid, err)
	}
	if cfg.GetKeysetVersion() == 0 {
		return fmt.Errorf("%w: field keyset_version is 0 or missing: keyset versions start "+
			"at 1; set keyset_version: 1 for a new customer", ErrInvalid)
	}
	if cfg.GetFirmwareVersion() == "" {
		return fmt.Errorf("%w: field firmware_version is missing: add firmware_version: \"1.0.0\"",
			ErrInvalid)
	}
	return nil
}
