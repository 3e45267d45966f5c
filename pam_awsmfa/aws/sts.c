/* STS GetSessionToken; see sts.h. */
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
#define RESULT	      "GetSessionTokenResult/Credentials/"

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

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

/* Is this the answer to GetSessionToken, in STS's namespace? */
static int
is_session_token_answer(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	return root != NULL && root->ns != NULL && root->ns->href != NULL &&
	    strcmp((const char *)root->name, "GetSessionTokenResponse") == 0 &&
	    strcmp((const char *)root->ns->href, STS_NAMESPACE) == 0;
}

/* Take the credentials out of a GetSessionToken answer. */
static enum amfa_sts_result
take_credentials(xmlDocPtr doc, struct amfa_sts_credentials *out)
{
	char *exp;

	if (!is_session_token_answer(doc))
		return AMFA_STS_MALFORMED;

	out->access_key_id = amfa_aws_xml_text(doc, RESULT "AccessKeyId");
	out->secret_access_key = amfa_aws_xml_text(doc,
	    RESULT "SecretAccessKey");
	out->session_token = amfa_aws_xml_text(doc, RESULT "SessionToken");
	exp = amfa_aws_xml_text(doc, RESULT "Expiration");
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
	if (!printable(out->access_key_id) ||
	    !printable(out->secret_access_key) ||
	    !printable(out->session_token) || !printable(exp)) {
		free(exp);
		amfa_sts_credentials_free(out);
		return AMFA_STS_MALFORMED;
	}
	snprintf(out->expiration, sizeof(out->expiration), "%s", exp);
	free(exp);
	return AMFA_STS_OK;
}

static void
log_outcome(const struct amfa_sts_config *c, const char *serial,
    enum amfa_sts_result r, const struct amfa_aws_answer *a)
{
	switch (a->status) {
	case AMFA_AWS_REFUSED:
		amfa_log(r == AMFA_STS_BAD_CODE ? LOG_NOTICE : LOG_ERR,
		    "STS GetSessionToken (%s, serial %s): %s: %s: \"%s\" "
		    "(request id %s)",
		    c->endpoint, serial, amfa_sts_result_str(r), a->code,
		    a->message, a->request_id[0] ? a->request_id : "none");
		break;
	case AMFA_AWS_OK:
		if (r != AMFA_STS_OK)
			amfa_log(LOG_ERR,
			    "STS GetSessionToken (%s): %s "
			    "(request id %s)",
			    c->endpoint, amfa_sts_result_str(r), a->request_id);
		break;
	default:
		amfa_log(LOG_ERR,
		    "STS GetSessionToken (%s): %s after %d "
		    "tr%s in %ld ms%s%s",
		    c->endpoint, amfa_sts_result_str(r), a->tries,
		    a->tries == 1 ? "y" : "ies", c->timeout_ms,
		    a->detail[0] ? ": " : "", a->detail);
		break;
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
	char duration[16];
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
	memset(&ep, 0, sizeof(ep));
	ep.url = c->endpoint;
	ep.region = c->region;
	ep.service = "sts";
	ep.version = STS_VERSION;
	ep.ca_file = c->ca_file;
	ep.timeout_ms = c->timeout_ms;
	switch (amfa_aws_query(&ep, key, "GetSessionToken", p, 3, &a)) {
	case AMFA_AWS_OK:
		r = take_credentials(a.doc, out);
		break;
	case AMFA_AWS_REFUSED:
		r = classify_refusal(&a);
		break;
	case AMFA_AWS_TLS:
		r = AMFA_STS_TLS;
		break;
	case AMFA_AWS_UNREACHABLE:
		r = AMFA_STS_UNREACHABLE;
		break;
	default:
		r = AMFA_STS_INTERNAL;
		break;
	}
	log_outcome(c, serial, r, &a);
	amfa_aws_answer_free(&a);
	return r;
}
