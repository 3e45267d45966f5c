/*
 * SigV4 canonicalisation of odd requests.  The input is split into lines:
 * the first byte picks normalize_path, then METHOD, PATH, QUERY (a line
 * "-" for none), header lines "name:value" up to an empty line, and the
 * rest is the payload.  amfa_sigv4_canonical_request, the string to sign,
 * the signature and the Authorization header must not crash, and what they
 * return must be sane: lowercase signed header names, a 64-hex signature.
 */
#include <ctype.h>

#include "aws/sigv4.h"
#include "fuzz_common.h"

#define MAX_HEADERS 16

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* The next line of *p (up to end), NUL-terminated in place. */
static char *
next_line(char **p, char *end)
{
	char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL)
		nl = end;
	*nl = '\0';
	*p = nl + 1;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amfa_sigv4_header h[MAX_HEADERS];
	struct amfa_sigv4_request r;
	struct amfa_aws_key key = { "AKIDEXAMPLE",
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL };
	char *buf, *p, *end, *line,
	    *canon = NULL, *signed_h = NULL, *sts, *auth, *enc, sig[65];
	size_t n = 0;

	if (size == 0)
		return 0;
	buf = fuzz_cstr(data + 1, size - 1);
	p = buf;
	end = buf + size - 1;
	memset(&r, 0, sizeof(r));
	r.normalize_path = data[0] & 1;
	if (data[0] & 2)
		key.session_token = "token";
	r.method = (line = next_line(&p, end)) ? line : "GET";
	r.path = (line = next_line(&p, end)) ? line : "/";
	line = next_line(&p, end);
	r.query = line == NULL || strcmp(line, "-") == 0 ? NULL : line;
	while (n < MAX_HEADERS && (line = next_line(&p, end)) != NULL &&
	    *line != '\0') {
		char *colon = strchr(line, ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		h[n].name = line;
		h[n].value = colon + 1;
		n++;
	}
	r.headers = h;
	r.nheaders = n;
	r.payload = p < end ? p : NULL;
	r.payload_len = p < end ? (size_t)(end - p) : 0;

	if (amfa_sigv4_canonical_request(&r, &canon, &signed_h) == 0) {
		if (canon == NULL || signed_h == NULL)
			abort();
		for (const char *s = signed_h; *s != '\0'; s++)
			if (isupper((unsigned char)*s))
				abort();
		sts = amfa_sigv4_string_to_sign("20150830T123600Z",
		    "20150830/us-east-1/sts/aws4_request", canon);
		if (sts == NULL)
			abort();
		if (amfa_sigv4_signature(key.secret_access_key,
			"20150830T123600Z", "us-east-1", "sts", sts,
			sig) != 0 ||
		    strlen(sig) != 64 || strspn(sig, "0123456789abcdef") != 64)
			abort();
		free(sts);
		auth = amfa_sigv4_authorization(&r, &key, "20150830T123600Z",
		    "us-east-1", "sts");
		free(auth);
	}
	free(canon);
	free(signed_h);
	for (int keep = 0; keep <= 1; keep++) {
		enc = amfa_sigv4_uri_encode((const char *)data, size, keep);
		if (enc == NULL)
			abort();
		for (const char *s = enc; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) &&
			    strchr("-_.~%", *s) == NULL && !(keep && *s == '/'))
				abort();
		free(enc);
	}
	free(buf);
	return 0;
}
