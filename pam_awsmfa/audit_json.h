/*
 * What every audit record is made of, the module's (audit.c) and the
 * gateway's (gateway/audit.c) alike, so that one file can hold both: the
 * time stamp and the JSON fields.
 */
#ifndef AMFA_AUDIT_JSON_H
#define AMFA_AUDIT_JSON_H

#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#define AMFA_AUDIT_TIME_LEN 32

/* "2026-11-25T14:32:43.516Z" (UTC, milliseconds).  0, or -1. */
int amfa_audit_time(const struct timespec *now, char out[AMFA_AUDIT_TIME_LEN]);
/* Add a field; a NULL string is left out.  0, or -1 (out of memory). */
int amfa_json_add_str(struct json_object *o, const char *key, const char *v);
int amfa_json_add_int(struct json_object *o, const char *key, int64_t v);
int amfa_json_add_bool(struct json_object *o, const char *key, int v);
/* The one-line text of `o' (heap), or NULL. */
char *amfa_json_line(struct json_object *o);

#endif
