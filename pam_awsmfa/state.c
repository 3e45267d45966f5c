/* Per-user state; see state.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secure_file.h"
#include "state.h"
#include "user.h"

#define STATE_MAX_SIZE 8192

_Static_assert(AMFA_STATE_RECORD_SIZE <= STATE_MAX_SIZE,
    "a record the module writes must be one it reads");
#define STATE_VERSION "version 1"

static void
state_init(struct amfa_state *st)
{
	memset(st, 0, sizeof(*st));
	st->last_step = -1;
}

static int
parse_i64(const char *s, int64_t min, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

static int
is_modhex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max && n % 2 == 0 &&
	    strspn(s, "cbdefghijklnrtuv") == n;
}

static int
parse_token_line(char *rest, struct amfa_state *st)
{
	struct amfa_token_counter *t;
	char *id, *ses, *use, *save = NULL;
	int64_t s, u;

	id = strtok_r(rest, " ", &save);
	ses = strtok_r(NULL, " ", &save);
	use = strtok_r(NULL, " ", &save);
	if (id == NULL || ses == NULL || use == NULL ||
	    strtok_r(NULL, " ", &save) != NULL || !is_modhex(id, 2, 32) ||
	    parse_i64(ses, 0, &s) != 0 || s > 0xffff ||
	    parse_i64(use, 0, &u) != 0 || u > 0xff ||
	    st->ntokens >= AMFA_STATE_MAX_TOKENS)
		return -1;
	for (int i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i].public_id, id) == 0)
			return -1;
	}
	t = &st->tokens[st->ntokens++];
	snprintf(t->public_id, sizeof(t->public_id), "%s", id);
	t->session = (unsigned)s;
	t->use = (unsigned)u;
	return 0;
}

int
amfa_state_parse(const char *buf, size_t len, struct amfa_state *st,
    const char **why)
{
	char copy[STATE_MAX_SIZE + 1], *line, *save = NULL, *sp;
	int seen_step = 0, seen_fail = 0, seen_lock = 0, seen_ok = 0;
	int ended = 0, n = 0;
	int64_t v;

	state_init(st);
	*why = "malformed";
	if (len > STATE_MAX_SIZE || memchr(buf, '\0', len) != NULL) {
		*why = "too large or contains NUL";
		return -1;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		*why = "truncated (no final newline)";
		return -1;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), n++) {
		if (ended) {
			*why = "data after \"end\"";
			return -1;
		}
		if (n == 0) {
			if (strcmp(line, STATE_VERSION) != 0) {
				*why = "unknown version";
				return -1;
			}
			continue;
		}
		if (strcmp(line, "end") == 0) {
			ended = 1;
			continue;
		}
		if ((sp = strchr(line, ' ')) == NULL)
			return -1;
		*sp++ = '\0';
		if (strcmp(line, "last_step") == 0 && !seen_step++) {
			if (parse_i64(sp, -1, &st->last_step) != 0)
				return -1;
		} else if (strcmp(line, "failures") == 0 && !seen_fail++) {
			if (parse_i64(sp, 0, &v) != 0 || v > 1000000)
				return -1;
			st->failures = (long)v;
		} else if (strcmp(line, "locked_until") == 0 && !seen_lock++) {
			if (parse_i64(sp, 0, &st->locked_until) != 0)
				return -1;
		} else if (strcmp(line, "last_success") == 0 && !seen_ok++) {
			if (parse_i64(sp, 0, &st->last_success) != 0)
				return -1;
		} else if (strcmp(line, "token") == 0) {
			if (parse_token_line(sp, st) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (!ended || !seen_step || !seen_fail || !seen_lock || !seen_ok) {
		*why = "incomplete";
		return -1;
	}
	*why = NULL;
	return 0;
}

int
amfa_state_format(const struct amfa_state *st, char *out, size_t outlen)
{
	size_t n;
	int r;

	r = snprintf(out, outlen,
	    "%s\nlast_step %" PRId64 "\nfailures %ld\n"
	    "locked_until %" PRId64 "\nlast_success %" PRId64 "\n",
	    STATE_VERSION, st->last_step, st->failures, st->locked_until,
	    st->last_success);
	if (r < 0 || (size_t)r >= outlen)
		return -1;
	n = (size_t)r;
	for (int i = 0; i < st->ntokens; i++) {
		r = snprintf(out + n, outlen - n, "token %s %u %u\n",
		    st->tokens[i].public_id, st->tokens[i].session,
		    st->tokens[i].use);
		if (r < 0 || (size_t)r >= outlen - n)
			return -1;
		n += (size_t)r;
	}
	r = snprintf(out + n, outlen - n, "end\n");
	if (r < 0 || (size_t)r >= outlen - n)
		return -1;
	return 0;
}

int
amfa_state_open(const struct amfa_config *cfg, const char *user, uid_t owner,
    struct amfa_state_handle *h, struct amfa_state *st)
{
	struct amfa_file_policy policy = { owner, 077, STATE_MAX_SIZE };
	char lockname[80];
	const char *why;
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(h, 0, sizeof(*h));
	h->dirfd = h->lockfd = -1;
	state_init(st);
	if ((why = amfa_user_name_invalid(user)) != NULL) {
		amfa_log(LOG_ERR, "state: refusing user: %s", why);
		return -1;
	}
	snprintf(h->name, sizeof(h->name), "%s.state", user);
	snprintf(lockname, sizeof(lockname), "%s.lock", user);
	snprintf(h->shown, sizeof(h->shown), "%s/%s", cfg->state_dir, h->name);
	if ((h->dirfd = amfa_dir_create_open(cfg->state_dir, owner, 0700)) < 0)
		return -1;
	h->lockfd = amfa_lock_take(h->dirfd, lockname, AMFA_STATE_LOCK_WAIT_MS);
	if (h->lockfd < 0) {
		amfa_log(LOG_ERR, "%s/%s: cannot lock: %s", cfg->state_dir,
		    lockname, strerror(-h->lockfd));
		goto fail;
	}
	r = amfa_file_read(h->dirfd, h->name, h->shown, &policy, &buf, &len);
	if (r == -ENOENT)
		return 0; /* first use: fresh state */
	if (r != 0)
		goto fail;
	r = amfa_state_parse(buf, len, st, &why);
	free(buf);
	if (r != 0) {
		amfa_log(LOG_ERR,
		    "%s: corrupt state (%s); refusing until an "
		    "administrator repairs or removes it",
		    h->shown, why);
		goto fail;
	}
	return 0;
