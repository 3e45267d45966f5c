/*
 * The per-user state file: amfa_state_parse and amfa_state_file_parse (the
 * earlier text or two slots) on arbitrary bytes.  Whatever parses must
 * format back and parse again to the same state (what the module writes it
 * can read), as text and as a slot.  Inputs of a state file's size are
 * also tried with their first slot made valid, so that the fuzzer reaches
 * the choice between two slots.
 */
#include "fuzz_common.h"
#include "store/state.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* The same state, as a slot file of sequence number `seq'. */
static void
slot_again(const struct amfa_state *st, uint64_t seq)
{
	char file[AMFA_STATE_FILE_SIZE];
	struct amfa_state again;
	enum amfa_state_form form;
	uint64_t got;
	const char *why;

	memset(file, '\n', sizeof(file));
	if (amfa_state_slot_format(st, seq,
		file + (seq % 2) * AMFA_STATE_SLOT_SIZE) != 0 ||
	    amfa_state_file_parse(file, sizeof(file), &again, &form, &got,
		&why) != 0 ||
	    form != AMFA_STATE_SLOTS || got != seq ||
	    again.last_step != st->last_step ||
	    again.failures != st->failures || again.ntokens != st->ntokens)
		abort();
}

static void
file_form(const char *buf, size_t size)
{
	struct amfa_state st, fixed;
	enum amfa_state_form form;
	char file[AMFA_STATE_FILE_SIZE];
	const char *why = NULL;
	uint64_t seq = 0;

	if (amfa_state_file_parse(buf, size, &st, &form, &seq, &why) == 0) {
		if (why != NULL)
			abort();
		slot_again(&st, seq + 1);
	} else if (why == NULL) {
		abort();
	}
	if (size != AMFA_STATE_FILE_SIZE)
		return;
	/* Slot 0 made valid: the state is slot 0's or a later slot 1's. */
	memcpy(file, buf, sizeof(file));
	memset(&fixed, 0, sizeof(fixed));
	fixed.last_step = 42;
	if (amfa_state_slot_format(&fixed, 2, file) != 0 ||
	    amfa_state_file_parse(file, sizeof(file), &st, &form, &seq, &why) !=
		0 ||
	    (seq == 2 && st.last_step != 42) ||
	    (seq != 2 && (int64_t)(seq - 2) <= 0))
		abort();
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
	file_form(buf, size);
	free(buf);
	return 0;
}
