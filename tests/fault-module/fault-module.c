/*
 * fault-pkcs11: a fault-injecting PKCS#11 module for tests.
 *
 * C_GetFunctionList dlopen()s the real module named by FAULT_PKCS11_REAL,
 * copies its CK_FUNCTION_LIST and replaces the function pointers with
 * wrappers.  Every wrapper counts the call, may fail it on request
 * (FAULT_FAIL), runs the behaviour switched on by the environment and logs
 * the result (FAULT_LOG).  See README.md for the variables.
 *
 * Only C_GetFunctionList is exported (no PKCS#11 3.0 C_GetInterface), so
 * callers always use the 2.40 function list built here.
 */
#include <p11-kit/pkcs11.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAULT_MAX_RULES 64
#define FAULT_PATH_MAX 4096
#define FAULT_PIN_MAX 256

/*
 * The signatures several functions share, as (parameters), (arguments).
 */
/* A session alone */
#define FAULT_SIG_SESSION (CK_SESSION_HANDLE a), (a)
/* A session and an object */
#define FAULT_SIG_OBJECT (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b)
/* An object's attributes */
#define FAULT_SIG_ATTRIBUTES \
	(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d), (a, b, c, d)
/* Starting an operation with a mechanism and a key */
#define FAULT_SIG_INIT (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)
/* Data in */
#define FAULT_SIG_UPDATE (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c)
/* Data out, with its length */
#define FAULT_SIG_FINAL (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c)
/* Data in, data out with its length */
#define FAULT_SIG_CRYPT                                                                  \
	(CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	        (a, b, c, d, e)

/*
 * Every function of the 2.40 list except C_Initialize, C_Sign and
 * C_GetFunctionList, which are written by hand: X(name, parameters,
 * arguments), or X(name, FAULT_SIG_...) for a shared signature.
 */
#define FAULT_FUNCTIONS(X)                                                                          \
	X(C_Finalize, (CK_VOID_PTR a), (a))                                                         \
	X(C_GetInfo, (CK_INFO_PTR a), (a))                                                          \
	X(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c))                 \
	X(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))                                \
	X(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))                              \
	X(C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c))   \
	X(C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c),         \
	  (a, b, c))                                                                                \
	X(C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d),            \
	  (a, b, c, d))                                                                             \
	X(C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c), (a, b, c))               \
	X(C_SetPIN,                                                                                 \
	  (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, CK_ULONG e),      \
	  (a, b, c, d, e))                                                                          \
	X(C_OpenSession,                                                                            \
	  (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e),          \
	  (a, b, c, d, e))                                                                          \
	X(C_CloseSession, FAULT_SIG_SESSION)                                                        \
	X(C_CloseAllSessions, (CK_SLOT_ID a), (a))                                                  \
	X(C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b))                   \
	X(C_GetOperationState, FAULT_SIG_FINAL)                                                     \
	X(C_SetOperationState,                                                                      \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e), \
	  (a, b, c, d, e))                                                                          \
	X(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d),            \
	  (a, b, c, d))                                                                             \
	X(C_Logout, FAULT_SIG_SESSION)                                                              \
	X(C_CreateObject,                                                                           \
	  (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d),            \
	  (a, b, c, d))                                                                             \
	X(C_CopyObject,                                                                             \
	  (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,                 \
	   CK_OBJECT_HANDLE_PTR e),                                                                 \
	  (a, b, c, d, e))                                                                          \
	X(C_DestroyObject, FAULT_SIG_OBJECT)                                                        \
	X(C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c), (a, b, c))    \
	X(C_GetAttributeValue, FAULT_SIG_ATTRIBUTES)                                                \
	X(C_SetAttributeValue, FAULT_SIG_ATTRIBUTES)                                                \
	X(C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))      \
	X(C_FindObjects,                                                                            \
	  (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d), (a, b, c, d))  \
	X(C_FindObjectsFinal, FAULT_SIG_SESSION)                                                    \
	X(C_EncryptInit, FAULT_SIG_INIT)                                                            \
	X(C_Encrypt, FAULT_SIG_CRYPT)                                                               \
	X(C_EncryptUpdate, FAULT_SIG_CRYPT)                                                         \
	X(C_EncryptFinal, FAULT_SIG_FINAL)                                                          \
	X(C_DecryptInit, FAULT_SIG_INIT)                                                            \
	X(C_Decrypt, FAULT_SIG_CRYPT)                                                               \
	X(C_DecryptUpdate, FAULT_SIG_CRYPT)                                                         \
	X(C_DecryptFinal, FAULT_SIG_FINAL)                                                          \
	X(C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b), (a, b))                          \
	X(C_Digest, FAULT_SIG_CRYPT)                                                                \
	X(C_DigestUpdate, FAULT_SIG_UPDATE)                                                         \
	X(C_DigestKey, FAULT_SIG_OBJECT)                                                            \
	X(C_DigestFinal, FAULT_SIG_FINAL)                                                           \
	X(C_SignInit, FAULT_SIG_INIT)                                                               \
	X(C_SignUpdate, FAULT_SIG_UPDATE)                                                           \
	X(C_SignFinal, FAULT_SIG_FINAL)                                                             \
	X(C_SignRecoverInit, FAULT_SIG_INIT)                                                        \
	X(C_SignRecover, FAULT_SIG_CRYPT)                                                           \
	X(C_VerifyInit, FAULT_SIG_INIT)                                                             \
	X(C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e),    \
	  (a, b, c, d, e))                                                                          \
	X(C_VerifyUpdate, FAULT_SIG_UPDATE)                                                         \
	X(C_VerifyFinal, FAULT_SIG_UPDATE)                                                          \
	X(C_VerifyRecoverInit, FAULT_SIG_INIT)                                                      \
	X(C_VerifyRecover, FAULT_SIG_CRYPT)                                                         \
	X(C_DigestEncryptUpdate, FAULT_SIG_CRYPT)                                                   \
	X(C_DecryptDigestUpdate, FAULT_SIG_CRYPT)                                                   \
	X(C_SignEncryptUpdate, FAULT_SIG_CRYPT)                                                     \
	X(C_DecryptVerifyUpdate, FAULT_SIG_CRYPT)                                                   \
	X(C_GenerateKey,                                                                            \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,                 \
	   CK_OBJECT_HANDLE_PTR e),                                                                 \
	  (a, b, c, d, e))                                                                          \
	X(C_GenerateKeyPair,                                                                        \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,                 \
	   CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h),         \
	  (a, b, c, d, e, f, g, h))                                                                 \
	X(C_WrapKey,                                                                                \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d,         \
	   CK_BYTE_PTR e, CK_ULONG_PTR f),                                                          \
	  (a, b, c, d, e, f))                                                                       \
	X(C_UnwrapKey,                                                                              \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d, CK_ULONG e,  \
	   CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h),                                 \
	  (a, b, c, d, e, f, g, h))                                                                 \
	X(C_DeriveKey,                                                                              \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d,         \
	   CK_ULONG e, CK_OBJECT_HANDLE_PTR f),                                                     \
	  (a, b, c, d, e, f))                                                                       \
	X(C_SeedRandom, FAULT_SIG_UPDATE)                                                           \
	X(C_GenerateRandom, FAULT_SIG_UPDATE)                                                       \
	X(C_GetFunctionStatus, FAULT_SIG_SESSION)                                                   \
	X(C_CancelFunction, FAULT_SIG_SESSION)                                                      \
	X(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c), (a, b, c))

