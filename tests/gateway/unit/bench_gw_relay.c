/*
 * The gateway's relay alone, for the benchmark: connect to HOST PORT and
 * relay stdin/stdout to it with gw_relay(), as awsmfa-gateway does after
 * its checks.  Prints the byte counts to stderr.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"

int
main(int argc, char **argv)
{
	static volatile sig_atomic_t stop;
	struct addrinfo hints, *res;
	struct gw_relay_stats st;
	int fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_gw_relay HOST PORT\n");
		return 2;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0)
		return 1;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		perror("connect");
		return 1;
	}
	freeaddrinfo(res);
	signal(SIGPIPE, SIG_IGN);
	r = gw_relay(STDIN_FILENO, STDOUT_FILENO, fd, &stop, &st);
	fprintf(stderr, "up %llu down %llu spliced %d end %s\n",
	    (unsigned long long)st.up, (unsigned long long)st.down, st.spliced,
	    st.end);
	return r == 0 ? 0 : 1;
}
