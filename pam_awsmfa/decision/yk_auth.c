/* The YubiKey OTP factor; see yk_auth.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "caller_guard.h"
#include "log.h"
#include "net/net.h"
#include "secure_file.h"
#include "store/state.h"
#include "yk_auth.h"
#include "yubikey/ykotp.h"
#include "yubikey/ykval.h"

#define API_KEY_FILE_MAX 1024

struct yk_call {
	uid_t owner;
	struct amfa_yk_outcome *out;
	struct amfa_state *st;
	/* The validation servers' answer, once asked: a decision taken
	 * again on a fresh snapshot (the state table changed meanwhile)
	 * does not send the OTP twice (the second would be a replay). */
	int asked;
	enum amfa_auth_result answer;
};

/*
 * The API key from yubikey_api_key_file: a regular file, not a link,
 * owned by `owner', no group or other access, one line of base64 (ykval.c
 * checks the base64).  *key is a heap string to wipe.  0 or -1 (logged).
 */
static int
read_api_key(const char *path, uid_t owner, char **key)
{
	struct amfa_file_policy policy = { owner, 077, API_KEY_FILE_MAX };
	char *buf;
	size_t len;
	int r;

	*key = NULL;
	r = amfa_file_read(AT_FDCWD, path, path, &policy, &buf, &len);
	if (r == -ENOENT)
		amfa_log(LOG_ERR, "%s: no such file (yubikey_api_key_file)",
		    path);
	if (r != 0)
		return -1;
	while (len > 0 &&
	    (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (len == 0 || strcspn(buf, " \t\r\n") != len) {
		amfa_log(LOG_ERR, "%s: the API key must be one line of base64",
		    path);
		amfa_wipe_free(buf, len);
		return -1;
	}
	*key = buf;
	return 0;
}

static enum amfa_auth_result ask_servers(const struct amfa_config *cfg,
    const struct amfa_user *u, const struct yk_call *c, const char *otp);

/* What the validation servers say, as the decision sees it (asked once
 * per login). */
static enum amfa_auth_result
online(const struct amfa_config *cfg, const struct amfa_user *u,
    struct yk_call *c, const char *otp)
{
	if (!c->asked) {
		c->answer = ask_servers(cfg, u, c, otp);
		c->asked = 1;
	}
	return c->answer;
}

static enum amfa_auth_result
ask_servers(const struct amfa_config *cfg, const struct amfa_user *u,
    const struct yk_call *c, const char *otp)
{
	struct amfa_ykval_config vc;
	enum amfa_ykval_result r;
	char *key = NULL;

	if (cfg->yk_api_key_file != NULL &&
	    read_api_key(cfg->yk_api_key_file, c->owner, &key) != 0) {
		amfa_log(LOG_ERR,
		    "user %s: YubiKey validation not attempted: "
		    "the API key is unusable",
		    u->name);
		return AMFA_AUTH_ERROR;
	}
	memset(&vc, 0, sizeof(vc));
	vc.urls = (const char *const *)cfg->yk_urls;
	vc.client_id = cfg->yk_client_id;
	vc.api_key_b64 = key;
	vc.ca_file = cfg->ca_file;
	vc.timeout_ms = cfg->yk_timeout * 1000;
	r = amfa_net_ykval_verify(&vc, otp);
	if (key != NULL)
		amfa_wipe_free_str(key);
	switch (r) {
	case AMFA_YKVAL_OK:
		return AMFA_AUTH_OK;
	case AMFA_YKVAL_BAD_OTP:
		return AMFA_AUTH_BAD_CODE;
	case AMFA_YKVAL_REPLAYED:
		return AMFA_AUTH_REPLAY;
	case AMFA_YKVAL_UNREACHABLE:
		return AMFA_AUTH_UNAVAILABLE;
	case AMFA_YKVAL_REJECTED:
	case AMFA_YKVAL_FORGED:
	case AMFA_YKVAL_ERROR:
		/* A refusal of our request or an answer not to be believed:
		 * nothing was learnt about the OTP (ykval.c logged why). */
		break;
	}
	return AMFA_AUTH_ERROR;
}

static int
enrolled(const struct amfa_user *u, const char *public_id)
{
	for (size_t i = 0; i < u->nyubikeys; i++) {
		if (strcmp(u->yubikeys[i].public_id, public_id) == 0)
			return 1;
	}
	return 0;
}

/*
 * The state's counter slot for `public_id': found, or made (a slot of a
 * token no longer in the user's file is reused when the table is full).
 * NULL if there is no room.
 */
static struct amfa_token_counter *
counter_slot(struct amfa_state *st, const struct amfa_user *u,
    const char *public_id, int create)
{
	struct amfa_token_counter *t = NULL;

	for (int i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i].public_id, public_id) == 0)
			return &st->tokens[i];
	}
	if (!create)
		return NULL;
	if (st->ntokens < AMFA_STATE_MAX_TOKENS) {
		t = &st->tokens[st->ntokens++];
	} else {
		for (int i = 0; i < st->ntokens && t == NULL; i++) {
			if (!enrolled(u, st->tokens[i].public_id))
				t = &st->tokens[i];
		}
		if (t == NULL)
			return NULL;
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->public_id, sizeof(t->public_id), "%s", public_id);
	return t;
}

/*
 * The local replay check: (session, use) must be above the token's last
 * accepted pair.  On success the new pair is put in `st' (amfa_auth_run
 * commits it before the answer).
 */
static enum amfa_auth_result
local_counters(const struct amfa_user *u, const struct amfa_yk_token *tok,
    struct amfa_state *st, unsigned session, unsigned use)
{
	struct amfa_token_counter *t;
	int cmp;

