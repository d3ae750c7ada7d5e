/*
 * trainer_opts: the options of a train job, as plain values.
 *
 * Its own header (trainer.h includes it) so that the API's codec, which
 * decodes and renders them, needs no more of the engine than this.
 */
#ifndef MLPD_TRAINER_OPTS_H
#define MLPD_TRAINER_OPTS_H

#include <stdint.h>

#include "schedule.h"

/* Options of POST /v1/models/{id}/train. */
typedef struct train_opts {
	int64_t epochs;     /* 1.. ; used when steps == 0 */
	int64_t steps;      /* total steps; 0 = derive from epochs */
	int64_t batch_size; /* rows per step */
	double lr;          /* 0 = the model's learning rate */
	int shuffle;        /* reshuffle the rows every epoch */
	double validation_split; /* 0: none; in (0, 1): the fraction of the
				  * rows held out for validation */
	schedule sched;     /* the learning-rate schedule over the job's steps
	                       (core/schedule.h), from lr (or the model's) */
	schedule_stop_opts stop; /* early stopping; patience 0: off */
	int64_t eval_every; /* steps between evaluations (validation points,
	                       early stopping, the best); 0: every epoch */
	int restore_best;   /* at the end, put back the weights of the best
	                       evaluation (kept in memory while it runs) */
	int save_best;      /* at the end, store those weights as a version
	                       of the model named "best" (store_version_create) */
	char resume[32];    /* "" or the id of an interrupted job of the
	                       model that this one continues from its last
	                       checkpoint (its steps, schedule and tracker) */
} train_opts;

#endif
