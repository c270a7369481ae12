"""Repository rules that fetch vsefab's Bazel dependencies through the Go module proxy.

These machines reach no download site, only the Go module proxy and Debian's archive. The
proxy serves rules_go's whole source tree as the module github.com/bazelbuild/rules_go and
Go distributions as golang.org/toolchain, so both are fetched with the host's
`go mod download` and checked against sums pinned here.

Nothing in this file runs at build time: it is loaded from WORKSPACE only.
"""

# Pinned modules. Changing a version means changing its sum too: take the "Sum" that
# `GOTOOLCHAIN=local go mod download -json MODULE@VERSION` prints.
RULES_GO_MODULE = "github.com/bazelbuild/rules_go"
RULES_GO_VERSION = "v0.34.0"  # newest rules_go that loads on Bazel 4.2.3
RULES_GO_SUM = "h1:cmObMtgIOaEU944SqXtJ9DnlS8IPGGa7pdRnsrpQzXM="

GO_SDK_MODULE = "golang.org/toolchain"
GO_SDK_VERSION = "v0.0.1-go1.26.8.linux-amd64"
GO_SDK_SUM = "h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM="

# Tools that Go 1.25 and later no longer ship prebuilt but rules_go expects in pkg/tool.
_SDK_INSTALL_PACKAGES = [
    "std",
    "cmd/pack",
    "cmd/buildid",
    "cmd/test2json",
    "cmd/nm",
    "cmd/addr2line",
    "cmd/objdump",
    "cmd/covdata",
]

_HOST_GO_FALLBACK = "/usr/local/go/bin/go"

def _host_go(rctx):
    """Returns the path of the host's go command, or fails saying what to install."""
    go = rctx.which("go")
    if go != None:
        return go
    fallback = rctx.path(_HOST_GO_FALLBACK)
    if fallback.exists:
        return fallback
    fail(("vsefab: repository @{name} needs a host Go toolchain to fetch modules from the Go " +
          "module proxy, but found no `go` on PATH and no {fallback}. Install Go (the project " +
          "uses Go 1.26.8 at /usr/local/go; any Go 1.19 or newer can fetch, for example " +
          "Debian's golang-go package) and run Bazel again.").format(
        name = rctx.name,
        fallback = _HOST_GO_FALLBACK,
    ))

def _run(rctx, args, env, what, timeout = 1800):
    res = rctx.execute(args, environment = env, timeout = timeout, quiet = True)
    if res.return_code != 0:
        fail("vsefab: repository @{name}: {what} failed (exit {code}):\n  {cmd}\n{out}{err}".format(
            name = rctx.name,
            what = what,
            code = res.return_code,
            cmd = " ".join([str(a) for a in args]),
            out = res.stdout,
            err = res.stderr,
        ))
    return res

def _download_module(rctx, module, version, want_sum):
    """Fetches MODULE@VERSION into the module cache and checks its sum.

    Returns the path of the module's zip in the module cache.
    """
    go = _host_go(rctx)
    ref = module + "@" + version
    env = {
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-modcacherw",
        "GO111MODULE": "on",
        "GOWORK": "off",
    }
    res = rctx.execute(
        [go, "mod", "download", "-json", ref],
        environment = env,
        timeout = 1800,
        quiet = True,
    )

    # On failure `go mod download -json` still prints JSON, with the reason in "Error".
    info = {}
    if res.stdout.strip().startswith("{"):
        info = json.decode(res.stdout)
    if res.return_code != 0 or info.get("Error"):
        fail("vsefab: repository @{name}: `{go} mod download -json {ref}` failed: {reason}".format(
            name = rctx.name,
            go = go,
            ref = ref,
            reason = info.get("Error") or (res.stderr + res.stdout).strip(),
        ))

    got_sum = info.get("Sum", "")
    if got_sum != want_sum:
        fail(("vsefab: repository @{name}: checksum mismatch for {ref}:\n" +
              "  pinned:     {want}\n" +
              "  downloaded: {got}\n" +
              "Refusing to use it. If the version was changed on purpose, update the pinned " +
              "sum in rules/private/repositories.bzl; otherwise the module cache or the " +
              "proxy served something else and must be investigated.").format(
            name = rctx.name,
            ref = ref,
            want = want_sum,
            got = got_sum or "(none reported)",
        ))
    zip_path = info.get("Zip")
    if not zip_path:
        fail("vsefab: repository @{name}: go reported no zip for {ref}".format(
            name = rctx.name,
            ref = ref,
        ))
    return zip_path

def _extract_module(rctx, module, version, want_sum):
    zip_path = _download_module(rctx, module, version, want_sum)
    rctx.extract(zip_path, stripPrefix = module + "@" + version)

# ---------------------------------------------------------------------------------------------
# A Go module that is itself a Bazel repository (rules_go), with local patches.

