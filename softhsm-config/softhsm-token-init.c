/*
 * softhsm-token-init: initialise a fresh SoftHSM token without putting PINs
 * on a command line.
 *
 *   IMSS_SO_PIN=... IMSS_USER_PIN=... \
 *     softhsm-token-init --module PATH --label LABEL
 *
 * Both PINs are read from the environment, copied, and removed from this
 * process's environment at once.  The first slot holding a token that is not
 * yet initialised gets C_InitToken (SO PIN, label padded to 32 bytes with
 * spaces); then, as SO, C_InitPIN sets the user PIN.  The new token's serial
 * number is printed on stdout.
 *
 * Exit status: 0 success, 1 error, 2 usage error.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#define PROG "softhsm-token-init"
#define LABEL_LEN 32

struct rv_name {
	CK_RV rv;
	const char *name;
};

#define RV(x)         \
	{             \
		x, #x \
	}
static const struct rv_name rv_names[] = {
	RV(CKR_OK),
	RV(CKR_HOST_MEMORY),
	RV(CKR_SLOT_ID_INVALID),
	RV(CKR_GENERAL_ERROR),
	RV(CKR_FUNCTION_FAILED),
	RV(CKR_ARGUMENTS_BAD),
	RV(CKR_CANT_LOCK),
	RV(CKR_DEVICE_ERROR),
	RV(CKR_DEVICE_MEMORY),
	RV(CKR_DEVICE_REMOVED),
	RV(CKR_FUNCTION_NOT_SUPPORTED),
	RV(CKR_PIN_INCORRECT),
	RV(CKR_PIN_INVALID),
	RV(CKR_PIN_LEN_RANGE),
	RV(CKR_PIN_EXPIRED),
	RV(CKR_PIN_LOCKED),
	RV(CKR_SESSION_CLOSED),
	RV(CKR_SESSION_COUNT),
	RV(CKR_SESSION_HANDLE_INVALID),
	RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
	RV(CKR_SESSION_READ_ONLY),
	RV(CKR_SESSION_EXISTS),
	RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
	RV(CKR_TOKEN_NOT_PRESENT),
	RV(CKR_TOKEN_NOT_RECOGNIZED),
	RV(CKR_TOKEN_WRITE_PROTECTED),
	RV(CKR_USER_ALREADY_LOGGED_IN),
	RV(CKR_USER_NOT_LOGGED_IN),
	RV(CKR_USER_PIN_NOT_INITIALIZED),
	RV(CKR_USER_TYPE_INVALID),
	RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	RV(CKR_USER_TOO_MANY_TYPES),
	RV(CKR_BUFFER_TOO_SMALL),
	RV(CKR_CRYPTOKI_NOT_INITIALIZED),
	RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
};
#undef RV

static const char *
rv_name(CK_RV rv)
{
	for (size_t i = 0; i < sizeof rv_names / sizeof rv_names[0]; i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return "unknown CK_RV";
}

static void
ck_error(const char *func, CK_RV rv)
{
	fprintf(stderr, PROG ": %s failed: %s (0x%08lx)\n", func, rv_name(rv), (unsigned long)rv);
}

static void
usage(FILE *f)
{
	fputs("usage: " PROG " --module PATH --label LABEL\n"
	      "  PINs come from the environment: IMSS_SO_PIN (security officer)\n"
	      "  and IMSS_USER_PIN (user).  Prints the new token's serial.\n",
	      f);
}

/* Copy the PIN in env variable NAME into *PIN and unset NAME at once.
 * Returns NULL on success, else the problem to report. */
static const char *
take_pin(const char *name, char **pin)
{
	const char *v = getenv(name);

	*pin = NULL;
	if (v != NULL && *v != '\0')
		*pin = strdup(v);
	unsetenv(name);
	if (*pin != NULL)
		return NULL;
	return v == NULL || *v == '\0' ? "is not set" : "could not be copied";
}

static void
free_pin(char *pin)
{
	if (pin != NULL) {
		explicit_bzero(pin, strlen(pin));
		free(pin);
	}
}

/* Trim the trailing spaces of a blank-padded PKCS#11 string field. */
static int
padded_len(const CK_UTF8CHAR *s, size_t n)
{
	while (n > 0 && s[n - 1] == ' ')
		n--;
	return (int)n;
}

/* Find the first slot whose token is present and not yet initialised. */
static CK_RV
find_free_slot(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID *out)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	for (;;) {
		rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
		if (rv != CKR_OK) {
			ck_error("C_GetSlotList", rv);
			goto out;
		}
		free(slots);
		slots = calloc(n ? n : 1, sizeof *slots);
		if (slots == NULL) {
			rv = CKR_HOST_MEMORY;
			fprintf(stderr, PROG ": out of memory\n");
			goto out;
		}
		rv = f->C_GetSlotList(CK_TRUE, slots, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		ck_error("C_GetSlotList", rv);
		goto out;
	}

	rv = CKR_TOKEN_NOT_PRESENT;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		CK_RV r = f->C_GetTokenInfo(slots[i], &ti);

		if (r != CKR_OK) {
			ck_error("C_GetTokenInfo", r);
			continue;
		}
		if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
			*out = slots[i];
			rv = CKR_OK;
			goto out;
		}
	}
	fprintf(stderr, PROG ": no slot with an uninitialised token\n");
