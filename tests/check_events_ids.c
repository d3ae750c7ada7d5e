/*
 * check_events_ids: Check tests that event ids strictly increase across
 * restarts of the daemon (issue 12), through the reservation the store
 * keeps (server/engine/events.h, schema/mlpd-3.sql), and that a client
 * resuming with an id from before a restart gets `event: reset` rather
 * than a replay of the new run's events. The daemon runs in process on a
 * database file (tests/testlib.h) and is stopped and started again on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "events.h"

#define BURST 3000 /* events published within a few milliseconds */

static void
no_hook(void *arg)
{
	(void)arg;
}

/* Publishes n events at once on the running daemon's hub; the last id. */
static uint64_t
burst(int n)
{
	events *ev = daemon_events(tl_daemon());
	uint64_t id = 0, prev = events_last_id(ev);

	for (int i = 0; i < n; i++) {
		id = events_publish(ev, "x", NULL, "{}", 2);
		ck_assert_uint_eq(id, prev + 1);
		prev = id;
	}
	return id;
}

/* What a stream resuming after last_id reads first from the running
 * daemon's hub (malloc'd). */
static char *
resume(uint64_t last_id)
{
	fault f;
	events_sub *s = events_subscribe(daemon_events(tl_daemon()), NULL, 1,
	    last_id, no_hook, no_hook, NULL, &f);
	tl_str out = { NULL, 0, 0 };
	char buf[4096];
	ssize_t n;

	ck_assert_ptr_nonnull(s);
	while ((n = events_read(s, buf, sizeof buf)) > 0 && out.len < 8192)
		tl_str_addn(&out, buf, (size_t)n);
	events_unsubscribe(s);
	ck_assert_ptr_nonnull(out.p);
	return out.p;
}

/* Restarts on the same database file. */
static void
restart(void)
{
	tl_stop();
	tl_start();
}

START_TEST(test_ids_increase_across_restarts)
{
	uint64_t last, first, before;

	tl_config();
	tl_file_db();
	tl_start();
	/* thousands of events in a few ms: wall-clock ids would overlap */
	last = burst(BURST);
	restart();
	first = events_last_id(daemon_events(tl_daemon())) + 1;
	ck_assert_msg(first > last, "after a restart the first id %llu is "
	    "not above the last one before it, %llu",
	    (unsigned long long)first, (unsigned long long)last);
	ck_assert_uint_gt(burst(1), last);
	/* again, without publishing anything in between */
	before = events_last_id(daemon_events(tl_daemon()));
	restart();
	ck_assert_uint_gt(events_last_id(daemon_events(tl_daemon())) + 1,
	    before);
	ck_assert_uint_gt(burst(1), before);
	tl_stop();
}
END_TEST

START_TEST(test_ids_renewed_past_a_block)
{
	uint64_t last;

	/* more than one reservation in a run: the next run is still past */
	tl_config();
	tl_file_db();
	tl_start();
	last = burst((int)EVENTS_ID_BLOCK + 5000);
	restart();
	ck_assert_uint_gt(events_last_id(daemon_events(tl_daemon())) + 1,
	    last);
	tl_stop();
}
END_TEST

START_TEST(test_resume_from_before_a_restart)
{
	uint64_t last;
	char *out, want[64];

	tl_config();
	tl_file_db();
	tl_start();
	last = burst(BURST);
	/* in the same run, resuming after last is caught up */
	out = resume(last);
	ck_assert_ptr_null(strstr(out, "event: reset"));
	free(out);
	restart();
	/* the new run publishes as many events again (they stay in the
	 * ring): the old id must not pick up somewhere among them */
	burst(BURST);
	out = resume(last);
	snprintf(want, sizeof want, "\"last_event_id\":%llu",
	    (unsigned long long)last);
	ck_assert_msg(strstr(out, "event: reset\n") != NULL &&
	    strstr(out, want) != NULL, "resuming after %llu from the run "
	    "before: %.300s", (unsigned long long)last, out);
	ck_assert_ptr_null(strstr(out, "event: x\n"));
	free(out);
	/* right after a restart, before any new event, too */
	last = events_last_id(daemon_events(tl_daemon()));
	restart();
	out = resume(last);
	ck_assert_ptr_nonnull(strstr(out, "event: reset\n"));
	free(out);
	tl_stop();
}
END_TEST

static Suite *
events_ids_suite(void)
{
	Suite *s = suite_create("events_ids");
	TCase *tc = tcase_create("restart");

	tcase_add_test(tc, test_ids_increase_across_restarts);
	tcase_add_test(tc, test_ids_renewed_past_a_block);
	tcase_add_test(tc, test_resume_from_before_a_restart);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(events_ids_suite(), LOG_ERROR);
}
