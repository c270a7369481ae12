package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, text string
		wantErr    []string // substrings the error must hold; nil means success
	}{
		{"good", `customer: "acme" keyset_version: 1 firmware_version: "1.0.0"`, nil},
		{"unknown field", `customer: "acme" keyset_verison: 1 firmware_version: "1.0.0"`,
			[]string{"cfg.textproto", "keyset_verison"}},
		{"malformed", `customer: "acme`, []string{"cfg.textproto"}},
		{"version 0", `customer: "acme" keyset_version: 0 firmware_version: "1.0.0"`,
			[]string{"cfg.textproto", "keyset_version", "set keyset_version: 1"}},
		{"no customer", `keyset_version: 1 firmware_version: "1.0.0"`,
			[]string{"cfg.textproto", "field customer"}},
		{"bad customer", `customer: "Acme Inc" keyset_version: 1 firmware_version: "1.0.0"`,
			[]string{"cfg.textproto", "field customer", "a-z"}},
		{"no firmware version", `customer: "acme" keyset_version: 1`,
			[]string{"cfg.textproto", "firmware_version"}},
		{"firmware version with NUL", `customer: "acme" keyset_version: 1 firmware_version: "1.0\x00x"`,
			[]string{"cfg.textproto", "firmware_version", "1.0.0"}},
		{"blank firmware version", `customer: "acme" keyset_version: 1 firmware_version: "   "`,
			[]string{"cfg.textproto", "firmware_version"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("cfg.textproto", []byte(tc.text))
			if tc.wantErr == nil {
				if err != nil || cfg.GetCustomer() != "acme" {
					t.Fatalf("Parse = %v, %v", cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.textproto")
	_, _, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

func TestLoadRefusesHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.textproto")
	if err := os.WriteFile(path, make([]byte, maxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(path)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load of a huge file: %v", err)
	}
}