def _check_all_patches_listed(rctx):
    """Fails if a .patch file sits beside the listed ones without being listed itself."""
    listed = {}
    dirs = {}
    for patch in rctx.attr.patches:
        path = rctx.path(patch)
        listed[str(path)] = True
        dirs[str(path.dirname)] = path.dirname
    for d in dirs.values():
        for f in d.readdir():
            if f.basename.endswith(".patch") and str(f) not in listed:
                fail(("vsefab: repository @{name}: {f} is not listed in the patches of " +
                      "@{name}; add it in rules/private/repositories.bzl").format(
                    name = rctx.name,
                    f = f,
                ))

def _go_proxy_repository_impl(rctx):
    _check_all_patches_listed(rctx)
    _extract_module(rctx, rctx.attr.module, rctx.attr.version, rctx.attr.sum)
    for patch in rctx.attr.patches:
        rctx.patch(patch, strip = rctx.attr.patch_strip)

go_proxy_repository = repository_rule(
    implementation = _go_proxy_repository_impl,
    doc = "A Bazel repository shipped as a Go module, fetched through the Go module proxy.",
    attrs = {
        "module": attr.string(mandatory = True, doc = "module path"),
        "version": attr.string(mandatory = True, doc = "exact module version"),
        "sum": attr.string(mandatory = True, doc = "pinned h1: sum of the module zip"),
        "patches": attr.label_list(allow_files = [".patch"], doc = "applied in order"),
        "patch_strip": attr.int(default = 1, doc = "leading path components to strip"),
    },
)

# ---------------------------------------------------------------------------------------------
# A Go distribution from golang.org/toolchain, made ready for go_wrap_sdk.

def _go_proxy_sdk_impl(rctx):
    _extract_module(rctx, rctx.attr.module, rctx.attr.version, rctx.attr.sum)

    # Module zips carry no file modes: give the commands back their executable bits.
    _run(
        rctx,
        ["sh", "-c", "chmod -R u+w . && chmod a+x bin/* pkg/tool/*/*"],
        {},
        "restoring executable bits",
    )

    root = str(rctx.path("."))
    env = {
        "GOROOT": root,
        "GOTOOLCHAIN": "local",
        "GODEBUG": "installgoroot=all",
        "GOFLAGS": "",
        "GOENV": "off",
        "GOWORK": "off",
        "GO111MODULE": "",
    }
    environ = rctx.os.environ
    if not environ.get("GOCACHE") and not environ.get("XDG_CACHE_HOME") and not environ.get("HOME"):
        # No user build cache to share: use a private one, removed below.
        env["GOCACHE"] = root + "/.gocache"

    _run(
        rctx,
        [root + "/bin/go", "install"] + _SDK_INSTALL_PACKAGES,
        env,
        "building the Go standard library and tools for the SDK",
    )
    rctx.delete(root + "/.gocache")

    for tool in ["pack", "buildid", "test2json", "covdata"]:
        if not rctx.path(root + "/pkg/tool/linux_amd64/" + tool).exists:
            fail("vsefab: repository @{name}: pkg/tool/linux_amd64/{tool} is missing after install".format(
                name = rctx.name,
                tool = tool,
            ))

    rctx.file(
        "BUILD.bazel",
        content = "\n".join([
            "# Generated by //rules/private:repositories.bzl: an unpacked Go distribution.",
            "# Use it through @go_sdk (go_wrap_sdk), not directly.",
            "exports_files([\"VERSION\"])",
            "",
        ]),
        executable = False,
    )

go_proxy_sdk = repository_rule(
    implementation = _go_proxy_sdk_impl,
    doc = "A Go SDK taken from the Go module proxy's golang.org/toolchain module.",
    attrs = {
        "module": attr.string(default = GO_SDK_MODULE),
        "version": attr.string(mandatory = True, doc = "e.g. v0.0.1-go1.26.8.linux-amd64"),
        "sum": attr.string(mandatory = True, doc = "pinned h1: sum of the module zip"),
    },
)

# ---------------------------------------------------------------------------------------------

def vsefab_go_repositories():
    """Declares rules_go and the Go SDK distribution. Call from WORKSPACE."""
    go_proxy_repository(
        name = "io_bazel_rules_go",
        module = RULES_GO_MODULE,
        version = RULES_GO_VERSION,
        sum = RULES_GO_SUM,
        patches = [
            "//third_party/rules_go:0001-go_tool_binary-compile-with-p-main.patch",
            "//third_party/rules_go:0002-stdlib-installgoroot-and-local-toolchain.patch",
            "//third_party/rules_go:0003-asm-symabis-package-path.patch",
        ],
        patch_strip = 1,
    )
    go_proxy_sdk(
        name = "go_sdk_dist",
        version = GO_SDK_VERSION,
        sum = GO_SDK_SUM,
    )
