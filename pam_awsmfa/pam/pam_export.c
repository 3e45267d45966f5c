/* Credentials into the login; see pam_export.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "creds/creds_store.h"
#include "log.h"
#include "pam_export.h"
#include "privdrop.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "user.h"

#define COUNTED_KEY "pam_awsmfa_store_counted"
#define KEPT_KEY    "pam_awsmfa_login_enrolment"

static const char *const env_names[] = {
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
};
#define NENV (sizeof(env_names) / sizeof(env_names[0]))

static int
put(pam_handle_t *pamh, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *kv;
	int r;

	if ((kv = malloc(n)) == NULL)
		return PAM_BUF_ERR;
	snprintf(kv, n, "%s=%s", name, value);
	r = pam_putenv(pamh, kv);
	amfa_wipe_free(kv, n);
	return r;
}

int
amfa_pam_export_env(pam_handle_t *pamh, const struct amfa_session *s)
{
	const char *values[NENV] = {
		s->creds.access_key_id,
		s->creds.secret_access_key,
		s->creds.session_token,
		s->creds.expiration,
		s->region,
		s->region,
	};
	int r = PAM_SUCCESS;

	for (size_t i = 0; i < NENV && r == PAM_SUCCESS; i++)
		r = put(pamh, env_names[i], values[i]);
	if (r != PAM_SUCCESS) {
		amfa_pam_unexport_env(pamh);
		amfa_log(LOG_ERR, "cannot set the PAM environment: %s",
		    pam_strerror(pamh, r));
	}
	return r;
}

void
amfa_pam_unexport_env(pam_handle_t *pamh)
{
	for (size_t i = 0; i < NENV; i++)
		pam_putenv(pamh, env_names[i]); /* a name alone: unset */
}

/* The credentials this module put into the PAM environment, if any. */
static int
creds_from_env(pam_handle_t *pamh, struct amfa_creds *c)
{
	const char *id = pam_getenv(pamh, "AWS_ACCESS_KEY_ID");
	const char *secret = pam_getenv(pamh, "AWS_SECRET_ACCESS_KEY");
	const char *token = pam_getenv(pamh, "AWS_SESSION_TOKEN");
	const char *exp = pam_getenv(pamh, "AWS_CREDENTIAL_EXPIRATION");
	const char *why;

	return amfa_creds_set(c, id, secret, token, exp, &why);
}

static void
drop_kept(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	amfa_user_free(data);
	free(data);
}

void
amfa_pam_keep_enrolment(pam_handle_t *pamh, struct amfa_user *u)
{
	struct amfa_user *k;

	if ((k = malloc(sizeof(*k))) == NULL) {
		amfa_user_free(u);
		return;
	}
	*k = *u;
	memset(u, 0, sizeof(*u));
	/* The session needs none of the factor's secrets. */
	amfa_wipe_free(k->totp_key, k->totp_keylen);
	k->totp_key = NULL;
	k->totp_keylen = 0;
	if (k->yubikeys != NULL)
		amfa_wipe_free(k->yubikeys,
		    AMFA_USER_MAX_YUBIKEYS * sizeof(*k->yubikeys));
	k->yubikeys = NULL;
	k->nyubikeys = 0;
	amfa_wipe_free_str(k->secret_access_key);
	k->secret_access_key = NULL;
	if (k->recovery != NULL)
		amfa_wipe_free(k->recovery,
		    AMFA_RECOVERY_MAX * sizeof(*k->recovery));
	k->recovery = NULL;
	k->nrecovery = 0;
	if (pam_set_data(pamh, KEPT_KEY, k, drop_kept) != PAM_SUCCESS)
		drop_kept(pamh, k, 0);
}

/*
 * STORE_DIR/UID.roles for awsmfa-creds --role: the user's role lines and
 * root's STS settings as this login used them (roles_file.h).  Trouble
 * here costs the roles, not the session.
 */
