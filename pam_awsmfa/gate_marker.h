/*
 * The gate marker: proof, for the SSH gateway, that pam_awsmfa accepted a
 * factor on this very SSH connection.
 *
 * OpenSSH (9.x, privilege separation) runs one root "monitor" process per
 * connection, a session leader ("sshd: USER [priv]").  pam_authenticate for
 * keyboard-interactive runs in a forked child of it ("[pam]"), password
 * authentication in the monitor itself; the user's commands run below an
 * unprivileged child of the monitor.  So:
 *
 *   - on success the module finds the monitor (its session leader, which
 *     must be itself or its parent, and run as root) and writes
 *     STORE_DIR/gate/PID, owned by root, naming the user, the IAM user, the
 *     monitor's pid and start time (clock ticks since boot, from
 *     /proc/PID/stat) and the boot id;
 *   - the gateway walks up from itself to its nearest ancestor that runs as
 *     root and leads its session (the monitor of its connection: the
 *     user's commands run in sessions of their own, and for a root login
 *     the unprivileged child runs as root but does not lead a session), and
 *     accepts only a marker for that pid whose start time and boot id match
 *     and which names the gateway's own user and uid.
 *
 * The user cannot write in the root-owned directory, cannot insert a
 * process of their own between the gateway and the monitor that runs as
 * root, and cannot make a reused pid match: a new process with the same pid
 * has a later start time.  A marker lives as long as its connection (all
 * sessions multiplexed over it are covered); close_session removes it and
 * every write sweeps markers whose process is gone.
 */
#ifndef AMFA_GATE_MARKER_H
#define AMFA_GATE_MARKER_H

#include <stddef.h>
#include <sys/types.h>

#define AMFA_GATE_SUBDIR "gate"
#define AMFA_BOOT_ID_LEN 36

/* What /proc says about one process. */
struct amfa_proc {
	pid_t pid;
	pid_t ppid;
	pid_t sid;
	uid_t ruid;		  /* real uid */
	unsigned long long start; /* clock ticks after boot */
};

/* A marker's content. */
struct amfa_gate_mark {
	char user[65];
	uid_t uid;
	char iam_user[129];
	pid_t pid; /* the connection's monitor */
	unsigned long long start;
	char boot_id[AMFA_BOOT_ID_LEN + 1];
	long long time; /* when the factor was accepted */
	/* PAM_RHOST as sshd set it (the client's address, or its name with
	 * UseDNS); "" when unknown (also in markers written before it). */
	char rhost[256];
};

/* Parse the text of /proc/PID/stat.  0 or -1. */
int amfa_proc_parse_stat(const char *buf, struct amfa_proc *p);
/* Read /proc/PID (stat and the real uid from status).  0 or -1. */
int amfa_proc_read(pid_t pid, struct amfa_proc *p);
/* This boot's id (/proc/sys/kernel/random/boot_id).  0 or -1. */
int amfa_boot_id(char out[AMFA_BOOT_ID_LEN + 1]);

/*
 * The module's side: the process that holds this connection, i.e. our
 * session leader if it is ourselves or our parent and runs as root.
 * 0, or -1 when we are not below such a process (not an sshd connection:
 * sudo, su in a terminal), which is not an error.
 */
int amfa_gate_connection_self(struct amfa_proc *m);
/*
 * The gateway's side: starting at `from' (normally getppid()), the first
 * ancestor that runs as root and leads its session.  0 or -1 (logged).
 */
int amfa_gate_connection_above(pid_t from, struct amfa_proc *m);

/* Serialise and parse a marker (key = value lines).  0 or -1 (logged). */
int amfa_gate_mark_format(const struct amfa_gate_mark *mk, char *buf, size_t n);
int amfa_gate_mark_parse(const char *buf, size_t len, const char *shown,
    struct amfa_gate_mark *mk);

/*
 * Write the marker for `mk->pid' under STORE_DIR/gate (created root 0711),
 * as `owner' (root in the module) with group `gid' (the user's, so the
 * gateway running as the user can read it), mode 0640.  Also removes the
 * markers of processes that are gone.  0 or -1 (logged).
 */
int amfa_gate_mark_write(const char *store_dir, uid_t owner, gid_t gid,
    const struct amfa_gate_mark *mk);

/*
 * Is there a valid marker for connection `m', user `user' (uid `uid')?
 * The marker and its directory must be owned by `owner' and not writable by
 * group or others.  Returns 0 and fills *mk, or -1 with the reason in
 * `why' (for the audit record; also logged).
 */
int amfa_gate_mark_check(const char *store_dir, uid_t owner,
    const struct amfa_proc *m, const char *user, uid_t uid,
    struct amfa_gate_mark *mk, const char **why);

/* Remove the marker of connection `m' (if any).  0 or -1 (logged). */
int amfa_gate_mark_remove(const char *store_dir, uid_t owner,
    const struct amfa_proc *m);

/*
 * The module's calls: after a successful authentication, mark this
 * connection for `user' (IAM user `iam_user', client `rhost', which may be
 * NULL); at close_session, remove the
 * mark.  Both do nothing outside an sshd-like connection (see
 * amfa_gate_connection_self), and only log on failure: a login does not
 * fail because of the marker, the gateway does.
 */
void amfa_gate_mark_login(const char *store_dir, const char *user,
    const char *iam_user, const char *rhost);
void amfa_gate_mark_logout(const char *store_dir);

#endif
