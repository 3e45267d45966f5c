/*
 * Per-user state under state_dir: the last accepted TOTP step, the failure
 * count, the lock time, and (for YubiKeys) the last accepted counters of each
 * token.  Read and written only while holding the user's lock file; written
 * atomically.  A state file that does not parse is never reset: the caller
 * fails closed and an administrator looks at it.
 */
#ifndef AMFA_STATE_H
#define AMFA_STATE_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define AMFA_STATE_MAX_TOKENS	16
#define AMFA_STATE_LOCK_WAIT_MS 10000
/*
 * The state file: two slots of AMFA_STATE_SLOT_SIZE bytes, written in turn
 * in place (state.c says why).  Files of the earlier form, the text alone,
 * are read and turned into slots on their next update.
 */
#define AMFA_STATE_SLOT_SIZE 2048
#define AMFA_STATE_FILE_SIZE (2 * AMFA_STATE_SLOT_SIZE)

struct amfa_token_counter {
	char public_id[33]; /* modhex */
	unsigned session;   /* session counter */
	unsigned use;	    /* use counter within the session */
};

struct amfa_state {
	int64_t last_step; /* -1: none yet */
	long failures;
	int64_t locked_until; /* 0: not locked */
	int64_t last_success; /* 0: never */
	int ntokens;
	struct amfa_token_counter tokens[AMFA_STATE_MAX_TOKENS];
	/* Recovery codes used, of the set of generation recovery_gen (a mask
	 * of indices; recovery.h).  0 0: none (also: no such line, as in
	 * files written before recovery codes). */
	uint32_t recovery_gen;
	uint32_t recovery_used;
};

enum amfa_state_form {
	AMFA_STATE_NEW,	  /* no file yet */
	AMFA_STATE_TEXT,  /* the earlier form: text alone */
	AMFA_STATE_SLOTS, /* two slots */
};

struct amfa_state_handle {
	int dirfd;
	int lockfd;
	int fd; /* the state file, read and write (AMFA_STATE_SLOTS) */
	enum amfa_state_form form;
	uint64_t seq;	  /* of the slot read */
	char name[80];	  /* "<user>.state" */
	char shown[4096]; /* for messages */
};

/*
 * Lock and read the state of `user'.  state_dir is created (0700) if
 * missing and must be owned by `owner' (0 in the module) with no group or
 * other access.  Returns 0 (the lock is held until amfa_state_close) or -1
 * (logged; nothing is held).
 */
int amfa_state_open(const struct amfa_config *cfg, const char *user,
    uid_t owner, struct amfa_state_handle *h, struct amfa_state *st);
/*
 * Make `st' the user's state, durably and all-or-nothing: one slot written
 * in place and fdatasync'ed (a new or earlier-form file: the whole file,
 * replaced atomically).  0 or -1 (logged; the old state is intact; the
 * handle is spent).  After 0 it may be called again under the same lock
 * (the other slot: a torn second write leaves the first).
 */
int amfa_state_commit(struct amfa_state_handle *h, const struct amfa_state *st);
void amfa_state_close(struct amfa_state_handle *h);

/*
 * The two slots of a state file (`len' bytes) as a state: the valid slot
 * with the later sequence number.  0 with *seq set, or -1 with *why.
 */
int amfa_state_slots_parse(const char *buf, size_t len, struct amfa_state *st,
    uint64_t *seq, const char **why);
/*
 * A state file's contents in either form (the earlier text, or two
 * slots): 0 with *form and *seq (0 for text), or -1 with *why.
 */
int amfa_state_file_parse(const char *buf, size_t len, struct amfa_state *st,
    enum amfa_state_form *form, uint64_t *seq, const char **why);
/* One slot of sequence number `seq' holding `st', into `out'.  0 or -1. */
int amfa_state_slot_format(const struct amfa_state *st, uint64_t seq,
    char out[AMFA_STATE_SLOT_SIZE]);

/* Do `a' and `b' hold the same state?  1 or 0. */
int amfa_state_equal(const struct amfa_state *a, const struct amfa_state *b);

/* Text form, for tests and the admin tool.  0 or -1. */
int amfa_state_parse(const char *buf, size_t len, struct amfa_state *st,
    const char **why);
int amfa_state_format(const struct amfa_state *st, char *out, size_t outlen);

#endif
