/*
 * awsmfa revoke USER: remove the user's session credential store now,
 * whatever the number of open sessions (a lost laptop, a leaver).  The
 * credentials themselves stay valid at AWS until they expire: the message
 * says so, and how to cut them off there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "admin.h"
#include "creds/creds_store.h"
#include "privdrop.h"

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
