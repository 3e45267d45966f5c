/*
 * awsmfa creds: the credential_process printer, as `awsmfa-creds' (the
 * same code, creds_print.c), with the store directory taken from
 * awsmfa.conf unless --store-dir is given.  Runs as the calling user.
 */
#include <getopt.h>
#include <stdio.h>

#include "admin.h"
#include "creds/creds_print.h"

int
adm_creds(struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	const char *store = NULL;
	int c, r;

	optind = 0; /* 0: glibc starts afresh (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 'h':
			printf("usage: awsmfa creds [--store-dir DIR]\n");
			return ADM_OK;
		default:
			fprintf(stderr,
			    "usage: awsmfa creds [--store-dir DIR]\n");
			return ADM_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: awsmfa creds [--store-dir DIR]\n");
		return ADM_USAGE;
	}
	if (store == NULL) {
		if ((r = adm_load_config(ctx)) != ADM_OK)
			return r;
		store = ctx->cfg.store_dir;
	}
	return amfa_creds_print(store, "awsmfa creds", stdout) == 0 ?
	    ADM_OK :
	    ADM_FAIL;
}
