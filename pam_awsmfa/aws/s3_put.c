/* S3 PutObject with a checksum and Object Lock retention: see s3_put.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "hex.h"
#include "http.h"
#include "s3_put.h"
#include "sigv4.h"

#define NHEADERS 10

/* "Name: value" into a heap string; the value must be one line. */
static char *
header(const char *name, const char *value)
{
	char *s;

	if (strpbrk(value, "\r\n") != NULL ||
	    asprintf(&s, "%s: %s", name, value) < 0)
		return NULL;
	return s;
}

/* The host[:port] and the path of an http(s) URL; 0 or -1. */
static int
split_url(const char *url, char *host, size_t hlen, const char **path)
{
	const char *p, *slash;

	if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return -1;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (slash == p || (size_t)(slash - p) >= hlen)
		return -1;
	memcpy(host, p, (size_t)(slash - p));
	host[slash - p] = '\0';
	*path = slash;
	return 0;
}

enum amfa_s3_result
amfa_s3_put(const struct amfa_s3_put *p, const struct amfa_aws_key *key,
    char *detail, size_t detail_len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hexsum[65], b64sum[64], date[17], host[300], meta_h[80];
	const char *base;
	char *enc = NULL, *path = NULL, *raw = NULL, *url = NULL, *auth = NULL;
	char *lines[NHEADERS + 2] = { NULL };
	struct amfa_sigv4_header h[NHEADERS];
	struct amfa_sigv4_request r;
	struct amfa_http_request req;
	struct amfa_http_response resp;
	enum amfa_s3_result res = AMFA_S3_INTERNAL;
	size_t nh = 0;

	snprintf(detail, detail_len, "internal error");
	if (split_url(p->bucket_url, host, sizeof(host), &base) != 0) {
		snprintf(detail, detail_len,
		    "bucket URL not http(s)://HOST/...");
		return AMFA_S3_INTERNAL;
	}
	if (EVP_Digest(p->body, p->body_len, md, &mdlen, EVP_sha256(), NULL) !=
		1 ||
	    mdlen != 32 ||
	    EVP_EncodeBlock((unsigned char *)b64sum, md, 32) <= 0)
		return AMFA_S3_INTERNAL;
	amfa_hex(md, 32, hexsum);
	if ((enc = amfa_sigv4_uri_encode(p->key, strlen(p->key), 1)) == NULL ||
	    asprintf(&path, "%s/%s", base, enc) < 0 ||
	    asprintf(&raw, "%s/%s", base, p->key) < 0 ||
	    asprintf(&url, "%.*s%s", (int)(base - p->bucket_url), p->bucket_url,
		path) < 0) {
		path = raw = url = NULL;
		goto out;
	}
	amfa_sigv4_date((long long)time(NULL), date);
	h[nh++] = (struct amfa_sigv4_header){ "Content-Type", p->content_type };
	h[nh++] = (struct amfa_sigv4_header){ "Host", host };
	h[nh++] = (struct amfa_sigv4_header){ "If-None-Match", "*" };
	h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Checksum-Sha256", b64sum };
	h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Content-Sha256", hexsum };
	h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Date", date };
	h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Object-Lock-Mode",
		p->lock_mode };
	h[nh++] = (struct amfa_sigv4_header){
		"X-Amz-Object-Lock-Retain-Until-Date", p->retain_until
	};
	if (p->meta_name != NULL) {
		snprintf(meta_h, sizeof(meta_h), "X-Amz-Meta-%s", p->meta_name);
		h[nh++] = (struct amfa_sigv4_header){ meta_h, p->meta_value };
	}
	if (key->session_token != NULL)
		h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Security-Token",
			key->session_token };
	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.path = raw; /* S3: the key's path, encoded once by the signer */
	r.headers = h;
	r.nheaders = nh;
	r.payload = p->body;
	r.payload_len = p->body_len;
	r.normalize_path = 0; /* S3 */
	if ((auth = amfa_sigv4_authorization(&r, key, date, p->region, "s3")) ==
	    NULL)
		goto out;
	for (size_t i = 0; i < nh; i++)
		if ((lines[i] = header(h[i].name, h[i].value)) == NULL) {
			snprintf(detail, detail_len,
			    "a header value that is "
			    "not one line");
			goto out;
		}
	if ((lines[nh] = header("Authorization", auth)) == NULL)
		goto out;
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = "PUT";
	req.headers = (const char *const *)lines;
	req.body = p->body;
	req.body_len = p->body_len;
	req.ca_file = p->ca_file;
	req.connect_timeout_ms = p->timeout_ms < 5000 ? p->timeout_ms : 5000;
	req.total_timeout_ms = p->timeout_ms;
	req.max_response = 16 * 1024;
	amfa_http_perform(&req, &resp);
	if (resp.error != AMFA_HTTP_OK) {
		snprintf(detail, detail_len, "%s: %s",
		    amfa_http_error_str(resp.error), resp.detail);
		res = AMFA_S3_RETRY;
	} else if (resp.status == 200) {
		snprintf(detail, detail_len, "stored");
		res = AMFA_S3_STORED;
	} else if (resp.status == 412) {
		snprintf(detail, detail_len, "there already (412)");
		res = AMFA_S3_THERE;
	} else {
		/* The error's code, from S3's XML, without parsing it: the
		 * words after <Code>, for the log only. */
		const char *c = resp.body ? strstr(resp.body, "<Code>") : NULL;
		int cl = c ? (int)strcspn(c + 6, "<") : 0;

		snprintf(detail, detail_len, "HTTP %ld%s%.*s", resp.status,
		    c ? " " : "", cl > 64 ? 64 : cl, c ? c + 6 : "");
		res = (resp.status >= 500 || resp.status == 429 ||
			  resp.status == 408) ?
		    AMFA_S3_RETRY :
		    AMFA_S3_REFUSED;
	}
	amfa_http_response_free(&resp);
out:
	for (size_t i = 0; i < NHEADERS + 2; i++)
		if (lines[i] != NULL) {
			/* The token's line is a secret. */
			OPENSSL_cleanse(lines[i], strlen(lines[i]));
			free(lines[i]);
		}
	free(auth);
	free(enc);
	free(path);
	free(raw);
	free(url);
	return res;
}
