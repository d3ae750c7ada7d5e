/*
 * tls: the certificate and private key for HTTPS, read from their PEM
 * files once at start (--tls-cert, --tls-key) and handed to http, which
 * gives them to libmicrohttpd's GnuTLS support.
 *
 * Only the shape is checked here (readable, not empty, not huge, a PEM
 * block of the right kind); whether GnuTLS can use them, and whether the
 * key matches the certificate, is decided when http starts, whose error
 * then carries GnuTLS's reason.
 */
#ifndef MLPD_TLS_H
#define MLPD_TLS_H

#include "fault.h"

/* The largest PEM file read (a long certificate chain fits easily). */
#define TLS_PEM_MAX (1024 * 1024)

typedef struct tls_creds {
	char *cert_pem; /* NUL-terminated PEM: the certificate, then its chain */
	char *key_pem;  /* NUL-terminated PEM private key; wiped at destroy */
} tls_creds;

/* Reads both files. NULL with f set (naming the file and the problem) on
 * failure. */
tls_creds *tls_creds_load(const char *cert_path, const char *key_path,
			  fault *f);

/* Wipes the key and frees c; NULL is a no-op. */
void tls_creds_destroy(tls_creds *c);

#endif
