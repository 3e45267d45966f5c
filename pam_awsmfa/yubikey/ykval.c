/* Yubico validation protocol 2.0 client; see ykval.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aws/http.h"
#include "hex.h"
#include "log.h"
#include "secure_file.h"
#include "ykotp.h"
#include "ykval.h"

#define SHA1_LEN    20
#define SIG_B64_LEN 28 /* base64 of 20 bytes */
#define NONCE_BYTES 16 /* 32 hex characters */
#define MAX_KEYNAME 32
#define MAX_VALUE   512

struct pair {
	const char *k;
	const char *v;
};

struct answer {
	struct pair p[AMFA_YKVAL_MAX_LINES];
	int n;
};

/* What a server's status means to us. */
enum action { ACT_DONE, ACT_NEXT };

static const struct status_info {
	const char *name;
	enum amfa_ykval_result result;
	enum action action;
	int prio;
	const char *reason;
} statuses[] = {
	{ "OK", AMFA_YKVAL_OK, ACT_DONE, LOG_DEBUG, "OTP valid (OK)" },
	{ "BAD_OTP", AMFA_YKVAL_BAD_OTP, ACT_DONE, LOG_NOTICE,
	    "the OTP is not valid (BAD_OTP): unknown, revoked or mistyped "
	    "YubiKey" },
	{ "REPLAYED_OTP", AMFA_YKVAL_REPLAYED, ACT_DONE, LOG_NOTICE,
	    "the OTP was already used (REPLAYED_OTP)" },
	{ "BAD_SIGNATURE", AMFA_YKVAL_REJECTED, ACT_DONE, LOG_ERR,
	    "the server refused our request signature (BAD_SIGNATURE): "
	    "check the API key" },
	{ "MISSING_PARAMETER", AMFA_YKVAL_REJECTED, ACT_DONE, LOG_ERR,
	    "the server says a parameter is missing or malformed "
	    "(MISSING_PARAMETER)" },
	{ "NO_SUCH_CLIENT", AMFA_YKVAL_REJECTED, ACT_DONE, LOG_ERR,
	    "the server does not know our client id (NO_SUCH_CLIENT): check "
	    "the client id" },
	{ "OPERATION_NOT_ALLOWED", AMFA_YKVAL_REJECTED, ACT_DONE, LOG_ERR,
	    "our client id may not verify OTPs (OPERATION_NOT_ALLOWED)" },
	{ "NOT_ENOUGH_ANSWERS", AMFA_YKVAL_REJECTED, ACT_DONE, LOG_WARNING,
	    "the server could not sync with enough peers "
	    "(NOT_ENOUGH_ANSWERS); the OTP is spent, try a new one" },
	{ "REPLAYED_REQUEST", AMFA_YKVAL_REJECTED, ACT_DONE, LOG_WARNING,
	    "the server has seen this OTP with this nonce before "
	    "(REPLAYED_REQUEST)" },
	{ "BACKEND_ERROR", AMFA_YKVAL_UNREACHABLE, ACT_NEXT, LOG_WARNING,
	    "server error (BACKEND_ERROR)" },
};

static const struct status_info unknown_status = { NULL, AMFA_YKVAL_REJECTED,
	ACT_DONE, LOG_ERR, "unknown status in a signed answer" };

const char *
amfa_ykval_result_str(enum amfa_ykval_result r)
{
	switch (r) {
	case AMFA_YKVAL_OK:
		return "ok";
	case AMFA_YKVAL_BAD_OTP:
		return "invalid OTP";
	case AMFA_YKVAL_REPLAYED:
		return "OTP already used";
	case AMFA_YKVAL_REJECTED:
		return "refused by the validation server";
	case AMFA_YKVAL_FORGED:
		return "validation answer failed verification";
	case AMFA_YKVAL_UNREACHABLE:
		return "no validation server answered";
	case AMFA_YKVAL_ERROR:
		return "internal error";
	}
	return "unknown";
}

