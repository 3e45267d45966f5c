/* AWS Signature Version 4; see sigv4.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hex.h"
#include "sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* A growing string; `bad' sticks once an allocation failed. */
struct buf {
	char *p;
	size_t len, cap;
	int bad;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	size_t ncap;
	char *np;

	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->bad = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static char *
buf_done(struct buf *b)
{
	if (b->bad || b->p == NULL) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

/* ASCII by hand: isalnum() follows the host program's locale. */
static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
encode_into(struct buf *b, const char *in, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3];

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			buf_add(b, (const char *)&in[i], 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		buf_add(b, esc, 3);
	}
}

char *
amfa_sigv4_uri_encode(const char *in, size_t len, int keep_slash)
{
	struct buf b = { 0 };

	encode_into(&b, in, len, keep_slash);
	buf_add(&b, "", 0);
	return buf_done(&b);
}

/* Decode %XX escapes of a query component (no '+' rule: SigV4 has none). */
static char *
uri_decode(const char *in, size_t len, size_t *outlen)
{
	char *out;
	size_t n = 0;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%' && i + 2 < len &&
		    hexval((unsigned char)in[i + 1]) >= 0 &&
		    hexval((unsigned char)in[i + 2]) >= 0) {
			out[n++] = (char)(hexval((unsigned char)in[i + 1]) *
				16 +
			    hexval((unsigned char)in[i + 2]));
			i += 2;
		} else {
			out[n++] = in[i];
		}
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

/*
 * The canonical URI: with normalisation, "." and ".." segments resolved
 * and empty segments dropped (a trailing slash kept); then every segment
 * percent-encoded once more, as AWS does for all services but S3.
 */
static void
canonical_uri(struct buf *b, const char *path, int normalize)
{
	const char *seg[256];
	size_t segl[256], nseg = 0, plen = strlen(path), i = 0;
	int trailing;

	if (plen == 0) {
		buf_str(b, "/");
		return;
	}
	if (!normalize) {
		encode_into(b, path, plen, 1);
		return;
	}
	trailing = path[plen - 1] == '/';
	while (i < plen) {
		size_t j = i;

		while (j < plen && path[j] != '/')
			j++;
		if (j - i == 0 || (j - i == 1 && path[i] == '.')) {
			/* empty or ".": nothing */
		} else if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg > 0)
				nseg--;
		} else if (nseg < sizeof(seg) / sizeof(seg[0])) {
			seg[nseg] = path + i;
			segl[nseg++] = j - i;
		} else {
			b->bad = 1;
			return;
		}
		i = j + 1;
	}
	/* "/a/.." and "/a/." end in a directory too. */
	if (plen >= 2 && path[plen - 1] == '.' &&
	    (path[plen - 2] == '/' ||
		(path[plen - 2] == '.' && plen >= 3 && path[plen - 3] == '/')))
		trailing = 1;
	buf_str(b, "/");
	for (i = 0; i < nseg; i++) {
		encode_into(b, seg[i], segl[i], 0);
		if (i + 1 < nseg || trailing)
			buf_str(b, "/");
	}
}

struct qparam {
	char *key; /* encoded */
	char *val; /* encoded */
};

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->val, y->val);
}

static char *
reencode(const char *s, size_t len)
{
	size_t dlen;
	char *dec, *enc;

	if ((dec = uri_decode(s, len, &dlen)) == NULL)
		return NULL;
	enc = amfa_sigv4_uri_encode(dec, dlen, 0);
	free(dec);
	return enc;
}

