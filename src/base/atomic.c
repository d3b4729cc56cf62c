/*
 * Files a user needs are written atomically: a temporary file in the same
 * directory, fsync, then rename over the target (or, when the target must
 * not be replaced, link, which fails if it exists), then fsync of the
 * directory.  A crash or a full disk leaves the old file or the new one,
 * never half of either, and a refusal leaves no file at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imss-renew/base.h"

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory part of path, "." when there is none. */
static char *
dir_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* 0, or an errno value.  Filesystems that cannot sync a directory pass. */
static int
sync_dir(const char *path)
{
	char *dir = dir_name(path);
	int fd, err = 0;

	if (dir == NULL)
		return ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		err = errno;
	else if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS)
		err = errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return err;
}

/*
 * Put the finished temporary file at path.  Without replace, link() fails
 * when path exists; filesystems without hard links (FAT on USB sticks)
 * fall back to a check and a rename.  *tmp_left says whether the temporary
 * name still exists.  0, or an errno value.
 */
static int
put_in_place(const char *tmp, const char *path, int replace, int *tmp_left)
{
	struct stat st;

	*tmp_left = 1;
	if (!replace) {
		if (link(tmp, path) == 0)
			return 0;
		if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOSYS &&
		    errno != EMLINK)
			return errno;
		if (lstat(path, &st) == 0)
			return EEXIST;
	}
	if (rename(tmp, path) != 0)
		return errno;
	*tmp_left = 0;
	return 0;
}

/* Mode (less the umask), contents and sync of the temporary file. */
static int
fill_temp(int fd, unsigned mode, const void *data, size_t len)
{
	mode_t mask = umask(0);

	umask(mask);
	if (fchmod(fd, (mode_t)mode & ~mask) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
		return errno;
	return 0;
}

static imss_err
refuse_existing(imss_ctx *ctx, const char *path)
{
	return ctx_fail(ctx, IMSS_ERR_EXISTS, _("'%s' exists already; it was left as it is."), path);
}

imss_err
imss_write_file_atomic(imss_ctx *ctx, const char *path, const void *data, size_t len, unsigned mode,
                       int replace)
{
	struct stat st;
	char *tmp = NULL;
	imss_err rc = IMSS_OK;
	int tmp_left = 0, fd, err;

	ctx_clear_detail(ctx);
	if (lstat(path, &st) == 0) {
		if (!replace)
			return refuse_existing(ctx, path);
		/* Renaming over a device or a link would not write into it. */
		if (!S_ISREG(st.st_mode))
			return ctx_fail(ctx, IMSS_ERR_IO,
			                _("'%s' is not a regular file; it was left as it is."), path);
	}
	if ((tmp = str_printf("%s.XXXXXX", path)) == NULL)
		return IMSS_ERR_NOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot write '%s': %s."), path, strerror(errno));
		goto out;
	}
	tmp_left = 1;
	err = fill_temp(fd, mode, data, len);
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0)
		err = put_in_place(tmp, path, replace, &tmp_left);
	if (err == EEXIST && !replace) {
		rc = refuse_existing(ctx, path);
		goto out;
	}
	if (err != 0) {
		rc = ctx_fail(ctx, IMSS_ERR_IO, _("Cannot write '%s': %s."), path, strerror(err));
		goto out;
	}
	err = sync_dir(path);
	if (err != 0)
		rc = ctx_fail(ctx, IMSS_ERR_IO,
		              _("'%s' was written, but its directory could not be synced: %s."),
		              path, strerror(err));
out:
	if (tmp_left)
		unlink(tmp);
	free(tmp);
	return rc;
}
