/*
 * codec_train: the options of a train request (epochs, steps, batch,
 * rate, validation split and the training control: schedule, early
 * stopping, evaluation period, keeping the best, resume) decoded with
 * validation, and rendered back as the job's stored options text.
 */
#include "codec.h"

#include <math.h>
#include <string.h>

#include "codec_int.h"

/* "schedule": {"type", "every", "factor", "min_lr", "warmup_steps"} into
 * s; the checks against the job (base rate, steps) come at submission. */
static int
train_schedule(json_t *v, schedule *s, apierr *e)
{
	static const char *const keys[] = { "type", "every", "factor",
		"min_lr", "warmup_steps", NULL };
	json_t *k;
	char why[160];

	memset(s, 0, sizeof *s);
	if (!json_is_object(v))
		return apierr_set(e, 400, "wrong_type", "schedule must be an "
		    "object");
	if (codec_check_keys(v, keys, e) < 0)
		return -1;
	if ((k = json_object_get(v, "type")) != NULL) {
		if (!json_is_string(k))
			return apierr_set(e, 400, "wrong_type", "schedule.type "
			    "must be a string");
		if (schedule_from_name(json_string_value(k), &s->kind) < 0)
			return apierr_set(e, 422, "invalid_value", "unknown "
			    "schedule.type '%.40s'; use constant, step or "
			    "cosine", json_string_value(k));
	}
	if ((k = json_object_get(v, "every")) != NULL &&
	    codec_integer(k, "schedule.every", 1, 1000000000, &s->every, e) < 0)
		return -1;
	if ((k = json_object_get(v, "factor")) != NULL &&
	    codec_number(k, "schedule.factor", &s->factor, e) < 0)
		return -1;
	if ((k = json_object_get(v, "min_lr")) != NULL &&
	    codec_number(k, "schedule.min_lr", &s->min_lr, e) < 0)
		return -1;
	if ((k = json_object_get(v, "warmup_steps")) != NULL &&
	    codec_integer(k, "schedule.warmup_steps", 0, 1000000000,
	    &s->warmup_steps, e) < 0)
		return -1;
	if (s->kind != SCHEDULE_STEP && (json_object_get(v, "every") ||
	    json_object_get(v, "factor")))
		return apierr_set(e, 422, "invalid_value", "a %s schedule "
		    "takes no every or factor", schedule_name(s->kind));
	if (s->kind != SCHEDULE_COSINE && json_object_get(v, "min_lr"))
		return apierr_set(e, 422, "invalid_value", "a %s schedule "
		    "takes no min_lr", schedule_name(s->kind));
	if (s->kind == SCHEDULE_STEP && (json_object_get(v, "every") == NULL ||
	    json_object_get(v, "factor") == NULL))
		return apierr_set(e, 422, "invalid_value", "a step schedule "
		    "needs every and factor");
	if (schedule_check(s, why, sizeof why) < 0)
		return apierr_set(e, 422, "invalid_value", "schedule: %s", why);
	return 0;
}

/* "early_stopping": {"patience", "min_delta"} into o. */
static int
train_early_stopping(json_t *v, schedule_stop_opts *o, apierr *e)
{
	static const char *const keys[] = { "patience", "min_delta", NULL };
	json_t *k;

	if (!json_is_object(v))
		return apierr_set(e, 400, "wrong_type", "early_stopping must "
		    "be an object");
	if (codec_check_keys(v, keys, e) < 0)
		return -1;
	if ((k = json_object_get(v, "patience")) == NULL)
		return apierr_set(e, 422, "invalid_value", "early_stopping "
		    "needs patience");
	if (codec_integer(k, "early_stopping.patience", 1, 1000000000, &o->patience,
	    e) < 0)
		return -1;
	if ((k = json_object_get(v, "min_delta")) != NULL) {
		if (codec_number(k, "early_stopping.min_delta", &o->min_delta, e) < 0)
			return -1;
		if (o->min_delta < 0.0)
			return apierr_set(e, 422, "invalid_value",
			    "early_stopping.min_delta must be >= 0");
	}
	return 0;
}

/* True when s (len bytes) has the shape of a job id, j and 16 lowercase
 * hex digits. */
