"""vse_firmware: one customer's firmware, from HSM secrets to a linked shared library."""

load("@io_bazel_rules_go//go:def.bzl", "go_binary", "go_library")
load("//firmware/cabi:deps.bzl", "CABI_DEPS")
load(":providers.bzl", "VseCustomerInfo", "VseFirmwareInfo", "VseLicenseInfo", "VseSecretsInfo")
load(":toolchain.bzl", "add_hsm_args")

# The files vsefab gen writes for the keyset package; fixed so they can be declared before
# the action runs. Keep in step with red.SourceFiles.
_KEYSET_SOURCES = ["keyset.go", "shares_0.go", "shares_1.go", "shares_2.go"]

# The generated package takes the place of the unprovisioned //firmware/keyset.
_KEYSET_IMPORTPATH = "github.com/vsefab/vsefab/firmware/keyset"

# A Label, so the type resolves to this repository also when vsefab is an external one.
_HSM_TOOLCHAIN = str(Label("//hsm:toolchain_type"))

def _vse_secrets_impl(ctx):
    customer = ctx.attr.customer[VseCustomerInfo]
    hsm = ctx.toolchains[_HSM_TOOLCHAIN].hsm

    srcs = [ctx.actions.declare_file("%s/keyset/%s" % (ctx.label.name, f)) for f in _KEYSET_SOURCES]
    escrow = ctx.actions.declare_file(ctx.label.name + "/escrow.bin")
    manifest = ctx.actions.declare_file(ctx.label.name + "/manifest.pb")
    manifest_json = ctx.actions.declare_file(ctx.label.name + "/manifest.json")
    manifest_sig = ctx.actions.declare_file(ctx.label.name + "/manifest.sig")
    log = ctx.actions.declare_file(ctx.label.name + "/gen.log")

    args = ctx.actions.args()
    args.add("gen")
    args.add("--config", customer.config)
    args.add("--customer", customer.customer)
    add_hsm_args(args, hsm, ctx.label)
    args.add("--out-dir", srcs[0].dirname)
    args.add("--escrow", escrow)
    args.add("--manifest", manifest)
    args.add("--manifest-json", manifest_json)
    args.add("--manifest-sig", manifest_sig)
    args.add("--log", log)

    ctx.actions.run(
        executable = ctx.executable._vsefab,
        arguments = [args],
        inputs = [customer.config],
        outputs = srcs + [escrow, manifest, manifest_json, manifest_sig, log],
        mnemonic = "VseGen",
        progress_message = "Generating the keyset of %s (%s) with HSM %s" % (
            customer.customer,
            ctx.label,
            hsm.kind,
        ),
        execution_requirements = hsm.execution_requirements,
    )

    return [
        DefaultInfo(files = depset(srcs + [escrow, manifest, manifest_json, manifest_sig, log])),
        OutputGroupInfo(go_srcs = depset(srcs)),
        VseSecretsInfo(
            srcs = srcs,
            escrow = escrow,
            manifest = manifest,
            manifest_json = manifest_json,
            manifest_sig = manifest_sig,
            log = log,
        ),
    ]

