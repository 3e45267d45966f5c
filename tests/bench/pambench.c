/*
 * pambench: time full PAM transactions (pam_start -> pam_authenticate ->
 * pam_end) in-process, one per user, through the real libpam with the
 * service file taken from a benchmark directory (pam_start_confdir).
 *
 *   pambench [-j WORKERS] [-f] [-k MODULE] CONFDIR SERVICE CODESFILE
 *
 * CODESFILE holds what the logins type, computed beforehand by the caller
 * (the driver links no crypto, so it cannot keep libcrypto loaded on a
 * module's behalf):
 *
 *	STEP0 PERIOD
 *	USER CODE(STEP0) CODE(STEP0+1) ...
 *
 * Each login answers every prompt with the code of the current time step, so
 * a run may cross step boundaries.  The users are shared out round-robin
 * among WORKERS processes (default 1), which start together once all are
 * forked; each runs its logins one after the other.  Processes, not threads:
 * PAM modules keep per-process state (the pam_awsmfa core has a per-thread
 * log sink, pam_google_authenticator changes the fsuid of the process).
 *
 * -f runs every login in a fresh child forked from its worker, as sshd does
 * per connection: the modules and their libraries are then loaded cold for
 * each login.  The fork is outside the per-login time but inside the wall
 * time.  -k MODULE dlopen()s MODULE once before the run and keeps it, so
 * libpam's per-transaction dlopen/dlclose of it only counts references.
 *
 * Output, one line of KEY=VALUE on standard output:
 *	logins ok fail wall_ns mean_ns p50_ns p99_ns cpu_ns maxrss_kb
 * cpu_ns is the user + system time of all workers (and login children)
 * together; on a loaded machine it varies less than the wall times.
 * maxrss_kb is the largest peak resident set of any worker (or login child
 * with -f).  Exit status 0 only if every login returned PAM_SUCCESS; the
 * first failure is described on standard error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "bench_clock.h"

#define CODE_LEN 10

struct user {
	char name[33];
	int ncodes;
	char (*codes)[CODE_LEN];
};

/* Results, in memory shared with the workers. */
struct slot {
	int64_t ns;
	int rc;
	long maxrss_kb;
};

static struct user *users;
static int nusers;
static int64_t step0, period;

static void
load_codes(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *save, *tok;
	size_t cap = 0;
	int alloc = 0;

	if (f == NULL ||
	    fscanf(f, "%lld %lld\n", (long long *)&step0,
		(long long *)&period) != 2 ||
	    period <= 0) {
		fprintf(stderr, "pambench: %s: cannot read header\n", path);
		exit(2);
	}
	while (getline(&line, &cap, f) > 0) {
		struct user *u;

		if ((tok = strtok_r(line, " \n", &save)) == NULL)
			continue;
		if (nusers == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			users = realloc(users, (size_t)alloc * sizeof(*users));
			if (users == NULL) {
				perror("pambench: realloc");
				exit(2);
			}
		}
		u = &users[nusers++];
		memset(u, 0, sizeof(*u));
		snprintf(u->name, sizeof(u->name), "%s", tok);
		while ((tok = strtok_r(NULL, " \n", &save)) != NULL) {
			u->codes = realloc(u->codes,
			    (size_t)(u->ncodes + 1) * sizeof(*u->codes));
			if (u->codes == NULL || strlen(tok) >= CODE_LEN) {
				fprintf(stderr, "pambench: bad code line\n");
				exit(2);
			}
			snprintf(u->codes[u->ncodes++], CODE_LEN, "%s", tok);
		}
	}
	free(line);
	fclose(f);
	if (nusers == 0) {
		fprintf(stderr, "pambench: %s: no users\n", path);
		exit(2);
	}
}

