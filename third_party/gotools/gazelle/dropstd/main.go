// Command dropstd removes standard-library packages from the deps of generated BUILD files.
//
// Gazelle v0.26.0 carries a list of standard packages from Go 1.18. With -external=vendored it
// resolves any import missing from that list (slices, maps, iter, log/slog, crypto/ecdh, ...)
// to //vendor/<import>, a package that does not exist. dropstd reads the current SDK's
// standard packages (`go list std`, one per line, from the file named by -std) and deletes
// such labels from every deps list, including the lists inside select() branches, then writes
// the file back in the formatting gazelle itself uses.
//
// Usage: dropstd -std FILE -prefix //vendor/ BUILD.bazel...
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

func main() {
	stdFile := flag.String("std", "", "file listing the standard packages, one per line")
	prefix := flag.String("prefix", "//vendor/", "label prefix that the bogus std labels carry")
	flag.Parse()
	if *stdFile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: dropstd -std FILE [-prefix //vendor/] BUILD.bazel...")
		os.Exit(2)
	}
	std, err := readStd(*stdFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dropstd:", err)
		os.Exit(1)
	}
	bogus := func(label string) bool {
		return strings.HasPrefix(label, *prefix) && std[strings.TrimPrefix(label, *prefix)]
	}
	for _, path := range flag.Args() {
		if err := fixFile(path, bogus); err != nil {
			fmt.Fprintln(os.Stderr, "dropstd:", err)
			os.Exit(1)
		}
	}
}

func readStd(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	std := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p := strings.TrimSpace(sc.Text()); p != "" {
			std[p] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(std) == 0 {
		return nil, fmt.Errorf("%s lists no standard packages", path)
	}
	return std, nil
}

func fixFile(path string, bogus func(string) bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := build.ParseBuild(path, data)
	if err != nil {
		return err
	}
	changed := false
	for _, r := range f.Rules("") {
		deps := r.Attr("deps")
		if deps == nil {
			continue
		}
		kept, dropped := filterExpr(deps, bogus)
		if !dropped {
			continue
		}
		changed = true
		if kept == nil {
			r.DelAttr("deps")
		} else {
			r.SetAttr("deps", kept)
		}
	}
	if !changed {
		return nil
	}
	out := build.Format(f)
	if bytes.Equal(out, data) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// filterExpr drops bogus labels from a deps value: a list, a select() of lists, or a sum of
// those. It returns nil when nothing is left, and whether it dropped anything.
func filterExpr(e build.Expr, bogus func(string) bool) (build.Expr, bool) {
	switch x := e.(type) {
	case *build.ListExpr:
		var keep []build.Expr
		dropped := false
		for _, item := range x.List {
			if s, ok := item.(*build.StringExpr); ok && bogus(s.Value) {
				dropped = true
				continue
			}
			keep = append(keep, item)
		}
		if len(keep) == 0 {
			return nil, dropped
		}
		x.List = keep
		return x, dropped

	case *build.CallExpr:
		if fn, ok := x.X.(*build.Ident); !ok || fn.Name != "select" || len(x.List) != 1 {
			return x, false
		}
		dict, ok := x.List[0].(*build.DictExpr)
		if !ok {
			return x, false
		}
		var keep []*build.KeyValueExpr
		dropped, nonEmpty := false, false
		for _, kv := range dict.List {
			v, d := filterExpr(kv.Value, bogus)
			dropped = dropped || d
			key, _ := kv.Key.(*build.StringExpr)
			isDefault := key != nil && key.Value == "//conditions:default"
			switch {
			case v != nil:
				kv.Value = v
				keep = append(keep, kv)
				nonEmpty = true
			case isDefault:
				// select() needs a default; an empty one is what gazelle writes too.
				kv.Value = &build.ListExpr{}
				keep = append(keep, kv)
			}
		}
		if !nonEmpty {
			return nil, dropped
		}
		dict.List = keep
		return x, dropped

	case *build.BinaryExpr:
		if x.Op != "+" {
			return x, false
		}
		l, dl := filterExpr(x.X, bogus)
		r, dr := filterExpr(x.Y, bogus)
		switch {
		case l == nil:
			return r, dl || dr
		case r == nil:
			return l, dl || dr
		}
		x.X, x.Y = l, r
		return x, dl || dr
	}
	return e, false
}
