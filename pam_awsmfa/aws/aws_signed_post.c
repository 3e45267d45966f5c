/* One signed POST's headers; see aws_signed_post.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_signed_post.h"
#include "secure_file.h"

/* "Name: value" into buf; 0, or -1 if it does not fit. */
static int
header_line(char *buf, size_t n, const char *name, const char *value)
{
	int r = snprintf(buf, n, "%s: %s", name, value);

	return r < 0 || (size_t)r >= n ? -1 : 0;
}

int
amfa_aws_sign_post(const struct amfa_aws_post *p,
    const struct amfa_aws_key *key, struct amfa_aws_signed *s)
{
	struct amfa_sigv4_header h[5];
	struct amfa_sigv4_request r;
	size_t nh = 0, tlen;
	char *auth;
	int n = 0;

	memset(s, 0, sizeof(*s));
	amfa_sigv4_date((long long)time(NULL), s->date);
	h[nh++] = (struct amfa_sigv4_header){ "Content-Type", p->content_type };
	h[nh++] = (struct amfa_sigv4_header){ "Host", p->host };
	h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Date", s->date };
	if (p->extra_name != NULL)
		h[nh++] = (struct amfa_sigv4_header){ p->extra_name,
			p->extra_value };
	if (key->session_token != NULL)
		h[nh++] = (struct amfa_sigv4_header){ "X-Amz-Security-Token",
			key->session_token };
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.path = p->path;
	r.query = p->query;
	r.headers = h;
	r.nheaders = nh;
	r.payload = p->body;
	r.payload_len = p->body_len;
	r.normalize_path = 1;
	auth = amfa_sigv4_authorization(&r, key, s->date, p->region,
	    p->service);
	if (auth == NULL)
		return -1;
	if (asprintf(&s->auth_h, "Authorization: %s", auth) < 0) {
		s->auth_h = NULL;
		free(auth);
		return -1;
	}
	free(auth);
	if (header_line(s->ctype_h, sizeof(s->ctype_h), "Content-Type",
		p->content_type) != 0 ||
	    header_line(s->host_h, sizeof(s->host_h), "Host", p->host) != 0 ||
	    header_line(s->date_h, sizeof(s->date_h), "X-Amz-Date", s->date) !=
		0)
		return -1;
	s->list[n++] = s->ctype_h;
	s->list[n++] = s->host_h;
	s->list[n++] = s->date_h;
	if (p->extra_name != NULL) {
		if (header_line(s->extra_h, sizeof(s->extra_h), p->extra_name,
			p->extra_value) != 0)
			return -1;
		s->list[n++] = s->extra_h;
	}
	if (key->session_token != NULL) {
		tlen = strlen(key->session_token) + 32;
		if ((s->token_h = malloc(tlen)) == NULL)
			return -1;
		snprintf(s->token_h, tlen, "X-Amz-Security-Token: %s",
		    key->session_token);
		s->list[n++] = s->token_h;
	}
	s->list[n++] = s->auth_h;
	s->list[n] = NULL;
	return 0;
}

void
amfa_aws_signed_free(struct amfa_aws_signed *s)
{
	if (s->token_h != NULL)
		amfa_wipe_free_str(s->token_h);
	free(s->auth_h);
	memset(s, 0, sizeof(*s));
}
