/*
 * The headers of one SigV4-signed POST to an AWS endpoint, as http.h sends
 * them: Content-Type, Host, X-Amz-Date, one optional extra header (such as
 * DynamoDB's X-Amz-Target), X-Amz-Security-Token with temporary
 * credentials, and Authorization over all of them.  Shared by the query
 * protocol (aws_query.c) and DynamoDB (dynamodb.c); signed anew for every
 * try, since the date is part of the signature.
 */
#ifndef AMFA_AWS_SIGNED_POST_H
#define AMFA_AWS_SIGNED_POST_H

#include <stddef.h>

#include "sigv4.h"

struct amfa_aws_post {
	const char *region;
	const char *service;
	const char *host;
	const char *path;
	const char *query; /* or NULL */
	const char *content_type;
	const char *extra_name; /* or NULL */
	const char *extra_value;
	const void *body;
	size_t body_len;
};

struct amfa_aws_signed {
	char date[17];
	char ctype_h[100];
	char host_h[300];
	char date_h[40];
	char extra_h[120];
	char *token_h; /* secret */
	char *auth_h;
	const char *list[7]; /* "Name: value", NULL-ended: http.h's headers */
};

/* Sign `p' with `key' now.  0, or -1 (free `s' either way). */
int amfa_aws_sign_post(const struct amfa_aws_post *p,
    const struct amfa_aws_key *key, struct amfa_aws_signed *s);
/* Wipe the token header, free, and clear `s'. */
void amfa_aws_signed_free(struct amfa_aws_signed *s);

#endif
