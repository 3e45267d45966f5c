/* A flat JSON object written as one line; see json_line.h. */
#include <string.h>

#include "json_line.h"

void
amfa_jl_begin(struct amfa_json_line *j)
{
	amfa_text_heap(&j->t);
	j->fields = 0;
	amfa_text_char(&j->t, '{');
}

/* s as a JSON string, quotes included. */
static void
quoted(struct amfa_text *t, const char *s)
{
	static const char hexd[] = "0123456789abcdef";
	const char *run = s;
	char esc[6];

	amfa_text_char(t, '"');
	for (;; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = NULL;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* The bytes before this one go out as they are. */
		amfa_text_put(t, run, (size_t)(s - run));
		if (c == '\0')
			break;
		switch (c) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		}
		if (e != NULL) {
			amfa_text_put(t, e, 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			amfa_text_put(t, esc, 6);
		}
		run = s + 1;
	}
	amfa_text_char(t, '"');
}

static void
key(struct amfa_json_line *j, const char *k)
{
	if (j->fields++ > 0)
		amfa_text_char(&j->t, ',');
	quoted(&j->t, k);
	amfa_text_char(&j->t, ':');
}

void
amfa_jl_str(struct amfa_json_line *j, const char *k, const char *v)
{
	if (v == NULL)
		return;
	key(j, k);
	quoted(&j->t, v);
}

void
amfa_jl_int(struct amfa_json_line *j, const char *k, int64_t v)
{
	key(j, k);
	amfa_text_i64(&j->t, v);
}

void
amfa_jl_bool(struct amfa_json_line *j, const char *k, int v)
{
	key(j, k);
	amfa_text_str(&j->t, v ? "true" : "false");
}

char *
amfa_jl_end(struct amfa_json_line *j)
{
	amfa_text_char(&j->t, '}');
	return amfa_text_end(&j->t);
}