static void
store_roles(pam_handle_t *pamh, const struct amfa_config *cfg, const char *user,
    const struct amfa_target *t)
{
	const char *region = pam_getenv(pamh, "AWS_REGION");
	const struct amfa_user *up = NULL;
	struct amfa_roles_file f;
	struct amfa_user u;
	const void *kept = NULL;
	char endpoint[256];

	memset(&u, 0, sizeof(u));
	/* The enrolment this handle's login decided on, if it kept it (no
	 * second load, no second KMS Decrypt); another handle's session
	 * (su's, sshd's without this module's auth) loads it. */
	if (pam_get_data(pamh, KEPT_KEY, &kept) == PAM_SUCCESS &&
	    kept != NULL && ((const struct amfa_user *)kept)->name != NULL &&
	    strcmp(((const struct amfa_user *)kept)->name, user) == 0)
		up = kept;
	else if (amfa_enrolment_load(cfg, user, 0, &u) == 0)
		up = &u;
	else {
		amfa_log(LOG_ERR,
		    "user %s: enrolment unusable: roles not stored", user);
		return;
	}
	if (region == NULL || amfa_check_region(region) != NULL)
		region = up->region ? up->region : cfg->region;
	if (cfg->sts_endpoint != NULL)
		snprintf(endpoint, sizeof(endpoint), "%s", cfg->sts_endpoint);
	else
		snprintf(endpoint, sizeof(endpoint),
		    "https://sts.%s.amazonaws.com/", region);
	memset(&f, 0, sizeof(f));
	f.uid = (unsigned)t->uid;
	f.user = up->name;
	f.iam_user = up->iam_user;
	f.sts_endpoint = endpoint;
	f.region = (char *)region;
	f.ca_file = cfg->ca_file;
	f.sts_timeout = cfg->sts_timeout;
	f.roles = up->roles;
	f.nroles = up->nroles;
	if (amfa_store_write_roles(cfg->store_dir, t, &f) == 0 &&
	    up->nroles > 0)
		amfa_log(LOG_INFO, "user %s: %zu role(s) for awsmfa-creds",
		    user, up->nroles);
	amfa_user_free(&u);
}

int
amfa_pam_store_open(pam_handle_t *pamh, const struct amfa_config *cfg,
    const char *user)
{
	struct amfa_target t;
	struct amfa_creds c;
	int r;

	if (creds_from_env(pamh, &c) != 0)
		return PAM_IGNORE; /* nothing of ours to store */
	if (amfa_target_lookup(user, &t) != 0) {
		amfa_creds_free(&c);
		return PAM_SESSION_ERR;
	}
	r = amfa_store_open_session(cfg->store_dir, &t, &c);
	amfa_creds_free(&c);
	if (r != 0)
		return PAM_SESSION_ERR;
	pam_set_data(pamh, COUNTED_KEY, (void *)1, NULL);
	amfa_log(LOG_INFO, "user %s: session credentials stored in %s/%u", user,
	    cfg->store_dir, (unsigned)t.uid);
	store_roles(pamh, cfg, user, &t);
	return PAM_SUCCESS;
}

int
amfa_pam_store_close(pam_handle_t *pamh, const struct amfa_config *cfg,
    const char *user)
{
	const void *counted = NULL;
	struct amfa_target t;

	if (pam_get_data(pamh, COUNTED_KEY, &counted) != PAM_SUCCESS ||
	    counted == NULL)
		return PAM_IGNORE;
	if (amfa_target_lookup(user, &t) != 0 ||
	    amfa_store_close_session(cfg->store_dir, &t) != 0)
		return PAM_SESSION_ERR;
	pam_set_data(pamh, COUNTED_KEY, NULL, NULL);
	return PAM_SUCCESS;
}

int
amfa_pam_store_renew(pam_handle_t *pamh, const struct amfa_config *cfg,
    const char *user)
{
	struct amfa_target t;
	struct amfa_creds c;
	int r;

	if (creds_from_env(pamh, &c) != 0) {
		amfa_log(LOG_NOTICE,
		    "user %s: no new credentials in this transaction: "
		    "nothing renewed",
		    user);
		return PAM_SUCCESS;
	}
	if (amfa_target_lookup(user, &t) != 0) {
		amfa_creds_free(&c);
		return PAM_CRED_ERR;
	}
	r = amfa_store_renew(cfg->store_dir, &t, &c);
	amfa_creds_free(&c);
	return r < 0 ? PAM_CRED_ERR : PAM_SUCCESS;
}
