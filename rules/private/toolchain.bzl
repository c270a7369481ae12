"""The HSM toolchain: which HSM the secrets action of every firmware target talks to."""

load("@bazel_skylib//rules:common_settings.bzl", "BuildSettingInfo")
load(":providers.bzl", "VseHsmInfo")

_KINDS = {
    # The emulator is deterministic and in process: its actions may be sandboxed, cached and
    # executed remotely like any compile step.
    "emulator": struct(uri = "emulator:", execution_requirements = {}),
    # A real token behind a vsefab agent. The action only talks to the agent's socket, so it
    # keeps its sandbox; it must run here (the agent is local) and its outputs, derived from
    # real secrets, must never reach a remote or disk cache.
    "agent": struct(uri = None, execution_requirements = {
        "no-remote": "1",
        "no-cache": "1",
    }),
}

def _vse_hsm_toolchain_impl(ctx):
    kind = _KINDS.get(ctx.attr.kind)
    if kind == None:
        fail("vse_hsm_toolchain %s: kind %r is not known; use one of %s" % (
            ctx.label,
            ctx.attr.kind,
            ", ".join(sorted(_KINDS.keys())),
        ))
    socket = ""
    if ctx.attr.kind == "agent":
        socket = ctx.attr._agent_socket[BuildSettingInfo].value
        if not socket.startswith("/"):
            fail("--%s=%r: the agent socket must be an absolute path, the one given to vsefab agent --socket" % (
                ctx.attr._agent_socket.label,
                socket,
            ))
    return [platform_common.ToolchainInfo(hsm = VseHsmInfo(
        kind = ctx.attr.kind,
        uri = kind.uri,
        agent_socket = socket,
        execution_requirements = kind.execution_requirements,
    ))]

vse_hsm_toolchain = rule(
    implementation = _vse_hsm_toolchain_impl,
    doc = "Declares an HSM for toolchains of type //hsm:toolchain_type.",
    attrs = {
        "kind": attr.string(
            mandatory = True,
            doc = "Which HSM: \"emulator\" (deterministic test keys, the default toolchain), or " +
                  "\"agent\" (a token served by a running vsefab agent, whose socket is the " +
                  "build setting //hsm:agent_socket).",
        ),
        "_agent_socket": attr.label(default = Label("//hsm:agent_socket")),
    },
    provides = [platform_common.ToolchainInfo],
)
