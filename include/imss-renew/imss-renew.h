/*
 * imss-renew: renew the IMSS employer certificate with a key kept in a
 * PKCS#11 token.
 *
 * This is the one public header of libimss-renew.  The command-line tool
 * uses nothing else.  Library functions never print and never exit: they
 * return an imss_err, and imss_ctx_detail() says what exactly went wrong
 * and what to do next.  Warnings and progress reach the caller through the
 * log callback set with imss_ctx_set_log().
 */
#ifndef IMSS_RENEW_H
#define IMSS_RENEW_H

#include <stddef.h>
#include <openssl/safestack.h>
#include <openssl/types.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Errors.  0 is success; codes are append-only and never renumbered.
 */
typedef enum imss_err {
	IMSS_OK = 0,
	IMSS_ERR_NOMEM = 1,
	IMSS_ERR_INVALID_ARG = 2,       /* a caller's argument is malformed */
	IMSS_ERR_MODULE_LOAD = 3,       /* the PKCS#11 module cannot be loaded */
	IMSS_ERR_MODULE_INIT = 4,       /* the module refused to initialise */
	IMSS_ERR_URI = 5,               /* a PKCS#11 URI cannot be parsed */
	IMSS_ERR_NO_TOKEN = 6,          /* no token matches the URI */
	IMSS_ERR_AMBIGUOUS_TOKEN = 7,   /* more than one token matches */
	IMSS_ERR_NO_OBJECT = 8,         /* no key or certificate matches */
	IMSS_ERR_AMBIGUOUS_OBJECT = 9,  /* more than one object matches */
	IMSS_ERR_PIN_SOURCE = 10,       /* the PIN could not be read */
	IMSS_ERR_PIN_INCORRECT = 11,
	IMSS_ERR_PIN_LOCKED = 12,
	IMSS_ERR_PIN_FINAL_TRY = 13,    /* refused to risk the last try */
	IMSS_ERR_TOKEN_REMOVED = 14,
	IMSS_ERR_SESSION_LOST = 15,
	IMSS_ERR_DEVICE = 16,
	IMSS_ERR_READ_ONLY = 17,        /* token or object cannot be written */
	IMSS_ERR_UNSUPPORTED = 18,      /* key type, size or mechanism */
	IMSS_ERR_KEY_PROTECTION = 19,   /* key would not be sensitive/non-extractable */
	IMSS_ERR_PKCS11 = 20,           /* any other PKCS#11 failure */
	IMSS_ERR_CRYPTO = 21,           /* OpenSSL failed */
	IMSS_ERR_VERIFY = 22,           /* a signature or read-back did not check out */
	IMSS_ERR_MISMATCH = 23,         /* the object is not the one meant */
	IMSS_ERR_IO = 24,               /* reading or writing a file failed */
	IMSS_ERR_NOT_LOGGED_IN = 25,    /* the operation needs a login first */
	IMSS_ERR_PIN_CANCELLED = 26,    /* the user gave no PIN */
	IMSS_ERR_PASSWORD_INCORRECT = 27, /* a credential file's password */
	IMSS_ERR_FORMAT = 28,           /* a file is not in the format expected */
	IMSS_ERR_CERT_VALIDITY = 29,    /* a certificate is expired or not yet valid */
	IMSS_ERR_CHAIN = 30,            /* a certificate does not chain to the CA */
	IMSS_ERR_JOURNAL = 31,          /* the renewal journal is damaged */
	IMSS_ERR_BUSY = 32,             /* another renewal holds the token */
	IMSS_ERR_NETWORK = 33,          /* the service cannot be reached */
	IMSS_ERR_SERVICE = 34,          /* the service refused or failed */
	IMSS_ERR_TLS = 35,              /* the service's TLS certificate is not trusted */
	IMSS_ERR_PROTOCOL = 36,         /* the service's answer is malformed */
	IMSS_ERR_REFUSED_CERT = 37,     /* a certificate from the service fails its checks */
	IMSS_ERR_ABORTED = 38,          /* the user said no */
	IMSS_ERR_LABEL_IN_USE = 39,     /* another object on the token has the label */
	IMSS_ERR_EXISTS = 40,           /* a file that must not be replaced exists */
	IMSS_ERR_PENDING = 41,          /* the certificate is still pending: ask again later */
	IMSS_ERR_INTERRUPTED = 42,      /* the user stopped the run (Ctrl-C) */
	IMSS_ERR_NO_TERMINAL = 43,      /* a question and nobody to ask it (no --yes) */
} imss_err;

/* A short sentence for an error code, in the user's language. */
const char *imss_strerror(imss_err err);

/* The gettext domain of the library and the tool. */
#define IMSS_TEXTDOMAIN "imss-renew"

/*
 * Context: the loaded PKCS#11 modules and where messages go.
 */
typedef struct imss_ctx imss_ctx;

