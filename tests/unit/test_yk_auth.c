/*
 * The YubiKey verifier (yk_auth.h) and what feeds it: yubikey lines in user
 * files, the yubikey_validation keys of awsmfa.conf, the dispatch by input
 * shape in amfa_login_run.  OTPs are made here with libyubikey's encoder
 * for keys chosen by the test; the online path is exercised against a
 * closed loopback port (the protocol itself is tests/yubikey/test_ykval.py).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yubikey.h>

#include "config.h"
#include "decision/login.h"
#include "decision/yk_auth.h"
#include "factors/totp.h"
#include "logcap.h"
#include "store/state.h"
#include "tap.h"
#include "user.h"

#define KEY_HEX	 "00112233445566778899aabbccddeeff"
#define UID_HEX	 "a1a2a3a4a5a6"
#define PUBID	 "vvccccdddddd"
#define PUBID2	 "ccbbddeeffgg"
#define SEED_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static const unsigned char key1[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
static const unsigned char uid1[6] = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6 };

static char dir[] = "/tmp/amfa-ykauth-XXXXXX";
static const time_t now = 1700000000;

/* An OTP of `pubid' for these counters, encrypted with `key'. */
static const char *
make_otp(const char *pubid, const unsigned char *key, const unsigned char *uid,
    unsigned session, unsigned use)
{
	static char out[80];
	yubikey_token_st t;
	char block[YUBIKEY_OTP_SIZE + 1];

	memset(&t, 0, sizeof(t));
	memcpy(t.uid, uid, sizeof(t.uid));
	t.ctr = (uint16_t)session;
	t.tstpl = 0x1234;
	t.tstph = 0x56;
	t.use = (uint8_t)use;
	t.rnd = 0x9abc;
	t.crc = (uint16_t)~yubikey_crc16((const uint8_t *)&t,
	    sizeof(t) - sizeof(t.crc));
	yubikey_generate(&t, key, block);
	snprintf(out, sizeof(out), "%s%s", pubid, block);
	return out;
}

static const char *
otp1(unsigned session, unsigned use)
{
	return make_otp(PUBID, key1, uid1, session, use);
}

static int
parse_cfg(const char *text, struct amfa_config *cfg)
{
	logcap_start();
	return amfa_config_parse(text, strlen(text), "awsmfa.conf", cfg);
}

static int
parse_user(const struct amfa_config *cfg, const char *text, struct amfa_user *u)
{
	logcap_start();
	return amfa_user_parse(text, strlen(text), "alice.conf", "alice", cfg,
	    u);
}

static void
read_state(const struct amfa_config *cfg, struct amfa_state *st)
{
	struct amfa_state_handle h;

	memset(st, 0, sizeof(*st));
	if (amfa_state_open(cfg, "alice", getuid(), &h, st) == 0)
		amfa_state_close(&h);
}

static void
reset_state(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state/alice.state", dir);
	unlink(path);
}

static const struct amfa_token_counter *
counter(const struct amfa_state *st, const char *pubid)
{
	for (int i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i].public_id, pubid) == 0)
			return &st->tokens[i];
	}
	return NULL;
}

/* A loopback port nobody listens on. */
static int
closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	getsockname(s, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
	chmod(path, mode);
}

