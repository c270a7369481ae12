//go:build tools

// Package deps pins modules that the project uses before any of its packages imports them,
// so go mod tidy keeps them in go.mod and vendor/.
package deps

import (
	_ "github.com/bazelbuild/buildtools/build"
	_ "github.com/creack/pty"
	_ "golang.org/x/term"
)
