/* Small string helpers of the library. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imss-renew/base.h"

void
str_free_each(char *const strings[], size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(strings[i]);
}

char *
str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* The length of the UTF-8 sequence at p (its code point in *cp), or 0
 * when it is not valid UTF-8 (overlong, surrogate, over U+10FFFF, cut). */
size_t
str_utf8_next(const unsigned char *p, size_t left, unsigned long *cp)
{
	unsigned long v;
	size_t n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, v = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, v = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, v = p[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* C0, DEL, C1, and the invisible characters that reorder or break what a
 * terminal shows (bidirectional overrides, line separators). */
int
str_is_control(unsigned long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

int
str_is_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i, n;
	unsigned long cp;

	for (i = 0; i < len; i += n)
		if ((n = str_utf8_next(p + i, len - i, &cp)) == 0 || str_is_control(cp))
			return 0;
	return 1;
}

char *
str_text_dup(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(len + 1), *w = out;
	size_t i, n;
	unsigned long cp;

	for (i = 0; out != NULL && i < len; i += n) {
		n = str_utf8_next(p + i, len - i, &cp);
		if (n == 0 || p[i] == '\0' || str_is_control(cp)) {
			*w++ = '?';
			n = n ? n : 1;
		} else {
			memcpy(w, p + i, n);
			w += n;
		}
	}
	if (out != NULL)
		*w = '\0';
	return out;
}

/* A sane address: one '@' between a local part and a domain with a dot,
 * labels of letters, digits and '-', printable ASCII without the
 * characters an address cannot hold unquoted; at most 128 bytes (what
 * the service accepts). */
static int
domain_valid(const char *d)
{
	size_t label = 0, labels = 0;
	const char *p;

	for (p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || p[-1] == '-')
				return 0;
			labels++;
			label = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return 0;
		label++;
	}
	return labels >= 2;
}

char *
imss_text_dup(const char *text)
{
	return str_text_dup(text, strlen(text));
}

int
imss_email_is_valid(const char *address)
{
	const char *at = address ? strchr(address, '@') : NULL;
	size_t len = address ? strlen(address) : 0, i;

	if (at == NULL || at == address || len > 128 || strchr(at + 1, '@'))
		return 0;
	for (i = 0; i < len; i++)
		if (address[i] <= 0x20 || address[i] >= 0x7F || strchr("\"(),:;<>[\\]", address[i]))
			return 0;
	if (address[0] == '.' || at[-1] == '.' || strstr(address, ".."))
		return 0;
	return domain_valid(at + 1);
}

char *
hex_encode(const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(len * 2 + 1);
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * len] = '\0';
	return s;
}
