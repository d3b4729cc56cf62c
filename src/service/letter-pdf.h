/*
 * imss-renew-service: the terms letter ("Carta de Términos y Condiciones
 * para la Obtención y Uso del NPIE y Certificado Digital") as a PDF made
 * with libharu for one employer.
 */
#ifndef SVC_LETTER_PDF_H
#define SVC_LETTER_PDF_H

#include <stddef.h>
#include <time.h>

#include "employers.h"

#define LETTER_TITLE                                                          \
	"Carta de Términos y Condiciones para la Obtención y Uso del NPIE " \
	"y Certificado Digital"

struct letter_info {
	const struct employer *employer; /* its data, as registered */
	const char *cert_serial;         /* the certificate that signs it */
	time_t date;
};

/* Make the PDF: *pdf malloc'd.  0 or -1. */
int letter_pdf_make(const struct letter_info *info, unsigned char **pdf, size_t *len);

#endif /* SVC_LETTER_PDF_H */
