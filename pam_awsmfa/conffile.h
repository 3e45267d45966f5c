/*
 * The `key = value' file format shared by awsmfa.conf and the per-user
 * files, driven by an option table (one row per key).  Every error names the
 * file and the line and makes the whole file fail: no half-read config.
 */
#ifndef AMFA_CONFFILE_H
#define AMFA_CONFFILE_H

#include <stddef.h>

enum amfa_opt_type {
	AMFA_OPT_STRING, /* char * at `off', heap-owned */
	AMFA_OPT_INT,	 /* long at `off', within [min, max] */
	AMFA_OPT_CHOICE, /* int at `off', index into `choices' */
	AMFA_OPT_CUSTOM	 /* `parse' does the work */
};

#define AMFA_OPT_SECRET 0x1 /* value is a secret: never echoed */
#define AMFA_OPT_MULTI	0x2 /* may appear more than once */

struct amfa_opt;
typedef int amfa_opt_parse_fn(void *obj, const struct amfa_opt *opt,
    const char *value, const char *where);

struct amfa_opt {
	const char *key;
	enum amfa_opt_type type;
	size_t off;
	long min, max;
	const char *const *choices; /* NULL-terminated */
	unsigned flags;
	amfa_opt_parse_fn *parse;
	/* Optional check of a string's syntax; returns a reason or NULL. */
	const char *(*check)(const char *value);
};

#define AMFA_CONF_MAX_LINE 4096
#define AMFA_CONF_MAX_SIZE (64 * 1024)

/*
 * Parse `buf' (`len' bytes, NUL-terminated) named `shown' into `obj' by
 * `opts' (`nopts' rows).  Returns 0 or -1 (each problem logged as
 * "FILE:LINE: reason").
 */
int amfa_conf_parse(const char *buf, size_t len, const char *shown,
    const struct amfa_opt *opts, size_t nopts, void *obj);

/* Strip blanks (and a trailing CR) from both ends, in place. */
char *amfa_conf_trim(char *s);

/* Free (and wipe, for secrets) the strings an option table filled in. */
void amfa_conf_free(const struct amfa_opt *opts, size_t nopts, void *obj);

#endif
