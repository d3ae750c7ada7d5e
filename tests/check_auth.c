/*
 * check_auth: unit tests of server/http/auth.c (the token file, the
 * constant-time comparison, the Authorization header, the guarded paths,
 * loopback addresses) and of the access flags in server/config.c (the
 * refusal of an exposed address without a token, MLPD_TOKEN_FILE, TLS
 * files in pairs). tests/auth_tls.sh runs the same rules end to end.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "testlib.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

static const char *dir; /* this test's private directory */

/* Writes len bytes of text to a fresh file of mode 600; its path. */
static const char *
token_file(const char *text, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/token", dir);
	unlink(path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0600), 0);
	return path;
}

static auth *
load(const char *text, fault *f)
{
	fault_clear(f);
	return auth_create(token_file(text, strlen(text)), f);
}

static void
setup(void)
{
	dir = tl_tmpdir();
}

START_TEST(test_equal)
{
	const char *w = TOKEN;
	size_t wl = strlen(w);

	ck_assert_int_eq(auth_equal(w, wl, w, wl), 1);
	ck_assert_int_eq(auth_equal(TOKEN, wl, w, wl), 1);
	/* every prefix, and every extension, is refused */
	for (size_t n = 0; n < wl; n++)
		ck_assert_msg(!auth_equal(w, n, w, wl), "prefix %zu", n);
	ck_assert_int_eq(auth_equal(TOKEN "0", wl + 1, w, wl), 0);
	ck_assert_int_eq(auth_equal(TOKEN TOKEN, 2 * wl, w, wl), 0);
	/* one byte off anywhere */
	for (size_t i = 0; i < wl; i++) {
		char g[64];

		memcpy(g, w, wl);
		g[i] ^= 1;
		ck_assert_msg(!auth_equal(g, wl, w, wl), "byte %zu", i);
	}
	/* a given length past the wanted one is never read past its end,
	 * nor is a zero-length given read at all */
	ck_assert_int_eq(auth_equal(NULL, 0, w, wl), 0);
	ck_assert_int_eq(auth_equal("", 0, "", 0), 1);
	/* a length that differs by a multiple of 256 still differs */
	{
		char *big = malloc(wl + 256);

		ck_assert_ptr_nonnull(big);
		memcpy(big, w, wl);
		memset(big + wl, 0, 256);
		ck_assert_int_eq(auth_equal(big, wl + 256, w, wl), 0);
		free(big);
	}
}
END_TEST

