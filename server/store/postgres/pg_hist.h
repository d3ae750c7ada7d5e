/*
 * pg_hist.h: what the history files of server/store/postgres/ share
 * (pg_history.c, pg_progress.c, pg_history_read.c): the hist_io of one
 * model's loss_chunk rows on a connection (DESIGN in pg_history.c).
 * Private to them; the other postgres/ files call the pg_history_*
 * functions of pg_int.h.
 */
#ifndef MLPD_PG_HIST_H
#define MLPD_PG_HIST_H

#include "hist_io.h"
#include "pg_int.h"

typedef struct pgio pgio;

/* An io over model_id's rows on c, inside the caller's transaction
 * (readonly: a read transaction, whose rows cannot change under it); *hio
 * becomes the hist_io the engine takes. NULL with f set. model_id is
 * borrowed. */
pgio *pgio_open(pg_conn *c, const char *model_id, int readonly,
		hist_io *hio, fault *f);

/* Sends the writes queued so far (one pipeline); 0 or -1 with f set. */
int pgio_flush(pgio *io, fault *f);

/* Frees io, dropping writes not flushed; NULL is a no-op. */
void pgio_close(pgio *io);

#endif
