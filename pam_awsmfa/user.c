/* Enrolment records; see user.h. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conffile.h"
#include "factors/base32.h"
#include "log.h"
#include "secure_file.h"
#include "user.h"

static const char *const totp_algorithms[] = { "sha1", "sha256", "sha512",
	NULL };

/*
 * Fail closed: a lookup that errs (a buffer too small, an NSS backend
 * that is down) says "not canonical", so nullok does not pass over a name
 * it could not check.  Only a lookup that answers "no such account" lets
 * the name stand as it is.
 */
int
amfa_user_name_canonical(const char *name)
{
	struct passwd pw, pw2, *res = NULL, *res2 = NULL;
	char buf[16384], buf2[16384];

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0)
		return 0;
	if (res == NULL)
		return 1;
	if (strcmp(pw.pw_name, name) != 0)
		return 0;
	if (getpwuid_r(pw.pw_uid, &pw2, buf2, sizeof(buf2), &res2) != 0 ||
	    res2 == NULL)
		return 0;
	return strcmp(pw2.pw_name, name) == 0;
}

const char *
amfa_user_name_invalid(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '\0')
		return "empty user name";
	if (name[0] == '.' || name[0] == '-')
		return "user name starts with '.' or '-'";
	for (; name[n] != '\0'; n++) {
		unsigned char c = (unsigned char)name[n];
		if (n >= AMFA_USER_NAME_MAX)
			return "user name too long";
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-' || c == '@'))
			return "user name has a character outside "
			       "[A-Za-z0-9._@-]";
	}
	return NULL;
}

