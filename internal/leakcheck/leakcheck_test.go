package leakcheck

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestFindEachEncoding(t *testing.T) {
	secret := []byte("0123456789abcdef-a-test-secret!!")
	secrets := map[string][]byte{"s": secret}
	for name, enc := range Encodings(secret) {
		data := append([]byte("prefix "), enc...)
		data = append(data, " suffix"...)
		if got := Find(data, secrets); len(got) == 0 {
			t.Errorf("encoding %s: not found", name)
		}
	}
	// A secret embedded in a longer base64 stream at an odd offset.
	long := base64.StdEncoding.EncodeToString(append([]byte{1}, secret...))
	if len(Find([]byte(long), secrets)) == 0 {
		t.Error("offset base64 not found")
	}
	mixed := strings.ToUpper(hex.EncodeToString(secret[:16])) + hex.EncodeToString(secret[16:])
	if len(Find([]byte(mixed), secrets)) == 0 {
		t.Error("mixed-case hex not found")
	}
	if got := Find([]byte("nothing to see"), secrets); len(got) != 0 {
		t.Errorf("clean data: found %v", got)
	}
}
