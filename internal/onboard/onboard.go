// Package onboard adds customers to a workspace and lists them. A customer is a Bazel package
// customers/NAME holding a config (config.textproto) and a BUILD file with its vse_customer
// and vse_firmware targets. BUILD files are read and written through buildtools' build
// package, so what is written is buildifier-formatted and what a person wrote in an existing
// file (comments, other targets, attributes) survives an update.
//
// It refuses a name that is not a valid customer name (which also makes it a valid Bazel
// package and target name), a name reserved for the HSM's long-term key labels, and a name
// that an existing package or config already uses. It writes all or nothing.
package onboard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bazelbuild/buildtools/build"

	"github.com/vsefab/vsefab/internal/config"
	"github.com/vsefab/vsefab/internal/outfile"
	"github.com/vsefab/vsefab/proto/vsefabpb"
)

// Dir is the directory under the workspace root that holds one package per customer.
const Dir = "customers"

// configFile is the name of a new customer's config in its package.
const configFile = "config.textproto"

// firmwareTarget is the name of the firmware target a new customer gets.
const firmwareTarget = "firmware"

// ErrExists is returned when the customer's package exists and an update was not asked for.
var ErrExists = errors.New("customer exists")

// Options are the choices of Add.
type Options struct {
	// From names an existing customer whose BUILD file and config the new one starts from.
	From string
	// DisplayName is the new config's display_name.
	DisplayName string
	// Update adds what is missing to an existing customer's package instead of refusing it.
	Update bool
	// Defs is the label of the file that defines the vse_* rules; empty means this
	// workspace's //rules:defs.bzl when it has one, else @vsefab//rules:defs.bzl.
	Defs string
}

// Change is what Add wrote: the paths relative to the workspace, and the paths it left as
// they were because they already held what was needed.
type Change struct {
	Written   []string
	Unchanged []string
}

// Add creates customers/NAME in the workspace at root, or with opts.Update completes it.
func Add(root, name string, opts Options) (*Change, error) {
	if err := config.CheckCustomer(name); err != nil {
		return nil, err
	}
	if err := checkWorkspace(root); err != nil {
		return nil, err
	}
	pkg := filepath.Join(root, Dir, name)
	buildPath := filepath.Join(pkg, "BUILD.bazel")
	cfgPath := filepath.Join(pkg, configFile)
	_, statErr := os.Lstat(pkg)
	exists := statErr == nil
	if exists && !opts.Update {
		return nil, fmt.Errorf("%s exists already; to add what it lacks and keep your edits, "+
			"run again with --update: %w", rel(root, pkg), ErrExists)
	}
	if exists && opts.From != "" {
		return nil, fmt.Errorf("--from applies to new customers only; %s exists", rel(root, pkg))
	}
	if !exists && opts.Update {
		return nil, fmt.Errorf("%s does not exist: nothing to update; run without --update to create it",
			rel(root, pkg))
	}
	if err := checkNameFree(root, name); err != nil {
		return nil, err
	}
	defs := opts.Defs
	if defs == "" {
		defs = defaultDefs(root)
	}

	var f *build.File
	var cfg *vsefabpb.CustomerConfig
	var oldBuild []byte
	switch {
	case exists:
		p, data, err := buildFile(pkg)
		if err != nil {
			return nil, err
		}
		if p != "" {
			buildPath = p
			oldBuild = data
			if f, err = build.ParseBuild(rel(root, p), data); err != nil {
				return nil, fmt.Errorf("%w; fix the file, then run again", err)
			}
		}
	case opts.From != "":
		var err error
		if f, cfg, err = fromTemplate(root, opts.From, name); err != nil {
			return nil, err
		}
	}
	if f == nil {
		f = &build.File{Path: rel(root, buildPath), Type: build.TypeBuild}
	}
	if cfg == nil {
		cfg = &vsefabpb.CustomerConfig{FirmwareVersion: "1.0.0"}
	}
	cfg.Customer = name
	cfg.KeysetVersion = 1
	if opts.DisplayName != "" {
		cfg.DisplayName = opts.DisplayName
	}
	if err := config.Validate(cfg); err != nil {
		return nil, fmt.Errorf("the new config of %s: %w", name, err)
	}

	if err := complete(f, name, defs); err != nil {
		return nil, fmt.Errorf("%s: %w", rel(root, buildPath), err)
	}
	newBuild := build.Format(f)

	ch := &Change{}
	set := outfile.NewSet()
	if oldBuild == nil {
		set.Add(buildPath, newBuild)
		ch.Written = append(ch.Written, rel(root, buildPath))
	} else if bytes.Equal(oldBuild, newBuild) {
		ch.Unchanged = append(ch.Unchanged, rel(root, buildPath))
	}
	if _, err := os.Lstat(cfgPath); err == nil {
		// An existing config is the customer's own: it is checked, never rewritten.
		if _, _, err := config.Load(cfgPath); err != nil {
			return nil, fmt.Errorf("%w; fix it, then run again", err)
		}
		ch.Unchanged = append(ch.Unchanged, rel(root, cfgPath))
	} else {
		text, err := configText(cfgPath, cfg)
		if err != nil {
			return nil, err
		}
		set.Add(cfgPath, text)
		ch.Written = append(ch.Written, rel(root, cfgPath))
	}

	// New files first, all or nothing; then the one edited file, replaced only if nobody
	// changed it since it was read.
	if err := set.Commit(); err != nil {
		return nil, err
	}
	if oldBuild != nil && !bytes.Equal(oldBuild, newBuild) {
		if err := outfile.Replace(buildPath, oldBuild, newBuild); err != nil {
			return nil, err
		}
		ch.Written = append(ch.Written, rel(root, buildPath))
	}
	return ch, nil
}