/* Indices of the functions FAULT_FAIL can name. */
enum fault_fn {
	FAULT_FN_C_Initialize,
	FAULT_FN_C_Sign,
#define FAULT_ENUM(name, ...) FAULT_FN_##name,
	FAULT_FUNCTIONS(FAULT_ENUM)
#undef FAULT_ENUM
	        FAULT_FN_COUNT
};

static const char *const fault_fn_names[FAULT_FN_COUNT] = { "C_Initialize", "C_Sign",
#define FAULT_NAME(name, ...) #name,
	                                                    FAULT_FUNCTIONS(FAULT_NAME)
#undef FAULT_NAME
};

/* One FAULT_FAIL entry: fail call number nth (and later ones if and_later). */
struct fault_rule {
	enum fault_fn fn;
	unsigned long nth;
	bool and_later;
	bool after; /* ":after": the real call runs, then rv replaces its answer */
	CK_RV rv;
};

struct fault_config {
	bool raw_only;
	bool no_slots; /* FAULT_NO_SLOTS: no reader, no slot */
	bool refuse_extractable;
	bool refuse_sign_only; /* FAULT_REFUSE_SIGN_ONLY */
	CK_RV sign_only_rv;
	bool refuse_session_public; /* FAULT_REFUSE_SESSION_PUBLIC */
	CK_RV session_public_rv;
	bool refuse_set_id;
	bool find_twice; /* FAULT_FIND_TWICE */
	bool always_auth;
	CK_FLAGS token_flags;
	bool write_protected;  /* FAULT_TOKEN_FLAGS=write_protected */
	bool have_free_memory; /* FAULT_FREE_PRIVATE_MEMORY */
	CK_ULONG free_memory;
	size_t n_hidden; /* FAULT_HIDE_MECHANISMS */
	CK_MECHANISM_TYPE hidden[16];
	int n_hidden_attrs; /* FAULT_HIDE_ATTRS */
	CK_ATTRIBUTE_TYPE hidden_attrs[4];
	bool have_serial; /* FAULT_TOKEN_SERIAL */
	char serial[17];
	bool pinpad;
	bool have_pinpad_pin;
	char pinpad_pin[FAULT_PIN_MAX];
	char log_path[FAULT_PATH_MAX];
	bool log_begin; /* FAULT_LOG_BEGIN */
	size_t n_rules;
	struct fault_rule rules[FAULT_MAX_RULES];
	bool have_kill; /* FAULT_KILL */
	enum fault_fn kill_fn;
	unsigned long kill_nth;
	bool kill_after;
	int kill_signal;   /* FAULT_KILL_SIGNAL, else SIGKILL */
	bool have_latency; /* FAULT_LATENCY */
	long long latency_default_us;
	long long latency_us[FAULT_FN_COUNT]; /* -1: the default */
};

/* Everything below is protected by fault_lock. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault_config fault_cfg;
static unsigned long fault_calls[FAULT_FN_COUNT];
/* A FAULT_FAIL ":after" rule hit by this thread's call under way. */
static __thread bool fault_after_hit;
static __thread CK_RV fault_after_rv;
static void *fault_real_handle;

/* Set once under fault_lock by fault_load_real(), read-only afterwards. */
static CK_FUNCTION_LIST_PTR fault_real; /* the real module's list */
static CK_FUNCTION_LIST fault_impl;     /* real list + behaviours */
static CK_FUNCTION_LIST fault_list;     /* what callers get */

/* ------------------------------------------------------------------------ */
/* Configuration from the environment                                       */

static bool
fault_env_flag(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static bool
fault_copy_env(const char *name, char *buf, size_t size)
{
	const char *v = getenv(name);
	if (v == NULL || strlen(v) >= size) {
		buf[0] = '\0';
		return false;
	}
	memcpy(buf, v, strlen(v) + 1);
	return true;
}

#define FAULT_RV(x)   \
	{             \
#x, x \
	}
static const struct {
	const char *name;
	CK_RV rv;
} fault_rv_names[] = {
	FAULT_RV(CKR_OK),
	FAULT_RV(CKR_HOST_MEMORY),
	FAULT_RV(CKR_SLOT_ID_INVALID),
	FAULT_RV(CKR_GENERAL_ERROR),
	FAULT_RV(CKR_FUNCTION_FAILED),
	FAULT_RV(CKR_ARGUMENTS_BAD),
	FAULT_RV(CKR_ATTRIBUTE_READ_ONLY),
	FAULT_RV(CKR_ATTRIBUTE_TYPE_INVALID),
	FAULT_RV(CKR_DEVICE_ERROR),
	FAULT_RV(CKR_DEVICE_MEMORY),
	FAULT_RV(CKR_DEVICE_REMOVED),
	FAULT_RV(CKR_FUNCTION_CANCELED),
	FAULT_RV(CKR_FUNCTION_NOT_SUPPORTED),
	FAULT_RV(CKR_KEY_HANDLE_INVALID),
	FAULT_RV(CKR_MECHANISM_INVALID),
	FAULT_RV(CKR_OBJECT_HANDLE_INVALID),
	FAULT_RV(CKR_OPERATION_ACTIVE),
	FAULT_RV(CKR_OPERATION_NOT_INITIALIZED),
	FAULT_RV(CKR_PIN_INCORRECT),
	FAULT_RV(CKR_PIN_EXPIRED),
	FAULT_RV(CKR_PIN_LOCKED),
	FAULT_RV(CKR_SESSION_CLOSED),
	FAULT_RV(CKR_SESSION_COUNT),
	FAULT_RV(CKR_SESSION_HANDLE_INVALID),
	FAULT_RV(CKR_TEMPLATE_INCOMPLETE),
	FAULT_RV(CKR_TEMPLATE_INCONSISTENT),
	FAULT_RV(CKR_TOKEN_NOT_PRESENT),
	FAULT_RV(CKR_TOKEN_NOT_RECOGNIZED),
	FAULT_RV(CKR_TOKEN_WRITE_PROTECTED),
	FAULT_RV(CKR_USER_ALREADY_LOGGED_IN),
	FAULT_RV(CKR_USER_NOT_LOGGED_IN),
	FAULT_RV(CKR_USER_PIN_NOT_INITIALIZED),
	FAULT_RV(CKR_BUFFER_TOO_SMALL),
	FAULT_RV(CKR_CRYPTOKI_NOT_INITIALIZED),
	FAULT_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
};
#undef FAULT_RV

static bool
fault_parse_rv(const char *s, CK_RV *rv)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof fault_rv_names / sizeof fault_rv_names[0]; i++) {
		if (strcmp(s, fault_rv_names[i].name) == 0) {
			*rv = fault_rv_names[i].rv;
			return true;
		}
	}
	if (!isxdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || *end != '\0')
		return false;
	*rv = v;
	return true;
}

