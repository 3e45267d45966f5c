/*
 * A flat JSON object written as one line: the audit records of the module
 * (audit.c) and of the gateway (gateway/audit.c), which are written at
 * every login and every gateway event.  json-c built the same text from a
 * tree of objects, at 17,000 instructions a login; the tests hold this
 * writer to json-c's text byte for byte (tests/unit/test_json_line.c).
 *
 * Strings are escaped as json-c's JSON_C_TO_STRING_NOSLASHESCAPE does:
 * '"', '\\' and \b \f \n \r \t by their short forms, other bytes below
 * 0x20 as \u00XX, every other byte as it is.  Keys are the caller's
 * constants and are escaped the same way.
 */
#ifndef AMFA_JSON_LINE_H
#define AMFA_JSON_LINE_H

#include <stdint.h>

#include "text_out.h"

struct amfa_json_line {
	struct amfa_text t;
	int fields;
};

void amfa_jl_begin(struct amfa_json_line *j);
/* A field; a NULL string is left out. */
void amfa_jl_str(struct amfa_json_line *j, const char *key, const char *v);
void amfa_jl_int(struct amfa_json_line *j, const char *key, int64_t v);
void amfa_jl_bool(struct amfa_json_line *j, const char *key, int v);
/* The line (heap, no newline), or NULL (out of memory). */
char *amfa_jl_end(struct amfa_json_line *j);

#endif