typedef enum imss_log_level {
	IMSS_LOG_DEBUG = 0,
	IMSS_LOG_INFO = 1,
	IMSS_LOG_WARN = 2,
} imss_log_level;

typedef void (*imss_log_fn)(void *user, imss_log_level level, const char *message);

/*
 * module_path NULL: the modules of the p11-kit registry.  Otherwise the one
 * module at that path.  A URI with module-path= adds that module on demand.
 * Modules are loaded when first needed, once per context.
 */
imss_err imss_ctx_new(const char *module_path, imss_ctx **out);
void imss_ctx_free(imss_ctx *ctx);
/*
 * The modules finalized and unloaded (with what they hold in the process,
 * such as SoftHSM's copy of every object of its tokens); every token of
 * the context must be closed.  The next token opened loads them again.
 */
void imss_ctx_unload_modules(imss_ctx *ctx);
void imss_ctx_set_log(imss_ctx *ctx, imss_log_fn fn, void *user);

/*
 * What went wrong in the last failing call on this context, in words: the
 * PKCS#11 function and its return value, the candidates of an ambiguous URI,
 * and what to do next.  Empty string when there is nothing to add.
 */
const char *imss_ctx_detail(const imss_ctx *ctx);
/*
 * own 1: from now on, the error detail and next step this thread writes
 * and reads through any context are its own (a worker thread sharing the
 * context and its tokens with others); own 0: the context's again, the
 * thread's freed.
 */
void imss_ctx_thread_detail(int own);

/*
 * What to do next after the last failing call, as a code the application
 * renders in its own words (the command-line tool names its options:
 * "Run again with --wait.").  The detail says the same in words without
 * naming any application's options.  IMSS_NEXT_NONE when there is nothing
 * particular to do.  Codes are only ever added, never renumbered.
 */
typedef enum imss_next {
	IMSS_NEXT_NONE = 0,
	IMSS_NEXT_ABANDON,          /* undo the unfinished renewal */
	IMSS_NEXT_GIVE_CA,          /* give the service's CA certificate */
	IMSS_NEXT_WAIT,             /* wait for the other renewal's lock */
	IMSS_NEXT_OTHER_LABEL,      /* choose another key label */
	IMSS_NEXT_LIST_OBJECTS,     /* look at the token's objects, logged in */
	IMSS_NEXT_FORCE,            /* do it anyway, knowingly */
	IMSS_NEXT_PASSWORD_SOURCE,  /* say where the file's password comes from */
	IMSS_NEXT_PIN_SOURCE,       /* check where the PIN comes from */
	IMSS_NEXT_CHECK_SERVER,     /* check the service's address and the user */
	IMSS_NEXT_RECOVER,          /* fetch the certificate by its serial */
	IMSS_NEXT_NAME_EMPLOYER,    /* name the employer (registro patronal) */
	IMSS_NEXT_OTHER_STATE_DIR,  /* give another state directory */
	IMSS_NEXT_OTHER_OUT_DIR,    /* give another output directory */
	IMSS_NEXT_UNLOCK_PIN,       /* unlock the user PIN with the SO PIN/PUK */
	IMSS_NEXT_FREE_TOKEN,       /* delete objects no longer needed */
	IMSS_NEXT_DEVICE_ACCESS,    /* let the user reach the reader (udev, pcscd) */
	IMSS_NEXT_OTHER_KEY_TYPE,   /* choose another key type */
	IMSS_NEXT_CHECK_MODULE,     /* check the PKCS#11 module used */
	IMSS_NEXT_REPORT,           /* run again showing progress, and report */
	IMSS_NEXT_CONTINUE,         /* run the same command again, or undo it */
	IMSS_NEXT_SAY_YES,          /* answer the questions beforehand, or undo it */
	IMSS_NEXT_USE_NEW_CERT,     /* renew from the newer certificate, or fetch it */
	IMSS_NEXT_OTHER_EMAIL,      /* give another e-mail address */
} imss_next;

imss_next imss_ctx_get_next(const imss_ctx *ctx);

/*
 * Tokens.
 */
typedef struct imss_token_info {
	char *uri;               /* RFC 7512, token and module attributes */
	char *label;
	char *manufacturer;
	char *model;
	char *serial;
	char *slot_description;
	char *module_name;       /* p11-kit name or file name of the module */
	unsigned long slot_id;
	unsigned long min_pin_len;
	unsigned long max_pin_len;
	unsigned long flags;     /* the token's CKF_* flags, as reported */
	int initialized;
	int login_required;
	int pinpad;              /* protected authentication path */
	int write_protected;
	int has_rng;
	int user_pin_initialized;
	int pin_count_low;
	int pin_final_try;
	int pin_locked;
	int pin_to_be_changed;
	/* Private memory in bytes, as reported; ULONG_MAX when the token
	 * does not say (CK_UNAVAILABLE_INFORMATION). */
	unsigned long free_private_memory;
	unsigned long total_private_memory;
	char *identity;          /* names the token's state files: the serial
	                            when it looks unique, else "id-" and a
	                            digest (docs/design.md, Per-token state) */
} imss_token_info;