/* Parses one "NAME:N[+]:RV" entry (s is modified). */
static bool
fault_parse_rule(char *s, struct fault_rule *rule)
{
	char *name = s, *nth, *rv, *end;
	size_t i;

	nth = strchr(name, ':');
	if (nth == NULL)
		return false;
	*nth++ = '\0';
	rv = strchr(nth, ':');
	if (rv == NULL)
		return false;
	*rv++ = '\0';

	for (i = 0; i < FAULT_FN_COUNT; i++) {
		if (strcmp(name, fault_fn_names[i]) == 0)
			break;
	}
	if (i == FAULT_FN_COUNT)
		return false;
	rule->fn = (enum fault_fn)i;

	if (!isdigit((unsigned char)nth[0]))
		return false;
	errno = 0;
	rule->nth = strtoul(nth, &end, 10);
	if (errno != 0 || rule->nth == 0)
		return false;
	rule->and_later = false;
	if (*end == '+') {
		rule->and_later = true;
		end++;
	}
	if (*end != '\0')
		return false;
	end = strchr(rv, ':');
	rule->after = end != NULL;
	if (end != NULL) {
		*end++ = '\0';
		if (strcmp(end, "after") != 0)
			return false;
	}
	return fault_parse_rv(rv, &rule->rv);
}

static char *
fault_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Calls one() on each comma-separated entry of spec, trimmed, skipping
 * empty ones; stops at the first that one() refuses.
 */
static bool
fault_each_entry(const char *spec, struct fault_config *cfg,
                 bool (*one)(char *entry, struct fault_config *cfg))
{
	char *copy, *save = NULL, *tok;
	bool ok = true;

	copy = strdup(spec);
	if (copy == NULL)
		return false;
	for (tok = strtok_r(copy, ",", &save); ok && tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *entry = fault_trim(tok);
		if (entry[0] != '\0')
			ok = one(entry, cfg);
	}
	free(copy);
	return ok;
}

static bool
fault_parse_fail_entry(char *entry, struct fault_config *cfg)
{
	char shown[128];

	snprintf(shown, sizeof shown, "%s", entry);
	if (cfg->n_rules == FAULT_MAX_RULES || !fault_parse_rule(entry, &cfg->rules[cfg->n_rules])) {
		fprintf(stderr, "fault-pkcs11: bad FAULT_FAIL entry \"%s\"\n", shown);
		return false;
	}
	cfg->n_rules++;
	return true;
}

static bool
fault_parse_token_flag(char *word, struct fault_config *cfg)
{
	if (strcmp(word, "final_try") == 0) {
		cfg->token_flags |= CKF_USER_PIN_FINAL_TRY;
	} else if (strcmp(word, "locked") == 0) {
		cfg->token_flags |= CKF_USER_PIN_LOCKED;
	} else if (strcmp(word, "count_low") == 0) {
		cfg->token_flags |= CKF_USER_PIN_COUNT_LOW;
	} else if (strcmp(word, "pinpad") == 0) {
		cfg->token_flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
		cfg->pinpad = true;
	} else if (strcmp(word, "write_protected") == 0) {
		cfg->token_flags |= CKF_WRITE_PROTECTED;
		cfg->write_protected = true;
	} else {
		fprintf(stderr, "fault-pkcs11: bad FAULT_TOKEN_FLAGS word \"%s\"\n", word);
		return false;
	}
	return true;
}

/* One FAULT_HIDE_MECHANISMS entry: a CKM_ name of a key pair generation
 * mechanism, or a number (hex with 0x). */
static bool
fault_parse_hidden_mech(char *word, struct fault_config *cfg)
{
	CK_MECHANISM_TYPE m;
	char *end;

	if (strcmp(word, "CKM_RSA_PKCS_KEY_PAIR_GEN") == 0) {
		m = CKM_RSA_PKCS_KEY_PAIR_GEN;
	} else if (strcmp(word, "CKM_EC_KEY_PAIR_GEN") == 0) {
		m = CKM_EC_KEY_PAIR_GEN;
	} else {
		errno = 0;
		m = strtoul(word, &end, 0);
		if (errno != 0 || end == word || *end != '\0')
			goto bad;
	}
	if (cfg->n_hidden == sizeof cfg->hidden / sizeof cfg->hidden[0])
		goto bad;
	cfg->hidden[cfg->n_hidden++] = m;
	return true;
bad:
	fprintf(stderr, "fault-pkcs11: bad FAULT_HIDE_MECHANISMS word \"%s\"\n", word);
	return false;
}

/* One FAULT_HIDE_ATTRS word. */
static bool
fault_parse_hidden_attr(char *word, struct fault_config *cfg)
{
	static const struct {
		const char *name;
		CK_ATTRIBUTE_TYPE type;
	} names[] = { { "sensitive", CKA_SENSITIVE },
		      { "extractable", CKA_EXTRACTABLE },
		      { "never_extractable", CKA_NEVER_EXTRACTABLE },
		      { "local", CKA_LOCAL } };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(word, names[i].name) == 0 &&
		    cfg->n_hidden_attrs <
		            (int)(sizeof cfg->hidden_attrs / sizeof cfg->hidden_attrs[0])) {
			cfg->hidden_attrs[cfg->n_hidden_attrs++] = names[i].type;
			return true;
		}
	}
	fprintf(stderr, "fault-pkcs11: bad FAULT_HIDE_ATTRS word \"%s\"\n", word);
	return false;
}

