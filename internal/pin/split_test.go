package pin

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

func writeHalf(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + p
}

func TestReadSplitFiles(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"LF", "ab12\n", "cd34\n", "ab12cd34"},
		{"CRLF", "ab12\r\n", "cd34\r\n", "ab12cd34"},
		{"mixed", "ab12\r\n", "cd34", "ab12cd34"},
		{"second newline kept", "ab\n\n", "cd\n", "ab\ncd"},
		{"blanks kept", " a ", "b \n", " a b "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSplit("user PIN", [2]string{writeHalf(t, "a", tc.a), writeHalf(t, "b", tc.b)}, nil)
			if err != nil || string(got) != tc.want {
				t.Fatalf("ReadSplit = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestReadSplitEmptyHalfNamesCustodian(t *testing.T) {
	for i, content := range []string{"\n", "\r\n"} {
		srcs := [2]string{writeHalf(t, "a", "ab12"), writeHalf(t, "b", "cd34")}
		srcs[i] = writeHalf(t, "empty", content)
		_, err := ReadSplit("SO PIN", srcs, nil)
		want := []string{"custodian 1's half of the SO PIN", "custodian 2's half of the SO PIN"}[i]
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), want) {
			t.Errorf("half %d empty: err = %v, want ErrEmpty naming %q", i+1, err, want)
		}
	}
}

func TestReadSplitFIFOs(t *testing.T) {
	dir := t.TempDir()
	var srcs [2]string
	for i, half := range []string{"fifo-half-one\n", "fifo-half-two\r\n"} {
		p := filepath.Join(dir, []string{"c1", "c2"}[i])
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		srcs[i] = "file:" + p
		go func() {
			// Opening a FIFO for writing blocks until the reader opens it.
			if err := os.WriteFile(p, []byte(half), 0o600); err != nil {
				t.Error(err)
			}
		}()
	}
	got, err := ReadSplit("user PIN", srcs, nil)
	if err != nil || string(got) != "fifo-half-onefifo-half-two" {
		t.Fatalf("ReadSplit = %q, %v", got, err)
	}
}

func TestReadSplitDescriptors(t *testing.T) {
	var srcs [2]string
	for i, half := range []string{"pipe-one\n", "pipe-two\n"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString(half); err != nil {
			t.Fatal(err)
		}
		w.Close()
		// A descriptor of its own, which ReadSplit closes after reading it.
		fd, err := syscall.Dup(int(r.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		srcs[i] = "fd:" + strconv.Itoa(fd)
	}
	got, err := ReadSplit("user PIN", srcs, nil)
	if err != nil || string(got) != "pipe-onepipe-two" {
		t.Fatalf("ReadSplit = %q, %v", got, err)
	}
}

func TestReadSplitRefusesBeforeReading(t *testing.T) {
	a := writeHalf(t, "a", "ab12")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(strings.TrimPrefix(a, "file:"), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		srcs [2]string
		want string
	}{
		{"same file", [2]string{a, a}, "each custodian keeps their half"},
		{"same file by another path", [2]string{a, "file:" + link}, "each custodian keeps their half"},
		{"same descriptor", [2]string{"fd:7", "fd:7"}, "each custodian keeps their half"},
		{"stdin", [2]string{"fd:0", a}, "descriptors 0 to 2"},
		{"unknown source", [2]string{a, "env:PIN"}, "is not a PIN source"},
		{"empty path", [2]string{"file:", a}, "needs a path"},
		{"missing file", [2]string{a, "file:/nonexistent/half"}, "custodian 2's half"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSplit("user PIN", tc.srcs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestReadSplitPrompt answers both prompts on a pseudo-terminal and checks that neither half
// is echoed back.
func TestReadSplitPrompt(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()

	type result struct {
		pin []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := ReadSplit("user PIN", [2]string{SourcePrompt, SourcePrompt}, tty)
		done <- result{p, err}
	}()

	var seen strings.Builder
	r := bufio.NewReader(ptmx)
	for _, half := range []string{"prompt-half-1", "prompt-half-2"} {
		// Answer only once the prompt is out, so echo is already off.
		for !strings.HasSuffix(seen.String(), "(not echoed): ") {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("reading the prompt: %v (so far %q)", err, seen.String())
			}
			seen.WriteByte(b)
		}
		if _, err := ptmx.WriteString(half + "\r"); err != nil {
			t.Fatal(err)
		}
		seen.WriteString("|")
	}
	res := <-done
	if res.err != nil || string(res.pin) != "prompt-half-1prompt-half-2" {
		t.Fatalf("ReadSplit = %q, %v", res.pin, res.err)
	}
	tty.Close()
	rest, _ := readAvailable(r)
	out := seen.String() + rest
	for _, want := range []string{"Custodian 1's half of the user PIN", "Custodian 2's half of the user PIN"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks prompt %q", out, want)
		}
	}
	if strings.Contains(out, "prompt-half") {
		t.Errorf("a half was echoed: %q", out)
	}
}

func readAvailable(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for r.Buffered() > 0 {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// A custodian who types the half where its source goes must not see it echoed in the error,
// which the other custodian and the session's logs see too.
func TestMisplacedHalfIsNotEchoed(t *testing.T) {
	const half = "ZQXJKVhalf"
	good := writeHalf(t, "b", "other")
	for _, src := range []string{half, "file:" + half, "fd:" + half, "file:/nonexistent/" + half} {
		_, err := ReadSplit("user PIN", [2]string{src, good}, nil)
		if err == nil || strings.Contains(err.Error(), half) {
			t.Errorf("source %q: %v", src, err)
		}
	}
	if _, err := ReadFile(half, "user PIN"); err == nil || strings.Contains(err.Error(), half) {
		t.Errorf("ReadFile of a PIN given as its path: %v", err)
	}
}
