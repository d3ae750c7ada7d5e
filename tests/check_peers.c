/*
 * check_peers: the peers poll (server/engine/peers.c) racing this node's
 * own work, each race forced by a store wrapper that runs the local work
 * in the middle of the poll:
 * - a push that commits while the poll reads the store's counts: the
 *   poll must not set the model's row count back to the total it read
 *   before the push (a train right after the push then answered 409
 *   no_training_data until the next poll; bench_cluster.sh saw it);
 * - a /step whose commit the poll reads before the trainer has counted
 *   and published it: the step's event must go out once (the trainer's),
 *   not once more from the poll;
 * - /steps that commit and publish between the poll's read of an older
 *   row and its reload: the snapshot must not go back to that row, after
 *   which the next poll published the local steps again (pg_nodes.sh saw
 *   "B's stream never repeats a step" fail once under ASan).
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "dbfiles.h"
#include "events.h"
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

/* ---- one node, its poller racing its own work ---- */

/* The steps of every `step` event published, in order ("1 2 "). */
static pthread_mutex_t stepmu = PTHREAD_MUTEX_INITIALIZER;
static char stepped[256];

/* The hub's render: records a step event's steps, renders nothing of
 * interest. */
static char *
record_render(const events_item *it, size_t *len)
{
	char *text = strdup("x");

	if (it->kind == EVENTS_STEP) {
		pthread_mutex_lock(&stepmu);
		for (size_t i = 0; i < it->npts; i++) {
			size_t n = strlen(stepped);

			snprintf(stepped + n, sizeof stepped - n, "%llu ",
			    (unsigned long long)it->pts[i].step);
		}
		pthread_mutex_unlock(&stepmu);
	}
	*len = text ? 1 : 0;
	return text;
}

/* m's step (of its published snapshot). */
static uint64_t
model_step(model_entry *m)
{
	registry_view v;

	registry_view_of(m, &v);
	return v.step;
}

/* A copy of stepped, for an assertion. */
static void
steps_published(char *out, size_t len)
{
	pthread_mutex_lock(&stepmu);
	snprintf(out, len, "%s", stepped);
	pthread_mutex_unlock(&stepmu);
}

static struct node *racing_node;
static int racing_polls;

/* One node: a SQLite store, a registry with model "m1" at step 0, a
 * trainer and a poller publishing into a hub that records steps. */
struct node {
	char dir[64], path[128];
	store *st;
	registry *reg;
	events *ev;
	trainer *tr;
	peers *p;
	model_entry *m;
};

