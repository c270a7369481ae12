package keyset

import (
	"errors"
	"testing"

	"github.com/vsefab/vsefab/libs/vse"
)

func TestCheckedInKeysetIsUnprovisioned(t *testing.T) {
	ks, err := Open()
	if !errors.Is(err, vse.ErrUnprovisioned) {
		t.Errorf("Open error = %v, want vse.ErrUnprovisioned", err)
	}
	if ks != nil {
		t.Errorf("Open returned keyset %+v; the checked-in package must hold none", ks)
	}
}
