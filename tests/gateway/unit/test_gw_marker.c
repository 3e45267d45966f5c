/*
 * The gate marker: /proc parsing, finding the connection's process from
 * either side (real process trees made with fork, setsid and setuid), and
 * the marker's write, check, sweep and removal in a scratch store.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gate_marker.h"
#include "logcap.h"
#include "tap.h"

#define NOBODY 65534

static void
stat_parse(void)
{
	struct amfa_proc p;

	ok(amfa_proc_parse_stat("1234 (sshd) S 1000 1234 1234 0 -1 4194560 "
				"1 2 3 4 5 6 7 8 20 0 1 0 98765 1 2 3\n",
	       &p) == 0 &&
		p.pid == 1234 && p.ppid == 1000 && p.sid == 1234 &&
		p.start == 98765,
	    "plain stat line");
	ok(amfa_proc_parse_stat("77 (a) (b) S 9 8 7 0 -1 0 0 0 0 0 0 0 0 0 "
				"20 0 1 0 55 0\n",
	       &p) == 0 &&
		p.pid == 77 && p.ppid == 9 && p.sid == 7 && p.start == 55,
	    "a command name with \") (\" in it does not shift the fields");
	ok(amfa_proc_parse_stat("77 (x) S 9 8 7\n", &p) == -1, "too short");
	ok(amfa_proc_parse_stat(
	       "(x) S 9 8 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n", &p) == -1,
	    "no pid");
	ok(amfa_proc_parse_stat("", &p) == -1, "empty");
	ok(amfa_proc_read(getpid(), &p) == 0 && p.pid == getpid() &&
		p.ppid == getppid() && p.sid == getsid(0) &&
		p.ruid == getuid() && p.start > 0,
	    "our own /proc entry");
	ok(amfa_proc_read(0x7ffffff0, &p) == -1, "no such process");
}

static void
boot_id(void)
{
	char id[AMFA_BOOT_ID_LEN + 1];

	ok(amfa_boot_id(id) == 0 && strlen(id) == 36 && id[8] == '-',
	    "boot id read");
}

static void
format_parse(void)
{
	struct amfa_gate_mark a = { .uid = 1001,
		.pid = 4321,
		.start = 123456789012ULL,
		.time = 1795563000 },
			      b;
	char buf[2048];

	strcpy(a.user, "alice");
	strcpy(a.iam_user, "alice@corp");
	ok(amfa_boot_id(a.boot_id) == 0, "boot id for the marker");
	ok(amfa_gate_mark_format(&a, buf, sizeof(buf)) == 0, "formats");
	ok(amfa_gate_mark_parse(buf, strlen(buf), "m", &b) == 0 &&
		strcmp(b.user, "alice") == 0 &&
		strcmp(b.iam_user, "alice@corp") == 0 && b.uid == 1001 &&
		b.pid == 4321 && b.start == 123456789012ULL &&
		strcmp(b.boot_id, a.boot_id) == 0 && b.time == 1795563000,
	    "round trip");
	ok(b.rhost[0] == '\0', "no rhost round trip");
	strcpy(a.rhost, "198.51.100.7");
	amfa_gate_mark_format(&a, buf, sizeof(buf));
	ok(amfa_gate_mark_parse(buf, strlen(buf), "m", &b) == 0 &&
		strcmp(b.rhost, "198.51.100.7") == 0,
	    "rhost round trip");
	a.rhost[0] = '\0';
	a.iam_user[0] = '\0';
	amfa_gate_mark_format(&a, buf, sizeof(buf));
	ok(amfa_gate_mark_parse(buf, strlen(buf), "m", &b) == 0 &&
		b.iam_user[0] == '\0',
	    "no IAM user round trip");
	const char *old = "user = a\nuid = 1\niam_user = -\npid = 5\n"
			  "start = 5\nboot_id = x\ntime = 1\n";
	ok(amfa_gate_mark_parse(old, strlen(old), "m", &b) == 0 &&
		b.rhost[0] == '\0',
	    "a marker written before rhost: no rhost");
	const char *bad = "user = a\nuid = 1\niam_user = -\npid = 5\n"
			  "start = 5\nboot_id = x\ntime = 1\nrhost = a\033b\n";
	logcap_start();
	ok(amfa_gate_mark_parse(bad, strlen(bad), "m", &b) == -1,
	    "an rhost with a control character refused");
	logcap_start();
	ok(amfa_gate_mark_parse("user = a\nuid = 1\n", 18, "m", &b) == -1,
	    "incomplete marker refused");
	logcap_start();
	ok(amfa_gate_mark_parse("user = a\nextra = 1\n", 19, "m", &b) == -1 &&
		logcap_has("m:2: unknown key"),
	    "unknown key refused with line");
	const char *neg = "user = a\nuid = 1\niam_user = -\npid = 5\n"
			  "start = -5\nboot_id = x\ntime = 1\n";
	logcap_start();
	ok(amfa_gate_mark_parse(neg, strlen(neg), "m", &b) == -1,
	    "negative start refused");
}

/* A scratch store directory owned by us. */
static char store[64];

