/*
 * imss-renew-service: checking the CMS SignedData a client sends (login
 * challenge, terms letter, renewal request).  Exactly one signer, SHA-2
 * digest, the signature verified with the signer's certificate; whether
 * that certificate may sign is the caller's business.
 */
#ifndef SVC_CMSV_H
#define SVC_CMSV_H

#include <stddef.h>

#include <openssl/x509.h>

#include "errors.h"

struct cms_signed {
	X509 *signer;           /* the signer's certificate (owned) */
	unsigned char *content; /* attached content, malloc'd; NULL if detached */
	size_t content_len;
};

/*
 * Check der as a SignedData.  expected NULL: the signer's certificate must
 * be in the CMS (else API_SIGNER_CERT_MISSING); otherwise the signer must
 * be expected (else API_SIGNER_MISMATCH).  detached NULL: the content must
 * be attached and is returned; otherwise it must be detached and is
 * detached[0..dlen).  API_OK or the error code.
 */
enum api_code cms_check(const unsigned char *der, size_t len, X509 *expected,
                        const unsigned char *detached, size_t dlen, struct cms_signed *out);
void cms_signed_clear(struct cms_signed *s);

/*
 * The renewal request a letter signature binds (docs/protocol.md): the
 * SHA-256 in its signed attribute IMSS_OID_RENEWAL_REQUEST_SHA256, one
 * OCTET STRING of 32 bytes.  1 with it in out, 0 when der has none, -1
 * when der is no CMS or the attribute has another form.
 */
int cms_bound_request(const unsigned char *der, size_t len, unsigned char out[32]);

#endif /* SVC_CMSV_H */
