/*
 * check-config's question about the instance metadata service: can a user
 * who is not root connect to it?  Then any local user can take the
 * instance role's credentials, which the state table's policy lets write
 * every user's item; see admin.h.
 */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"

#define NOBODY	      65534
#define PROBE_SECONDS 2

/* "http://HOST[:PORT][/...]" or "http://[V6][:PORT][/...]".  0 or -1. */
static int
split(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *p = url, *h, *e;
	size_t n;

	if (strncmp(p, "http://", 7) != 0)
		return -1;
	p += 7;
	if (*p == '[') {
		h = p + 1;
		if ((e = strchr(h, ']')) == NULL)
			return -1;
		p = e + 1;
	} else {
		h = p;
		e = p + strcspn(p, ":/");
		p = e;
	}
	n = (size_t)(e - h);
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (*p == ':') {
		n = strcspn(p + 1, "/");
		if (n == 0 || n >= portlen)
			return -1;
		memcpy(port, p + 1, n);
		port[n] = '\0';
	} else {
		snprintf(port, portlen, "80");
	}
	return 0;
}

/* The child: nobody's ids, then one connect.  Exit 0 when it connected. */
static void
probe_as_nobody(const struct addrinfo *ai)
{
	int fd;

	alarm(PROBE_SECONDS);
	if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) != 0 || getuid() == 0)
		_exit(2);
	for (; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			_exit(0);
		close(fd);
	}
	_exit(1);
}

int
adm_imds_open_to_users(const char *endpoint)
{
	struct addrinfo hints, *ai = NULL;
	char host[256], port[16];
	int status = 0;
	pid_t pid;

	if (endpoint == NULL)
		endpoint = "http://169.254.169.254";
	if (geteuid() != 0 ||
	    split(endpoint, host, sizeof(host), port, sizeof(port)) != 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		freeaddrinfo(ai);
		return -1;
	}
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		probe_as_nobody(ai);
	}
	freeaddrinfo(ai);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return -1;
	return 0;
}
