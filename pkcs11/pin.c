/*
 * Secrets: where a PIN (or a file password) comes from, reading it without
 * echo, wiping it, and keeping it out of core dumps.
 *
 * Sources: "tty" (the controlling terminal, echo off, the terminal restored
 * even when a signal arrives), "file:PATH" (first line), "fd:N" (one line
 * from an inherited descriptor), "env:NAME" (the variable; it stays in the
 * environment so that keys asking for the PIN at every signature can read
 * it again), "cred:NAME" (a systemd credential: the first line of
 * $CREDENTIALS_DIRECTORY/NAME, from LoadCredential= or SetCredential=).
 */
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "token-internal.h"

enum pin_kind { PIN_TTY, PIN_FILE, PIN_FD, PIN_ENV, PIN_CRED };

/* systemd's variable naming the directory of the service's credentials. */
#define CREDENTIALS_VAR "CREDENTIALS_DIRECTORY"

struct imss_pin_source {
	enum pin_kind kind;
	char *arg; /* path or variable name */
	int fd;
};

void
imss_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

/* The core-dump guard is the process's: its depth is counted under a mutex,
 * as renewals in several threads (fleet renew --jobs) begin and end it. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static int secrets_depth;
static struct rlimit saved_core;
static int saved_dumpable = -1;

void
imss_secrets_begin(void)
{
	struct rlimit none = { 0, 0 };

	pthread_mutex_lock(&secrets_lock);
	if (secrets_depth++ == 0) {
		if (getrlimit(RLIMIT_CORE, &saved_core) == 0) {
			none.rlim_max = saved_core.rlim_max;
			setrlimit(RLIMIT_CORE, &none);
		}
		saved_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	pthread_mutex_unlock(&secrets_lock);
}

void
imss_secrets_end(void)
{
	pthread_mutex_lock(&secrets_lock);
	if (secrets_depth > 0 && --secrets_depth == 0) {
		setrlimit(RLIMIT_CORE, &saved_core);
		if (saved_dumpable > 0)
			prctl(PR_SET_DUMPABLE, saved_dumpable, 0, 0, 0);
	}
	pthread_mutex_unlock(&secrets_lock);
}

/* A credential's name is one file name in the directory: not empty, no
 * '/', not "." or "..". */
static int
cred_name_ok(const char *name)
{
	return *name != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

imss_err
imss_pin_source_parse(const char *spec, imss_pin_source **out)
{
	imss_pin_source *src;
	const char *arg = NULL;
	char *end = NULL;
	long fd;

	*out = NULL;
	src = calloc(1, sizeof(*src));
	if (src == NULL)
		return IMSS_ERR_NOMEM;
	src->fd = -1;
	if (spec == NULL || strcmp(spec, "tty") == 0) {
		src->kind = PIN_TTY;
	} else if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
		src->kind = PIN_FILE;
		arg = spec + 5;
	} else if (strncmp(spec, "env:", 4) == 0 && spec[4] != '\0') {
		src->kind = PIN_ENV;
		arg = spec + 4;
	} else if (strncmp(spec, "cred:", 5) == 0 && cred_name_ok(spec + 5)) {
		src->kind = PIN_CRED;
		arg = spec + 5;
	} else if (strncmp(spec, "fd:", 3) == 0 && spec[3] != '\0') {
		errno = 0;
		fd = strtol(spec + 3, &end, 10);
		if (errno != 0 || *end != '\0' || fd < 0 || fd > INT_MAX)
			goto invalid;
		src->kind = PIN_FD;
		src->fd = (int)fd;
	} else {
		goto invalid;
	}
	if (arg != NULL && (src->arg = strdup(arg)) == NULL) {
		free(src);
		return IMSS_ERR_NOMEM;
	}
	*out = src;
	return IMSS_OK;
invalid:
	free(src);
	return IMSS_ERR_INVALID_ARG;
}

void
imss_pin_source_free(imss_pin_source *src)
{
	if (src == NULL)
		return;
	free(src->arg);
	free(src);
}

