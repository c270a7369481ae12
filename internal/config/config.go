// Package config reads customer configurations: textproto files of vsefab.v1.CustomerConfig.
// Every error names the file, and the field where there is one, and says what to change.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// ErrInvalid marks a configuration that was read but is not acceptable.
var ErrInvalid = errors.New("invalid customer config")

// maxSize bounds a config file: a real one is a few hundred bytes.
const maxSize = 64 << 10

// firmwareVersion is what a firmware version may look like: it is compiled into the firmware
// and returned through its C ABI as a C string.
var firmwareVersion = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)

// Load reads and validates the config at path. It returns the raw bytes too, so callers can
// digest exactly what was read.
func Load(path string) (*vsefabpb.CustomerConfig, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("customer config: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("customer config %s: %w", path, err)
	}
	if len(raw) > maxSize {
		return nil, nil, fmt.Errorf("%s: %w: larger than %d bytes; is this the right file?", path, ErrInvalid, maxSize)
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
	if !firmwareVersion.MatchString(cfg.GetFirmwareVersion()) {
		return fmt.Errorf("%w: field firmware_version %q: use 1 to 64 characters from A-Z, a-z, "+
			"0-9 and . + _ -, starting with a letter or digit, for example \"1.0.0\"", ErrInvalid,
			cfg.GetFirmwareVersion())
	}
	if n := len(cfg.GetDisplayName()); n > 256 {
		return fmt.Errorf("%w: field display_name is %d bytes long; keep it under 256", ErrInvalid, n)
	}
	return nil
}

// CheckCustomer reports whether name can name a customer; the rule lives with the key labels
// it protects, and is here for code that may not import the red side.
func CheckCustomer(name string) error { return red.CheckCustomer(name) }