out:
	free(slots);
	return rv;
}

int
main(int argc, char **argv)
{
	const char *module = NULL, *label = NULL;
	char *so_pin = NULL, *user_pin = NULL;
	void *dl = NULL;
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS init_args;
	CK_UTF8CHAR padded[LABEL_LEN];
	CK_SLOT_ID slot = 0;
	CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	const char *so_err, *user_err;
	int initialized = 0, logged_in = 0;
	int ret = 1;

	/* Take the PINs out of the environment before anything else; report a
	 * missing one only after the arguments have been checked. */
	so_err = take_pin("IMSS_SO_PIN", &so_pin);
	user_err = take_pin("IMSS_USER_PIN", &user_pin);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			ret = 0;
			goto out;
		} else if (strcmp(argv[i], "--module") == 0 && i + 1 < argc) {
			module = argv[++i];
		} else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
			label = argv[++i];
		} else {
			fprintf(stderr, PROG ": bad argument: %s\n", argv[i]);
			usage(stderr);
			ret = 2;
			goto out;
		}
	}
	if (module == NULL || label == NULL) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	if (*label == '\0' || strlen(label) > LABEL_LEN) {
		fprintf(stderr, PROG ": label must be 1 to %d bytes long\n", LABEL_LEN);
		ret = 2;
		goto out;
	}
	if (so_err != NULL || user_err != NULL) {
		if (so_err != NULL)
			fprintf(stderr, PROG ": IMSS_SO_PIN %s\n", so_err);
		if (user_err != NULL)
			fprintf(stderr, PROG ": IMSS_USER_PIN %s\n", user_err);
		goto out;
	}

	memset(padded, ' ', sizeof padded);
	memcpy(padded, label, strlen(label));

	dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, PROG ": cannot load module %s: %s\n", module, dlerror());
		goto out;
	}
	/* POSIX guarantees that a data pointer from dlsym converts to a
	 * function pointer; go through memcpy to keep -Wpedantic quiet. */
	{
		void *sym = dlsym(dl, "C_GetFunctionList");

		if (sym == NULL) {
			fprintf(stderr, PROG ": %s has no C_GetFunctionList\n", module);
			goto out;
		}
		memcpy(&get_list, &sym, sizeof get_list);
	}
	rv = get_list(&f);
	if (rv != CKR_OK || f == NULL) {
		ck_error("C_GetFunctionList", rv);
		f = NULL;
		goto out;
	}

	memset(&init_args, 0, sizeof init_args);
	init_args.flags = CKF_OS_LOCKING_OK;
	rv = f->C_Initialize(&init_args);
	if (rv != CKR_OK) {
		ck_error("C_Initialize", rv);
		goto out;
	}
	initialized = 1;

	if (find_free_slot(f, &slot) != CKR_OK)
		goto out;

	rv = f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
	if (rv != CKR_OK) {
		ck_error("C_InitToken", rv);
		goto out;
	}

	rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
	if (rv != CKR_OK) {
		ck_error("C_OpenSession", rv);
		session = CK_INVALID_HANDLE;
		goto out;
	}
	rv = f->C_Login(session, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		ck_error("C_Login(CKU_SO)", rv);
		goto out;
	}
	logged_in = 1;
	rv = f->C_InitPIN(session, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
	if (rv != CKR_OK) {
		ck_error("C_InitPIN", rv);
		goto out;
	}
	rv = f->C_Logout(session);
	logged_in = 0;
	if (rv != CKR_OK) {
		ck_error("C_Logout", rv);
		goto out;
	}

	rv = f->C_GetTokenInfo(slot, &ti);
	if (rv != CKR_OK) {
		ck_error("C_GetTokenInfo", rv);
		goto out;
	}
	printf("%.*s\n", padded_len(ti.serialNumber, sizeof ti.serialNumber),
	       (const char *)ti.serialNumber);
	if (fflush(stdout) != 0) {
		perror(PROG ": stdout");
		goto out;
	}
	ret = 0;

out:
	if (logged_in)
		(void)f->C_Logout(session);
	if (session != CK_INVALID_HANDLE) {
		rv = f->C_CloseSession(session);
		if (rv != CKR_OK) {
			ck_error("C_CloseSession", rv);
			ret = 1;
		}
	}
	if (initialized) {
		rv = f->C_Finalize(NULL);
		if (rv != CKR_OK) {
			ck_error("C_Finalize", rv);
			ret = 1;
		}
	}
	if (dl != NULL)
		dlclose(dl);
	free_pin(so_pin);
	free_pin(user_pin);
	return ret;
}
