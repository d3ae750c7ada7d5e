/*
 * check_peers: the peers poll (server/engine/peers.c) and a push through
 * this node that commits while the poll reads the store's counts: the
 * poll must not set the model's row count back to the total it read
 * before the push (a train right after the push then answered 409
 * no_training_data until the next poll; bench_cluster.sh saw it).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbfiles.h"
#include "testlib.h"
#include "peers.h"
#include "registry.h"
#include "store.h"
#include "trainer.h"
#include "wallclock.h"

/* the store's ops table, for the racing wrapper */
#define MLPD_STORE_INTERNAL 1
#include "store_backend.h"

static const store_ops *real_ops;
static store_ops racing_ops;
static model_entry *racing_m;
static int racing_armed;

/* The stamps as the real store reads them, then a push of 8 rows through
 * this node (as api_data.c does, via testlib) before the poll goes on. */
static int
racing_stamps(store *s, int (*cb)(void *arg, const store_model_stamp *m),
	      void *arg, fault *f)
{
	int rc = real_ops->models_stamps(s, cb, arg, f);

	if (racing_armed) {
		racing_armed = 0;
		s->ops = real_ops;      /* the push below runs unwrapped */
		tl_trainer_rows(s, racing_m, 8);
		s->ops = &racing_ops;
	}
	return rc;
}

START_TEST(test_push_during_poll)
{
	char dir[64], path[128];
	store *st;
	registry *reg;
	trainer *tr;
	trainer_config tc;
	peers_config pc;
	peers *p;
	fault f;

	snprintf(dir, sizeof dir, "%s/check_peers.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/mlpd.db", dir);
	st = store_open(path, &f);
	ck_assert_msg(st != NULL, "store_open: %s", f.msg);
	reg = registry_create(&f);
	ck_assert_ptr_nonnull(reg);
	memset(&tc, 0, sizeof tc);
	tc.threads = 1;
	tc.checkpoint_every = 1;
	tc.max_queue = 4;
	tr = trainer_create(st, reg, &tc, &f);
	ck_assert_msg(tr != NULL, "trainer_create: %s", f.msg);
	racing_m = tl_trainer_model(st, reg, "m1");
	ck_assert_ptr_nonnull(racing_m);
	memset(&pc, 0, sizeof pc);
	pc.st = st;
	pc.reg = reg;
	pc.tr = tr;
	pc.interval = 3600;
	pc.node_id = "A";
	p = peers_start(&pc, &f);
	ck_assert_msg(p != NULL, "peers_start: %s", f.msg);
	ck_assert_int_eq(registry_samples(racing_m), 0);
	real_ops = st->ops;
	racing_ops = *real_ops;
	racing_ops.models_stamps = racing_stamps;
	st->ops = &racing_ops;
	racing_armed = 1;
	ck_assert_msg(peers_poll(p, &f) == 0, "%s", f.msg);
	st->ops = real_ops;
	ck_assert_int_eq(racing_armed, 0);
	ck_assert_msg(registry_samples(racing_m) == 8, "the poll set the "
	    "count to %lld, the total it read before the push, not 8",
	    (long long)registry_samples(racing_m));
	/* and the next poll, with nothing in flight, agrees with the store */
	ck_assert_msg(peers_poll(p, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(registry_samples(racing_m), 8);
	peers_stop(p);
	registry_put(racing_m);
	trainer_destroy(tr);
	registry_destroy(reg);
	store_close(st);
	test_unlink_db(path);
	rmdir(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("peers");
	TCase *tc = tcase_create("peers");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_push_during_poll);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
