/* One signed AWS Query API call with retries; see aws_query.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "aws_query.h"
#include "aws_signed_post.h"
#include "http.h"
#include "log.h"
#include "monotonic.h"
#include "secure_file.h"

#define BACKOFF_BASE_MS	   100
#define BACKOFF_CAP_MS	   2000
#define MIN_TRY_MS	   200 /* less time left than this: give up */
#define CONNECT_TIMEOUT_MS 3000
#define QUERY_CTYPE	   "application/x-www-form-urlencoded; charset=utf-8"

long
amfa_aws_backoff_ms(int try)
{
	unsigned int r = 0;
	long top = BACKOFF_BASE_MS;

	for (int i = 0; i < try && top < BACKOFF_CAP_MS; i++)
		top *= 2;
	if (top > BACKOFF_CAP_MS)
		top = BACKOFF_CAP_MS;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (unsigned int)amfa_monotonic_ms();
	return (long)(r % (unsigned int)(top + 1));
}

void
amfa_aws_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Keep log text from a server printable and short. */
static void
clean_copy(char *out, size_t outlen, const char *in)
{
	size_t n = 0;

	for (; in != NULL && *in != '\0' && n + 1 < outlen; in++)
		out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[n] = '\0';
}

xmlDocPtr
amfa_aws_xml_parse(const char *buf, size_t len)
{
	xmlDocPtr doc;

	if (len > AMFA_AWS_MAX_RESPONSE * 4 || len > (size_t)INT32_MAX)
		return NULL;
	xmlInitParser();
	/* No network, no entity substitution, no DTD loading, quiet. */
	doc = xmlReadMemory(buf, (int)len, "aws-answer.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
		XML_PARSE_NOCDATA | XML_PARSE_NODICT);
	if (doc == NULL)
		return NULL;
	/* AWS answers carry no DTD; one that does is not an AWS answer. */
	if (doc->intSubset != NULL || doc->extSubset != NULL ||
	    xmlDocGetRootElement(doc) == NULL) {
		amfa_aws_xml_free(doc);
		return NULL;
	}
	return doc;
}