/* The URL as logs show it: no user info, no query. */
static void
shown_url(const char *url, char *out, size_t outlen)
{
	const char *host = strstr(url, "://"), *at, *slash;
	size_t n;

	if (host != NULL) {
		host += 3;
		slash = host + strcspn(host, "/?#");
		at = memchr(host, '@', (size_t)(slash - host));
		if (at != NULL) {
			snprintf(out, outlen, "%.*s%.*s", (int)(host - url),
			    url, (int)strcspn(at + 1, "?#"), at + 1);
			return;
		}
	}
	n = strcspn(url, "?#");
	snprintf(out, outlen, "%.*s", (int)n, url);
}

static int
client_id_ok(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return 0;
	for (; id[n] != '\0'; n++) {
		if (strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789._-",
			id[n]) == NULL)
			return 0;
	}
	return n >= 1 && n <= 64;
}

/* Strict RFC 4648 base64 with padding.  Returns the length or -1. */
static long
b64_decode(const char *in, unsigned char *out, size_t outmax)
{
	size_t len = strlen(in), pad = 0;
	int n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > outmax ||
	    len > (size_t)0x7fffffff)
		return -1;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++) {
		if (strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789+/",
			in[i]) == NULL)
			return -1;
	}
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) <
		0 ||
	    (size_t)n < pad)
		return -1;
	return (long)((size_t)n - pad);
}

static int
pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->k, ((const struct pair *)b)->k);
}

/*
 * The base64 HMAC-SHA1, keyed with `key', of the pairs sorted by key and
 * joined "k=v&k=v", skipping a pair named "h".  `out' has
 * SIG_B64_LEN + 1 bytes.  Returns 0 or -1.
 */
static int
sign_pairs(const unsigned char *key, size_t keylen, const struct pair *in,
    int n, char *out)
{
	struct pair sorted[AMFA_YKVAL_MAX_LINES];
	unsigned char mac[SHA1_LEN];
	char *msg = NULL;
	size_t len = 0, off = 0, maclen = 0;
	int m = 0, rc = -1;

	for (int i = 0; i < n && m < AMFA_YKVAL_MAX_LINES; i++) {
		if (strcmp(in[i].k, "h") == 0)
			continue;
		sorted[m++] = in[i];
		len += strlen(in[i].k) + strlen(in[i].v) + 2;
	}
	qsort(sorted, (size_t)m, sizeof(sorted[0]), pair_cmp);
	if ((msg = malloc(len + 1)) == NULL)
		return -1;
	msg[0] = '\0';
	for (int i = 0; i < m; i++)
		off += (size_t)snprintf(msg + off, len + 1 - off, "%s%s=%s",
		    i ? "&" : "", sorted[i].k, sorted[i].v);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, keylen,
		(const unsigned char *)msg, off, mac, sizeof(mac),
		&maclen) == NULL ||
	    maclen != SHA1_LEN)
		goto out;
	if (EVP_EncodeBlock((unsigned char *)out, mac, SHA1_LEN) != SIG_B64_LEN)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	amfa_wipe_free(msg, len + 1);
	return rc;
}

/* Append `s' percent-encoded (RFC 3986 unreserved characters kept). */
static int
url_encode(char *out, size_t outlen, size_t *off, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (*off + 4 > outlen)
			return -1;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[(*off)++] = (char)c;
		} else {
			out[(*off)++] = '%';
			out[(*off)++] = hex[c >> 4];
			out[(*off)++] = hex[c & 15];
		}
	}
	out[*off] = '\0';
	return 0;
}

/* The query "id=..&nonce=..&otp=..[&h=..]" into `out'.  0 or -1. */
static int
build_query(const struct pair *req, int n, const char *sig, char *out,
    size_t outlen)
{
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (off + strlen(req[i].k) + 3 > outlen)
			return -1;
		off += (size_t)snprintf(out + off, outlen - off,
		    "%s%s=", i ? "&" : "", req[i].k);
		if (url_encode(out, outlen, &off, req[i].v) != 0)
			return -1;
	}
	if (sig != NULL) {
		if (off + 3 > outlen)
			return -1;
		off += (size_t)snprintf(out + off, outlen - off, "&h=");
		if (url_encode(out, outlen, &off, sig) != 0)
			return -1;
	}
	return 0;
}