/* Parses FAULT_KILL=NAME:N[:before|:after]. */
static bool
fault_parse_kill(const char *spec, struct fault_config *cfg)
{
	char copy[128], *name = copy, *nth, *when, *end;
	size_t i;

	if (strlen(spec) >= sizeof copy)
		goto bad;
	memcpy(copy, spec, strlen(spec) + 1);
	nth = strchr(name, ':');
	if (nth == NULL)
		goto bad;
	*nth++ = '\0';
	when = strchr(nth, ':');
	if (when != NULL)
		*when++ = '\0';
	for (i = 0; i < FAULT_FN_COUNT; i++) {
		if (strcmp(name, fault_fn_names[i]) == 0)
			break;
	}
	if (i == FAULT_FN_COUNT || !isdigit((unsigned char)nth[0]))
		goto bad;
	errno = 0;
	cfg->kill_nth = strtoul(nth, &end, 10);
	if (errno != 0 || *end != '\0' || cfg->kill_nth == 0)
		goto bad;
	if (when == NULL || strcmp(when, "before") == 0)
		cfg->kill_after = false;
	else if (strcmp(when, "after") == 0)
		cfg->kill_after = true;
	else
		goto bad;
	cfg->kill_fn = (enum fault_fn)i;
	cfg->have_kill = true;
	return true;
bad:
	fprintf(stderr, "fault-pkcs11: bad FAULT_KILL \"%s\"\n", spec);
	return false;
}

/* "15ms", "250us" or "2s" (a bare number is milliseconds) in microseconds. */
static bool
fault_parse_duration(const char *s, long long *us)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v > 3600000)
		return false;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		*us = v * 1000;
	else if (strcmp(end, "us") == 0)
		*us = v;
	else if (strcmp(end, "s") == 0)
		*us = v * 1000000;
	else
		return false;
	return true;
}

/* One FAULT_LATENCY entry: NAME:DURATION or default:DURATION. */
static bool
fault_parse_latency_entry(char *entry, struct fault_config *cfg)
{
	char *value = strchr(entry, ':');
	long long us;
	size_t i;

	if (value == NULL)
		goto bad;
	*value++ = '\0';
	if (!fault_parse_duration(value, &us))
		goto bad;
	cfg->have_latency = true;
	if (strcmp(entry, "default") == 0) {
		cfg->latency_default_us = us;
		return true;
	}
	for (i = 0; i < FAULT_FN_COUNT; i++) {
		if (strcmp(entry, fault_fn_names[i]) == 0) {
			cfg->latency_us[i] = us;
			return true;
		}
	}
bad:
	fprintf(stderr, "fault-pkcs11: bad FAULT_LATENCY entry \"%s\"\n", entry);
	return false;
}

/* NAME=RV (or 1: dflt): a refusal with that answer (*on, *rv).  False on a
 * bad value, with a message. */
static bool
fault_env_refusal(const char *name, CK_RV dflt, bool *on, CK_RV *rv)
{
	const char *v = getenv(name);

	*on = fault_env_flag(name);
	*rv = dflt;
	if (!*on || strcmp(v, "1") == 0 || fault_parse_rv(v, rv))
		return true;
	fprintf(stderr, "fault-pkcs11: bad %s \"%s\"\n", name, v);
	return false;
}

/* Reads the environment into fault_cfg.  Caller holds fault_lock. */
static CK_RV
fault_configure_locked(void)
{
	static struct fault_config cfg;
	const char *v;

	memset(&cfg, 0, sizeof cfg);
	cfg.raw_only = fault_env_flag("FAULT_RAW_ONLY");
	cfg.no_slots = fault_env_flag("FAULT_NO_SLOTS");
	cfg.refuse_extractable = fault_env_flag("FAULT_REFUSE_EXTRACTABLE");
	cfg.refuse_set_id = fault_env_flag("FAULT_REFUSE_SET_ID");
	cfg.find_twice = fault_env_flag("FAULT_FIND_TWICE");
	cfg.always_auth = fault_env_flag("FAULT_ALWAYS_AUTH");
	cfg.have_pinpad_pin =
	        fault_copy_env("FAULT_PINPAD_PIN", cfg.pinpad_pin, sizeof cfg.pinpad_pin);
	v = getenv("FAULT_HIDE_ATTRS");
	if (v != NULL && !fault_each_entry(v, &cfg, fault_parse_hidden_attr))
		return CKR_GENERAL_ERROR;
	v = getenv("FAULT_TOKEN_SERIAL");
	if (v != NULL && v[0] != '\0') {
		if (strlen(v) >= sizeof cfg.serial) {
			fprintf(stderr,
			        "fault-pkcs11: FAULT_TOKEN_SERIAL is 16 characters at most\n");
			return CKR_GENERAL_ERROR;
		}
		cfg.have_serial = true;
		memcpy(cfg.serial, v, strlen(v) + 1);
	}
	if (!fault_env_refusal("FAULT_REFUSE_SIGN_ONLY", CKR_GENERAL_ERROR, &cfg.refuse_sign_only,
	                       &cfg.sign_only_rv) ||
	    !fault_env_refusal("FAULT_REFUSE_SESSION_PUBLIC", CKR_TEMPLATE_INCONSISTENT,
	                       &cfg.refuse_session_public, &cfg.session_public_rv))
		return CKR_GENERAL_ERROR;
	v = getenv("FAULT_LOG");
	if (v != NULL && !fault_copy_env("FAULT_LOG", cfg.log_path, sizeof cfg.log_path)) {
		fprintf(stderr, "fault-pkcs11: FAULT_LOG path too long\n");
		return CKR_GENERAL_ERROR;
	}
	cfg.log_begin = fault_env_flag("FAULT_LOG_BEGIN");
	v = getenv("FAULT_TOKEN_FLAGS");
	if (v != NULL && !fault_each_entry(v, &cfg, fault_parse_token_flag))
		return CKR_GENERAL_ERROR;
	v = getenv("FAULT_FREE_PRIVATE_MEMORY");
	if (v != NULL && v[0] != '\0') {
		char *end;

		errno = 0;
		cfg.free_memory = strtoul(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0') {
			fprintf(stderr,
			        "fault-pkcs11: FAULT_FREE_PRIVATE_MEMORY is a number of bytes\n");
			return CKR_GENERAL_ERROR;
		}
		cfg.have_free_memory = true;
	}
	v = getenv("FAULT_HIDE_MECHANISMS");
	if (v != NULL && !fault_each_entry(v, &cfg, fault_parse_hidden_mech))
		return CKR_GENERAL_ERROR;
	v = getenv("FAULT_FAIL");
	if (v != NULL && !fault_each_entry(v, &cfg, fault_parse_fail_entry))
		return CKR_GENERAL_ERROR;
	cfg.kill_signal = SIGKILL;
	v = getenv("FAULT_KILL_SIGNAL");
	if (v != NULL && v[0] != '\0') {
		if (strcmp(v, "INT") == 0) {
			cfg.kill_signal = SIGINT;
		} else if (strcmp(v, "TERM") == 0) {
			cfg.kill_signal = SIGTERM;
		} else if (strcmp(v, "KILL") != 0) {
			fprintf(stderr, "fault-pkcs11: FAULT_KILL_SIGNAL is INT, TERM or KILL\n");
			return CKR_GENERAL_ERROR;
		}
	}
	v = getenv("FAULT_KILL");
	if (v != NULL && v[0] != '\0' && !fault_parse_kill(v, &cfg))
		return CKR_GENERAL_ERROR;
	for (size_t i = 0; i < FAULT_FN_COUNT; i++)
		cfg.latency_us[i] = -1;
	v = getenv("FAULT_LATENCY");
	if (v != NULL && !fault_each_entry(v, &cfg, fault_parse_latency_entry))
		return CKR_GENERAL_ERROR;
	fault_cfg = cfg;
	return CKR_OK;
}

