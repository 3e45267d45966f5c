/* HTTP(S) over libcurl; see http.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "caller_guard.h"
#include "http.h"
#include "secure_file.h"

/*
 * Variables that libcurl or libxml2 read with getenv() and that no request
 * option overrides (the proxy variables are overridden: CURLOPT_PROXY
 * below).  SSLKEYLOGFILE is opened for appending, as root, at the first
 * TLS use.
 */
static const char *const library_env[] = { "SSLKEYLOGFILE", "CURL_SSL_BACKEND",
	"CURL_HOME", "XML_CATALOG_FILES", "XML_DEBUG_CATALOG", NULL };

/* The handle of this thread's kept connections (amfa_http_release). */
static __thread CURL *kept;
static int release_at_exit;

struct sink {
	char *buf;
	size_t len, cap, max;
	int overflow;
};

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n, ncap;
	char *nbuf;

	if (add > s->max - s->len) {
		s->overflow = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	if (s->len + add + 1 > s->cap) {
		ncap = s->cap ? s->cap : 4096;
		while (ncap < s->len + add + 1)
			ncap *= 2;
		if (ncap > s->max + 1)
			ncap = s->max + 1;
		if ((nbuf = malloc(ncap)) == NULL)
			return 0;
		/* Copy by hand so the old buffer can be wiped. */
		if (s->buf != NULL) {
			memcpy(nbuf, s->buf, s->len);
			amfa_wipe_free(s->buf, s->cap);
		}
		s->buf = nbuf;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

/* Every socket closed on exec: none reaches a session's shell, whatever
 * libcurl's version does by itself (a kept one lives until the login is
 * done, and PAM hosts fork and exec the session from the same process). */
static int
on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int fl = fcntl(fd, F_GETFD);

	(void)arg;
	(void)purpose;
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) != 0)
		return CURL_SOCKOPT_ERROR;
	return CURL_SOCKOPT_OK;
}

static enum amfa_http_error
classify(CURLcode c, const struct sink *s)
{
	switch (c) {
	case CURLE_OK:
		return AMFA_HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return AMFA_HTTP_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return AMFA_HTTP_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return AMFA_HTTP_TLS;
	case CURLE_WRITE_ERROR:
		return s->overflow ? AMFA_HTTP_TOO_LARGE : AMFA_HTTP_INTERNAL;
	case CURLE_OUT_OF_MEMORY:
		return AMFA_HTTP_INTERNAL;
	default:
		return AMFA_HTTP_BROKEN;
	}
}

const char *
amfa_http_error_str(enum amfa_http_error e)
{
	switch (e) {
	case AMFA_HTTP_OK:
		return "ok";
	case AMFA_HTTP_TIMEOUT:
		return "timed out";
	case AMFA_HTTP_CONNECT:
		return "cannot connect";
	case AMFA_HTTP_TLS:
		return "TLS failure";
	case AMFA_HTTP_TOO_LARGE:
		return "response too large";
	case AMFA_HTTP_BROKEN:
		return "broken response";
	case AMFA_HTTP_INTERNAL:
		return "internal error";
	}
	return "unknown";
}

/*
 * The system's trust store as libcurl was built to find it, as a hashed
 * directory (Debian: /etc/ssl/certs), or NULL (use libcurl's defaults).
 * Its default bundle file holds the same certificates (update-ca-
 * certificates makes both), but OpenSSL 3 parses every one of them in
 * every process that makes a connection: about 200 M instructions for
 * Debian's 144, each login (sshd loads the module per connection).  From
 * the directory OpenSSL reads only the certificates a chain names.
 */
static const char *
system_ca_dir(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v != NULL && v->age >= CURLVERSION_SEVENTH ? v->capath : NULL;
}