static void
config_keys(void)
{
	struct amfa_config c;

	ok(parse_cfg("yubikey_validation = https://a.example/wsapi/2.0/verify "
		     "  https://b.example/verify\nyubikey_client_id = 123\n",
	       &c) == 0,
	    "two servers and a client id");
	ok(c.yk_urls != NULL && c.yk_urls[0] != NULL && c.yk_urls[1] != NULL &&
		c.yk_urls[2] == NULL,
	    "two URLs kept");
	is_str(c.yk_urls[1], "https://b.example/verify", "second URL");
	is_int(c.yk_timeout, 5, "timeout default 5 s");
	amfa_config_free(&c);
	ok(c.yk_urls == NULL, "URLs freed");

	ok(parse_cfg("", &c) == 0 && c.yk_urls == NULL, "offline by default");
	amfa_config_free(&c);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "yubikey_validation = https://a.example/\n",
		    "awsmfa.conf: yubikey_validation needs yubikey_client_id" },
		{ "yubikey_validation = http://127.0.0.1:9/v\n"
		  "yubikey_client_id = 1\n",
		    "a plain http server needs yubikey_api_key_file" },
		{ "yubikey_validation = http://10.0.0.1/v\n"
		  "yubikey_client_id = 1\nyubikey_api_key_file = /k\n",
		    "awsmfa.conf:1: yubikey_validation: server 1: plain http is "
		    "only allowed" },
		{ "yubikey_validation = https://a/ ftp://b/\n",
		    "awsmfa.conf:1: yubikey_validation: server 2: must start "
		    "with https://" },
		{ "yubikey_validation = https://a/ https://a/ https://a/ "
		  "https://a/ https://a/ https://a/ https://a/ https://a/ "
		  "https://a/\n",
		    "at most 8 servers" },
		{ "yubikey_client_id = 1\n",
		    "yubikey_client_id and yubikey_api_key_file need "
		    "yubikey_validation" },
		{ "yubikey_validation = https://a/\nyubikey_client_id = 1 2\n",
		    "awsmfa.conf:2: yubikey_client_id: not a valid client id" },
		{ "yubikey_validation = https://a/\nyubikey_client_id = 1\n"
		  "yubikey_api_key_file = key\n",
		    "must be an absolute path" },
		{ "yubikey_timeout = 0\n",
		    "yubikey_timeout must be a whole "
		    "number from 1 to 60" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_cfg(bad[i].text, &c) != 0, "bad config %zu refused",
		    i);
		ok(logcap_has(bad[i].msg), "message: %s", bad[i].msg);
	}
}

static void
user_lines(struct amfa_config *cfg)
{
	struct amfa_user u;
	struct amfa_config online;

	ok(parse_user(cfg,
	       "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX
	       "\nyubikey = " PUBID2 ":" KEY_HEX ":" UID_HEX "\n",
	       &u) == 0,
	    "YubiKey-only user with two tokens");
	is_int(u.nyubikeys, 2, "two tokens");
	is_str(u.yubikeys[1].public_id, PUBID2, "second public id");
	ok(memcmp(u.yubikeys[0].aes_key, key1, 16) == 0, "key decoded");
	ok(!u.yubikeys[0].id_only, "keyed");
	ok(u.totp_key == NULL, "no seed");
	amfa_user_free(&u);
	ok(u.yubikeys == NULL && u.nyubikeys == 0, "tokens freed");

	ok(parse_user(cfg,
	       "iam_user = alice\ntotp_secret = " SEED_B32 "\n"
	       "yubikey = " PUBID ":" KEY_HEX ":" UID_HEX "\n",
	       &u) == 0,
	    "seed and YubiKey");
	ok(u.totp_key != NULL && u.nyubikeys == 1, "both kept");
	amfa_user_free(&u);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "iam_user = alice\n",
		    "alice.conf: totp_secret is required "
		    "with verify = local, unless the user has a yubikey line" },
		{ "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX "0:" UID_HEX
		  "\n",
		    "alice.conf:2: yubikey: AES key must be 32 "
		    "hexadecimal digits" },
		{ "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX
		  "\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX "\n",
		    "alice.conf:3: yubikey: public id " PUBID " given twice" },
		{ "iam_user = alice\nyubikey = " PUBID "\n",
		    "yubikey " PUBID
		    " has no AES key, so only a validation server can check "
		    "it, and yubikey_validation is not set" },
		{ "iam_user = alice\nyubikey = " PUBID "x\n",
		    "alice.conf:2: yubikey: public id must be 2 to 32 modhex" },
		{ "iam_user = alice\nverify = local+sts\naccess_key_id = "
		  "AKIAAAAAAAAAAAAAAAAA\nsecret_access_key = "
		  "abcdefghijklmnopqrstuvwxyz\nmfa_serial = "
		  "arn:aws:iam::123456789012:mfa/alice\nyubikey = " PUBID
		  ":" KEY_HEX ":" UID_HEX "\n",
		    "totp_secret is required with verify = local+sts" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_user(cfg, bad[i].text, &u) != 0,
		    "bad user %zu "
		    "refused",
		    i);
		ok(logcap_has(bad[i].msg), "message: %s", bad[i].msg);
		ok(!logcap_has(KEY_HEX) && !logcap_has(UID_HEX),
		    "no key or private id in the message");
	}
	char many[4096] = "iam_user = alice\n";
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "yubikey = cccccccccc%c%c:" KEY_HEX ":" UID_HEX "\n",
		    "cbdefghijklnrtuv"[i / 16], "cbdefghijklnrtuv"[i % 16]);
	ok(parse_user(cfg, many, &u) != 0, "17 tokens refused");
	ok(logcap_has("alice.conf:18: at most 16 yubikey lines"),
	    "17th line named");

	ok(parse_cfg("yubikey_validation = https://api.example/verify\n"
		     "yubikey_client_id = 1\n",
	       &online) == 0,
	    "online config");
	ok(parse_user(&online, "iam_user = alice\nyubikey = " PUBID "\n", &u) ==
		0,
	    "public id alone with validation servers");
	ok(u.nyubikeys == 1 && u.yubikeys[0].id_only, "id only");
	amfa_user_free(&u);
	amfa_config_free(&online);
}