static void
fresh_store(void)
{
	char cmd[128];

	if (store[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", store);
		if (system(cmd) != 0)
			abort();
	}
	strcpy(store, "/tmp/gw-marker-XXXXXX");
	if (mkdtemp(store) == NULL || chmod(store, 0755) != 0)
		abort();
}

static void
mark_for(struct amfa_gate_mark *mk, const struct amfa_proc *m, const char *user,
    uid_t uid)
{
	memset(mk, 0, sizeof(*mk));
	snprintf(mk->user, sizeof(mk->user), "%s", user);
	snprintf(mk->iam_user, sizeof(mk->iam_user), "%s-iam", user);
	mk->uid = uid;
	mk->pid = m->pid;
	mk->start = m->start;
	mk->time = 1;
	amfa_boot_id(mk->boot_id);
}

static int
check(const struct amfa_proc *m, const char *user, uid_t uid, const char **why)
{
	struct amfa_gate_mark got;

	*why = NULL;
	logcap_start();
	return amfa_gate_mark_check(store, getuid(), m, user, uid, &got, why);
}

static void
write_check(void)
{
	struct amfa_gate_mark mk, got;
	struct amfa_proc me, other;
	char path[128], gate[128];
	const char *why;
	struct stat st;

	fresh_store();
	amfa_proc_read(getpid(), &me);
	ok(check(&me, "alice", 1001, &why) == -1 &&
		strcmp(why, "marker directory unusable") == 0,
	    "no marker directory yet: refused");
	mark_for(&mk, &me, "alice", 1001);
	ok(amfa_gate_mark_write(store, getuid(), getgid(), &mk) == 0,
	    "marker written");
	snprintf(gate, sizeof(gate), "%s/gate", store);
	snprintf(path, sizeof(path), "%s/gate/%ld", store, (long)me.pid);
	ok(stat(gate, &st) == 0 && (st.st_mode & 07777) == 0711,
	    "gate directory is 0711 (search, no listing)");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640 &&
		st.st_uid == getuid() && st.st_gid == getgid(),
	    "marker is 0640, owner and group as asked");
	ok(amfa_gate_mark_check(store, getuid(), &me, "alice", 1001, &got,
	       &why) == 0 &&
		strcmp(got.iam_user, "alice-iam") == 0,
	    "valid marker accepted, IAM user returned");
	ok(check(&me, "bob", 1001, &why) == -1 &&
		strcmp(why, "MFA marker is for another user") == 0,
	    "another user name refused");
	ok(check(&me, "alice", 1002, &why) == -1 &&
		strcmp(why, "MFA marker is for another user") == 0,
	    "another uid refused");
	other = me;
	other.start++;
	ok(check(&other, "alice", 1001, &why) == -1 &&
		strcmp(why, "MFA marker is from another connection") == 0,
	    "same pid, later start time (pid reused): refused");
	other = me;
	other.pid = getppid();
	ok(check(&other, "alice", 1001, &why) == -1 &&
		strcmp(why, "no MFA marker for this connection") == 0,
	    "another process has no marker");

	strcpy(mk.boot_id, "00000000-0000-0000-0000-000000000000");
	amfa_gate_mark_write(store, getuid(), getgid(), &mk);
	ok(check(&me, "alice", 1001, &why) == -1 &&
		strcmp(why, "MFA marker is from another boot") == 0,
	    "marker from another boot refused");

	mark_for(&mk, &me, "alice", 1001);
	amfa_gate_mark_write(store, getuid(), getgid(), &mk);
	chmod(path, 0660);
	ok(check(&me, "alice", 1001, &why) == -1 &&
		strcmp(why, "MFA marker unusable") == 0 &&
		logcap_has("too open"),
	    "group-writable marker refused");
	chmod(path, 0640);
	chmod(gate, 0731);
	ok(check(&me, "alice", 1001, &why) == -1 &&
		strcmp(why, "marker directory unusable") == 0,
	    "group-writable gate directory refused");
	chmod(gate, 0711);
	if (getuid() == 0) {
		chown(path, NOBODY, 0);
		ok(check(&me, "alice", 1001, &why) == -1 &&
			logcap_has("owned by uid"),
		    "marker owned by a user refused");
		chown(path, 0, 0);
	}
	unlink(path);
	symlink("/etc/hostname", path);
	ok(check(&me, "alice", 1001, &why) == -1 && logcap_has("symbolic link"),
	    "a symbolic link is not a marker");
	unlink(path);
	if (getuid() == 0) {
		/* Written by root, read by the user: through 0711 and 0640. */
		mark_for(&mk, &me, "nobody", NOBODY);
		amfa_gate_mark_write(store, 0, NOBODY, &mk);
		pid_t c = fork();
		if (c == 0) {
			struct amfa_gate_mark g;
			const char *w;

			if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
				_exit(3);
			amfa_log_set_sink(NULL, NULL);
			_exit(amfa_gate_mark_check(store, 0, &me, "nobody",
				  NOBODY, &g, &w) == 0 ?
				0 :
				1);
		}
		int status;
		waitpid(c, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "an unprivileged user can read a marker of their group");
	}
}

