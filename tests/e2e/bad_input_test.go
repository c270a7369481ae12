package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInputsFailClearlyAndWriteNothing(t *testing.T) {
	tests := []struct {
		pkg  string
		want []string // the error must name these
	}{
		{"malformed", []string{"testdata/malformed/config.textproto", "invalid customer config"}},
		{"unknown_field", []string{"testdata/unknown_field/config.textproto", "colour"}},
		{"version_zero", []string{"testdata/version_zero/config.textproto", "keyset_version"}},
		{"name_mismatch", []string{"testdata/name_mismatch/config.textproto", "field customer", "globex"}},
		{"unknown_customer", []string{"//tests/e2e/testdata/unknown_customer:nobody"}},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			target := "//tests/e2e/testdata/" + tc.pkg + ":firmware"
			out, err := bazel(t, "build", target)
			if err == nil {
				t.Fatalf("bazel build %s succeeded", target)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("bazel output does not name %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "vsefab gen:"); n > 1 {
				t.Errorf("the error is reported %d times", n)
			}
			// Whatever configuration the secrets action ran in, it left nothing.
			dirs, _ := filepath.Glob(filepath.Join(root(t), "bazel-out", "*", "bin",
				"tests", "e2e", "testdata", tc.pkg))
			var left []string
			for _, dir := range dirs {
				_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() && strings.Contains(p, "firmware_secrets") {
						left = append(left, p)
					}
					return nil
				})
			}
			if len(left) > 0 {
				t.Errorf("failed build left %v", left)
			}
		})
	}
}
