package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCustomerAddAndList(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "WORKSPACE"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	customer := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"customer"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	// Flags may follow the name, as people type them.
	code, out, errOut := customer("add", "initech", "--workspace", root, "--display-name", "Initech")
	if code != 0 || !strings.Contains(out, "bazel build //customers/initech:firmware") {
		t.Fatalf("customer add: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = customer("add", "--workspace", root, "initech")
	if code != 1 || !strings.Contains(errOut, "customers/initech exists already") {
		t.Errorf("second customer add: exit %d, %q", code, errOut)
	}
	code, _, errOut = customer("add", "--workspace", root)
	if code != 1 || !strings.Contains(errOut, "want exactly one NAME") {
		t.Errorf("customer add without a name: exit %d, %q", code, errOut)
	}
	code, _, errOut = customer("rename", "x")
	if code != 1 || !strings.Contains(errOut, `unknown subcommand "rename"`) {
		t.Errorf("customer rename: exit %d, %q", code, errOut)
	}

	code, out, errOut = customer("list", "--workspace", root, "--json")
	if code != 0 {
		t.Fatalf("customer list: exit %d: %s", code, errOut)
	}
	var listed []struct {
		Customer    string
		DisplayName string `json:"display_name"`
		Firmware    []string
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("customer list --json: %v\n%s", err, out)
	}
	if len(listed) != 1 || listed[0].Customer != "initech" || listed[0].DisplayName != "Initech" ||
		len(listed[0].Firmware) != 1 {
		t.Errorf("customer list --json = %s", out)
	}
	code, out, _ = customer("list", "--workspace", root)
	if code != 0 || !strings.Contains(out, "//customers/initech:initech") {
		t.Errorf("customer list: exit %d\n%s", code, out)
	}
}
