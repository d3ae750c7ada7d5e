/*
 * testhttp: response buffer and header parsing for libcurl (see
 * testhttp.h).
 */
#include "testhttp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t
testhttp_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	testhttp_buf *b = arg;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->len + n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

void
testhttp_grab_header(const char *line, size_t n, const char *name,
		     char *out, size_t cap)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
	    line[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}
