/*
 * awsmfa disable USER (enrolment = table): remove the user's enrolment from
 * the table, at once for every bastion.  The item keeps its state and the
 * enrolment's version, so the user is refused everywhere (nullok or not)
 * until `awsmfa enroll --force' gives a new one; a login in progress that
 * read the old record cannot record its success (store/enrolment_table.h).
 */
#include <stdio.h>

#include "admin.h"
#include "store/enrolment_table.h"

int
adm_disable(struct adm_ctx *ctx, int argc, char **argv)
{
	const char *user = NULL;
	int r;

	r = adm_user_arg(argc, argv, "awsmfa disable USER", &user);
	if (r != ADM_OK)
		return r < 0 ? ADM_OK : r;
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	if (ctx->cfg.enrolment != AMFA_ENROL_TABLE) {
		adm_err("%s: enrolment = files: remove %s/%s.conf on every "
			"host instead (disable is for enrolment = table)",
		    ctx->config_path, ctx->cfg.users_dir, user);
		return ADM_CONFIG;
	}
	r = amfa_enrolment_table_write(&ctx->cfg, user, NULL, 0, 1);
	if (r < 0) {
		adm_err("%s: not disabled (see above)", user);
		return ADM_FAIL;
	}
	if (r == 1) {
		adm_err("%s: no enrolment in table %s", user,
		    ctx->cfg.ddb_table);
		return ADM_NOT_ENROLLED;
	}
	printf("%s: disabled in table %s: every bastion refuses the user "
	       "from now on\n",
	    user, ctx->cfg.ddb_table);
	return ADM_OK;
}