START_TEST(test_token_file)
{
	fault f;
	auth *a;

	/* one trailing LF or CRLF is not part of the token */
	a = load(TOKEN "\n", &f);
	ck_assert_msg(a != NULL, "%s", f.msg);
	ck_assert_int_eq(auth_check_token(a, TOKEN), 1);
	ck_assert_int_eq(auth_check_token(a, TOKEN "\n"), 0);
	auth_destroy(a);
	a = load(TOKEN "\r\n", &f);
	ck_assert_msg(a != NULL, "%s", f.msg);
	ck_assert_int_eq(auth_check_token(a, TOKEN), 1);
	auth_destroy(a);
	a = load(TOKEN, &f);
	ck_assert_msg(a != NULL, "%s", f.msg);
	ck_assert_int_eq(auth_check_token(a, TOKEN), 1);
	ck_assert_int_eq(auth_check_token(a, NULL), 0);
	auth_destroy(a);
	auth_destroy(NULL);

	/* 16 bytes is the least */
	a = load("0123456789abcdef\n", &f);
	ck_assert_msg(a != NULL, "%s", f.msg);
	auth_destroy(a);
	ck_assert_ptr_null(load("0123456789abcde\n", &f));
	ck_assert_ptr_nonnull(strstr(f.msg, "15 bytes, at least 16"));
	ck_assert_ptr_null(strstr(f.msg, "0123456789abcde"));
	ck_assert_ptr_null(load("", &f));
	ck_assert_ptr_nonnull(strstr(f.msg, "empty"));
	ck_assert_ptr_null(load("\n", &f));
	ck_assert_ptr_nonnull(strstr(f.msg, "empty"));
	/* a second line, a space, a tab or a control byte is refused */
	ck_assert_ptr_null(load(TOKEN "\n\n", &f));
	ck_assert_ptr_null(load(TOKEN "\nsecond", &f));
	ck_assert_ptr_null(load("0123456789 abcdef0123", &f));
	ck_assert_ptr_nonnull(strstr(f.msg, "byte 11 is 0x20"));
	ck_assert_ptr_null(load("0123456789\tabcdef0123", &f));
	ck_assert_ptr_null(load("0123456789\001abcdef0123", &f));
	ck_assert_ptr_null(load("0123456789\xc3\xa9" "abcdef0123", &f));
	/* AUTH_TOKEN_MAX bytes fit, one more does not */
	{
		char *big = malloc(AUTH_TOKEN_MAX + 2);

		ck_assert_ptr_nonnull(big);
		memset(big, 'x', AUTH_TOKEN_MAX + 1);
		big[AUTH_TOKEN_MAX] = '\0';
		a = load(big, &f);
		ck_assert_msg(a != NULL, "%s", f.msg);
		ck_assert_int_eq(auth_check_token(a, big), 1);
		auth_destroy(a);
		big[AUTH_TOKEN_MAX] = 'x';
		big[AUTH_TOKEN_MAX + 1] = '\0';
		ck_assert_ptr_null(load(big, &f));
		ck_assert_ptr_nonnull(strstr(f.msg, "longer than"));
		free(big);
	}
	/* a missing file, a directory */
	fault_clear(&f);
	ck_assert_ptr_null(auth_create("/nonexistent/mlpd-token", &f));
	ck_assert_ptr_nonnull(strstr(f.msg, "cannot open"));
	ck_assert_ptr_null(auth_create(dir, &f));
	ck_assert_ptr_nonnull(strstr(f.msg, "not a regular file"));
}
END_TEST

START_TEST(test_header)
{
	fault f;
	auth *a = load(TOKEN "\n", &f);

	ck_assert_msg(a != NULL, "%s", f.msg);
	ck_assert_int_eq(auth_check_header(a, "Bearer " TOKEN), 1);
	ck_assert_int_eq(auth_check_header(a, "bearer " TOKEN), 1);
	ck_assert_int_eq(auth_check_header(a, "BEARER\t" TOKEN " "), 1);
	ck_assert_int_eq(auth_check_header(a, "  Bearer   " TOKEN), 1);
	ck_assert_int_eq(auth_check_header(a, NULL), 0);
	ck_assert_int_eq(auth_check_header(a, ""), 0);
	ck_assert_int_eq(auth_check_header(a, "Bearer"), 0);
	ck_assert_int_eq(auth_check_header(a, "Bearer "), 0);
	ck_assert_int_eq(auth_check_header(a, "Bearer" TOKEN), 0);
	ck_assert_int_eq(auth_check_header(a, TOKEN), 0);
	ck_assert_int_eq(auth_check_header(a, "Basic " TOKEN), 0);
	ck_assert_int_eq(auth_check_header(a, "Bearer " TOKEN "0"), 0);
	ck_assert_int_eq(auth_check_header(a, "Bearer 0123456789abcdef"), 0);
	ck_assert_int_eq(auth_check_header(a, "Bearer " TOKEN " x"), 0);
	ck_assert_int_eq(auth_check_header(NULL, "Bearer " TOKEN), 0);
	auth_destroy(a);
}
END_TEST

