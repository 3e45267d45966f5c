/*
 * awsmfa-creds: print the session's temporary AWS credentials for the AWS
 * CLI and SDKs, or those of a role assumed with them.  In ~/.aws/config:
 *
 *	[profile mfa]
 *	credential_process = /usr/bin/awsmfa-creds
 *
 *	[profile prod]
 *	credential_process = /usr/bin/awsmfa-creds --role prod
 *
 * It reads STORE_DIR/UID/credentials.json of the calling user (written by
 * pam_awsmfa at login), checks that the directory and the file are the
 * user's own and private, refuses credentials that have expired, and prints
 * the credential_process JSON.  --role NAME assumes one of the roles the
 * administrator listed for the user (role_creds.h); --print-config prints
 * their profile blocks.  With less than --warn-minutes (default 30; 0:
 * never) left of the session, a warning on standard error says how to
 * renew it (unlock the screen, log in again).  Exit status: 0 printed, 1 no usable credentials
 * (the reason on standard error), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "creds_print.h"
#include "log.h"
#include "role_creds.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: awsmfa-creds [--store-dir DIR] "
	    "[--warn-minutes N] [--role NAME | --print-config]\n");
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
		{ "role", required_argument, NULL, 'r' },
		{ "print-config", no_argument, NULL, 'p' },
		{ "warn-minutes", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	const char *store = AMFA_DEFAULT_STORE_DIR, *role = NULL;
	char extra[4200], *end;
	int c_, print_config = 0;
	long warn;

	while ((c_ = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c_ == 's')
			store = optarg;
		else if (c_ == 'r' && role == NULL)
			role = optarg;
		else if (c_ == 'p')
			print_config = 1;
		else if (c_ == 'w') {
			warn = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || warn < 0 ||
			    warn > 24 * 60)
				usage();
			amfa_creds_set_warn(warn * 60);
		} else
			usage();
	}
	if (optind != argc || (role != NULL && print_config))
		usage();
	amfa_log_set_sink(quiet, NULL);
	if (print_config) {
		/* A store other than the default goes on each line. */
		if (strcmp(store, AMFA_DEFAULT_STORE_DIR) != 0 &&
		    strpbrk(store, " \t\"'\\") == NULL &&
		    (size_t)snprintf(extra, sizeof(extra), "--store-dir %s",
			store) < sizeof(extra))
			return amfa_creds_print_config(store, extra,
			    "awsmfa-creds", stdout);
		return amfa_creds_print_config(store, NULL, "awsmfa-creds",
		    stdout);
	}
	if (role != NULL)
		return amfa_creds_role(store, role, "awsmfa-creds", stdout);
	return amfa_creds_print(store, "awsmfa-creds", stdout);
}
