/*
 * check_job_yield: jobs that take turns on one trainer give up their rows
 * when those kept by the waiting jobs would pass --job-memory, and read
 * them again on their next turn without changing a thing (issue 11,
 * "memory grows with the number of started jobs").
 *
 * Three models with the same seed and the same 1,600 rows (each set fits
 * the 64 KiB cap in memory, two do not): C trains alone; A and B train at
 * once on one trainer, so each yields to the other every 250 ms and B,
 * finding A's rows kept, frees its own at every yield. All three end with
 * the same weights, and the same validation loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define ROWS 1600
#define OPTS "{\"steps\":500000,\"batch_size\":16,\"validation_split\":0.1}"

/* The batch body: inputs (i % 37 / 37, i % 11 / 11), target their xor-ish
 * mix. */
static char *
batch_body(void)
{
	tl_str s = { NULL, 0, 0 };
	char buf[96];

	tl_str_add(&s, "{\"inputs\":[");
	for (int i = 0; i < ROWS; i++) {
		snprintf(buf, sizeof buf, "%s[%.6f,%.6f]", i ? "," : "",
		    (i % 37) / 37.0, (i % 11) / 11.0);
		tl_str_add(&s, buf);
	}
	tl_str_add(&s, "],\"targets\":[");
	for (int i = 0; i < ROWS; i++) {
		snprintf(buf, sizeof buf, "%s[%d]", i ? "," : "",
		    ((i % 37) > 18) != ((i % 11) > 5));
		tl_str_add(&s, buf);
	}
	tl_str_add(&s, "]}");
	return s.p;
}

/* The model's weights, as the API shows them. */
static char *
weights(const char *id)
{
	return tl_tget(tl_mpath(id, "/weights"));
}

/* The validation points of x and y: the same steps and losses. */
static void
same_validation(const char *x, const char *y)
{
	json_t *px = tl_jget(tl_mpath(x, "/loss?series=validation"));
	json_t *py = tl_jget(tl_mpath(y, "/loss?series=validation"));
	json_t *ax = json_object_get(px, "points");
	json_t *ay = json_object_get(py, "points");

	ck_assert_uint_gt(json_array_size(ax), 0);
	ck_assert_uint_eq(json_array_size(ax), json_array_size(ay));
	for (size_t i = 0; i < json_array_size(ax); i++) {
		json_t *u = json_array_get(ax, i), *v = json_array_get(ay, i);

		ck_assert_int_eq(tl_jint(u, "step"), tl_jint(v, "step"));
		ck_assert(tl_jnum(u, "loss") == tl_jnum(v, "loss"));
	}
	json_decref(px);
	json_decref(py);
}

START_TEST(test_release_on_yield_keeps_results)
{
	const char *model = "{\"layers\":[2,8,1],\"seed\":11}";
	char a[32], b[32], c[32], ja[32], jb[32];
	char *body, *wa, *wb, *wc;
	json_t *ra, *rb;

	tl_config()->trainers = 1;
	tl_cfg()->lim.job_memory = 65536;
	tl_start();
	body = batch_body();
	tl_new_model(model, a);
	tl_new_model(model, b);
	tl_new_model(model, c);
	tl_push(a, body);
	tl_push(b, body);
	tl_push(c, body);
	free(body);

	tl_train(c, OPTS);
	tl_start_job(a, OPTS, ja);
	tl_start_job(b, OPTS, jb);
	ra = tl_wait_job(ja, "succeeded", NULL, 120);
	rb = tl_wait_job(jb, "succeeded", NULL, 120);
	/* they took turns: B started before A finished */
	ck_assert_msg(strcmp(tl_jstr(rb, "started_at"),
	    tl_jstr(ra, "finished_at")) < 0, "B started %s, A finished %s",
	    tl_jstr(rb, "started_at"), tl_jstr(ra, "finished_at"));
	json_decref(ra);
	json_decref(rb);

	wa = weights(a);
	wb = weights(b);
	wc = weights(c);
	ck_assert_str_eq(wa, wc);
	ck_assert_str_eq(wb, wc);
	same_validation(a, c);
	same_validation(b, c);
	free(wa);
	free(wb);
	free(wc);
	tl_stop();
}
END_TEST

static Suite *
yield_suite(void)
{
	Suite *s = suite_create("job_yield");
	TCase *tc = tcase_create("yield");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_release_on_yield_keeps_results);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(yield_suite(), LOG_ERROR);
}
