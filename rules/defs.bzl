"""Public rules of vsefab: declare customers and build their firmware.

    load("//rules:defs.bzl", "vse_customer", "vse_firmware")

    vse_customer(name = "acme", config = "config.textproto")
    vse_firmware(name = "firmware", customer = ":acme")

`bazel build //customers/acme:firmware` then asks the HSM of the resolved //hsm:toolchain_type
toolchain (the emulator unless a --config selects another) for acme's keyset, transforms it
into a Go package, and links the firmware as a shared library with its C header.
"""

load("//rules/private:customer.bzl", _vse_customer = "vse_customer")
load("//rules/private:firmware.bzl", _vse_firmware = "vse_firmware")
load(
    "//rules/private:providers.bzl",
    _VseCustomerInfo = "VseCustomerInfo",
    _VseFirmwareInfo = "VseFirmwareInfo",
    _VseHsmInfo = "VseHsmInfo",
    _VseSecretsInfo = "VseSecretsInfo",
)
load("//rules/private:toolchain.bzl", _vse_hsm_toolchain = "vse_hsm_toolchain")

vse_customer = _vse_customer
vse_firmware = _vse_firmware
vse_hsm_toolchain = _vse_hsm_toolchain

VseCustomerInfo = _VseCustomerInfo
VseFirmwareInfo = _VseFirmwareInfo
VseHsmInfo = _VseHsmInfo
VseSecretsInfo = _VseSecretsInfo
