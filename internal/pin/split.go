package pin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Custodians is how many people hold a part of a PIN under dual control.
const Custodians = 2

// A half's source, as custodians name it on the command line:
//
//	prompt      asked for on the controlling terminal, without echo
//	file:PATH   read once from PATH (a FIFO works); the file must not be readable by others
//	fd:N        read once from file descriptor N, which the caller opened (a pipe, say)
//
// Files and descriptors lose exactly one trailing LF or CRLF; a prompt loses its Enter.
const (
	SourcePrompt = "prompt"
	sourceFile   = "file:"
	sourceFD     = "fd:"
)

// SourceHelp describes the sources for flag usage messages.
const SourceHelp = "'prompt' (asked on the terminal, no echo), 'file:PATH' or 'fd:N' (read once; one trailing newline stripped)"

// Terminal is where prompts are asked. OpenTerminal gives the process's controlling terminal.
type Terminal interface {
	io.Writer
	Fd() uintptr
}

// OpenTerminal opens the controlling terminal for prompts; the caller closes it.
func OpenTerminal() (*os.File, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("no terminal to ask on (%w): give each half as file:PATH or fd:N instead", err)
	}
	return f, nil
}

// CheckSources refuses sources that cannot be told apart or parsed before anyone is asked
// for anything: two halves from the same file or descriptor would mean one place holds both.
func CheckSources(what string, sources [Custodians]string) error {
	var seen [Custodians]string
	for i, src := range sources {
		id, err := sourceID(src)
		if err != nil {
			return fmt.Errorf("custodian %d's half of the %s: %w", i+1, what, err)
		}
		seen[i] = id
	}
	if seen[0] != "" && seen[0] == seen[1] {
		return fmt.Errorf("both halves of the %s name %s: each custodian keeps their half in a place "+
			"of their own", what, sources[0])
	}
	return nil
}

// sourceID is what makes a source the same place as another: the file's device and inode,
// the descriptor's number; "" for a prompt, which each custodian answers in turn.
func sourceID(src string) (string, error) {
	switch {
	case src == SourcePrompt:
		return "", nil
	case strings.HasPrefix(src, sourceFile):
		p := strings.TrimPrefix(src, sourceFile)
		if p == "" {
			return "", errors.New("file: needs a path, as in file:/media/custodian1/half")
		}
		fi, err := os.Stat(p)
		if err != nil {
			return "", hidePath(err)
		}
		return fmt.Sprintf("file %v", fileKey(fi)), nil
	case strings.HasPrefix(src, sourceFD):
		n, err := strconv.Atoi(strings.TrimPrefix(src, sourceFD))
		if err != nil || n < 0 {
			return "", errors.New("fd: takes a descriptor number, as in fd:3 (what followed it is " +
				"not shown, in case it is a PIN)")
		}
		if n <= 2 {
			return "", fmt.Errorf("fd:%d: descriptors 0 to 2 are standard input and output; pass "+
				"the half on a descriptor of its own (3 or more)", n)
		}
		return "fd " + strconv.Itoa(n), nil
	}
	return "", fmt.Errorf("the value given is not a PIN source (it is not shown, in case it is "+
		"the half itself); use %s", SourceHelp)
}

// ReadSplit reads both custodians' halves from sources and returns their concatenation, the
// PIN. Halves are wiped as soon as they are copied; the caller wipes the PIN once the token
// has it. An empty half is refused, naming whose it was. tty is asked on for prompt
// sources; it may be nil when no source is a prompt.
func ReadSplit(what string, sources [Custodians]string, tty Terminal) ([]byte, error) {
	if err := CheckSources(what, sources); err != nil {
		return nil, err
	}
	var halves [Custodians][]byte
	defer func() {
		for _, h := range halves {
			Wipe(h)
		}
	}()
	total := 0
	for i, src := range sources {
		name := fmt.Sprintf("custodian %d's half of the %s", i+1, what)
		h, err := readHalf(src, name, tty)
		if err != nil {
			return nil, err
		}
		halves[i] = h
		total += len(h)
	}
	p := make([]byte, 0, total)
	for _, h := range halves {
		p = append(p, h...)
	}
	return p, nil
}

func readHalf(src, name string, tty Terminal) ([]byte, error) {
	switch {
	case src == SourcePrompt:
		return prompt(tty, name)
	case strings.HasPrefix(src, sourceFile):
		return ReadFile(strings.TrimPrefix(src, sourceFile), name)
	default:
		n, _ := strconv.Atoi(strings.TrimPrefix(src, sourceFD))
		f := os.NewFile(uintptr(n), src)
		if f == nil {
			return nil, fmt.Errorf("%s: descriptor %d is not open", name, n)
		}
		defer f.Close()
		return read(f, src, name)
	}
}

// prompt asks for one half on the terminal with echo off.
func prompt(tty Terminal, name string) ([]byte, error) {
	if tty == nil {
		return nil, fmt.Errorf("%s: no terminal to ask on: give it as file:PATH or fd:N", name)
	}
	// Echo goes off before the prompt is shown, so a half typed ahead of term.ReadPassword
	// is not echoed either; the terminal is put back as it was afterwards.
	fd := int(tty.Fd())
	if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		quiet := *old
		quiet.Lflag &^= unix.ECHO
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err == nil {
			defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
		}
	}
	fmt.Fprintf(tty, "%s%s (not echoed): ", strings.ToUpper(name[:1]), name[1:])
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(tty)
	if err != nil {
		Wipe(p)
		return nil, fmt.Errorf("%s: reading the terminal: %w", name, err)
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	return p, nil
}

// fileKey identifies the file behind fi whatever path named it.
func fileKey(fi os.FileInfo) [2]uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{st.Dev, st.Ino}
	}
	return [2]uint64{}
}
