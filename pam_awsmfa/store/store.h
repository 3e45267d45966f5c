/*
 * Where a user's state lives, behind one small interface: load a snapshot,
 * commit a new state if nothing changed since the snapshot (or say that
 * something did), close.  The decision (auth.c) is one plain function over
 * the snapshot and does not know which store it talks to.
 *
 * Two stores, chosen by awsmfa.conf's state_backend (here, and nowhere
 * else):
 *   files     state_dir, one file per user (state.h).  The load takes the
 *             user's lock and holds it until the close, so nothing can
 *             change the state in between: a commit never conflicts.
 *   dynamodb  one item per user in a DynamoDB table (state_table.h).  No
 *             lock: the commit is one conditional UpdateItem whose
 *             condition is "the item is the version of the snapshot" and
 *             the replay rule itself (a new TOTP step above the stored one,
 *             a YubiKey's counters above the stored ones, not locked for an
 *             acceptance).  Another host's write in between is a conflict,
 *             and the decision is taken again on a fresh snapshot.  The decision's
 *             snapshot is the answer of the write that counts the attempt
 *             (amfa_store_load_counted; auth.c says why).
 */
#ifndef AMFA_STORE_H
#define AMFA_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "state.h"
#include "user.h"

enum amfa_store_result {
	AMFA_STORE_OK,
	AMFA_STORE_CONFLICT,	/* changed since the snapshot: load again */
	AMFA_STORE_UNAVAILABLE, /* the table did not answer in time */
	AMFA_STORE_ERROR	/* anything else (logged) */
};

const char *amfa_store_result_str(enum amfa_store_result r);

struct amfa_store;

struct amfa_store_ops {
	enum amfa_store_result (
	    *load)(struct amfa_store *s, struct amfa_state *st);
	enum amfa_store_result (*commit)(struct amfa_store *s,
	    const struct amfa_state *st, int64_t now);
	void (*close)(struct amfa_store *s);
	/* The table's write-ahead load (amfa_store_load_counted), or NULL:
	 * a plain load. */
	enum amfa_store_result (*load_counted)(struct amfa_store *s,
	    struct amfa_state *st, int64_t now, int *counted);
};

struct amfa_store {
	const struct amfa_store_ops *ops;
	const struct amfa_config *cfg;
	uid_t owner;
	char user[AMFA_USER_NAME_MAX + 1];
	int loaded;		/* a snapshot is in hand */
	struct amfa_state snap; /* the snapshot, as loaded */
	int exists;		/* it came from a record (not a fresh one) */
	uint64_t version;	/* the table item's version */
	uint64_t enr_ver;	/* its enrolment's version (0: none) */
	int accepting;		/* the commit lets the user in */
	struct amfa_state_handle file; /* files: the lock and the file */
};

/*
 * Ready `s' for `user' with the store awsmfa.conf names.  `owner': the
 * required owner of state_dir (0 in the module).  0, or -1 (a user name
 * that no store takes; logged).  Nothing is read yet.
 */
int amfa_store_init(struct amfa_store *s, const struct amfa_config *cfg,
    const char *user, uid_t owner);
/*
 * A snapshot of the user's state into `st' (a fresh state when there is
 * none yet).  A second load drops the first snapshot (and, for the files,
 * the lock) and takes a new one.
 */
enum amfa_store_result amfa_store_load(struct amfa_store *s,
    struct amfa_state *st);
/*
 * A snapshot that already counts one more attempt, for a decision whose
 * verdict could be seen outside the process before its record (auth.c
 * says when and why).  The table: one conditional UpdateItem that adds 1
 * to the failure count (creating the item if there is none) unless the
 * user is locked out at `now', and returns the item as written
 * (ReturnValues ALL_NEW): *counted = 1 and `st' holds the count with
 * this attempt in it.  A locked-out item is not written: `st' comes
 * from a read, *counted = 0.  The files: amfa_store_load (*counted = 0);
 * the caller counts and commits.
 */
enum amfa_store_result amfa_store_load_counted(struct amfa_store *s,
    struct amfa_state *st, int64_t now, int *counted);
/*
 * Make `st' the user's state if the state is still the snapshot's:
 * AMFA_STORE_OK (durable: the files fsync'ed, the table acknowledged),
 * AMFA_STORE_CONFLICT (nothing written; load again and decide again), or
 * a failure (nothing known to be written).  `now' is the decision's time
 * (the table's condition that an acceptance is not locked out).  After
 * AMFA_STORE_OK the state written is the snapshot a further commit is
 * conditioned on (a write-ahead decision commits twice); after anything
 * else a commit needs a fresh load.
 */
enum amfa_store_result amfa_store_commit(struct amfa_store *s,
    const struct amfa_state *st, int64_t now);
/*
 * The same for the write that lets the user in (the code spent, the
 * failures and the lock cleared, last_success `now'): the table writes
 * it without pinning the version, so that attempts counted meanwhile do
 * not send it round again (state_item.h, amfa_item_write_acceptance);
 * the files as amfa_store_commit.
 */
enum amfa_store_result amfa_store_commit_acceptance(struct amfa_store *s,
    const struct amfa_state *st, int64_t now);
void amfa_store_close(struct amfa_store *s);

/* The files' store and the table's (store_files.c, state_table.c). */
extern const struct amfa_store_ops amfa_store_files_ops;
extern const struct amfa_store_ops amfa_store_table_ops;

#endif