// checkWorkspace refuses a root that is not a Bazel workspace, so a mistyped --workspace
// does not scatter customers/ directories.
func checkWorkspace(root string) error {
	for _, n := range []string{"WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel"} {
		if _, err := os.Stat(filepath.Join(root, n)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s is not a Bazel workspace (no WORKSPACE file): run from the workspace "+
		"root, through bazel run, or pass --workspace", root)
}

// checkNameFree refuses name when another customer package's config already names it: two
// packages of one customer would build two firmwares over one keyset.
func checkNameFree(root, name string) error {
	customers, err := List(root)
	if err != nil {
		return err
	}
	for _, c := range customers {
		if c.Customer == name && c.Package != Dir+"/"+name {
			return fmt.Errorf("customer %s is already declared by //%s:%s (%s): its keys are labelled "+
				"vsefab/%s/...; choose another name", name, c.Package, c.Target, c.Config, name)
		}
	}
	return nil
}

// defaultDefs is the label new BUILD files load the rules from: this repository's own when
// the workspace is vsefab itself, else the external repository @vsefab.
func defaultDefs(root string) string {
	if _, err := os.Stat(filepath.Join(root, "rules", "defs.bzl")); err == nil {
		return "//rules:defs.bzl"
	}
	return "@vsefab//rules:defs.bzl"
}

// buildFile returns the path and content of the BUILD file of the package at dir, or an
// empty path when it has none.
func buildFile(dir string) (string, []byte, error) {
	for _, n := range []string{"BUILD.bazel", "BUILD"} {
		p := filepath.Join(dir, n)
		data, err := os.ReadFile(p)
		if err == nil {
			return p, data, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", nil, err
		}
	}
	return "", nil, nil
}

// fromTemplate reads the package of customer from and turns its BUILD file into one for
// name: the vse_customer target is renamed, labels into the old package point at the new
// one, and licenses are dropped, since the apps and terms they grant belong to the old
// customer. The config keeps from's firmware version and nothing that identifies from.
func fromTemplate(root, from, name string) (*build.File, *vsefabpb.CustomerConfig, error) {
	if err := config.CheckCustomer(from); err != nil {
		return nil, nil, fmt.Errorf("--from: %w", err)
	}
	dir := filepath.Join(root, Dir, from)
	p, data, err := buildFile(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("--from %s: %w", from, err)
	}
	if p == "" {
		return nil, nil, fmt.Errorf("--from %s: %s has no BUILD file; name an existing customer "+
			"(vsefab customer list shows them)", from, rel(root, dir))
	}
	f, err := build.ParseBuild(rel(root, p), data)
	if err != nil {
		return nil, nil, fmt.Errorf("--from %s: %w", from, err)
	}
	var tmplCfg string
	for _, r := range f.Rules("vse_customer") {
		if r.Name() == from {
			tmplCfg = r.AttrString("config")
		}
	}
	if tmplCfg == "" {
		return nil, nil, fmt.Errorf("--from %s: %s declares no vse_customer named %q with a config file",
			from, rel(root, p), from)
	}
	cfg, _, err := config.Load(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(tmplCfg, ":"))))
	if err != nil {
		return nil, nil, fmt.Errorf("--from %s: %w", from, err)
	}

	f.DelRules("vse_license", "")
	for _, r := range f.Rules("vse_firmware") {
		r.DelAttr("licenses")
	}
	for _, r := range f.Rules("vse_customer") {
		if r.Name() == from {
			r.SetAttr("name", &build.StringExpr{Value: name})
			r.SetAttr("config", &build.StringExpr{Value: configFile})
		}
	}
	oldPkg := "//" + Dir + "/" + from
	build.Walk(f, func(x build.Expr, _ []build.Expr) {
		s, ok := x.(*build.StringExpr)
		if !ok {
			return
		}
		switch {
		case s.Value == ":"+from || s.Value == oldPkg+":"+from || s.Value == oldPkg:
			s.Value = ":" + name
		case strings.HasPrefix(s.Value, oldPkg+":"):
			s.Value = ":" + strings.TrimPrefix(s.Value, oldPkg+":")
		}
	})
	dropUnusedLoads(f)
	f.Path = path.Join(Dir, name, "BUILD.bazel")
	return f, &vsefabpb.CustomerConfig{FirmwareVersion: cfg.GetFirmwareVersion()}, nil
}

