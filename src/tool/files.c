/*
 * Files of the imss-renew tool: inputs read whole, and every output file
 * written atomically, so that a crash or a full disk leaves either the old
 * file or the new one, never half of one, and a refusal leaves no file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tool.h"

/* Permission bits of a new output file, less the umask. */
#define OUTPUT_MODE 0644

imss_err
tool_token_certificate(struct tool *t, const char *uri, X509 **out)
{
	imss_token *tok = NULL;
	imss_err err;

	*out = NULL;
	err = tool_open_token(t, uri, 0, &tok);
	if (err == IMSS_OK)
		err = imss_token_find_certificate(tok, uri, out);
	if (tok)
		imss_token_close(tok);
	return err;
}

int
tool_read_file(struct tool *t, const char *path, unsigned char **data, size_t *len)
{
	unsigned char *buf = NULL, *grown;
	size_t size = 0, used = 0;
	int rc = TOOL_EXIT_OK;
	ssize_t n;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tool_fail_detail(t, IMSS_ERR_IO, _("Cannot open '%s': %s."), path,
		                        strerror(errno));
	for (;;) {
		if (used == size) {
			size = size ? size * 2 : 64 * 1024;
			if (size > TOOL_INPUT_MAX + 1)
				size = TOOL_INPUT_MAX + 1;
			grown = realloc(buf, size);
			if (!grown) {
				rc = tool_fail(t, IMSS_ERR_NOMEM, 0);
				goto out;
			}
			buf = grown;
		}
		n = read(fd, buf + used, size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tool_fail_detail(t, IMSS_ERR_IO, _("Cannot read '%s': %s."), path,
			                      strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > TOOL_INPUT_MAX) {
			rc = tool_fail_detail(t, IMSS_ERR_IO,
			                      _("'%s' is larger than %lu MiB; it was not read."),
			                      path, TOOL_INPUT_MAX / (1024 * 1024));
			goto out;
		}
	}
	*data = buf;
	*len = used;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Output files: the library's atomic writer, mode 0644 less the umask. */
int
tool_write_file(struct tool *t, const char *path, const void *data, size_t len, int replace)
{
	imss_ctx *ctx = NULL;
	imss_err err;

	err = tool_ctx(t, &ctx);
	if (err == IMSS_OK)
		err = imss_write_file_atomic(ctx, path, data, len, OUTPUT_MODE, replace);
	if (err == IMSS_ERR_EXISTS)
		return tool_fail_detail(t, IMSS_ERR_IO,
		                        _("'%s' exists already; it was left as it is.  Use --force to replace it."),
		                        path);
	return err == IMSS_OK ? TOOL_EXIT_OK : tool_fail(t, err, 0);
}

int
tool_pem_encode(struct tool *t, const char *pem_type, const unsigned char *data, size_t len,
                char **pem, size_t *pem_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *text = NULL;
	long n;

	*pem = NULL;
	*pem_len = 0;
	if (!bio || PEM_write_bio(bio, pem_type, "", data, (long)len) <= 0 ||
	    (n = BIO_get_mem_data(bio, &text)) <= 0 || !(*pem = malloc((size_t)n))) {
		BIO_free(bio);
		ERR_clear_error();
		return tool_fail(t, IMSS_ERR_NOMEM, 0);
	}
	memcpy(*pem, text, (size_t)n);
	*pem_len = (size_t)n;
	BIO_free(bio);
	return TOOL_EXIT_OK;
}

int
tool_write_encoded(struct tool *t, const char *path, int replace, int der, const char *pem_type,
                   const unsigned char *data, size_t len)
{
	char *pem = NULL;
	size_t pem_len = 0;
	int rc = TOOL_EXIT_OK;

	if (!der) {
		rc = tool_pem_encode(t, pem_type, data, len, &pem, &pem_len);
		if (rc != TOOL_EXIT_OK)
			return rc;
		data = (const unsigned char *)pem;
		len = pem_len;
	}
	if (path)
		rc = tool_write_file(t, path, data, len, replace);
	else if (len > 0)
		fwrite(data, 1, len, stdout); /* main() checks stdout at exit */
	free(pem);
	return rc;
}
