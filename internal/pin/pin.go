// Package pin reads HSM PINs and PIN halves from where custodians keep them. A PIN is a
// []byte from the moment it is read, so its holder can wipe it; it is never a string, an
// argument or an environment variable.
package pin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrEmpty reports a PIN source that held nothing but a line ending.
var ErrEmpty = errors.New("PIN is empty")

// maxLen bounds what is read from one source; PKCS#11 tokens take far shorter PINs, and the
// bound keeps a wrong path (say, a device) from being read without end.
const maxLen = 4096

// ReadFile reads a PIN from the file at path, reading it exactly once, so a FIFO works.
// Exactly one trailing LF or CRLF is stripped and nothing else. what names the PIN in
// errors ("user PIN", "custodian 1's half").
func ReadFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, hidePath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %s may be read by others (mode %o): chmod 600 it, and "+
			"change the PIN if others could read it", what, path, fi.Mode().Perm())
	}
	return read(f, path, what)
}

// hidePath drops the path from a file error: what was given as a path may be a PIN typed in
// its place, and errors reach terminals and logs.
func hidePath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s of the file named: %w (the name is not shown, in case a PIN was "+
			"typed in its place)", pe.Op, pe.Err)
	}
	return err
}

func read(r io.Reader, source, what string) ([]byte, error) {
	buf := make([]byte, maxLen+1)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		clear(buf)
		return nil, fmt.Errorf("%s from %s: %w", what, source, err)
	}
	if n > maxLen {
		clear(buf)
		return nil, fmt.Errorf("%s from %s: longer than %d bytes; is this the right file?", what, source, maxLen)
	}
	p := buf[:n]
	switch {
	case bytes.HasSuffix(p, []byte("\r\n")):
		p = p[:len(p)-2]
	case bytes.HasSuffix(p, []byte("\n")):
		p = p[:len(p)-1]
	}
	if len(p) == 0 {
		clear(buf)
		return nil, fmt.Errorf("%s from %s: %w", what, source, ErrEmpty)
	}
	out := bytes.Clone(p)
	clear(buf)
	return out, nil
}

// Wipe zeroes p.
func Wipe(p []byte) { clear(p) }
