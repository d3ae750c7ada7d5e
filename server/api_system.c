/*
 * api_system: the daemon's own endpoints (health).
 */
#include "api.h"

void
api_system_healthz(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;

	if (api_check_open(c, rs) < 0)
		return;
	api_reply_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}