/* Every token present, in slot order.  Free with imss_token_info_free(). */
imss_err imss_list_tokens(imss_ctx *ctx, imss_token_info **out, size_t *count);
void imss_token_info_free(imss_token_info *infos, size_t count);

/* An open session on one token. */
typedef struct imss_token imss_token;

/*
 * Open the one token that uri matches (NULL or "pkcs11:" match all, so
 * they succeed only when exactly one token is present).  read_write asks
 * for a read-write session.  More than one match: IMSS_ERR_AMBIGUOUS_TOKEN,
 * and the detail lists the candidates with their URIs.
 */
imss_err imss_token_open(imss_ctx *ctx, const char *uri, int read_write,
                         imss_token **out);
void imss_token_close(imss_token *tok);
/*
 * One thread at a time on the token's session (PKCS#11 sessions are not
 * thread-safe): a thread sharing the token with others acquires it around
 * everything it does with the token, its keys and the credentials on it,
 * and releases it as often as it acquired it (it may nest).  A signature
 * (imss_key_sign, imss_key_sign_digest, and so a token credential's CMS
 * signature) takes it itself, for the signature alone.
 */
void imss_token_acquire(imss_token *tok);
void imss_token_release(imss_token *tok);

/* Do the token attributes of uri (token=, serial=, model=, manufacturer=)
 * fit this token?  No PKCS#11 call is made. */
int imss_token_uri_matches(const imss_token *tok, const char *uri);
const imss_token_info *imss_token_get_info(const imss_token *tok);

/*
 * PIN sources: "tty" (default, no echo), "file:PATH", "fd:N", "env:NAME",
 * "cred:NAME" (the systemd credential $CREDENTIALS_DIRECTORY/NAME; NAME
 * has no '/' and is not "." or "..").
 */
typedef struct imss_pin_source imss_pin_source;

imss_err imss_pin_source_parse(const char *spec, imss_pin_source **out);
void imss_pin_source_free(imss_pin_source *src);

/* The source in words for a message ("env:NAME", a file's path), with why
 * a systemd credential cannot be read when it cannot; never the secret.
 * Valid until the next call. */
const char *imss_pin_source_describe(const imss_pin_source *src);

/*
 * A source spec for one employer: in a "file:" or "cred:" spec,
 * "{registro_patronal}" and "{user}" are replaced by those values (which
 * must be non-empty, without '/', not "." or ".."); other specs are
 * copied as they are.  IMSS_ERR_INVALID_ARG for another {placeholder}, an
 * unclosed '{' or an unfit value.  *out is freed with free().
 */
imss_err imss_secret_source_expand(const char *spec, const char *registro_patronal,
                                   const char *user, char **out);

/*
 * Read a secret from a source into buf (NUL-terminated, without the line
 * end).  Used for PINs and for file passwords.  Wipe buf with
 * imss_wipe() once used.
 */
imss_err imss_pin_source_read(imss_pin_source *src, const char *prompt,
                              char *buf, size_t size);

/* Wipe memory in a way the compiler cannot remove. */
void imss_wipe(void *p, size_t len);

/*
 * Core dumps off (while a secret is in memory) and back on.  The calls
 * nest: only the outermost enable restores the previous limit.
 */
void imss_secrets_begin(void);
void imss_secrets_end(void);

#define IMSS_LOGIN_FORCE 1u   /* log in even on the final PIN try */

/*
 * Log in as the user.  Exactly one C_Login per PIN read, never a retry.
 * A token with a PIN pad logs in without a prompt.  The token refuses to
 * log in (IMSS_ERR_PIN_LOCKED, IMSS_ERR_PIN_FINAL_TRY) when its flags say so,
 * unless IMSS_LOGIN_FORCE for the final try.  Already logged in is success.
 * The token keeps src (not owned) for keys that ask for the PIN again on
 * every signature (CKA_ALWAYS_AUTHENTICATE).
 */
imss_err imss_token_login(imss_token *tok, imss_pin_source *src, unsigned flags);

/*
 * Keys.
 */
typedef enum imss_key_kind {
	IMSS_KEY_RSA = 1,
	IMSS_KEY_EC = 2,
} imss_key_kind;

