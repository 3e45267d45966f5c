/*
 * A recorded shell alone, for the benchmark: /bin/sh on a pty of its own,
 * copied to this program's terminal and recorded into FILE with
 * gw_session_run(), as awsmfa-gateway does for a recorded shell after its
 * checks; with "-", /bin/sh is exec'd straight away, as the gateway does
 * for a shell that is not recorded.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "recording/recorded_shell.h"
#include "recording/recording.h"

static int
stop_on_failure(void *ctx, const char *why)
{
	(void)ctx;
	fprintf(stderr, "bench_gw_record: %s\n", why);
	return -1;
}

int
main(int argc, char **argv)
{
	char *env[] = { "PATH=/usr/bin:/bin", "TERM=xterm", NULL };
	struct gw_startup su;
	struct gw_session s;
	struct gw_session_result res;
	struct gw_recording r;
	struct gw_cast_header h = { .user = "bench" };
	struct gw_shell_spec spec = { "/bin/sh", "sh", env, &su, NULL };
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_gw_record FILE|-\n");
		return 2;
	}
	if (strcmp(argv[1], "-") == 0) {
		execve("/bin/sh", (char *[]){ "sh", NULL }, env);
		return 127;
	}
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(&su, 0, sizeof(su));
	getrlimit(RLIMIT_FSIZE, &su.fsize);
	getrlimit(RLIMIT_CORE, &su.core);
	su.umask = 022;
	su.env = env;
	gw_session_probe(&s);
	h.width = s.ws.ws_col;
	h.height = s.ws.ws_row;
	if (gw_recording_start(&r, fd, 1ULL << 40, 0, &h) != 0 ||
	    gw_session_run(&s, &spec, &r, stop_on_failure, NULL, &res) != 0)
		return 1;
	gw_recording_close(&r);
	return res.status;
}
