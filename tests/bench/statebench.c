/*
 * statebench: the cost of one durable update of a small per-user record,
 * done four ways, in DIR (put it on the filesystem of the state directory).
 *
 *   statebench DIR N
 *
 *   replace+fsync+dirfsync	temporary file, write, fsync, rename, fsync
 *				of the directory (pam_awsmfa's state today)
 *   replace+fsync		the same without the directory fsync
 *				(pam_google_authenticator, pam_oath)
 *   replace, no sync		the same without any fsync (not durable)
 *   in place + fdatasync	pwrite over a fixed-size record + fdatasync
 *
 * N updates each, spread over 50 files; mean and median per update.  The
 * files are removed at the end.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

#define RECORD 96
#define FILES  50

enum way { REPLACE_DIRSYNC, REPLACE_SYNC, REPLACE_NOSYNC, IN_PLACE, WAYS };

static const char *const way_name[WAYS] = {
	"replace+fsync+dirfsync",
	"replace+fsync",
	"replace, no sync",
	"in place + fdatasync",
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
update(int dirfd, enum way w, int i, const char *rec)
{
	char name[32];
	int fd, r = 0;

	snprintf(name, sizeof(name), "u%02d.state", i % FILES);
	if (w == IN_PLACE) {
		if ((fd = openat(dirfd, name, O_WRONLY)) < 0)
			return -1;
		if (pwrite(fd, rec, RECORD, 0) != RECORD || fdatasync(fd) != 0)
			r = -1;
		close(fd);
		return r;
	}
	fd = openat(dirfd, ".tmp", O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, rec, RECORD) != RECORD ||
	    (w != REPLACE_NOSYNC && fsync(fd) != 0))
		r = -1;
	if (close(fd) != 0 || renameat(dirfd, ".tmp", dirfd, name) != 0)
		r = -1;
	if (w == REPLACE_DIRSYNC && fsync(dirfd) != 0)
		r = -1;
	return r;
}

int
main(int argc, char **argv)
{
	char rec[RECORD];
	int64_t *t;
	int dirfd, n;

	if (argc != 3 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: statebench DIR N\n");
		return 2;
	}
	if ((dirfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0 ||
	    (t = calloc((size_t)n, sizeof(*t))) == NULL) {
		perror("statebench");
		return 2;
	}
	memset(rec, 'x', sizeof(rec));
	/* Every file exists and is on disk before the first timed update. */
	for (int i = 0; i < FILES; i++)
		if (update(dirfd, REPLACE_DIRSYNC, i, rec) != 0) {
			perror("statebench");
			return 1;
		}
	for (enum way w = 0; w < WAYS; w++) {
		int64_t sum = 0;

		for (int i = 0; i < n; i++) {
			int64_t t0 = now_ns();

			if (update(dirfd, w, i, rec) != 0) {
				perror("statebench");
				return 1;
			}
			t[i] = now_ns() - t0;
			sum += t[i];
		}
		qsort(t, (size_t)n, sizeof(*t), cmp_i64);
		printf("%-24s mean %6.0f us  median %6.0f us\n", way_name[w],
		    (double)sum / n / 1e3, (double)t[n / 2] / 1e3);
	}
	for (int i = 0; i < FILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "u%02d.state", i);
		unlinkat(dirfd, name, 0);
	}
	return 0;
}