typedef struct imss_keyspec {
	imss_key_kind kind;
	unsigned bits;           /* RSA modulus bits, or EC field bits */
	const char *curve;       /* EC: "prime256v1" or "secp384r1" */
	/* Added later (zero: as before).  1: the private key may also
	 * decrypt (CKA_DECRYPT), for a first SCEP enrollment only (the CA
	 * encrypts its answer to the new key). */
	unsigned decrypt;
	/* Added later (zero: as before).  1: the public key is a session
	 * object (CKA_TOKEN false), gone when the session closes; the token
	 * keeps the private key only, and the certificate stored beside it
	 * (same CKA_ID) carries the public key.  A token that refuses a
	 * session public key gets a token one, as before.  The renewal uses
	 * it; a key whose certificate comes in a later process (keygen, csr)
	 * must not, since an EC private key does not carry its point. */
	unsigned public_in_session;
} imss_keyspec;

/* "rsa:2048" (default for NULL), "rsa:3072", "rsa:4096",
 * "ec:prime256v1" (also "ec:P-256"), "ec:secp384r1" (also "ec:P-384"). */
imss_err imss_keyspec_parse(const char *text, imss_keyspec *out);

/* A private key on a token, with its public half. */
typedef struct imss_key imss_key;

typedef struct imss_keygen_report {
	char *uri;               /* of the private key */
	char *id_hex;            /* CKA_ID, lower-case hex */
	int id_is_key_identifier;/* CKA_ID = RFC 5280 method 1 key identifier */
	char *refused;           /* attributes the token refused, or NULL */
	int local;               /* read back from the token: 1, 0 or -1 unknown */
	int never_extractable;
	int sensitive;
	int extractable;
	char *refused_reason;    /* the token's answers to the stricter
	                            templates (CKR_* names), or NULL */
} imss_keygen_report;

/*
 * Generate a key pair on the token: private key on token, private,
 * sensitive, not extractable, sign only.  A token that refuses that
 * template (any answer but one about the token, session or login) gets
 * relaxed ones, without CKA_EXTRACTABLE, then without the usage flags,
 * then without both; report->refused names what was left out and
 * refused_reason the token's answers.  Every answer refused:
 * IMSS_ERR_UNSUPPORTED.  The label must not be used by
 * any object on the token yet (IMSS_ERR_LABEL_IN_USE).  CKA_ID is the RFC
 * 5280 key identifier when the token lets it be set and no object has it
 * already, else the random ID the pair was generated with, checked to be
 * the pair's alone.  A key that
 * ends up extractable or not sensitive is destroyed (IMSS_ERR_KEY_PROTECTION).
 * report may be NULL; free it with imss_keygen_report_clear().
 */
imss_err imss_token_generate_keypair(imss_token *tok, const imss_keyspec *spec,
                                     const char *label, imss_key **out,
                                     imss_keygen_report *report);

void imss_keygen_report_clear(imss_keygen_report *report);

/* The one private key that uri's object attributes (id, object, type)
 * match on this token. */
imss_err imss_token_find_key(imss_token *tok, const char *uri, imss_key **out);
void imss_key_free(imss_key *key);

imss_key_kind imss_key_get_kind(const imss_key *key);
unsigned imss_key_get_bits(const imss_key *key);
const char *imss_key_get_uri(const imss_key *key);
const char *imss_key_get_label(const imss_key *key);
/* CKA_ID bytes. */
const unsigned char *imss_key_get_id(const imss_key *key, size_t *len);
/* The public key (owned by the key; up the reference to keep it). */
EVP_PKEY *imss_key_get_public(const imss_key *key);
/* The token the key lives on. */
imss_token *imss_key_get_token(const imss_key *key);

typedef enum imss_hash {
	IMSS_HASH_SHA256 = 1,
	IMSS_HASH_SHA384 = 2,
	IMSS_HASH_SHA512 = 3,
} imss_hash;

typedef enum imss_padding {
	IMSS_PAD_NONE = 0,       /* ECDSA */
	IMSS_PAD_PKCS1 = 1,      /* RSA PKCS#1 v1.5 */
	IMSS_PAD_PSS = 2,        /* RSA PSS, MGF1 with the same hash, salt = hash length */
} imss_padding;

/*
 * Sign data with a token key.  The token's hash-and-sign mechanism is
 * preferred; without one the host hashes and the token signs the digest
 * (CKM_RSA_PKCS with a DigestInfo, CKM_RSA_PKCS_PSS, CKM_ECDSA).  ECDSA
 * signatures come back DER-encoded (ECDSA-Sig-Value).  *sig is freed with
 * OPENSSL_free().
 */
imss_err imss_key_sign(imss_key *key, imss_hash hash, imss_padding pad,
                       const unsigned char *data, size_t len,
                       unsigned char **sig, size_t *siglen);

/* The same for a digest already computed (length must match hash). */
imss_err imss_key_sign_digest(imss_key *key, imss_hash hash, imss_padding pad,
                              const unsigned char *digest, size_t len,
                              unsigned char **sig, size_t *siglen);

/* The PKCS#11 mechanism the last signature used, e.g. "CKM_SHA256_RSA_PKCS". */
const char *imss_key_last_mechanism(const imss_key *key);

