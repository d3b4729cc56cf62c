/*
 * Helpers of the fuzz targets (see common.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common.h"

void
fuzz_check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz: invariant broken: %s\n", what);
	abort();
}

static char *
data_path(const char *name)
{
	size_t n = strlen(FUZZ_DATA_DIR) + strlen(name) + 2;
	char *path = malloc(n);

	fuzz_check(path != NULL, "out of memory");
	snprintf(path, n, "%s/%s", FUZZ_DATA_DIR, name);
	return path;
}

unsigned char *
fuzz_read_data(const char *name, size_t *len)
{
	char *path = data_path(name);
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	fuzz_check(f != NULL && fseek(f, 0, SEEK_END) == 0, path);
	n = ftell(f);
	fuzz_check(n >= 0, path);
	rewind(f);
	buf = malloc((size_t)n + 1);
	fuzz_check(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n, path);
	buf[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	free(path);
	return buf;
}

static void *
read_x509(FILE *f)
{
	return PEM_read_X509(f, NULL, NULL, NULL);
}

static void *
read_private_key(FILE *f)
{
	return PEM_read_PrivateKey(f, NULL, NULL, NULL);
}

/* What read() makes of the PEM data file name; aborts when nothing. */
static void *
read_pem(const char *name, void *(*read)(FILE *))
{
	char *path = data_path(name);
	FILE *f = fopen(path, "r");
	void *object = f ? read(f) : NULL;

	fuzz_check(object != NULL, path);
	fclose(f);
	free(path);
	return object;
}

X509 *
fuzz_cert(const char *name)
{
	return read_pem(name, read_x509);
}

EVP_PKEY *
fuzz_key(const char *name)
{
	return read_pem(name, read_private_key);
}

imss_ctx *
fuzz_ctx(void)
{
	imss_ctx *ctx = NULL;

	fuzz_check(imss_ctx_new(NULL, &ctx) == IMSS_OK, "imss_ctx_new");
	return ctx;
}

const char *
fuzz_memfile(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	size_t done = 0;
	ssize_t n;

	/* A regular file in memory (not /proc/self/fd/N, a symbolic link that
	 * readers opening with O_NOFOLLOW rightly refuse). */
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/input", fuzz_tmpdir());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		fuzz_check(fd >= 0, "open the input file");
	}
	fuzz_check(ftruncate(fd, 0) == 0, "ftruncate");
	while (done < size) {
		n = pwrite(fd, data + done, size - done, (off_t)done);
		fuzz_check(n > 0 || errno == EINTR, "pwrite");
		if (n > 0)
			done += (size_t)n;
	}
	return path;
}

static char tmpdir[64];

static void
remove_tmpdir(void)
{
	char cmd[96];

	/* Only ever the mkdtemp directory below. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", tmpdir);
}

const char *
fuzz_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		const char *base = getenv("TMPDIR");

		/* Memory, not a disk: files are rewritten on every input. */
		if (base == NULL || strlen(base) >= 40)
			base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(tmpdir, sizeof(tmpdir), "%s/imss-fuzz-XXXXXX", base);
		fuzz_check(mkdtemp(tmpdir) != NULL, "mkdtemp");
		atexit(remove_tmpdir);
	}
	return tmpdir;
}
