"""vse_license: a license for one customer's firmware, issued by the HSM."""

load(":providers.bzl", "VseCustomerInfo", "VseLicenseInfo")
load(":toolchain.bzl", "add_hsm_args")

_HSM_TOOLCHAIN = str(Label("//hsm:toolchain_type"))

def _vse_license_impl(ctx):
    customer = ctx.attr.customer[VseCustomerInfo]
    hsm = ctx.toolchains[_HSM_TOOLCHAIN].hsm
    if not ctx.attr.app_ids:
        fail("%s: attribute app_ids is empty: list the app IDs the license admits, for example [\"com.acme.wallet\"]" % ctx.label)
    for s in ctx.attr.app_ids + ctx.attr.license_features:
        if not s or "," in s:
            fail("%s: app ID or feature %r must be non-empty and hold no comma" % (ctx.label, s))
    out = ctx.actions.declare_file(ctx.label.name + ".license")

    args = ctx.actions.args()
    args.add("license")
    args.add("--config", customer.config)
    args.add("--customer", customer.customer)
    args.add("--app-ids", ",".join(ctx.attr.app_ids))
    if ctx.attr.license_features:
        args.add("--features", ",".join(ctx.attr.license_features))
    args.add("--not-after", ctx.attr.not_after)
    add_hsm_args(args, hsm, ctx.label)
    args.add("--out", out)

    ctx.actions.run(
        executable = ctx.executable._vsefab,
        arguments = [args],
        inputs = [customer.config],
        outputs = [out],
        mnemonic = "VseLicense",
        progress_message = "Issuing license %s for %s with HSM %s" % (ctx.label, customer.customer, hsm.kind),
        execution_requirements = hsm.execution_requirements,
    )
    return [
        DefaultInfo(files = depset([out])),
        VseLicenseInfo(customer = customer.customer, file = out),
    ]

_vse_license = rule(
    implementation = _vse_license_impl,
    attrs = {
        "customer": attr.label(
            mandatory = True,
            providers = [VseCustomerInfo],
            doc = "The vse_customer whose firmware the license is for.",
        ),
        "app_ids": attr.string_list(
            mandatory = True,
            doc = "App IDs (bundle IDs, package names) the firmware may run in.",
        ),
        # "features" is a built-in attribute of every rule; the macro below maps it.
        "license_features": attr.string_list(doc = "Features the license grants."),
        "not_after": attr.string(
            mandatory = True,
            doc = "Last moment the license is valid, RFC 3339, for example \"2027-12-31T23:59:59Z\".",
        ),
        "_vsefab": attr.label(
            default = Label("//tools/vsefab"),
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = [_HSM_TOOLCHAIN],
    provides = [VseLicenseInfo],
)

def vse_license(name, customer, app_ids, not_after, features = [], **kwargs):
    """A license for a customer's firmware, issued by the HSM; writes <name>.license.

    The terms are encrypted under the customer's license key and the file is signed by the
    HSM's root signing key. The firmware checks it with vse_license_check.

    Args:
      name: name of the target.
      customer: label of the vse_customer whose firmware the license is for.
      app_ids: app IDs (bundle IDs, package names) the firmware may run in.
      not_after: last moment the license is valid, RFC 3339, for example "2027-12-31T23:59:59Z".
      features: features the license grants.
      **kwargs: visibility, tags and the other attributes every rule has.
    """
    _vse_license(
        name = name,
        customer = customer,
        app_ids = app_ids,
        not_after = not_after,
        license_features = features,
        **kwargs
    )
