/*
 * imss-renew-service: the CA.  Its key and certificate (DIR/ca.key,
 * DIR/ca.pem), the TLS server certificate it issues to the service
 * (DIR/tls.key, DIR/tls.pem), the employer subject, and the issuing of
 * employer certificates.
 */
#ifndef SVC_CA_H
#define SVC_CA_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define SVC_CA_KEY "ca.key"
#define SVC_CA_CERT "ca.pem"
#define SVC_TLS_KEY "tls.key"
#define SVC_TLS_CERT "tls.pem"

/* Serials: 16 random bytes, top bit clear; as text 32 upper-case hex. */
#define SVC_SERIAL_BYTES 16
#define SVC_SERIAL_LEN (2 * SVC_SERIAL_BYTES + 1)

struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

/* The employer's identity in a certificate (docs/protocol.md). */
struct subject {
	const char *razon_social;
	const char *registro_patronal;
	const char *rfc;
	const char *email;
};

/*
 * Make the CA and the TLS certificate in dir (which exists and is empty).
 * 0, or -1 with a message in err.
 */
int ca_create(const char *dir, char *err, size_t errsize);

/* Load the CA key and certificate from dir.  0, or -1 with a message. */
int ca_load(const char *dir, struct ca *ca, char *err, size_t errsize);
void ca_clear(struct ca *ca);

/* "rsa:2048", "rsa:3072", "rsa:4096", "ec:prime256v1", "ec:secp384r1". */
EVP_PKEY *ca_keygen(const char *spec);

/* The subject name O, OU, x500UniqueIdentifier, CN, emailAddress. */
X509_NAME *ca_subject_name(const struct subject *s);

/*
 * Issue a certificate for pub with subject s, valid [not_before,
 * not_after].  0, or -1.
 */
int ca_issue(const struct ca *ca, EVP_PKEY *pub, const struct subject *s, time_t not_before,
             time_t not_after, X509 **out);

/* The serial of a certificate as upper-case hex without leading zeros
 * stripped (SVC_SERIAL_LEN buffer, longer serials are refused).  0 or -1. */
int ca_serial_text(const X509 *x, char *buf, size_t size);

/* DER of a certificate (OPENSSL_free).  0 or -1. */
int ca_cert_der(X509 *x, unsigned char **der, size_t *len);

/* PEM of a certificate, malloc'd.  NULL on failure. */
char *ca_cert_pem(X509 *x);

/* The one-line RFC 2253 subject, malloc'd.  NULL on failure. */
char *ca_subject_text(const X509_NAME *name);

/* SHA-256 of the DER SubjectPublicKeyInfo.  0 or -1. */
int ca_spki_sha256(EVP_PKEY *pub, unsigned char out[32]);

/* notBefore/notAfter as time_t.  0 or -1. */
int ca_cert_times(const X509 *x, time_t *not_before, time_t *not_after);

/* 1 when x carries this CA's signature (issuer and signature checked). */
int ca_signed_by(const struct ca *ca, X509 *x);

#endif /* SVC_CA_H */