static enum amfa_auth_result
yk(const struct amfa_config *cfg, const struct amfa_user *u, const char *otp,
    struct amfa_yk_outcome *out)
{
	logcap_start();
	return amfa_auth_yubikey(cfg, u, otp, now, getuid(), out);
}

static void
offline(struct amfa_config *cfg)
{
	struct amfa_user u;
	struct amfa_state st;
	const struct amfa_token_counter *t;
	char otp[80], bad[80];

	reset_state();
	parse_user(cfg,
	    "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX "\n",
	    &u);
	snprintf(otp, sizeof(otp), "%s", otp1(5, 3));
	is_int(yk(cfg, &u, otp, NULL), AMFA_AUTH_OK, "good OTP");
	ok(logcap_has("YubiKey " PUBID ": OTP accepted (counters 5/3)"),
	    "acceptance logged with public id and counters");
	ok(!logcap_has(otp + strlen(PUBID)), "the OTP is not logged");
	read_state(cfg, &st);
	t = counter(&st, PUBID);
	ok(t != NULL && t->session == 5 && t->use == 3, "counters stored");

	is_int(yk(cfg, &u, otp, NULL), AMFA_AUTH_REPLAY, "same OTP again");
	ok(logcap_has("OTP already used (counters 5/3)"), "replay logged");
	is_int(yk(cfg, &u, otp1(5, 2), NULL), AMFA_AUTH_REPLAY,
	    "lower use counter");
	ok(logcap_has("counters went backwards (5/2, last accepted 5/3): an "
		      "old OTP replayed, or a cloned token"),
	    "backwards logged");
	is_int(yk(cfg, &u, otp1(4, 255), NULL), AMFA_AUTH_REPLAY,
	    "lower session counter");
	read_state(cfg, &st);
	is_int(st.failures, 3, "each a failure");
	t = counter(&st, PUBID);
	ok(t != NULL && t->session == 5 && t->use == 3, "counters unchanged");
	is_int(yk(cfg, &u, otp1(5, 4), NULL), AMFA_AUTH_OK, "next use");
	is_int(yk(cfg, &u, otp1(6, 0), NULL), AMFA_AUTH_OK, "next session");
	is_int(yk(cfg, &u, otp1(0x7fff, 0xff), NULL), AMFA_AUTH_OK,
	    "highest counters");
	is_int(yk(cfg, &u, otp1(0x7fff, 0xff), NULL), AMFA_AUTH_REPLAY,
	    "and nothing after them");

	snprintf(bad, sizeof(bad), "%s", otp1(0x7fff, 0xff));
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'c' ? 'b' : 'c';
	is_int(yk(cfg, &u, bad, NULL), AMFA_AUTH_BAD_CODE, "bad CRC");
	ok(logcap_has("YubiKey " PUBID ": OTP does not decrypt"), "CRC logged");
	is_int(yk(cfg, &u,
		   make_otp(PUBID, key1, (const unsigned char *)"\1\2\3\4\5\6",
		       9, 0),
		   NULL),
	    AMFA_AUTH_BAD_CODE, "another private id");
	ok(logcap_has("private id differs"), "private id logged");
	is_int(yk(cfg, &u, make_otp(PUBID2, key1, uid1, 9, 0), NULL),
	    AMFA_AUTH_BAD_CODE, "another public id");
	ok(logcap_has("OTP of a YubiKey not enrolled for this user"),
	    "unknown token logged");
	ok(!logcap_has(PUBID2), "an unknown public id is not logged");
	is_int(yk(cfg, &u, "123456", NULL), AMFA_AUTH_BAD_CODE,
	    "digits are not an OTP");
	amfa_user_free(&u);
}

