/*
 * The state table's item as the store reads it: amfa_ddb_parse_item, then
 * amfa_item_to_state (state_item.c) on arbitrary bytes.  What is taken
 * must be a state the files could hold (ranges of state.c), and its write
 * (amfa_item_write, from a fresh state and from itself) must build, with
 * every value named in an expression and no lowering accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "aws/dynamodb.h"
#include "fuzz_common.h"
#include "store/state_item.h"

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
	struct amfa_state st, fresh, lower;
	struct amfa_item_write w;
	uint64_t ver;
	const char *why;

	if (amfa_ddb_parse_item((const char *)data, size, &it) != AMFA_DDB_OK)
		return 0;
	if (amfa_item_to_state(&it, "alice", &st, &ver, &why) == 0) {
		if (why != NULL || ver < 1 || st.last_step < -1 ||
		    st.failures < 0 || st.failures > 1000000 ||
		    st.locked_until < 0 || st.last_success < 0 ||
		    st.ntokens < 0 || st.ntokens > AMFA_STATE_MAX_TOKENS ||
		    st.recovery_used > 0xffff ||
		    (st.recovery_gen == 0 && st.recovery_used != 0))
			abort();
		for (int i = 0; i < st.ntokens; i++) {
			if (st.tokens[i].session > 0xffff ||
			    st.tokens[i].use > 0xff)
				abort();
		}
		memset(&fresh, 0, sizeof(fresh));
		fresh.last_step = -1;
		if (amfa_item_write(&fresh, 0, 0, &st, 1, &w, &why) != 0)
			abort();
		if (ver < (uint64_t)INT64_MAX &&
		    amfa_item_write(&st, 1, ver, &st, 1, &w, &why) != 0)
			abort();
		for (size_t i = 0; i < w.nvalues; i++) {
			if (strstr(w.update, w.values[i].name) == NULL &&
			    strstr(w.condition, w.values[i].name) == NULL)
				abort();
		}
		if (st.last_step >= 0) {
			lower = st;
			lower.last_step = st.last_step - 1;
			if (amfa_item_write(&st, 1, 1, &lower, 1, &w, &why) ==
			    0)
				abort();
		}
	} else if (why == NULL) {
		abort();
	}
	amfa_ddb_item_free(&it);
	return 0;
}
