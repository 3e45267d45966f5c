/* IMDSv2: the instance role's credentials; see imds.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "imds.h"
#include "monotonic.h"
#include "secure_file.h"

#define CONNECT_TIMEOUT_MS 1000
#define MAX_ROLE	   128

/* One exchange; the body is kept in resp (caller frees). */
static enum amfa_ddb_result
exchange(const char *url, const char *method, const char *const *headers,
    long long deadline, struct amfa_http_response *resp,
    struct amfa_ddb_error *err, const char *what)
{
	struct amfa_http_request req;
	long long left = deadline - amfa_monotonic_ms();

	memset(resp, 0, sizeof(*resp));
	if (left <= 0) {
		snprintf(err->detail, sizeof(err->detail),
		    "IMDS: out of time before the %s", what);
		return AMFA_DDB_UNAVAILABLE;
	}
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = method;
	req.headers = headers;
	req.body = "";
	req.body_len = 0;
	req.connect_timeout_ms = left < CONNECT_TIMEOUT_MS ?
	    (long)left :
	    CONNECT_TIMEOUT_MS;
	req.total_timeout_ms = (long)left;
	req.max_response = AMFA_IMDS_MAX_RESPONSE;
	req.no_proxy = 1;
	amfa_http_perform(&req, resp);
	if (resp->error == AMFA_HTTP_TOO_LARGE) {
		snprintf(err->detail, sizeof(err->detail),
		    "IMDS: the %s answer is too large", what);
		return AMFA_DDB_MALFORMED;
	}
	if (resp->error == AMFA_HTTP_INTERNAL) {
		snprintf(err->detail, sizeof(err->detail), "IMDS %s: %.200s",
		    what, resp->detail);
		return AMFA_DDB_INTERNAL;
	}
	if (resp->error != AMFA_HTTP_OK) {
		snprintf(err->detail, sizeof(err->detail),
		    "IMDS %s: %s%s%.180s", what,
		    amfa_http_error_str(resp->error),
		    resp->detail[0] ? ": " : "", resp->detail);
		return AMFA_DDB_UNAVAILABLE;
	}
	if (resp->status == 404 || resp->status == 401 || resp->status == 403) {
		snprintf(err->detail, sizeof(err->detail), "IMDS %s: HTTP %ld",
		    what, resp->status);
		return AMFA_DDB_NO_CREDENTIALS;
	}
	if (resp->status != 200) {
		snprintf(err->detail, sizeof(err->detail), "IMDS %s: HTTP %ld",
		    what, resp->status);
		return resp->status >= 500 ?
		    AMFA_DDB_UNAVAILABLE :
		    AMFA_DDB_MALFORMED;
	}
	return AMFA_DDB_OK;
}

/* A token or role name: printable ASCII, no '/', no spaces. */
static int
word_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/')
			return 0;
	return 1;
}

enum amfa_ddb_result
amfa_imds_role_credentials(const char *endpoint, long timeout_ms, char **json,
    size_t *len, struct amfa_ddb_error *err)
{
	struct amfa_http_response resp;
	char base[512], url[768], role[MAX_ROLE + 1];
	char *token_h = NULL;
	const char *hdrs[2] = { NULL, NULL };
	const char *put_h[] = {
		"X-aws-ec2-metadata-token-ttl-seconds: " AMFA_IMDS_TOKEN_TTL_S,
		NULL
	};
	long long deadline = amfa_monotonic_ms() + timeout_ms;
	enum amfa_ddb_result r;
	size_t n, blen;

	*json = NULL;
	*len = 0;
	if (endpoint == NULL)
		endpoint = AMFA_IMDS_DEFAULT;
	blen = strlen(endpoint);
	while (blen > 0 && endpoint[blen - 1] == '/')
		blen--;
	if (blen == 0 || blen >= 256 ||
	    (strncmp(endpoint, "http://", 7) != 0 &&
		strncmp(endpoint, "https://", 8) != 0)) {
		snprintf(err->detail, sizeof(err->detail),
		    "IMDS: bad endpoint");
		return AMFA_DDB_INTERNAL;
	}
	snprintf(base, sizeof(base), "%.*s", (int)blen, endpoint);

	/* The session token. */
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	r = exchange(url, "PUT", put_h, deadline, &resp, err, "token");
	if (r != AMFA_DDB_OK)
		goto out;
	if (!word_ok(resp.body, resp.body_len, 4096)) {
		snprintf(err->detail, sizeof(err->detail),
		    "IMDS token: not a token");
		r = AMFA_DDB_MALFORMED;
		goto out;
	}
	n = resp.body_len + 40;
	if ((token_h = malloc(n)) == NULL) {
		r = AMFA_DDB_INTERNAL;
		goto out;
	}
	snprintf(token_h, n, "X-aws-ec2-metadata-token: %s", resp.body);
	hdrs[0] = token_h;
	amfa_http_response_free(&resp);

	/* The role's name: the first line. */
	snprintf(url, sizeof(url),
	    "%s/latest/meta-data/iam/security-credentials/", base);
	r = exchange(url, "GET", hdrs, deadline, &resp, err, "role name");
	if (r != AMFA_DDB_OK)
		goto out;
	n = strcspn(resp.body, "\n");
	if (n > 0 && resp.body[n - 1] == '\r')
		n--;
	if (!word_ok(resp.body, n, MAX_ROLE)) {
		snprintf(err->detail, sizeof(err->detail), "IMDS role name: %s",
		    n == 0 ? "none" : "not a role name");
		r = n == 0 ? AMFA_DDB_NO_CREDENTIALS : AMFA_DDB_MALFORMED;
		goto out;
	}
	memcpy(role, resp.body, n);
	role[n] = '\0';
	amfa_http_response_free(&resp);

	/* The role's credentials. */
	snprintf(url, sizeof(url),
	    "%s/latest/meta-data/iam/security-credentials/%s", base, role);
	r = exchange(url, "GET", hdrs, deadline, &resp, err, "credentials");
	if (r != AMFA_DDB_OK)
		goto out;
	*json = resp.body;
	*len = resp.body_len;
	resp.body = NULL;
	resp.body_len = 0;
out:
	amfa_http_response_free(&resp);
	if (token_h != NULL)
		amfa_wipe_free_str(token_h);
	return r;
}