/* A full counter table: slots of tokens no longer enrolled are reused. */
static void
state_table(struct amfa_config *cfg)
{
	struct amfa_state_handle h;
	struct amfa_state st;
	struct amfa_user u;
	char text[512], id[40];

	reset_state();
	amfa_state_open(cfg, "alice", getuid(), &h, &st);
	for (int i = 0; i < AMFA_STATE_MAX_TOKENS; i++) {
		snprintf(st.tokens[i].public_id, sizeof(st.tokens[i].public_id),
		    "dddddddddd%c%c", "cbdefghijklnrtuv"[i / 16],
		    "cbdefghijklnrtuv"[i % 16]);
		st.tokens[i].session = 100;
	}
	st.ntokens = AMFA_STATE_MAX_TOKENS;
	ok(amfa_state_commit(&h, &st) == 0, "16 stale counters written");
	amfa_state_close(&h);
	parse_user(cfg,
	    "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX "\n",
	    &u);
	is_int(yk(cfg, &u, otp1(1, 0), NULL), AMFA_AUTH_OK,
	    "a stale slot is reused");
	read_state(cfg, &st);
	is_int(st.ntokens, AMFA_STATE_MAX_TOKENS, "still 16 slots");
	ok(counter(&st, PUBID) != NULL, "the token has one");
	amfa_user_free(&u);

	/* A token that has a slot keeps its floor. */
	snprintf(text, sizeof(text),
	    "iam_user = alice\nyubikey = %s:" KEY_HEX ":" UID_HEX "\n",
	    st.tokens[3].public_id);
	ok(parse_user(cfg, text, &u) == 0, "a token with a stale slot");
	snprintf(id, sizeof(id), "%s", u.yubikeys[0].public_id);
	is_int(yk(cfg, &u, make_otp(id, key1, uid1, 1, 0), NULL),
	    AMFA_AUTH_REPLAY, "its floor of session 100 applies");
	is_int(yk(cfg, &u, make_otp(id, key1, uid1, 101, 0), NULL),
	    AMFA_AUTH_OK, "above it: accepted");
	read_state(cfg, &st);
	is_int(st.ntokens, AMFA_STATE_MAX_TOKENS, "no new slot");
	ok(counter(&st, id) != NULL && counter(&st, id)->session == 101,
	    "its slot updated");
	amfa_user_free(&u);
}

