/*
 * awsmfa migrate-enrolment [USER...]: move this host's enrolment files
 * (USERS_DIR/USER.conf; all of them without USERs) into the table under
 * KMS (enrolment = table).  Each file is checked as a login reads it,
 * written to the table only where the table has no enrolment of that
 * user, and removed once the table has it; a user already in the table
 * keeps the table's and the file is left, with a line saying so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "conffile.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "user.h"

static int
move_one(struct adm_ctx *ctx, int dirfd, const char *user)
{
	struct amfa_file_policy policy = { 0, 066, AMFA_CONF_MAX_SIZE };
	char file[AMFA_USER_NAME_MAX + 8], shown[4096];
	struct amfa_user u;
	char *buf;
	size_t len;
	int r;

	snprintf(file, sizeof(file), "%s.conf", user);
	snprintf(shown, sizeof(shown), "%s/%s", ctx->cfg.users_dir, file);
	r = amfa_file_read(dirfd, file, shown, &policy, &buf, &len);
	if (r == -ENOENT) {
		printf("%s: no file %s; nothing to move\n", user, shown);
		return ADM_OK;
	}
	if (r != 0)
		return ADM_FAIL;
	if (amfa_user_parse(buf, len, shown, user, &ctx->cfg, &u) != 0) {
		amfa_wipe_free(buf, len);
		adm_err("%s: not moved: the file does not parse (see above)",
		    user);
		return ADM_FAIL;
	}
	amfa_user_free(&u);
	r = amfa_enrolment_table_write(&ctx->cfg, user, buf, len, 0);
	amfa_wipe_free(buf, len);
	if (r < 0) {
		adm_err("%s: not moved (see above); %s is left", user, shown);
		return ADM_FAIL;
	}
	if (r == 1) {
		printf("%s: table %s already has an enrolment: left %s as it "
		       "is (present in both places; remove the file, or "
		       "awsmfa disable and move again)\n",
		    user, ctx->cfg.ddb_table, shown);
		return ADM_FAIL;
	}
	if (unlinkat(dirfd, file, 0) != 0) {
		adm_err("%s: moved into table %s, but %s cannot be removed: "
			"%s",
		    user, ctx->cfg.ddb_table, shown, strerror(errno));
		return ADM_FAIL;
	}
	printf("%s: moved into table %s under KMS; %s removed\n", user,
	    ctx->cfg.ddb_table, shown);
	return ADM_OK;
}

static int
move_all(struct adm_ctx *ctx, int dirfd)
{
	char user[AMFA_USER_NAME_MAX + 1];
	struct dirent *de;
	int r, worst = ADM_OK, n = 0, fd;
	DIR *d;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		adm_err("%s: %s", ctx->cfg.users_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ADM_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
		    len - 5 > AMFA_USER_NAME_MAX)
			continue;
		snprintf(user, sizeof(user), "%.*s", (int)(len - 5),
		    de->d_name);
		if (amfa_user_name_invalid(user) != NULL)
			continue;
		n++;
		if ((r = move_one(ctx, dirfd, user)) != ADM_OK)
			worst = r;
	}
	closedir(d);
	if (n == 0)
		printf("%s: no enrolment files; nothing to move\n",
		    ctx->cfg.users_dir);
	return worst;
}

int
adm_migrate_enrolment(struct adm_ctx *ctx, int argc, char **argv)
{
	const char *why;
	int r, worst = ADM_OK, dirfd;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			printf("usage: awsmfa migrate-enrolment [USER...]\n");
			return ADM_OK;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr,
			    "usage: awsmfa migrate-enrolment [USER...]\n");
			return ADM_USAGE;
		}
		if ((why = amfa_user_name_invalid(argv[i])) != NULL) {
			adm_err("%s: %s", argv[i], why);
			return ADM_USAGE;
		}
	}
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	if (ctx->cfg.enrolment != AMFA_ENROL_TABLE) {
		adm_err("%s: enrolment = files: there is no table to move "
			"into (set enrolment = table and kms_key_id first)",
		    ctx->config_path);
		return ADM_CONFIG;
	}
	if ((dirfd = amfa_dir_open(ctx->cfg.users_dir, 0, 022)) < 0)
		return ADM_FAIL;
	if (argc == 1)
		worst = move_all(ctx, dirfd);
	for (int i = 1; i < argc; i++) {
		if ((r = move_one(ctx, dirfd, argv[i])) != ADM_OK)
			worst = r;
	}
	close(dirfd);
	return worst;
}
