/*
 * imss-renew-service: the terms letter as a PDF (see letter-pdf.h).  The
 * standard Helvetica fonts with WinAnsiEncoding; UTF-8 text is converted
 * to Windows-1252 with iconv (characters it lacks become '?').
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hpdf.h>

#include "letter-pdf.h"
#include "util.h"

#define MARGIN 60.0f
#define TEXT_MAX 4096

static const char *const terms[] = {
	"1. El patrón acepta que el Número Patronal de Identificación Electrónica (NPIE) "
	"y el certificado digital que lo acompaña lo identifican ante el Instituto en los "
	"trámites por medios electrónicos, y que los documentos firmados con ellos tienen "
	"los mismos efectos que los firmados de forma autógrafa.",
	"2. El patrón es responsable de la custodia de la llave privada y de los datos de "
	"acceso. La llave privada se genera y permanece en el dispositivo criptográfico que "
	"el patrón elija; no se entrega al Instituto ni a terceros.",
	"3. La vigencia del certificado es la que en él se indica. El patrón puede solicitar "
	"su renovación, aun vencido, firmando esta carta y la nueva solicitud con el "
	"certificado vigente o vencido.",
	"4. El patrón dará aviso de inmediato ante la pérdida o el uso indebido de la llave "
	"privada, para que el certificado sea revocado.",
	"Este documento lo genera el servicio de referencia del proyecto imss-renew; no es "
	"un documento del Instituto Mexicano del Seguro Social.",
};

static void
on_error(HPDF_STATUS error, HPDF_STATUS detail, void *user)
{
	int *failed = user;

	(void)error;
	(void)detail;
	*failed = 1;
}

/* UTF-8 to Windows-1252 into out (size bytes, NUL-terminated). */
static void
to_cp1252(const char *in, char *out, size_t size)
{
	iconv_t cd = iconv_open("WINDOWS-1252//TRANSLIT", "UTF-8");
	char *src = (char *)in, *dst = out;
	size_t inleft = strlen(in), outleft = size - 1;

	if (cd == (iconv_t)-1) {
		snprintf(out, size, "%s", in);
		return;
	}
	while (inleft > 0 && outleft > 0) {
		if (iconv(cd, &src, &inleft, &dst, &outleft) != (size_t)-1)
			break;
		if (errno == E2BIG)
			break;
		*dst++ = '?'; /* an invalid or untranslatable character */
		outleft--;
		src++;
		inleft--;
		while (inleft > 0 && ((unsigned char)*src & 0xC0) == 0x80) {
			src++;
			inleft--;
		}
	}
	*dst = '\0';
	iconv_close(cd);
}

/* Text in a box from top down to top - height; returns the next top. */
static float
paragraph(HPDF_Page page, HPDF_Font font, float size, float top, float height, const char *utf8,
          HPDF_TextAlignment align)
{
	char text[TEXT_MAX];
	float right = HPDF_Page_GetWidth(page) - MARGIN;

	to_cp1252(utf8, text, sizeof(text));
	HPDF_Page_BeginText(page);
	HPDF_Page_SetFontAndSize(page, font, size);
	HPDF_Page_TextRect(page, MARGIN, top, right, top - height, text, align, NULL);
	HPDF_Page_EndText(page);
	return top - height;
}

static float
data_block(HPDF_Page page, HPDF_Font font, float top, const struct letter_info *in)
{
	const struct employer *e = in->employer;
	char line[1024], date[SVC_TIME_LEN];
	const struct {
		const char *label;
		const char *value;
	} rows[] = {
		{ "Registro patronal", e->registro_patronal },
		{ "Razón social", e->razon_social },
		{ "RFC", e->rfc },
		{ "Domicilio", *e->address ? e->address : "(no registrado)" },
		{ "Correo electrónico", e->email },
		{ "Certificado con el que se firma (serie)", in->cert_serial },
		{ "Fecha de emisión de la carta", date },
	};
	size_t i;

	svc_time_text(in->date, date);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(line, sizeof(line), "%s: %s", rows[i].label, rows[i].value);
		top = paragraph(page, font, 10, top, 16, line, HPDF_TALIGN_LEFT);
	}
	return top;
}

static void
layout(HPDF_Doc pdf, const struct letter_info *in)
{
	HPDF_Page page = HPDF_AddPage(pdf);
	HPDF_Font bold = HPDF_GetFont(pdf, "Helvetica-Bold", "WinAnsiEncoding");
	HPDF_Font font = HPDF_GetFont(pdf, "Helvetica", "WinAnsiEncoding");
	float top;
	size_t i;

	HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_LETTER, HPDF_PAGE_PORTRAIT);
	top = HPDF_Page_GetHeight(page) - MARGIN;
	top = paragraph(page, bold, 14, top, 44, LETTER_TITLE, HPDF_TALIGN_CENTER);
	top = data_block(page, font, top - 10, in);
	for (i = 0; i < sizeof(terms) / sizeof(terms[0]); i++)
		top = paragraph(page, font, 10, top - 8, 58, terms[i], HPDF_TALIGN_JUSTIFY);
	paragraph(page, font, 10, top - 20, 40,
	          "Firma electrónica del patrón: firma CMS (PKCS#7) separada de este documento, "
	          "hecha con la llave del certificado indicado arriba.",
	          HPDF_TALIGN_LEFT);
}

int
letter_pdf_make(const struct letter_info *info, unsigned char **pdf, size_t *len)
{
	int failed = 0;
	HPDF_Doc doc = HPDF_New(on_error, &failed);
	char title[512];
	HPDF_UINT32 size = 0;
	unsigned char *buf = NULL;
	int rc = -1;

	if (!doc)
		goto out;
	HPDF_SetCompressionMode(doc, HPDF_COMP_ALL);
	to_cp1252(LETTER_TITLE, title, sizeof(title));
	HPDF_SetInfoAttr(doc, HPDF_INFO_TITLE, title);
	HPDF_SetInfoAttr(doc, HPDF_INFO_CREATOR, "imss-renew-service");
	layout(doc, info);
	if (failed || HPDF_SaveToStream(doc) != HPDF_OK)
		goto out;
	size = HPDF_GetStreamSize(doc);
	buf = size > 0 ? malloc(size) : NULL;
	if (!buf || HPDF_ReadFromStream(doc, buf, &size) != HPDF_OK || failed || size == 0)
		goto out;
	*pdf = buf;
	*len = size;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (doc)
		HPDF_Free(doc);
	return rc;
}