/* ------------------------------------------------------------------------ */
/* Call counting, failing and logging                                       */

/*
 * Appends line to FAULT_LOG with one write() on a descriptor opened with
 * O_APPEND for this line only, so that lines from several processes
 * (fork+exec of a tool, a server whose stderr is the same file) never mix
 * and no descriptor outlives the call.
 */
static void
fault_log_line(const char *line, size_t len)
{
	char path[FAULT_PATH_MAX];
	int fd;
	ssize_t w;

	pthread_mutex_lock(&fault_lock);
	memcpy(path, fault_cfg.log_path, sizeof path);
	pthread_mutex_unlock(&fault_lock);
	if (path[0] == '\0')
		return;
	do {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return;
	do {
		w = write(fd, line, len);
	} while (w < 0 && errno == EINTR);
	close(fd);
}

/* "NAME 0xRV MICROSECONDS\n": the call returned (the time it took). */
static void
fault_log(const char *name, CK_RV rv, long long usec)
{
	char line[128];
	int len = snprintf(line, sizeof line, "%s 0x%lx %lld\n", name, (unsigned long)rv, usec);

	if (len > 0 && (size_t)len < sizeof line)
		fault_log_line(line, (size_t)len);
}

/* "begin NAME\n" (FAULT_LOG_BEGIN): the call was entered, before its
 * latency; with the line above it brackets the time the call took, so
 * that what else was written to the file meanwhile happened during it. */
static void
fault_log_begin(enum fault_fn fn)
{
	char line[128];
	int len = snprintf(line, sizeof line, "begin %s\n", fault_fn_names[fn]);

	if (len > 0 && (size_t)len < sizeof line)
		fault_log_line(line, (size_t)len);
}

/*
 * Counts a call; true (with *rv set) when FAULT_FAIL says to fail it.
 * FAULT_KILL: the process dies here (before the call), or *kill_after is
 * set for the wrapper to kill it once the call is done and logged.
 */
static bool
fault_inject(enum fault_fn fn, CK_RV *rv, bool *kill_after)
{
	unsigned long n;
	long long delay_us = 0;
	bool fail = false, log_begin;

	pthread_mutex_lock(&fault_lock);
	n = ++fault_calls[fn];
	*kill_after = false;
	fault_after_hit = false;
	if (fault_cfg.have_kill && fault_cfg.kill_fn == fn && fault_cfg.kill_nth == n) {
		if (!fault_cfg.kill_after)
			kill(getpid(), fault_cfg.kill_signal);
		else
			*kill_after = true;
	}
	for (size_t i = 0; i < fault_cfg.n_rules; i++) {
		const struct fault_rule *r = &fault_cfg.rules[i];
		if (r->fn == fn && (n == r->nth || (r->and_later && n > r->nth))) {
			fault_after_hit = r->after;
			fault_after_rv = r->rv;
			*rv = r->rv;
			fail = !r->after;
			break;
		}
	}
	if (fault_cfg.have_latency)
		delay_us = fault_cfg.latency_us[fn] >= 0 ? fault_cfg.latency_us[fn]
		                                         : fault_cfg.latency_default_us;
	log_begin = fault_cfg.log_begin;
	pthread_mutex_unlock(&fault_lock);
	if (log_begin)
		fault_log_begin(fn);
	/* FAULT_LATENCY: the modelled device's round trip, before the call. */
	if (delay_us > 0) {
		struct timespec ts = { (time_t)(delay_us / 1000000),
			               (long)(delay_us % 1000000) * 1000 };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return fail;
}

/* Microseconds on the monotonic clock, for the time a call took. */
static long long
fault_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A snapshot of the configuration, so behaviours need not hold the lock. */
static void
fault_get_config(struct fault_config *cfg)
{
	pthread_mutex_lock(&fault_lock);
	*cfg = fault_cfg;
	pthread_mutex_unlock(&fault_lock);
}

static bool
fault_get_flag(const bool *flag)
{
	bool v;

	pthread_mutex_lock(&fault_lock);
	v = *flag;
	pthread_mutex_unlock(&fault_lock);
	return v;
}

/* ------------------------------------------------------------------------ */
/* Behaviours (called from the wrappers instead of the real functions)      */

/* Mechanisms that hash inside the token before signing (FAULT_RAW_ONLY). */
static bool
fault_is_hash_sign(CK_MECHANISM_TYPE type)
{
	switch (type) {
	case CKM_MD2_RSA_PKCS:
	case CKM_MD5_RSA_PKCS:
	case CKM_RIPEMD128_RSA_PKCS:
	case CKM_RIPEMD160_RSA_PKCS:
	case CKM_SHA1_RSA_X9_31:
	case CKM_SHA1_RSA_PKCS:
	case CKM_SHA224_RSA_PKCS:
	case CKM_SHA256_RSA_PKCS:
	case CKM_SHA384_RSA_PKCS:
	case CKM_SHA512_RSA_PKCS:
	case CKM_SHA1_RSA_PKCS_PSS:
	case CKM_SHA224_RSA_PKCS_PSS:
	case CKM_SHA256_RSA_PKCS_PSS:
	case CKM_SHA384_RSA_PKCS_PSS:
	case CKM_SHA512_RSA_PKCS_PSS:
	case CKM_ECDSA_SHA1:
	case CKM_ECDSA_SHA224:
	case CKM_ECDSA_SHA256:
	case CKM_ECDSA_SHA384:
	case CKM_ECDSA_SHA512:
	case CKM_DSA_SHA1:
	case CKM_DSA_SHA224:
	case CKM_DSA_SHA256:
	case CKM_DSA_SHA384:
	case CKM_DSA_SHA512:
		return true;
	default:
		return false;
	}
}

static const CK_ATTRIBUTE *
fault_find_attr(const CK_ATTRIBUTE *templ, CK_ULONG count, CK_ATTRIBUTE_TYPE type)
{
	if (templ == NULL)
		return NULL;
	for (CK_ULONG i = 0; i < count; i++) {
		if (templ[i].type == type)
			return &templ[i];
	}
	return NULL;
}

/* Does FAULT_HIDE_MECHANISMS name any mechanism? */
static bool
fault_hides_some(void)
{
	struct fault_config cfg;

	fault_get_config(&cfg);
	return cfg.n_hidden > 0;
}

/* True when FAULT_RAW_ONLY hides the mechanism (a hash-and-sign one), or
 * FAULT_HIDE_MECHANISMS names it. */
static bool
fault_hidden_mech(CK_MECHANISM_TYPE type)
{
	struct fault_config cfg;

	fault_get_config(&cfg);
	for (size_t i = 0; i < cfg.n_hidden; i++) {
		if (cfg.hidden[i] == type)
			return true;
	}
	return fault_is_hash_sign(type) && cfg.raw_only;
}

/* FAULT_TOKEN_FLAGS=write_protected: calls that write refuse. */
static bool
fault_write_protected(void)
{
	return fault_get_flag(&fault_cfg.write_protected);
}

/* FAULT_NO_SLOTS: the module sees no slot (no reader plugged in). */
static CK_RV
fault_do_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	if (!fault_get_flag(&fault_cfg.no_slots))
		return fault_real->C_GetSlotList(present, list, count);
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	*count = 0;
	return CKR_OK;
}

static CK_RV
fault_do_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_MECHANISM_TYPE_PTR all = NULL;
	CK_ULONG n = 0, kept = 0;
	CK_RV rv;

	if (!fault_get_flag(&fault_cfg.raw_only) && !fault_hides_some())
		return fault_real->C_GetMechanismList(slot, list, count);
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;

	/* Fetch the real list, growing the buffer if it changes under us. */
	for (int tries = 0; tries < 8; tries++) {
		CK_MECHANISM_TYPE_PTR grown;

		rv = fault_real->C_GetMechanismList(slot, NULL, &n);
		if (rv != CKR_OK)
			goto out;
		grown = realloc(all, (n ? n : 1) * sizeof *all);
		if (grown == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		all = grown;
		rv = fault_real->C_GetMechanismList(slot, all, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK)
		goto out;

	for (CK_ULONG i = 0; i < n; i++) {
		if (!fault_hidden_mech(all[i]))
			all[kept++] = all[i];
	}
	if (list == NULL) {
		rv = CKR_OK;
	} else if (*count < kept) {
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		memcpy(list, all, kept * sizeof *all);
		rv = CKR_OK;
	}
	*count = kept;
out:
	free(all);
	return rv;
}

static CK_RV
fault_do_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	if (fault_hidden_mech(type))
		return CKR_MECHANISM_INVALID;
	return fault_real->C_GetMechanismInfo(slot, type, info);
}

static CK_RV
fault_do_C_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	if (mech != NULL && fault_hidden_mech(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	return fault_real->C_SignInit(session, mech, key);
}

static CK_RV
fault_do_C_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	if (mech != NULL && fault_hidden_mech(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	return fault_real->C_VerifyInit(session, mech, key);
}

/* FAULT_HIDE_ATTRS: the token does not say these attributes, as if it did
 * not know them (CKR_ATTRIBUTE_TYPE_INVALID, length unavailable). */
static CK_RV
fault_do_C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                             CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
	CK_RV rv = fault_real->C_GetAttributeValue(session, object, templ, count);
	struct fault_config cfg;

	fault_get_config(&cfg);
	if (templ == NULL ||
	    (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE))
		return rv;
	for (CK_ULONG i = 0; i < count; i++) {
		for (int h = 0; h < cfg.n_hidden_attrs; h++) {
			if (templ[i].type == cfg.hidden_attrs[h]) {
				templ[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
				if (rv == CKR_OK)
					rv = CKR_ATTRIBUTE_TYPE_INVALID;
			}
		}
	}
	return rv;
}

static CK_RV
fault_do_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = fault_real->C_GetTokenInfo(slot, info);

	if (rv == CKR_OK && info != NULL) {
		pthread_mutex_lock(&fault_lock);
		info->flags |= fault_cfg.token_flags;
		if (fault_cfg.have_free_memory) {
			info->ulFreePrivateMemory = fault_cfg.free_memory;
			info->ulTotalPrivateMemory = 65536;
		}
		if (fault_cfg.have_serial) {
			/* blank-padded, as PKCS#11 has it */
			memset(info->serialNumber, ' ', sizeof info->serialNumber);
			memcpy(info->serialNumber, fault_cfg.serial, strlen(fault_cfg.serial));
		}
		pthread_mutex_unlock(&fault_lock);
	}
	return rv;
}

/* FAULT_TOKEN_FLAGS=pinpad: a NULL PIN is "typed" from FAULT_PINPAD_PIN. */
static CK_RV
fault_do_C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	struct fault_config cfg;

	if (pin != NULL || (user != CKU_USER && user != CKU_CONTEXT_SPECIFIC))
		return fault_real->C_Login(session, user, pin, pin_len);
	fault_get_config(&cfg);
	if (!cfg.pinpad)
		return fault_real->C_Login(session, user, pin, pin_len);
	if (!cfg.have_pinpad_pin)
		return CKR_PIN_INCORRECT;
	return fault_real->C_Login(session, user, (CK_UTF8CHAR_PTR)cfg.pinpad_pin,
	                           (CK_ULONG)strlen(cfg.pinpad_pin));
}

static CK_RV
fault_do_C_SetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                             CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
	if (fault_write_protected())
		return CKR_TOKEN_WRITE_PROTECTED;
	if (fault_find_attr(templ, count, CKA_ID) != NULL && fault_get_flag(&fault_cfg.refuse_set_id))
		return CKR_ATTRIBUTE_READ_ONLY;
	return fault_real->C_SetAttributeValue(session, object, templ, count);
}

