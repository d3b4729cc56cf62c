/*
 * imss-renew-service: the protocol's error codes (see errors.h and
 * docs/protocol.md).
 */
#include "errors.h"

const char *
api_code_name(enum api_code code)
{
	switch (code) {
	case API_OK:
		return "OK";
	case API_JSON_MALFORMED:
		return "JSON_MALFORMED";
	case API_FIELD_MISSING:
		return "FIELD_MISSING";
	case API_FIELD_INVALID:
		return "FIELD_INVALID";
	case API_FIELD_UNKNOWN:
		return "FIELD_UNKNOWN";
	case API_CMS_MALFORMED:
		return "CMS_MALFORMED";
	case API_CMS_NOT_SIGNED:
		return "CMS_NOT_SIGNED";
	case API_SIGNER_CERT_MISSING:
		return "SIGNER_CERT_MISSING";
	case API_CSR_MALFORMED:
		return "CSR_MALFORMED";
	case API_LOGIN_FAILED:
		return "LOGIN_FAILED";
	case API_CHALLENGE_UNKNOWN:
		return "CHALLENGE_UNKNOWN";
	case API_CHALLENGE_FOREIGN:
		return "CHALLENGE_FOREIGN";
	case API_CHALLENGE_USED:
		return "CHALLENGE_USED";
	case API_CHALLENGE_EXPIRED:
		return "CHALLENGE_EXPIRED";
	case API_SESSION_MISSING:
		return "SESSION_MISSING";
	case API_SESSION_INVALID:
		return "SESSION_INVALID";
	case API_SESSION_EXPIRED:
		return "SESSION_EXPIRED";
	case API_FIELD_READ_ONLY:
		return "FIELD_READ_ONLY";
	case API_CERT_FOREIGN:
		return "CERT_FOREIGN";
	case API_CERT_UNKNOWN:
		return "CERT_UNKNOWN";
	case API_CERT_REVOKED:
		return "CERT_REVOKED";
	case API_CERT_NOT_YET_VALID:
		return "CERT_NOT_YET_VALID";
	case API_CERT_NOT_YOURS:
		return "CERT_NOT_YOURS";
	case API_SIGNER_MISMATCH:
		return "SIGNER_MISMATCH";
	case API_NOT_FOUND:
		return "NOT_FOUND";
	case API_REQUEST_NOT_FOUND:
		return "REQUEST_NOT_FOUND";
	case API_CERT_NOT_FOUND:
		return "CERT_NOT_FOUND";
	case API_METHOD_NOT_ALLOWED:
		return "METHOD_NOT_ALLOWED";
	case API_LETTER_NOT_ISSUED:
		return "LETTER_NOT_ISSUED";
	case API_LETTER_ALREADY_SIGNED:
		return "LETTER_ALREADY_SIGNED";
	case API_LETTER_NOT_SIGNED:
		return "LETTER_NOT_SIGNED";
	case API_REQUEST_PENDING:
		return "REQUEST_PENDING";
	case API_BODY_TOO_LARGE:
		return "BODY_TOO_LARGE";
	case API_CONTENT_TYPE:
		return "CONTENT_TYPE";
	case API_SIGNATURE_INVALID:
		return "SIGNATURE_INVALID";
	case API_CMS_DIGEST_WEAK:
		return "CMS_DIGEST_WEAK";
	case API_CSR_SUBJECT_MISMATCH:
		return "CSR_SUBJECT_MISMATCH";
	case API_KEY_TOO_WEAK:
		return "KEY_TOO_WEAK";
	case API_KEY_UNSUPPORTED:
		return "KEY_UNSUPPORTED";
	case API_KEY_REUSED:
		return "KEY_REUSED";
	case API_LOGIN_THROTTLED:
		return "LOGIN_THROTTLED";
	case API_INTERNAL:
		return "INTERNAL";
	case API_ALREADY_RENEWED:
		return "ALREADY_RENEWED";
	case API_CERT_EXPIRED_TOO_LONG:
		return "CERT_EXPIRED_TOO_LONG";
	case API_REQUEST_CANCELLED:
		return "REQUEST_CANCELLED";
	}
	return "INTERNAL";
}

