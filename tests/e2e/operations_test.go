package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vsefab/vsefab/internal/escrowtest"
	"github.com/vsefab/vsefab/internal/leakcheck"
	"github.com/vsefab/vsefab/internal/softhsmtest"
)

// docBlock is one shell block of a document, with the run annotation before it.
type docBlock struct {
	mode string // "" (run, must succeed), "env", "background", "wait", "fails on a test token"
	text string
	line int
}

var runAnnotation = regexp.MustCompile(`^<!-- run: (.+) -->$`)

// shellBlocks returns the ```sh blocks of the Markdown file at path.
func shellBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	var cur *docBlock
	mode := ""
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur, mode = nil, ""
		case cur != nil:
			cur.text += l + "\n"
		case l == "```sh":
			cur = &docBlock{mode: mode, line: i + 1}
		case runAnnotation.MatchString(l):
			mode = runAnnotation.FindStringSubmatch(l)[1]
		case strings.TrimSpace(l) != "":
			mode = ""
		}
	}
	return blocks
}

// custodians holds the halves the test's custodians type.
type custodians struct {
	so, user [2]string
}

func (c custodians) pin() []byte { return []byte(c.user[0] + c.user[1]) }

var promptRE = regexp.MustCompile(`Custodian ([12])'s half of the (SO PIN|user PIN) \(not echoed\): $`)

// answer returns what the custodian types at the prompt ending transcript, if one does.
func (c custodians) answer(transcript string) (string, bool) {
	m := promptRE.FindStringSubmatch(transcript)
	if m == nil {
		return "", false
	}
	i := int(m[1][0] - '1')
	if m[2] == "SO PIN" {
		return c.so[i], true
	}
	return c.user[i], true
}

// ptyRun is a command running on a pseudo-terminal whose prompts the custodians answer.
type ptyRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func startPty(t *testing.T, cmd *exec.Cmd, c custodians) *ptyRun {
	t.Helper()
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{cmd: cmd, done: make(chan error, 1)}
	go func() {
		br := bufio.NewReader(f)
		var tail []byte
		for {
			b, err := br.ReadByte()
			if err != nil {
				break
			}
			r.mu.Lock()
			r.out.WriteByte(b)
			r.mu.Unlock()
			tail = append(tail, b)
			if len(tail) > 200 {
				tail = tail[len(tail)-200:]
			}
			if b == ' ' {
				if half, ok := c.answer(string(tail)); ok {
					f.WriteString(half + "\r")
					tail = nil
				}
			}
		}
		r.done <- cmd.Wait()
		f.Close()
	}()
	return r
}

func (r *ptyRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

func (r *ptyRun) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("%s did not finish in %v:\n%s", r.cmd.Args, limit, r.output())
		return nil
	}
}