/*
 * The OpenSSL library context of token keys: the default provider and the
 * built-in token provider.  Use it for every OpenSSL operation that signs
 * with a token key (EVP_DigestSignInit_ex, CMS_sign_ex, SSL_CTX_new_ex).
 * Owned by ctx; NULL on failure (see imss_ctx_detail()).
 */
OSSL_LIB_CTX *imss_ctx_libctx(imss_ctx *ctx);

/*
 * The token key as an EVP_PKEY of imss_ctx_libctx(): its private
 * operations are C_Sign calls on the token session the key came from (no
 * second module load, no second login).  It works with X509_REQ_sign_ctx,
 * CMS_sign_ex and SSL_CTX_use_PrivateKey.  Free it with EVP_PKEY_free()
 * before the key and its token.
 */
imss_err imss_key_get_evp(imss_key *key, EVP_PKEY **out);

/*
 * Objects.
 */
typedef enum imss_object_class {
	IMSS_OBJ_PRIVATE_KEY = 1,
	IMSS_OBJ_PUBLIC_KEY = 2,
	IMSS_OBJ_CERTIFICATE = 3,
	IMSS_OBJ_OTHER = 4,
} imss_object_class;

typedef struct imss_object_info {
	char *uri;
	imss_object_class klass;
	imss_key_kind key_kind;  /* 0 when not an RSA or EC key */
	unsigned bits;           /* key size, 0 when unknown */
	char *id_hex;            /* "" when the object has no CKA_ID */
	char *label;
	char *subject;           /* certificates: one-line subject */
	int sensitive;           /* keys: 1, 0 or -1 (not applicable/unknown) */
	int extractable;
	int local;
	int never_extractable;
	int always_authenticate;
} imss_object_info;

/* Keys and certificates on the token (private ones only after login). */
imss_err imss_token_list_objects(imss_token *tok, imss_object_info **out,
                                 size_t *count);
void imss_object_info_free(imss_object_info *infos, size_t count);

/*
 * Store an X.509 certificate (DER) next to key: CKA_ID and label of the
 * key (label overrides), subject, issuer, serial.  Read back and compared
 * before success.  The certificate's public key must be the key's.  A
 * certificate already stored with the same value is not stored twice.
 * *uri_out (may be NULL) gets the certificate's URI; free().
 */
imss_err imss_token_store_certificate(imss_token *tok, const imss_key *key,
                                      const unsigned char *der, size_t len,
                                      const char *label, char **uri_out);

/*
 * Delete the one object uri names, only after checking that its public key
 * (key objects) or certificate public key equals expected.
 */
imss_err imss_token_delete_object(imss_token *tok, const char *uri,
                                  EVP_PKEY *expected);

/*
 * Certificates on a token.
 */
typedef struct imss_token_cert {
	char *uri;               /* the certificate object */
	X509 *cert;
	char *key_uri;           /* the private key with the same CKA_ID, or NULL */
	int key_known;           /* 0 when private keys were not visible (no login) */
} imss_token_cert;

/* Every X.509 certificate on the token, with its key where one has the
 * same CKA_ID (private keys are seen only after login). */
imss_err imss_token_list_certificates(imss_token *tok, imss_token_cert **out,
                                      size_t *count);
void imss_token_cert_free(imss_token_cert *certs, size_t count);

/* The one certificate uri names (id=, object=). *out is the caller's. */
imss_err imss_token_find_certificate(imss_token *tok, const char *uri, X509 **out);

/* The private key (needs login) whose public key is pub: by the RFC 5280
 * key identifier as CKA_ID first, then by comparing every key. */
imss_err imss_token_find_key_for(imss_token *tok, EVP_PKEY *pub, imss_key **out);

/*
 * Doctor: a read-only preflight.
 */
typedef enum imss_check_status {
	IMSS_CHECK_OK = 0,
	IMSS_CHECK_WARN = 1,
	IMSS_CHECK_FAIL = 2,
} imss_check_status;

/* What a check rests on: only IMSS_RESULT_OK and IMSS_RESULT_FAILED were
 * seen to work or not (read from the token, or tried by
 * imss_token_doctor_try); IMSS_RESULT_ADVERTISED is what the token says
 * it can do, not tried. */
typedef enum imss_check_result {
	IMSS_RESULT_OK = 0,         /* read or tried, and it works */
	IMSS_RESULT_ADVERTISED = 1, /* the token lists it; not tried */
	IMSS_RESULT_FAILED = 2,     /* read or tried, and it does not work */
	IMSS_RESULT_MISSING = 3,    /* the token does not offer it */
} imss_check_result;

typedef struct imss_check {
	char *name;              /* stable identifier, e.g. "keygen:rsa:2048" */
	imss_check_status status;
	char *text;              /* a sentence for the user */
	imss_check_result result;
	long ms;                 /* how long a tried check took; -1: not timed */
} imss_check;

