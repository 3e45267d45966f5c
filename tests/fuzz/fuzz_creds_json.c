/*
 * The credential_process JSON (the per-user store, read back by
 * awsmfa-creds): amfa_creds_from_json on arbitrary bytes.  What parses must
 * serialise and parse again to the same credentials.
 */
#include "aws/aws_time.h"
#include "creds/creds.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amfa_creds c, again;
	const char *why = NULL;
	char *buf = fuzz_cstr(data, size), *json;
	size_t len;
	time_t t;

	memset(&c, 0, sizeof(c));
	if (amfa_creds_from_json(buf, &c, &why) == 0) {
		if (c.access_key_id == NULL || c.secret_access_key == NULL ||
		    c.session_token == NULL ||
		    memchr(c.expiration, '\0', sizeof(c.expiration)) == NULL)
			abort();
		if ((json = amfa_creds_to_json(&c, &len)) == NULL)
			abort();
		memset(&again, 0, sizeof(again));
		if (amfa_creds_from_json(json, &again, &why) != 0 ||
		    strcmp(again.access_key_id, c.access_key_id) != 0 ||
		    strcmp(again.secret_access_key, c.secret_access_key) != 0 ||
		    strcmp(again.session_token, c.session_token) != 0 ||
		    again.expires != c.expires)
			abort();
		amfa_creds_free(&again);
		free(json);
		amfa_creds_free(&c);
	} else {
		if (why == NULL)
			abort();
		amfa_creds_free(&c);
	}
	(void)amfa_parse_iso8601(buf, &t);
	free(buf);
	return 0;
}
