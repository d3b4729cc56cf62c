/*
 * imss-renew-service: small helpers shared by every module: time, random
 * bytes, hex and base64, UTF-8 checks, digests, and files written
 * atomically.  None of them prints or exits.
 */
#ifndef SVC_UTIL_H
#define SVC_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* "2025-01-31T12:00:00Z" (21 bytes with the NUL). */
#define SVC_TIME_LEN 32
void svc_time_text(time_t t, char buf[SVC_TIME_LEN]);

/* Cryptographically random bytes.  0, or -1 when OpenSSL failed. */
int svc_random(unsigned char *buf, size_t len);

/* Hex of len bytes into out (2 * len + 1 bytes), lower or upper case. */
void svc_hex(const unsigned char *p, size_t len, char *out, int upper);

/* SHA-256 of data into out (32 bytes).  0 or -1. */
int svc_sha256(const void *data, size_t len, unsigned char out[32]);

/* Base64 without line breaks, malloc'd, NUL-terminated.  NULL on failure. */
char *svc_b64_encode(const unsigned char *p, size_t len);

/*
 * Decode base64 (line breaks tolerated) into a malloc'd buffer.  0, or -1
 * when the text is not base64 or is empty.
 */
int svc_b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen);

/* 1 when p[0..len) is well-formed UTF-8 without control characters. */
int svc_utf8_printable(const char *p, size_t len);

/* 1 when p[0..len) is well-formed UTF-8: no overlong forms, no
 * surrogates (U+D800-U+DFFF), nothing over U+10FFFF. */
int svc_utf8_valid(const char *p, size_t len);

/* The number of characters (code points) of well-formed UTF-8. */
size_t svc_utf8_chars(const char *p);

/* 1 when every character of s is in [0-9A-Fa-f] and len is in [min, max]. */
int svc_is_hex(const char *s, size_t min, size_t max);

/*
 * Write a file atomically: DIR/.NAME.tmp, fsync, rename, fsync DIR.  The
 * file gets mode (e.g. 0600).  0, or -1 with errno set.
 */
int svc_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* fsync the directory that holds path (or path itself when a directory). */
int svc_fsync_dir(const char *dir);

/* Read a whole file of at most max bytes into a malloc'd buffer (NUL
 * terminated, not counted in *len).  0, or -1 with errno set. */
int svc_read_file(const char *path, size_t max, unsigned char **out, size_t *len);

/* dir + "/" + name into buf.  0, or -1 when it does not fit. */
int svc_path(char *buf, size_t size, const char *dir, const char *name);

#endif /* SVC_UTIL_H */
