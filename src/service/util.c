/*
 * imss-renew-service: helpers (see util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "imss-renew/imss-renew.h"
#include "util.h"

void
svc_time_text(time_t t, char buf[SVC_TIME_LEN])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, SVC_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, SVC_TIME_LEN, "%s", "1970-01-01T00:00:00Z");
}

int
svc_random(unsigned char *buf, size_t len)
{
	return len <= INT_MAX && RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void
svc_hex(const unsigned char *p, size_t len, char *out, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

int
svc_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

char *
svc_b64_encode(const unsigned char *p, size_t len)
{
	char *out;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out && EVP_EncodeBlock((unsigned char *)out, p, (int)len) < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

int
svc_b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen)
{
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int n = 0, fin = 0;
	int rc = -1;

	if (len == 0 || len > (size_t)INT_MAX / 2)
		goto out;
	ctx = EVP_ENCODE_CTX_new();
	buf = malloc(len / 4 * 3 + 3);
	if (!ctx || !buf)
		goto out;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)text, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, buf + n, &fin) != 1 || n + fin <= 0)
		goto out;
	*outlen = (size_t)(n + fin);
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	EVP_ENCODE_CTX_free(ctx);
	return rc;
}

/*
 * The length of the UTF-8 sequence at p (at most left bytes) and its code
 * point; 0 when it is malformed: truncated, overlong, a surrogate or over
 * U+10FFFF.
 */
static size_t
utf8_seq(const unsigned char *p, size_t left, unsigned long *code_point)
{
	size_t n, i;
	unsigned long cp;

	if (p[0] < 0x80) {
		*code_point = p[0];
		return 1;
	}
	if ((p[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = p[0] & 0x1Fu;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = p[0] & 0x0Fu;
	} else if ((p[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = p[0] & 0x07u;
	} else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3Fu);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	*code_point = cp;
	return n;
}

/* 1 when s[0..len) is well-formed UTF-8, and without control characters
 * when printable. */
static int
utf8_check(const char *s, size_t len, int printable)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq(p + i, len - i, &cp);
		if (n == 0 || (printable && (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))))
			return 0;
		i += n;
	}
	return 1;
}

int
svc_utf8_printable(const char *s, size_t len)
{
	return utf8_check(s, len, 1);
}

int
svc_utf8_valid(const char *s, size_t len)
{
	return utf8_check(s, len, 0);
}

size_t
svc_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int
svc_is_hex(const char *s, size_t min, size_t max)
{
	size_t len = strlen(s);

	if (len < min || len > max)
		return 0;
	return strspn(s, "0123456789abcdefABCDEF") == len;
}

int
svc_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}

int
svc_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The library's atomic writer (temp file, fsync, rename, fsync of the
 * directory); mode less the umask. */
int
svc_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	imss_ctx *ctx = NULL;
	imss_err err;

	errno = 0;
	err = imss_ctx_new(NULL, &ctx);
	if (err == IMSS_OK)
		err = imss_write_file_atomic(ctx, path, data, len, (unsigned)mode, 1);
	imss_ctx_free(ctx);
	if (err == IMSS_OK)
		return 0;
	if (errno == 0)
		errno = err == IMSS_ERR_NOMEM ? ENOMEM : EIO;
	return -1;
}

int
svc_read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd, rc = -1, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		if (n + 1 >= cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 4096;
			if (cap > max + 2)
				cap = max + 2;
			p = realloc(buf, cap);
			if (!p)
				goto out;
			buf = p;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return rc;
}
