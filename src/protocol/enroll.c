/*
 * The protocols a certificate can be asked for with, by name, and the
 * connector of each standard one.
 */
#include <string.h>

#include "enroll.h"
#include "imss-renew/base.h"

static const char *const protocol_names[] = {
	[IMSS_PROTOCOL_IDSE] = "idse",
	[IMSS_PROTOCOL_SCEP] = "scep",
	[IMSS_PROTOCOL_CMP] = "cmp",
};

#define N_PROTOCOLS (sizeof(protocol_names) / sizeof(protocol_names[0]))

imss_err
imss_protocol_parse(const char *name, imss_protocol *out)
{
	size_t i;

	*out = IMSS_PROTOCOL_IDSE;
	if (name == NULL)
		return IMSS_OK;
	for (i = 0; i < N_PROTOCOLS; i++)
		if (strcmp(name, protocol_names[i]) == 0) {
			*out = (imss_protocol)i;
			return IMSS_OK;
		}
	return IMSS_ERR_INVALID_ARG;
}

const char *
imss_protocol_name(imss_protocol p)
{
	return (size_t)p < N_PROTOCOLS ? protocol_names[p] : "?";
}

enroll_fn
enroll_connector(imss_protocol p)
{
	switch (p) {
	case IMSS_PROTOCOL_IDSE:
		return NULL;
	case IMSS_PROTOCOL_SCEP:
		return enroll_scep;
	case IMSS_PROTOCOL_CMP:
		return enroll_cmp;
	}
	return NULL;
}

void
enroll_result_clear(struct enroll_result *res)
{
	X509_free(res->cert);
	memset(res, 0, sizeof(*res));
}
