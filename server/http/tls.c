/*
 * tls: PEM files for HTTPS (see tls.h).
 */
#include "tls.h"

#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_GNUTLS
#include <gnutls/gnutls.h>
#endif

#include "log.h"

/* The whole file at path as a NUL-terminated string that holds a PEM
 * block whose label contains kind ("CERTIFICATE", "PRIVATE KEY"); NULL
 * with f set. flag names the option in messages. */
static char *
read_pem(const char *flag, const char *path, const char *kind, fault *f)
{
	struct stat sb;
	char *buf = NULL, *begin;
	size_t n = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fault_set(f, FAULT_INVALID, "%s %s: cannot open: %s", flag,
		    path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fault_set(f, FAULT_INVALID, "%s %s: not a regular file", flag,
		    path);
		goto fail;
	}
	if (sb.st_size <= 0 || sb.st_size > TLS_PEM_MAX) {
		fault_set(f, FAULT_INVALID, "%s %s: %s (a PEM file of at most "
		    "%d bytes is expected)", flag, path, sb.st_size <= 0 ?
		    "empty" : "too big", TLS_PEM_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto fail;
	}
	while (n < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fault_set(f, FAULT_INVALID, "%s %s: cannot read: %s",
			    flag, path, r < 0 ? strerror(errno) :
			    "the file shrank");
			goto fail;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	/* "-----BEGIN CERTIFICATE-----", "-----BEGIN RSA PRIVATE KEY-----",
	 * "-----BEGIN EC PRIVATE KEY-----", ... */
	begin = strstr(buf, "-----BEGIN ");
	if (begin == NULL || strlen(buf) != n) {
		fault_set(f, FAULT_INVALID, "%s %s: not a PEM file (no "
		    "\"-----BEGIN\" line)", flag, path);
		goto fail;
	}
	{
		const char *eol = strstr(begin + 11, "-----");
		const char *k = strstr(begin + 11, kind);

		if (eol == NULL || k == NULL || k > eol) {
			fault_set(f, FAULT_INVALID, "%s %s: the first PEM "
			    "block is not a %s", flag, path, kind);
			goto fail;
		}
	}
	close(fd);
	return buf;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, n);
		free(buf);
	}
	close(fd);
	return NULL;
}

#ifdef HAVE_GNUTLS
/* GnuTLS's verdict on the pair, as libmicrohttpd will load it: 0, or -1
 * with f saying why (a key that does not match the certificate, a PEM
 * block that does not decode, ...). */
static int
check_pair(const tls_creds *c, const char *cert_path, const char *key_path,
	   fault *f)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert, key;
	int rc;

	cert.data = (unsigned char *)c->cert_pem;
	cert.size = (unsigned)strlen(c->cert_pem);
	key.data = (unsigned char *)c->key_pem;
	key.size = (unsigned)strlen(c->key_pem);
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key,
	    GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0)
		return fault_set(f, FAULT_INVALID, "--tls-cert %s with "
		    "--tls-key %s: %s", cert_path, key_path,
		    gnutls_strerror(rc));
	return 0;
}
#endif

tls_creds *
tls_creds_load(const char *cert_path, const char *key_path, fault *f)
{
	tls_creds *c = calloc(1, sizeof *c);
	struct stat sb;

	if (c == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	c->cert_pem = read_pem("--tls-cert", cert_path, "CERTIFICATE", f);
	if (c->cert_pem == NULL)
		goto fail;
	c->key_pem = read_pem("--tls-key", key_path, "PRIVATE KEY", f);
	if (c->key_pem == NULL)
		goto fail;
	if (stat(key_path, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
		log_warn("--tls-key %s: group or others may read it (mode "
		    "%04o); chmod 600 it", key_path,
		    (unsigned)(sb.st_mode & 07777));
#ifdef HAVE_GNUTLS
	if (check_pair(c, cert_path, key_path, f) < 0)
		goto fail;
#endif
	return c;
fail:
	tls_creds_destroy(c);
	return NULL;
}

void
tls_creds_destroy(tls_creds *c)
{
	if (c == NULL)
		return;
	free(c->cert_pem);
	if (c->key_pem != NULL) {
		explicit_bzero(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	free(c);
}