static int
key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n < 1 || n > MAX_KEYNAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (k[i] < 'a' || k[i] > 'z')
			return 0;
	}
	return 1;
}

static int
value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n > MAX_VALUE)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return 0;
	}
	return 1;
}

/*
 * Split `body' (modified in place) into key=value lines.  Returns 0, or -1
 * with *why set.
 */
static int
parse_answer(char *body, size_t len, struct answer *a, const char **why)
{
	char *line, *next, *eq, *end;

	a->n = 0;
	if (strlen(body) != len) {
		*why = "NUL byte in the answer";
		return -1;
	}
	for (line = body; *line != '\0'; line = next) {
		if ((end = strchr(line, '\n')) != NULL) {
			*end = '\0';
			next = end + 1;
		} else {
			end = line + strlen(line);
			next = end;
		}
		if (end > line && end[-1] == '\r')
			*--end = '\0';
		if (*line == '\0')
			continue;
		if (a->n >= AMFA_YKVAL_MAX_LINES) {
			*why = "too many lines";
			return -1;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			*why = "a line is not key=value";
			return -1;
		}
		*eq = '\0';
		if (!key_ok(line) || !value_ok(eq + 1)) {
			*why = "a line has an odd key or value";
			return -1;
		}
		for (int i = 0; i < a->n; i++) {
			if (strcmp(a->p[i].k, line) == 0) {
				*why = "a key appears twice";
				return -1;
			}
		}
		a->p[a->n].k = line;
		a->p[a->n].v = eq + 1;
		a->n++;
	}
	if (a->n == 0) {
		*why = "empty answer";
		return -1;
	}
	return 0;
}

static const char *
answer_get(const struct answer *a, const char *k)
{
	for (int i = 0; i < a->n; i++) {
		if (strcmp(a->p[i].k, k) == 0)
			return a->p[i].v;
	}
	return NULL;
}

static const struct status_info *
status_lookup(const char *s)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		if (strcmp(statuses[i].name, s) == 0)
			return &statuses[i];
	}
	return &unknown_status;
}

/* A status word fit for a log line, or a placeholder. */
static const char *
status_shown(const char *s)
{
	size_t n;

	if (s == NULL)
		return "(none)";
	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
	return n >= 1 && n <= 32 && s[n] == '\0' ? s : "(not a status word)";
}

struct call {
	const struct amfa_ykval_config *c;
	const unsigned char *key; /* NULL: unsigned */
	size_t keylen;
	const char *otp; /* canonical */
	const char *nonce;
	int sent_before; /* an earlier server
							 * got the OTP */
};

/*
 * Judge one server's answer.  Returns ACT_DONE with *res set, or ACT_NEXT.
 */
static enum action
judge(const struct call *k, const char *shown, char *body, size_t len,
    enum amfa_ykval_result *res)
{
	char want[SIG_B64_LEN + 1];
	const struct status_info *si;
	const char *why, *h, *status, *v, *what = NULL;
	struct answer a;