START_TEST(test_paths)
{
	ck_assert_int_eq(auth_path_protected("/"), 0);
	ck_assert_int_eq(auth_path_protected("/healthz"), 0);
	ck_assert_int_eq(auth_path_protected("/metrics"), 1);
	ck_assert_int_eq(auth_path_protected("/v1/models"), 1);
	ck_assert_int_eq(auth_path_protected("/v1/events"), 1);
	ck_assert_int_eq(auth_path_protected("/v1"), 1);
	ck_assert_int_eq(auth_path_protected("/healthz/"), 1);
	ck_assert_int_eq(auth_path_protected("/anything"), 1);
	ck_assert_int_eq(auth_path_protected(""), 1);
	ck_assert_int_eq(auth_route_takes_query_token("/v1/events"), 1);
	ck_assert_int_eq(auth_route_takes_query_token("/v1/models/*/events"),
	    1);
	ck_assert_int_eq(auth_route_takes_query_token("/v1/models"), 0);
	ck_assert_int_eq(auth_route_takes_query_token("/metrics"), 0);
	ck_assert_int_eq(auth_route_takes_query_token("/v1/models/*"), 0);
}
END_TEST

START_TEST(test_loopback)
{
	static const char *yes[] = { "127.0.0.1", "127.0.0.2", "127.255.255.254",
	    "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost",
	    "LocalHost" };
	static const char *no[] = { "0.0.0.0", "::", "10.0.0.1", "128.0.0.1",
	    "126.255.255.255", "192.168.1.1", "::2", "fe80::1", "::ffff:10.0.0.1",
	    "example.com", "localhost.example.com", "127.1", "", "[::1]" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(auth_host_is_loopback(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!auth_host_is_loopback(no[i]), "%s", no[i]);
}
END_TEST

/* config_parse on a NULL-terminated argument list. */
static config_result
parse(config *c, fault *f, const char **args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"mlpd";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	config_default(c);
	fault_clear(f);
	return config_parse(c, argc, argv, f);
}

START_TEST(test_config)
{
	config c;
	fault f;

	unsetenv("MLPD_TOKEN_FILE");
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ NULL }), CONFIG_RUN);
	ck_assert_ptr_null(c.token_file);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "0.0.0.0:80", NULL }), CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(f.msg, "refusing to listen on 0.0.0.0"));
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "[::]:80", NULL }), CONFIG_ERROR);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "10.1.2.3:80", NULL }), CONFIG_ERROR);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "0.0.0.0:80", "--insecure", NULL }), CONFIG_RUN);
	ck_assert_int_eq(c.insecure, 1);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "0.0.0.0:80", "--token-file", "/x", NULL }), CONFIG_RUN);
	ck_assert_str_eq(c.token_file, "/x");
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "[::1]:80", NULL }), CONFIG_RUN);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "localhost:80", NULL }), CONFIG_RUN);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--token-file", "",
	    NULL }), CONFIG_ERROR);

	/* the environment, and the flag over it */
	setenv("MLPD_TOKEN_FILE", "/from-env", 1);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--listen",
	    "0.0.0.0:80", NULL }), CONFIG_RUN);
	ck_assert_str_eq(c.token_file, "/from-env");
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--token-file",
	    "/flag", NULL }), CONFIG_RUN);
	ck_assert_str_eq(c.token_file, "/flag");
	setenv("MLPD_TOKEN_FILE", "", 1);
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ NULL }), CONFIG_RUN);
	ck_assert_ptr_null(c.token_file);
	unsetenv("MLPD_TOKEN_FILE");

	/* TLS files come in pairs */
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--tls-cert", "c",
	    NULL }), CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(f.msg, "--tls-key is missing"));
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--tls-key", "k",
	    NULL }), CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(f.msg, "--tls-cert is missing"));
	ck_assert_int_eq(parse(&c, &f, (const char *[]){ "--tls-cert", "c",
	    "--tls-key", "k", NULL }), CONFIG_RUN);
	ck_assert_str_eq(c.tls_cert, "c");
	ck_assert_str_eq(c.tls_key, "k");
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_token_file);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_loopback);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(auth_suite(), LOG_INFO);
}