unsigned
api_code_status(enum api_code code)
{
	switch (code) {
	case API_OK:
		return 200;
	case API_JSON_MALFORMED:
		return 400;
	case API_FIELD_MISSING:
		return 400;
	case API_FIELD_INVALID:
		return 400;
	case API_FIELD_UNKNOWN:
		return 400;
	case API_CMS_MALFORMED:
		return 400;
	case API_CMS_NOT_SIGNED:
		return 400;
	case API_SIGNER_CERT_MISSING:
		return 400;
	case API_CSR_MALFORMED:
		return 400;
	case API_LOGIN_FAILED:
		return 401;
	case API_CHALLENGE_UNKNOWN:
		return 401;
	case API_CHALLENGE_FOREIGN:
		return 401;
	case API_CHALLENGE_USED:
		return 401;
	case API_CHALLENGE_EXPIRED:
		return 401;
	case API_SESSION_MISSING:
		return 401;
	case API_SESSION_INVALID:
		return 401;
	case API_SESSION_EXPIRED:
		return 401;
	case API_FIELD_READ_ONLY:
		return 403;
	case API_CERT_FOREIGN:
		return 403;
	case API_CERT_UNKNOWN:
		return 403;
	case API_CERT_REVOKED:
		return 403;
	case API_CERT_NOT_YET_VALID:
		return 403;
	case API_CERT_NOT_YOURS:
		return 403;
	case API_SIGNER_MISMATCH:
		return 403;
	case API_NOT_FOUND:
		return 404;
	case API_REQUEST_NOT_FOUND:
		return 404;
	case API_CERT_NOT_FOUND:
		return 404;
	case API_METHOD_NOT_ALLOWED:
		return 405;
	case API_LETTER_NOT_ISSUED:
		return 409;
	case API_LETTER_ALREADY_SIGNED:
		return 409;
	case API_LETTER_NOT_SIGNED:
		return 409;
	case API_REQUEST_PENDING:
		return 409;
	case API_BODY_TOO_LARGE:
		return 413;
	case API_CONTENT_TYPE:
		return 415;
	case API_SIGNATURE_INVALID:
		return 422;
	case API_CMS_DIGEST_WEAK:
		return 422;
	case API_CSR_SUBJECT_MISMATCH:
		return 422;
	case API_KEY_TOO_WEAK:
		return 422;
	case API_KEY_UNSUPPORTED:
		return 422;
	case API_KEY_REUSED:
		return 422;
	case API_LOGIN_THROTTLED:
		return 429;
	case API_INTERNAL:
		return 500;
	case API_ALREADY_RENEWED:
		return 409;
	case API_CERT_EXPIRED_TOO_LONG:
		return 403;
	case API_REQUEST_CANCELLED:
		return 410;
	}
	return 500;
}

