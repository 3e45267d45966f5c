/*
 * DynamoDB answers: amfa_ddb_parse_item (the Item of a GetItem answer) and
 * amfa_ddb_creds_parse_json (an IMDS credentials document, or the cache of
 * one) on arbitrary bytes.  What parses must hold only S and N attributes,
 * numbers as amfa_ddb_number_ok says, no NUL, no more than
 * AMFA_DDB_MAX_ATTRS, each name once.
 */
#include "aws/ddb_credentials.h"
#include "aws/dynamodb.h"
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
	struct amfa_ddb_item it;
	struct amfa_ddb_creds cr;
	enum amfa_ddb_result r;

	r = amfa_ddb_parse_item((const char *)data, size, &it);
	if (r != AMFA_DDB_OK && r != AMFA_DDB_NO_ITEM &&
	    r != AMFA_DDB_MALFORMED && r != AMFA_DDB_INTERNAL)
		abort();
	if (r != AMFA_DDB_OK && it.n != 0)
		abort();
	if (it.n > AMFA_DDB_MAX_ATTRS)
		abort();
	for (size_t i = 0; i < it.n; i++) {
		const char *v = it.attrs[i].value;

		if (it.attrs[i].name == NULL || v == NULL ||
		    it.attrs[i].name[0] == '\0')
			abort();
		if (it.attrs[i].type == AMFA_DDB_N &&
		    !amfa_ddb_number_ok(v, strlen(v)))
			abort();
		if (it.attrs[i].type != AMFA_DDB_N &&
		    it.attrs[i].type != AMFA_DDB_S)
			abort();
		if (amfa_ddb_item_get(&it, it.attrs[i].name,
			it.attrs[i].type) != v)
			abort();
	}
	amfa_ddb_item_free(&it);
	if (amfa_ddb_creds_parse_json((const char *)data, size, &cr) == 0) {
		if (cr.access_key_id == NULL || cr.secret_access_key == NULL ||
		    cr.session_token == NULL || cr.expires <= 0)
			abort();
		amfa_ddb_creds_free(&cr);
	} else if (cr.access_key_id != NULL || cr.secret_access_key != NULL) {
		abort();
	}
	return 0;
}
