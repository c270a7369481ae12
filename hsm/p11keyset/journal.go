package p11keyset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/miekg/pkcs11"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
)

// A keyset is created under a journal marker: a token data object labelled
// vsefab/<customer>/<version>/creating that exists from before the first key is generated
// until after the last is checked. Rollback covers failures the agent survives; the marker
// covers those it does not (killed, power lost): whoever next asks for the keyset finds the
// marker, destroys every object with the keyset's labels, and starts again. Objects under a
// marker were never handed to anyone, so nothing depends on them.
//
// Limitation: the marker says which process created it, and recovery refuses while that
// process still runs on this machine; two agents on two machines sharing one token could
// still step on each other. Run one agent per token.

func markerLabel(customer string, version uint32) string {
	return red.Label(customer, version, "creating")
}

func (b *Backend) startCreation(s *p11.Session, customer string, version uint32) (object, error) {
	label := markerLabel(customer, version)
	h, err := s.Ctx().CreateObject(s.Handle(), []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, "vsefab keyset creation"),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte(strconv.Itoa(os.Getpid()))),
	})
	if err != nil {
		return object{}, s.Err("C_CreateObject", label, err)
	}
	return object{h: h, label: label, class: pkcs11.CKO_DATA}, nil
}

func (b *Backend) finishCreation(s *p11.Session, marker object) error {
	return s.Destroy(marker.h, marker.label)
}

// recover finishes what an interrupted creation of the keyset left: it destroys the
// keyset's objects and the marker. It does nothing when there is no marker.
func (b *Backend) recover(ctx context.Context, s *p11.Session, customer string, version uint32) error {
	label := markerLabel(customer, version)
	markers, err := s.Find([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil || len(markers) == 0 {
		return err
	}
	for _, m := range markers {
		attrs, err := s.Ctx().GetAttributeValue(s.Handle(), m, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return s.Err("C_GetAttributeValue", label, err)
		}
		if pid, err := strconv.Atoi(string(attrs[0].Value)); err == nil && pid != os.Getpid() && processRuns(pid) {
			return fmt.Errorf("%w: process %d is creating keyset %s/%d on token %s (marker %s); "+
				"wait for it, or stop it and run again", ErrPartialKeyset, pid, customer, version,
				b.tok.Label(), label)
		}
	}

	var errs []error
	for _, role := range red.Roles {
		objs, err := findLabel(s, red.Label(customer, version, role))
		if err != nil {
			return err
		}
		for _, o := range objs {
			errs = append(errs, s.Destroy(o.h, o.label))
		}
	}
	for _, m := range markers {
		errs = append(errs, s.Destroy(m, label))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clearing an interrupted creation of keyset %s/%d: %w", customer, version, err)
	}
	b.log.WarnContext(ctx, "interrupted keyset creation cleared", "token", b.tok.Label(),
		"customer", customer, "version", version)
	return nil
}

// processRuns reports whether a process with this pid exists on this machine.
func processRuns(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