func randomHalf(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestOperationsWalkthrough runs every command of docs/operations.md in order, on a
// SoftHSM token that starts uninitialized: token init, ceremony, a production window with
// two --config=prod builds, firmware verification and audit review. Then it tampers with the
// audit log, opens a second window to see refusals audited, and searches everything written
// for the PIN, its halves and the secrets.
func TestOperationsWalkthrough(t *testing.T) {
	env := softhsmtest.Empty(t)
	work, err := os.MkdirTemp("", "vso") // short: the agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	c := custodians{
		so:   [2]string{"so-" + randomHalf(t), "so-" + randomHalf(t)},
		user: [2]string{"u1-" + randomHalf(t), "u2-" + randomHalf(t)},
	}
	vars := map[string]string{
		"MODULE":  env.Module,
		"TOKEN":   "vse-prod-test",
		"RECORDS": filepath.Join(work, "records"),
		"AUDIT":   filepath.Join(work, "audit.log"),
		"SOCK":    filepath.Join(work, "run", "agent.sock"),
	}
	environ := append(slices.Clone(env.Env), "PATH="+filepath.Dir(vsefabTool(t))+":"+os.Getenv("PATH"))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}

	var transcripts []string
	var agent *ptyRun
	for _, b := range shellBlocks(t, filepath.Join(root(t), "docs", "operations.md")) {
		switch b.mode {
		case "env":
			// The page's example values; the test sets the same variables to its own.
			var names []string
			for _, m := range regexp.MustCompile(`(?m)^export (\w+)=`).FindAllStringSubmatch(b.text, -1) {
				names = append(names, m[1])
			}
			slices.Sort(names)
			want := []string{"AUDIT", "MODULE", "RECORDS", "SOCK", "TOKEN"}
			if !slices.Equal(names, want) {
				t.Fatalf("operations.md:%d sets %v; the test provides %v", b.line, names, want)
			}
			continue
		case "wait":
			if agent == nil {
				t.Fatalf("operations.md:%d waits for an agent that was not started", b.line)
			}
			if err := agent.wait(t, 2*time.Minute); err != nil {
				t.Fatalf("the production agent exited with %v:\n%s", err, agent.output())
			}
			transcripts = append(transcripts, agent.output())
		}

		cmd := exec.Command("bash", "-euo", "pipefail", "-c", b.text)
		cmd.Dir = root(t)
		cmd.Env = environ
		run := startPty(t, cmd, c)
		if b.mode == "background" {
			agent = run
			waitForSocket(t, vars["SOCK"], run)
			continue
		}
		err := run.wait(t, 20*time.Minute)
		out := run.output()
		transcripts = append(transcripts, out)
		switch b.mode {
		case "fails on a test token":
			if err == nil || !strings.Contains(out, "made on a test token") {
				t.Fatalf("operations.md:%d should fail on SoftHSM naming the test token; exit %v:\n%s", b.line, err, out)
			}
		default:
			if err != nil {
				t.Fatalf("operations.md:%d: %s: %v\n%s", b.line, strings.TrimSpace(b.text), err, out)
			}
		}
	}
	if agent == nil {
		t.Fatal("operations.md starts no agent")
	}

	tok := &softhsmtest.Token{Module: env.Module, Label: vars["TOKEN"], PIN: c.pin(), Env: env.Env, Conf: env.Conf, Dir: env.Dir}
	auditPub := filepath.Join(vars["RECORDS"], "first", "audit.pub.pem")
	auditLog := vars["AUDIT"]

	t.Run("audit records", func(t *testing.T) {
		data, err := os.ReadFile(auditLog)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"agent-start"`, `"customer":"acme"`, `"customer":"globex"`,
			`//customers/acme:firmware_secrets`, `the window's builds are used`} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("audit log lacks %s:\n%s", want, data)
			}
		}
	})

	t.Run("tampering is caught and named", func(t *testing.T) {
		checkTamperings(t, auditLog, auditPub)
	})

	t.Run("refusals are audited", func(t *testing.T) {
		transcripts = append(transcripts, refusals(t, tok, vars, environ, c, auditPub)...)
	})

	t.Run("no PIN, half or secret in any output", func(t *testing.T) {
		secrets := map[string][]byte{"user PIN": c.pin(), "SO PIN": []byte(c.so[0] + c.so[1])}
		for i := range 2 {
			secrets[fmt.Sprintf("custodian %d's user half", i+1)] = []byte(c.user[i])
			secrets[fmt.Sprintf("custodian %d's SO half", i+1)] = []byte(c.so[i])
		}
		for _, cust := range []string{"acme", "globex"} {
			escrow, err := os.ReadFile(filepath.Join(root(t), "bazel-bin", "customers", cust, "firmware.escrow.bin"))
			if err != nil {
				t.Fatal(err)
			}
			for label, v := range escrowtest.Secrets(t, tok, cust, escrow) {
				secrets[label] = v
			}
		}
		for i, tr := range transcripts {
			if found := leakcheck.Find([]byte(tr), secrets); len(found) > 0 {
				t.Errorf("transcript %d holds %v", i, found)
			}
		}
		out, err := filepath.EvalSymlinks(filepath.Join(root(t), "bazel-out"))
		if err != nil {
			t.Fatal(err)
		}
		// Every configuration's outputs: rules_go builds the library's dependencies in
		// configurations of its own.
		dirs, err := filepath.Glob(filepath.Join(out, "*", "bin", "customers"))
		if err != nil {
			t.Fatal(err)
		}
		n := searchTree(t, secrets, append(dirs, work)...)
		if n < 10 {
			t.Errorf("searched only %d files", n)
		}
	})
}