typedef struct imss_doctor_report {
	imss_check *checks;
	size_t count;
	imss_check_status verdict; /* the worst status of the checks */
} imss_doctor_report;

imss_err imss_token_doctor(imss_token *tok, imss_doctor_report *out);

/*
 * Try what the read-only doctor can only read: on a token opened
 * read-write and logged in, make a throwaway key pair of each type (types,
 * n_types; none: every type renew accepts that the token lists) and a
 * throwaway certificate object, each under a random label and ID of its
 * own, check the objects found under them are exactly the ones made, and
 * delete them.  Each try is added to report ("try:keygen:rsa:2048",
 * "try:certificate") with its result and the time it took; a failed try
 * makes the verdict FAIL.  Nothing else on the token is touched.  Returns
 * an error only when the report cannot be made (memory).
 */
imss_err imss_token_doctor_try(imss_token *tok, const imss_keyspec *types, size_t n_types,
                               imss_doctor_report *report);
void imss_doctor_report_clear(imss_doctor_report *report);

/*
 * Credentials: a certificate and the key that signs for it, on a token or
 * in the files IMSS users hold today (.pfx, or .cer + .key).  Whoever
 * signs with one does not care where the key lives.
 */
typedef struct imss_credential imss_credential;

/*
 * The token key uri names, with the certificate stored next to it (same
 * CKA_ID) when there is one.  The token must be logged in and must outlive
 * the credential.
 */
imss_err imss_credential_from_token(imss_token *tok, const char *key_uri,
                                    imss_credential **out);

/*
 * A legacy credential: a PKCS#12 file (.pfx/.p12), or a certificate (.cer,
 * DER or PEM) with its PKCS#8 key (.key, encrypted DER or PEM; key_path
 * NULL means the .cer's name with .key).  The password comes from
 * password (prompted "Password for FILE: " on a terminal).  Wrong password,
 * wrong format and a key that is not the certificate's have their own
 * errors (IMSS_ERR_PASSWORD_INCORRECT, IMSS_ERR_FORMAT, IMSS_ERR_MISMATCH).
 */
imss_err imss_credential_from_files(imss_ctx *ctx, const char *path,
                                    const char *key_path,
                                    imss_pin_source *password,
                                    imss_credential **out);
/* The .key imss_credential_from_files() looks for beside a .cer when
 * key_path is NULL: "name.cer" -> "name.key".  Freed with free(); NULL
 * when out of memory. */
char *imss_credential_key_path(const char *cert_path);
void imss_credential_free(imss_credential *cred);

/* The certificate (NULL for a token key with none stored). */
X509 *imss_credential_get_certificate(const imss_credential *cred);
/* The signing key, usable in imss_ctx_libctx(). */
EVP_PKEY *imss_credential_get_key(const imss_credential *cred);
/* Where it lives: the key's token URI or the file's path. */
const char *imss_credential_get_location(const imss_credential *cred);
/* The token key, or NULL for a file credential. */
imss_key *imss_credential_get_token_key(const imss_credential *cred);

/*
 * Certificates in files: DER or PEM certificates (several in a PEM file),
 * or a PKCS#7 certs-only bundle (DER or PEM).  Every certificate found,
 * in file order; IMSS_ERR_FORMAT when there is none.
 */
imss_err imss_certs_load(imss_ctx *ctx, const char *path, STACK_OF(X509) **out);

/* What a user wants to know of a certificate. */
typedef struct imss_cert_info {
	char *subject;           /* RFC 2253, UTF-8 */
	char *issuer;
	char *serial;            /* hex */
	char *razon_social;      /* O, or NULL */
	char *registro_patronal; /* OU, or NULL */
	char *rfc;               /* x500UniqueIdentifier, or NULL */
	char *curp;              /* serialNumber, or NULL */
	char *email;             /* emailAddress, or NULL */
	char *fingerprint;       /* SHA-256, hex */
	long long not_before;    /* seconds since the epoch */
	long long not_after;
	long days_left;          /* whole days to expiry; negative once expired */
	int expired;
	int not_yet_valid;
} imss_cert_info;

imss_err imss_cert_describe(X509 *cert, imss_cert_info *out);
void imss_cert_info_clear(imss_cert_info *info);

/* Does cert chain to one of cas (signatures only; times not checked)? */
int imss_cert_chains_to(X509 *cert, STACK_OF(X509) *cas);

/*
 * The CA certificates a renewal given these options trusts for what it is
 * issued: ca_file, else the CA pinned for server in state_dir (NULL: the
 * default one).  *out NULL (and IMSS_OK) when there is neither, as before
 * a first renewal with that service; free with sk_X509_pop_free.
 */
