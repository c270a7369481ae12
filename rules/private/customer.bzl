"""vse_customer: declares a customer and its config."""

load(":providers.bzl", "VseCustomerInfo")

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"

def check_customer_name(name, what):
    """Fails unless name can name a customer (the same rule vsefab applies to configs).

    Args:
      name: the candidate customer name.
      what: the target and attribute that gave it, for the message.
    """
    ok = len(name) > 0 and len(name) <= 63 and name[0].isalpha() and name[0].islower()
    for c in name.elems():
        if c not in _NAME_CHARS:
            ok = False
    if not ok:
        fail("%s: customer name %r: use 1 to 63 characters from a-z, 0-9 and '_', starting with a letter" % (what, name))

def _vse_customer_impl(ctx):
    customer = ctx.attr.customer or ctx.label.name
    check_customer_name(customer, "vse_customer %s, attribute customer" % ctx.label)
    return [
        VseCustomerInfo(customer = customer, config = ctx.file.config),
        DefaultInfo(files = depset([ctx.file.config])),
    ]

vse_customer = rule(
    implementation = _vse_customer_impl,
    doc = """Declares a customer of the firmware factory.

The customer's name names its keys in the HSM (vsefab/<customer>/<keyset version>/<role>) and
must equal the `customer` field of its config, which vsefab gen checks.""",
    attrs = {
        "config": attr.label(
            mandatory = True,
            allow_single_file = [".textproto", ".txtpb"],
            doc = "The customer's config: a textproto of vsefab.v1.CustomerConfig (customer, " +
                  "keyset_version, firmware_version, display_name).",
        ),
        "customer": attr.string(
            doc = "The customer's name, if it differs from the target's name.",
        ),
    },
    provides = [VseCustomerInfo],
)
