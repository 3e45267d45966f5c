/* The state store: which one, and the calls through it; see store.h. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store.h"

const char *
amfa_store_result_str(enum amfa_store_result r)
{
	switch (r) {
	case AMFA_STORE_OK:
		return "ok";
	case AMFA_STORE_CONFLICT:
		return "changed meanwhile";
	case AMFA_STORE_UNAVAILABLE:
		return "state table unavailable";
	case AMFA_STORE_ERROR:
		return "state unusable";
	}
	return "unknown";
}

int
amfa_store_init(struct amfa_store *s, const struct amfa_config *cfg,
    const char *user, uid_t owner)
{
	const char *why;

	memset(s, 0, sizeof(*s));
	s->file.dirfd = s->file.lockfd = s->file.fd = -1;
	if ((why = amfa_user_name_invalid(user)) != NULL) {
		amfa_log(LOG_ERR, "state: refusing user: %s", why);
		return -1;
	}
	s->cfg = cfg;
	s->owner = owner;
	snprintf(s->user, sizeof(s->user), "%s", user);
	/* The one place that knows there are two stores. */
	s->ops = cfg->state_backend == AMFA_BACKEND_DYNAMODB ?
	    &amfa_store_table_ops :
	    &amfa_store_files_ops;
	return 0;
}

enum amfa_store_result
amfa_store_load(struct amfa_store *s, struct amfa_state *st)
{
	enum amfa_store_result r;

	if (s->ops == NULL)
		return AMFA_STORE_ERROR;
	/* Drop any earlier snapshot (and the files' lock). */
	s->ops->close(s);
	s->loaded = 0;
	r = s->ops->load(s, st);
	if (r == AMFA_STORE_OK) {
		s->snap = *st;
		s->loaded = 1;
	}
	return r;
}

enum amfa_store_result
amfa_store_load_counted(struct amfa_store *s, struct amfa_state *st,
    int64_t now, int *counted)
{
	enum amfa_store_result r;

	*counted = 0;
	if (s->ops == NULL)
		return AMFA_STORE_ERROR;
	if (s->ops->load_counted == NULL)
		return amfa_store_load(s, st);
	s->ops->close(s);
	s->loaded = 0;
	r = s->ops->load_counted(s, st, now, counted);
	if (r == AMFA_STORE_OK) {
		s->snap = *st;
		s->loaded = 1;
	}
	return r;
}

enum amfa_store_result
amfa_store_commit(struct amfa_store *s, const struct amfa_state *st,
    int64_t now)
{
	enum amfa_store_result r;

	if (s->ops == NULL || !s->loaded)
		return AMFA_STORE_ERROR;
	r = s->ops->commit(s, st, now);
	/* What was written is the next commit's snapshot; after a conflict
	 * or a failure the next one needs a fresh load. */
	s->loaded = r == AMFA_STORE_OK;
	if (r == AMFA_STORE_OK)
		s->snap = *st;
	return r;
}

enum amfa_store_result
amfa_store_commit_acceptance(struct amfa_store *s, const struct amfa_state *st,
    int64_t now)
{
	enum amfa_store_result r;

	s->accepting = 1;
	r = amfa_store_commit(s, st, now);
	s->accepting = 0;
	return r;
}

void
amfa_store_close(struct amfa_store *s)
{
	if (s->ops != NULL)
		s->ops->close(s);
	s->loaded = 0;
}