static CK_RV
fault_do_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                       CK_SESSION_HANDLE_PTR session)
{
	if ((flags & CKF_RW_SESSION) && fault_write_protected())
		return CKR_TOKEN_WRITE_PROTECTED;
	return fault_real->C_OpenSession(slot, flags, app, notify, session);
}

static CK_RV
fault_do_C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object)
{
	if (fault_write_protected())
		return CKR_TOKEN_WRITE_PROTECTED;
	return fault_real->C_DestroyObject(session, object);
}

/*
 * Returns a copy of templ with CKA_ALWAYS_AUTHENTICATE = CK_TRUE (replacing
 * any value given), to be freed by the caller; NULL when out of memory.
 */
static CK_ATTRIBUTE_PTR
fault_add_always_auth(const CK_ATTRIBUTE *templ, CK_ULONG count, CK_ULONG *new_count)
{
	static CK_BBOOL fault_true = CK_TRUE;
	CK_ATTRIBUTE_PTR copy;
	CK_ULONG n = 0;
	bool replaced = false;

	copy = calloc(count + 1, sizeof *copy);
	if (copy == NULL)
		return NULL;
	for (CK_ULONG i = 0; i < count; i++) {
		copy[n] = templ[i];
		if (copy[n].type == CKA_ALWAYS_AUTHENTICATE) {
			copy[n].pValue = &fault_true;
			copy[n].ulValueLen = sizeof fault_true;
			replaced = true;
		}
		n++;
	}
	if (!replaced) {
		copy[n].type = CKA_ALWAYS_AUTHENTICATE;
		copy[n].pValue = &fault_true;
		copy[n].ulValueLen = sizeof fault_true;
		n++;
	}
	*new_count = n;
	return copy;
}