	if (parse_answer(body, len, &a, &why) != 0) {
		amfa_log(LOG_WARNING,
		    "YubiKey validation at %s: malformed "
		    "answer (%s); trying the next server",
		    shown, why);
		return ACT_NEXT;
	}
	status = answer_get(&a, "status");
	if (k->key != NULL) {
		if ((h = answer_get(&a, "h")) == NULL) {
			amfa_log(LOG_ERR,
			    "YubiKey validation at %s: the "
			    "answer is not signed (it claims status %s; not "
			    "trusted)",
			    shown, status_shown(status));
			*res = AMFA_YKVAL_FORGED;
			return ACT_DONE;
		}
		if (sign_pairs(k->key, k->keylen, a.p, a.n, want) != 0) {
			amfa_log(LOG_ERR, "YubiKey validation: HMAC failed");
			*res = AMFA_YKVAL_ERROR;
			return ACT_DONE;
		}
		if (strlen(h) != SIG_B64_LEN ||
		    CRYPTO_memcmp(h, want, SIG_B64_LEN) != 0) {
			amfa_log(LOG_ERR,
			    "YubiKey validation at %s: the "
			    "answer's signature is wrong (it claims status "
			    "%s; not trusted): tampering, or the wrong API "
			    "key or client id",
			    shown, status_shown(status));
			*res = AMFA_YKVAL_FORGED;
			return ACT_DONE;
		}
	}
	if ((v = answer_get(&a, "otp")) != NULL && strcmp(v, k->otp) != 0)
		what = "OTP";
	else if ((v = answer_get(&a, "nonce")) != NULL &&
	    strcmp(v, k->nonce) != 0)
		what = "nonce";
	if (what != NULL) {
		amfa_log(LOG_ERR,
		    "YubiKey validation at %s: the answer "
		    "echoes another %s than ours (it claims status %s; not "
		    "trusted)",
		    shown, what, status_shown(status));
		*res = AMFA_YKVAL_FORGED;
		return ACT_DONE;
	}
	if (status == NULL) {
		amfa_log(LOG_WARNING,
		    "YubiKey validation at %s: malformed "
		    "answer (no status); trying the next server",
		    shown);
		return ACT_NEXT;
	}
	si = status_lookup(status);
	if (si->result == AMFA_YKVAL_OK &&
	    (answer_get(&a, "otp") == NULL ||
		answer_get(&a, "nonce") == NULL)) {
		amfa_log(LOG_ERR,
		    "YubiKey validation at %s: status OK "
		    "without our OTP and nonce echoed; not trusted",
		    shown);
		*res = AMFA_YKVAL_FORGED;
		return ACT_DONE;
	}
	if (si->action == ACT_NEXT) {
		amfa_log(si->prio,
		    "YubiKey validation at %s: %s; trying the "
		    "next server",
		    shown, si->reason);
		return ACT_NEXT;
	}
	if (si == &unknown_status)
		amfa_log(si->prio, "YubiKey validation at %s: %s (%s)", shown,
		    si->reason, status_shown(status));
	else if (si->prio == LOG_DEBUG)
		amfa_debug("YubiKey validation at %s: %s", shown, si->reason);
	else
		amfa_log(si->prio, "YubiKey validation at %s: %s%s", shown,
		    si->reason,
		    si->result == AMFA_YKVAL_REPLAYED && k->sent_before ?
			" (an earlier server that did not "
			"answer may have used it)" :
			"");
	*res = si->result;
	return ACT_DONE;
}

/* Ask one server.  ACT_DONE with *res, or ACT_NEXT. */
static enum action
ask(struct call *k, const char *url, const char *query,
    enum amfa_ykval_result *res)
{
	struct amfa_http_request req;
	struct amfa_http_response resp;
	char shown[512], *full;
	size_t fulllen;
	enum action act = ACT_NEXT;