/* The modes the gateway needs, whatever the writer's umask. */
static void
modes(void)
{
	struct amfa_gate_mark mk;
	struct amfa_proc me;
	char gate[128];
	struct stat st;
	mode_t old;

	fresh_store();
	rmdir(store);
	amfa_proc_read(getpid(), &me);
	mark_for(&mk, &me, "alice", 1001);
	old = umask(077);
	ok(amfa_gate_mark_write(store, getuid(), getgid(), &mk) == 0,
	    "written under umask 077, store created");
	snprintf(gate, sizeof(gate), "%s/gate", store);
	ok(stat(store, &st) == 0 && (st.st_mode & 07777) == 0755,
	    "store directory 0755 all the same");
	ok(stat(gate, &st) == 0 && (st.st_mode & 07777) == 0711,
	    "gate directory 0711 all the same");
	chmod(gate, 0700);
	ok(amfa_gate_mark_write(store, getuid(), getgid(), &mk) == 0 &&
		stat(gate, &st) == 0 && (st.st_mode & 07777) == 0711,
	    "a gate directory of 0700 is set back to 0711 by the next write");
	umask(old);
}

static void
sweep_remove(void)
{
	struct amfa_gate_mark mk;
	struct amfa_proc me, dead;
	char path[128];
	pid_t c;

	fresh_store();
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	amfa_proc_read(c, &dead);
	mark_for(&mk, &dead, "alice", 1001);
	ok(amfa_gate_mark_write(store, getuid(), getgid(), &mk) == 0,
	    "marker for a child written");
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	snprintf(path, sizeof(path), "%s/gate/%ld", store, (long)c);
	ok(access(path, F_OK) == 0, "it is there while nobody sweeps");
	amfa_proc_read(getpid(), &me);
	mark_for(&mk, &me, "alice", 1001);
	ok(amfa_gate_mark_write(store, getuid(), getgid(), &mk) == 0,
	    "another marker written");
	ok(access(path, F_OK) != 0,
	    "the write swept the dead process's marker");
	snprintf(path, sizeof(path), "%s/gate/%ld", store, (long)me.pid);
	ok(access(path, F_OK) == 0, "the live one stays");
	ok(amfa_gate_mark_remove(store, getuid(), &me) == 0 &&
		access(path, F_OK) != 0,
	    "removed at logout");
	ok(amfa_gate_mark_remove(store, getuid(), &me) == 0,
	    "removing twice is fine");
}

/*
 * The process trees of sshd, rebuilt: a root session leader (the
 * monitor), below it a root process that is not a leader (the [pam]
 * child; for a root login also the post-auth child), and below that a
 * user's process (the gateway).  Each test runs in a child that reports
 * through its exit status.
 */
static int
in_child(int (*fn)(void))
{
	int status;
	pid_t c = fork();

	if (c == 0)
		_exit(fn());
	waitpid(c, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static pid_t leader;

static int
gateway_side(void)
{
	struct amfa_proc m;

	if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 3;
	if (amfa_gate_connection_above(getppid(), &m) != 0)
		return 4;
	return m.pid == leader ? 0 : 5;
}

static int
mid_root(void)
{
	struct amfa_proc m;

	/* The module's side in the [pam] child: its parent leads. */
	if (amfa_gate_connection_self(&m) != 0 || m.pid != leader)
		return 6;
	return in_child(gateway_side);
}

static int
monitor(void)
{
	struct amfa_proc m;

	if (setsid() < 0)
		return 7;
	leader = getpid();
	/* The module's side in the monitor itself. */
	if (amfa_gate_connection_self(&m) != 0 || m.pid != leader)
		return 8;
	return in_child(mid_root);
}

static int
grandchild_self(void)
{
	struct amfa_proc m;

	/* Two levels below the leader: not a connection of ours. */
	return amfa_gate_connection_self(&m) == -1 ? 0 : 9;
}

static int
child_of_leader(void)
{
	return in_child(grandchild_self);
}

static int
monitor2(void)
{
	if (setsid() < 0)
		return 7;
	return in_child(child_of_leader);
}

static int
user_leader(void)
{
	struct amfa_proc m;

	/* A user's own session leader (su in a terminal, sudo). */
	if (setsid() < 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 3;
	return amfa_gate_connection_self(&m) == -1 ? 0 : 10;
}

static void
trees(void)
{
	if (getuid() != 0) {
		printf("# skipping the process-tree tests: they need root\n");
		return;
	}
	is_int(in_child(monitor), 0,
	    "monitor, [pam] child and gateway agree "
	    "on the connection (skipping the non-leader root process)");
	is_int(in_child(monitor2), 0,
	    "two levels below a leader: no connection");
	is_int(in_child(user_leader), 0,
	    "a session leader that is not root is no connection");
}

int
main(void)
{
	stat_parse();
	boot_id();
	format_parse();
	write_check();
	modes();
	sweep_remove();
	trees();
	if (store[0] != '\0') {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", store);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