/* Read one line from fd into buf, byte by byte so nothing past the line is
 * consumed from a shared descriptor.  Returns length, or -1. */
static ssize_t
read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 || c == '\n')
			break;
		if (len + 1 >= size) {
			imss_wipe(buf, size);
			errno = ENAMETOOLONG;
			return -1;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return (ssize_t)len;
}

/* The first line of the file at path (never through a symbolic link). */
static imss_err
read_file_line(const char *path, char *buf, size_t size)
{
	imss_err err = IMSS_OK;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return IMSS_ERR_PIN_SOURCE;
	if (read_line(fd, buf, size) < 0)
		err = IMSS_ERR_PIN_SOURCE;
	close(fd);
	return err;
}

/* The path of credential name, malloc'd; NULL when the variable is unset
 * (or empty) or out of memory. */
static char *
cred_path(const char *name)
{
	const char *dir = getenv(CREDENTIALS_VAR);
	size_t len;
	char *path;

	if (dir == NULL || *dir == '\0')
		return NULL;
	len = strlen(dir) + strlen(name) + 2;
	path = malloc(len);
	if (path != NULL)
		snprintf(path, len, "%s/%s", dir, name);
	return path;
}

static imss_err
read_cred(const char *name, char *buf, size_t size)
{
	char *path = cred_path(name);
	imss_err err;

	if (path == NULL)
		return IMSS_ERR_PIN_SOURCE;
	err = read_file_line(path, buf, size);
	free(path);
	return err;
}

static volatile sig_atomic_t tty_signal;
static pthread_mutex_t tty_lock = PTHREAD_MUTEX_INITIALIZER;

static void
tty_on_signal(int sig)
{
	tty_signal = sig;
}

/* Read from the terminal with echo off; the terminal is restored before a
 * caught signal is re-raised. */
static imss_err
read_tty(const char *prompt, char *buf, size_t size)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa, old[5];
	struct termios saved, quiet;
	imss_err err = IMSS_OK;
	ssize_t r;
	size_t i;
	int fd;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return IMSS_ERR_PIN_SOURCE;
	if (tcgetattr(fd, &saved) != 0) {
		close(fd);
		return IMSS_ERR_PIN_SOURCE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal;
	tty_signal = 0;
	for (i = 0; i < 5; i++)
		sigaction(sigs[i], &sa, &old[i]);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	if (write(fd, prompt, strlen(prompt)) < 0)
		err = IMSS_ERR_PIN_SOURCE;
	r = err == IMSS_OK ? read_line(fd, buf, size) : -1;
	if (write(fd, "\n", 1) < 0) {
		/* Only cosmetic: the PIN has been read already. */
	}
	tcsetattr(fd, TCSAFLUSH, &saved);
	for (i = 0; i < 5; i++)
		sigaction(sigs[i], &old[i], NULL);
	close(fd);
	if (tty_signal != 0) {
		imss_wipe(buf, size);
		raise(tty_signal);
		return IMSS_ERR_PIN_CANCELLED;
	}
	if (r < 0)
		return IMSS_ERR_PIN_SOURCE;
	return IMSS_OK;
}

imss_err
imss_pin_source_read(imss_pin_source *src, const char *prompt, char *buf, size_t size)
{
	imss_err err = IMSS_OK;
	const char *value;

	if (size < 2)
		return IMSS_ERR_INVALID_ARG;
	buf[0] = '\0';
	switch (src->kind) {
	case PIN_TTY:
		/* One prompt at a time (fleet renew's workers): two readers would
		 * split the bytes of a line between them, and the first to end
		 * would turn echo back on while the other still reads. */
		pthread_mutex_lock(&tty_lock);
		err = read_tty(prompt, buf, size);
		pthread_mutex_unlock(&tty_lock);
		break;
	case PIN_FILE:
		err = read_file_line(src->arg, buf, size);
		break;
	case PIN_CRED:
		err = read_cred(src->arg, buf, size);
		break;
	case PIN_FD:
		if (read_line(src->fd, buf, size) < 0)
			err = IMSS_ERR_PIN_SOURCE;
		break;
	case PIN_ENV:
		value = getenv(src->arg);
		if (value == NULL)
			return IMSS_ERR_PIN_SOURCE;
		if (strlen(value) + 1 > size)
			return IMSS_ERR_PIN_SOURCE;
		memcpy(buf, value, strlen(value) + 1);
		break;
	}
	if (err == IMSS_OK && buf[0] == '\0')
		err = IMSS_ERR_PIN_CANCELLED;
	if (err != IMSS_OK)
		imss_wipe(buf, size);
	return err;
}

