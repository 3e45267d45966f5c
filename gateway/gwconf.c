/* Reading gateway.conf; see gwconf.h and policy.h for the grammar. */
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"
#include "config.h"
#include "gwconf.h"
#include "log.h"
#include "secure_file.h"

#define MAX_TOKENS 16
#define MAX_LINE   4096

/*
 * Split a line into words.  Blanks next to a comma are dropped first, so
 * "alice, bob" is the one word "alice,bob".
 */
static int
tokenize(char *line, char **tok, int max)
{
	char *r = line, *w = line;
	int n = 0;

	for (; *r != '\0'; r++) {
		if (*r == ' ' || *r == '\t') {
			char *q = r;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == ',' || (w > line && w[-1] == ',')) {
				r = q - 1;
				continue;
			}
		}
		*w++ = *r;
	}
	*w = '\0';
	for (r = line; *r != '\0';) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '\0')
			break;
		if (n == max)
			return -1;
		tok[n++] = r;
		while (*r != '\0' && *r != ' ' && *r != '\t')
			r++;
		if (*r != '\0')
			*r++ = '\0';
	}
	return n;
}

/* Split a comma list into heap copies.  0 or -1 (`why' set). */
static int
split_list(const char *s, char ***out, size_t *n, const char **why)
{
	char **v = NULL;
	size_t cnt = 0;
	const char *p = s, *c;

	*out = NULL;
	*n = 0;
	for (;;) {
		c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		char **nv;

		if (len == 0) {
			*why = "empty item in a list";
			goto fail;
		}
		if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL)
			goto nomem;
		v = nv;
		if ((v[cnt] = strndup(p, len)) == NULL)
			goto nomem;
		cnt++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	*out = v;
	*n = cnt;
	return 0;
nomem:
	*why = "out of memory";
fail:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return -1;
}

static void
free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Login and group names: the characters useradd(8) allows, or "*". */
static const char *
check_name(const char *s)
{
	if (strcmp(s, "*") == 0)
		return NULL;
	if (strlen(s) > 64)
		return "name longer than 64 characters";
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-@$", *p) == NULL)
			return "bad character in a user or group name";
	if (s[0] == '-')
		return "a name must not start with '-'";
	return NULL;
}

/*
 * A host-name pattern: DNS characters and the glob characters, and a form
 * that can match a name as the gateway has it (command.c: no leading dot,
 * no empty label, every trailing dot stripped).  A pattern that never
 * matches would be a rule that silently never applies.
 */
static const char *
check_glob(const char *s)
{
	int digit = 0, dot = 0, other = 0, inbr = 0;

	if (strlen(s) > 253)
		return "host pattern longer than 253 characters";
	for (const char *p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr(".-_*?[]!", *p) == NULL)
			return "bad character in a host pattern";
		if (*p == '[' || *p == ']')
			inbr = *p == '[';
		if (isdigit((unsigned char)*p))
			digit = 1;
		else if (*p == '.')
			dot = 1;
		else if (strchr("*?[]!", *p) == NULL && !(inbr && *p == '-'))
			other = 1;
	}
	if (s[0] == '.')
		return "a host pattern never starts with '.' (host names do "
		       "not; for a domain and its hosts write *.example.com)";
	if (s[strlen(s) - 1] == '.')
		return "a host pattern never ends with '.' (trailing dots are "
		       "stripped from the names it is matched against)";
	if (strstr(s, "..") != NULL)
		return "empty label in a host pattern";
	/*
	 * "10.*", "192.168.1.?": a name pattern matches host names only,
	 * never the address a name resolves to or a literal address.
	 */
	if (digit && dot && !other)
		return "looks like an address, but a host pattern matches host "
		       "names only: write an address range in CIDR notation "
		       "(10.0.0.0/8)";
	return NULL;
}

/*
 * Addresses are compared with IPv4-mapped IPv6 ones turned into IPv4
 * (policy.c), so a range inside ::ffff:0:0/96 would never match.
 */
