/* Small string helpers of the library. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

/* A sane address: one '@' between a local part and a domain with a dot,
 * labels of letters, digits and '-', printable ASCII without the
 * characters an address cannot hold unquoted; at most 128 bytes (what
 * the service accepts). */
static int
domain_valid(const char *d)
{
	size_t label = 0, labels = 0;
	const char *p;

	for (p = d; ; p++) {
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

int
imss_email_is_valid(const char *address)
{
	const char *at = address ? strchr(address, '@') : NULL;
	size_t len = address ? strlen(address) : 0, i;

	if (at == NULL || at == address || len > 128 || strchr(at + 1, '@'))
		return 0;
	for (i = 0; i < len; i++)
		if (address[i] <= 0x20 || address[i] >= 0x7F ||
		    strchr("\"(),:;<>[\\]", address[i]))
			return 0;
	if (address[0] == '.' || at[-1] == '.' || strstr(address, ".."))
		return 0;
	return domain_valid(at + 1);
}
