/* The credential_process printer; see creds_print.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "creds_print.h"
#include "creds_store.h"
#include "secure_file.h"

int
amfa_creds_open_store(const char *store_dir, const char *prog, char *path,
    size_t pathlen)
{
	struct stat st;
	int dir;

	snprintf(path, pathlen, "%s/%u", store_dir, (unsigned)getuid());
	dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0) {
		fprintf(stderr,
		    "%s: no session credentials for uid %u "
		    "(%s: %s); log in with MFA first\n",
		    prog, (unsigned)getuid(), path, strerror(errno));
		return -1;
	}
	if (fstat(dir, &st) != 0 || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		fprintf(stderr,
		    "%s: %s is not your private directory; "
		    "refusing\n",
		    prog, path);
		close(dir);
		return -1;
	}
	return dir;
}

static long warn_seconds = AMFA_CREDS_WARN_DEFAULT;

void
amfa_creds_set_warn(long seconds)
{
	warn_seconds = seconds;
}

/* Less than the warning time left: say so, and how to renew, on stderr
 * (standard output carries only the JSON). */
static void
warn_expiry(const struct amfa_creds *c, const char *prog, time_t now)
{
	long left = (long)(c->expires - now);

	if (warn_seconds <= 0 || left >= warn_seconds)
		return;
	fprintf(stderr,
	    "%s: warning: the MFA session ends in %ld minute%s (at %s); "
	    "renew it: unlock the screen with a code, or log in again "
	    "with MFA\n",
	    prog, left / 60, left / 60 == 1 ? "" : "s", c->expiration);
}

int
amfa_creds_read_session(int dir, const char *path, const char *prog,
    struct amfa_creds *c)
{
	struct amfa_file_policy policy = { getuid(), 077, 64 * 1024 };
	const char *why;
	char *buf;
	size_t len;
	int r;

	r = amfa_file_read(dir, AMFA_STORE_FILE, AMFA_STORE_FILE, &policy, &buf,
	    &len);
	if (r != 0) {
		if (r == -ENOENT)
			fprintf(stderr,
			    "%s: no session credentials; log in "
			    "with MFA first\n",
			    prog);
		return 1;
	}
	r = amfa_creds_from_json(buf, c, &why);
	amfa_wipe_free(buf, len + 1);
	if (r != 0) {
		fprintf(stderr, "%s: %s/%s: %s\n", prog, path, AMFA_STORE_FILE,
		    why);
		return 1;
	}
	if (c->expires <= time(NULL)) {
		fprintf(stderr,
		    "%s: the session credentials expired at "
		    "%s; log in again with MFA\n",
		    prog, c->expiration);
		amfa_creds_free(c);
		return 1;
	}
	warn_expiry(c, prog, time(NULL));
	return 0;
}

int
amfa_creds_write(const struct amfa_creds *c, const char *prog, FILE *out)
{
	char *json;
	size_t jlen;

	json = amfa_creds_to_json(c, &jlen);
	if (json == NULL || fwrite(json, 1, jlen, out) != jlen ||
	    fflush(out) != 0) {
		fprintf(stderr, "%s: cannot write the credentials\n", prog);
		if (json != NULL)
			amfa_wipe_free(json, jlen + 1);
		return 1;
	}
	amfa_wipe_free(json, jlen + 1);
	return 0;
}

int
amfa_creds_print(const char *store_dir, const char *prog, FILE *out)
{
	struct amfa_creds c;
	char path[4096];
	int dir, r;

	if ((dir = amfa_creds_open_store(store_dir, prog, path, sizeof(path))) <
	    0)
		return 1;
	r = amfa_creds_read_session(dir, path, prog, &c);
	close(dir);
	if (r != 0)
		return 1;
	r = amfa_creds_write(&c, prog, out);
	amfa_creds_free(&c);
	return r;
}