// dropUnusedLoads removes loaded symbols no call uses any more, and loads left empty.
func dropUnusedLoads(f *build.File) {
	used := map[string]bool{}
	build.Walk(f, func(x build.Expr, _ []build.Expr) {
		if c, ok := x.(*build.CallExpr); ok {
			if id, ok := c.X.(*build.Ident); ok {
				used[id.Name] = true
			}
		}
	})
	var stmts []build.Expr
	for _, s := range f.Stmt {
		if l, ok := s.(*build.LoadStmt); ok {
			var from, to []*build.Ident
			for i := range l.To {
				if used[l.To[i].Name] {
					from, to = append(from, l.From[i]), append(to, l.To[i])
				}
			}
			if len(to) == 0 {
				continue
			}
			l.From, l.To = from, to
		}
		stmts = append(stmts, s)
	}
	f.Stmt = stmts
}

// complete adds to f what a customer's package needs and lacks: the load of the rules, the
// vse_customer target and a firmware target for it. It changes nothing that is there.
func complete(f *build.File, name, defs string) error {
	var want []string
	if r := f.RuleNamed(name); r == nil {
		f.Stmt = append(f.Stmt, call("vse_customer",
			attr("name", str(name)),
			attr("config", str(configFile))))
		want = append(want, "vse_customer")
	} else if r.Kind() != "vse_customer" {
		return fmt.Errorf("target %s is a %s, not a vse_customer: rename it, or name the customer "+
			"differently", name, r.Kind())
	} else {
		want = append(want, "vse_customer")
	}

	hasFirmware := false
	for _, r := range f.Rules("vse_firmware") {
		if c := r.AttrString("customer"); c == ":"+name || c == name {
			hasFirmware = true
		}
	}
	if !hasFirmware {
		if r := f.RuleNamed(firmwareTarget); r != nil {
			return fmt.Errorf("target %s is a %s, not a vse_firmware of %s: rename it, or add a "+
				"vse_firmware with customer = \":%s\" yourself", firmwareTarget, r.Kind(), name, name)
		}
		f.Stmt = append(f.Stmt, call("vse_firmware",
			attr("name", str(firmwareTarget)),
			attr("customer", str(":"+name)),
			attr("visibility", &build.ListExpr{List: []build.Expr{str("//visibility:public")}})))
	}
	want = append(want, "vse_firmware")
	return ensureLoad(f, defs, want)
}

