/*
 * Files a user needs are written atomically: a temporary file in the same
 * directory, fsync, rename over the target, fsync of the directory.  A
 * crash leaves either the old file or the new one, never half of either.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

imss_err
imss_write_file_atomic(imss_ctx *ctx, const char *path, const void *data, size_t len,
                       unsigned mode, int replace)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	imss_err err = IMSS_OK;
	int fd = -1, saved;

	if (tmp == NULL)
		return IMSS_ERR_NOMEM;
	if (!replace && access(path, F_OK) == 0) {
		free(tmp);
		return ctx_fail(ctx, IMSS_ERR_IO,
		                _("'%s' exists already; it was left as it is."), path);
	}
	snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		saved = errno;
		free(tmp);
		return ctx_fail(ctx, IMSS_ERR_IO, _("Cannot write '%s': %s."), path, strerror(saved));
	}
	if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		saved = errno;
		err = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot write '%s': %s."), path, strerror(saved));
	}
	if (close(fd) != 0 && err == IMSS_OK)
		err = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot write '%s': %s."), path, strerror(errno));
	if (err == IMSS_OK && (replace ? rename(tmp, path) : link(tmp, path)) != 0) {
		saved = errno;
		err = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot write '%s': %s."), path, strerror(saved));
	}
	if (err != IMSS_OK || !replace)
		unlink(tmp);
	if (err == IMSS_OK && fsync_parent(path) != 0)
		err = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot sync the directory of '%s': %s."),
		               path, strerror(errno));
	free(tmp);
	return err;
}
