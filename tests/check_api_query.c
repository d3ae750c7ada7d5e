/*
 * check_api_query: Check tests of how the API reads query parameters
 * (issue 12): GET /v1/models pages with limit and after (next_after
 * leads to the next page, the ETag depends on the query), and a query
 * parameter given twice is refused with 400 invalid_query naming it on
 * every route that reads parameters, while unknown ones stay ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define SMALL_MODEL "{\"layers\": [2, 1]}"
#define NMODELS 250

/* The models of GET path (200 required), their ids appended to ids from
 * *n on; returns next_after (malloc'd; NULL when absent: the last page). */
static char *
list_page(const char *path, char ids[][32], size_t *n)
{
	json_t *doc = tl_jget(path), *arr = json_object_get(doc, "models");
	json_t *next = json_object_get(doc, "next_after");
	char *out = NULL;
	size_t i;
	json_t *m;

	ck_assert_msg(json_is_array(arr), "%s: no models array", path);
	json_array_foreach(arr, i, m) {
		ck_assert_uint_lt(*n, NMODELS);
		snprintf(ids[(*n)++], 32, "%s", tl_jstr(m, "id"));
	}
	if (next != NULL) {
		ck_assert_msg(json_is_string(next), "%s: next_after", path);
		out = strdup(json_string_value(next));
	}
	json_decref(doc);
	return out;
}

/* GET path must answer 400 invalid_query whose message names what. */
static void
refused(const char *path, const char *what)
{
	char *resp = NULL;
	long st = tl_req("GET", path, NULL, NULL, &resp);

	ck_assert_msg(st == 400, "%s: %ld %s", path, st, resp);
	tl_check_error(resp, strlen(resp), "invalid_query", path);
	ck_assert_msg(strstr(resp, what) != NULL, "%s: %s does not name %s",
	    path, resp, what);
	free(resp);
}

START_TEST(test_models_paged)
{
	static char made[NMODELS][32], seen[NMODELS][32];
	char path[128], *next;
	size_t n = 0, pages = 0;

	for (size_t i = 0; i < NMODELS; i++)
		tl_new_model(SMALL_MODEL, made[i]);
	/* the default page is small, and says where the next one starts */
	next = list_page("/v1/models", seen, &n);
	ck_assert_uint_eq(n, 100);
	ck_assert_msg(next != NULL, "/v1/models: no next_after member");
	ck_assert_str_eq(next, made[99]);
	/* paging through sees every model once, in creation order */
	free(next);
	n = 0;
	next = NULL;
	do {
		if (next == NULL)
			snprintf(path, sizeof path, "/v1/models?limit=60");
		else
			snprintf(path, sizeof path,
			    "/v1/models?limit=60&after=%s", next);
		free(next);
		next = list_page(path, seen, &n);
		pages++;
	} while (next != NULL);
	ck_assert_uint_eq(pages, 5);
	ck_assert_uint_eq(n, NMODELS);
	for (size_t i = 0; i < NMODELS; i++)
		ck_assert_str_eq(seen[i], made[i]);
	/* one page with room for all */
	n = 0;
	ck_assert_ptr_null(list_page("/v1/models?limit=1000", seen, &n));
	ck_assert_uint_eq(n, NMODELS);
	/* after the last model: an empty page */
	n = 0;
	snprintf(path, sizeof path, "/v1/models?after=%s", made[NMODELS - 1]);
	ck_assert_ptr_null(list_page(path, seen, &n));
	ck_assert_uint_eq(n, 0);
	refused("/v1/models?limit=0", "limit");
	refused("/v1/models?limit=1001", "limit");
	refused("/v1/models?limit=ten", "limit");
	refused("/v1/models?limit=-5", "limit");
	refused("/v1/models?after=" NO_MODEL, NO_MODEL);
	refused("/v1/models?after=..", "after");
}
END_TEST

START_TEST(test_models_etag_per_query)
{
	char id[32], tag2[80], tag3[80], hdr[128], *resp = NULL;

	tl_new_model(SMALL_MODEL, id);
	tl_new_model(SMALL_MODEL, id);
	tl_new_model(SMALL_MODEL, id);
	ck_assert_int_eq(tl_req("GET", "/v1/models?limit=2", NULL, NULL,
	    NULL), 200);
	snprintf(tag2, sizeof tag2, "%s", tl_header("ETag"));
	ck_assert_int_eq(tl_req("GET", "/v1/models?limit=3", NULL, NULL,
	    NULL), 200);
	snprintf(tag3, sizeof tag3, "%s", tl_header("ETag"));
	ck_assert_str_ne(tag2, "");
	ck_assert_str_ne(tag2, tag3);
	snprintf(hdr, sizeof hdr, "If-None-Match: %s", tag2);
	ck_assert_int_eq(tl_req_h("GET", "/v1/models?limit=2", NULL, NULL,
	    hdr, NULL), 304);
	/* another page's tag does not match */
	ck_assert_int_eq(tl_req_h("GET", "/v1/models?limit=3", NULL, NULL,
	    hdr, &resp), 200);
	ck_assert_ptr_null(strstr(resp, "next_after"));
	free(resp);
	/* a new model changes every page's tag */
	tl_new_model(SMALL_MODEL, id);
	ck_assert_int_eq(tl_req_h("GET", "/v1/models?limit=2", NULL, NULL,
	    hdr, NULL), 200);
}
END_TEST

START_TEST(test_repeated_query)
{
	char id[32], path[160];

	tl_new_model(SMALL_MODEL, id);
	snprintf(path, sizeof path, "%s",
	    tl_mpath(id, "/loss?format=csv&format=json"));
	refused(path, "'format'");
	snprintf(path, sizeof path, "%s", tl_mpath(id, "/loss?limit=5&limit=5"));
	refused(path, "'limit'");
	snprintf(path, sizeof path, "%s",
	    tl_mpath(id, "/loss?series=train&since=1&series=validation"));
	refused(path, "'series'");
	refused("/v1/models?limit=1&limit=2", "'limit'");
	refused("/v1/models?after=x&after=y", "'after'");
	refused("/v1/events?last_event_id=1&last_event_id=2",
	    "'last_event_id'");
	snprintf(path, sizeof path, "%s",
	    tl_mpath(id, "/events?last_event_id=1&last_event_id=1"));
	refused(path, "'last_event_id'");
	/* unknown parameters, even repeated, stay ignored (cache busters) */
	ck_assert_int_eq(tl_req("GET", "/v1/models?_=1&_=2", NULL, NULL,
	    NULL), 200);
	snprintf(path, sizeof path, "%s",
	    tl_mpath(id, "/loss?format=csv&nocache=7"));
	ck_assert_int_eq(tl_req("GET", path, NULL, NULL, NULL), 200);
	ck_assert_int_eq(tl_req("GET", tl_mpath(id, "?x=1&x=2"), NULL, NULL,
	    NULL), 200);
}
END_TEST

static Suite *
api_query_suite(void)
{
	Suite *s = suite_create("api_query");
	TCase *tc = tcase_create("query");

	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_models_paged);
	tcase_add_test(tc, test_models_etag_per_query);
	tcase_add_test(tc, test_repeated_query);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(api_query_suite(), LOG_ERROR);
}
