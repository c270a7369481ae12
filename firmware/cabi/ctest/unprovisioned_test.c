/*
 * Calls every function of the C ABI in the unprovisioned library, through the header cgo
 * generates, as an app does. It compiles only if the header declares every function with the
 * const-qualified parameters apps pass, and passes only if each function gives the documented
 * code: VSE_ERR_UNPROVISIONED for a well-formed call, VSE_ERR_ARGUMENT for a malformed one.
 */
#include <stdio.h>
#include <string.h>

#include "firmware/cabi/unprovisioned.h"

static int failures;

static void expect(const char *what, int got, int want, size_t out_len) {
  if (got != want) {
    fprintf(stderr, "FAIL %s: code %d (%s), want %d (%s)\n", what, got, vse_strerror(got), want,
            vse_strerror(want));
    failures++;
  }
  if (out_len != 0) {
    fprintf(stderr, "FAIL %s: *out_len = %zu after an error, want 0\n", what, out_len);
    failures++;
  }
}

int main(void) {
  static const uint8_t plaintext[] = "card data";
  static const uint8_t aad[] = "slot 1";
  static const uint8_t digest[32] = {1};
  uint8_t sealed[VSE_SEAL_OVERHEAD + 4] = {1}; /* version 1: well-formed to every keyless check */
  uint8_t out[256];
  char text[64];
  size_t n;
  int rc;

  n = sizeof out;
  rc = vse_seal(plaintext, sizeof plaintext, aad, sizeof aad, out, &n);
  expect("vse_seal", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof out;
  rc = vse_unseal(sealed, sizeof sealed, aad, sizeof aad, out, &n);
  expect("vse_unseal", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof out;
  rc = vse_sign_digest(digest, sizeof digest, out, &n);
  expect("vse_sign_digest", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof out;
  rc = vse_attest(digest, sizeof digest, out, &n);
  expect("vse_attest", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof out;
  rc = vse_attestation_public_key(out, &n);
  expect("vse_attestation_public_key", rc, VSE_ERR_UNPROVISIONED, n);

  rc = vse_license_check(digest, sizeof digest, "com.example.app", 15, 0);
  n = 0;
  expect("vse_license_check", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof text;
  rc = vse_firmware_id(text, &n);
  expect("vse_firmware_id", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof text;
  rc = vse_version(text, &n);
  expect("vse_version", rc, VSE_ERR_UNPROVISIONED, n);

  n = sizeof out;
  rc = vse_seal(NULL, 4, NULL, 0, out, &n);
  expect("vse_seal with NULL plaintext and a length", rc, VSE_ERR_ARGUMENT, n);

  n = 0;
  rc = vse_seal(plaintext, sizeof plaintext, NULL, 0, out, NULL);
  expect("vse_seal with NULL out_len", rc, VSE_ERR_ARGUMENT, n);

  n = sizeof out;
  rc = vse_sign_digest(digest, 20, out, &n);
  expect("vse_sign_digest of 20 bytes", rc, VSE_ERR_ARGUMENT, n);

  n = sizeof out;
  rc = vse_attest(digest, 15, out, &n);
  expect("vse_attest of a 15-byte challenge", rc, VSE_ERR_ARGUMENT, n);

  n = sizeof out;
  rc = vse_unseal(sealed, 5, NULL, 0, out, &n);
  expect("vse_unseal of a short input", rc, VSE_ERR_ARGUMENT, n);

  for (int code = VSE_OK; code <= VSE_ERR_LICENSE_EXPIRED + 1; code++) {
    const char *msg = vse_strerror(code);
    if (msg == NULL || msg[0] == '\0') {
      fprintf(stderr, "FAIL vse_strerror(%d) is empty\n", code);
      failures++;
    }
  }
  if (strcmp(vse_strerror(-1), vse_strerror(VSE_ERR_LICENSE_EXPIRED + 1)) != 0) {
    fprintf(stderr, "FAIL unknown codes have different messages\n");
    failures++;
  }

  if (failures == 0) printf("PASS\n");
  return failures == 0 ? 0 : 1;
}