/* cred:NAME, with why it cannot be read when it cannot. */
static const char *
describe_cred(const char *name, char *text, size_t size)
{
	char *path = cred_path(name);
	int fd;

	if (path == NULL) {
		snprintf(text, size,
		         _("cred:%s ($%s is not set: systemd sets it for a unit with LoadCredential=)"),
		         name, CREDENTIALS_VAR);
		return text;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		snprintf(text, size, _("cred:%s (%s: %s)"), name, path, strerror(errno));
	else
		snprintf(text, size, "cred:%s", name);
	if (fd >= 0)
		close(fd);
	free(path);
	return text;
}

const char *
pin_source_describe(const imss_pin_source *src)
{
	static char text[1024];

	switch (src->kind) {
	case PIN_TTY:
		return "tty";
	case PIN_FILE:
		return src->arg;
	case PIN_FD:
		snprintf(text, sizeof(text), "fd:%d", src->fd);
		return text;
	case PIN_ENV:
		snprintf(text, sizeof(text), "env:%.58s", src->arg);
		return text;
	case PIN_CRED:
		return describe_cred(src->arg, text, sizeof(text));
	}
	return "?";
}

const char *
imss_pin_source_describe(const imss_pin_source *src)
{
	return pin_source_describe(src);
}

/* Append n bytes of text to the string *buf of *len bytes. */
static int
append(char **buf, size_t *len, const char *text, size_t n)
{
	char *grown = realloc(*buf, *len + n + 1);

	if (grown == NULL)
		return -1;
	memcpy(grown + *len, text, n);
	*len += n;
	grown[*len] = '\0';
	*buf = grown;
	return 0;
}

/* A value put in a path: not empty, no '/', not "." or "..". */
static const char *
placeholder_value(const char *name, size_t n, const char *rp, const char *user)
{
	const char *value = NULL;

	if (n == strlen("registro_patronal") && strncmp(name, "registro_patronal", n) == 0)
		value = rp;
	else if (n == strlen("user") && strncmp(name, "user", n) == 0)
		value = user;
	return value != NULL && cred_name_ok(value) ? value : NULL;
}

imss_err
imss_secret_source_expand(const char *spec, const char *registro_patronal, const char *user,
                          char **out)
{
	int expand = strncmp(spec, "file:", 5) == 0 || strncmp(spec, "cred:", 5) == 0;
	const char *p = spec, *close_brace, *value;
	char *buf = NULL;
	size_t len = 0;

	*out = NULL;
	if (append(&buf, &len, "", 0) != 0)
		return IMSS_ERR_NOMEM;
	while (*p != '\0') {
		size_t plain = expand ? strcspn(p, "{") : strlen(p);

		if (append(&buf, &len, p, plain) != 0)
			goto nomem;
		p += plain;
		if (*p == '\0')
			break;
		close_brace = strchr(p, '}');
		value = close_brace ? placeholder_value(p + 1, (size_t)(close_brace - p - 1),
		                                        registro_patronal, user)
		                    : NULL;
		if (value == NULL) {
			free(buf);
			return IMSS_ERR_INVALID_ARG;
		}
		if (append(&buf, &len, value, strlen(value)) != 0)
			goto nomem;
		p = close_brace + 1;
	}
	*out = buf;
	return IMSS_OK;
nomem:
	free(buf);
	return IMSS_ERR_NOMEM;
}