func waitForSocket(t *testing.T, sock string, run *ptyRun) {
	t.Helper()
	for range 600 {
		if _, err := os.Stat(sock); err == nil {
			return
		}
		select {
		case err := <-run.done:
			t.Fatalf("the agent exited (%v) before listening:\n%s", err, run.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no agent listening on %s:\n%s", sock, run.output())
}

// checkTamperings damages copies of the audit log each way and checks audit verify names it.
func checkTamperings(t *testing.T, auditLog, pub string) {
	data, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	lines[len(lines)-1] += "\n"
	if len(lines) < 5 {
		t.Fatalf("audit log has %d lines", len(lines))
	}
	if code, out := auditVerify(t, auditLog, pub); code != 0 {
		t.Fatalf("the untouched log fails: %s", out)
	}
	edited := slices.Clone(lines)
	edited[1] = strings.Replace(edited[1], `"status"`, `"statuz"`, 1)
	edited[1] = strings.Replace(edited[1], `"generate"`, `"generatf"`, 1)
	edited[1] = strings.Replace(edited[1], `"agent-start"`, `"agent-starz"`, 1)
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"edit", edited, "edited"},
		{"deletion", slices.Delete(slices.Clone(lines), 1, 2), "deleted"},
		{"insertion", slices.Insert(slices.Clone(lines), 2, lines[1]), "inserted"},
		{"reordering", swap(lines, 1, 2), "reordered"},
		{"truncation", lines[:len(lines)-1], "no checkpoint covers"},
		{"interrupted write", append(slices.Clone(lines), lines[1][:len(lines[1])/2]), "incomplete"},
	}
	for _, tc := range cases {
		p := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(p, []byte(strings.Join(tc.lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := auditVerify(t, p, pub)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want a failure naming %q:\n%s", tc.name, code, tc.want, out)
		}
	}
}

func swap(l []string, i, j int) []string {
	c := slices.Clone(l)
	c[i], c[j] = c[j], c[i]
	return c
}

func auditVerify(t *testing.T, log, pub string, flags ...string) (int, string) {
	t.Helper()
	args := append(append([]string{"audit", "verify", "--public-key", pub}, flags...), log)
	out, err := exec.Command(vsefabTool(t), args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// refusals opens a second production window, for acme only and a few seconds long, with the
// halves given through FIFOs; asks it for globex (refused: customers), lets the window close
// and checks both refusal and closing are in a log that still verifies.
func refusals(t *testing.T, tok *softhsmtest.Token, vars map[string]string, environ []string, c custodians, pub string) []string {
	dir := t.TempDir()
	firstWindow, err := os.ReadFile(vars["AUDIT"])
	if err != nil {
		t.Fatal(err)
	}
	head2 := filepath.Join(dir, "window-2.head")
	var srcs [2]string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("half%d", i+1))
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		srcs[i] = "file:" + p
		go func(half string) {
			if err := os.WriteFile(p, []byte(half+"\r\n"), 0o600); err != nil {
				t.Error(err)
			}
		}(c.user[i])
	}
	hsm := "pkcs11:token=" + vars["TOKEN"] + "?module-path=" + vars["MODULE"]
	cmd := exec.Command(vsefabTool(t), "agent", "--production", "--hsm", hsm, "--socket", vars["SOCK"],
		"--window", "6s", "--customers", "acme", "--audit-log", vars["AUDIT"], "--audit-head", head2,
		"--pin1", srcs[0], "--pin2", srcs[1])
	cmd.Env = environ
	var agentOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &agentOut, &agentOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for range 100 {
		if _, err := os.Stat(vars["SOCK"]); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	gen := func(customer string, production bool) (string, error) {
		d := t.TempDir()
		cfg := filepath.Join(d, "config.textproto")
		os.WriteFile(cfg, []byte(fmt.Sprintf("customer: %q\nkeyset_version: 1\nfirmware_version: \"1.0.0\"\n", customer)), 0o644)
		args := []string{"gen", "--config", cfg, "--agent", vars["SOCK"], "--target", "//refusal:" + customer,
			"--out-dir", d + "/src", "--escrow", d + "/e", "--manifest", d + "/m.pb", "--manifest-json", d + "/m.json",
			"--manifest-sig", d + "/m.sig"}
		if production {
			args = append(args, "--production", "--expect-token", vars["TOKEN"], "--expect-module", vars["MODULE"])
		}
		out, err := exec.Command(vsefabTool(t), args...).CombinedOutput()
		return string(out), err
	}
	var outs []string
	for _, tc := range []struct {
		customer   string
		production bool
		want       string
	}{
		{"globex", true, "customers: customer \"globex\" is not in this window's customers"},
		{"acme", false, "only --config=prod builds"},
	} {
		out, err := gen(tc.customer, tc.production)
		outs = append(outs, out)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("gen %s (production %v): %v, want a refusal naming %q:\n%s", tc.customer, tc.production, err, tc.want, out)
		}
	}
	out, err := gen("acme", true)
	outs = append(outs, out)
	if err != nil {
		t.Errorf("gen acme in its window: %v\n%s", err, out)
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, agentOut.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the agent outlived its window:\n%s", agentOut.String())
	}
	if took := time.Since(start); took < 6*time.Second {
		t.Errorf("the agent exited after %v, before its window closed", took)
	}
	if out, err := gen("acme", true); err == nil {
		t.Errorf("gen after the window closed worked:\n%s", out)
	}
	outs = append(outs, agentOut.String())

	data, err := os.ReadFile(vars["AUDIT"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"refused"`, `is not in this window's customers`, `only --config=prod builds`,
		`the production window closed`, `//refusal:acme`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if code, out := auditVerify(t, vars["AUDIT"], pub); code != 0 {
		t.Errorf("the log after the second window fails: %s", out)
	}

	// The log cut back to the end of the first window verifies on its own, every line left
	// being chained and signed; against the second window's head it does not.
	headData, err := os.ReadFile(head2)
	if err != nil {
		t.Fatalf("the agent wrote no head: %v", err)
	}
	head := strings.TrimSpace(string(headData))
	if code, out := auditVerify(t, vars["AUDIT"], pub, "--head", head); code != 0 {
		t.Errorf("the log fails against its own head %s: %s", head, out)
	}
	cut := filepath.Join(dir, "cut.log")
	if err := os.WriteFile(cut, firstWindow, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := auditVerify(t, cut, pub, "--head", head); code == 0 || !strings.Contains(out, "ends before its recorded head") {
		t.Errorf("the log without its second window, against the second window's head: exit %d:\n%s", code, out)
	}
	outs = append(outs, string(headData))

	return append(outs, string(data))
}
