/* Writing enrolment files; see user_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "user.h"
#include "user_file.h"

static int
open_users_dir(const struct amfa_config *cfg)
{
	/* The module's own requirement: root's, not writable by others. */
	return amfa_dir_open(cfg->users_dir, 0, 022);
}

void
adm_user_file_where(const struct amfa_config *cfg, const char *user, char *out,
    size_t outlen)
{
	if (cfg->enrolment == AMFA_ENROL_TABLE)
		snprintf(out, outlen, "table %s", cfg->ddb_table);
	else
		snprintf(out, outlen, "%s/%s.conf", cfg->users_dir, user);
}

int
adm_user_file_exists(const struct amfa_config *cfg, const char *user)
{
	char name[AMFA_USER_NAME_MAX + 8];
	struct stat st;
	int dirfd, r;

	if (cfg->enrolment == AMFA_ENROL_TABLE)
		return amfa_enrolment_table_exists(cfg, user);
	snprintf(name, sizeof(name), "%s.conf", user);
	if ((dirfd = open_users_dir(cfg)) < 0)
		return -1;
	r = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW);
	close(dirfd);
	if (r == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	amfa_log(LOG_ERR, "%s/%s: %s", cfg->users_dir, name, strerror(errno));
	return -1;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A new file that must not replace anything: written unnamed (O_TMPFILE),
 * synced, then given its name with linkat, which fails if the name exists.
 */
static int
create_new(int dirfd, const char *name, const char *shown, const char *text,
    size_t len)
{
	char proc[64];
	int fd, r = -1;

	fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		amfa_log(LOG_ERR, "%s: cannot create: %s", shown,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, text, len) != 0 ||
	    fsync(fd) != 0) {
		amfa_log(LOG_ERR, "%s: cannot write: %s", shown,
		    strerror(errno));
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) != 0) {
		if (errno == EEXIST) {
			r = 1;
			goto out;
		}
		amfa_log(LOG_ERR, "%s: cannot create: %s", shown,
		    strerror(errno));
		goto out;
	}
	if (fsync(dirfd) != 0) {
		amfa_log(LOG_ERR, "%s: cannot sync the directory: %s", shown,
		    strerror(errno));
		goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

int
adm_user_file_write(const struct amfa_config *cfg, const char *user,
    const char *text, size_t len, int force)
{
	char name[AMFA_USER_NAME_MAX + 8], shown[4096];
	int dirfd, r;

	if (cfg->enrolment == AMFA_ENROL_TABLE)
		return amfa_enrolment_table_write(cfg, user, text, len, force);
	snprintf(name, sizeof(name), "%s.conf", user);
	snprintf(shown, sizeof(shown), "%s/%s", cfg->users_dir, name);
	if ((dirfd = open_users_dir(cfg)) < 0)
		return -1;
	if (!force) {
		r = create_new(dirfd, name, shown, text, len);
	} else if ((r = amfa_file_write_atomic(dirfd, name, text, len, 0600)) !=
	    0) {
		amfa_log(LOG_ERR, "%s: cannot write: %s", shown, strerror(-r));
		r = -1;
	}
	close(dirfd);
	return r;
}
