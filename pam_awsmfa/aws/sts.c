/* STS GetSessionToken and AssumeRole; see sts.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_query.h"
#include "aws_time.h"
#include "log.h"
#include "secure_file.h"
#include "sts.h"

#define STS_VERSION   "2011-06-15"
#define STS_NAMESPACE "https://sts.amazonaws.com/doc/2011-06-15/"

/* Which refusal is it?  AWS's codes first, its message only to split
 * AccessDenied (wrong code vs. a serial that is not the caller's). */
static enum amfa_sts_result
classify_refusal(const struct amfa_aws_answer *a)
{
	if (strcmp(a->code, "InvalidClientTokenId") == 0)
		return AMFA_STS_BAD_KEY;
	if (strcmp(a->code, "SignatureDoesNotMatch") == 0)
		return AMFA_STS_BAD_SECRET;
	if (strcmp(a->code, "ExpiredToken") == 0)
		return AMFA_STS_EXPIRED;
	if (strcmp(a->code, "AccessDenied") != 0)
		return AMFA_STS_REFUSED;
	if (strstr(a->message, "MultiFactorAuthentication") == NULL)
		return AMFA_STS_DENIED;
	if (strstr(a->message, "serial number") != NULL ||
	    strstr(a->message, "must provide both") != NULL)
		return AMFA_STS_BAD_SERIAL;
	return a->sent_before ? AMFA_STS_CODE_CONSUMED : AMFA_STS_BAD_CODE;
}

/* Is this the answer to `action', in STS's namespace? */
static int
is_answer_to(xmlDocPtr doc, const char *action)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	const char *name;
	size_t n = strlen(action);

	if (root == NULL || root->ns == NULL || root->ns->href == NULL ||
	    strcmp((const char *)root->ns->href, STS_NAMESPACE) != 0)
		return 0;
	name = (const char *)root->name;
	return strncmp(name, action, n) == 0 &&
	    strcmp(name + n, "Response") == 0;
}

/* The text at ACTIONResult/`rest', or NULL. */
static char *
result_text(xmlDocPtr doc, const char *action, const char *rest)
{
	char path[128];

	if ((size_t)snprintf(path, sizeof(path), "%sResult/%s", action, rest) >=
	    sizeof(path))
		return NULL;
	return amfa_aws_xml_text(doc, path);
}

/* Take the credentials out of the answer to `action'. */
static enum amfa_sts_result
take_credentials(xmlDocPtr doc, const char *action,
    struct amfa_sts_credentials *out)
{
	char *exp;

	if (!is_answer_to(doc, action))
		return AMFA_STS_MALFORMED;

	out->access_key_id = result_text(doc, action,
	    "Credentials/AccessKeyId");
	out->secret_access_key = result_text(doc, action,
	    "Credentials/SecretAccessKey");
	out->session_token = result_text(doc, action,
	    "Credentials/SessionToken");
	exp = result_text(doc, action, "Credentials/Expiration");
	if (out->access_key_id == NULL || out->secret_access_key == NULL ||
	    out->session_token == NULL || exp == NULL ||
	    out->access_key_id[0] == '\0' || strlen(out->access_key_id) > 128 ||
	    out->secret_access_key[0] == '\0' ||
	    out->session_token[0] == '\0' ||
	    strlen(exp) >= sizeof(out->expiration) ||
	    amfa_parse_iso8601(exp, &out->expires) != 0) {
		free(exp);
		amfa_sts_credentials_free(out);
		return AMFA_STS_MALFORMED;
	}
	/* Only printable ASCII without spaces goes into environments and
	 * files: a line break in a token would forge variables. */
	if (!amfa_sts_field_ok(out->access_key_id) ||
	    !amfa_sts_field_ok(out->secret_access_key) ||
	    !amfa_sts_field_ok(out->session_token) || !amfa_sts_field_ok(exp)) {
		free(exp);
		amfa_sts_credentials_free(out);
		return AMFA_STS_MALFORMED;
	}
	snprintf(out->expiration, sizeof(out->expiration), "%s", exp);
	free(exp);
	if (strcmp(action, "AssumeRole") != 0)
		return AMFA_STS_OK;
	/* The assumed role's ARN is for logs and audit records only, but a
	 * strange one is as suspect as a strange key. */
	out->assumed_role_arn = result_text(doc, action, "AssumedRoleUser/Arn");
	if (out->assumed_role_arn == NULL ||
	    strlen(out->assumed_role_arn) > 2048 ||
	    strncmp(out->assumed_role_arn, "arn:", 4) != 0 ||
	    !amfa_sts_field_ok(out->assumed_role_arn)) {
		amfa_sts_credentials_free(out);
		return AMFA_STS_MALFORMED;
	}
	return AMFA_STS_OK;
}

/*
 * `action' and `about' name the call in the log: "GetSessionToken" and
 * "serial SERIAL", "AssumeRole" and "role ARN".
 */
static void
log_outcome(const struct amfa_sts_config *c, const char *action,
    const char *about, enum amfa_sts_result r, const struct amfa_aws_answer *a)
{
	switch (a->status) {
	case AMFA_AWS_REFUSED:
		amfa_log(r == AMFA_STS_BAD_CODE ? LOG_NOTICE : LOG_ERR,
		    "STS %s (%s, %s): %s: %s: \"%s\" "
		    "(request id %s)",
		    action, c->endpoint, about, amfa_sts_result_str(r), a->code,
		    a->message, a->request_id[0] ? a->request_id : "none");
		break;
	case AMFA_AWS_OK:
		if (r != AMFA_STS_OK)
			amfa_log(LOG_ERR,
			    "STS %s (%s, %s): %s "
			    "(request id %s)",
			    action, c->endpoint, about, amfa_sts_result_str(r),
			    a->request_id);
		break;
	default:
		amfa_log(LOG_ERR,
		    "STS %s (%s, %s): %s after %d "
		    "tr%s in %ld ms%s%s",
		    action, c->endpoint, about, amfa_sts_result_str(r),
		    a->tries, a->tries == 1 ? "y" : "ies", c->timeout_ms,
		    a->detail[0] ? ": " : "", a->detail);
		break;
	}
}

