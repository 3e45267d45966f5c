/*
 * SigV4 against the published test suite (tests/vectors/sigv4, from
 * awslabs/aws-c-auth): for every case, the header-form canonical request,
 * string to sign, signature and Authorization header must be the expected
 * ones, byte for byte.  The vectors' directory is argv[1].
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "aws/sigv4.h"
#include "tap.h"

#define MAX_HEADERS 32

static char *
slurp(const char *dir, const char *name)
{
	char path[1024], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A request as request.txt has it: request line, headers (continuation
 * lines folded in), blank line, body. */
struct parsed {
	char *text;
	char *method, *path, *query;
	struct amfa_sigv4_header h[MAX_HEADERS];
	char *values[MAX_HEADERS]; /* folded */
	size_t nh;
	const char *body;
	size_t body_len;
};

static int
parse_request(char *text, struct parsed *p)
{
	char *line, *next, *sp, *q, *colon;

	memset(p, 0, sizeof(*p));
	p->text = text;
	if ((next = strchr(text, '\n')) == NULL)
		return -1;
	*next++ = '\0';
	/* "METHOD PATH HTTP/1.1"; the path may hold spaces. */
	if ((sp = strchr(text, ' ')) == NULL ||
	    (q = strstr(sp, " HTTP/")) == NULL)
		return -1;
	*sp = '\0';
	*q = '\0';
	p->method = text;
	p->path = sp + 1;
	if ((q = strchr(p->path, '?')) != NULL) {
		*q = '\0';
		p->query = q + 1;
	}
	for (line = next; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			break;
		if ((*line == ' ' || *line == '\t') && p->nh > 0) {
			char *old = p->values[p->nh - 1], *joined;

			if (asprintf(&joined, "%s %s", old, line) < 0)
				return -1;
			free(old);
			p->values[p->nh - 1] = joined;
			p->h[p->nh - 1].value = joined;
			continue;
		}
		if ((colon = strchr(line, ':')) == NULL || p->nh == MAX_HEADERS)
			return -1;
		*colon = '\0';
		p->h[p->nh].name = line;
		p->values[p->nh] = strdup(colon + 1);
		p->h[p->nh].value = p->values[p->nh];
		p->nh++;
	}
	if (line != NULL && *line == '\0' && next != NULL) {
		p->body = next;
		p->body_len = strlen(next);
	} else {
		p->body = "";
	}
	return 0;
}

static void
parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->nh; i++)
		free(p->values[i]);
	free(p->text);
}

static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ?
	    json_object_get_string(v) :
	    NULL;
}

static int
jbool(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) &&
	    json_object_get_boolean(v);
}