static int
ipv4_mapped_range(const struct gw_addr *net, unsigned prefix)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	return net->family == AF_INET6 && prefix >= 96 &&
	    memcmp(net->a, mapped, sizeof(mapped)) == 0;
}

static int
parse_port(const char *s, const char **end, unsigned *out)
{
	unsigned long v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -1;
		p++;
	}
	if (v == 0)
		return -1;
	*end = p;
	*out = (unsigned)v;
	return 0;
}

static int
parse_hosts(const char *list, struct gw_rule *r, const char **why)
{
	char **items;
	size_t n;

	if (split_list(list, &items, &n, why) != 0)
		return -1;
	if ((r->hosts = calloc(n, sizeof(*r->hosts))) == NULL) {
		free_list(items, n);
		*why = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct gw_host_pat *h = &r->hosts[r->nhosts];

		if (gw_cidr_parse(items[i], &h->net, &h->prefix) == 0) {
			if (ipv4_mapped_range(&h->net, h->prefix)) {
				*why =
				    "an IPv4-mapped IPv6 range "
				    "(::ffff:a.b.c.d/n) never matches: addresses "
				    "are compared as IPv4, write the IPv4 range "
				    "(a.b.c.d/n-96)";
				free_list(items, n);
				return -1;
			}
			h->kind = GW_HOST_CIDR;
			r->nhosts++;
			continue;
		}
		/* Digits, dots, ':' or '/' and no glob: a broken address. */
		if (strchr(items[i], '/') != NULL ||
		    strchr(items[i], ':') != NULL ||
		    strspn(items[i], "0123456789.") == strlen(items[i])) {
			*why = "not a valid address or address range (CIDR, "
			       "with no host bits set)";
			free_list(items, n);
			return -1;
		}
		if ((*why = check_glob(items[i])) != NULL) {
			free_list(items, n);
			return -1;
		}
		h->kind = GW_HOST_NAME;
		for (char *p = items[i]; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		h->glob = items[i];
		items[i] = NULL;
		r->nhosts++;
	}
	free_list(items, n);
	return 0;
}

static int
parse_ports(const char *list, struct gw_rule *r, const char **why)
{
	char **items;
	size_t n;
	const char *end;

	if (split_list(list, &items, &n, why) != 0)
		return -1;
	if ((r->ports = calloc(n, sizeof(*r->ports))) == NULL) {
		free_list(items, n);
		*why = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct gw_port_range *pr = &r->ports[i];

		if (strcmp(items[i], "*") == 0) {
			pr->lo = 1;
			pr->hi = 65535;
		} else if (parse_port(items[i], &end, &pr->lo) != 0)
			goto bad;
		else if (*end == '\0')
			pr->hi = pr->lo;
		else if (*end != '-' ||
		    parse_port(end + 1, &end, &pr->hi) != 0 || *end != '\0' ||
		    pr->hi < pr->lo)
			goto bad;
		r->nports++;
	}
	free_list(items, n);
	return 0;
bad:
	*why = "ports are numbers from 1 to 65535, LO-HI ranges or *";
	free_list(items, n);
	return -1;
}

int
gw_rule_parse(const char *text, const char *where, unsigned lineno,
    struct gw_rule *r)
{
	char line[MAX_LINE + 1], *tok[MAX_TOKENS];
	const char *why = NULL;
	int n;

	memset(r, 0, sizeof(*r));
	r->line = lineno;
	if (strlen(text) > MAX_LINE) {
		amfa_log(LOG_ERR, "%s: line too long", where);
		return -1;
	}
	strcpy(line, text);
	if ((n = tokenize(line, tok, MAX_TOKENS)) < 0) {
		why = "too many words";
		goto bad;
	}
	if (n < 3) {
		why = "incomplete rule";
		goto bad;
	}
	if (strcmp(tok[0], "allow") == 0)
		r->allow = 1;
	else if (strcmp(tok[0], "deny") != 0) {
		why = "a rule starts with allow or deny";
		goto bad;
	}
	if (strcmp(tok[1], "users") == 0)
		r->who = GW_USERS;
	else if (strcmp(tok[1], "groups") == 0)
		r->who = GW_GROUPS;
	else {
		why = "expected \"users\" or \"groups\" after allow/deny";
		goto bad;
	}
	if (split_list(tok[2], &r->names, &r->nnames, &why) != 0)
		goto bad;
	for (size_t i = 0; i < r->nnames; i++)
		if ((why = check_name(r->names[i])) != NULL)
			goto bad;
	if ((n == 4 || n == 5) && strcmp(tok[3], "shell") == 0) {
		r->shell = 1;
		if (n == 4)
			return 0;
		if (strcmp(tok[4], "record") != 0) {
			why =
			    "expected \"shell\", \"shell record\" or \"to HOSTS "
			    "ports PORTS\" after the names";
			goto bad;
		}
		if (!r->allow) {
			why = "\"record\" belongs to allow rules (a denied "
			      "shell has nothing to record)";
			goto bad;
		}
		r->record = 1;
		return 0;
	}
	if (n != 7 || strcmp(tok[3], "to") != 0 ||
	    strcmp(tok[5], "ports") != 0) {
		why = "expected \"shell\", \"shell record\" or \"to HOSTS "
		      "ports PORTS\" after the names";
		goto bad;
	}
	if (parse_hosts(tok[4], r, &why) != 0 ||
	    parse_ports(tok[6], r, &why) != 0)
		goto bad;
	return 0;
bad:
	amfa_log(LOG_ERR, "%s: %s", where, why);
	gw_rule_free(r);
	return -1;
}

static int
set_string(char **dst, const char *value, const char *key, const char *where)
{
	if (*dst != NULL) {
		amfa_log(LOG_ERR, "%s: %s given more than once", where, key);
		return -1;
	}
	if (value[0] != '/') {
		amfa_log(LOG_ERR, "%s: %s must be an absolute path", where,
		    key);
		return -1;
	}
	if ((*dst = strdup(value)) == NULL)
		return -1;
	return 0;
}

/* Settings given at most once: a bit each in `seen'. */
enum {
	SEEN_TIMEOUT = 1 << 0,
	SEEN_RECORD_ALL = 1 << 1,
	SEEN_RECORD_INPUT = 1 << 2,
	SEEN_REC_MAX = 1 << 3,
	SEEN_REC_FAIL = 1 << 4,
};

static int
once(unsigned *seen, unsigned bit, const char *key, const char *where)
{
	if (*seen & bit) {
		amfa_log(LOG_ERR, "%s: %s given more than once", where, key);
		return -1;
	}
	*seen |= bit;
	return 0;
}

static int
parse_yes_no(const char *value, const char *key, const char *where, int *out)
{
	if (strcmp(value, "yes") == 0)
		*out = 1;
	else if (strcmp(value, "no") == 0)
		*out = 0;
	else {
		amfa_log(LOG_ERR, "%s: %s is yes or no", where, key);
		return -1;
	}
	return 0;
}

/* A byte count: digits and an optional K, M or G (powers of 1024). */
static int
parse_size(const char *value, const char *where, unsigned long long *out)
{
	unsigned long long v = 0, unit = 1;
	const char *p = value;

	for (; isdigit((unsigned char)*p); p++) {
		if (v > GW_REC_MAX_MAX)
			break;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (*p == 'K' || *p == 'k')
		unit = 1024, p++;
	else if (*p == 'M' || *p == 'm')
		unit = 1024 * 1024, p++;
	else if (*p == 'G' || *p == 'g')
		unit = 1024 * 1024 * 1024, p++;
	if (p == value || !isdigit((unsigned char)value[0]) || *p != '\0' ||
	    v > GW_REC_MAX_MAX / unit || v * unit < GW_REC_MIN_MAX ||
	    v * unit > GW_REC_MAX_MAX) {
		amfa_log(LOG_ERR,
		    "%s: recording_max_size is a number of bytes, "
		    "optionally with K, M or G, from 4K to 1024G",
		    where);
		return -1;
	}
	*out = v * unit;
	return 0;
}

static int
parse_setting(char *line, const char *where, unsigned lineno,
    struct gw_config *c, unsigned *seen)
{
	char *eq, *key, *value, *end;
	long v;

	if ((eq = strchr(line, '=')) == NULL) {
		amfa_log(LOG_ERR,
		    "%s: expected \"key = value\" or a rule "
		    "(allow/deny)",
		    where);
		return -1;
	}
	*eq = '\0';
	key = amfa_conf_trim(line);
	value = amfa_conf_trim(eq + 1);
	if (*value == '\0') {
		amfa_log(LOG_ERR, "%s: %s has no value", where, key);
		return -1;
	}
	if (strcmp(key, "audit_log") == 0)
		return set_string(&c->audit_log, value, key, where);
	if (strcmp(key, "awsmfa_config") == 0)
		return set_string(&c->awsmfa_config, value, key, where);
	if (strcmp(key, "recording_dir") == 0)
		return set_string(&c->recording_dir, value, key, where);
	if (strcmp(key, "recorder") == 0)
		return set_string(&c->recorder, value, key, where);
	if (strcmp(key, "record_all_shells") == 0) {
		if (once(seen, SEEN_RECORD_ALL, key, where) != 0 ||
		    parse_yes_no(value, key, where, &c->record_all_shells) != 0)
			return -1;
		c->record_all_line = lineno;
		return 0;
	}
	if (strcmp(key, "record_input") == 0)
		return once(seen, SEEN_RECORD_INPUT, key, where) != 0 ||
			parse_yes_no(value, key, where, &c->record_input) != 0 ?
		    -1 :
		    0;
	if (strcmp(key, "recording_max_size") == 0)
		return once(seen, SEEN_REC_MAX, key, where) != 0 ||
			parse_size(value, where, &c->recording_max_size) != 0 ?
		    -1 :
		    0;
	if (strcmp(key, "recording_failure") == 0) {
		if (once(seen, SEEN_REC_FAIL, key, where) != 0)
			return -1;
		if (strcmp(value, "end") == 0)
			c->recording_failure = GW_REC_FAIL_END;
		else if (strcmp(value, "continue") == 0)
			c->recording_failure = GW_REC_FAIL_CONTINUE;
		else {
			amfa_log(LOG_ERR,
			    "%s: recording_failure is end (the session "
			    "ends) or continue (it goes on unrecorded)",
			    where);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "connect_timeout") == 0) {
		if (once(seen, SEEN_TIMEOUT, key, where) != 0)
			return -1;
		errno = 0;
		v = strtol(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end != '\0' ||
		    errno != 0 || v < 1 || v > 600) {
			amfa_log(LOG_ERR,
			    "%s: connect_timeout must be a whole "
			    "number of seconds from 1 to 600",
			    where);
			return -1;
		}
		c->connect_timeout = v;
		return 0;
	}
	amfa_log(LOG_ERR, "%s: unknown key \"%s\"", where, key);
	return -1;
}

/*
 * Recording asked for (record_all_shells, a `record' rule) with nowhere
 * to record: an error at the line that asks, not a shell that would
 * silently go unrecorded or be refused at every login.
 */
static int
check_recording(const struct gw_config *c, const char *shown)
{
	int bad = 0;

	if (c->recording_dir != NULL)
		return 0;
	if (c->record_all_shells) {
		amfa_log(LOG_ERR,
		    "%s:%u: record_all_shells = yes needs "
		    "recording_dir",
		    shown, c->record_all_line);
		bad = 1;
	}
	for (size_t i = 0; i < c->policy.nrules; i++)
		if (c->policy.rules[i].record) {
			amfa_log(LOG_ERR,
			    "%s:%u: a \"shell record\" rule needs "
			    "recording_dir",
			    shown, c->policy.rules[i].line);
			bad = 1;
		}
	return bad ? -1 : 0;
}

static int
add_rule(struct gw_config *c, const struct gw_rule *r)
{
	struct gw_rule *nr;

	nr = realloc(c->policy.rules, (c->policy.nrules + 1) * sizeof(*nr));
	if (nr == NULL)
		return -1;
	c->policy.rules = nr;
	nr[c->policy.nrules++] = *r;
	return 0;
}

static int
starts_with_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	return strncmp(s, w, n) == 0 &&
	    (s[n] == ' ' || s[n] == '\t' || s[n] == '\0');
}

int
gw_config_parse(const char *buf, size_t len, const char *shown,
    struct gw_config *c)
{
	char line[MAX_LINE + 1], where[PATH_MAX + 32], *s;
	const char *p = buf, *end = buf + len, *nl, *ls;
	unsigned lineno = 0;
	unsigned seen = 0;
	int bad = 0;
	struct gw_rule r;
	size_t n;

	memset(c, 0, sizeof(*c));
	c->connect_timeout = GW_DEFAULT_TIMEOUT;
	c->recording_max_size = GW_REC_DEFAULT_MAX;
	c->recording_failure = GW_REC_FAIL_END;
	if (memchr(buf, '\0', len) != NULL) {
		amfa_log(LOG_ERR, "%s: contains a NUL byte", shown);
		return -1;
	}
	/* Every line is checked, so that one run reports every mistake. */
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		snprintf(where, sizeof(where), "%s:%u", shown, lineno);
		ls = p;
		p = nl ? nl + 1 : end;
		if (n > MAX_LINE) {
			amfa_log(LOG_ERR, "%s: line longer than %d bytes",
			    where, MAX_LINE);
			bad = 1;
			continue;
		}
		memcpy(line, ls, n);
		line[n] = '\0';
		for (s = line; *s != '\0'; s++)
			if (iscntrl((unsigned char)*s) && *s != '\t' &&
			    *s != '\r')
				break;
		if (*s != '\0') {
			amfa_log(LOG_ERR, "%s: control character in line",
			    where);
			bad = 1;
			continue;
		}
		s = amfa_conf_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (starts_with_word(s, "allow") ||
		    starts_with_word(s, "deny")) {
			if (gw_rule_parse(s, where, lineno, &r) != 0)
				bad = 1;
			else if (add_rule(c, &r) != 0) {
				gw_rule_free(&r);
				bad = 1;
			}
		} else if (parse_setting(s, where, lineno, c, &seen) != 0)
			bad = 1;
	}
	if (!bad && check_recording(c, shown) != 0)
		bad = 1;
	if (!bad && c->awsmfa_config == NULL &&
	    (c->awsmfa_config = strdup(AMFA_DEFAULT_CONFIG)) == NULL)
		bad = 1;
	if (bad) {
		gw_config_free(c);
		return -1;
	}
	return 0;
}