/* Canonical query: each key and value decoded and encoded anew, sorted. */
static void
canonical_query(struct buf *b, const char *query)
{
	struct qparam *ps = NULL;
	size_t n = 0, cap = 0, qlen;
	const char *p, *end, *eq;

	if (query == NULL || *query == '\0')
		return;
	qlen = strlen(query);
	for (p = query; p < query + qlen; p = end + 1) {
		if ((end = strchr(p, '&')) == NULL)
			end = query + qlen;
		if (end == p)
			continue;
		if (n == cap) {
			struct qparam *np;

			cap = cap ? cap * 2 : 8;
			if ((np = realloc(ps, cap * sizeof(*ps))) == NULL) {
				b->bad = 1;
				goto out;
			}
			ps = np;
		}
		eq = memchr(p, '=', (size_t)(end - p));
		ps[n].key = reencode(p, (size_t)((eq ? eq : end) - p));
		ps[n].val = eq ? reencode(eq + 1, (size_t)(end - eq - 1)) :
				 strdup("");
		if (ps[n].key == NULL || ps[n].val == NULL) {
			free(ps[n].key);
			free(ps[n].val);
			b->bad = 1;
			goto out;
		}
		n++;
	}
	if (n > 0)
		qsort(ps, n, sizeof(*ps), qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_str(b, "&");
		buf_str(b, ps[i].key);
		buf_str(b, "=");
		buf_str(b, ps[i].val);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(ps[i].key);
		free(ps[i].val);
	}
	free(ps);
}

/* A header with its lower-cased name and folded value, for sorting. */
struct chdr {
	char *name;
	char *value;
	size_t order;
};

static int
chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Trim, and fold every run of white space (also line breaks) to one space. */
static char *
fold_value(const char *v)
{
	char *out, *o;

	if ((out = malloc(strlen(v) + 1)) == NULL)
		return NULL;
	o = out;
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	while (*v != '\0') {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			while (
			    *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
				v++;
			if (*v != '\0')
				*o++ = ' ';
			continue;
		}
		*o++ = *v++;
	}
	*o = '\0';
	return out;
}

static int
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return -1;
	amfa_hex(md, 32, out);
	return 0;
}

