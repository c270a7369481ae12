// Package escrowtest reads back, on a SoftHSM test token, the keys a firmware's escrow file
// holds: the plaintext secrets tests search every output for.
package escrowtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"
	"google.golang.org/protobuf/proto"

	p11 "github.com/vsefab/vsefab/hsm/pkcs11"
	"github.com/vsefab/vsefab/hsm/red"
	"github.com/vsefab/vsefab/internal/softhsmtest"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Secrets unwraps a firmware's escrow file on the test token, under the customer's KEK,
// and returns each escrowed key value by label.
func Secrets(t testing.TB, tok *softhsmtest.Token, customer string, escrow []byte) map[string][]byte {
	t.Helper()
	ptok, err := p11.OpenToken(tok.Module, tok.Label)
	if err != nil {
		t.Fatal(err)
	}
	defer ptok.Close()
	if err := ptok.Login(tok.PIN); err != nil {
		t.Fatal(err)
	}
	var plain []byte
	err = ptok.Do(context.Background(), func(s *p11.Session) error {
		kek, err := s.FindOne("KEK", p11.LabelTemplate(pkcs11.CKO_SECRET_KEY, "vsefab/"+customer+"/kek"))
		if err != nil {
			return err
		}
		h, err := s.Ctx().UnwrapKey(s.Handle(), []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)},
			kek, escrow, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			})
		if err != nil {
			return fmt.Errorf("C_UnwrapKey of %s's escrow: %w", customer, err)
		}
		defer s.Ctx().DestroyObject(s.Handle(), h)
		attrs, err := s.Ctx().GetAttributeValue(s.Handle(), h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return err
		}
		plain = attrs[0].Value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rec vsefabpb.EscrowKeyset
	if err := proto.Unmarshal(plain, &rec); err != nil {
		t.Fatalf("escrow of %s does not parse: %v", customer, err)
	}
	if rec.Customer != customer || len(rec.Keys) != len(red.Roles) {
		t.Fatalf("escrow of %s holds customer %q and %d keys", customer, rec.Customer, len(rec.Keys))
	}
	s := map[string][]byte{}
	for _, k := range rec.Keys {
		if len(k.Value) != 32 {
			t.Fatalf("escrowed %s key has %d bytes", k.Role, len(k.Value))
		}
		s[red.Label(customer, rec.KeysetVersion, k.Role)] = k.Value
	}
	return s
}