/* Does the template say CKA_DECRYPT = false (a sign-only key)? */
static bool
fault_says_no_decrypt(CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
	const CK_ATTRIBUTE *a = fault_find_attr(templ, count, CKA_DECRYPT);

	return a != NULL && a->pValue != NULL && a->ulValueLen == sizeof(CK_BBOOL) &&
	       *(const CK_BBOOL *)a->pValue == CK_FALSE;
}

/* Does the template say CKA_TOKEN = false (a session object)? */
static bool
fault_says_session(CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
	const CK_ATTRIBUTE *a = fault_find_attr(templ, count, CKA_TOKEN);

	return a != NULL && a->pValue != NULL && a->ulValueLen == sizeof(CK_BBOOL) &&
	       *(const CK_BBOOL *)a->pValue == CK_FALSE;
}

static CK_RV
fault_do_C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub,
                           CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_count,
                           CK_OBJECT_HANDLE_PTR pub_key, CK_OBJECT_HANDLE_PTR priv_key)
{
	struct fault_config cfg;
	CK_ATTRIBUTE_PTR copy;
	CK_ULONG copy_count;
	CK_RV rv;

	fault_get_config(&cfg);
	if (cfg.write_protected)
		return CKR_TOKEN_WRITE_PROTECTED;
	if (mech != NULL && fault_hidden_mech(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	if (cfg.refuse_extractable && fault_find_attr(priv, priv_count, CKA_EXTRACTABLE) != NULL)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (cfg.refuse_sign_only && fault_says_no_decrypt(priv, priv_count))
		return cfg.sign_only_rv;
	if (cfg.refuse_session_public && fault_says_session(pub, pub_count))
		return cfg.session_public_rv;
	if (!cfg.always_auth || (priv == NULL && priv_count != 0))
		return fault_real->C_GenerateKeyPair(session, mech, pub, pub_count, priv,
		                                     priv_count, pub_key, priv_key);
	copy = fault_add_always_auth(priv, priv_count, &copy_count);
	if (copy == NULL)
		return CKR_HOST_MEMORY;
	rv = fault_real->C_GenerateKeyPair(session, mech, pub, pub_count, copy, copy_count, pub_key,
	                                   priv_key);
	free(copy);
	return rv;
}

/* FAULT_FIND_TWICE: a module that lists one object twice (the first
 * handle found in place of the second). */
static CK_RV
fault_do_C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                       CK_ULONG_PTR count)
{
	CK_RV rv = fault_real->C_FindObjects(session, objects, max, count);

	if (rv == CKR_OK && fault_get_flag(&fault_cfg.find_twice) && count != NULL && *count >= 2)
		objects[1] = objects[0];
	return rv;
}

static CK_RV
fault_do_C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                        CK_OBJECT_HANDLE_PTR object)
{
	const CK_ATTRIBUTE *cls = fault_find_attr(templ, count, CKA_CLASS);
	CK_OBJECT_CLASS value;
	CK_ATTRIBUTE_PTR copy;
	CK_ULONG copy_count;
	CK_RV rv;

	if (fault_write_protected())
		return CKR_TOKEN_WRITE_PROTECTED;
	if (cls == NULL || cls->pValue == NULL || cls->ulValueLen != sizeof value ||
	    !fault_get_flag(&fault_cfg.always_auth))
		return fault_real->C_CreateObject(session, templ, count, object);
	memcpy(&value, cls->pValue, sizeof value);
	if (value != CKO_PRIVATE_KEY)
		return fault_real->C_CreateObject(session, templ, count, object);
	copy = fault_add_always_auth(templ, count, &copy_count);
	if (copy == NULL)
		return CKR_HOST_MEMORY;
	rv = fault_real->C_CreateObject(session, copy, copy_count, object);
	free(copy);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Wrappers                                                                 */

#define FAULT_WRAP_SIG(name, params, args)                                         \
	static CK_RV fault_wrap_##name params                                      \
	{                                                                          \
		CK_RV rv;                                                          \
		bool kill_after;                                                   \
		long long t0 = fault_now_us();                                     \
		if (!fault_inject(FAULT_FN_##name, &rv, &kill_after))              \
			rv = fault_impl.name != NULL ? fault_impl.name args        \
			                             : CKR_FUNCTION_NOT_SUPPORTED; \
		if (fault_after_hit)                                               \
			rv = fault_after_rv;                                       \
		fault_log(#name, rv, fault_now_us() - t0);                         \
		if (kill_after)                                                    \
			kill(getpid(), fault_cfg.kill_signal);                     \
		return rv;                                                         \
	}
/* The signature macro is expanded before FAULT_WRAP_SIG takes it apart. */
#define FAULT_WRAP(name, ...) FAULT_WRAP_SIG(name, __VA_ARGS__)
FAULT_FUNCTIONS(FAULT_WRAP)
#undef FAULT_WRAP
#undef FAULT_WRAP_SIG

/* C_Initialize re-reads the environment before anything else. */
static CK_RV
fault_wrap_C_Initialize(CK_VOID_PTR init_args)
{
	long long t0 = fault_now_us();
	bool kill_after = false;
	CK_RV rv;

	pthread_mutex_lock(&fault_lock);
	rv = fault_configure_locked();
	pthread_mutex_unlock(&fault_lock);
	if (rv == CKR_OK && !fault_inject(FAULT_FN_C_Initialize, &rv, &kill_after))
		rv = fault_real->C_Initialize(init_args);
	fault_log("C_Initialize", rv, fault_now_us() - t0);
	if (kill_after)
		kill(getpid(), fault_cfg.kill_signal);
	return rv;
}

/*
 * A real token ends the signing operation when C_Sign fails (other than
 * CKR_BUFFER_TOO_SMALL), so a caller may C_SignInit again on the session.
 * After an injected failure the real module never saw the call and would
 * still have the operation active: finish it here into a scratch buffer,
 * unlogged and uncounted, and throw the signature away.
 */
static void
fault_end_sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len)
{
	CK_BYTE_PTR buf;
	CK_ULONG len = 0;

	if (fault_real->C_Sign(session, data, data_len, NULL, &len) != CKR_OK)
		return;
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return;
	(void)fault_real->C_Sign(session, data, data_len, buf, &len);
	free(buf);
}

static CK_RV
fault_wrap_C_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                  CK_ULONG_PTR sig_len)
{
	long long t0 = fault_now_us();
	bool kill_after;
	CK_RV rv;

	if (!fault_inject(FAULT_FN_C_Sign, &rv, &kill_after))
		rv = fault_real->C_Sign(session, data, data_len, sig, sig_len);
	else if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		fault_end_sign(session, data, data_len);
	fault_log("C_Sign", rv, fault_now_us() - t0);
	if (kill_after)
		kill(getpid(), fault_cfg.kill_signal);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Loading the real module                                                  */

/* Caller holds fault_lock. */
static CK_RV
fault_load_real_locked(void)
{
	const char *path = getenv("FAULT_PKCS11_REAL");
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST_PTR real = NULL;
	void *handle, *sym;
	CK_RV rv;

	if (fault_real != NULL)
		return CKR_OK;
	if (path == NULL || path[0] == '\0') {
		fprintf(stderr, "fault-pkcs11: FAULT_PKCS11_REAL is not set\n");
		return CKR_GENERAL_ERROR;
	}
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		fprintf(stderr, "fault-pkcs11: cannot load %s: %s\n", path, dlerror());
		return CKR_GENERAL_ERROR;
	}
	sym = dlsym(handle, "C_GetFunctionList");
	memcpy(&get_list, &sym, sizeof get_list);
	if (sym == NULL || get_list == C_GetFunctionList) {
		fprintf(stderr, "fault-pkcs11: %s is not a usable PKCS#11 module\n", path);
		dlclose(handle);
		return CKR_GENERAL_ERROR;
	}
	rv = get_list(&real);
	if (rv != CKR_OK || real == NULL) {
		fprintf(stderr,
		        "fault-pkcs11: C_GetFunctionList of %s failed: "
		        "0x%lx\n",
		        path, (unsigned long)rv);
		dlclose(handle);
		return rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
	}

	/* The real functions, with the behaviours in place of some. */
	fault_impl = *real;
#define FAULT_BEHAVIOUR(name)   \
	if (real->name != NULL) \
		fault_impl.name = fault_do_##name;
	FAULT_BEHAVIOUR(C_GetSlotList)
	FAULT_BEHAVIOUR(C_GetMechanismList)
	FAULT_BEHAVIOUR(C_GetMechanismInfo)
	FAULT_BEHAVIOUR(C_GetTokenInfo)
	FAULT_BEHAVIOUR(C_GetAttributeValue)
	FAULT_BEHAVIOUR(C_Login)
	FAULT_BEHAVIOUR(C_SetAttributeValue)
	FAULT_BEHAVIOUR(C_GenerateKeyPair)
	FAULT_BEHAVIOUR(C_CreateObject)
	FAULT_BEHAVIOUR(C_FindObjects)
	FAULT_BEHAVIOUR(C_SignInit)
	FAULT_BEHAVIOUR(C_OpenSession)
	FAULT_BEHAVIOUR(C_DestroyObject)
	FAULT_BEHAVIOUR(C_VerifyInit)
#undef FAULT_BEHAVIOUR

	/* What callers see: a 2.x list of wrappers (NULL stays NULL). */
	fault_list = *real;
	if (fault_list.version.major != 2) {
		fault_list.version.major = 2;
		fault_list.version.minor = 40;
	}
	fault_list.C_GetFunctionList = C_GetFunctionList;
	fault_list.C_Initialize = real->C_Initialize != NULL ? fault_wrap_C_Initialize : NULL;
	fault_list.C_Sign = real->C_Sign != NULL ? fault_wrap_C_Sign : NULL;
#define FAULT_INSTALL(name, ...) \
	if (real->name != NULL)  \
		fault_list.name = fault_wrap_##name;
	FAULT_FUNCTIONS(FAULT_INSTALL)
#undef FAULT_INSTALL

	fault_real_handle = handle;
	fault_real = real;
	return CKR_OK;
}

__attribute__((visibility("default"))) CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_RV rv;

	pthread_mutex_lock(&fault_lock);
	rv = fault_load_real_locked();
	if (rv == CKR_OK)
		rv = fault_configure_locked();
	pthread_mutex_unlock(&fault_lock);
	if (rv == CKR_OK && list == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		*list = &fault_list;
	fault_log("C_GetFunctionList", rv, 0);
	return rv;
}
