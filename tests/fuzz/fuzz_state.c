/*
 * The per-user state file: amfa_state_parse on arbitrary bytes.  Whatever
 * parses must format back and parse again to the same state (what the
 * module writes it can read).
 */
#include "fuzz_common.h"
#include "state.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amfa_state st, again;
	char out[8192 + 1];
	const char *why = NULL;
	char *buf = fuzz_cstr(data, size);

	if (amfa_state_parse(buf, size, &st, &why) == 0) {
		if (why != NULL || st.ntokens < 0 ||
		    st.ntokens > AMFA_STATE_MAX_TOKENS || st.last_step < -1 ||
		    st.failures < 0)
			abort();
		if (amfa_state_format(&st, out, sizeof(out)) != 0)
			abort();
		if (amfa_state_parse(out, strlen(out), &again, &why) != 0 ||
		    again.last_step != st.last_step ||
		    again.failures != st.failures ||
		    again.locked_until != st.locked_until ||
		    again.last_success != st.last_success ||
		    again.ntokens != st.ntokens)
			abort();
		for (int i = 0; i < st.ntokens; i++) {
			if (strcmp(again.tokens[i].public_id,
				st.tokens[i].public_id) != 0 ||
			    again.tokens[i].session != st.tokens[i].session ||
			    again.tokens[i].use != st.tokens[i].use)
				abort();
		}
	} else if (why == NULL) {
		abort(); /* every refusal says why */
	}
	free(buf);
	return 0;
}
