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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "creds_print.h"
#include "log.h"

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
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	const char *store = AMFA_DEFAULT_STORE_DIR;
	int c_;

	while ((c_ = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c_ == 's')
			store = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	amfa_log_set_sink(quiet, NULL);
	return amfa_creds_print(store, "awsmfa-creds", stdout);
}