fail:
	amfa_state_close(h);
	return -1;
}

/*
 * One write per decision, and no write that a failed attempt needs can fail
 * where the write of a success would not.
 *
 * The decision (auth.c) is made on the state read under the lock and
 * committed here before any answer reaches the caller; if this write fails,
 * the login is refused whatever the code was, so the caller learns nothing
 * of a code whose attempt was not counted.  The attack to close is a write
 * that fails for some outcomes only: a record that sets a lock, or adds a
 * YubiKey's counters, is longer than one that accepts a code, so a file
 * size limit between the two (su and sudo run with their caller's limits)
 * let every wrong code fail to count while the right one still got in.
 * Hence every record has the same size, AMFA_STATE_RECORD_SIZE: whatever
 * the outcome, the write needs the same bytes, the same blocks and the same
 * file size.  The PAM glue also raises RLIMIT_FSIZE and ignores SIGXFSZ for
 * the call (caller_guard.c), so the caller's limit does not apply at all;
 * what can still fail (a full disk, an I/O error) fails alike for every
 * outcome and refuses.
 *
 * The alternative, counting the attempt in a first write before the code
 * is checked and clearing it in a second on success, costs a second
 * durable write on every successful login; equal-size records give the
 * same guarantee with one.
 *
 * The largest record: "version 1", four lines of a name and an int64 (at
 * most 13 + 1 + 20 characters each), 16 token lines of at most 6 + 32 + 1
 * + 10 + 1 + 10 characters, "end", each with its newline: at most 1,126
 * bytes, well below AMFA_STATE_RECORD_SIZE (tests/unit/test_state.c
 * formats it).
 */
int
amfa_state_commit(struct amfa_state_handle *h, const struct amfa_state *st)
{
	char buf[AMFA_STATE_RECORD_SIZE];
	size_t len;
	int r;

	if (h->lockfd < 0 || amfa_state_format(st, buf, sizeof(buf)) != 0)
		return -1;
	len = strlen(buf);
	memset(buf + len, '\n', sizeof(buf) - len);
	r = amfa_file_write_atomic(h->dirfd, h->name, buf, sizeof(buf), 0600);
	if (r != 0) {
		amfa_log(LOG_ERR, "%s: cannot write state: %s", h->shown,
		    strerror(-r));
		return -1;
	}
	return 0;
}

void
amfa_state_close(struct amfa_state_handle *h)
{
	if (h->lockfd >= 0)
		close(h->lockfd);
	if (h->dirfd >= 0)
		close(h->dirfd);
	h->lockfd = h->dirfd = -1;
}
