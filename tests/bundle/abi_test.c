/*
 * Calls every function of acme's firmware, linked statically from its bundle: seal and unseal
 * (and a tampered seal refused), sign, attest, the attestation key, license checks (valid,
 * wrong app, expired, altered), the firmware ID, the version and every error text. The
 * argument is the path of the license packed with the firmware.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bundle/firmware.h"

static int failures;

static void expect(const char *what, int got, int want) {
  if (got != want) {
    fprintf(stderr, "FAIL %s: code %d (%s), want %d (%s)\n", what, got, vse_strerror(got), want,
            vse_strerror(want));
    failures++;
  }
}

static void check(const char *what, int ok) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  }
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LICENSE\n", argv[0]);
    return 2;
  }
  static const uint8_t secret[] = "card PAN 4111";
  static const uint8_t aad[] = "slot 1";
  uint8_t sealed[256], opened[256], sig[VSE_SIGNATURE_MAX_LEN], sig2[VSE_SIGNATURE_MAX_LEN];
  uint8_t digest[32], challenge[32], pub[128], license[4096];
  char text[128];
  size_t n, m;

  n = sizeof sealed;
  expect("vse_seal", vse_seal(secret, sizeof secret, aad, sizeof aad, sealed, &n), VSE_OK);
  check("sealed length is plaintext plus VSE_SEAL_OVERHEAD", n == sizeof secret + VSE_SEAL_OVERHEAD);
  m = sizeof opened;
  expect("vse_unseal", vse_unseal(sealed, n, aad, sizeof aad, opened, &m), VSE_OK);
  check("unseal gives back the plaintext", m == sizeof secret && memcmp(opened, secret, m) == 0);
  sealed[n - 1] ^= 1;
  m = sizeof opened;
  expect("vse_unseal of altered data", vse_unseal(sealed, n, aad, sizeof aad, opened, &m), VSE_ERR_AUTH);
  m = 1;
  expect("vse_seal into a small buffer", vse_seal(secret, sizeof secret, aad, sizeof aad, opened, &m),
         VSE_ERR_BUFFER_TOO_SMALL);
  check("a small buffer reports the size needed", m == sizeof secret + VSE_SEAL_OVERHEAD);

  memset(digest, 7, sizeof digest);
  n = sizeof sig;
  expect("vse_sign_digest", vse_sign_digest(digest, sizeof digest, sig, &n), VSE_OK);
  check("signature is DER of at most VSE_SIGNATURE_MAX_LEN bytes", n >= 8 && n <= VSE_SIGNATURE_MAX_LEN && sig[0] == 0x30);
  n = sizeof sig;
  expect("vse_sign_digest of 31 bytes", vse_sign_digest(digest, 31, sig, &n), VSE_ERR_ARGUMENT);

  memset(challenge, 9, sizeof challenge);
  n = sizeof sig;
  expect("vse_attest", vse_attest(challenge, sizeof challenge, sig, &n), VSE_OK);
  challenge[0] ^= 1;
  m = sizeof sig2;
  expect("vse_attest of another challenge", vse_attest(challenge, sizeof challenge, sig2, &m), VSE_OK);
  check("answers to different challenges differ", n != m || memcmp(sig, sig2, n) != 0);
  n = sizeof sig;
  expect("vse_attest of a short challenge", vse_attest(challenge, 8, sig, &n), VSE_ERR_ARGUMENT);

  n = sizeof pub;
  expect("vse_attestation_public_key", vse_attestation_public_key(pub, &n), VSE_OK);
  check("attestation key is a P-256 SubjectPublicKeyInfo", n == 91 && pub[0] == 0x30);

  n = sizeof text;
  expect("vse_firmware_id", vse_firmware_id(text, &n), VSE_OK);
  check("firmware ID is 32 hex digits", n == 32 && strspn(text, "0123456789abcdef") >= 32);
  n = sizeof text;
  expect("vse_version", vse_version(text, &n), VSE_OK);
  check("version is not empty", n > 0);

  size_t len = read_file(argv[1], license, sizeof license);
  static const char app[] = "com.acme.wallet", other[] = "com.example.game";
  const int64_t in_2027 = 1800000000, in_2031 = 1924992000;
  expect("vse_license_check", vse_license_check(license, len, app, strlen(app), in_2027), VSE_OK);
  expect("vse_license_check, app not listed", vse_license_check(license, len, other, strlen(other), in_2027),
         VSE_ERR_LICENSE_APP);
  expect("vse_license_check, expired", vse_license_check(license, len, app, strlen(app), in_2031),
         VSE_ERR_LICENSE_EXPIRED);
  license[len / 2] ^= 1;
  expect("vse_license_check, altered", vse_license_check(license, len, app, strlen(app), in_2027),
         VSE_ERR_LICENSE_SIGNATURE);

  for (int code = VSE_OK; code <= VSE_ERR_LICENSE_EXPIRED; code++) {
    check("every code has its own text", strlen(vse_strerror(code)) > 0 &&
                                             (code == VSE_OK || strcmp(vse_strerror(code), vse_strerror(0)) != 0));
  }
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("ok: every ABI function of the static firmware from the bundle\n");
  return 0;
}
