/*
 * Shared bits of the libFuzzer harnesses: a log sink that formats and
 * discards (the core's messages are still built, so format bugs show, but
 * the fuzzer's output stays readable), and a NUL-terminated copy of the
 * input for the parsers that take C strings.
 */
#ifndef AMFA_FUZZ_COMMON_H
#define AMFA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline void
fuzz_log_sink(void *ctx, int priority, const char *msg)
{
	/* Touch every byte so ASan sees a bad message buffer. */
	volatile size_t n = strlen(msg);

	(void)ctx;
	(void)priority;
	(void)n;
}

static inline void
fuzz_quiet(void)
{
	amfa_log_set_sink(fuzz_log_sink, NULL);
	amfa_log_set_debug(1);
}

/* A heap copy of data with a NUL after it (exactly size + 1 bytes, so an
 * overread past the terminator is caught). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