static int
job_id_shape(const char *s, size_t len)
{
	if (len != 17 || s[0] != 'j')
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

/* The training-control options of a train request (schedule, early
 * stopping, evaluation period, restore_best) into o. */
static int
train_control(json_t *obj, train_opts *o, apierr *e)
{
	json_t *v;

	memset(&o->sched, 0, sizeof o->sched);
	memset(&o->stop, 0, sizeof o->stop);
	o->eval_every = 0;
	o->restore_best = 0;
	o->save_best = 0;
	o->resume[0] = '\0';
	if ((v = json_object_get(obj, "schedule")) != NULL &&
	    train_schedule(v, &o->sched, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "early_stopping")) != NULL &&
	    train_early_stopping(v, &o->stop, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "eval_every")) != NULL &&
	    codec_integer(v, "eval_every", 1, 1000000000, &o->eval_every, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "restore_best")) != NULL) {
		if (!json_is_boolean(v))
			return apierr_set(e, 400, "wrong_type",
			    "restore_best must be true or false");
		o->restore_best = json_is_true(v);
	}
	if ((v = json_object_get(obj, "save_best")) != NULL) {
		if (!json_is_boolean(v))
			return apierr_set(e, 400, "wrong_type",
			    "save_best must be true or false");
		o->save_best = json_is_true(v);
	}
	if ((v = json_object_get(obj, "resume")) != NULL) {
		if (!json_is_string(v))
			return apierr_set(e, 400, "wrong_type",
			    "resume must be a job id");
		if (!job_id_shape(json_string_value(v), json_string_length(v)))
			return apierr_set(e, 422, "invalid_value", "resume must "
			    "be a job id: j and 16 lowercase hex digits");
		memcpy(o->resume, json_string_value(v), json_string_length(v) +
		    1);
	}
	return 0;
}

int
codec_train_opts(json_t *obj, train_opts *o, apierr *e)
{
	static const char *const keys[] = { "epochs", "steps", "batch_size",
		"learning_rate", "shuffle", "validation", "validation_split",
		"schedule", "early_stopping", "eval_every", "restore_best",
		"save_best", "resume", NULL };
	json_t *v;

	o->epochs = 1;
	o->steps = 0;
	o->batch_size = 32;
	o->lr = 0.0;
	o->shuffle = 1;
	o->validation_split = 0.0;
	if (codec_check_keys(obj, keys, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "validation_split")) != NULL) {
		if (codec_number(v, "validation_split", &o->validation_split, e) < 0)
			return -1;
		if (!(o->validation_split > 0.0 && o->validation_split < 1.0))
			return apierr_set(e, 422, "invalid_value",
			    "validation_split must be > 0 and < 1");
		if (json_object_get(obj, "validation") != NULL)
			return apierr_set(e, 422, "invalid_value", "give "
			    "validation or validation_split, not both");
	}
	if ((v = json_object_get(obj, "epochs")) != NULL &&
	    codec_integer(v, "epochs", 1, 1000000, &o->epochs, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "steps")) != NULL &&
	    codec_integer(v, "steps", 1, 1000000000, &o->steps, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "batch_size")) != NULL &&
	    codec_integer(v, "batch_size", 1, 65536, &o->batch_size, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "learning_rate")) != NULL &&
	    codec_learning_rate(v, &o->lr, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "shuffle")) != NULL) {
		if (!json_is_boolean(v))
			return apierr_set(e, 400, "wrong_type",
			    "shuffle must be true or false");
		o->shuffle = json_is_true(v);
	}
	return train_control(obj, o, e);
}

/* The training-control options of o into doc (those given). */
static void
train_control_json(json_t *doc, const train_opts *o)
{
	const schedule *s = &o->sched;
	json_t *sj;

	if (s->kind != SCHEDULE_CONSTANT || s->warmup_steps > 0) {
		sj = json_pack("{s:s}", "type", schedule_name(s->kind));
		if (sj != NULL && s->kind == SCHEDULE_STEP) {
			json_object_set_new(sj, "every",
			    json_integer(s->every));
			json_object_set_new(sj, "factor",
			    json_real(s->factor));
		}
		if (sj != NULL && s->kind == SCHEDULE_COSINE)
			json_object_set_new(sj, "min_lr", json_real(s->min_lr));
		if (sj != NULL && s->warmup_steps > 0)
			json_object_set_new(sj, "warmup_steps",
			    json_integer(s->warmup_steps));
		json_object_set_new(doc, "schedule", sj);
	}
	if (o->stop.patience > 0)
		json_object_set_new(doc, "early_stopping", json_pack(
		    "{s:I,s:f}", "patience", (json_int_t)o->stop.patience,
		    "min_delta", o->stop.min_delta));
	if (o->eval_every > 0)
		json_object_set_new(doc, "eval_every",
		    json_integer(o->eval_every));
	if (o->restore_best)
		json_object_set_new(doc, "restore_best", json_true());
	if (o->save_best)
		json_object_set_new(doc, "save_best", json_true());
	if (o->resume[0] != '\0')
		json_object_set_new(doc, "resume", json_string(o->resume));
}

char *
codec_train_opts_text(const train_opts *o)
{
	json_t *doc = json_pack("{s:I,s:I,s:I,s:b}", "epochs",
	    (json_int_t)o->epochs, "steps", (json_int_t)o->steps,
	    "batch_size", (json_int_t)o->batch_size, "shuffle", o->shuffle);
	size_t len;

	if (doc == NULL)
		return NULL;
	json_object_set_new(doc, "learning_rate", o->lr > 0 ?
	    json_real(o->lr) : json_null());
	if (o->validation_split > 0)
		json_object_set_new(doc, "validation_split",
		    json_real(o->validation_split));
	train_control_json(doc, o);
	return codec_dump(doc, &len);
}
