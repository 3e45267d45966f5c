/*
 * awsmfa-creds: print the session's temporary AWS credentials for the AWS
 * CLI and SDKs.  In ~/.aws/config:
 *
 *	[profile mfa]
 *	credential_process = /usr/bin/awsmfa-creds
 *
 * It reads STORE_DIR/UID/credentials.json of the calling user (written by
 * pam_awsmfa at login), checks that the directory and the file are the
 * user's own and private, refuses credentials that have expired, and prints
 * the credential_process JSON.  Exit status: 0 printed, 1 no usable
 * credentials (the reason on standard error), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "creds.h"
#include "creds_store.h"
#include "log.h"
#include "secure_file.h"

static void
usage(void)
{
	fprintf(stderr, "usage: awsmfa-creds [--store-dir DIR]\n");
	exit(2);
}

static void
quiet(void *ctx, int prio, const char *msg)
{
	(void)ctx;
	(void)prio;
	fprintf(stderr, "awsmfa-creds: %s\n", msg);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct amfa_file_policy policy = { getuid(), 077, 64 * 1024 };
	const char *store = AMFA_DEFAULT_STORE_DIR, *why;
	char path[4096], *buf, *json;
	struct amfa_creds c;
	struct stat st;
	size_t len, jlen;
	int c_, dir, r;

	while ((c_ = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c_ == 's')
			store = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	amfa_log_set_sink(quiet, NULL);
	snprintf(path, sizeof(path), "%s/%u", store, (unsigned)getuid());
	dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0) {
		fprintf(stderr, "awsmfa-creds: no session credentials for uid %u "
		    "(%s: %s); log in with MFA first\n", (unsigned)getuid(), path,
		    strerror(errno));
		return 1;
	}
	if (fstat(dir, &st) != 0 || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		fprintf(stderr, "awsmfa-creds: %s is not your private "
		    "directory; refusing\n", path);
		return 1;
	}
	r = amfa_file_read(dir, AMFA_STORE_FILE, AMFA_STORE_FILE, &policy, &buf,
	    &len);
	close(dir);
	if (r != 0) {
		if (r == -ENOENT)
			fprintf(stderr, "awsmfa-creds: no session credentials; "
			    "log in with MFA first\n");
		return 1;
	}
	r = amfa_creds_from_json(buf, &c, &why);
	amfa_wipe_free(buf, len + 1);
	if (r != 0) {
		fprintf(stderr, "awsmfa-creds: %s/%s: %s\n", path,
		    AMFA_STORE_FILE, why);
		return 1;
	}
	if (c.expires <= time(NULL)) {
		fprintf(stderr, "awsmfa-creds: the session credentials expired "
		    "at %s; log in again with MFA\n", c.expiration);
		amfa_creds_free(&c);
		return 1;
	}
	json = amfa_creds_to_json(&c, &jlen);
	amfa_creds_free(&c);
	if (json == NULL || fwrite(json, 1, jlen, stdout) != jlen ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "awsmfa-creds: cannot write the credentials\n");
		if (json != NULL)
			amfa_wipe_free(json, jlen + 1);
		return 1;
	}
	amfa_wipe_free(json, jlen + 1);
	return 0;
}
