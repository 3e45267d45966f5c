/*
 * pamtest: run one PAM transaction through the real libpam, with the service
 * file taken from a test directory (pam_start_confdir), so tests never touch
 * /etc/pam.d.
 *
 *   pamtest [-w BARRIER] [-E] [-S] [-H HOLD] [-R RUSER] [-F] [-N]
 *           [-A AGAIN] [-M NAME] [-D N] CONFDIR SERVICE USER
 *
 * Answers to prompts come from standard input, one line per prompt.  Prompts
 * and messages go to standard output ("PROMPT ...", "INFO ...", "ERROR ...").
 * With LOG_PERROR, everything the modules send to syslog is copied to
 * standard error, so tests can read the log.  -w waits until the file
 * BARRIER exists before authenticating (to start many at once).  -E prints
 * the PAM environment after a successful authenticate + setcred.  -S then
 * opens a session ("SESSION OPEN <rc>"), waits until the file HOLD exists
 * (-H), and closes it ("SESSION CLOSE <rc>").  -R sets PAM_RUSER (who asks,
 * as su sets it to its caller).  -F then calls pam_setcred with
 * PAM_REFRESH_CRED, as a screen locker does at unlock ("REFRESH <rc>"),
 * also after a failed authentication (it must renew nothing then).
 * -A: after the transaction, print "DONE", wait until the file AGAIN exists,
 * and run a second transaction in the same process, as a display manager or
 * a screen locker does.  -M: after each transaction (pam_end), print
 * "MAPPED NAME <n>", the number of distinct files whose name ends in NAME
 * this process has mapped (/proc/self/maps).  -D N: before the (first)
 * transaction, N transactions that only call pam_setcred
 * (PAM_ESTABLISH_CRED: no prompt, nothing decided), the i-th with i more
 * descriptors open, as in a long-lived process whose lowest free descriptor
 * varies from one transaction to the next ("WARM <n failed>").
 * Exit status: the PAM return code of the last pam_authenticate.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <security/pam_appl.h>

static char *
read_line(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);

	if (n < 0) {
		free(line);
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	(void)data;
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			printf("PROMPT %s\n", msg[i]->msg);
			fflush(stdout);
			if ((r[i].resp = read_line()) == NULL) {
				for (int j = 0; j < i; j++)
					free(r[j].resp);
				free(r);
				return PAM_CONV_ERR;
			}
			break;
		case PAM_ERROR_MSG:
			printf("ERROR %s\n", msg[i]->msg);
			break;
		case PAM_TEXT_INFO:
			printf("INFO %s\n", msg[i]->msg);
			break;
		default:
			free(r);
			return PAM_CONV_ERR;
		}
	}
	fflush(stdout);
	*resp = r;
	return PAM_SUCCESS;
}

/* The process's open IPv4 and IPv6 sockets (-N: none may outlive a
 * login's pam_authenticate, whose connections the session would
 * inherit). */
static int
inet_sockets(void)
{
	struct dirent *d;
	int n = 0, fd, dom;
	socklen_t len;
	DIR *dir;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || (fd = atoi(d->d_name)) == dirfd(dir))
			continue;
		len = sizeof(dom);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 &&
		    (dom == AF_INET || dom == AF_INET6))
			n++;
	}
	closedir(dir);
	return n;
}

/* Distinct files (device, inode) mapped whose path ends in `name'. */
static int
mapped(const char *name)
{
	char line[4096], seen[16][64];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char dev[32], path[4000], id[64];
		unsigned long inode;
		size_t pl, nl = strlen(name);
		int i;

		path[0] = '\0';
		if (sscanf(line, "%*s %*s %*s %31s %lu %3999[^\n]", dev, &inode,
			path) < 3)
			continue;
		/* " (deleted)": a file replaced since it was mapped */
		if ((pl = strlen(path)) > 10 &&
		    strcmp(path + pl - 10, " (deleted)") == 0)
			path[pl -= 10] = '\0';
		if (pl < nl || strcmp(path + pl - nl, name) != 0)
			continue;
		snprintf(id, sizeof(id), "%s:%lu", dev, inode);
		for (i = 0; i < n && strcmp(seen[i], id) != 0; i++)
			;
		if (i == n && n < 16)
			snprintf(seen[n++], sizeof(seen[0]), "%s", id);
	}
	fclose(f);
	return n;
}

static void
wait_for(const char *path)
{
	struct timespec nap = { 0, 1000 * 1000 };

	for (int i = 0; i < 120000 && access(path, F_OK) != 0; i++)
		nanosleep(&nap, NULL);
}

