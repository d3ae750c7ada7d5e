/*
 * expect.h: Check assertions on calls that return 0 or -1 and fill a
 * fault (core/fault.h), for the store's suites.
 *
 * expect_fail(call, f, code, text): the call fails with that fault code
 * and a message containing text; expect_ok(call, f): it succeeds (the
 * message is shown when it does not). f is cleared first.
 */
#ifndef MLPD_TESTS_EXPECT_H
#define MLPD_TESTS_EXPECT_H

#include <check.h>
#include <string.h>

#include "fault.h"

#define expect_fail(call, f, want_code, want)                                 \
	do {                                                                  \
		fault_clear(&(f));                                            \
		ck_assert_int_eq((call), -1);                                 \
		ck_assert_msg((f).code == (want_code), "%s: code %s (%s)",    \
			      #call, fault_code_name((f).code), (f).msg);     \
		ck_assert_msg(strstr((f).msg, (want)) != NULL,                \
			      "%s: message '%s' lacks '%s'", #call, (f).msg,  \
			      (want));                                        \
	} while (0)

#define expect_ok(call, f)                                                    \
	do {                                                                  \
		fault_clear(&(f));                                            \
		ck_assert_msg((call) == 0, "%s: %s", #call, (f).msg);         \
	} while (0)

#endif
