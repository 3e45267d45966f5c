/*
 * awsmfa revoke USER: remove the user's session credential store now,
 * whatever the number of open sessions (a lost laptop, a leaver).  The
 * credentials themselves stay valid at AWS until they expire: the message
 * says so, and how to cut them off there.
 *
 * With the state table, the time of the user's last success is also
 * cleared there, so that no bastion of the fleet lets an earlier login
 * stand in for a code (grace=).  The credential stores of other bastions
 * are theirs: run revoke there too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "admin.h"
#include "creds/creds_store.h"
#include "privdrop.h"
#include "store/state.h"

static int
forget_success(struct amfa_state *st, void *arg)
{
	(void)arg;
	if (st->last_success == 0)
		return 0;
	st->last_success = 0;
	return 1;
}

/* The table: no earlier login counts for grace= on any bastion. */
static int
revoke_grace(struct adm_ctx *ctx, const char *user)
{
	int r;

	if (ctx->cfg.state_backend != AMFA_BACKEND_DYNAMODB)
		return ADM_OK;
	r = adm_state_update(&ctx->cfg, user, forget_success, NULL);
	if (r == ADM_OK)
		printf("%s: the last success is cleared in the state table: "
		       "no bastion counts an earlier login for grace=\n",
		    user);
	else
		adm_err("%s: the state table was not updated; grace= may "
			"still count an earlier login",
		    user);
	return r;
}

int
adm_revoke(struct adm_ctx *ctx, int argc, char **argv)
{
	struct amfa_target t;
	const char *user;
	char path[4096];
	struct stat sb;
	int r;

	r = adm_user_arg(argc, argv, "awsmfa revoke USER", &user);
	if (r != ADM_OK)
		return r < 0 ? ADM_OK : r;
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	if (amfa_target_lookup(user, &t) != 0)
		return ADM_NOT_ENROLLED;
	if ((r = revoke_grace(ctx, user)) != ADM_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%u", ctx->cfg.store_dir,
	    (unsigned)t.uid);
	if (fstatat(AT_FDCWD, path, &sb, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT) {
		printf("%s: no session credentials (no %s)\n", user, path);
		return ADM_OK;
	}
	if (amfa_store_remove(ctx->cfg.store_dir, &t) != 0) {
		adm_err("%s: the credential store could not be removed", user);
		return ADM_FAIL;
	}
	printf("%s: session credentials removed from %s\n", user, path);
	printf("Credentials already handed out stay valid at AWS until they "
	       "expire; to cut\nthem off now, attach to the IAM user a policy "
	       "that denies everything with\naws:TokenIssueTime before now.\n");
	return ADM_OK;
}
