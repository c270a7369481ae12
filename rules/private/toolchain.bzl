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
    # The production HSM behind an agent serving a production window. As "agent", and the
    # action names the token it must get its secrets from, so a build cannot be served by a
    # test token's agent listening on the same socket.
    "production": struct(uri = None, execution_requirements = {
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
    production = None
    if ctx.attr.kind == "production":
        token = ctx.attr._prod_token[BuildSettingInfo].value
        module = ctx.attr._prod_module[BuildSettingInfo].value
        if not token or not module.startswith("/"):
            fail(("--config=prod needs the production token's label and its PKCS#11 module's " +
                  "absolute path: set --%s=LABEL and --%s=/path/to/module.so (got %r and %r)") % (
                ctx.attr._prod_token.label,
                ctx.attr._prod_module.label,
                token,
                module,
            ))
        production = struct(token = token, module = module)
    if ctx.attr.kind in ("agent", "production"):
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
        production = production,
    ))]

vse_hsm_toolchain = rule(
    implementation = _vse_hsm_toolchain_impl,
    doc = "Declares an HSM for toolchains of type //hsm:toolchain_type.",
    attrs = {
        "kind": attr.string(
            mandatory = True,
            doc = "Which HSM: \"emulator\" (deterministic test keys, the default toolchain), " +
                  "\"agent\" (a token served by a running vsefab agent, whose socket is the " +
                  "build setting //hsm:agent_socket), or \"production\" (an agent serving a " +
                  "production window on the token //hsm:prod_token of module //hsm:prod_module).",
        ),
        "_agent_socket": attr.label(default = Label("//hsm:agent_socket")),
        "_prod_module": attr.label(default = Label("//hsm:prod_module")),
        "_prod_token": attr.label(default = Label("//hsm:prod_token")),
    },
    provides = [platform_common.ToolchainInfo],
)

def add_hsm_args(args, hsm, label):
    """Adds the flags by which a vsefab action reaches the HSM of a resolved toolchain.

    Args:
      args: the action's Args.
      hsm: the toolchain's VseHsmInfo.
      label: the target asking, for the agent's audit trail.
    """
    if not hsm.agent_socket:
        args.add("--hsm", hsm.uri)
        return
    args.add("--agent", hsm.agent_socket)
    args.add("--target", str(label))
    if hsm.production:
        args.add("--production")
        args.add("--expect-token", hsm.production.token)
        args.add("--expect-module", hsm.production.module)
