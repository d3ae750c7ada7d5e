/*
 * origin: the Host and Origin policy (see origin.h).
 */
#include "origin.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* True for a DNS name: labels of letters, digits and '-', dot-separated. */
static int
dns_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			/* no empty label, none ending in '-' */
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c == '-' && label == 0)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') || ++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

/* True when s (n bytes) is empty or a decimal port 1..65535. */
static int
port_ok(const char *s, size_t n)
{
	unsigned long v = 0;

	if (n == 0)
		return 1;
	if (n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Splits "name[:port]" or "[v6][:port]": the name (brackets stripped) in
 * *name and *nlen; 0 when the port part is malformed. */
static int
split_host(const char *h, const char **name, size_t *nlen)
{
	const char *colon;

	if (h[0] == '[') {
		const char *end = strchr(h, ']');

		if (end == NULL)
			return 0;
		*name = h + 1;
		*nlen = (size_t)(end - h - 1);
		if (end[1] == '\0')
			return 1;
		return end[1] == ':' && port_ok(end + 2, strlen(end + 2));
	}
	colon = strchr(h, ':');
	*name = h;
	*nlen = colon ? (size_t)(colon - h) : strlen(h);
	return colon == NULL || port_ok(colon + 1, strlen(colon + 1));
}

/* True when name (n bytes) is an IPv4 or IPv6 literal. */
static int
ip_literal(const char *name, size_t n)
{
	char buf[64];
	unsigned char addr[16];

	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 ||
	    inet_pton(AF_INET6, buf, addr) == 1;
}

/* True when name (n bytes) equals s, ignoring case and one trailing dot. */
static int
same_name(const char *name, size_t n, const char *s)
{
	size_t sl = strlen(s);

	if (n > 0 && name[n - 1] == '.')
		n--;
	return n == sl && strncasecmp(name, s, n) == 0;
}

/* True for "http://host[:port]" or "https://...", without a path. */
static int
origin_syntax_ok(const char *o)
{
	const char *rest, *name;
	size_t nlen;

	if (strncasecmp(o, "http://", 7) == 0)
		rest = o + 7;
	else if (strncasecmp(o, "https://", 8) == 0)
		rest = o + 8;
	else
		return 0;
	if (strchr(rest, '/') != NULL || !split_host(rest, &name, &nlen))
		return 0;
	return dns_name(name, nlen) || ip_literal(name, nlen);
}

int
origin_add_list(origin_policy *p, char *list, int is_origin, fault *f)
{
	const char *flag = is_origin ? "--cors-origin" : "--allowed-hosts";
	char *save = NULL;

	for (char *t = strtok_r(list, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		const char **slot;
		size_t *n = is_origin ? &p->norigins : &p->nhosts;

		while (*t == ' ')
			t++;
		if (*t == '\0')
			continue;
		if (is_origin ? !origin_syntax_ok(t) : !dns_name(t, strlen(t)))
			return fault_set(f, FAULT_INVALID, "%s: '%.80s' is not "
			    "%s", flag, t, is_origin ? "an origin such as "
			    "https://app.example:8443 (scheme, host, optional "
			    "port, no path)" : "a host name");
		if (*n == ORIGIN_MAX_LIST)
			return fault_set(f, FAULT_INVALID, "%s: at most %d "
			    "names", flag, ORIGIN_MAX_LIST);
		slot = is_origin ? &p->origins[*n] : &p->hosts[*n];
		*slot = t;
		(*n)++;
	}
	return 0;
}

int
origin_host_ok(const origin_policy *p, const char *host)
{
	const char *name;
	size_t nlen;

	if (p->host_free || host == NULL)
		return 1;
	if (!split_host(host, &name, &nlen))
		return 0;
	if (ip_literal(name, nlen) || same_name(name, nlen, "localhost"))
		return 1;
	for (size_t i = 0; i < p->nhosts; i++)
		if (same_name(name, nlen, p->hosts[i]))
			return 1;
	return 0;
}

int
origin_listed(const origin_policy *p, const char *origin)
{
	if (origin == NULL)
		return 0;
	for (size_t i = 0; i < p->norigins; i++)
		if (strcasecmp(origin, p->origins[i]) == 0)
			return 1;
	return 0;
}

int
origin_write_ok(const origin_policy *p, const char *origin,
		const char *host)
{
	const char *scheme = p->tls ? "https://" : "http://";
	size_t sl = strlen(scheme);

	if (origin == NULL || origin_listed(p, origin))
		return 1;
	/* the daemon's own origin: its scheme and the Host it was asked as */
	return host != NULL && strncasecmp(origin, scheme, sl) == 0 &&
	    strcasecmp(origin + sl, host) == 0;
}