// ensureLoad makes f load each of symbols from module, unless f loads it from somewhere else
// already, which is the author's choice.
func ensureLoad(f *build.File, module string, symbols []string) error {
	loaded := map[string]bool{}
	var mine *build.LoadStmt
	for _, s := range f.Stmt {
		l, ok := s.(*build.LoadStmt)
		if !ok {
			continue
		}
		for _, id := range l.To {
			loaded[id.Name] = true
		}
		if l.Module.Value == module && mine == nil {
			mine = l
		}
	}
	var missing []string
	for _, s := range symbols {
		if !loaded[s] {
			missing = append(missing, s)
			loaded[s] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if mine == nil {
		mine = &build.LoadStmt{Module: str(module), ForceCompact: true}
		// After a leading comment block (a file header), before everything else.
		at := 0
		if len(f.Stmt) > 0 {
			if _, ok := f.Stmt[0].(*build.CommentBlock); ok {
				at = 1
			}
		}
		f.Stmt = append(f.Stmt[:at], append([]build.Expr{mine}, f.Stmt[at:]...)...)
	}
	for _, s := range missing {
		mine.From = append(mine.From, &build.Ident{Name: s})
		mine.To = append(mine.To, &build.Ident{Name: s})
	}
	return nil
}

func call(kind string, args ...build.Expr) *build.CallExpr {
	return &build.CallExpr{X: &build.Ident{Name: kind}, List: args, ForceMultiLine: true}
}

func attr(key string, v build.Expr) build.Expr {
	return &build.AssignExpr{LHS: &build.Ident{Name: key}, Op: "=", RHS: v}
}

func str(s string) *build.StringExpr { return &build.StringExpr{Value: s} }

// configText renders cfg as the text format config.Load reads, and proves it by reading it
// back: prototext's own output is deliberately unstable, and a config is a file people edit.
func configText(p string, cfg *vsefabpb.CustomerConfig) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# proto-file: proto/config.proto\n# proto-message: vsefab.v1.CustomerConfig\n")
	fmt.Fprintf(&b, "customer: %s\n", quote(cfg.GetCustomer()))
	if cfg.GetDisplayName() != "" {
		fmt.Fprintf(&b, "display_name: %s\n", quote(cfg.GetDisplayName()))
	}
	fmt.Fprintf(&b, "keyset_version: %d\n", cfg.GetKeysetVersion())
	fmt.Fprintf(&b, "firmware_version: %s\n", quote(cfg.GetFirmwareVersion()))
	text := []byte(b.String())
	back, err := config.Parse(p, text)
	if err != nil {
		return nil, fmt.Errorf("the new config does not read back (%v): choose a plainer display name", err)
	}
	if back.GetCustomer() != cfg.GetCustomer() || back.GetDisplayName() != cfg.GetDisplayName() ||
		back.GetKeysetVersion() != cfg.GetKeysetVersion() || back.GetFirmwareVersion() != cfg.GetFirmwareVersion() {
		return nil, fmt.Errorf("the new config of %s does not read back as written: choose a plainer display name",
			cfg.GetCustomer())
	}
	return text, nil
}

// quote writes s as a text-format string: UTF-8 stays as it is, quotes, backslashes and
// control bytes are escaped in octal, which every text-format reader accepts.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString("\\" + strconv.FormatInt(int64(c)|0o1000, 8)[1:])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Customer is one vse_customer target found under customers/.
type Customer struct {
	// Package is the Bazel package, e.g. customers/acme; Target the vse_customer's name.
	Package string `json:"package"`
	Target  string `json:"target"`
	// Config is the config file's path relative to the workspace.
	Config          string `json:"config"`
	Customer        string `json:"customer"`
	DisplayName     string `json:"display_name,omitempty"`
	KeysetVersion   uint32 `json:"keyset_version"`
	FirmwareVersion string `json:"firmware_version"`
	// Firmware and Licenses are the names of the vse_firmware and vse_license targets of
	// this customer in its package.
	Firmware []string `json:"firmware"`
	Licenses []string `json:"licenses"`
}

// List reads every customer package's BUILD file and the configs it names, in package
// order. A BUILD file or config that does not read is an error naming it.
func List(root string) ([]Customer, error) {
	entries, err := os.ReadDir(filepath.Join(root, Dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Customer
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, Dir, e.Name())
		p, data, err := buildFile(dir)
		if err != nil {
			return nil, err
		}
		if p == "" {
			continue
		}
		f, err := build.ParseBuild(rel(root, p), data)
		if err != nil {
			return nil, err
		}
		cs, err := customersIn(f, root, dir)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// customersIn returns the vse_customer targets of f, whose package is at dir, with their
// configs and the firmware and license targets that name them.
func customersIn(f *build.File, root, dir string) ([]Customer, error) {
	pkg := rel(root, dir)
	var cs []Customer
	for _, r := range f.Rules("vse_customer") {
		file := strings.TrimPrefix(r.AttrString("config"), ":")
		c := Customer{Package: pkg, Target: r.Name(), Config: path.Join(pkg, file),
			Firmware: []string{}, Licenses: []string{}}
		if file == "" || f.RuleNamed(file) != nil {
			return nil, fmt.Errorf("//%s:%s: config is not a file of the package; customers under %s/ "+
				"keep their config as a file beside the BUILD file", pkg, c.Target, Dir)
		}
		cfg, _, err := config.Load(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			return nil, fmt.Errorf("//%s:%s: %w", pkg, c.Target, err)
		}
		c.Customer = cfg.GetCustomer()
		c.DisplayName = cfg.GetDisplayName()
		c.KeysetVersion = cfg.GetKeysetVersion()
		c.FirmwareVersion = cfg.GetFirmwareVersion()
		for kind, into := range map[string]*[]string{"vse_firmware": &c.Firmware, "vse_license": &c.Licenses} {
			for _, o := range f.Rules(kind) {
				if v := o.AttrString("customer"); v == ":"+c.Target || v == c.Target {
					*into = append(*into, o.Name())
				}
			}
			sort.Strings(*into)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// rel is p relative to root with forward slashes, for messages and Bazel paths.
func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}