const char *
api_code_message_es(enum api_code code)
{
	switch (code) {
	case API_OK:
		return "Correcto.";
	case API_JSON_MALFORMED:
		return "El cuerpo no es un objeto JSON válido.";
	case API_FIELD_MISSING:
		return "Falta un campo obligatorio.";
	case API_FIELD_INVALID:
		return "Un campo tiene un tipo o formato inválido.";
	case API_FIELD_UNKNOWN:
		return "El mensaje contiene un campo desconocido.";
	case API_CMS_MALFORMED:
		return "La firma no es un CMS DER con la forma requerida.";
	case API_CMS_NOT_SIGNED:
		return "El CMS no está firmado.";
	case API_SIGNER_CERT_MISSING:
		return "La firma no incluye el certificado del firmante.";
	case API_CSR_MALFORMED:
		return "El contenido firmado no es una solicitud PKCS#10 DER.";
	case API_LOGIN_FAILED:
		return "Usuario o contraseña incorrectos.";
	case API_CHALLENGE_UNKNOWN:
		return "El contenido firmado no es un reto de este servicio.";
	case API_CHALLENGE_FOREIGN:
		return "El reto fue emitido para otro usuario.";
	case API_CHALLENGE_USED:
		return "El reto ya fue usado; pida uno nuevo.";
	case API_CHALLENGE_EXPIRED:
		return "El reto caducó; pida uno nuevo.";
	case API_SESSION_MISSING:
		return "Falta la sesión (encabezado Authorization: Bearer).";
	case API_SESSION_INVALID:
		return "La sesión no es válida; inicie sesión.";
	case API_SESSION_EXPIRED:
		return "La sesión terminó; inicie sesión de nuevo.";
	case API_FIELD_READ_ONLY:
		return "Solo el correo electrónico puede modificarse.";
	case API_CERT_FOREIGN:
		return "El certificado no fue emitido por esta autoridad.";
	case API_CERT_UNKNOWN:
		return "El certificado no está en los registros de esta autoridad.";
	case API_CERT_REVOKED:
		return "El certificado está revocado.";
	case API_CERT_NOT_YET_VALID:
		return "El certificado aún no es válido.";
	case API_CERT_NOT_YOURS:
		return "El certificado pertenece a otro patrón.";
	case API_SIGNER_MISMATCH:
		return "La firma no se hizo con el certificado de la sesión.";
	case API_NOT_FOUND:
		return "No existe ese recurso.";
	case API_REQUEST_NOT_FOUND:
		return "No existe esa solicitud de renovación.";
	case API_CERT_NOT_FOUND:
		return "No existe un certificado con ese número de serie.";
	case API_METHOD_NOT_ALLOWED:
		return "Método no permitido en este recurso.";
	case API_LETTER_NOT_ISSUED:
		return "Descargue primero la carta de términos y condiciones.";
	case API_LETTER_ALREADY_SIGNED:
		return "La carta ya fue firmada.";
	case API_LETTER_NOT_SIGNED:
		return "Firme primero la carta de términos y condiciones vigente.";
	case API_REQUEST_PENDING:
		return "Ya hay una solicitud de renovación en trámite.";
	case API_BODY_TOO_LARGE:
		return "El cuerpo de la petición es demasiado grande.";
	case API_CONTENT_TYPE:
		return "El cuerpo debe ser application/json.";
	case API_SIGNATURE_INVALID:
		return "La firma no es válida para su contenido.";
	case API_CMS_DIGEST_WEAK:
		return "El algoritmo de digestión de la firma no se acepta (use SHA-256).";
	case API_CSR_SUBJECT_MISMATCH:
		return "El sujeto de la solicitud no corresponde a este patrón.";
	case API_KEY_TOO_WEAK:
		return "La llave es demasiado débil (RSA de al menos 2048 bits).";
	case API_KEY_UNSUPPORTED:
		return "Tipo de llave no admitido (RSA, o EC P-256 o P-384).";
	case API_KEY_REUSED:
		return "La llave ya fue usada; genere una llave nueva.";
	case API_LOGIN_THROTTLED:
		return "Demasiados intentos fallidos; espere antes de intentar de nuevo.";
	case API_INTERNAL:
		return "Error interno del servicio; no se modificó nada.";
	case API_ALREADY_RENEWED:
		return "Este certificado ya fue renovado; inicie sesión con el certificado nuevo (con este solo puede recuperarlo).";
	case API_CERT_EXPIRED_TOO_LONG:
		return "El certificado venció hace demasiado tiempo para renovarlo en línea; acuda a la subdelegación del IMSS.";
	case API_REQUEST_CANCELLED:
		return "La solicitud fue cancelada porque se revocó el certificado que la firmó; inicie una renovación nueva.";
	}
	return "?";
}