/* The code the user would type now; NULL once the file's codes run out. */
static const char *
current_code(const struct user *u)
{
	int64_t i = (int64_t)time(NULL) / period - step0;

	if (i < 0 || i >= u->ncodes)
		return NULL;
	return u->codes[i];
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	const char *code = data;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		if ((r[i].resp = strdup(code)) == NULL) {
			for (int j = 0; j < i; j++)
				free(r[j].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/*
 * -w DIR: the floor of a durable decision, what any module that records
 * its decision durably must pay at least: one 512-byte pwrite and one
 * fdatasync of the user's file in DIR (made by bench.py), after the
 * transaction and inside its timed window.
 */
static const char *floor_dir;

static int
durable_write(const char *user)
{
	char path[4096], block[512];
	int fd, r = PAM_SUCCESS;

	snprintf(path, sizeof(path), "%s/%s", floor_dir, user);
	memset(block, 'x', sizeof(block));
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return PAM_SYSTEM_ERR;
	if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) ||
	    fdatasync(fd) != 0)
		r = PAM_SYSTEM_ERR;
	close(fd);
	return r;
}

/* One transaction; the time covers pam_start to pam_end inclusive. */
static void
login(const char *confdir, const char *service, const struct user *u,
    struct slot *s)
{
	const char *code = current_code(u);
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	int64_t t0;
	int r;

	if (code == NULL) {
		s->rc = -1;
		return;
	}
	pc.appdata_ptr = (void *)code;
	t0 = now_ns();
	r = pam_start_confdir(service, u->name, &pc, confdir, &pamh);
	if (r == PAM_SUCCESS) {
		r = pam_authenticate(pamh, PAM_SILENT);
		pam_end(pamh, r);
	}
	if (r == PAM_SUCCESS && floor_dir != NULL)
		r = durable_write(u->name);
	s->ns = now_ns() - t0;
	s->rc = r;
}

static long
maxrss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static void
worker(int w, int nworkers, int fresh, const char *confdir, const char *service,
    struct slot *slots, int startfd)
{
	char c;

	if (read(startfd, &c, 1) < 0)
		_exit(2);
	for (int i = w; i < nusers; i += nworkers) {
		pid_t pid;
		int st;

		if (!fresh) {
			login(confdir, service, &users[i], &slots[i]);
			continue;
		}
		if ((pid = fork()) < 0) {
			slots[i].rc = -2;
			continue;
		}
		if (pid == 0) {
			login(confdir, service, &users[i], &slots[i]);
			slots[i].maxrss_kb = maxrss_kb();
			_exit(0);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	slots[w].maxrss_kb = fresh ? slots[w].maxrss_kb : maxrss_kb();
	_exit(0);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *keep = NULL;
	struct slot *slots;
	int64_t t0, wall, sum = 0, cpu, *ns;
	struct rusage ru;
	long rss = 0;
	int c, nworkers = 1, fresh = 0, startpipe[2], ok = 0, fail = 0;
	int first_fail = -1;

	while ((c = getopt(argc, argv, "j:fk:w:")) != -1) {
		switch (c) {
		case 'j':
			nworkers = atoi(optarg);
			break;
		case 'f':
			fresh = 1;
			break;
		case 'k':
			keep = optarg;
			break;
		case 'w':
			floor_dir = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 3 || nworkers < 1 || nworkers > 256) {
		fprintf(stderr,
		    "usage: pambench [-j WORKERS] [-f] [-k MODULE] [-w DIR] "
		    "CONFDIR SERVICE CODESFILE\n");
		return 2;
	}
	load_codes(argv[optind + 2]);
	if (nworkers > nusers)
		nworkers = nusers;
	if (keep != NULL && dlopen(keep, RTLD_NOW) == NULL) {
		fprintf(stderr, "pambench: %s\n", dlerror());
		return 2;
	}
	slots = mmap(NULL, (size_t)nusers * sizeof(*slots),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED || pipe(startpipe) != 0) {
		perror("pambench");
		return 2;
	}
	for (int w = 0; w < nworkers; w++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("pambench: fork");
			return 2;
		}
		if (pid == 0) {
			close(startpipe[1]);
			worker(w, nworkers, fresh, argv[optind],
			    argv[optind + 1], slots, startpipe[0]);
		}
	}
	close(startpipe[0]);
	/* Every worker is blocked in read(); closing the pipe starts them. */
	t0 = now_ns();
	close(startpipe[1]);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	wall = now_ns() - t0;
	if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
		memset(&ru, 0, sizeof(ru));
	cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;

	if ((ns = calloc((size_t)nusers, sizeof(*ns))) == NULL)
		return 2;
	for (int i = 0; i < nusers; i++) {
		if (slots[i].maxrss_kb > rss)
			rss = slots[i].maxrss_kb;
		if (slots[i].rc != PAM_SUCCESS) {
			if (first_fail < 0)
				first_fail = i;
			fail++;
			continue;
		}
		ns[ok++] = slots[i].ns;
		sum += slots[i].ns;
	}
	if (first_fail >= 0)
		fprintf(stderr,
		    "pambench: %d of %d logins failed; first: %s "
		    "rc=%d%s\n",
		    fail, nusers, users[first_fail].name, slots[first_fail].rc,
		    slots[first_fail].rc == -1 ?
			" (no code for this time step in the codes file)" :
			"");
	qsort(ns, (size_t)ok, sizeof(*ns), cmp_i64);
	printf("logins=%d ok=%d fail=%d workers=%d wall_ns=%lld mean_ns=%lld "
	       "p50_ns=%lld p99_ns=%lld cpu_ns=%lld maxrss_kb=%ld\n",
	    nusers, ok, fail, nworkers, (long long)wall,
	    ok ? (long long)(sum / ok) : 0LL, ok ? (long long)ns[ok / 2] : 0LL,
	    ok ? (long long)ns[(int)((ok - 1) * 0.99)] : 0LL, (long long)cpu,
	    rss);
	return fail == 0 ? 0 : 1;
}