imss_err imss_renew_trusted_cas(imss_ctx *ctx, const char *server, const char *ca_file,
                                const char *state_dir, STACK_OF(X509) **out);

/*
 * A subject from text: "/O=Empresa/OU=Y1234567890/CN=..." (the form of
 * openssl req -subj; '\' escapes a '/').
 */
imss_err imss_subject_parse(const char *text, X509_NAME **out);

/*
 * A PKCS#10 request signed by the token key with SHA-256: subject as
 * given, the key's public key.  Its signature is verified against the
 * token's public key before it is returned.
 */
imss_err imss_request_make(imss_key *key, const X509_NAME *subject, X509_REQ **out);

#define IMSS_CMS_ATTACHED 1u  /* content inside the SignedData */

/*
 * The signed attribute of the letter's signature that binds a renewal
 * request (docs/protocol.md, "One signature for the letter and the
 * request"): an OCTET STRING holding the SHA-256 of the request's DER.
 * An OID under 2.25 (ITU-T X.667: a UUID, no registration needed).
 */
#define IMSS_OID_RENEWAL_REQUEST_SHA256 "2.25.138834754353374288037282766923008537658"

/*
 * A CMS SignedData over data: SHA-256, signing time, the signer's
 * certificate included; detached unless IMSS_CMS_ATTACHED.  Checked with
 * CMS_verify before it is returned.  *der is freed with OPENSSL_free().
 */
imss_err imss_cms_sign(imss_ctx *ctx, const imss_credential *cred,
                       const unsigned char *data, size_t len, unsigned flags,
                       unsigned char **der, size_t *derlen);

/*
 * Import a certificate onto the token next to its key: the key with the
 * same public key must be there (else IMSS_ERR_NO_OBJECT, token unchanged);
 * with ca (not NULL) the chain must verify; a certificate not yet valid or
 * expired is refused unless IMSS_IMPORT_FORCE.  Stored once (a second
 * import is not a duplicate).  *uri_out (may be NULL) gets its URI; free().
 */
#define IMSS_IMPORT_FORCE 1u
imss_err imss_token_import_certificate(imss_token *tok, X509 *cert,
                                       STACK_OF(X509) *ca, const char *label,
                                       unsigned flags, char **uri_out);

/*
 * Write a file atomically: temporary file in the same directory, fsync,
 * rename (or, with replace 0, a link that fails when the file exists:
 * IMSS_ERR_EXISTS), fsync of the directory.  mode: permission bits of the
 * new file, less the umask.  Anything but a regular file is never
 * replaced.  Filesystems without hard links (FAT) are handled.
 */
imss_err imss_write_file_atomic(imss_ctx *ctx, const char *path, const void *data,
                                size_t len, unsigned mode, int replace);

/* The protection the token reports for a private key: 1, 0 or -1. */
imss_err imss_key_get_protection(imss_key *key, int *sensitive, int *extractable,
                                 int *local, int *never_extractable);

/*
 * The renewal: the seed's seven steps against a renewal service, with a
 * journal that lets any interrupted run continue where it stopped.
 */
typedef struct imss_renew_event {
	const char *step;        /* stable: "login", "company", "keygen", ... */
	int number;              /* the seed's step, 1 to 7 */
	const char *message;     /* a sentence in the user's language */
	const char *const *fields; /* name, value, name, value, ..., NULL */
} imss_renew_event;

typedef struct imss_renew_ui {
	void (*event)(void *user, const imss_renew_event *ev);
	/* 1 to go on, 0 to stop. */
	int (*confirm)(void *user, const char *question);
	/* A new e-mail (malloc'd), or NULL to keep the current one. */
	char *(*ask_email)(void *user, const char *current);
	void *user;
	/* The members below were added later; NULL when not wanted. */
	/* A wrong answer (what: IMSS_ASK_*) was given; attempt counts the
	 * tries so far (1, 2).  1 to ask again (only when the answer came
	 * from a terminal: a file, descriptor or variable is never read
	 * twice), 0 to fail.  At most IMSS_ASK_TRIES answers are asked. */
	int (*ask_again)(void *user, int what, int attempt);
	/* 1 once the user asked to stop (Ctrl-C): the renewal ends cleanly
	 * between steps with IMSS_ERR_INTERRUPTED; the journal says where. */
	int (*interrupted)(void *user);
} imss_renew_ui;

/* confirm returns this when nobody can be asked (no terminal). */
#define IMSS_CONFIRM_NO_TERMINAL (-1)
#define IMSS_ASK_PASSWORD 1      /* the service refused the IDSE password */
#define IMSS_ASK_EMAIL 2         /* the e-mail is not a valid address */
#define IMSS_ASK_TRIES 3

/* Is address a sane e-mail address (checked before it is sent)? */
int imss_email_is_valid(const char *address);

