/*
 * cdriver loads one firmware shared library through its C ABI, as an app would, and runs one
 * operation named on the command line. Binary data travels as hex on argv and stdout so a test
 * in another process can check every result. Exit status: 0 on VSE_OK, 10 + the VSE error code
 * otherwise, 2 on a usage or loading error.
 *
 *   cdriver LIB seal HEX_PLAINTEXT HEX_AAD
 *   cdriver LIB unseal HEX_SEALED HEX_AAD
 *   cdriver LIB sign HEX_DIGEST
 *   cdriver LIB attest HEX_CHALLENGE
 *   cdriver LIB license HEX_LICENSE APP_ID UNIX_TIME
 *   cdriver LIB pubkey | id | version
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*data_op)(const uint8_t *, size_t, const uint8_t *, size_t, uint8_t *, size_t *);
typedef int (*sign_op)(const uint8_t *, size_t, uint8_t *, size_t *);
typedef int (*bytes_op)(uint8_t *, size_t *);
typedef int (*text_op)(char *, size_t *);
typedef int (*license_op)(const uint8_t *, size_t, const char *, size_t, int64_t);
typedef const char *(*strerror_op)(int);

static void *sym(void *lib, const char *name) {
  void *p = dlsym(lib, name);
  if (p == NULL) {
    fprintf(stderr, "cdriver: the firmware lacks %s: %s\n", name, dlerror());
    exit(2);
  }
  return p;
}

static uint8_t *unhex(const char *s, size_t *n) {
  size_t len = strlen(s);
  if (len % 2 != 0) {
    fprintf(stderr, "cdriver: odd-length hex argument\n");
    exit(2);
  }
  uint8_t *out = malloc(len / 2 + 1);
  for (size_t i = 0; i < len / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) {
      fprintf(stderr, "cdriver: bad hex argument\n");
      exit(2);
    }
    out[i] = (uint8_t)v;
  }
  *n = len / 2;
  return out;
}

static void puthex(const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
  printf("\n");
}

static int finish(void *lib, int rc) {
  if (rc != 0) {
    strerror_op se = (strerror_op)sym(lib, "vse_strerror");
    fprintf(stderr, "cdriver: error %d: %s\n", rc, se(rc));
    return 10 + rc;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cdriver LIB seal|unseal|sign|attest|license|pubkey|id|version [HEX...]\n");
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "cdriver: %s\n", dlerror());
    return 2;
  }
  const char *op = argv[2];
  uint8_t out[8192];
  size_t out_len = sizeof(out);
  int rc;

  if ((strcmp(op, "seal") == 0 || strcmp(op, "unseal") == 0) && argc == 5) {
    size_t in_len, aad_len;
    uint8_t *in = unhex(argv[3], &in_len);
    uint8_t *aad = unhex(argv[4], &aad_len);
    data_op f = (data_op)sym(lib, strcmp(op, "seal") == 0 ? "vse_seal" : "vse_unseal");
    rc = f(in, in_len, aad, aad_len, out, &out_len);
    if (rc == 0) puthex(out, out_len);
  } else if (strcmp(op, "sign") == 0 && argc == 4) {
    size_t d_len;
    uint8_t *d = unhex(argv[3], &d_len);
    rc = ((sign_op)sym(lib, "vse_sign_digest"))(d, d_len, out, &out_len);
    if (rc == 0) puthex(out, out_len);
  } else if (strcmp(op, "attest") == 0 && argc == 4) {
    size_t c_len;
    uint8_t *c = unhex(argv[3], &c_len);
    rc = ((sign_op)sym(lib, "vse_attest"))(c, c_len, out, &out_len);
    if (rc == 0) puthex(out, out_len);
  } else if (strcmp(op, "license") == 0 && argc == 6) {
    size_t l_len;
    uint8_t *l = unhex(argv[3], &l_len);
    rc = ((license_op)sym(lib, "vse_license_check"))(l, l_len, argv[4], strlen(argv[4]),
                                                     (int64_t)strtoll(argv[5], NULL, 10));
    if (rc == 0) printf("licensed\n");
  } else if (strcmp(op, "pubkey") == 0 && argc == 3) {
    rc = ((bytes_op)sym(lib, "vse_attestation_public_key"))(out, &out_len);
    if (rc == 0) puthex(out, out_len);
  } else if ((strcmp(op, "id") == 0 || strcmp(op, "version") == 0) && argc == 3) {
    text_op f = (text_op)sym(lib, strcmp(op, "id") == 0 ? "vse_firmware_id" : "vse_version");
    rc = f((char *)out, &out_len);
    if (rc == 0) printf("%s\n", (char *)out);
  } else {
    fprintf(stderr, "cdriver: unknown operation or wrong arguments: %s\n", op);
    return 2;
  }
  return finish(lib, rc);
}
