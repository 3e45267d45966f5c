/*
 * awsmfa: the administration program of pam_awsmfa.  This file holds the
 * command line and the dispatch to the subcommands; what they share is in
 * admin.c.  See awsmfa(8).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "user.h"

struct subcommand {
	const char *name;
	int (*run)(struct adm_ctx *, int, char **);
	int needs_root;
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "enroll", adm_enroll, 1,
	    "enroll USER          new TOTP seed (or --yubikey token), "
	    "proven by codes" },
	{ "check-config", adm_check_config, 0,
	    "check-config [PATH]  check everything the module reads" },
	{ "status", adm_status, 1,
	    "status USER          enrolment and state, without secrets" },
	{ "recovery", adm_recovery, 1,
	    "recovery USER        new recovery codes (replacing any), "
	    "printed once" },
	{ "unlock", adm_unlock, 1,
	    "unlock USER          clear failures and the lock" },
	{ "revoke", adm_revoke, 1,
	    "revoke USER          remove the user's session credentials" },
	{ "migrate-state", adm_migrate_state, 1,
	    "migrate-state [USER...]  copy this host's state files into the "
	    "state table" },
	{ "verify-audit", adm_verify_audit, 0,
	    "verify-audit PATH... check the audit records' hash chain "
	    "(logs, segments, dirs)" },
	{ "disable", adm_disable, 1,
	    "disable USER         remove the user's enrolment from the table "
	    "(enrolment = table)" },
	{ "migrate-enrolment", adm_migrate_enrolment, 1,
	    "migrate-enrolment [USER...]  move enrolment files into the "
	    "table under KMS" },
	{ "creds", adm_creds, 0,
	    "creds                print your session credentials "
	    "(credential_process)" },
};
#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: awsmfa [--config PATH] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < NSUB; i++)
		fprintf(f, "  %s\n", subcommands[i].summary);
	fprintf(f,
	    "\n'awsmfa COMMAND --help' shows a command's options.  "
	    "Exit status: 0 done,\n1 failed, 2 usage, 3 configuration "
	    "problems, 4 not enrolled (or already\nenrolled), 5 AWS "
	    "unreachable.  See awsmfa(8).\n");
}

/* The core's messages ("FILE:LINE: reason", never a secret). */
static void
log_sink(void *ctx, int prio, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "awsmfa: %s%s\n",
	    prio <= LOG_ERR	    ? "" :
		prio == LOG_WARNING ? "warning: " :
				      "",
	    msg);
}

/* Does a subcommand's command line ask for its --help? */
static int
asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
	};
	struct adm_ctx ctx;
	int c, r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.config_path = AMFA_DEFAULT_CONFIG;
	amfa_log_set_sink(log_sink, NULL);
	/* '+': stop at the subcommand; its options are its own. */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return ADM_OK;
		case 'V':
			printf("awsmfa %s\n", AMFA_VERSION);
			return ADM_OK;
		default:
			usage(stderr);
			return ADM_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return ADM_USAGE;
	}
	for (size_t i = 0; i < NSUB; i++) {
		if (strcmp(argv[optind], subcommands[i].name) != 0)
			continue;
		/* Help needs no rights: it reads nothing. */
		if (subcommands[i].needs_root && geteuid() != 0 &&
		    !asks_help(argc - optind, argv + optind)) {
			adm_err("%s must run as root (the files are root's)",
			    subcommands[i].name);
			return ADM_FAIL;
		}
		r = subcommands[i].run(&ctx, argc - optind, argv + optind);
		if (ctx.cfg_loaded)
			amfa_config_free(&ctx.cfg);
		if (fflush(stdout) != 0 && r == ADM_OK)
			r = ADM_FAIL;
		return r;
	}
	adm_err("unknown command %s", argv[optind]);
	usage(stderr);
	return ADM_USAGE;
}