/* A copy of text safe to print on a terminal: each control character
 * (C0, DEL, C1, bidi overrides), NUL or invalid UTF-8 byte a '?'
 * (malloc'd; NULL when out of memory).  For what a token or a file says
 * (labels, manufacturer, model) before it is shown. */
char *imss_text_dup(const char *text);

#define IMSS_RENEW_YES 1u        /* ask nothing: --yes */
#define IMSS_RENEW_WAIT_LOCK 2u  /* wait for another renewal of the token */
/* After a successful renewal, retire the old token credential (asking
 * first unless IMSS_RENEW_YES): relabel its objects "LABEL (retired
 * DATE)", or with IMSS_RENEW_RETIRE_DELETE delete them after checking
 * their public key.  A file credential is left as it is. */
#define IMSS_RENEW_RETIRE_OLD 4u
#define IMSS_RENEW_RETIRE_DELETE 8u
/* imss_renew_abandon: undo a renewal whose request was sent already.  The
 * service may have issued its certificate, and the current certificate
 * renews only once: without this flag such a renewal is not undone. */
#define IMSS_RENEW_FORCE 16u

/* How the certificate is asked for: IMSS's IDSE service (login, company
 * data, terms letter), or a standard enrollment protocol against the
 * firm's own CA (no login, no letter; the request is protected by the
 * current credential).  http:// is allowed for SCEP and CMP (their
 * messages are protected), never for IDSE. */
typedef enum imss_protocol {
	IMSS_PROTOCOL_IDSE = 0,
	IMSS_PROTOCOL_SCEP,
	IMSS_PROTOCOL_CMP,
} imss_protocol;

/* "idse", "scep", "cmp" (NULL: idse) into *out; IMSS_ERR_INVALID_ARG
 * for anything else. */
imss_err imss_protocol_parse(const char *name, imss_protocol *out);
const char *imss_protocol_name(imss_protocol p);

typedef struct imss_renew_options {
	const char *server;          /* https://host:port */
	const char *user;            /* IDSE user */
	imss_pin_source *password;   /* IDSE password */
	imss_credential *current;    /* the credential being renewed */
	imss_token *token;           /* where the new key goes: logged in, read-write */
	const char *label;           /* of the new key and certificate; NULL: default */
	const char *email;           /* new e-mail, or NULL */
	imss_keyspec keyspec;        /* of the new key */
	const char *ca_file;         /* the service's CA (PEM or DER, a CA certificate), pinned
	                              * after a handshake with it; NULL: the pinned one, else
	                              * the one the service publishes, pinned on first use */
	const char *state_dir;       /* NULL: $XDG_STATE_HOME/imss-renew */
	const char *out_dir;         /* letter and certificate copies; NULL: "." */
	long wait_seconds;           /* for a delayed certificate; 0: 600 */
	unsigned flags;
	/* Added later (zero: as before). */
	/* An existing private key on the token (PKCS#11 URI) to certify
	 * instead of generating one: sensitive, never extractable, not the
	 * current credential's, with no certificate beside it.  The renewal
	 * never deletes it (--abandon only forgets it). */
	const char *new_key_uri;
	imss_protocol protocol;      /* IMSS_PROTOCOL_IDSE (0), _SCEP or _CMP */
	/* SCEP: the CA's challenge password, put in the request
	 * (challengePassword) when given; some CAs (micromdm's) ask for it on
	 * renewals too.  NULL: none. */
	imss_pin_source *challenge;
	/* A first enrollment (enroll --protocol scep): no current credential
	 * (current NULL); the subject of the new certificate, as
	 * "/CN=name/O=firm/C=MX".  NULL for a renewal. */
	const char *subject;
} imss_renew_options;

typedef struct imss_renew_result {
	char *serial;
	char *subject;
	long long not_before, not_after;
	char *key_uri;
	char *cert_uri;
	char *cert_path;             /* the copy on disk */
	char *letter_path;
} imss_renew_result;

imss_err imss_renew(imss_ctx *ctx, const imss_renew_options *opts,
                    const imss_renew_ui *ui, imss_renew_result *result);

/*
 * Undo an unfinished renewal on this token: delete the candidate key the
 * journal records (after checking its public key) and the journal.
 * registro_patronal may be NULL when only one renewal of the token is
 * unfinished.  *removed (free()) says what was removed.
 */
imss_err imss_renew_abandon(imss_ctx *ctx, const imss_renew_options *opts,
                            const char *registro_patronal, char **removed);

/* Fetch an issued certificate by serial, check it, and store it next to its
 * key on the token. */
imss_err imss_recover(imss_ctx *ctx, const imss_renew_options *opts,
                      const char *serial, const imss_renew_ui *ui,
                      imss_renew_result *result);

void imss_renew_result_clear(imss_renew_result *result);

/* Library version string. */
const char *imss_version(void);

#ifdef __cplusplus
}
#endif

#endif /* IMSS_RENEW_H */
