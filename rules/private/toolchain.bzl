"""The HSM toolchain: which HSM the secrets action of every firmware target talks to."""

load(":providers.bzl", "VseHsmInfo")

_KINDS = {
    # The emulator is deterministic and in process: its actions may be sandboxed, cached and
    # executed remotely like any compile step.
    "emulator": struct(uri = "emulator:", execution_requirements = {}),
}

def _vse_hsm_toolchain_impl(ctx):
    kind = _KINDS.get(ctx.attr.kind)
    if kind == None:
        fail("vse_hsm_toolchain %s: kind %r is not known; use one of %s" % (
            ctx.label,
            ctx.attr.kind,
            ", ".join(sorted(_KINDS.keys())),
        ))
    return [platform_common.ToolchainInfo(hsm = VseHsmInfo(
        kind = ctx.attr.kind,
        uri = kind.uri,
        execution_requirements = kind.execution_requirements,
    ))]

vse_hsm_toolchain = rule(
    implementation = _vse_hsm_toolchain_impl,
    doc = "Declares an HSM for toolchains of type //hsm:toolchain_type.",
    attrs = {
        "kind": attr.string(
            mandatory = True,
            doc = "Which HSM: \"emulator\" (deterministic test keys, the default toolchain).",
        ),
    },
    provides = [platform_common.ToolchainInfo],
)
