/*
 * awsmfa check-config [PATH]: read everything the module would read, with
 * the module's own parsers and the same owner and mode rules, and print
 * every problem with its file (and line): awsmfa.conf, each users.d file,
 * each user's state (file, or item of the state table, which is reached
 * with a probe read first), the state and store directories, the CA file.  Exit
 * status 0 when the module would accept all of it, 3 otherwise, like
 * `sshd -t'.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "net/net.h"
#include "privdrop.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "store/state.h"
#include "store/state_table.h"
#include "user.h"

struct tally {
	int problems;
	int warnings;
};

/* The core's messages already name file and line; count them here. */
static void
counting_sink(void *ctx, int prio, const char *msg)
{
	struct tally *t = ctx;

	if (prio <= LOG_ERR) {
		t->problems++;
		fprintf(stderr, "%s\n", msg);
	} else if (prio == LOG_WARNING) {
		t->warnings++;
		fprintf(stderr, "warning: %s\n", msg);
	}
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Recovery codes that cannot be used as the files stand. */
static void
check_recovery(const struct amfa_config *cfg, const struct amfa_user *u,
    const struct amfa_state *st, const char *shown)
{
	uint32_t used;

	if (u->nrecovery == 0)
		return;
	if (!u->recovery_codes) {
		amfa_log(LOG_WARNING,
		    "%s: has recovery codes, but recovery_codes = no (%s): "
		    "they are refused",
		    shown,
		    cfg->recovery_codes ? "in this file" : "awsmfa.conf");
		return;
	}
	if (amfa_user_uses_sts(u) &&
	    cfg->recovery_sts == AMFA_RECOVERY_STS_REFUSE)
		amfa_log(LOG_WARNING,
		    "%s: verify = %s and recovery_sts = refuse: its recovery "
		    "codes are refused (recovery_sts = login lets them in "
		    "without AWS credentials)",
		    shown, amfa_verify_names[u->verify]);
	if (st->recovery_gen == 0) {
		amfa_log(LOG_WARNING,
		    "%s: its recovery set (%08x) is not on record in the "
		    "state (lost or removed, and with it the marks of spent "
		    "codes): its codes are refused until a new set is issued "
		    "with awsmfa recovery %s",
		    shown, (unsigned)u->recovery_gen, u->name);
		return;
	}
	if (st->recovery_gen != u->recovery_gen) {
		amfa_log(LOG_WARNING,
		    "%s: its recovery set (%08x) is not the one on record in "
		    "the state (%08x): its codes are refused (copy the user "
		    "file the set was issued into, or issue a new set with "
		    "awsmfa recovery %s)",
		    shown, (unsigned)u->recovery_gen,
		    (unsigned)st->recovery_gen, u->name);
		return;
	}
	used = st->recovery_used;
	if (amfa_recovery_left(u->recovery_present, used) == 0)
		amfa_log(LOG_WARNING,
		    "%s: every recovery code is used; issue new ones with "
		    "awsmfa recovery %s",
		    shown, u->name);
}

/* Checks beyond the file itself: what a login of this user will need. */
static void
check_user_needs(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *shown)
{
	struct amfa_target t;
	struct amfa_state st;

	if (u->aws_profile != NULL && amfa_user_uses_sts(u) &&
	    amfa_target_lookup(u->name, &t) != 0)
		amfa_log(LOG_ERR,
		    "%s: aws_profile needs %s to be a local "
		    "account (its ~/.aws is read)",
		    shown, u->name);
	/* adm_state_peek says what is wrong; the sink counts it. */
	memset(&st, 0, sizeof(st));
	if (adm_state_peek(cfg, u->name, &st) < 0) {
		char where[4096];

		adm_state_where(cfg, u->name, where, sizeof(where));
		amfa_log(LOG_ERR,
		    "%s: the module refuses %s until this is repaired", where,
		    u->name);
		return;
	}
	check_recovery(cfg, u, &st, shown);
}

/* enrolment = table: a file in users_dir is not read by the module,
 * and is a secret on this host's disk. */
static void
report_both_places(const struct amfa_config *cfg, const char *user,
    const char *shown)
{
	int r = amfa_enrolment_table_exists(cfg, user);

	if (r == 1)
		amfa_log(LOG_WARNING,
		    "%s: %s is enrolled in both places: the table's "
		    "enrolment is the one used (enrolment = table); remove "
		    "this file",
		    shown, user);
	else if (r == 0)
		amfa_log(LOG_ERR,
		    "%s: not read by the module (enrolment = table): %s's "
		    "logins are refused, nullok or not, until it is moved "
		    "(awsmfa migrate-enrolment %s); a secret on this disk",
		    shown, user, user);
}

static int
check_users(const struct amfa_config *cfg)
{
	char shown[4096], user[256];
	struct amfa_user u;
	struct dirent *de;
	const char *why;
	int dirfd, n = 0;
	DIR *d;

	if ((dirfd = amfa_dir_open(cfg->users_dir, 0, 022)) < 0)
		return -1;
	if ((d = fdopendir(dirfd)) == NULL) {
		amfa_log(LOG_ERR, "%s: %s", cfg->users_dir, strerror(errno));
		close(dirfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(shown, sizeof(shown), "%s/%s", cfg->users_dir,
		    de->d_name);
		if (de->d_name[0] == '.') {
			amfa_log(LOG_WARNING,
			    "%s: not read by the module (a "
			    "leftover temporary file?)",
			    shown);
			continue;
		}
		if (!has_suffix(de->d_name, ".conf") ||
		    strlen(de->d_name) >= sizeof(user)) {
			amfa_log(LOG_WARNING,
			    "%s: not read by the module "
			    "(only USER.conf files are)",
			    shown);
			continue;
		}
		snprintf(user, sizeof(user), "%.*s",
		    (int)(strlen(de->d_name) - 5), de->d_name);
		if ((why = amfa_user_name_invalid(user)) != NULL) {
			amfa_log(LOG_ERR, "%s: no login can use this file: %s",
			    shown, why);
			continue;
		}
		if (amfa_user_load(cfg, user, 0, &u) != 0)
			continue; /* the reasons are logged */
		if (cfg->enrolment == AMFA_ENROL_TABLE)
			report_both_places(cfg, user, shown);
		check_user_needs(cfg, &u, shown);
		amfa_user_free(&u);
		n++;
	}
	closedir(d);
	return n;
}

/* A directory the module uses, if it exists yet (it makes it if not). */
static void
check_dir(const char *path, mode_t forbidden)
{
	struct stat sb;
	int fd;

	if (lstat(path, &sb) != 0 && errno == ENOENT)
		return;
	if ((fd = amfa_dir_open(path, 0, forbidden)) >= 0)
		close(fd);
}

static void
check_ca_file(const char *path)
{
	struct stat sb;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		amfa_log(LOG_ERR, "ca_file %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		amfa_log(LOG_ERR, "ca_file %s: not a regular file", path);
	else if ((sb.st_mode & 022) != 0 || (sb.st_uid != 0))
		amfa_log(LOG_ERR,
		    "ca_file %s: must be root's and not "
		    "writable by group or others",
		    path);
	close(fd);
}

/*
 * The state table: one GetItem of a key no user can have (user names never
 * start with '.'), with the module's own credentials, as a login makes it.
 * 0 reachable and allowed, -1 (logged: AccessDenied, no such table, no
 * credentials, no answer).
 */
static int
check_table(const struct amfa_config *cfg)
{
	struct amfa_ddb_attr key = { "amfa_user", AMFA_DDB_S,
		".check-config-probe" };
	char endpoint[256], cache[4096], detail[800];
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	struct amfa_ddb_item it;
	enum amfa_ddb_result r;

	memset(&err, 0, sizeof(err));
	memset(&it, 0, sizeof(it));
	amfa_table_config(cfg, &dc, endpoint, cache);
	r = amfa_net_ddb_get_item(&dc, &key, &it, &err);
	amfa_ddb_item_free(&it);
	if (r == AMFA_DDB_OK || r == AMFA_DDB_NO_ITEM) {
		printf("state table %s at %s: reachable, GetItem allowed "
		       "(%s credentials)\n",
		    cfg->ddb_table, endpoint,
		    cfg->ddb_key_file ? "key file" : "instance role");
		return 0;
	}
	amfa_table_error_str(&err, detail, sizeof(detail));
	amfa_log(LOG_ERR, "state table %s at %s: %s: %s%s", cfg->ddb_table,
	    endpoint, amfa_ddb_result_str(r), detail,
	    strcmp(err.code, "AccessDeniedException") == 0 ?
		" (the instance role or key needs dynamodb:GetItem and "
		"dynamodb:UpdateItem on the table: "
		"config/awsmfa-table-policy.json)" :
		strcmp(err.code, "ResourceNotFoundException") == 0 ?
		" (no such table in this region: config/awsmfa-table.yaml "
		"makes it)" :
		"");
	return -1;
}

/*
 * The instance role's credentials are the table's keys: whoever can ask the
 * metadata service for them can rewrite every user's item (lift a lockout,
 * lower a stored step or YubiKey counter so that a spent code works again,
 * record a success that grace= honours).  A warning when a user who is not
 * root can connect to it.
 */
static void
check_imds(const struct amfa_config *cfg)
{
	const char *ep = cfg->imds_endpoint ?
	    cfg->imds_endpoint :
	    "http://169.254.169.254";

	if (cfg->ddb_key_file != NULL)
		return;
	switch (adm_imds_open_to_users(ep)) {
	case 1:
		if (cfg->enrolment == AMFA_ENROL_TABLE) {
			amfa_log(LOG_ERR,
			    "imds_endpoint %s: a user who is not root (uid "
			    "65534) can connect to it, and enrolment = table: "
			    "every local user can take the instance role's "
			    "credentials and have KMS decrypt every user's "
			    "enrolment (TOTP seeds, YubiKey keys, access "
			    "keys) from the table; close it to all but root "
			    "(iptables -A OUTPUT -d 169.254.169.254 -m owner ! "
			    "--uid-owner 0 -j REJECT) or use dynamodb_key_file",
			    ep);
			break;
		}
		amfa_log(LOG_WARNING,
		    "imds_endpoint %s: a user who is not root (uid 65534) "
		    "can connect to it: every local user can take the "
		    "instance role's credentials and rewrite any user's "
		    "item in the state table (lift a lockout, reopen a "
		    "spent code, fake a recent success for grace=); close "
		    "it to all but root (iptables -A OUTPUT -d "
		    "169.254.169.254 -m owner ! --uid-owner 0 -j REJECT) or "
		    "use dynamodb_key_file",
		    ep);
		break;
	case 0:
		printf("imds_endpoint %s: not reachable as uid 65534\n", ep);
		break;
	default:
		if (cfg->enrolment == AMFA_ENROL_TABLE) {
			amfa_log(LOG_ERR,
			    "imds_endpoint %s: not checked whether other "
			    "users reach it (needs root), and enrolment = "
			    "table needs it closed to them",
			    ep);
			break;
		}
		printf("imds_endpoint %s: not checked whether other users "
		       "reach it (needs root)\n",
		    ep);
		break;
	}
}

int
adm_check_config(struct adm_ctx *ctx, int argc, char **argv)
{
	struct tally t = { 0, 0 };
	int users;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		if (argc == 2 &&
		    (strcmp(argv[1], "--help") == 0 ||
			strcmp(argv[1], "-h") == 0)) {
			printf("usage: awsmfa check-config [PATH]\n");
			return ADM_OK;
		}
		fprintf(stderr, "usage: awsmfa check-config [PATH]\n");
		return ADM_USAGE;
	}
	if (argc == 2)
		ctx->config_path = argv[1];
	amfa_log_set_sink(counting_sink, &t);
	if (amfa_config_load(ctx->config_path, 0, &ctx->cfg) != 0) {
		fprintf(stderr, "%s: not usable; nothing else checked\n",
		    ctx->config_path);
		return ADM_CONFIG;
	}
	ctx->cfg_loaded = 1;
	/* The table first: each user's item is read from it next. */
	if (ctx->cfg.state_backend == AMFA_BACKEND_DYNAMODB &&
	    check_table(&ctx->cfg) != 0) {
		fprintf(stderr,
		    "%s: the state table cannot be used; users' "
		    "state not checked\n",
		    ctx->config_path);
		return ADM_CONFIG;
	}
	if (ctx->cfg.state_backend == AMFA_BACKEND_DYNAMODB)
		check_imds(&ctx->cfg);
	users = check_users(&ctx->cfg);
	check_dir(ctx->cfg.state_dir, 077);
	check_dir(ctx->cfg.store_dir, 022);
	if (ctx->cfg.ca_file != NULL)
		check_ca_file(ctx->cfg.ca_file);
	if (t.problems > 0 || users < 0) {
		fprintf(stderr, "%s: %d problem%s\n", ctx->config_path,
		    t.problems, t.problems == 1 ? "" : "s");
		return ADM_CONFIG;
	}
	printf("%s: OK, %d enrolled user%s%s\n", ctx->config_path, users,
	    users == 1 ? "" : "s", t.warnings > 0 ? " (see the warnings)" : "");
	return ADM_OK;
}
