/*
 * The one process that may create a recording.
 *
 * Only the audit group can add files to the recording directory
 * (recording_dir.h), and the gateway gives that group up for good before
 * it reads any of the user's input.  Whether a shell is recorded is known
 * only later (after the MFA marker, the groups, the policy), so just before
 * the group goes, the gateway forks this small child, which keeps the
 * group and does one thing: when the gateway asks (one byte over a socket
 * pair), it creates one recording file and passes the descriptor back
 * (SCM_RIGHTS), then exits.  It reads nothing else, from nowhere else; it
 * is not dumpable (inherited), so the user cannot ptrace it into doing
 * more.  If the gateway never asks (no shell, or an unrecorded one), the
 * child ends when the socket closes, having created nothing.
 */
#ifndef GW_RECORDING_CREATOR_H
#define GW_RECORDING_CREATOR_H

#include <stddef.h>
#include <sys/types.h>

struct gw_rec_creator {
	pid_t pid; /* 0: none */
	int sock;
};

/*
 * Fork the creator, which makes its file below `dirfd' (recording_dir.h's,
 * checked) for `user'.  Call while the effective group is the audit group.
 * 0, or -1 (logged).
 */
int gw_rec_creator_start(struct gw_rec_creator *c, int dirfd, const char *user);

/*
 * Have the creator make the recording; its name goes to name[size].  The
 * descriptor (close-on-exec, for appending), or -1 (logged).  The creator
 * is gone afterwards either way.
 */
int gw_rec_creator_create(struct gw_rec_creator *c, char *name, size_t size);

/* End the creator without a recording (idempotent). */
void gw_rec_creator_stop(struct gw_rec_creator *c);

#endif
