"""What the C ABI sources need to link, besides a keyset package.

A firmware build compiles //firmware/cabi:srcs with deps = [<its keyset go_library>] +
CABI_DEPS. The keyset is left out because each build supplies its own: the unprovisioned
//firmware/keyset, or a customer's generated package with the same importpath.
"""

# Keep in step with the imports of the non-test .go files in this package, other than
# github.com/vsefab/vsefab/firmware/keyset. Labels are resolved here, so the list means the
# same wherever it is loaded from.
CABI_DEPS = [
    str(Label("//libs/vse")),
]