struct opts {
	const char *barrier, *hold, *ruser, *again, *mapname;
	int env, session, refresh, sockets, warm;
};

/* -D: `n' setcred-only transactions, the i-th with i more descriptors
 * open; how many of them failed, or -1. */
static int
warm_up(char **names, int n)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh;
	int failed = 0, fds[256];

	for (int i = 0; i < n && i < 256; i++) {
		int k;

		for (k = 0; k < i; k++)
			if ((fds[k] = open("/dev/null", O_RDONLY)) < 0)
				return -1;
		pamh = NULL;
		if (pam_start_confdir(names[1], names[2], &pc, names[0],
			&pamh) != PAM_SUCCESS)
			return -1;
		if (pam_setcred(pamh, PAM_ESTABLISH_CRED) != PAM_SUCCESS)
			failed++;
		pam_end(pamh, PAM_SUCCESS);
		while (k > 0)
			close(fds[--k]);
	}
	return failed;
}

/* One transaction; the return code of pam_authenticate, or -1. */
static int
transaction(const struct opts *o, char **names)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	int r;

	r = pam_start_confdir(names[1], names[2], &pc, names[0], &pamh);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "pam_start_confdir: %d\n", r);
		return -1;
	}
	if (o->ruser != NULL &&
	    pam_set_item(pamh, PAM_RUSER, o->ruser) != PAM_SUCCESS) {
		fprintf(stderr, "pam_set_item PAM_RUSER failed\n");
		return -1;
	}
	if (o->barrier != NULL)
		wait_for(o->barrier);
	r = pam_authenticate(pamh, 0);
	printf("RESULT %d %s\n", r, pam_strerror(pamh, r));
	if (o->sockets)
		printf("INET_SOCKETS %d\n", inet_sockets());
	if (r == PAM_SUCCESS && (o->env || o->session)) {
		int s = pam_setcred(pamh, PAM_ESTABLISH_CRED);
		printf("SETCRED %d\n", s);
		char **list = pam_getenvlist(pamh);
		for (char **e = list; e != NULL && *e != NULL; e++) {
			if (o->env)
				printf("ENV %s\n", *e);
			free(*e);
		}
		free(list);
	}
	if (o->refresh)
		printf("REFRESH %d\n", pam_setcred(pamh, PAM_REFRESH_CRED));
	if (r == PAM_SUCCESS && o->session) {
		int s = pam_open_session(pamh, 0);
		printf("SESSION OPEN %d\n", s);
		fflush(stdout);
		if (o->hold != NULL)
			wait_for(o->hold);
		if (s == PAM_SUCCESS)
			printf("SESSION CLOSE %d\n",
			    pam_close_session(pamh, 0));
	}
	pam_end(pamh, r);
	if (o->mapname != NULL)
		printf("MAPPED %s %d\n", o->mapname, mapped(o->mapname));
	fflush(stdout);
	return r;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	int c, r;

	while ((c = getopt(argc, argv, "w:ESH:R:FNA:M:D:")) != -1) {
		switch (c) {
		case 'w':
			o.barrier = optarg;
			break;
		case 'E':
			o.env = 1;
			break;
		case 'S':
			o.session = 1;
			break;
		case 'H':
			o.hold = optarg;
			break;
		case 'R':
			o.ruser = optarg;
			break;
		case 'F':
			o.refresh = 1;
			break;
		case 'N':
			o.sockets = 1;
			break;
		case 'A':
			o.again = optarg;
			break;
		case 'M':
			o.mapname = optarg;
			break;
		case 'D':
			o.warm = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr,
		    "usage: pamtest [-w BARRIER] [-E] [-S] [-H HOLD] [-R RUSER] "
		    "[-F] [-N] [-A AGAIN] [-M NAME] [-D N] CONFDIR SERVICE "
		    "USER\n");
		return 2;
	}
	openlog("pamtest", LOG_PERROR | LOG_PID, LOG_AUTHPRIV);
	if (o.warm > 0) {
		printf("WARM %d\n", warm_up(argv + optind, o.warm));
		fflush(stdout);
	}
	if ((r = transaction(&o, argv + optind)) < 0)
		return 2;
	if (o.again != NULL) {
		printf("DONE\n");
		fflush(stdout);
		wait_for(o.again);
		if ((r = transaction(&o, argv + optind)) < 0)
			return 2;
	}
	return r;
}