static void
online(struct amfa_config *base)
{
	struct amfa_config cfg;
	struct amfa_user u;
	struct amfa_state st;
	struct amfa_yk_outcome out;
	char text[1024], keyfile[256];

	snprintf(keyfile, sizeof(keyfile), "%s/ykval.key", dir);
	write_file(keyfile, "c2VjcmV0a2V5c2VjcmV0a2V5\n", 0600);
	snprintf(text, sizeof(text),
	    "state_dir = %s\nyubikey_validation = "
	    "http://127.0.0.1:%d/wsapi/2.0/verify\nyubikey_client_id = 1\n"
	    "yubikey_api_key_file = %s\nyubikey_timeout = 2\n",
	    base->state_dir, closed_port(), keyfile);
	ok(parse_cfg(text, &cfg) == 0, "online config to a closed port");
	reset_state();
	ok(parse_user(&cfg,
	       "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX
	       "\nyubikey = " PUBID2 "\n",
	       &u) == 0,
	    "keyed and id-only token");

	is_int(yk(&cfg, &u, otp1(1, 0), &out), AMFA_AUTH_UNAVAILABLE,
	    "keyed, servers down, failmode secure: unavailable");
	ok(logcap_has("no server gave a usable answer"), "logged");
	read_state(&cfg, &st);
	ok(counter(&st, PUBID) == NULL && st.failures == 0,
	    "nothing committed");
	is_int(yk(&cfg, &u, otp1(1, 0), &out), AMFA_AUTH_UNAVAILABLE,
	    "so the same OTP is still good later");

	cfg.failmode = AMFA_FAIL_SAFE;
	is_int(yk(&cfg, &u, otp1(1, 0), &out), AMFA_AUTH_OK,
	    "failmode safe: the local check carries");
	is_int(out.unverified_online, 1, "and the outcome says so");
	ok(logcap_has("failmode = safe: accepted on the local check alone"),
	    "logged");
	is_int(yk(&cfg, &u, otp1(1, 0), &out), AMFA_AUTH_REPLAY,
	    "the local floor still refuses a replay");
	is_int(yk(&cfg, &u, make_otp(PUBID2, key1, uid1, 1, 0), &out),
	    AMFA_AUTH_UNAVAILABLE, "an id-only token has no local check");
	is_int(out.unverified_online, 0, "not accepted");

	chmod(keyfile, 0644);
	is_int(yk(&cfg, &u, otp1(2, 0), &out), AMFA_AUTH_ERROR,
	    "a readable API key file is refused");
	ok(logcap_has("ykval.key") && logcap_has("the API key is unusable"),
	    "naming the file");
	write_file(keyfile, "two words\n", 0600);
	is_int(yk(&cfg, &u, otp1(2, 0), &out), AMFA_AUTH_ERROR,
	    "a malformed key file is refused");
	ok(!logcap_has("two words"), "its content is not logged");
	unlink(keyfile);
	is_int(yk(&cfg, &u, otp1(2, 0), &out), AMFA_AUTH_ERROR,
	    "a missing key file is refused");
	ok(logcap_has("no such file (yubikey_api_key_file)"), "logged");
	read_state(&cfg, &st);
	ok(counter(&st, PUBID)->session == 1, "errors commit nothing");
	amfa_user_free(&u);
	amfa_config_free(&cfg);
}

