/*
 * imss-renew-service: the protocol's error codes (docs/protocol.md).  One
 * enum, append-only; the names, HTTP statuses and messages come from
 * switches, so that the compiler flags a code without them.
 */
#ifndef SVC_ERRORS_H
#define SVC_ERRORS_H

enum api_code {
	API_OK = 0,
	API_JSON_MALFORMED,
	API_FIELD_MISSING,
	API_FIELD_INVALID,
	API_FIELD_UNKNOWN,
	API_CMS_MALFORMED,
	API_CMS_NOT_SIGNED,
	API_SIGNER_CERT_MISSING,
	API_CSR_MALFORMED,
	API_LOGIN_FAILED,
	API_CHALLENGE_UNKNOWN,
	API_CHALLENGE_FOREIGN,
	API_CHALLENGE_USED,
	API_CHALLENGE_EXPIRED,
	API_SESSION_MISSING,
	API_SESSION_INVALID,
	API_SESSION_EXPIRED,
	API_FIELD_READ_ONLY,
	API_CERT_FOREIGN,
	API_CERT_UNKNOWN,
	API_CERT_REVOKED,
	API_CERT_NOT_YET_VALID,
	API_CERT_NOT_YOURS,
	API_SIGNER_MISMATCH,
	API_NOT_FOUND,
	API_REQUEST_NOT_FOUND,
	API_CERT_NOT_FOUND,
	API_METHOD_NOT_ALLOWED,
	API_LETTER_NOT_ISSUED,
	API_LETTER_ALREADY_SIGNED,
	API_LETTER_NOT_SIGNED,
	API_REQUEST_PENDING,
	API_BODY_TOO_LARGE,
	API_CONTENT_TYPE,
	API_SIGNATURE_INVALID,
	API_CMS_DIGEST_WEAK,
	API_CSR_SUBJECT_MISMATCH,
	API_KEY_TOO_WEAK,
	API_KEY_UNSUPPORTED,
	API_KEY_REUSED,
	API_LOGIN_THROTTLED,
	API_INTERNAL,
	API_ALREADY_RENEWED,
	API_CERT_EXPIRED_TOO_LONG,
	API_REQUEST_CANCELLED,
};

/* The stable code, e.g. "CHALLENGE_USED". */
const char *api_code_name(enum api_code code);
/* The HTTP status of the code. */
unsigned api_code_status(enum api_code code);
/* The message for people, in Spanish and in English. */
const char *api_code_message_es(enum api_code code);
const char *api_code_message_en(enum api_code code);

#endif /* SVC_ERRORS_H */
