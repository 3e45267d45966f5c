/* What every audit record is made of; see audit_json.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_json.h"
#include "text_out.h"

int
amfa_audit_time(const struct timespec *now, char out[AMFA_AUDIT_TIME_LEN])
{
	struct amfa_text t;
	struct tm tm;

	if (gmtime_r(&now->tv_sec, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return -1;
	/* "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", without snprintf (a
	 * fifth of the audit record's cost). */
	amfa_text_fixed(&t, out, AMFA_AUDIT_TIME_LEN);
	amfa_text_fixed_digits(&t, (uint64_t)(tm.tm_year + 1900), 4, 10);
	amfa_text_char(&t, '-');
	amfa_text_fixed_digits(&t, (uint64_t)(tm.tm_mon + 1), 2, 10);
	amfa_text_char(&t, '-');
	amfa_text_fixed_digits(&t, (uint64_t)tm.tm_mday, 2, 10);
	amfa_text_char(&t, 'T');
	amfa_text_fixed_digits(&t, (uint64_t)tm.tm_hour, 2, 10);
	amfa_text_char(&t, ':');
	amfa_text_fixed_digits(&t, (uint64_t)tm.tm_min, 2, 10);
	amfa_text_char(&t, ':');
	amfa_text_fixed_digits(&t, (uint64_t)tm.tm_sec, 2, 10);
	amfa_text_char(&t, '.');
	amfa_text_fixed_digits(&t,
	    (uint64_t)((now->tv_nsec / 1000000) % 1000 + 1000) % 1000, 3, 10);
	amfa_text_char(&t, 'Z');
	return amfa_text_end(&t) != NULL ? 0 : -1;
}

static int
add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
amfa_json_add_str(struct json_object *o, const char *key, const char *v)
{
	return v == NULL ? 0 : add(o, key, json_object_new_string(v));
}

int
amfa_json_add_int(struct json_object *o, const char *key, int64_t v)
{
	return add(o, key, json_object_new_int64(v));
}

int
amfa_json_add_bool(struct json_object *o, const char *key, int v)
{
	return add(o, key, json_object_new_boolean(v));
}

char *
amfa_json_line(struct json_object *o)
{
	/* Plain: one line; json-c escapes control characters. */
	const char *text = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return text != NULL ? strdup(text) : NULL;
}