const char *
api_code_message_en(enum api_code code)
{
	switch (code) {
	case API_OK:
		return "OK.";
	case API_JSON_MALFORMED:
		return "The body is not a valid JSON object.";
	case API_FIELD_MISSING:
		return "A required field is missing.";
	case API_FIELD_INVALID:
		return "A field has an invalid type or format.";
	case API_FIELD_UNKNOWN:
		return "The message contains an unknown field.";
	case API_CMS_MALFORMED:
		return "The signature is not DER CMS of the required form.";
	case API_CMS_NOT_SIGNED:
		return "The CMS is not signed.";
	case API_SIGNER_CERT_MISSING:
		return "The signature does not include the signer's certificate.";
	case API_CSR_MALFORMED:
		return "The signed content is not a DER PKCS#10 request.";
	case API_LOGIN_FAILED:
		return "Wrong user or password.";
	case API_CHALLENGE_UNKNOWN:
		return "The signed content is not a challenge of this service.";
	case API_CHALLENGE_FOREIGN:
		return "The challenge was issued to another user.";
	case API_CHALLENGE_USED:
		return "The challenge was used already; ask for a new one.";
	case API_CHALLENGE_EXPIRED:
		return "The challenge expired; ask for a new one.";
	case API_SESSION_MISSING:
		return "No session (Authorization: Bearer header).";
	case API_SESSION_INVALID:
		return "The session is not valid; log in.";
	case API_SESSION_EXPIRED:
		return "The session has ended; log in again.";
	case API_FIELD_READ_ONLY:
		return "Only the e-mail address can be changed.";
	case API_CERT_FOREIGN:
		return "The certificate was not issued by this authority.";
	case API_CERT_UNKNOWN:
		return "The certificate is not in this authority's records.";
	case API_CERT_REVOKED:
		return "The certificate is revoked.";
	case API_CERT_NOT_YET_VALID:
		return "The certificate is not valid yet.";
	case API_CERT_NOT_YOURS:
		return "The certificate belongs to another employer.";
	case API_SIGNER_MISMATCH:
		return "The signature was not made with the session's certificate.";
	case API_NOT_FOUND:
		return "No such resource.";
	case API_REQUEST_NOT_FOUND:
		return "No such renewal request.";
	case API_CERT_NOT_FOUND:
		return "No certificate with that serial number.";
	case API_METHOD_NOT_ALLOWED:
		return "Method not allowed on this resource.";
	case API_LETTER_NOT_ISSUED:
		return "Get the terms letter first.";
	case API_LETTER_ALREADY_SIGNED:
		return "The letter was signed already.";
	case API_LETTER_NOT_SIGNED:
		return "Sign the current terms letter first.";
	case API_REQUEST_PENDING:
		return "A renewal request is pending already.";
	case API_BODY_TOO_LARGE:
		return "The request body is too large.";
	case API_CONTENT_TYPE:
		return "The body must be application/json.";
	case API_SIGNATURE_INVALID:
		return "The signature does not verify against its content.";
	case API_CMS_DIGEST_WEAK:
		return "The signature's digest algorithm is not accepted (use SHA-256).";
	case API_CSR_SUBJECT_MISMATCH:
		return "The request's subject is not this employer's.";
	case API_KEY_TOO_WEAK:
		return "The key is too weak (RSA of at least 2048 bits).";
	case API_KEY_UNSUPPORTED:
		return "Key type not supported (RSA, or EC P-256 or P-384).";
	case API_KEY_REUSED:
		return "The key was used before; generate a new key.";
	case API_LOGIN_THROTTLED:
		return "Too many failed attempts; wait before trying again.";
	case API_INTERNAL:
		return "Internal service error; nothing was changed.";
	case API_ALREADY_RENEWED:
		return "This certificate was renewed already; log in with the new certificate (this one can only recover it).";
	case API_CERT_EXPIRED_TOO_LONG:
		return "The certificate expired too long ago to be renewed online; go to an IMSS office.";
	case API_REQUEST_CANCELLED:
		return "The request was cancelled because the certificate that signed it was revoked; start a new renewal.";
	}
	return "?";
}