	shown_url(url, shown, sizeof(shown));
	if (k->key == NULL && strncmp(url, "http://", 7) == 0)
		amfa_log(LOG_WARNING,
		    "YubiKey validation at %s: no API key "
		    "and no TLS, so the answer is not authenticated",
		    shown);
	fulllen = strlen(url) + strlen(query) + 2;
	if ((full = malloc(fulllen)) == NULL) {
		*res = AMFA_YKVAL_ERROR;
		return ACT_DONE;
	}
	snprintf(full, fulllen, "%s%c%s", url,
	    strchr(url, '?') != NULL ? '&' : '?', query);
	memset(&req, 0, sizeof(req));
	req.url = full;
	req.method = "GET";
	req.ca_file = k->c->ca_file;
	req.connect_timeout_ms = k->c->timeout_ms;
	req.total_timeout_ms = k->c->timeout_ms;
	req.max_response = AMFA_YKVAL_MAX_RESPONSE;
	amfa_http_perform(&req, &resp);
	amfa_wipe_free(full, fulllen);
	if (resp.error != AMFA_HTTP_OK) {
		amfa_log(LOG_WARNING,
		    "YubiKey validation at %s: %s (%s); "
		    "trying the next server",
		    shown, amfa_http_error_str(resp.error), resp.detail);
		if (resp.request_sent)
			k->sent_before = 1;
	} else if (resp.status != 200) {
		amfa_log(LOG_WARNING,
		    "YubiKey validation at %s: HTTP status "
		    "%ld; trying the next server",
		    shown, resp.status);
		k->sent_before = 1;
	} else {
		act = judge(k, shown, resp.body, resp.body_len, res);
		k->sent_before = 1;
	}
	amfa_http_response_free(&resp);
	return act;
}

enum amfa_ykval_result
amfa_ykval_verify(const struct amfa_ykval_config *c, const char *otp)
{
	unsigned char key[AMFA_YKVAL_MAX_KEY + 3], raw[NONCE_BYTES];
	char canon[AMFA_YK_OTP_MAX + 1], nonce[2 * NONCE_BYTES + 1];
	char sig[SIG_B64_LEN + 1], query[1024];
	enum amfa_ykval_result res = AMFA_YKVAL_ERROR;
	struct pair req[3];
	struct call k;
	long keylen;

	memset(&k, 0, sizeof(k));
	k.c = c;
	if (c->urls == NULL || c->urls[0] == NULL ||
	    !client_id_ok(c->client_id) || c->timeout_ms <= 0) {
		amfa_log(LOG_ERR,
		    "YubiKey validation: bad configuration "
		    "(servers, client id or timeout)");
		return AMFA_YKVAL_ERROR;
	}
	if (amfa_yk_otp_normalize(otp, canon, sizeof(canon)) < 0) {
		amfa_log(LOG_NOTICE, "YubiKey validation: not a YubiKey OTP");
		return AMFA_YKVAL_BAD_OTP;
	}
	if (c->api_key_b64 != NULL && c->api_key_b64[0] != '\0') {
		keylen = b64_decode(c->api_key_b64, key, sizeof(key));
		if (keylen < 1 || keylen > AMFA_YKVAL_MAX_KEY) {
			amfa_log(LOG_ERR,
			    "YubiKey validation: the API key is "
			    "not base64 of 1 to %d bytes",
			    AMFA_YKVAL_MAX_KEY);
			goto out;
		}
		k.key = key;
		k.keylen = (size_t)keylen;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		amfa_log(LOG_ERR, "YubiKey validation: no random nonce");
		goto out;
	}
	amfa_hex(raw, sizeof(raw), nonce);
	k.otp = canon;
	k.nonce = nonce;
	/* Sorted by key, as the signature wants them. */
	req[0] = (struct pair){ "id", c->client_id };
	req[1] = (struct pair){ "nonce", nonce };
	req[2] = (struct pair){ "otp", canon };
	if (k.key != NULL && sign_pairs(k.key, k.keylen, req, 3, sig) != 0) {
		amfa_log(LOG_ERR, "YubiKey validation: HMAC failed");
		goto out;
	}
	if (build_query(req, 3, k.key != NULL ? sig : NULL, query,
		sizeof(query)) != 0) {
		amfa_log(LOG_ERR, "YubiKey validation: request too long");
		goto out;
	}
	res = AMFA_YKVAL_UNREACHABLE;
	for (const char *const *u = c->urls; *u != NULL; u++) {
		if (ask(&k, *u, query, &res) == ACT_DONE)
			goto out;
	}
	res = AMFA_YKVAL_UNREACHABLE;
	amfa_log(LOG_ERR,
	    "YubiKey validation: no server gave a usable "
	    "answer");
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(canon, sizeof(canon));
	OPENSSL_cleanse(query, sizeof(query));
	return res;
}
