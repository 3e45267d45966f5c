/* The STS half of a login; see sts_login.h. */
#include <stdio.h>
#include <string.h>

#include "aws/aws_profile.h"
#include "aws/sts.h"
#include "factors/totp.h"
#include "log.h"
#include "net/net.h"
#include "privdrop.h"
#include "secure_file.h"
#include "sts_login.h"

/* Where the long-term key, serial and region come from for this user. */
struct source {
	struct amfa_aws_profile profile; /* when aws_profile is set */
	struct amfa_aws_key key;
	const char *serial;
	const char *region;
};

static int
resolve(const struct amfa_config *cfg, const struct amfa_user *u,
    struct source *src)
{
	struct amfa_target t;

	memset(src, 0, sizeof(*src));
	src->serial = u->mfa_serial;
	src->region = u->region ? u->region : cfg->region;
	if (u->aws_profile == NULL) {
		src->key.access_key_id = u->access_key_id;
		src->key.secret_access_key = u->secret_access_key;
		return 0;
	}
	if (amfa_target_lookup(u->name, &t) != 0 ||
	    amfa_aws_profile_read(&t, u->aws_profile, &src->profile) != 0)
		return -1;
	src->key.access_key_id = src->profile.access_key_id;
	src->key.secret_access_key = src->profile.secret_access_key;
	/* The serial is root's (the user file), never the profile's: the
	 * user's own files must not choose the device that proves them. */
	if (u->region == NULL && src->profile.region != NULL &&
	    amfa_check_region(src->profile.region) == NULL)
		src->region = src->profile.region;
	if (src->serial == NULL) {
		amfa_log(LOG_ERR,
		    "user %s: no mfa_serial in the user file; "
		    "profile %s cannot give one",
		    u->name, u->aws_profile);
		amfa_aws_profile_free(&src->profile);
		return -1;
	}
	return 0;
}

static enum amfa_auth_result
map_result(const struct amfa_user *u, enum amfa_sts_result r)
{
	switch (r) {
	case AMFA_STS_OK:
		return AMFA_AUTH_OK;
	case AMFA_STS_BAD_CODE:
		return AMFA_AUTH_BAD_CODE;
	case AMFA_STS_CODE_CONSUMED:
		return AMFA_AUTH_REPLAY;
	case AMFA_STS_UNREACHABLE:
		return AMFA_AUTH_UNAVAILABLE;
	default:
		amfa_log(LOG_ERR, "user %s: STS: %s", u->name,
		    amfa_sts_result_str(r));
		return AMFA_AUTH_ERROR;
	}
}

enum amfa_auth_result
amfa_sts_fetch(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, struct amfa_session *s)
{
	struct amfa_sts_credentials out;
	struct amfa_sts_config sc;
	struct source src;
	char endpoint[256];
	enum amfa_sts_result r;

	memset(s, 0, sizeof(*s));
	if (resolve(cfg, u, &src) != 0)
		return AMFA_AUTH_ERROR;
	if (cfg->sts_endpoint != NULL)
		snprintf(endpoint, sizeof(endpoint), "%s", cfg->sts_endpoint);
	else
		snprintf(endpoint, sizeof(endpoint),
		    "https://sts.%s.amazonaws.com/", src.region);
	memset(&sc, 0, sizeof(sc));
	sc.endpoint = endpoint;
	sc.region = src.region;
	sc.ca_file = cfg->ca_file;
	sc.timeout_ms = cfg->sts_timeout * 1000;
	sc.duration = cfg->session_duration;
	r = amfa_net_sts_get_session_token(&sc, &src.key, src.serial, code,
	    &out);
	snprintf(s->region, sizeof(s->region), "%s", src.region);
	if (u->aws_profile != NULL)
		amfa_aws_profile_free(&src.profile);
	if (r != AMFA_STS_OK)
		return map_result(u, r);
	s->creds.access_key_id = strdup(out.access_key_id);
	s->creds.secret_access_key = out.secret_access_key;
	s->creds.session_token = out.session_token;
	out.secret_access_key = out.session_token = NULL;
	snprintf(s->creds.expiration, sizeof(s->creds.expiration), "%s",
	    out.expiration);
	s->creds.expires = out.expires;
	snprintf(s->request_id, sizeof(s->request_id), "%s", out.request_id);
	amfa_sts_credentials_free(&out);
	if (s->creds.access_key_id == NULL) {
		amfa_creds_free(&s->creds);
		return AMFA_AUTH_ERROR;
	}
	amfa_log(LOG_INFO,
	    "user %s (IAM %s): session credentials %s valid "
	    "until %s (STS request id %s)",
	    u->name, u->iam_user, s->creds.access_key_id, s->creds.expiration,
	    s->request_id[0] ? s->request_id : "none");
	return AMFA_AUTH_OK;
}

static enum amfa_auth_result
check_sts(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_state *st, void *arg)
{
	struct amfa_session *s = arg;

	(void)now;
	(void)st;
	/* IAM MFA codes are six digits; anything else never goes to AWS. */
	if (!amfa_totp_code_shaped(code, 6))
		return AMFA_AUTH_BAD_CODE;
	/* A decision taken again (the state table changed meanwhile): AWS
	 * already said yes to this code, and would now call it used. */
	if (s->creds.access_key_id != NULL)
		return AMFA_AUTH_OK;
	return amfa_sts_fetch(cfg, u, code, s);
}

static int
sts_vouched(void *arg)
{
	return ((struct amfa_session *)arg)->creds.access_key_id != NULL;
}

enum amfa_auth_result
amfa_auth_sts(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, struct amfa_session *s)
{
	enum amfa_auth_result r;

	memset(s, 0, sizeof(*s));
	r = amfa_auth_run_vouched(cfg, u, code, now, state_owner, check_sts, s,
	    sts_vouched);
	/* Credentials got on a decision that was then refused (locked out
	 * by another host meanwhile, the state not saved) are dropped. */
	if (r != AMFA_AUTH_OK)
		amfa_session_free(s);
	return r;
}

void
amfa_session_free(struct amfa_session *s)
{
	amfa_creds_free(&s->creds);
	memset(s, 0, sizeof(*s));
}