static int
set_options(CURL *c, const struct amfa_http_request *req,
    struct curl_slist *hdrs, struct sink *s, char *errbuf)
{
	const char *ca_dir;
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION,
		   (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	if (req->ca_file != NULL)
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file) !=
		    CURLE_OK;
	else if ((ca_dir = system_ca_dir()) != NULL) {
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, NULL) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_CAPATH, ca_dir) != CURLE_OK;
	}
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
		   req->connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->total_timeout_ms) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_socket) !=
	    CURLE_OK;
	/*
	 * libcurl takes a proxy from the environment (https_proxy, ...).  In
	 * a set-user-id program (sudo, su) that environment is the caller's,
	 * who could send the request nowhere and so make the servers
	 * "unreachable" at will: no proxy there.
	 */
	if (amfa_guard_process_secure() || req->no_proxy)
		bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT,
		   "pam_awsmfa/" AMFA_VERSION) != CURLE_OK;
	if (strcmp(req->method, "POST") == 0) {
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
			   (long)req->body_len) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS,
			   req->body ? req->body : "") != CURLE_OK;
	} else if (strcmp(req->method, "PUT") == 0) {
		/* A small body given whole, as for POST (IMDSv2's token). */
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
			   (long)req->body_len) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS,
			   req->body ? req->body : "") != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT") !=
		    CURLE_OK;
	} else if (strcmp(req->method, "GET") != 0) {
		bad = 1;
	}
	return bad ? -1 : 0;
}

enum amfa_http_error
amfa_http_perform(const struct amfa_http_request *req,
    struct amfa_http_response *resp)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *t;
	struct sink s = { NULL, 0, 0, req->max_response, 0 };
	long sent = 0;
	CURL *c;
	CURLcode cc;

	memset(resp, 0, sizeof(*resp));
	resp->error = AMFA_HTTP_INTERNAL;
	/* The module's guard emptied `environ'; these are what libcurl and
	 * libxml2 would still read through a host's own getenv (sudo's). */
	if (amfa_guard_env_clean(library_env) != 0) {
		snprintf(resp->detail, sizeof(resp->detail),
		    "the caller's environment would steer libcurl");
		return resp->error;
	}
	if (req->keep && kept != NULL) {
		c = kept; /* its connections and TLS sessions, nothing else */
		kept = NULL;
		curl_easy_reset(c);
	} else if ((c = curl_easy_init()) == NULL)
		return resp->error;
	for (const char *const *h = req->headers; h != NULL && *h != NULL;
	     h++) {
		if ((t = curl_slist_append(hdrs, *h)) == NULL)
			goto out;
		hdrs = t;
	}
	/* No "Expect: 100-continue" round trip. */
	if ((t = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto out;
	hdrs = t;
	if (set_options(c, req, hdrs, &s, errbuf) != 0) {
		snprintf(resp->detail, sizeof(resp->detail),
		    "bad request setup");
		goto out;
	}
	cc = curl_easy_perform(c);
	resp->error = classify(cc, &s);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
	resp->request_sent = sent > 0;
	if (cc != CURLE_OK)
		snprintf(resp->detail, sizeof(resp->detail), "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	if (resp->error == AMFA_HTTP_OK) {
		if (s.buf == NULL && (s.buf = calloc(1, 1)) != NULL)
			s.cap = 1;
		resp->body = s.buf;
		resp->body_len = s.len;
		s.buf = NULL;
	}
out:
	if (s.buf != NULL)
		amfa_wipe_free(s.buf, s.cap);
	if (req->keep && resp->error == AMFA_HTTP_OK) {
		/* Kept with no pointer into this call (headers, body, sink,
		 * error buffer): the options are dropped now. */
		curl_easy_reset(c);
		kept = c;
		/* A program that never says it is done (awsmfa's commands)
		 * closes them at its exit. */
		if (!release_at_exit)
			release_at_exit = atexit(amfa_http_release) == 0;
	} else
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return resp->error;
}

void
amfa_http_release(void)
{
	if (kept != NULL)
		curl_easy_cleanup(kept);
	kept = NULL;
}

void
amfa_http_response_free(struct amfa_http_response *resp)
{
	if (resp->body != NULL)
		amfa_wipe_free(resp->body, resp->body_len + 1);
	resp->body = NULL;
	resp->body_len = 0;
}
