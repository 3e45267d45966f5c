/*
 * One HTTPS (or, for loopback tests, HTTP) exchange over libcurl: TLS
 * verification always on, connect and total timeouts, no redirects, only
 * http/https, a capped response size.  libcurl's proxy environment variables
 * (https_proxy, no_proxy, ...) are honoured, except in set-user-id
 * programs (sudo, su), where that environment is the caller's.  Shared by
 * the AWS clients and the YubiKey validation client.
 */
#ifndef AMFA_HTTP_H
#define AMFA_HTTP_H

#include <stddef.h>

struct amfa_http_request {
	const char *url;
	const char *method;	    /* "GET", "POST" or "PUT" */
	const char *const *headers; /* "Name: value", NULL-ended */
	const char *body;	    /* POST or PUT body or NULL */
	size_t body_len;
	const char *ca_file; /* NULL: the system's CAs */
	long connect_timeout_ms;
	long total_timeout_ms;
	size_t max_response; /* bytes of body kept */
	int no_proxy;	     /* never through a proxy (the instance metadata
		       * service: its token must not leave the host) */
	int keep;	     /* the connection stays open for this thread's next
		   * request to the same server (amfa_http_release) */
};

enum amfa_http_error {
	AMFA_HTTP_OK = 0,    /* a whole HTTP response arrived */
	AMFA_HTTP_TIMEOUT,   /* connect or total timeout */
	AMFA_HTTP_CONNECT,   /* could not connect / resolve */
	AMFA_HTTP_TLS,	     /* certificate or handshake failure */
	AMFA_HTTP_TOO_LARGE, /* response over max_response */
	AMFA_HTTP_BROKEN,    /* reset, truncated, malformed HTTP */
	AMFA_HTTP_INTERNAL   /* out of memory, bad arguments */
};

struct amfa_http_response {
	enum amfa_http_error error;
	long status; /* HTTP status when OK */
	char *body;  /* NUL-terminated, heap */
	size_t body_len;
	/* The request was (at least partly) sent: the server may have acted
	 * on it even though no answer came back. */
	int request_sent;
	char detail[256]; /* libcurl's words, for logs */
};

/* Perform the exchange.  Returns resp->error. */
enum amfa_http_error amfa_http_perform(const struct amfa_http_request *req,
    struct amfa_http_response *resp);
/*
 * Close what `keep' kept open (the connections and the TLS sessions of
 * this thread's kept requests).  A kept connection found closed by the
 * server when the next request goes out is replaced by libcurl, which
 * sends that request again on the new one when nothing came back on the
 * old: a write whose answer was lost may then be carried out twice (the
 * callers' conditional writes find their condition false the second
 * time, as after any retry).  Any failed exchange closes them too.
 */
void amfa_http_release(void);
/* Wipe and free the body. */
void amfa_http_response_free(struct amfa_http_response *resp);
const char *amfa_http_error_str(enum amfa_http_error e);

#endif
