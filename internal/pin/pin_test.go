package pin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	tests := []struct {
		name, content, want string
		empty               bool
	}{
		{"plain", "1234", "1234", false},
		{"LF", "1234\n", "1234", false},
		{"CRLF", "1234\r\n", "1234", false},
		{"only one LF stripped", "1234\n\n", "1234\n", false},
		{"CR alone kept", "1234\r", "1234\r", false},
		{"spaces kept", " 12 34 \n", " 12 34 ", false},
		{"empty", "", "", true},
		{"only newline", "\n", "", true},
		{"only CRLF", "\r\n", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "pin")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFile(p, "user PIN")
			if tc.empty {
				if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "user PIN") {
					t.Fatalf("err = %v, want ErrEmpty naming the PIN", err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("ReadFile = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestReadFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			f.Write([]byte("half-one\n"))
			f.Close()
		}
	}()
	got, err := ReadFile(p, "custodian 1's half")
	if err != nil || string(got) != "half-one" {
		t.Fatalf("ReadFile(FIFO) = %q, %v", got, err)
	}
}

func TestReadFileMissingNamesWhat(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "none"), "user PIN")
	if err == nil || !strings.Contains(err.Error(), "user PIN") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadFileRefusesReadableByOthers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(p, []byte("1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p, "user PIN")
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "1234") {
		t.Fatalf("err = %v, want a refusal saying chmod 600 and not showing the PIN", err)
	}
}
