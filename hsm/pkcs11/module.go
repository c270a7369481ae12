package p11

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/miekg/pkcs11"
)

// Module is a loaded and initialized PKCS#11 module. A process holds at most one Module per
// module file: Open hands out the same one to every caller and counts them, the first Open
// calls C_Initialize and the last Close calls C_Finalize.
type Module struct {
	path string // as resolved: absolute, symlinks followed
	ctx  *pkcs11.Ctx
	info pkcs11.Info

	// finalize is false when C_Initialize said another user in this process had already
	// initialized the module: that user finalizes it, never we.
	finalize bool

	refs int // guarded by modules.mu
}

var modules = struct {
	mu     sync.Mutex
	byPath map[string]*Module
}{byPath: map[string]*Module{}}

// Open loads the PKCS#11 module at path and initializes it, or returns the Module this
// process already has for that file. Each successful Open needs one Close.
//
// A missing or unreadable file, a file that is no shared library and a shared library without
// C_GetFunctionList are each an error naming the path (errors.Is ErrNotModule for the last
// two); Open never panics on a bad file.
func Open(path string) (*Module, error) {
	resolved, err := checkModuleFile(path)
	if err != nil {
		return nil, err
	}

	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m, ok := modules.byPath[resolved]; ok {
		m.refs++
		return m, nil
	}

	// miekg/pkcs11 returns nil, and no reason, when dlopen or C_GetFunctionList fails.
	ctx := pkcs11.New(resolved)
	if ctx == nil {
		return nil, &Error{Op: "load module", Object: path, Err: ErrNotModule,
			Hint: "dlopen failed or the library has no C_GetFunctionList; check it is a PKCS#11 " +
				"module built for this machine"}
	}
	m := &Module{path: resolved, ctx: ctx, finalize: true, refs: 1}
	if err := ctx.Initialize(); err != nil {
		if !IsRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			ctx.Destroy()
			return nil, wrapRV("C_Initialize of module", "", path, err)
		}
		m.finalize = false
	}
	info, err := ctx.GetInfo()
	if err != nil {
		m.release()
		return nil, wrapRV("C_GetInfo of module", "", path, err)
	}
	m.info = info
	modules.byPath[resolved] = m
	return m, nil
}

// checkModuleFile gives clear errors for the files dlopen would refuse without saying why,
// and keeps Open from loading (and running the initializers of) a library that is not a
// PKCS#11 module at all.
func checkModuleFile(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", &Error{Op: "load module", Object: path, Err: err}
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", &Error{Op: "load module", Object: path, Err: err,
			Hint: "check the module path (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so; `make deps` installs it)"}
	}
	f, err := os.Open(resolved)
	if err != nil {
		return "", &Error{Op: "load module", Object: path, Err: err,
			Hint: "the module must be a readable file"}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", &Error{Op: "load module", Object: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return "", &Error{Op: "load module", Object: path,
			Err: fmt.Errorf("%w: not a regular file", ErrNotModule)}
	}

	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || !bytes.Equal(magic[:], []byte(elf.ELFMAG)) {
		// Not ELF. Other platforms' formats are left to the loader below.
		if isELFPlatform() {
			return "", &Error{Op: "load module", Object: path,
				Err: fmt.Errorf("%w: not a shared library (no ELF header)", ErrNotModule)}
		}
		return resolved, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		// A damaged ELF file: let the loader have its say (it refuses such files), so that
		// its refusal is reported the same way as any other.
		return resolved, nil
	}
	defer ef.Close()
	syms, err := ef.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return resolved, nil
	}
	for _, s := range syms {
		if s.Name == "C_GetFunctionList" && s.Section != elf.SHN_UNDEF {
			return resolved, nil
		}
	}
	return "", &Error{Op: "load module", Object: path,
		Err:  fmt.Errorf("%w: the library exports no C_GetFunctionList", ErrNotModule),
		Hint: "point at the vendor's PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)"}
}

// Path is the module file, absolute with symlinks resolved.
func (m *Module) Path() string { return m.path }

// Info is what C_GetInfo reported when the module was opened.
func (m *Module) Info() pkcs11.Info { return m.info }

// Ctx is the miekg/pkcs11 context, for calls this package does not wrap. Do not call
// Initialize, Finalize or Destroy on it.
func (m *Module) Ctx() *pkcs11.Ctx { return m.ctx }

// Close gives back one Open. The last Close finalizes the module (unless another user in
// the process initialized it) and unloads it; a Close too many is an error.
func (m *Module) Close() error {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m.refs <= 0 {
		return &Error{Op: "close module", Object: m.path, Err: ErrClosed}
	}
	m.refs--
	if m.refs > 0 {
		return nil
	}
	delete(modules.byPath, m.path)
	return m.release()
}

// release finalizes (when ours to) and unloads the module.
func (m *Module) release() error {
	var err error
	if m.finalize {
		err = wrapRV("C_Finalize of module", "", m.path, m.ctx.Finalize())
	}
	m.ctx.Destroy()
	return err
}

// retain adds a reference for a Token that keeps the module open.
func (m *Module) retain() error {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m.refs <= 0 {
		return &Error{Op: "use module", Object: m.path, Err: ErrClosed}
	}
	m.refs++
	return nil
}

// isELFPlatform reports whether shared libraries here are ELF files.
func isELFPlatform() bool {
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "plan9":
		return false
	}
	return true
}
