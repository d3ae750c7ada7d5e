/*
 * check_origin: unit tests of server/http/origin.c, the Host and Origin
 * policy (DNS rebinding, cross-site writes, --allowed-hosts and
 * --cors-origin). tests/safety.sh runs the same rules against mlpd.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"

/* A policy with the given lists (copied: origin_add_list cuts them). */
static void
policy(origin_policy *p, const char *hosts, const char *origins)
{
	static char hbuf[256], obuf[256];
	fault f;

	memset(p, 0, sizeof *p);
	if (hosts != NULL) {
		strcpy(hbuf, hosts);
		ck_assert_msg(origin_add_list(p, hbuf, 0, &f) == 0, "%s",
		    f.msg);
	}
	if (origins != NULL) {
		strcpy(obuf, origins);
		ck_assert_msg(origin_add_list(p, obuf, 1, &f) == 0, "%s",
		    f.msg);
	}
}

START_TEST(test_host)
{
	static const char *const good[] = {
		"127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST:80",
		"localhost.", "[::1]", "[::1]:8080", "10.1.2.3:9", NULL
	};
	static const char *const bad[] = {
		"attacker.example", "attacker.example:8080", "localhost.evil",
		"127.0.0.1.nip.io", "[::1", "[::1]x", "127.0.0.1:0",
		"127.0.0.1:99999", "127.0.0.1:80a", "", "mlpd.internal", NULL
	};
	origin_policy p;

	policy(&p, NULL, NULL);
	for (size_t i = 0; good[i]; i++)
		ck_assert_msg(origin_host_ok(&p, good[i]), "%s refused",
		    good[i]);
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(!origin_host_ok(&p, bad[i]), "%s taken", bad[i]);
	/* HTTP/1.0 may send none: no browser does */
	ck_assert(origin_host_ok(&p, NULL));
	/* --allowed-hosts adds names, with or without a port */
	policy(&p, "mlpd.internal,Box.Lan", NULL);
	ck_assert(origin_host_ok(&p, "mlpd.internal"));
	ck_assert(origin_host_ok(&p, "mlpd.internal:8443"));
	ck_assert(origin_host_ok(&p, "box.lan"));
	ck_assert(!origin_host_ok(&p, "attacker.example"));
	/* a token frees Host */
	p.host_free = 1;
	ck_assert(origin_host_ok(&p, "attacker.example"));
}
END_TEST

START_TEST(test_write)
{
	origin_policy p;

	policy(&p, NULL, "https://app.example:8443");
	/* no Origin: not a browser's cross-site request */
	ck_assert(origin_write_ok(&p, NULL, "127.0.0.1:8080"));
	/* the daemon's own origin, as the dashboard sends it */
	ck_assert(origin_write_ok(&p, "http://127.0.0.1:8080",
	    "127.0.0.1:8080"));
	ck_assert(origin_write_ok(&p, "http://LOCALHOST:8080",
	    "localhost:8080"));
	/* another port, scheme or host is another origin */
	ck_assert(!origin_write_ok(&p, "http://127.0.0.1:8081",
	    "127.0.0.1:8080"));
	ck_assert(!origin_write_ok(&p, "https://127.0.0.1:8080",
	    "127.0.0.1:8080"));
	ck_assert(!origin_write_ok(&p, "http://attacker.example",
	    "127.0.0.1:8080"));
	ck_assert(!origin_write_ok(&p, "null", "127.0.0.1:8080"));
	ck_assert(!origin_write_ok(&p, "http://127.0.0.1:8080", NULL));
	/* listed */
	ck_assert(origin_listed(&p, "https://app.example:8443"));
	ck_assert(origin_write_ok(&p, "https://app.example:8443",
	    "127.0.0.1:8080"));
	ck_assert(!origin_listed(&p, "https://app.example"));
	/* under TLS the own origin is https */
	p.tls = 1;
	ck_assert(origin_write_ok(&p, "https://127.0.0.1:8443",
	    "127.0.0.1:8443"));
	ck_assert(!origin_write_ok(&p, "http://127.0.0.1:8443",
	    "127.0.0.1:8443"));
}
END_TEST

START_TEST(test_lists)
{
	static const char *const bad_hosts[] = {
		"a b", "host/x", "-", "a..b", "x:80", NULL
	};
	static const char *const bad_origins[] = {
		"app.example", "ftp://app.example", "https://app.example/",
		"https://app.example/x", "https://", "https://a b", NULL
	};
	origin_policy p;
	char buf[128];
	fault f;

	for (size_t i = 0; bad_hosts[i]; i++) {
		memset(&p, 0, sizeof p);
		strcpy(buf, bad_hosts[i]);
		ck_assert_msg(origin_add_list(&p, buf, 0, &f) < 0, "%s",
		    bad_hosts[i]);
		ck_assert(strstr(f.msg, "--allowed-hosts") != NULL);
	}
	for (size_t i = 0; bad_origins[i]; i++) {
		memset(&p, 0, sizeof p);
		strcpy(buf, bad_origins[i]);
		ck_assert_msg(origin_add_list(&p, buf, 1, &f) < 0, "%s",
		    bad_origins[i]);
		ck_assert(strstr(f.msg, "--cors-origin") != NULL);
	}
	/* commas and spaces, and repeated flags add up */
	memset(&p, 0, sizeof p);
	strcpy(buf, "a.example, b.example,,");
	ck_assert_int_eq(origin_add_list(&p, buf, 0, &f), 0);
	ck_assert_uint_eq(p.nhosts, 2);
	ck_assert(origin_host_ok(&p, "b.example"));
	/* at most ORIGIN_MAX_LIST */
	memset(&p, 0, sizeof p);
	for (int i = 0; i < ORIGIN_MAX_LIST; i++) {
		static char names[ORIGIN_MAX_LIST][16];

		snprintf(names[i], sizeof names[i], "h%d.example", i);
		ck_assert_int_eq(origin_add_list(&p, names[i], 0, &f), 0);
	}
	strcpy(buf, "one.more");
	ck_assert_int_lt(origin_add_list(&p, buf, 0, &f), 0);
}
END_TEST

static Suite *
origin_suite(void)
{
	Suite *s = suite_create("origin");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_write);
	tcase_add_test(tc, test_lists);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(origin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