/* Expected files end without a newline, or with one: compare without. */
static char *
chomp(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void
check_case(const char *vectors, const char *name)
{
	char dir[1024], date[17], scope[160], sig[65], hash[65];
	char *ctx_text, *req_text, *want_creq, *want_sts, *want_sig, *want_sr;
	char *creq = NULL, *sh = NULL, *sts = NULL, *auth = NULL, *want_auth;
	struct json_object *ctx, *cred;
	struct amfa_sigv4_request r;
	struct amfa_aws_key key;
	struct parsed p;
	struct tm tm;
	const char *token;

	snprintf(dir, sizeof(dir), "%s/%s", vectors, name);
	ctx_text = slurp(dir, "context.json");
	req_text = slurp(dir, "request.txt");
	want_creq = chomp(slurp(dir, "header-canonical-request.txt"));
	want_sts = chomp(slurp(dir, "header-string-to-sign.txt"));
	want_sig = chomp(slurp(dir, "header-signature.txt"));
	want_sr = slurp(dir, "header-signed-request.txt");
	ok(ctx_text && req_text && want_creq && want_sts && want_sig && want_sr,
	    "%s: files read", name);
	if (!(ctx_text && req_text && want_creq && want_sts && want_sig &&
		want_sr))
		goto out;
	ctx = json_tokener_parse(ctx_text);
	json_object_object_get_ex(ctx, "credentials", &cred);
	ok(parse_request(req_text, &p) == 0, "%s: request parsed", name);
	req_text = NULL;

	memset(&tm, 0, sizeof(tm));
	strptime(jstr(ctx, "timestamp"), "%Y-%m-%dT%H:%M:%SZ", &tm);
	amfa_sigv4_date((long long)timegm(&tm), date);

	/* What a signer adds before signing: the date, the body's hash if
	 * asked, the session token unless it is to be added afterwards. */
	token = jstr(cred, "token");
	p.h[p.nh++] = (struct amfa_sigv4_header){ "X-Amz-Date", date };
	if (jbool(ctx, "sign_body")) {
		unsigned char md[32];
		unsigned int mdlen;

		EVP_Digest(p.body, p.body_len, md, &mdlen, EVP_sha256(), NULL);
		for (int i = 0; i < 32; i++)
			sprintf(hash + 2 * i, "%02x", md[i]);
		p.h[p.nh++] = (struct amfa_sigv4_header){
			"X-Amz-Content-Sha256", hash
		};
	}
	if (token != NULL && !jbool(ctx, "omit_session_token"))
		p.h[p.nh++] = (struct amfa_sigv4_header){
			"X-Amz-Security-Token", token
		};

	memset(&r, 0, sizeof(r));
	r.method = p.method;
	r.path = p.path;
	r.query = p.query;
	r.headers = p.h;
	r.nheaders = p.nh;
	r.payload = p.body;
	r.payload_len = p.body_len;
	r.normalize_path = jbool(ctx, "normalize");

	key.access_key_id = jstr(cred, "access_key_id");
	key.secret_access_key = jstr(cred, "secret_access_key");
	key.session_token = token;

	ok(amfa_sigv4_canonical_request(&r, &creq, &sh) == 0,
	    "%s: canonical request built", name);
	is_str(creq, want_creq, "%s: canonical request", name);
	amfa_sigv4_scope(date, jstr(ctx, "region"), jstr(ctx, "service"), scope,
	    sizeof(scope));
	sts = amfa_sigv4_string_to_sign(date, scope, creq ? creq : "");
	is_str(sts, want_sts, "%s: string to sign", name);
	ok(amfa_sigv4_signature(key.secret_access_key, date,
	       jstr(ctx, "region"), jstr(ctx, "service"), sts ? sts : "",
	       sig) == 0,
	    "%s: signature computed", name);
	is_str(sig, want_sig, "%s: signature", name);

	/* The Authorization line of the signed request. */
	auth = amfa_sigv4_authorization(&r, &key, date, jstr(ctx, "region"),
	    jstr(ctx, "service"));
	want_auth = strstr(want_sr, "\nAuthorization:");
	if (want_auth != NULL) {
		want_auth += strlen("\nAuthorization:");
		want_auth[strcspn(want_auth, "\r\n")] = '\0';
	}
	is_str(auth, want_auth, "%s: Authorization header", name);

	json_object_put(ctx);
	parsed_free(&p);
out:
	free(creq);
	free(sh);
	free(sts);
	free(auth);
	free(ctx_text);
	free(req_text);
	free(want_creq);
	free(want_sts);
	free(want_sig);
	free(want_sr);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The signer's own rules, apart from the suite. */
static void
own_rules(void)
{
	char *e;

	e = amfa_sigv4_uri_encode("a b/c~d+e=f", 11, 0);
	is_str(e, "a%20b%2Fc~d%2Be%3Df", "uri_encode: reserved characters");
	free(e);
	e = amfa_sigv4_uri_encode("a b/c", 5, 1);
	is_str(e, "a%20b/c", "uri_encode: slash kept for paths");
	free(e);
	e = amfa_sigv4_uri_encode("\xe1\x88\xb4", 3, 0);
	is_str(e, "%E1%88%B4", "uri_encode: UTF-8 upper-case hex");
	free(e);
}

int
main(int argc, char **argv)
{
	const char *vectors = argc > 1 ? argv[1] : "tests/vectors/sigv4";
	char *names[128];
	size_t n = 0, header_cases = 0;
	struct dirent *de;
	DIR *d;

	own_rules();
	ok((d = opendir(vectors)) != NULL, "vectors directory %s", vectors);
	if (d == NULL)
		return tap_done();
	while ((de = readdir(d)) != NULL && n < 128)
		if (de->d_name[0] != '.' &&
		    strcmp(de->d_name, "README.md") != 0)
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		check_case(vectors, names[i]);
		header_cases++;
		free(names[i]);
	}
	/* The suite has 38 cases; fewer means files went missing. */
	ok(header_cases >= 38, "all %zu cases of the suite were checked",
	    header_cases);
	return tap_done();
}