static xmlNodePtr
child_named(xmlNodePtr parent, const char *name, size_t len)
{
	for (xmlNodePtr n = parent->children; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    strlen((const char *)n->name) == len &&
		    memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

char *
amfa_aws_xml_text(xmlDocPtr doc, const char *path)
{
	xmlNodePtr n;
	xmlChar *content;
	char *out;
	const char *p = path, *slash;

	if (doc == NULL || (n = xmlDocGetRootElement(doc)) == NULL)
		return NULL;
	while (*p != '\0') {
		if ((slash = strchr(p, '/')) == NULL)
			slash = p + strlen(p);
		if ((n = child_named(n, p, (size_t)(slash - p))) == NULL)
			return NULL;
		p = *slash ? slash + 1 : slash;
	}
	/* Only text: an element with child elements is not a value. */
	for (xmlNodePtr c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return NULL;
	if ((content = xmlNodeGetContent(n)) == NULL)
		return NULL;
	out = strdup((const char *)content);
	/* The content may be a secret (a key, a token). */
	amfa_wipe_free_str((char *)content);
	return out;
}

int
amfa_aws_xml_error(xmlDocPtr doc, char *code, size_t codelen, char *message,
    size_t msglen)
{
	static const char *const forms[][2] = {
		{ "Error/Code", "Error/Message" }, /* Query APIs */
		{ "Errors/Error/Code", "Errors/Error/Message" }, /* EC2 style */
	};
	char *c, *m;

	code[0] = message[0] = '\0';
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if ((c = amfa_aws_xml_text(doc, forms[i][0])) == NULL)
			continue;
		m = amfa_aws_xml_text(doc, forms[i][1]);
		clean_copy(code, codelen, c);
		clean_copy(message, msglen, m ? m : "");
		free(c);
		free(m);
		return code[0] ? 0 : -1;
	}
	return -1;
}

/* "Action=A&Version=V&K=V..." with every part percent-encoded. */
static char *
form_body(const char *action, const char *version,
    const struct amfa_aws_param *params, size_t n, size_t *len)
{
	size_t cap = 64, used = 0;
	char *body, *k, *v;

	if ((body = malloc(cap)) == NULL)
		return NULL;
	body[0] = '\0';
	for (size_t i = 0; i < n + 2; i++) {
		const char *kn = i == 0 ? "Action" :
		    i == 1		? "Version" :
					  params[i - 2].name;
		const char *kv = i == 0 ? action :
		    i == 1		? version :
					  params[i - 2].value;
		size_t need;

		k = amfa_sigv4_uri_encode(kn, strlen(kn), 0);
		v = amfa_sigv4_uri_encode(kv, strlen(kv), 0);
		if (k == NULL || v == NULL) {
			free(k);
			amfa_wipe_free_str(v);
			amfa_wipe_free(body, cap);
			return NULL;
		}
		need = used + strlen(k) + strlen(v) + 3;
		if (need > cap) {
			char *nb;

			while (cap < need)
				cap *= 2;
			if ((nb = malloc(cap)) == NULL) {
				free(k);
				amfa_wipe_free_str(v);
				amfa_wipe_free(body, used + 1);
				return NULL;
			}
			memcpy(nb, body, used + 1);
			amfa_wipe_free(body, used + 1);
			body = nb;
		}
		used += (size_t)sprintf(body + used, "%s%s=%s", i ? "&" : "", k,
		    v);
		free(k);
		amfa_wipe_free_str(v);
	}
	*len = used;
	return body;
}

int
amfa_aws_split_url(const char *url, char *host, size_t hostlen, char *path,
    size_t pathlen, char *query, size_t querylen)
{
	CURLU *u;
	char *h = NULL, *port = NULL, *p = NULL, *q = NULL;
	int r = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		goto out;
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	(void)curl_url_get(u, CURLUPART_QUERY, &q, 0);
	if (snprintf(host, hostlen, "%s%s%s", h, port ? ":" : "",
		port ? port : "") >= (int)hostlen ||
	    snprintf(path, pathlen, "%s", p) >= (int)pathlen ||
	    snprintf(query, querylen, "%s", q ? q : "") >= (int)querylen)
		goto out;
	r = 0;
out:
	curl_free(h);
	curl_free(port);
	curl_free(p);
	curl_free(q);
	curl_url_cleanup(u);
	return r;
}

/* Headers of one try, signed at this moment. */
/* What one try came to. */
enum try_outcome { TRY_DONE, TRY_RETRY };

static enum try_outcome
judge(const struct amfa_aws_endpoint *ep, const char *action,
    struct amfa_http_response *resp, struct amfa_aws_answer *ans)
{
	xmlDocPtr doc = NULL;
	char *rid;

	ans->http_status = resp->status;
	if (resp->error == AMFA_HTTP_TLS) {
		ans->status = AMFA_AWS_TLS;
		snprintf(ans->detail, sizeof(ans->detail), "TLS: %.200s",
		    resp->detail);
		return TRY_DONE;
	}
	if (resp->error == AMFA_HTTP_INTERNAL) {
		ans->status = AMFA_AWS_INTERNAL;
		snprintf(ans->detail, sizeof(ans->detail), "%.200s",
		    resp->detail);
		return TRY_DONE;
	}
	if (resp->error != AMFA_HTTP_OK) {
		snprintf(ans->detail, sizeof(ans->detail), "%s%s%.200s",
		    amfa_http_error_str(resp->error),
		    resp->detail[0] ? ": " : "", resp->detail);
		if (resp->request_sent)
			ans->sent_before = 1;
		return TRY_RETRY;
	}
	doc = amfa_aws_xml_parse(resp->body, resp->body_len);
	if (doc != NULL &&
	    (rid = amfa_aws_xml_text(doc, "RequestId")) != NULL) {
		clean_copy(ans->request_id, sizeof(ans->request_id), rid);
		free(rid);
	} else if (doc != NULL &&
	    (rid = amfa_aws_xml_text(doc, "ResponseMetadata/RequestId")) !=
		NULL) {
		clean_copy(ans->request_id, sizeof(ans->request_id), rid);
		free(rid);
	}
	if (resp->status >= 200 && resp->status < 300) {
		if (doc == NULL) {
			snprintf(ans->detail, sizeof(ans->detail),
			    "HTTP %ld with an answer that is not XML",
			    resp->status);
			/* The action may have been carried out. */
			ans->sent_before = 1;
			return TRY_RETRY;
		}
		ans->status = AMFA_AWS_OK;
		ans->doc = doc;
		return TRY_DONE;
	}
	if (doc == NULL ||
	    amfa_aws_xml_error(doc, ans->code, sizeof(ans->code), ans->message,
		sizeof(ans->message)) != 0) {
		amfa_aws_xml_free(doc);
		snprintf(ans->detail, sizeof(ans->detail),
		    "HTTP %ld without an AWS error answer", resp->status);
		if (resp->status >= 500)
			ans->sent_before = 1;
		/* Only a server error is worth another try. */
		if (resp->status >= 500)
			return TRY_RETRY;
		ans->status = AMFA_AWS_UNREACHABLE;
		return TRY_DONE;
	}
	amfa_aws_xml_free(doc);
	if (strcmp(ans->code, "Throttling") == 0 ||
	    strcmp(ans->code, "RequestLimitExceeded") == 0 ||
	    strcmp(ans->code, "ThrottlingException") == 0) {
		snprintf(ans->detail, sizeof(ans->detail), "HTTP %ld %s",
		    resp->status, ans->code);
		return TRY_RETRY;
	}
	if (resp->status >= 500) {
		snprintf(ans->detail, sizeof(ans->detail), "HTTP %ld %s",
		    resp->status, ans->code);
		ans->sent_before = 1;
		return TRY_RETRY;
	}
	ans->status = AMFA_AWS_REFUSED;
	(void)ep;
	(void)action;
	return TRY_DONE;
}

enum amfa_aws_status
amfa_aws_query(const struct amfa_aws_endpoint *ep,
    const struct amfa_aws_key *key, const char *action,
    const struct amfa_aws_param *params, size_t n, struct amfa_aws_answer *ans)
{
	struct amfa_http_request req;
	struct amfa_http_response resp;
	struct amfa_aws_post post = { 0 };
	struct amfa_aws_signed sh;
	char host[256], path[1024], query[1024];
	char *body;
	size_t body_len = 0;
	long long deadline, left;
	long wait;

	memset(ans, 0, sizeof(*ans));
	ans->status = AMFA_AWS_INTERNAL;
	if (ep->timeout_ms <= 0 ||
	    amfa_aws_split_url(ep->url, host, sizeof(host), path, sizeof(path),
		query, sizeof(query)) != 0) {
		snprintf(ans->detail, sizeof(ans->detail), "bad endpoint");
		return ans->status;
	}
	if ((body = form_body(action, ep->version, params, n, &body_len)) ==
	    NULL)
		return ans->status;
	deadline = amfa_monotonic_ms() + ep->timeout_ms;
	for (;;) {
		left = deadline - amfa_monotonic_ms();
		if (left < MIN_TRY_MS) {
			ans->status = AMFA_AWS_UNREACHABLE;
			break;
		}
		post.region = ep->region;
		post.service = ep->service;
		post.host = host;
		post.path = path;
		post.query = query;
		post.content_type = QUERY_CTYPE;
		post.body = body;
		post.body_len = body_len;
		if (amfa_aws_sign_post(&post, key, &sh) != 0) {
			amfa_aws_signed_free(&sh);
			ans->status = AMFA_AWS_INTERNAL;
			break;
		}
		memset(&req, 0, sizeof(req));
		req.url = ep->url;
		req.method = "POST";
		req.headers = sh.list;
		req.body = body;
		req.body_len = body_len;
		req.ca_file = ep->ca_file;
		req.connect_timeout_ms = left < CONNECT_TIMEOUT_MS ?
		    left :
		    CONNECT_TIMEOUT_MS;
		req.total_timeout_ms = left;
		req.max_response = AMFA_AWS_MAX_RESPONSE;
		ans->tries++;
		amfa_http_perform(&req, &resp);
		amfa_aws_signed_free(&sh);
		if (judge(ep, action, &resp, ans) == TRY_DONE) {
			amfa_http_response_free(&resp);
			break;
		}
		amfa_http_response_free(&resp);
		wait = amfa_aws_backoff_ms(ans->tries);
		left = deadline - amfa_monotonic_ms();
		amfa_log(LOG_NOTICE, "%s %s: try %d: %s%s", ep->url, action,
		    ans->tries, ans->detail,
		    left - wait >= MIN_TRY_MS ? "; trying again" :
						"; out of time");
		if (left - wait < MIN_TRY_MS) {
			ans->status = AMFA_AWS_UNREACHABLE;
			break;
		}
		amfa_aws_sleep_ms(wait);
	}
	amfa_wipe_free(body, body_len + 1);
	return ans->status;
}

/* Zero every text of the tree (keys, tokens) before it is freed. */
static void
wipe_tree(xmlNodePtr n)
{
	for (; n != NULL; n = n->next) {
		if ((n->type == XML_TEXT_NODE ||
			n->type == XML_CDATA_SECTION_NODE) &&
		    n->content != NULL)
			OPENSSL_cleanse(n->content,
			    (size_t)xmlStrlen(n->content));
		wipe_tree(n->children);
	}
}

void
amfa_aws_xml_free(xmlDocPtr doc)
{
	if (doc == NULL)
		return;
	wipe_tree(doc->children);
	xmlFreeDoc(doc);
}

void
amfa_aws_answer_free(struct amfa_aws_answer *ans)
{
	amfa_aws_xml_free(ans->doc);
	ans->doc = NULL;
}
