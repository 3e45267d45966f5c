/*
 * Careful files (secure_file.c): a file read whole in one read, and refused
 * when it holds more than its size said; a directory opened, or made when
 * it is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logcap.h"
#include "secure_file.h"
#include "tap.h"

/* mkdtemp's template: a directory of its own for each run. */
static char top[] = "/tmp/amfa-secure-file-XXXXXX";

static void
sizes(int dfd)
{
	static const size_t n[] = { 0, 1, 2, 4095, 4096, 4097, 8191, 8192 };
	struct amfa_file_policy pol = { getuid(), 022, 8192 };
	int bad = 0;

	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		char *want = malloc(n[i] + 1), *got = NULL;
		size_t len = 12345;
		int fd;

		for (size_t k = 0; k < n[i]; k++)
			want[k] = (char)('a' + k % 26);
		fd = openat(dfd, "f", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, want, n[i]) != (ssize_t)n[i])
			bad++;
		close(fd);
		if (amfa_file_read(dfd, "f", "f", &pol, &got, &len) != 0 ||
		    len != n[i] || memcmp(got, want, n[i]) != 0 ||
		    got[n[i]] != '\0')
			bad++;
		free(got);
		free(want);
	}
	ok(bad == 0, "files of 0 to 8192 bytes read whole and NUL-ended");
}

/* /proc/self/status is a regular file whose size says 0 and which holds
 * more: what a file that grows between fstat and read looks like. */
static void
grown(void)
{
	struct amfa_file_policy pol = { getuid(), 022, 8192 };
	char *got = (char *)1;
	size_t len = 1;
	int dfd = open("/proc/self", O_RDONLY | O_DIRECTORY);
	struct stat st;

	ok(dfd >= 0 && fstatat(dfd, "status", &st, 0) == 0 &&
		S_ISREG(st.st_mode) && st.st_size == 0,
	    "/proc/self/status: regular, size 0");
	logcap_start();
	ok(amfa_file_read(dfd, "status", "status", &pol, &got, &len) ==
		    -EAGAIN &&
		got == NULL && len == 0 &&
		logcap_has("status: changed while being read, refused"),
	    "a file holding more than its size said is refused");
	close(dfd);
}

static void
dirs(void)
{
	char path[128];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/made", top);
	umask(0);
	fd = amfa_dir_create_open(path, getuid(), 0700);
	ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
		(st.st_mode & 07777) == 0700,
	    "a missing directory is made, mode 0700 whatever the umask");
	close(fd);
	logcap_start();
	fd = amfa_dir_create_open(path, getuid(), 0700);
	ok(fd >= 0 && logcap_buf[0] == '\0',
	    "an existing one is opened, nothing said");
	close(fd);
	chmod(path, 0755);
	logcap_start();
	ok(amfa_dir_create_open(path, getuid(), 0700) == -1 &&
		logcap_has("mode 0755 is too open"),
	    "an existing one too open is refused");
	logcap_start();
	ok(amfa_dir_create_open(path, getuid() + 1, 0700) == -1 &&
		logcap_has("must be owned by uid"),
	    "an existing one of another owner is refused");
	snprintf(path, sizeof(path), "%s/none/made", top);
	logcap_start();
	ok(amfa_dir_create_open(path, getuid(), 0700) == -1 &&
		errno == ENOENT && logcap_has("cannot create"),
	    "a missing parent: refused, and said");
	umask(022);
}

int
main(void)
{
	int dfd;

	if (mkdtemp(top) == NULL || (dfd = open(top, O_RDONLY)) < 0)
		return 1;
	sizes(dfd);
	grown();
	dirs();
	close(dfd);
	{
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
