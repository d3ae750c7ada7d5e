/*
 * store_vargs.h: what a versions or aliases call hands its transaction in
 * either backend (sqlite/store_versions.c, postgres/pg_versions.c): the
 * arguments store.c has checked, and where the results go (the caller's,
 * written by the transaction; a retry starts them over). Private to
 * server/store/.
 */
#ifndef MLPD_STORE_VARGS_H
#define MLPD_STORE_VARGS_H

#ifndef MLPD_STORE_INTERNAL
#error "store_vargs.h is private to server/store/"
#endif

#include "store.h"

struct vcreate {
	const store_version_new *in;
	store_version *row; /* out */
};

struct vget {
	const char *model_id;
	int64_t version;
	store_version *row; /* out */
	void **blob;        /* out, malloc'd; NULL: not wanted */
	size_t *len;
	int found;          /* out */
};

struct vdel {
	const char *model_id;
	int64_t version;
	int drop_aliases;
	store_vdel *what; /* out */
};

struct aset {
	const char *model_id, *name;
	int64_t version;
	size_t max_aliases;
	int64_t now_ms;
	int done; /* out */
};

struct adel {
	const char *model_id, *name;
	int done; /* out */
};

#endif