/* IAM user names: [\w+=,.@-]{1,64}. */
static const char *
check_iam_user(const char *v)
{
	size_t n = strlen(v);

	if (n > 64)
		return "longer than 64 characters";
	if (strspn(v,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789_+=,.@-") != n)
		return "not a valid IAM user name";
	return NULL;
}

/* STS SerialNumber: [\w+=/:,.@-]{9,256}; an ARN must be an IAM mfa ARN. */
static const char *
check_mfa_serial(const char *v)
{
	size_t n = strlen(v);
	const char *p;

	if (n < 9 || n > 256 ||
	    strspn(v,
		"abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=/:,.@-") != n)
		return "not a valid MFA serial number";
	if (strncmp(v, "arn:", 4) != 0)
		return NULL; /* a hardware token's serial */
	p = strstr(v, ":iam::");
	if (p == NULL ||
	    (strncmp(v, "arn:aws:", 8) != 0 &&
		strncmp(v, "arn:aws-cn:", 11) != 0 &&
		strncmp(v, "arn:aws-us-gov:", 15) != 0))
		return "must look like arn:aws:iam::ACCOUNT:mfa/NAME";
	p += 6;
	if (strspn(p, "0123456789") != 12 || strncmp(p + 12, ":mfa/", 5) != 0 ||
	    p[17] == '\0')
		return "must look like arn:aws:iam::ACCOUNT:mfa/NAME";
	return NULL;
}

/* Access key ids: [A-Z0-9]{16,128}. */
static const char *
check_key_id(const char *v)
{
	size_t n = strlen(v);

	if (n < 16 || n > 128 ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
		return "not a valid access key id";
	return NULL;
}

/* Secret keys: printable, no blanks, 16..128 characters.  Not echoed. */
static const char *
check_secret_key(const char *v)
{
	size_t n = strlen(v);

	if (n < 16 || n > 128)
		return "length out of range";
	for (; *v != '\0'; v++) {
		if (*v <= ' ' || *v > '~')
			return "has a character that cannot be in a secret key";
	}
	return NULL;
}

/* Profile names in ~/.aws files. */
static const char *
check_profile(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 64 ||
	    strspn(v,
		"abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return "not a valid profile name";
	return NULL;
}

static int
parse_totp_secret(void *obj, const struct amfa_opt *opt, const char *value,
    const char *where)
{
	struct amfa_user *u = obj;
	unsigned char key[AMFA_TOTP_MAX_KEY];
	long n;

	if (u->totp_key != NULL) {
		amfa_log(LOG_ERR, "%s: %s given more than once", where,
		    opt->key);
		return -1;
	}
	n = amfa_base32_decode(value, key, sizeof(key));
	if (n < 0) {
		amfa_log(LOG_ERR, "%s: %s is not valid base32", where,
		    opt->key);
		goto fail;
	}
	if (n < AMFA_TOTP_MIN_KEY) {
		amfa_log(LOG_ERR,
		    "%s: %s is %ld bits, at least %d are required", where,
		    opt->key, n * 8, AMFA_TOTP_MIN_KEY * 8);
		goto fail;
	}
	if ((u->totp_key = malloc((size_t)n)) == NULL)
		goto fail;
	memcpy(u->totp_key, key, (size_t)n);
	u->totp_keylen = (size_t)n;
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	return -1;
}

/*
 * yubikey = PUBLICID:AESKEY:PRIVATEID, or PUBLICID alone (checked online
 * only).  Several lines allowed.  The slots are allocated once, so no copy
 * of a key is left behind by a realloc.
 */
static int
parse_yubikey(void *obj, const struct amfa_opt *opt, const char *value,
    const char *where)
{
	struct amfa_user *u = obj;
	struct amfa_yk_token t;
	const char *why;

	if (u->nyubikeys == AMFA_USER_MAX_YUBIKEYS) {
		amfa_log(LOG_ERR, "%s: at most %d %s lines", where,
		    AMFA_USER_MAX_YUBIKEYS, opt->key);
		return -1;
	}
	if (amfa_yk_token_parse_any(value, &t, &why) != 0) {
		amfa_log(LOG_ERR, "%s: %s: %s", where, opt->key, why);
		return -1;
	}
	for (size_t i = 0; i < u->nyubikeys; i++) {
		if (strcmp(u->yubikeys[i].public_id, t.public_id) == 0) {
			amfa_log(LOG_ERR, "%s: %s: public id %s given twice",
			    where, opt->key, t.public_id);
			amfa_yk_token_wipe(&t, 1);
			return -1;
		}
	}
	if (u->yubikeys == NULL &&
	    (u->yubikeys = calloc(AMFA_USER_MAX_YUBIKEYS,
		 sizeof(*u->yubikeys))) == NULL) {
		amfa_log(LOG_ERR, "%s: out of memory", where);
		amfa_yk_token_wipe(&t, 1);
		return -1;
	}
	u->yubikeys[u->nyubikeys++] = t;
	amfa_yk_token_wipe(&t, 1);
	return 0;
}

/* role = NAME ARN [duration=S] [external_id=ID] [region=R]; several. */
static int
parse_role(void *obj, const struct amfa_opt *opt, const char *value,
    const char *where)
{
	struct amfa_user *u = obj;
	struct amfa_role r;
	const char *why;

	if (u->nroles == AMFA_ROLES_MAX) {
		amfa_log(LOG_ERR, "%s: at most %d %s lines", where,
		    AMFA_ROLES_MAX, opt->key);
		return -1;
	}
	if (amfa_role_parse(value, &r, &why) != 0) {
		amfa_log(LOG_ERR, "%s: %s: %s", where, opt->key, why);
		return -1;
	}
	for (size_t i = 0; i < u->nroles; i++) {
		if (strcmp(u->roles[i].name, r.name) == 0) {
			amfa_log(LOG_ERR, "%s: %s: the name %s is given twice",
			    where, opt->key, r.name);
			amfa_role_free(&r);
			return -1;
		}
	}
	if (u->roles == NULL &&
	    (u->roles = calloc(AMFA_ROLES_MAX, sizeof(*u->roles))) == NULL) {
		amfa_log(LOG_ERR, "%s: out of memory", where);
		amfa_role_free(&r);
		return -1;
	}
	u->roles[u->nroles++] = r;
	return 0;
}

/*
 * recovery = GEN.IDX:SALT:HASH; several, all of one generation, each index
 * once.  Only hashes: the codes themselves are never in any file.
 */
static int
parse_recovery(void *obj, const struct amfa_opt *opt, const char *value,
    const char *where)
{
	struct amfa_user *u = obj;
	struct amfa_recovery_code c;
	const char *why;
	uint32_t gen;

	if (amfa_recovery_line_parse(value, &gen, &c, &why) != 0) {
		amfa_log(LOG_ERR, "%s: %s: %s", where, opt->key, why);
		return -1;
	}
	if (u->nrecovery > 0 && gen != u->recovery_gen) {
		amfa_log(LOG_ERR,
		    "%s: %s: generation %08x, but earlier lines are of "
		    "%08x (one set at a time)",
		    where, opt->key, (unsigned)gen, (unsigned)u->recovery_gen);
		return -1;
	}
	if (u->recovery_present & (1u << c.idx)) {
		amfa_log(LOG_ERR, "%s: %s: index %u given twice", where,
		    opt->key, c.idx);
		return -1;
	}
	if (u->recovery == NULL &&
	    (u->recovery = calloc(AMFA_RECOVERY_MAX, sizeof(*u->recovery))) ==
		NULL) {
		amfa_log(LOG_ERR, "%s: out of memory", where);
		return -1;
	}
	u->recovery[u->nrecovery++] = c;
	u->recovery_gen = gen;
	u->recovery_present |= 1u << c.idx;
	return 0;
}

#define OFF(f) offsetof(struct amfa_user, f)
static const struct amfa_opt user_opts[] = {
	{ "iam_user", AMFA_OPT_STRING, OFF(iam_user), 0, 0, NULL, 0, NULL,
	    check_iam_user },
	{ "mfa_serial", AMFA_OPT_STRING, OFF(mfa_serial), 0, 0, NULL, 0, NULL,
	    check_mfa_serial },
	{ "totp_secret", AMFA_OPT_CUSTOM, 0, 0, 0, NULL, AMFA_OPT_SECRET,
	    parse_totp_secret, NULL },
	{ "totp_algorithm", AMFA_OPT_CHOICE, OFF(totp_algorithm), 0, 0,
	    totp_algorithms, 0, NULL, NULL },
	{ "totp_digits", AMFA_OPT_INT, OFF(totp_digits), 6, 8, NULL, 0, NULL,
	    NULL },
	{ "totp_period", AMFA_OPT_INT, OFF(totp_period), 15, 300, NULL, 0, NULL,
	    NULL },
	{ "verify", AMFA_OPT_CHOICE, OFF(verify), 0, 0, amfa_verify_names, 0,
	    NULL, NULL },
	{ "access_key_id", AMFA_OPT_STRING, OFF(access_key_id), 0, 0, NULL, 0,
	    NULL, check_key_id },
	{ "secret_access_key", AMFA_OPT_STRING, OFF(secret_access_key), 0, 0,
	    NULL, AMFA_OPT_SECRET, NULL, check_secret_key },
	{ "aws_profile", AMFA_OPT_STRING, OFF(aws_profile), 0, 0, NULL, 0, NULL,
	    check_profile },
	{ "region", AMFA_OPT_STRING, OFF(region), 0, 0, NULL, 0, NULL,
	    amfa_check_region },
	{ "yubikey", AMFA_OPT_CUSTOM, 0, 0, 0, NULL,
	    AMFA_OPT_SECRET | AMFA_OPT_MULTI, parse_yubikey, NULL },
	{ "role", AMFA_OPT_CUSTOM, 0, 0, 0, NULL, AMFA_OPT_MULTI, parse_role,
	    NULL },
	{ "recovery", AMFA_OPT_CUSTOM, 0, 0, 0, NULL, AMFA_OPT_MULTI,
	    parse_recovery, NULL },
	{ "recovery_codes", AMFA_OPT_CHOICE, OFF(recovery_codes), 0, 0,
	    amfa_yes_no, 0, NULL, NULL },
};
#undef OFF
#define NOPTS (sizeof(user_opts) / sizeof(user_opts[0]))

static void
init(struct amfa_user *u)
{
	memset(u, 0, sizeof(*u));
	u->totp_algorithm = AMFA_TOTP_SHA1;
	u->totp_digits = 6;
	u->totp_period = 30;
	u->verify = AMFA_VERIFY_INHERIT;
	u->recovery_codes = -1;
}

/* What the fields must add up to, given the verify mode. */
static int
check_complete(const struct amfa_user *u, const char *shown,
    const struct amfa_config *cfg)
{
	if (u->iam_user == NULL) {
		amfa_log(LOG_ERR, "%s: iam_user is required", shown);
		return -1;
	}
	for (size_t i = 0; i < u->nyubikeys; i++) {
		if (u->yubikeys[i].id_only && cfg->yk_urls == NULL) {
			amfa_log(LOG_ERR,
			    "%s: yubikey %s has no AES key, so "
			    "only a validation server can check it, and "
			    "yubikey_validation is not set",
			    shown, u->yubikeys[i].public_id);
			return -1;
		}
	}
	/* verify = local: a TOTP seed, YubiKeys, or both. */
	if (u->verify == AMFA_VERIFY_LOCAL && u->totp_key == NULL &&
	    u->nyubikeys == 0) {
		amfa_log(LOG_ERR,
		    "%s: totp_secret is required with verify = "
		    "local, unless the user has a yubikey line",
		    shown);
		return -1;
	}
	if (u->verify == AMFA_VERIFY_BOTH && u->totp_key == NULL) {
		amfa_log(LOG_ERR,
		    "%s: totp_secret is required with verify = %s", shown,
		    amfa_verify_names[u->verify]);
		return -1;
	}
	if ((u->access_key_id == NULL) != (u->secret_access_key == NULL)) {
		amfa_log(LOG_ERR,
		    "%s: access_key_id and secret_access_key go "
		    "together",
		    shown);
		return -1;
	}
	if (u->access_key_id != NULL && u->aws_profile != NULL) {
		amfa_log(LOG_ERR,
		    "%s: give either access_key_id or aws_profile, "
		    "not both",
		    shown);
		return -1;
	}
	if (!amfa_user_uses_sts(u))
		return 0;
	if (u->access_key_id == NULL && u->aws_profile == NULL) {
		amfa_log(LOG_ERR,
		    "%s: verify = %s needs access_key_id and "
		    "secret_access_key, or aws_profile",
		    shown, amfa_verify_names[u->verify]);
		return -1;
	}
	/* Here, in root's file: the user's own ~/.aws must not pick the
	 * device whose codes count as their second factor. */
	if (u->mfa_serial == NULL) {
		amfa_log(LOG_ERR,
		    "%s: verify = %s needs mfa_serial (in this "
		    "file, also with aws_profile)",
		    shown, amfa_verify_names[u->verify]);
		return -1;
	}
	return 0;
}

int
amfa_user_parse(const char *buf, size_t len, const char *shown,
    const char *name, const struct amfa_config *cfg, struct amfa_user *u)
{
	init(u);
	if (amfa_conf_parse(buf, len, shown, user_opts, NOPTS, u) != 0)
		goto fail;
	if (u->verify == AMFA_VERIFY_INHERIT)
		u->verify = cfg->verify;
	/* Off in awsmfa.conf is off for everyone; a user may only opt out. */
	if (u->recovery_codes < 0 || !cfg->recovery_codes)
		u->recovery_codes = cfg->recovery_codes;
	if (check_complete(u, shown, cfg) != 0)
		goto fail;
	if ((u->name = strdup(name)) == NULL)
		goto fail;
	return 0;
fail:
	amfa_user_free(u);
	return -1;
}

int
amfa_user_load(const struct amfa_config *cfg, const char *name, uid_t owner,
    struct amfa_user *u)
{
	struct amfa_file_policy policy = { owner, 066, AMFA_CONF_MAX_SIZE };
	char file[AMFA_USER_NAME_MAX + 8], shown[4096];
	const char *why;
	char *buf;
	size_t len;
	int dirfd, r;

	init(u);
	if ((why = amfa_user_name_invalid(name)) != NULL) {
		amfa_log(LOG_ERR, "refusing user: %s", why);
		return -1;
	}
	snprintf(file, sizeof(file), "%s.conf", name);
	snprintf(shown, sizeof(shown), "%s/%s", cfg->users_dir, file);
	if ((dirfd = amfa_dir_open(cfg->users_dir, owner, 022)) < 0)
		return -1;
	r = amfa_file_read(dirfd, file, shown, &policy, &buf, &len);
	close(dirfd);
	if (r == -ENOENT)
		return AMFA_USER_NOT_ENROLLED;
	if (r != 0)
		return -1;
	r = amfa_user_parse(buf, len, shown, name, cfg, u);
	amfa_wipe_free(buf, len);
	return r;
}

void
amfa_user_free(struct amfa_user *u)
{
	amfa_conf_free(user_opts, NOPTS, u);
	amfa_wipe_free(u->totp_key, u->totp_keylen);
	if (u->yubikeys != NULL)
		amfa_wipe_free(u->yubikeys,
		    AMFA_USER_MAX_YUBIKEYS * sizeof(*u->yubikeys));
	for (size_t i = 0; i < u->nroles; i++)
		amfa_role_free(&u->roles[i]);
	free(u->roles);
	free(u->recovery);
	free(u->name);
	memset(u, 0, sizeof(*u));
}

void
amfa_user_totp(const struct amfa_user *u, struct amfa_totp_params *p)
{
	p->alg = (enum amfa_totp_alg)u->totp_algorithm;
	p->digits = (int)u->totp_digits;
	p->period = (unsigned)u->totp_period;
	p->key = u->totp_key;
	p->keylen = u->totp_keylen;
}
