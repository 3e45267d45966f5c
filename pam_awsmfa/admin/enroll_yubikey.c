/*
 * awsmfa enroll USER --yubikey: a YubiKey OTP token from one of its OTPs
 * and its AES key.  The public id is the start of the OTP; the private id
 * is in the encrypted block, so decrypting the OTP with the key (libyubikey)
 * yields it, and the block's CRC proves that key and OTP belong together.
 * The key is read without echo, never from the command line.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yubikey.h>

#include "admin.h"
#include "enroll_steps.h"
#include "enroll_yubikey.h"
#include "prompt.h"
#include "secure_file.h"
#include "store/state.h"
#include "yubikey/ykotp.h"

struct counters {
	char public_id[AMFA_YK_PUBLIC_ID_MAX + 1];
	unsigned session;
	unsigned use;
};

/* The enrolment OTP is spent: record its counters as the token's last. */
static void
note_counters(struct amfa_state *st, const void *arg)
{
	const struct counters *c = arg;
	struct amfa_token_counter *t = NULL;

	for (int i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i].public_id, c->public_id) == 0)
			t = &st->tokens[i];
	}
	if (t == NULL) {
		if (st->ntokens >= AMFA_STATE_MAX_TOKENS)
			return;
		t = &st->tokens[st->ntokens++];
		snprintf(t->public_id, sizeof(t->public_id), "%s",
		    c->public_id);
		t->session = t->use = 0;
	}
	if (amfa_yk_counter_cmp(c->session, c->use, t->session, t->use) > 0) {
		t->session = c->session;
		t->use = c->use;
	}
}

/* 32 hex digits, either case. */
static int
parse_aes_key(const char *hex, unsigned char key[YUBIKEY_KEY_SIZE])
{
	if (strlen(hex) != 2 * YUBIKEY_KEY_SIZE || !yubikey_hex_p(hex))
		return -1;
	yubikey_hex_decode((char *)key, hex, YUBIKEY_KEY_SIZE);
	return 0;
}

int
adm_enroll_yubikey(struct adm_ctx *ctx, const struct adm_enroll_opts *o)
{
	char input[256], otp[AMFA_YK_OTP_MAX + 1], keyhex[64];
	char spec[AMFA_YK_PUBLIC_ID_MAX + 64], line[sizeof(spec) + 16];
	char privhex[2 * YUBIKEY_UID_SIZE + 1], *text = NULL;
	unsigned char key[YUBIKEY_KEY_SIZE];
	struct amfa_yk_token token;
	yubikey_token_st block;
	struct counters c;
	size_t idlen, which;
	unsigned session, use;
	int n, r = ADM_FAIL;

	memset(&token, 0, sizeof(token));
	n = adm_prompt("Touch the YubiKey (it types an OTP): ", 1, input,
	    sizeof(input));
	if (n < 0 || (n = amfa_yk_otp_normalize(input, otp, sizeof(otp))) < 0) {
		adm_err("that is not a YubiKey OTP (34 to 64 modhex "
			"characters)");
		r = ADM_USAGE;
		goto out;
	}
	idlen = (size_t)n - AMFA_YK_TOKEN_CHARS;
	n = adm_prompt("AES key of the token (32 hex digits, not shown): ", 0,
	    keyhex, sizeof(keyhex));
	if (n < 0 || parse_aes_key(keyhex, key) != 0) {
		adm_err("an AES key is 32 hex digits");
		r = ADM_USAGE;
		goto out;
	}
	yubikey_modhex_decode((char *)&block, otp + idlen, sizeof(block));
	yubikey_aes_decrypt((uint8_t *)&block, key);
	if (!yubikey_crc_ok_p((uint8_t *)&block)) {
		adm_err("the OTP does not decrypt with this key (wrong key, or "
			"a mistyped OTP); nothing was saved");
		goto out;
	}
	yubikey_hex_encode(privhex, (const char *)block.uid, YUBIKEY_UID_SIZE);
	snprintf(c.public_id, sizeof(c.public_id), "%.*s", (int)idlen, otp);
	snprintf(spec, sizeof(spec), "%s:%s:%s", c.public_id, keyhex, privhex);
	/* The core's own parser and decoder must agree. */
	if (amfa_yk_token_parse(spec, &token, &(const char *){ NULL }) != 0 ||
	    amfa_yk_decode(&token, 1, otp, &which, &session, &use) !=
		AMFA_YK_OK) {
		adm_err("the token does not check out; nothing was saved");
		goto out;
	}
	c.session = session;
	c.use = use;
	snprintf(line, sizeof(line), "yubikey = %s", spec);
	if ((text = adm_enroll_text(o, o->serial, line)) == NULL)
		goto out;
	if ((r = adm_enroll_check(ctx, o, text)) != ADM_OK ||
	    (r = adm_enroll_write(ctx, o, text)) != ADM_OK)
		goto out;
	printf("Enrolled %s: YubiKey %s in %s/%s.conf\n", o->user, c.public_id,
	    ctx->cfg.users_dir, o->user);
	r = adm_enroll_note_state(ctx, o->user, note_counters, &c);
out:
	if (text != NULL)
		amfa_wipe_free_str(text);
	amfa_yk_token_wipe(&token, 1);
	OPENSSL_cleanse(&block, sizeof(block));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(keyhex, sizeof(keyhex));
	OPENSSL_cleanse(privhex, sizeof(privhex));
	OPENSSL_cleanse(spec, sizeof(spec));
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(input, sizeof(input));
	return r;
}