int
amfa_sigv4_canonical_request(const struct amfa_sigv4_request *r,
    char **canonical, char **signed_headers)
{
	struct buf c = { 0 }, sh = { 0 };
	struct chdr *h;
	char payload_hash[65];
	size_t n = r->nheaders;

	*canonical = *signed_headers = NULL;
	if (n == 0 || (h = calloc(n, sizeof(*h))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		h[i].order = i;
		h[i].name = strdup(r->headers[i].name);
		h[i].value = fold_value(r->headers[i].value);
		if (h[i].name == NULL || h[i].value == NULL)
			c.bad = 1;
		else
			for (char *p = h[i].name; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
	}
	if (!c.bad)
		qsort(h, n, sizeof(*h), chdr_cmp);
	if (sha256_hex(r->payload ? r->payload : "", r->payload_len,
		payload_hash) != 0)
		c.bad = 1;

	buf_str(&c, r->method);
	buf_str(&c, "\n");
	canonical_uri(&c, r->path, r->normalize_path);
	buf_str(&c, "\n");
	canonical_query(&c, r->query);
	buf_str(&c, "\n");
	for (size_t i = 0; i < n && !c.bad; i++) {
		int first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
		int last = i + 1 == n || strcmp(h[i].name, h[i + 1].name) != 0;

		if (first) {
			buf_str(&c, h[i].name);
			buf_str(&c, ":");
			if (sh.len > 0)
				buf_str(&sh, ";");
			buf_str(&sh, h[i].name);
		} else {
			buf_str(&c, ",");
		}
		buf_str(&c, h[i].value);
		if (last)
			buf_str(&c, "\n");
	}
	buf_str(&c, "\n");
	buf_str(&c, sh.p ? sh.p : "");
	buf_str(&c, "\n");
	buf_str(&c, payload_hash);
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	if (sh.bad)
		c.bad = 1;
	*canonical = buf_done(&c);
	*signed_headers = buf_done(&sh);
	if (*canonical == NULL || *signed_headers == NULL) {
		free(*canonical);
		free(*signed_headers);
		*canonical = *signed_headers = NULL;
		return -1;
	}
	return 0;
}

int
amfa_sigv4_scope(const char *amz_date, const char *region, const char *service,
    char *out, size_t outlen)
{
	int r;

	if (strlen(amz_date) != 16)
		return -1;
	r = snprintf(out, outlen, "%.8s/%s/%s/aws4_request", amz_date, region,
	    service);
	return r < 0 || (size_t)r >= outlen ? -1 : 0;
}

char *
amfa_sigv4_string_to_sign(const char *amz_date, const char *scope,
    const char *canonical)
{
	struct buf b = { 0 };
	char hash[65];

	if (sha256_hex(canonical, strlen(canonical), hash) != 0)
		return NULL;
	buf_str(&b, ALGORITHM "\n");
	buf_str(&b, amz_date);
	buf_str(&b, "\n");
	buf_str(&b, scope);
	buf_str(&b, "\n");
	buf_str(&b, hash);
	return buf_done(&b);
}

/* One HMAC-SHA256 context for the five of a signature: the MAC and its
 * digest fetched once (OpenSSL 3 looks each up in its provider store). */
static EVP_MAC_CTX *
hmac_sha256_ctx(void)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx != NULL && !EVP_MAC_CTX_set_params(ctx, params)) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static int
hmac_sha256(EVP_MAC_CTX *ctx, const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char out[32])
{
	size_t outlen = 0;

	return EVP_MAC_init(ctx, key, keylen, NULL) &&
		EVP_MAC_update(ctx, msg, msglen) &&
		EVP_MAC_final(ctx, out, &outlen, 32) && outlen == 32 ?
	    0 :
	    -1;
}

int
amfa_sigv4_signature(const char *secret, const char *amz_date,
    const char *region, const char *service, const char *string_to_sign,
    char out[65])
{
	unsigned char k[32], sig[32];
	EVP_MAC_CTX *ctx;
	char *k0;
	size_t k0len;
	int r = -1;

	if (strlen(amz_date) != 16)
		return -1;
	k0len = 4 + strlen(secret);
	if ((k0 = malloc(k0len + 1)) == NULL)
		return -1;
	if ((ctx = hmac_sha256_ctx()) == NULL) {
		free(k0);
		return -1;
	}
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, k0len - 4 + 1);
	if (hmac_sha256(ctx, k0, k0len, amz_date, 8, k) == 0 &&
	    hmac_sha256(ctx, k, 32, region, strlen(region), k) == 0 &&
	    hmac_sha256(ctx, k, 32, service, strlen(service), k) == 0 &&
	    hmac_sha256(ctx, k, 32, "aws4_request", 12, k) == 0 &&
	    hmac_sha256(ctx, k, 32, string_to_sign, strlen(string_to_sign),
		sig) == 0) {
		amfa_hex(sig, 32, out);
		r = 0;
	}
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(k0, k0len);
	free(k0);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(sig, sizeof(sig));
	return r;
}

char *
amfa_sigv4_authorization(const struct amfa_sigv4_request *r,
    const struct amfa_aws_key *key, const char *amz_date, const char *region,
    const char *service)
{
	char scope[160], sig[65], *canonical = NULL, *signed_headers = NULL;
	char *sts = NULL, *out = NULL;
	struct buf b = { 0 };

	if (amfa_sigv4_scope(amz_date, region, service, scope, sizeof(scope)) !=
		0 ||
	    amfa_sigv4_canonical_request(r, &canonical, &signed_headers) != 0 ||
	    (sts = amfa_sigv4_string_to_sign(amz_date, scope, canonical)) ==
		NULL ||
	    amfa_sigv4_signature(key->secret_access_key, amz_date, region,
		service, sts, sig) != 0)
		goto done;
	buf_str(&b, ALGORITHM " Credential=");
	buf_str(&b, key->access_key_id);
	buf_str(&b, "/");
	buf_str(&b, scope);
	buf_str(&b, ", SignedHeaders=");
	buf_str(&b, signed_headers);
	buf_str(&b, ", Signature=");
	buf_str(&b, sig);
	out = buf_done(&b);
done:
	free(canonical);
	free(signed_headers);
	free(sts);
	return out;
}

void
amfa_sigv4_date(long long t, char out[17])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		snprintf(out, 17, "19700101T000000Z");
}