static void
dispatch(struct amfa_config *cfg)
{
	struct amfa_login l;
	struct amfa_user u;
	struct amfa_state st;
	struct amfa_totp_params p;
	char code[16];

	reset_state();
	parse_user(cfg,
	    "iam_user = alice\ntotp_secret = " SEED_B32 "\n"
	    "yubikey = " PUBID ":" KEY_HEX ":" UID_HEX "\n",
	    &u);
	amfa_user_totp(&u, &p);
	amfa_hotp(&p, (uint64_t)(now / 30), code, sizeof(code));

	logcap_start();
	amfa_login_run(cfg, &u, code, now, getuid(), &l);
	is_int(l.result, AMFA_AUTH_OK, "digits: TOTP");
	amfa_login_free(&l);
	logcap_start();
	amfa_login_run(cfg, &u, otp1(1, 0), now, getuid(), &l);
	is_int(l.result, AMFA_AUTH_OK, "OTP: YubiKey, at the same prompt");
	ok(logcap_has("OTP accepted"), "by the YubiKey verifier");
	amfa_login_free(&l);
	logcap_start();
	amfa_login_run(cfg, &u, "hello world", now, getuid(), &l);
	is_int(l.result, AMFA_AUTH_BAD_CODE, "anything else refused");
	ok(logcap_has("input is neither a TOTP code nor a YubiKey OTP"),
	    "and says why");
	amfa_login_free(&l);
	read_state(cfg, &st);
	is_int(st.failures, 1, "a failure counted");
	is_int(st.last_step, now / 30, "the TOTP step kept");
	ok(counter(&st, PUBID)->session == 1, "the counters kept");
	amfa_user_free(&u);

	/* YubiKey-only user typing digits. */
	parse_user(cfg,
	    "iam_user = alice\nyubikey = " PUBID ":" KEY_HEX ":" UID_HEX "\n",
	    &u);
	logcap_start();
	amfa_login_run(cfg, &u, "123456", now, getuid(), &l);
	is_int(l.result, AMFA_AUTH_BAD_CODE, "digits without a seed refused");
	ok(logcap_has("digits, but no TOTP seed is enrolled"), "says why");
	amfa_login_free(&l);
	amfa_user_free(&u);

	/* local+sts: a YubiKey OTP cannot get credentials. */
	static const char sts_user[] =
	    "iam_user = alice\nverify = local+sts\n"
	    "totp_secret = " SEED_B32 "\naccess_key_id = AKIAAAAAAAAAAAAAAAAA\n"
	    "secret_access_key = abcdefghijklmnopqrstuvwxyz\nmfa_serial = "
	    "arn:aws:iam::123456789012:mfa/alice\nyubikey = " PUBID ":" KEY_HEX
	    ":" UID_HEX "\n";
	ok(parse_user(cfg, sts_user, &u) == 0, "local+sts user with a YubiKey");
	logcap_start();
	amfa_login_run(cfg, &u, otp1(2, 0), now, getuid(), &l);
	is_int(l.result, AMFA_AUTH_BAD_CODE, "failmode secure: refused");
	ok(logcap_has("a YubiKey OTP cannot get AWS credentials"), "says why");
	amfa_login_free(&l);
	read_state(cfg, &st);
	ok(counter(&st, PUBID)->session == 1, "the OTP was not spent");
	cfg->failmode = AMFA_FAIL_SAFE;
	logcap_start();
	amfa_login_run(cfg, &u, otp1(2, 0), now, getuid(), &l);
	is_int(l.result, AMFA_AUTH_OK, "failmode safe: in");
	ok(l.degraded && !l.have_session, "without credentials");
	ok(l.notice != NULL && strstr(l.notice, "YubiKey accepted") != NULL,
	    "with a notice for the user");
	amfa_login_free(&l);
	cfg->failmode = AMFA_FAIL_SECURE;
	amfa_user_free(&u);
}

int
main(void)
{
	struct amfa_config cfg;
	char text[512];

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(text, sizeof(text),
	    "state_dir = %s/state\n"
	    "lockout_attempts = 1000\n",
	    dir);
	ok(parse_cfg(text, &cfg) == 0, "base config");

	config_keys();
	user_lines(&cfg);
	offline(&cfg);
	state_table(&cfg);
	online(&cfg);
	dispatch(&cfg);

	amfa_config_free(&cfg);
	snprintf(text, sizeof(text), "rm -rf %s", dir);
	(void)!system(text);
	return tap_done();
}
