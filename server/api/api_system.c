/*
 * api_system: the daemon's own endpoints (health, Prometheus metrics, the
 * dashboard page).
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

/* server/api/page/index.html, embedded at build time by server/api/embed.sh */
extern const unsigned char page_html[];
extern const size_t page_html_len;

/* GET /: the dashboard, one self-contained HTML page. Served while
 * shutting down too (it only reads through the API). */
void
api_system_page(void *ctx, const http_request *rq, http_response *rs)
{
	char *copy = malloc(page_html_len);

	(void)ctx;
	(void)rq;
	if (copy == NULL) {
		apierr e;

		apierr_set(&e, 503, "out_of_memory", "the page could not be "
		    "served");
		api_reply_error(rs, &e);
		return;
	}
	memcpy(copy, page_html, page_html_len);
	http_reply(rs, 200, copy, page_html_len);
	rs->content_type = "text/html; charset=utf-8";
	rs->cache_control = "no-cache";
}

void
api_system_healthz(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;

	if (api_check_open(c, rs) < 0)
		return;
	api_reply_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /metrics: the Prometheus text format, also while shutting down. */
void
api_system_metrics(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	size_t len = 0;
	char *text = metrics_render(c->mx, c->reg, c->tr, c->st,
	    atomic_load(&c->http), &len);

	(void)rq;
	if (text == NULL) {
		apierr e;

		apierr_set(&e, 503, "out_of_memory", "the metrics could not "
		    "be rendered");
		api_reply_error(rs, &e);
		return;
	}
	http_reply(rs, 200, text, len);
	rs->content_type = METRICS_CONTENT_TYPE;
}
