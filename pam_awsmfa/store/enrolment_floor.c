/* The per-host version floor of table enrolments; see enrolment_floor.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enrolment_floor.h"
#include "log.h"
#include "secure_file.h"

#define LOCK_NAME    ".lock"
#define LOCK_WAIT_MS 5000
#define FLOOR_MAX    32

/* STATE_DIR/enrolment-floor, created 0700 (root's) if missing. */
static int
floor_dir(const struct amfa_config *cfg, char *path, size_t max)
{
	int fd;

	/* As the files' store makes it (state.c). */
	if ((fd = amfa_dir_create_open(cfg->state_dir, 0, 0700)) < 0)
		return -1;
	close(fd);
	snprintf(path, max, "%s/%s", cfg->state_dir, AMFA_FLOOR_DIR);
	return amfa_dir_create_open(path, 0, 0700);
}

static int
read_floor(int dirfd, const char *dir, const char *user, uint64_t *floor)
{
	struct amfa_file_policy policy = { 0, 077, FLOOR_MAX };
	char shown[4096], *buf = NULL, *end;
	unsigned long long v;
	size_t len;
	int r;

	*floor = 0;
	snprintf(shown, sizeof(shown), "%s/%s", dir, user);
	r = amfa_file_read(dirfd, user, shown, &policy, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r != 0)
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    buf[0] == '-' || v == 0) {
		amfa_log(LOG_ERR, "%s: not an enrolment version", shown);
		amfa_wipe_free(buf, len + 1);
		return -1;
	}
	amfa_wipe_free(buf, len + 1);
	*floor = (uint64_t)v;
	return 0;
}

int
amfa_enrolment_floor_get(const struct amfa_config *cfg, const char *user,
    uint64_t *floor)
{
	char dir[4096];
	int fd, r;

	*floor = 0;
	if ((fd = floor_dir(cfg, dir, sizeof(dir))) < 0)
		return -1;
	r = read_floor(fd, dir, user, floor);
	close(fd);
	return r;
}

int
amfa_enrolment_floor_raise(const struct amfa_config *cfg, const char *user,
    uint64_t version)
{
	char dir[4096], text[FLOOR_MAX];
	uint64_t now;
	int fd, lock, r = -1, n;

	if ((fd = floor_dir(cfg, dir, sizeof(dir))) < 0)
		return -1;
	if ((lock = amfa_lock_take(fd, LOCK_NAME, LOCK_WAIT_MS)) < 0) {
		amfa_log(LOG_ERR, "%s/%s: cannot lock: %s", dir, LOCK_NAME,
		    strerror(-lock));
		close(fd);
		return -1;
	}
	if (read_floor(fd, dir, user, &now) != 0)
		goto out;
	r = 0;
	if (version <= now)
		goto out;
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", version);
	if ((n = amfa_file_write_atomic(fd, user, text, (size_t)n, 0600)) !=
	    0) {
		amfa_log(LOG_ERR, "%s/%s: cannot write: %s", dir, user,
		    strerror(-n));
		r = -1;
	}
out:
	close(lock);
	close(fd);
	return r;
}
