/*
 * codec_versions: the requests and documents of versions and aliases
 * (version targets, alias names, the version, alias and create-from
 * bodies, and their JSON).
 */
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

int
codec_alias_check(const char *name, apierr *e)
{
	size_t n = strlen(name);

	if (n == 0 || n >= STORE_ALIAS_MAX ||
	    !((name[0] >= 'a' && name[0] <= 'z') ||
	    (name[0] >= 'A' && name[0] <= 'Z')) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-") != n)
		return apierr_set(e, 400, "invalid_alias", "an alias is 1 to "
		    "%d letters, digits, '_', '.' or '-', starting with a "
		    "letter", STORE_ALIAS_MAX - 1);
	return 0;
}

int
codec_version_target(const char *s, const char *what, uint64_t *version,
		     const char **alias, apierr *e)
{
	*version = 0;
	*alias = NULL;
	if (s[0] >= '0' && s[0] <= '9') {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(s, &end, 10);
		if (*end != '\0' || errno || v < 1 || v > INT64_MAX ||
		    strlen(s) > 19)
			return apierr_set(e, 400, "invalid_version", "%s must "
			    "be a version number (>= 1) or an alias", what);
		*version = v;
		return 0;
	}
	if (codec_alias_check(s, e) < 0)
		return apierr_set(e, 400, "invalid_version", "%s must be a "
		    "version number (>= 1) or an alias (1 to %d letters, "
		    "digits, '_', '.' or '-', starting with a letter)", what,
		    STORE_ALIAS_MAX - 1);
	*alias = s;
	return 0;
}

int
codec_version_request(json_t *obj, const char **name, apierr *e)
{
	static const char *const keys[] = { "name", NULL };
	json_t *v;

	*name = NULL;
	if (codec_check_keys(obj, keys, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "name")) == NULL || json_is_null(v))
		return 0;
	if (codec_name_field(v, STORE_VNAME_MAX - 1, e) < 0)
		return -1;
	*name = json_string_value(v);
	return 0;
}

/* A JSON integer >= 1 that fits a stored version number. */
static int
version_number(json_t *v, const char *field, uint64_t *out, apierr *e)
{
	if (!json_is_integer(v))
		return apierr_set(e, 400, "wrong_type", "%s must be an "
		    "integer", field);
	if (json_integer_value(v) < 1)
		return apierr_set(e, 422, "invalid_value", "%s must be >= 1",
		    field);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int
codec_alias_request(json_t *obj, uint64_t *version, apierr *e)
{
	static const char *const keys[] = { "version", NULL };
	json_t *v;

	if (codec_check_keys(obj, keys, e) < 0)
		return -1;
	if ((v = json_object_get(obj, "version")) == NULL)
		return apierr_set(e, 400, "missing_field", "version is "
		    "required: the version number the alias names");
	return version_number(v, "version", version, e);
}

int
codec_from_request(json_t *from, const char **model, uint64_t *version,
		   const char **alias, apierr *e)
{
	static const char *const keys[] = { "model", "version", NULL };
	json_t *m, *v;

	*alias = NULL;
	*version = 0;
	if (!json_is_object(from))
		return apierr_set(e, 400, "wrong_type", "from must be an "
		    "object: {\"model\": id, \"version\": N or alias}");
	if (codec_check_keys(from, keys, e) < 0)
		return -1;
	m = json_object_get(from, "model");
	v = json_object_get(from, "version");
	if (m == NULL || v == NULL)
		return apierr_set(e, 400, "missing_field", "from needs model "
		    "and version");
	if (!json_is_string(m) || !ids_valid(json_string_value(m)))
		return apierr_set(e, 400, "wrong_type", "from.model must be "
		    "a model id");
	*model = json_string_value(m);
	return codec_version_value(v, "from.version", version, alias, e);
}

int
codec_version_value(json_t *v, const char *field, uint64_t *version,
		    const char **alias, apierr *e)
{
	*alias = NULL;
	*version = 0;
	if (json_is_string(v)) {
		if (codec_alias_check(json_string_value(v), e) < 0)
			return -1;
		*alias = json_string_value(v);
		return 0;
	}
	return version_number(v, field, version, e);
}

json_t *
codec_aliases_json(const store_alias *a, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, codec_alias_json(&a[i]));
	return arr;
}

json_t *
codec_version_json(const store_version *v, const store_alias *aliases,
		   size_t n)
{
	json_t *doc = json_object(), *names = json_array(), *val;

	for (size_t i = 0; i < n; i++)
		if (aliases[i].version == v->version &&
		    strcmp(aliases[i].model_id, v->model_id) == 0)
			json_array_append_new(names,
			    json_string(aliases[i].name));
	json_object_set_new(doc, "model_id", json_string(v->model_id));
	json_object_set_new(doc, "version", json_integer((json_int_t)
	    v->version));
	json_object_set_new(doc, "name", v->name[0] ? json_string(v->name) :
	    json_null());
	json_object_set_new(doc, "step", json_integer((json_int_t)v->step));
	json_object_set_new(doc, "loss", codec_real(v->loss));
	if (v->val_step > 0) {
		val = json_object();
		json_object_set_new(val, "step", json_integer((json_int_t)
		    v->val_step));
		json_object_set_new(val, "loss", codec_real(v->val_loss));
		json_object_set_new(val, "accuracy",
		    codec_real(v->val_accuracy));
	} else {
		val = json_null();
	}
	json_object_set_new(doc, "validation", val);
	json_object_set_new(doc, "aliases", names);
	json_object_set_new(doc, "created_at", codec_time_json(v->created_ms));
	return doc;
}

json_t *
codec_alias_json(const store_alias *a)
{
	json_t *doc = json_object();

	json_object_set_new(doc, "name", json_string(a->name));
	json_object_set_new(doc, "version", json_integer((json_int_t)
	    a->version));
	json_object_set_new(doc, "updated_at", codec_time_json(a->updated_ms));
	return doc;
}
