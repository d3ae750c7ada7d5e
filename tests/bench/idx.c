/*
 * idx: IDX file reader and the Fashion-MNIST loader used by bench_core.
 *
 * Gzip'd files are decompressed by a gzip child through popen so that the
 * build needs no zlib; the whole stream is read to EOF before pclose, so
 * gzip's exit status reliably tells a damaged archive from a good one.
 */
#define _POSIX_C_SOURCE 200809L /* popen, pclose */

#include "idx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define IDX_TYPE_UBYTE 0x08

static int
ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* "gzip -dc -- 'path'" with path single-quoted for /bin/sh; malloc'd. */
static char *
gzip_command(const char *path)
{
	static const char prefix[] = "gzip -dc -- '";
	size_t len = sizeof(prefix) + 2, i;
	char *cmd, *p;

	for (i = 0; path[i] != '\0'; i++)
		len += path[i] == '\'' ? 4 : 1; /* ' becomes '\'' */
	cmd = malloc(len);
	if (cmd == NULL)
		return NULL;
	p = cmd + (sizeof(prefix) - 1);
	memcpy(cmd, prefix, sizeof(prefix) - 1);
	for (i = 0; path[i] != '\0'; i++) {
		if (path[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = path[i];
		}
	}
	*p++ = '\'';
	*p = '\0';
	return cmd;
}

/* Reads exactly n bytes; 0, or -1 at EOF or on an error before that. */
static int
read_exact(FILE *fp, void *buf, size_t n)
{
	return fread(buf, 1, n, fp) == n ? 0 : -1;
}

static uint32_t
be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Parses the header and payload from fp into a (which owns data on
 * success); does not close fp. */
static int
read_stream(FILE *fp, const char *path, idx_array *a, fault *f)
{
	unsigned char head[4], dim[4];
	size_t count = 1;
	uint32_t i;

	if (read_exact(fp, head, sizeof(head)) != 0)
		return fault_set(f, FAULT_CORRUPT, "%s: no IDX header", path);
	if (head[0] != 0 || head[1] != 0)
		return fault_set(f, FAULT_CORRUPT,
				 "%s: bad IDX magic %02x%02x", path, head[0],
				 head[1]);
	if (head[2] != IDX_TYPE_UBYTE)
		return fault_set(f, FAULT_CORRUPT,
				 "%s: IDX type 0x%02x is not unsigned byte",
				 path, head[2]);
	if (head[3] == 0 || head[3] > IDX_MAX_DIMS)
		return fault_set(f, FAULT_CORRUPT,
				 "%s: IDX dimension count %u out of 1..%d",
				 path, head[3], IDX_MAX_DIMS);
	a->ndims = head[3];
	for (i = 0; i < a->ndims; i++) {
		if (read_exact(fp, dim, sizeof(dim)) != 0)
			return fault_set(f, FAULT_CORRUPT,
					 "%s: IDX header truncated", path);
		a->dims[i] = be32(dim);
		if (a->dims[i] == 0)
			return fault_set(f, FAULT_CORRUPT,
					 "%s: IDX dimension %u is zero", path,
					 i);
		if (count > IDX_MAX_BYTES / a->dims[i])
			return fault_set(f, FAULT_CORRUPT,
					 "%s: IDX payload over %zu bytes", path,
					 IDX_MAX_BYTES);
		count *= a->dims[i];
	}
	a->data = malloc(count);
	if (a->data == NULL)
		return fault_set(f, FAULT_NOMEM, "%s: no memory for %zu bytes",
				 path, count);
	a->count = count;
	if (read_exact(fp, a->data, count) != 0)
		return fault_set(f, ferror(fp) ? FAULT_INTERNAL : FAULT_CORRUPT,
				 "%s: payload truncated (%zu bytes expected)",
				 path, count);
	if (fgetc(fp) != EOF)
		return fault_set(f, FAULT_CORRUPT,
				 "%s: trailing bytes after the IDX payload",
				 path);
	return 0;
}

int
idx_read(const char *path, idx_array *a, fault *f)
{
	int gz, rc = -1, status;
	char *cmd = NULL;
	FILE *fp = NULL;

	memset(a, 0, sizeof(*a));
	if (access(path, R_OK) != 0)
		return fault_set(f, FAULT_INTERNAL, "cannot read %s: %s", path,
				 strerror(errno));
	gz = ends_with(path, ".gz");
	if (gz) {
		cmd = gzip_command(path);
		if (cmd == NULL) {
			fault_set(f, FAULT_NOMEM, "no memory for a command");
			goto out;
		}
		fflush(NULL); /* the child must not inherit buffered output */
		fp = popen(cmd, "r");
	} else {
		fp = fopen(path, "rb");
	}
	if (fp == NULL) {
		fault_set(f, FAULT_INTERNAL, "cannot open %s: %s", path,
			  strerror(errno));
		goto out;
	}
	rc = read_stream(fp, path, a, f);
	if (gz) {
		status = pclose(fp);
		if (rc == 0 && (status == -1 || !WIFEXITED(status) ||
				WEXITSTATUS(status) != 0)) {
			rc = fault_set(f, FAULT_INTERNAL,
				       "gzip -dc %s failed (status %d)", path,
				       status);
		}
	} else {
		fclose(fp);
	}
out:
	free(cmd);
	if (rc != 0)
		idx_array_free(a);
	return rc;
}

void
idx_array_free(idx_array *a)
{
	if (a == NULL)
		return;
	free(a->data);
	memset(a, 0, sizeof(*a));
}

int
idx_dataset_alloc(idx_dataset *d, size_t n, size_t n_in, size_t n_out,
		  fault *f)
{
	memset(d, 0, sizeof(*d));
	if (n == 0 || n_in == 0 || n_out == 0)
		return fault_set(f, FAULT_INVALID, "empty data set shape");
	if (n > SIZE_MAX / sizeof(float) / n_in ||
	    n > SIZE_MAX / sizeof(float) / n_out)
		return fault_set(f, FAULT_NOMEM, "data set size overflows");
	d->x = calloc(n * n_in, sizeof(float));
	d->y = calloc(n * n_out, sizeof(float));
	if (d->x == NULL || d->y == NULL) {
		idx_dataset_free(d);
		return fault_set(f, FAULT_NOMEM,
				 "no memory for %zu samples of %zu + %zu "
				 "floats", n, n_in, n_out);
	}
	d->n = n;
	d->n_in = n_in;
	d->n_out = n_out;
	return 0;
}

void
idx_dataset_free(idx_dataset *d)
{
	if (d == NULL)
		return;
	free(d->x);
	free(d->y);
	memset(d, 0, sizeof(*d));
}

/* Puts dir/base.gz, or else dir/base, into buf when readable. */
static int
find_file(const char *dir, const char *base, char *buf, size_t size, fault *f)
{
	int len;

	len = snprintf(buf, size, "%s/%s.gz", dir, base);
	if (len < 0 || (size_t)len >= size)
		return fault_set(f, FAULT_INVALID, "data path too long: %s",
				 dir);
	if (access(buf, R_OK) == 0)
		return 0;
	buf[len - 3] = '\0'; /* drop ".gz" */
	if (access(buf, R_OK) == 0)
		return 0;
	return fault_set(f, FAULT_INTERNAL, "no readable %s/%s[.gz]", dir,
			 base);
}

int
idx_fashion_load(const char *dir, size_t max_n, idx_dataset *d, fault *f)
{
	char path[PATH_MAX];
	idx_array img, lab;
	size_t n, n_in, i, j;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	memset(&img, 0, sizeof(img));
	memset(&lab, 0, sizeof(lab));
	if (find_file(dir, "train-images-idx3-ubyte", path, sizeof(path),
		      f) != 0 ||
	    idx_read(path, &img, f) != 0)
		goto out;
	if (img.ndims != 3 ||
	    (size_t)img.dims[1] * img.dims[2] != IDX_FASHION_INPUTS) {
		fault_set(f, FAULT_CORRUPT, "%s: not a set of 28 x 28 images",
			  path);
		goto out;
	}
	if (find_file(dir, "train-labels-idx1-ubyte", path, sizeof(path),
		      f) != 0 ||
	    idx_read(path, &lab, f) != 0)
		goto out;
	if (lab.ndims != 1) {
		fault_set(f, FAULT_CORRUPT, "%s: %u dimensions, not 1", path,
			  lab.ndims);
		goto out;
	}
	if (lab.dims[0] != img.dims[0]) {
		fault_set(f, FAULT_CORRUPT, "%s: %u labels for %u images",
			  path, lab.dims[0], img.dims[0]);
		goto out;
	}
	n = img.dims[0];
	if (max_n != 0 && max_n < n)
		n = max_n;
	n_in = IDX_FASHION_INPUTS;
	if (idx_dataset_alloc(d, n, n_in, IDX_FASHION_CLASSES, f) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (lab.data[i] >= IDX_FASHION_CLASSES) {
			fault_set(f, FAULT_CORRUPT,
				  "%s: label %u of sample %zu out of 0..%d",
				  path, lab.data[i], i,
				  IDX_FASHION_CLASSES - 1);
			goto out;
		}
		for (j = 0; j < n_in; j++)
			d->x[i * n_in + j] = img.data[i * n_in + j] / 255.0f;
		d->y[i * IDX_FASHION_CLASSES + lab.data[i]] = 1.0f;
	}
	rc = 0;
out:
	idx_array_free(&img);
	idx_array_free(&lab);
	if (rc != 0)
		idx_dataset_free(d);
	return rc;
}