static void
endpoint_of(const struct amfa_sts_config *c, struct amfa_aws_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->url = c->endpoint;
	ep->region = c->region;
	ep->service = "sts";
	ep->version = STS_VERSION;
	ep->ca_file = c->ca_file;
	ep->timeout_ms = c->timeout_ms;
}

/* The outcome of a query, with the credentials of a 200 taken. */
static enum amfa_sts_result
outcome(struct amfa_aws_answer *a, enum amfa_aws_status st, const char *action,
    struct amfa_sts_credentials *out)
{
	switch (st) {
	case AMFA_AWS_OK:
		return take_credentials(a->doc, action, out);
	case AMFA_AWS_REFUSED:
		return classify_refusal(a);
	case AMFA_AWS_TLS:
		return AMFA_STS_TLS;
	case AMFA_AWS_UNREACHABLE:
		return AMFA_STS_UNREACHABLE;
	default:
		return AMFA_STS_INTERNAL;
	}
}

enum amfa_sts_result
amfa_sts_get_session_token(const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out)
{
	struct amfa_aws_endpoint ep;
	struct amfa_aws_answer a;
	struct amfa_aws_param p[3];
	char duration[16], about[300];
	enum amfa_sts_result r;

	memset(out, 0, sizeof(*out));
	if (key->access_key_id == NULL || key->secret_access_key == NULL ||
	    serial == NULL || code == NULL) {
		amfa_log(LOG_ERR,
		    "STS GetSessionToken: no long-term key or "
		    "MFA serial configured");
		return AMFA_STS_INTERNAL;
	}
	snprintf(duration, sizeof(duration), "%ld", c->duration);
	p[0] = (struct amfa_aws_param){ "DurationSeconds", duration };
	p[1] = (struct amfa_aws_param){ "SerialNumber", serial };
	p[2] = (struct amfa_aws_param){ "TokenCode", code };
	endpoint_of(c, &ep);
	r = outcome(&a, amfa_aws_query(&ep, key, "GetSessionToken", p, 3, &a),
	    "GetSessionToken", out);
	if (r == AMFA_STS_OK)
		snprintf(out->request_id, sizeof(out->request_id), "%s",
		    a.request_id);
	snprintf(about, sizeof(about), "serial %s", serial);
	log_outcome(c, "GetSessionToken", about, r, &a);
	amfa_aws_answer_free(&a);
	return r;
}

enum amfa_sts_result
amfa_sts_assume_role(const struct amfa_sts_config *c,
    const struct amfa_aws_key *session, const struct amfa_sts_role_request *req,
    struct amfa_sts_credentials *out, struct amfa_sts_error *err)
{
	struct amfa_aws_endpoint ep;
	struct amfa_aws_answer a;
	struct amfa_aws_param p[5];
	char duration[16], about[2100];
	enum amfa_sts_result r;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (session->access_key_id == NULL ||
	    session->secret_access_key == NULL ||
	    session->session_token == NULL || req->role_arn == NULL ||
	    req->session_name == NULL) {
		amfa_log(LOG_ERR,
		    "STS AssumeRole: no session credentials or no role");
		return AMFA_STS_INTERNAL;
	}
	snprintf(duration, sizeof(duration), "%ld", req->duration);
	p[n++] = (struct amfa_aws_param){ "RoleArn", req->role_arn };
	p[n++] = (struct amfa_aws_param){ "RoleSessionName",
		req->session_name };
	p[n++] = (struct amfa_aws_param){ "DurationSeconds", duration };
	if (req->source_identity != NULL)
		p[n++] = (struct amfa_aws_param){ "SourceIdentity",
			req->source_identity };
	if (req->external_id != NULL)
		p[n++] = (struct amfa_aws_param){ "ExternalId",
			req->external_id };
	endpoint_of(c, &ep);
	r = outcome(&a, amfa_aws_query(&ep, session, "AssumeRole", p, n, &a),
	    "AssumeRole", out);
	if (r == AMFA_STS_OK)
		snprintf(out->request_id, sizeof(out->request_id), "%s",
		    a.request_id);
	if (err != NULL) {
		snprintf(err->code, sizeof(err->code), "%s", a.code);
		snprintf(err->message, sizeof(err->message), "%s", a.message);
		snprintf(err->request_id, sizeof(err->request_id), "%s",
		    a.request_id);
	}
	snprintf(about, sizeof(about), "role %s", req->role_arn);
	log_outcome(c, "AssumeRole", about, r, &a);
	amfa_aws_answer_free(&a);
	return r;
}

enum amfa_sts_result
amfa_sts_parse_assume_role(const char *buf, size_t len,
    struct amfa_sts_credentials *out)
{
	enum amfa_sts_result r;
	xmlDocPtr doc;

	memset(out, 0, sizeof(*out));
	if ((doc = amfa_aws_xml_parse(buf, len)) == NULL)
		return AMFA_STS_MALFORMED;
	r = take_credentials(doc, "AssumeRole", out);
	amfa_aws_xml_free(doc);
	return r;
}
