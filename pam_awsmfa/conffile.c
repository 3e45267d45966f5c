/* The key = value config format; see conffile.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "log.h"
#include "secure_file.h"

static int
is_key_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static const struct amfa_opt *
find_opt(const struct amfa_opt *opts, size_t nopts, const char *key,
    size_t *idx)
{
	for (size_t i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, key) == 0) {
			*idx = i;
			return &opts[i];
		}
	}
	return NULL;
}

static int
parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (*s == '\0' || !(isdigit((unsigned char)*s) || *s == '-'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
apply(void *obj, const struct amfa_opt *opt, const char *value,
    const char *where)
{
	char *base = obj;
	const char *why;
	long v;

	switch (opt->type) {
	case AMFA_OPT_STRING:
		if (opt->check != NULL && (why = opt->check(value)) != NULL) {
			amfa_log(LOG_ERR, "%s: %s: %s", where, opt->key, why);
			return -1;
		}
		if ((*(char **)(base + opt->off) = strdup(value)) == NULL) {
			amfa_log(LOG_ERR, "%s: out of memory", where);
			return -1;
		}
		return 0;
	case AMFA_OPT_INT:
		if (parse_long(value, &v) != 0 || v < opt->min ||
		    v > opt->max) {
			amfa_log(LOG_ERR,
			    "%s: %s must be a whole number from "
			    "%ld to %ld",
			    where, opt->key, opt->min, opt->max);
			return -1;
		}
		*(long *)(base + opt->off) = v;
		return 0;
	case AMFA_OPT_CHOICE:
		for (int i = 0; opt->choices[i] != NULL; i++) {
			if (strcmp(opt->choices[i], value) == 0) {
				*(int *)(base + opt->off) = i;
				return 0;
			}
		}
		amfa_log(LOG_ERR, "%s: %s: unknown value \"%s\"", where,
		    opt->key, value);
		return -1;
	case AMFA_OPT_CUSTOM:
		return opt->parse(obj, opt, value, where);
	}
	return -1;
}

char *
amfa_conf_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One line: 0 ok, -1 bad (logged). */
static int
parse_line(char *line, const char *where, const struct amfa_opt *opts,
    size_t nopts, unsigned char *seen, void *obj)
{
	const struct amfa_opt *opt;
	char *key, *value, *eq, *p;
	size_t idx;

	for (p = line; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p) && *p != '\t' && *p != '\r') {
			amfa_log(LOG_ERR, "%s: control character in line",
			    where);
			return -1;
		}
	}
	key = amfa_conf_trim(line);
	if (*key == '\0' || *key == '#')
		return 0;
	if ((eq = strchr(key, '=')) == NULL) {
		amfa_log(LOG_ERR, "%s: expected \"key = value\"", where);
		return -1;
	}
	*eq = '\0';
	value = amfa_conf_trim(eq + 1);
	key = amfa_conf_trim(key);
	for (p = key; *p != '\0'; p++) {
		if (!is_key_char((unsigned char)*p))
			break;
	}
	if (*key == '\0' || *p != '\0') {
		amfa_log(LOG_ERR, "%s: bad key name", where);
		return -1;
	}
	if ((opt = find_opt(opts, nopts, key, &idx)) == NULL) {
		amfa_log(LOG_ERR, "%s: unknown key \"%s\"", where, key);
		return -1;
	}
	if (*value == '\0') {
		amfa_log(LOG_ERR, "%s: %s has no value", where, key);
		return -1;
	}
	if (seen[idx] && !(opt->flags & AMFA_OPT_MULTI)) {
		amfa_log(LOG_ERR, "%s: %s given more than once", where, key);
		return -1;
	}
	seen[idx] = 1;
	return apply(obj, opt, value, where);
}

/* "FILE:LINE" for messages, made for every line (snprintf's cost was a
 * good part of reading a configuration); a long FILE loses its end, never
 * the line number. */
static void
where_is(char *where, size_t size, const char *shown, unsigned lineno)
{
	char digits[12];
	size_t n = 0, len = strlen(shown);

	do {
		digits[n++] = (char)('0' + lineno % 10);
		lineno /= 10;
	} while (lineno != 0);
	if (len > size - n - 2)
		len = size - n - 2;
	memcpy(where, shown, len);
	where[len++] = ':';
	while (n > 0)
		where[len++] = digits[--n];
	where[len] = '\0';
}

int
amfa_conf_parse(const char *buf, size_t len, const char *shown,
    const struct amfa_opt *opts, size_t nopts, void *obj)
{
	char line[AMFA_CONF_MAX_LINE + 1];
	char where[512];
	unsigned char *seen;
	const char *p = buf, *end = buf + len, *nl;
	unsigned lineno = 0;
	size_t n, longest = 0;
	int rc = 0;

	if (memchr(buf, '\0', len) != NULL) {
		amfa_log(LOG_ERR, "%s: contains a NUL byte", shown);
		return -1;
	}
	if ((seen = calloc(nopts ? nopts : 1, 1)) == NULL)
		return -1;
	while (p < end && rc == 0) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		where_is(where, sizeof(where), shown, lineno);
		if (n > AMFA_CONF_MAX_LINE) {
			amfa_log(LOG_ERR, "%s: line longer than %d bytes",
			    where, AMFA_CONF_MAX_LINE);
			rc = -1;
			break;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		if (n > longest)
			longest = n;
		rc = parse_line(line, where, opts, nopts, seen, obj);
		p = nl ? nl + 1 : end;
	}
	/* What any line put there (the rest was never written). */
	explicit_bzero(line, longest + 1);
	free(seen);
	return rc;
}

void
amfa_conf_free(const struct amfa_opt *opts, size_t nopts, void *obj)
{
	char *base = obj;

	for (size_t i = 0; i < nopts; i++) {
		if (opts[i].type != AMFA_OPT_STRING)
			continue;
		char **sp = (char **)(base + opts[i].off);
		if (opts[i].flags & AMFA_OPT_SECRET)
			amfa_wipe_free_str(*sp);
		else
			free(*sp);
		*sp = NULL;
	}
}
