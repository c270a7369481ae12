"""Providers of the vsefab rules."""

VseCustomerInfo = provider(
    doc = "A customer of the firmware factory, as declared by vse_customer.",
    fields = {
        "customer": "string: the customer's name; names its keys in the HSM",
        "config": "File: the customer's config, a textproto of vsefab.v1.CustomerConfig",
    },
)

VseHsmInfo = provider(
    doc = "The HSM a toolchain of type //hsm:toolchain_type gives the secrets action.",
    fields = {
        "kind": "string: \"emulator\", \"agent\" or \"production\"",
        "uri": "string: how vsefab gen names an in-process HSM (its --hsm flag); None for an agent",
        "agent_socket": "string: the agent's unix socket, for kinds \"agent\" and \"production\"; empty otherwise",
        "production": "struct(token, module) for kind \"production\": the token the agent must serve; None otherwise",
        "execution_requirements": "dict: execution requirements of actions that use this HSM",
    },
)

VseSecretsInfo = provider(
    doc = "The outputs of one secrets action: everything the red side handed the black side.",
    fields = {
        "srcs": "list of File: the generated keyset package",
        "escrow": "File: the keyset wrapped under the customer's KEK (RFC 5649)",
        "manifest": "File: the manifest, binary protobuf",
        "manifest_json": "File: the manifest, JSON",
        "manifest_sig": "File: the root signature over the binary manifest",
        "log": "File: the step log of vsefab gen",
    },
)

VseFirmwareInfo = provider(
    doc = "A customer's linked firmware and what describes it.",
    fields = {
        "customer": "string: the customer's name",
        "library": "File: the firmware as a shared library (c-shared)",
        "header": "File: the C header of the firmware's ABI",
        "manifest": "File: the manifest, binary protobuf",
        "manifest_json": "File: the manifest, JSON",
        "manifest_sig": "File: the root signature over the binary manifest",
        "escrow": "File: the escrow data file",
        "log": "File: the step log of the secrets action",
    },
)

VseLicenseInfo = provider(
    doc = "A license for a customer's firmware.",
    fields = {
        "customer": "string: the customer's name",
        "file": "File: the license",
    },
)
