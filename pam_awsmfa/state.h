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
 * Every state file the module writes is exactly this long: the text below,
 * then newlines (which the parser passes over, so files of earlier versions
 * read the same).  See amfa_state_commit for why.
 */
#define AMFA_STATE_RECORD_SIZE 2048

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
};

struct amfa_state_handle {
	int dirfd;
	int lockfd;
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
 * Write `st' atomically, as a record of AMFA_STATE_RECORD_SIZE bytes.  0 or
 * -1 (logged; the old state is intact).
 */
int amfa_state_commit(struct amfa_state_handle *h, const struct amfa_state *st);
void amfa_state_close(struct amfa_state_handle *h);

/* Text form, for tests and the admin tool.  0 or -1. */
int amfa_state_parse(const char *buf, size_t len, struct amfa_state *st,
    const char **why);
int amfa_state_format(const struct amfa_state *st, char *out, size_t outlen);

#endif
