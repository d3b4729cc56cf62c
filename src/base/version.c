#include "imss-renew/imss-renew.h"

const char *
imss_version(void)
{
	return IMSS_VERSION;
}
