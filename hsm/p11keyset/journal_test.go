package p11keyset

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
)

// crashMidCreation leaves the token as an agent killed part-way through creating a keyset
// would: the journal marker and some of the keyset's objects.
func crashMidCreation(t *testing.T, b *Backend, customer string, version uint32) {
	t.Helper()
	err := b.tok.Do(context.Background(), func(s *p11.Session) error {
		if _, err := b.kek(context.Background(), s, customer); err != nil {
			return err
		}
		if _, err := b.startCreation(s, customer, version); err != nil {
			return err
		}
		var made []object
		b.afterObjects = func(n int) error {
			if n >= 3 {
				return errors.New("killed")
			}
			return nil
		}
		defer func() { b.afterObjects = nil }()
		_, _, err := b.createObjects(s, customer, version, &made)
		if len(made) == 0 {
			t.Fatal("the simulated crash made no object")
		}
		if err == nil {
			t.Fatal("the simulated crash did not interrupt the creation")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInterruptedCreationIsCleared(t *testing.T) {
	b, _ := newBackend(t)
	crashMidCreation(t, b, "acme", 1)
	if l := labels(t, b); count(l, markerLabel("acme", 1)) != 1 {
		t.Fatalf("setup: token holds %v, want a creation marker", l)
	}

	ks, err := b.EnsureKeyset(context.Background(), "acme", 1)
	if err != nil {
		t.Fatalf("EnsureKeyset after an interrupted creation: %v", err)
	}
	checkKeyset(t, ks, "acme", 1)
	l := labels(t, b)
	if count(l, markerLabel("acme", 1)) != 0 {
		t.Errorf("the marker is still there: %v", l)
	}
	for _, role := range []string{"storage", "transform"} {
		if n := count(l, "vsefab/acme/1/"+role); n != 1 {
			t.Errorf("%d objects labelled vsefab/acme/1/%s, want 1", n, role)
		}
	}
}

func TestCreationOfAnotherLiveProcessIsNotCleared(t *testing.T) {
	b, _ := newBackend(t)
	err := b.tok.Do(context.Background(), func(s *p11.Session) error {
		// Process 1 always runs: play an agent still creating the keyset.
		_, err := s.Ctx().CreateObject(s.Handle(), []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, markerLabel("acme", 1)),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte("1")),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.EnsureKeyset(context.Background(), "acme", 1)
	if !errors.Is(err, ErrPartialKeyset) || !strings.Contains(err.Error(), "process 1") {
		t.Fatalf("err = %v, want a refusal naming the creating process", err)
	}
}
