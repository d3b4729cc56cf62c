/* Message translation for the library (gettext, domain IMSS_TEXTDOMAIN). */
#ifndef IMSS_I18N_H
#define IMSS_I18N_H

#include <libintl.h>

#define _(s) dgettext(IMSS_TEXTDOMAIN, s)
#define N_(s) (s)

#endif
