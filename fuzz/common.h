/*
 * What the fuzz targets share: the fixed key material of data/ (made once
 * by data/make.py), a fixed clock, a context, inputs as files.  A helper
 * that fails aborts: a target that cannot set itself up must not fuzz
 * nothing in silence.
 */
#ifndef IMSS_FUZZ_COMMON_H
#define IMSS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "imss-renew/imss-renew.h"

/* 2026-12-01T00:00:00Z: inside the validity of data/employer.pem. */
#define FUZZ_NOW 1796083200LL

/* The employer of data/employer.pem. */
#define FUZZ_RAZON "EMPRESA DEMO SA DE CV"
#define FUZZ_RP "Y1234567108"
#define FUZZ_RFC "EDE010101AB1"
#define FUZZ_EMAIL "rh@example.com"

/* Abort with a message when ok is 0 (a broken invariant is a crash). */
void fuzz_check(int ok, const char *what);

/* data/NAME: its bytes (malloc'd, NUL-terminated), a PEM certificate, a
 * PEM private key. */
unsigned char *fuzz_read_data(const char *name, size_t *len);
X509 *fuzz_cert(const char *name);
EVP_PKEY *fuzz_key(const char *name);

/* A context without modules. */
imss_ctx *fuzz_ctx(void);

/* A path whose file holds data[0..size), replaced on every call: a regular
 * file in fuzz_tmpdir() (memory where /dev/shm is writable). */
const char *fuzz_memfile(const uint8_t *data, size_t size);

/* A private directory for the process, removed at exit: under $TMPDIR,
 * else /dev/shm (memory), else /tmp. */
const char *fuzz_tmpdir(void);

#endif