vse_secrets = rule(
    implementation = _vse_secrets_impl,
    doc = "Runs vsefab gen under the resolved HSM toolchain: the customer's keyset, " +
          "transformed into a Go package, plus escrow file and manifest.",
    attrs = {
        "customer": attr.label(
            mandatory = True,
            providers = [VseCustomerInfo],
            doc = "The vse_customer whose keyset to generate.",
        ),
        "_vsefab": attr.label(
            default = Label("//tools/vsefab"),
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = [_HSM_TOOLCHAIN],
    provides = [VseSecretsInfo],
)

# What the secrets action hands on, by the name the firmware target gives each file.
_SECRETS_OUTPUTS = {
    "manifest.pb": "manifest",
    "manifest.json": "manifest_json",
    "manifest.sig": "manifest_sig",
    "escrow.bin": "escrow",
    "gen.log": "log",
}

def _vse_firmware_bundle_impl(ctx):
    library = ctx.file.library
    exported = ctx.attr.library[OutputGroupInfo].cgo_exports.to_list() if OutputGroupInfo in ctx.attr.library else []
    if library.extension != "so" or len(exported) != 1:
        fail(("%s: the firmware library target %s must be a go_binary with linkmode = " +
              "\"c-shared\" giving one .so and one header; it gave %s and headers %s") % (
            ctx.label,
            ctx.attr.library.label,
            library,
            exported,
        ))

    # The secrets reach this rule through the library's runfiles, not an attribute of their
    # own: rules_go builds the library's dependencies in a configuration of its own, and a
    # second edge from here would run the secrets action, and ask the HSM, twice.
    secrets_dir = "/%s/" % ctx.attr.secrets_name
    found = {}
    for f in ctx.attr.library[DefaultInfo].default_runfiles.files.to_list():
        if secrets_dir in f.short_path and f.basename in _SECRETS_OUTPUTS:
            found[f.basename] = f
    if len(found) != len(_SECRETS_OUTPUTS):
        fail("%s: the outputs of %s are missing from %s's runfiles; found %s" % (
            ctx.label,
            ctx.attr.secrets_name,
            ctx.attr.library.label,
            sorted(found.keys()),
        ))

    # Every file takes the firmware's name, so they sit together in bazel-bin.
    header = ctx.actions.declare_file(ctx.label.name + ".h")
    ctx.actions.symlink(output = header, target_file = exported[0])
    outs = {}
    for basename, field in _SECRETS_OUTPUTS.items():
        out = ctx.actions.declare_file("%s.%s" % (ctx.label.name, basename))
        ctx.actions.symlink(output = out, target_file = found[basename])
        outs[field] = out

    return [
        DefaultInfo(files = depset([library, header] + [outs[f] for f in sorted(outs.keys())])),
        VseFirmwareInfo(
            customer = ctx.attr.customer[VseCustomerInfo].customer,
            library = library,
            header = header,
            **outs
        ),
    ]

_vse_firmware_bundle = rule(
    implementation = _vse_firmware_bundle_impl,
    attrs = {
        "customer": attr.label(mandatory = True, providers = [VseCustomerInfo]),
        "library": attr.label(mandatory = True, allow_single_file = True),
        "secrets_name": attr.string(mandatory = True),
    },
    provides = [VseFirmwareInfo],
)

def _vse_firmware_package_impl(ctx):
    fw = ctx.attr.firmware[VseFirmwareInfo]
    customer = ctx.attr.customer[VseCustomerInfo]
    hsm = ctx.toolchains[_HSM_TOOLCHAIN].hsm
    name = ctx.attr.firmware.label.name
    licenses = []
    for lic in ctx.attr.license_files:
        info = lic[VseLicenseInfo]
        if info.customer != fw.customer:
            fail("%s: license %s is for customer %r, but this firmware is %r's: list only %r's licenses" % (
                ctx.label,
                lic.label,
                info.customer,
                fw.customer,
                fw.customer,
            ))
        licenses.append(info.file)
    out = ctx.actions.declare_file(ctx.label.name + ".tar.gz")

    args = ctx.actions.args()
    args.add("bundle")
    args.add("--config", customer.config)
    args.add("--customer", customer.customer)
    args.add("--name", name)
    args.add("--dir", "%s-%s" % (fw.customer, name))
    args.add("--manifest", fw.manifest)
    args.add("--manifest-sig", fw.manifest_sig)
    args.add("--manifest-json", fw.manifest_json)
    args.add("--library", fw.library)
    args.add("--archive", ctx.file.archive)
    args.add("--header", fw.header)
    args.add_all(licenses, before_each = "--license")
    add_hsm_args(args, hsm, ctx.label)
    args.add("--out", out)

    ctx.actions.run(
        executable = ctx.executable._vsefab,
        arguments = [args],
        inputs = [customer.config, fw.manifest, fw.manifest_sig, fw.manifest_json, fw.library, fw.header, ctx.file.archive] + licenses,
        outputs = [out],
        mnemonic = "VseBundle",
        progress_message = "Packing and signing the bundle of %s (%s) with HSM %s" % (fw.customer, ctx.label, hsm.kind),
        execution_requirements = hsm.execution_requirements,
    )
    return [DefaultInfo(files = depset([out]))]

_vse_firmware_package = rule(
    implementation = _vse_firmware_package_impl,
    attrs = {
        "archive": attr.label(mandatory = True, allow_single_file = [".a"]),
        "customer": attr.label(mandatory = True, providers = [VseCustomerInfo]),
        "firmware": attr.label(mandatory = True, providers = [VseFirmwareInfo]),
        "license_files": attr.label_list(providers = [VseLicenseInfo]),
        "_vsefab": attr.label(
            default = Label("//tools/vsefab"),
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = [_HSM_TOOLCHAIN],
)

# Platforms a bundle can be built for. The firmware is Go with cgo (its ABI is C), so every
# platform but the build host's needs a C cross toolchain registered with Bazel.
_HOST_PLATFORM = "linux_amd64"
_NEEDS_SDK = {
    "android_arm64": "the Android NDK's C toolchain for aarch64-linux-android",
    "android_amd64": "the Android NDK's C toolchain for x86_64-linux-android",
    "android_arm": "the Android NDK's C toolchain for armv7a-linux-androideabi",
    "ios_arm64": "Xcode's iOS SDK and clang, which run only on macOS",
    "ios_amd64": "Xcode's iOS simulator SDK and clang, which run only on macOS",
    "darwin_arm64": "Xcode's macOS SDK and clang, which run only on macOS",
    "linux_arm64": "a C cross toolchain for aarch64-linux-gnu registered as a Bazel cc_toolchain",
}

def _check_platforms(name, platforms):
    if type(platforms) != "list" or not platforms:
        fail("vse_firmware(name = %r): attribute platforms must be a non-empty list such as [\"%s\"], got %r" % (
            name,
            _HOST_PLATFORM,
            platforms,
        ))
    for p in platforms:
        if p == _HOST_PLATFORM:
            continue
        if p in _NEEDS_SDK:
            fail(("vse_firmware(name = %r): platform %r cannot be built here: the firmware's C ABI " +
                  "needs cgo, and cgo for %s needs %s, which this workspace does not have. Build " +
                  "it where that toolchain is registered, or drop %r from platforms") % (name, p, p, _NEEDS_SDK[p], p))
        fail("vse_firmware(name = %r): platform %r is not known; known: %s" % (
            name,
            p,
            ", ".join([_HOST_PLATFORM] + sorted(_NEEDS_SDK.keys())),
        ))

def vse_firmware(name, customer = None, licenses = [], platforms = [_HOST_PLATFORM], visibility = None, tags = None, **kwargs):
    """One customer's firmware: secrets from the HSM, compiled and linked as a shared library.

    Creates these targets:
      <name>:         the firmware: lib<name>.so, <name>.h (its C ABI), <name>.manifest.pb,
                      <name>.manifest.json, <name>.manifest.sig (the root signature),
                      <name>.escrow.bin and <name>.gen.log;
                      provides VseFirmwareInfo
      <name>_bundle:  <name>_bundle.tar.gz, what an app team receives: lib<name>.so,
                      lib<name>.a, <name>.h, the manifest with its signature, the licenses
                      and a README, with an index of them signed by the HSM's root key;
                      deterministic (fixed times, owners and modes, sorted entries)
      <name>_secrets: the secrets action (vsefab gen under the HSM toolchain)
      <name>_keyset:  the generated keyset package, as a go_library
      <name>_lib:     the linked firmware (go_binary, linkmode c-shared)
      <name>_archive: the same as a static archive (go_binary, linkmode c-archive)

    Args:
      name: name of the firmware target.
      customer: label of the vse_customer the firmware is for; required.
      licenses: labels of vse_license targets of the same customer, packed into the bundle.
      platforms: platforms to build the bundle for: "linux_amd64", the build host's; the
        others (android_arm64, ios_arm64, ...) are refused with what they need.
      visibility: visibility of the firmware target.
      tags: tags for every target created.
      **kwargs: refused; named so a misspelt attribute gets a clear message.
    """
    if kwargs:
        fail("vse_firmware(name = %r): unknown attribute(s) %s; the attributes are name, customer, licenses, platforms, visibility, tags" % (
            name,
            ", ".join(sorted(kwargs.keys())),
        ))
    if not customer:
        fail("vse_firmware(name = %r): attribute customer is required: set it to the label of a " % name +
             "vse_customer target, for example customer = \":acme\"")
    if tags != None and type(tags) != "list":
        fail("vse_firmware(name = %r): attribute tags must be a list of strings, such as [\"manual\"], got %r" % (name, tags))
    if type(customer) != "string":
        fail("vse_firmware(name = %r): attribute customer must be a label string such as \":acme\", got %r" % (name, customer))

    _check_platforms(name, platforms)

    # The parts are built only as parts of the firmware: were a wildcard such as //... to build
    # them on their own, the secrets action would run in a second configuration.
    internal_tags = (tags or []) + ["manual"]

    vse_secrets(
        name = name + "_secrets",
        customer = customer,
        tags = internal_tags,
        visibility = ["//visibility:private"],
    )
    native.filegroup(
        name = name + "_keyset_srcs",
        srcs = [name + "_secrets"],
        output_group = "go_srcs",
        tags = internal_tags,
        visibility = ["//visibility:private"],
    )
    go_library(
        name = name + "_keyset",
        srcs = [name + "_keyset_srcs"],
        importpath = _KEYSET_IMPORTPATH,
        data = [name + "_secrets"],
        deps = [
            str(Label("//libs/share")),
            str(Label("//libs/vse")),
        ],
        tags = internal_tags,
        visibility = ["//visibility:private"],
    )
    go_binary(
        name = name + "_lib",
        srcs = [str(Label("//firmware/cabi:srcs"))],
        cgo = True,
        linkmode = "c-shared",
        out = "lib%s.so" % name,
        # A soname of its own: apps record it as their dependency, and without one the linker
        # names the library's version definition after its absolute output path, which
        # changes from one sandbox to the next and breaks reproducibility.
        clinkopts = ["-Wl,-soname,lib%s.so" % name],
        deps = [name + "_keyset"] + CABI_DEPS,
        tags = internal_tags,
        visibility = ["//visibility:private"],
    )
    go_binary(
        name = name + "_archive",
        srcs = [str(Label("//firmware/cabi:srcs"))],
        cgo = True,
        linkmode = "c-archive",
        out = "lib%s.a" % name,
        deps = [name + "_keyset"] + CABI_DEPS,
        tags = internal_tags,
        visibility = ["//visibility:private"],
    )
    _vse_firmware_bundle(
        name = name,
        customer = customer,
        library = name + "_lib",
        secrets_name = name + "_secrets",
        tags = tags,
        visibility = visibility,
    )
    _vse_firmware_package(
        name = name + "_bundle",
        archive = name + "_archive",
        customer = customer,
        firmware = name,
        license_files = licenses,
        tags = tags,
        visibility = visibility,
    )
