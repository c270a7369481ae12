"""Public rules of vsefab: declare customers and build their firmware.

    load("//rules:defs.bzl", "vse_customer", "vse_firmware", "vse_license")

    vse_customer(name = "acme", config = "config.textproto")
    vse_firmware(name = "firmware", customer = ":acme")
    vse_license(name = "wallet", customer = ":acme", app_ids = ["com.acme.wallet"],
                features = ["seal"], not_after = "2027-12-31T23:59:59Z")

`bazel build //customers/acme:firmware` then asks the HSM of the resolved //hsm:toolchain_type
toolchain (the emulator unless a --config selects another) for acme's keyset, transforms it
into a Go package, and links the firmware as a shared library with its C header.
"""

load("//rules/private:customer.bzl", _vse_customer = "vse_customer")
load("//rules/private:firmware.bzl", _vse_firmware = "vse_firmware")
load("//rules/private:license.bzl", _vse_license = "vse_license")
load(
    "//rules/private:providers.bzl",
    _VseCustomerInfo = "VseCustomerInfo",
    _VseFirmwareInfo = "VseFirmwareInfo",
    _VseHsmInfo = "VseHsmInfo",
    _VseLicenseInfo = "VseLicenseInfo",
    _VseSecretsInfo = "VseSecretsInfo",
)
load("//rules/private:toolchain.bzl", _vse_hsm_toolchain = "vse_hsm_toolchain")

vse_customer = _vse_customer
vse_firmware = _vse_firmware
vse_license = _vse_license
vse_hsm_toolchain = _vse_hsm_toolchain

VseCustomerInfo = _VseCustomerInfo
VseFirmwareInfo = _VseFirmwareInfo
VseHsmInfo = _VseHsmInfo
VseLicenseInfo = _VseLicenseInfo
VseSecretsInfo = _VseSecretsInfo
