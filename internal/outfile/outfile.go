// Package outfile writes a set of output files all or nothing: each goes to a temporary file
// beside its target, and only when all are written are they renamed into place. An existing
// target is never overwritten.
package outfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Set is a group of files written together.
type Set struct {
	files []file
}

type file struct {
	path string
	data []byte
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Add queues path to be written with data.
func (s *Set) Add(path string, data []byte) {
	s.files = append(s.files, file{path, data})
}

// RefuseExisting is Commit's check alone: an error for the first of paths that exists, or
// that is named twice. Callers run it before work that could not be repeated.
func RefuseExisting(paths ...string) error {
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			return fmt.Errorf("output %s is named twice", p)
		}
		seen[p] = true
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("output %s exists: refusing to overwrite it; move it away first", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("output %s: %w", p, err)
		}
	}
	return nil
}

// Commit writes every queued file, or none. Existing targets are refused before anything is
// written.
func (s *Set) Commit() (err error) {
	paths := make([]string, len(s.files))
	for i, f := range s.files {
		paths[i] = f.path
	}
	if err := RefuseExisting(paths...); err != nil {
		return err
	}

	var temps, dirs []string
	defer func() {
		if err != nil {
			for _, t := range temps {
				os.Remove(t)
			}
			// Directories this commit made go too, deepest first.
			for i := len(dirs) - 1; i >= 0; i-- {
				os.Remove(dirs[i])
			}
		}
	}()
	for _, f := range s.files {
		made, err := mkdirs(filepath.Dir(f.path))
		dirs = append(dirs, made...)
		if err != nil {
			return fmt.Errorf("output %s: %w", f.path, err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp*")
		if err != nil {
			return fmt.Errorf("output %s: %w", f.path, err)
		}
		temps = append(temps, tmp.Name())
		_, werr := tmp.Write(f.data)
		if werr == nil {
			werr = tmp.Sync()
		}
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o644)
		}
		if werr != nil {
			return fmt.Errorf("output %s: %w", f.path, werr)
		}
	}

	// Link rather than rename, so a target that appeared meanwhile is not replaced.
	var placed []string
	for i, f := range s.files {
		if err := os.Link(temps[i], f.path); err != nil {
			for _, p := range placed {
				os.Remove(p)
			}
			return fmt.Errorf("output %s: %w", f.path, err)
		}
		placed = append(placed, f.path)
	}
	for _, t := range temps {
		os.Remove(t)
	}
	temps = nil
	return nil
}

// mkdirs makes dir and any missing parents, and returns the directories it made, outermost
// first, so a failed commit can remove them again.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return made, err
		} else if err == nil {
			made = append(made, missing[i])
		}
	}
	return made, nil
}

// Replace puts data in place of the file at path, which must still hold old: an edit made
// meanwhile is refused rather than lost. The file is whole at every moment, old or new.
func Replace(path string, old, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), info.Mode().Perm())
	}
	if werr != nil {
		return fmt.Errorf("output %s: %w", path, werr)
	}
	now, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	if !bytes.Equal(now, old) {
		return fmt.Errorf("output %s changed while it was being updated: nothing written; run again", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	return nil
}