static void
node_start(struct node *n)
{
	trainer_config tc;
	peers_config pc;
	fault f;

	memset(n, 0, sizeof *n);
	stepped[0] = '\0';
	snprintf(n->dir, sizeof n->dir, "%s/check_peers.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(n->dir));
	snprintf(n->path, sizeof n->path, "%s/mlpd.db", n->dir);
	n->st = store_open(n->path, &f);
	ck_assert_msg(n->st != NULL, "store_open: %s", f.msg);
	/* its calls go through racing_ops, a copy of its own that a test
	 * changes one call of (unarmed, each passes the call on): installed
	 * before the poller's thread reads it */
	racing_node = n;
	racing_polls = 0;
	racing_armed = 0;
	real_ops = n->st->ops;
	racing_ops = *real_ops;
	n->st->ops = &racing_ops;
	n->reg = registry_create(&f);
	ck_assert_ptr_nonnull(n->reg);
	n->ev = events_create(64, 60, record_render, &f);
	ck_assert_msg(n->ev != NULL, "events_create: %s", f.msg);
	memset(&tc, 0, sizeof tc);
	tc.threads = 1;
	tc.checkpoint_every = 1;
	tc.max_queue = 4;
	tc.events = n->ev;
	n->tr = trainer_create(n->st, n->reg, &tc, &f);
	ck_assert_msg(n->tr != NULL, "trainer_create: %s", f.msg);
	n->m = tl_trainer_model(n->st, n->reg, "m1");
	ck_assert_ptr_nonnull(n->m);
	memset(&pc, 0, sizeof pc);
	pc.st = n->st;
	pc.reg = n->reg;
	pc.tr = n->tr;
	pc.ev = n->ev;
	pc.interval = 3600;
	pc.node_id = "B";
	n->p = peers_start(&pc, &f);
	ck_assert_msg(n->p != NULL, "peers_start: %s", f.msg);
}

static void
node_stop(struct node *n)
{
	peers_stop(n->p);
	registry_put(n->m);
	trainer_destroy(n->tr);
	events_destroy(n->ev);
	registry_destroy(n->reg);
	store_close(n->st);
	test_unlink_db(n->path);
	rmdir(n->dir);
}

/* A /step on n's model (one row of xor), as POST .../step runs it. */
static void
local_step(struct node *n)
{
	float x[2] = { 0, 1 }, y[1] = { 1 }, loss;
	uint64_t step;
	fault f;

	ck_assert_msg(trainer_step(n->tr, n->m, x, y, 1, 0, NULL, &step,
	    &loss, NULL, &f) == 0, "trainer_step: %s", f.msg);
}

/* The stamps as the real store reads them, then a push of 8 rows through
 * this node (as api_data.c does, via testlib) before the poll goes on. */
static int
racing_stamps(store *s, int (*cb)(void *arg, const store_model_stamp *m),
	      void *arg, fault *f)
{
	int rc = real_ops->models_stamps(s, cb, arg, f);

	if (racing_armed) {
		racing_armed = 0;       /* the push below passes through */
		tl_trainer_rows(s, racing_m, 8);
	}
	return rc;
}

START_TEST(test_push_during_poll)
{
	struct node n;
	fault f;

	node_start(&n);
	racing_m = n.m;
	ck_assert_int_eq(registry_samples(racing_m), 0);
	racing_ops.models_stamps = racing_stamps;
	racing_armed = 1;
	ck_assert_msg(peers_poll(n.p, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(racing_armed, 0);
	ck_assert_msg(registry_samples(racing_m) == 8, "the poll set the "
	    "count to %lld, the total it read before the push, not 8",
	    (long long)registry_samples(racing_m));
	/* and the next poll, with nothing in flight, agrees with the store */
	ck_assert_msg(peers_poll(n.p, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(registry_samples(racing_m), 8);
	node_stop(&n);
}
END_TEST

/* ---- step events published once ---- */

/* The commit as the real store makes it, then (once) a whole poll: the
 * row is in the store, the trainer has not counted nor published it
 * yet (a NOTIFY heard at once, or a poll that runs then). */
static int
racing_commit(store *s, const store_progress *pr, fault *f)
{
	int rc = real_ops->progress_commit(s, pr, f);
	fault pf;

	if (rc == 0 && racing_armed) {
		/* on the worker's thread: counted, asserted by the test */
		racing_armed = 0;
		racing_polls = peers_poll(racing_node->p, &pf) == 0 ? 1 : -1;
	}
	return rc;
}

START_TEST(test_own_step_once)
{
	struct node n;
	char got[256];

	node_start(&n);
	racing_ops.progress_commit = racing_commit;
	racing_armed = 1;
	local_step(&n);
	ck_assert_int_eq(racing_polls, 1);
	steps_published(got, sizeof got);
	ck_assert_msg(strcmp(got, "1 ") == 0, "a /step's commit polled "
	    "before the trainer published it: steps published \"%s\", "
	    "want \"1 \" (the poll published this node's step too)", got);
	ck_assert_uint_eq(model_step(n.m), 1);
	node_stop(&n);
}
END_TEST

/* The row store_model_get read, copied (racing_get). */
static store_model held_row;
static void *held_blob;

static int
hold_row(void *arg, const store_model *row)
{
	(void)arg;
	held_row = *row;
	held_row.name = NULL;
	free(held_blob);
	ck_assert_ptr_nonnull(held_blob = malloc(row->blob_len));
	memcpy(held_blob, row->blob, row->blob_len);
	held_row.blob = held_blob;
	return 0;
}

/* The read as the real store makes it; then (once) two /steps commit and
 * publish before the poll gets the row it read. */
static int
racing_get(store *s, const char *id, int (*cb)(void *arg,
	   const store_model *m), void *arg, fault *f)
{
	int rc;

	if (!racing_armed)
		return real_ops->model_get(s, id, cb, arg, f);
	racing_armed = 0;
	if ((rc = real_ops->model_get(s, id, hold_row, NULL, f)) <= 0)
		return rc; /* failed, or no such model */
	/* unarmed: the steps' store calls pass through */
	local_step(racing_node);
	local_step(racing_node);
	racing_polls++;
	held_row.name = id;
	rc = cb(arg, &held_row);
	return rc == 0 ? 1 : rc; /* 1: found, as the real one answers */
}

START_TEST(test_reload_never_back)
{
	struct node n;
	mlp_spec spec;
	mlp *other;
	void *blob = NULL;
	size_t len = 0;
	uint64_t after_first;
	char got[256];
	fault f;

	node_start(&n);
	/* another node's checkpoint at step 1, older than what this node
	 * then trains */
	spec = n.m->spec;
	other = mlp_create(&spec, &f);
	ck_assert_ptr_nonnull(other);
	mlp_set_step(other, 1);
	ck_assert_int_eq(blob_save(other, &blob, &len, &f), 0);
	mlp_destroy(other);
	ck_assert_msg(store_model_set_weights(n.st, "m1", blob, len, 1,
	    wallclock_ms() - 1000, &f) == 0, "%s", f.msg);
	free(blob);
	racing_ops.model_get = racing_get;
	racing_armed = 1;
	ck_assert_msg(peers_poll(n.p, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(racing_polls, 1);
	after_first = model_step(n.m);
	/* the next poll, with nothing in flight */
	ck_assert_msg(peers_poll(n.p, &f) == 0, "%s", f.msg);
	steps_published(got, sizeof got);
	ck_assert_msg(strcmp(got, "1 2 ") == 0, "steps published \"%s\", "
	    "want \"1 2 \" (the trainer's, each once; the poll that read "
	    "step 1 set the model back to %llu)", got,
	    (unsigned long long)after_first);
	ck_assert_msg(after_first == 2, "a poll that read step 1 while "
	    "this node published step 2 set the model back to %llu",
	    (unsigned long long)after_first);
	ck_assert_uint_eq(model_step(n.m), 2);
	free(held_blob);
	held_blob = NULL;
	node_stop(&n);
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
	tcase_add_test(tc, test_own_step_once);
	tcase_add_test(tc, test_reload_never_back);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
