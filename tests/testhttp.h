/*
 * testhttp: the libcurl plumbing the in-process API tests share: a growing
 * response buffer and a header-line parser for header callbacks.
 */
#ifndef MLPD_TESTHTTP_H
#define MLPD_TESTHTTP_H

#include <stddef.h>

typedef struct testhttp_buf {
	char *p;    /* NUL-terminated body so far; caller frees */
	size_t len;
} testhttp_buf;

/* libcurl write callback: appends to the testhttp_buf in arg. */
size_t testhttp_on_body(char *data, size_t size, size_t nmemb, void *arg);

/* Copies the value of a header line "Name: value\r\n" (n bytes) into out
 * (cap bytes, NUL-terminated) when its name is name; else leaves out. */
void testhttp_grab_header(const char *line, size_t n, const char *name,
			  char *out, size_t cap);

#endif
