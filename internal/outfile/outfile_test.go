package outfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommitWritesAll(t *testing.T) {
	dir := t.TempDir()
	s := NewSet()
	s.Add(filepath.Join(dir, "a"), []byte("A"))
	s.Add(filepath.Join(dir, "sub", "b"), []byte("B"))
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "A", "sub/b": "B"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	assertOnly(t, dir, "a", "sub")
}

func TestCommitRefusesExistingAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "b")
	if err := os.WriteFile(existing, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewSet()
	s.Add(filepath.Join(dir, "a"), []byte("A"))
	s.Add(existing, []byte("B"))
	err := s.Commit()
	if err == nil || !strings.Contains(err.Error(), existing) {
		t.Fatalf("Commit = %v, want an error naming %s", err, existing)
	}
	if got, _ := os.ReadFile(existing); string(got) != "keep" {
		t.Errorf("existing file overwritten: %q", got)
	}
	assertOnly(t, dir, "b")
}

func TestCommitLeavesNothingOnWriteFailure(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewSet()
	s.Add(filepath.Join(dir, "a"), []byte("A"))
	s.Add(filepath.Join(dir, "new", "deeper", "c"), []byte("C"))
	s.Add(filepath.Join(blocker, "under-a-file"), []byte("B"))
	if err := s.Commit(); err == nil {
		t.Fatal("Commit under a regular file succeeded")
	}
	assertOnly(t, dir, "file")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "BUILD.bazel")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}

	// An edit made after the caller read the file is kept, and nothing is written.
	if err := Replace(p, []byte("what the caller read"), []byte("new")); err == nil ||
		!strings.Contains(err.Error(), "changed while") {
		t.Errorf("Replace over a changed file = %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("file holds %q after a refused Replace, want old", got)
	}

	if err := Replace(p, []byte("old"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	info, _ := os.Stat(p)
	if string(got) != "new" || info.Mode().Perm() != 0o640 {
		t.Errorf("after Replace: %q, mode %v; want new, 0640", got, info.Mode().Perm())
	}
	assertOnly(t, dir, "BUILD.bazel")
}