	t = counter_slot(st, u, tok->public_id, 0);
	if (t != NULL) {
		cmp = amfa_yk_counter_cmp(session, use, t->session, t->use);
		if (cmp == 0) {
			amfa_log(LOG_NOTICE,
			    "user %s: YubiKey %s: OTP already "
			    "used (counters %u/%u)",
			    u->name, tok->public_id, session, use);
			return AMFA_AUTH_REPLAY;
		}
		if (cmp < 0) {
			amfa_log(LOG_WARNING,
			    "user %s: YubiKey %s: counters "
			    "went backwards (%u/%u, last accepted %u/%u): an "
			    "old OTP replayed, or a cloned token",
			    u->name, tok->public_id, session, use, t->session,
			    t->use);
			return AMFA_AUTH_REPLAY;
		}
	} else if ((t = counter_slot(st, u, tok->public_id, 1)) == NULL) {
		amfa_log(LOG_ERR,
		    "user %s: YubiKey %s: no room for its "
		    "counters in the state",
		    u->name, tok->public_id);
		return AMFA_AUTH_ERROR;
	}
	t->session = session;
	t->use = use;
	return AMFA_AUTH_OK;
}

/* The decision on `otp', in its one reading (ykotp.h). */
static enum amfa_auth_result
check_reading(const struct amfa_config *cfg, const struct amfa_user *u,
    struct yk_call *c, const char *otp)
{
	const struct amfa_yk_token *tok;
	enum amfa_auth_result res;
	enum amfa_yk_result r;
	unsigned session = 0, use = 0;
	size_t which = 0;

	r = amfa_yk_decode_read(u->yubikeys, u->nyubikeys, otp, &which,
	    &session, &use);
	if (r == AMFA_YK_UNKNOWN_TOKEN &&
	    amfa_yk_token_read(u->yubikeys, u->nyubikeys, otp, &which) &&
	    u->yubikeys[which].id_only) {
		/* No key here: the servers alone decide. */
		tok = &u->yubikeys[which];
		res = online(cfg, u, c, otp);
		if (res == AMFA_AUTH_OK)
			amfa_log(LOG_INFO,
			    "user %s: YubiKey %s: OTP accepted by "
			    "the validation server",
			    u->name, tok->public_id);
		return res;
	}
	if (r != AMFA_YK_OK) {
		if (r == AMFA_YK_UNKNOWN_TOKEN)
			amfa_log(LOG_NOTICE,
			    "user %s: OTP of a YubiKey not "
			    "enrolled for this user",
			    u->name);
		else if (amfa_yk_token_read(u->yubikeys, u->nyubikeys, otp,
			     &which))
			amfa_log(LOG_NOTICE, "user %s: YubiKey %s: %s", u->name,
			    u->yubikeys[which].public_id,
			    amfa_yk_result_str(r));
		else
			amfa_log(LOG_NOTICE, "user %s: %s", u->name,
			    amfa_yk_result_str(r));
		return AMFA_AUTH_BAD_CODE;
	}
	tok = &u->yubikeys[which];
	if ((res = local_counters(u, tok, c->st, session, use)) != AMFA_AUTH_OK)
		return res;
	if (cfg->yk_urls == NULL) {
		amfa_log(LOG_INFO,
		    "user %s: YubiKey %s: OTP accepted "
		    "(counters %u/%u)",
		    u->name, tok->public_id, session, use);
		return AMFA_AUTH_OK;
	}
	res = online(cfg, u, c, otp);
	if (res == AMFA_AUTH_UNAVAILABLE && cfg->failmode == AMFA_FAIL_SAFE &&
	    amfa_guard_outage_suspect()) {
		amfa_log(LOG_ERR,
		    "user %s: YubiKey %s: no validation server answered a "
		    "login its user can stop (set-user-ID, or stopped "
		    "meanwhile): failmode = safe does not apply",
		    u->name, tok->public_id);
		return res;
	}
	if (res == AMFA_AUTH_UNAVAILABLE && cfg->failmode == AMFA_FAIL_SAFE) {
		amfa_log(LOG_WARNING,
		    "user %s: YubiKey %s: no validation "
		    "server answered; failmode = safe: accepted on the local "
		    "check alone (counters %u/%u)",
		    u->name, tok->public_id, session, use);
		if (c->out != NULL)
			c->out->unverified_online = 1;
		return AMFA_AUTH_OK;
	}
	if (res == AMFA_AUTH_OK)
		amfa_log(LOG_INFO,
		    "user %s: YubiKey %s: OTP accepted here and "
		    "by the validation server (counters %u/%u)",
		    u->name, tok->public_id, session, use);
	return res;
}

static enum amfa_auth_result
check_yubikey(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *otp, time_t now, struct amfa_state *st, void *arg)
{
	struct yk_call *c = arg;
	char reading[AMFA_YK_OTP_MAX + 1];
	enum amfa_auth_result res;

	(void)now;
	/* One reading, chosen once: the token matched here, the counters
	 * checked and the OTP the servers are asked about are all its. */
	if (amfa_yk_read(u->yubikeys, u->nyubikeys, otp, reading,
		sizeof(reading)) < 0) {
		amfa_log(LOG_NOTICE, "user %s: not a YubiKey OTP", u->name);
		return AMFA_AUTH_BAD_CODE;
	}
	c->st = st;
	res = check_reading(cfg, u, c, reading);
	OPENSSL_cleanse(reading, sizeof(reading));
	return res;
}

enum amfa_auth_result
amfa_auth_yubikey(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *otp, time_t now, uid_t state_owner, struct amfa_yk_outcome *out)
{
	struct yk_call c = { state_owner, out, NULL, 0, AMFA_AUTH_ERROR };

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	return amfa_auth_run_remote(cfg, u, otp, now, state_owner,
	    check_yubikey, &c);
}
