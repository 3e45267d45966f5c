/*
 * The files' store (store.h): state.c's locked, 2-slot durable file as it
 * is.  The load takes the user's lock and holds it until the close, so the
 * commit never meets another writer: it never conflicts.
 */
#include "store.h"

static enum amfa_store_result
files_load(struct amfa_store *s, struct amfa_state *st)
{
	if (amfa_state_open(s->cfg, s->user, s->owner, &s->file, st) != 0)
		return AMFA_STORE_ERROR;
	s->exists = s->file.form != AMFA_STATE_NEW;
	return AMFA_STORE_OK;
}

static enum amfa_store_result
files_commit(struct amfa_store *s, const struct amfa_state *st, int64_t now)
{
	(void)now;
	if (amfa_state_commit(&s->file, st) != 0)
		return AMFA_STORE_ERROR;
	s->exists = 1;
	return AMFA_STORE_OK;
}

static void
files_close(struct amfa_store *s)
{
	amfa_state_close(&s->file);
}

const struct amfa_store_ops amfa_store_files_ops = { files_load, files_commit,
	files_close, NULL };