int
gw_config_load(const char *path, uid_t owner, struct gw_config *c)
{
	struct amfa_file_policy pol = { owner, 022, GW_CONF_MAX_SIZE };
	char dir[PATH_MAX], base[PATH_MAX], *buf;
	size_t len;
	int dirfd, r;

	memset(c, 0, sizeof(*c));
	if (path[0] != '/' || strlen(path) >= sizeof(dir)) {
		amfa_log(LOG_ERR, "%s: the configuration path must be absolute",
		    path);
		return -1;
	}
	strcpy(dir, path);
	strcpy(base, path);
	/* The directory too: whoever may write there may replace the file. */
	if ((dirfd = amfa_dir_open(dirname(dir), owner, 022)) < 0)
		return -1;
	r = amfa_file_read(dirfd, basename(base), path, &pol, &buf, &len);
	close(dirfd);
	if (r == -ENOENT)
		amfa_log(LOG_ERR, "%s: no such file", path);
	if (r != 0)
		return -1;
	r = gw_config_parse(buf, len, path, c);
	amfa_wipe_free(buf, len + 1);
	return r;
}

void
gw_config_free(struct gw_config *c)
{
	free(c->audit_log);
	free(c->awsmfa_config);
	free(c->recording_dir);
	free(c->recorder);
	gw_policy_free(&c->policy);
	memset(c, 0, sizeof(*c));
}
