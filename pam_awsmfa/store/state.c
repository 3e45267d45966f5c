/*
 * Per-user state; see state.h.
 *
 * The file, and why one durable write per decision is enough.
 *
 * A decision (auth.c) is made on the state read under the user's lock and
 * made durable here before any answer reaches the caller.  The file holds
 * two slots of AMFA_STATE_SLOT_SIZE bytes.  A slot is a header line,
 * "amfa-state-slot SEQ LEN SHA256", the state in its text form (LEN bytes:
 * amfa_state_format) and newlines up to the slot's end; the digest covers
 * "SEQ LEN\n" and the text.  An update writes the other slot than the one
 * read (SEQ + 1 picks it: slot SEQ % 2) with one pwrite and one fdatasync:
 * no temporary file, no rename, no fsync of the directory.  A reader takes
 * the valid slot with the later SEQ (compared as serial numbers, so a wrap
 * of the 64-bit count changes nothing).  A write cut short by a crash, a
 * kill or a full disk leaves a slot whose digest fails, and the other slot,
 * untouched, is the state: every update is all or nothing, as the rename
 * made it before, for a quarter of the cost.  When neither slot is valid
 * the user is refused until an administrator looks (never reset).
 *
 * No write that a failed attempt needs can fail where the write of a
 * success would not.  The attack this closes: a record that sets a lock or
 * adds a YubiKey's counters was longer than one that accepts a code, so a
 * file size limit between the two (su and sudo run with their caller's
 * limits) let every wrong code go uncounted while the right one got in.
 * Every update now writes the same number of bytes at an offset inside the
 * file that the first write already made (the whole 2-slot file, written
 * whatever the outcome): it needs no byte and no block that an earlier
 * write of this user did not reserve.  The PAM glue also raises
 * RLIMIT_FSIZE and ignores SIGXFSZ for the call (caller_guard.c); what can
 * still fail (an I/O error, the limit where it cannot be raised) fails
 * alike for every outcome and the login is refused, whatever the code was.
 * The other design, counting the attempt in a first write before the code
 * is checked and clearing it in a second, would cost a second durable
 * write on every successful login.
 *
 * A file of the earlier form (the text alone) is read as before and
 * replaced, on its next update, by a 2-slot file (temporary file, fsync,
 * rename, fsync of the directory), as is a user's first state.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "algorithms.h"
#include "hex.h"
#include "log.h"
#include "secure_file.h"
#include "state.h"
#include "user.h"

#define STATE_MAX_SIZE 8192
#define STATE_VERSION  "version 1"
#define SLOT_MAGIC     "amfa-state-slot "

_Static_assert(AMFA_STATE_FILE_SIZE <= STATE_MAX_SIZE,
    "a file the module writes must be one it reads");

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

/* "recovery_used GEN MASK": 8 and 4 lower-case hex digits, GEN not 0. */
static int
parse_recovery_line(const char *s, struct amfa_state *st)
{
	unsigned long gen, mask;

	if (strlen(s) != 13 || strspn(s, "0123456789abcdef") != 8 ||
	    s[8] != ' ' || strspn(s + 9, "0123456789abcdef") != 4)
		return -1;
	gen = strtoul(s, NULL, 16);
	mask = strtoul(s + 9, NULL, 16);
	if (gen == 0)
		return -1;
	st->recovery_gen = (uint32_t)gen;
	st->recovery_used = (uint32_t)mask;
	return 0;
}

int
amfa_state_parse(const char *buf, size_t len, struct amfa_state *st,
    const char **why)
{
	char copy[STATE_MAX_SIZE + 1], *line, *save = NULL, *sp;
	int seen_step = 0, seen_fail = 0, seen_lock = 0, seen_ok = 0;
	int ended = 0, n = 0, seen_rc = 0;
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
		} else if (strcmp(line, "recovery_used") == 0 && !seen_rc++) {
			if (parse_recovery_line(sp, st) != 0)
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
	if (st->recovery_gen != 0) {
		r = snprintf(out + n, outlen - n, "recovery_used %08x %04x\n",
		    (unsigned)st->recovery_gen,
		    (unsigned)(st->recovery_used & 0xffff));
		if (r < 0 || (size_t)r >= outlen - n)
			return -1;
		n += (size_t)r;
	}
	r = snprintf(out + n, outlen - n, "end\n");
	if (r < 0 || (size_t)r >= outlen - n)
		return -1;
	return 0;
}

/* The digest of slot `seq' holding `len' bytes of text, in hex. */
static int
slot_digest(uint64_t seq, const char *text, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char head[48];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int n, ok;

	n = snprintf(head, sizeof(head), "%" PRIu64 " %zu\n", seq, len);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = amfa_md(AMFA_MD_SHA256) != NULL &&
	    EVP_DigestInit_ex(ctx, amfa_md(AMFA_MD_SHA256), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, head, (size_t)n) == 1 &&
	    EVP_DigestUpdate(ctx, text, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	amfa_hex(md, mdlen, hex);
	return 0;
}

int
amfa_state_slot_format(const struct amfa_state *st, uint64_t seq,
    char out[AMFA_STATE_SLOT_SIZE])
{
	char text[AMFA_STATE_SLOT_SIZE], hex[65];
	size_t len;
	int n;

	if (amfa_state_format(st, text, sizeof(text)) != 0)
		return -1;
	len = strlen(text);
	if (slot_digest(seq, text, len, hex) != 0)
		return -1;
	n = snprintf(out, AMFA_STATE_SLOT_SIZE,
	    SLOT_MAGIC "%" PRIu64 " %zu %s\n", seq, len, hex);
	if (n < 0 || (size_t)n + len > AMFA_STATE_SLOT_SIZE)
		return -1;
	memcpy(out + n, text, len);
	memset(out + n + len, '\n', AMFA_STATE_SLOT_SIZE - (size_t)n - len);
	return 0;
}

/*
 * Slot `index' (0 or 1): 0 with *st and *seq, or -1 (torn, empty, altered,
 * or a sequence number that does not belong in this slot: SEQ % 2).
 */
static int
slot_parse(const char *slot, int index, struct amfa_state *st, uint64_t *seq)
{
	char line[160], hex[65], want[65];
	const char *nl, *text;
	unsigned long long s;
	size_t len;
	int used = 0;
	const char *why;

	if ((nl = memchr(slot, '\n', sizeof(line) - 1)) == NULL)
		return -1;
	memcpy(line, slot, (size_t)(nl - slot));
	line[nl - slot] = '\0';
	if (sscanf(line, SLOT_MAGIC "%llu %zu %64[0-9a-f]%n", &s, &len, hex,
		&used) != 3 ||
	    line[used] != '\0' || strlen(hex) != 64 ||
	    s % 2 != (unsigned long long)index)
		return -1;
	text = nl + 1;
	if (len > AMFA_STATE_SLOT_SIZE - (size_t)(text - slot))
		return -1;
	if (slot_digest((uint64_t)s, text, len, want) != 0 ||
	    CRYPTO_memcmp(want, hex, 64) != 0)
		return -1;
	if (amfa_state_parse(text, len, st, &why) != 0)
		return -1;
	*seq = (uint64_t)s;
	return 0;
}

int
amfa_state_slots_parse(const char *buf, size_t len, struct amfa_state *st,
    uint64_t *seq, const char **why)
{
	struct amfa_state a, b;
	uint64_t sa = 0, sb = 0;
	int va, vb;

	*why = "not two state slots";
	if (len != AMFA_STATE_FILE_SIZE)
		return -1;
	va = slot_parse(buf, 0, &a, &sa) == 0;
	vb = slot_parse(buf + AMFA_STATE_SLOT_SIZE, 1, &b, &sb) == 0;
	*why = "neither slot is valid";
	if (!va && !vb)
		return -1;
	/* The later of the two, as serial numbers (RFC 1982 in spirit). */
	if (va && (!vb || (int64_t)(sa - sb) > 0)) {
		*st = a;
		*seq = sa;
	} else {
		*st = b;
		*seq = sb;
	}
	*why = NULL;
	return 0;
}

int
amfa_state_file_parse(const char *buf, size_t len, struct amfa_state *st,
    enum amfa_state_form *form, uint64_t *seq, const char **why)
{
	size_t vlen = strlen(STATE_VERSION "\n");

	*seq = 0;
	if (len >= vlen && memcmp(buf, STATE_VERSION "\n", vlen) == 0) {
		*form = AMFA_STATE_TEXT;
		return amfa_state_parse(buf, len, st, why);
	}
	*form = AMFA_STATE_SLOTS;
	return amfa_state_slots_parse(buf, len, st, seq, why);
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
	h->dirfd = h->lockfd = h->fd = -1;
	h->form = AMFA_STATE_NEW;
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
	r = amfa_file_read_rw(h->dirfd, h->name, h->shown, &policy, &buf, &len,
	    &h->fd);
	if (r == -ENOENT)
		return 0; /* first use: fresh state */
	if (r != 0)
		goto fail;
	r = amfa_state_file_parse(buf, len, st, &h->form, &h->seq, &why);
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

/* A new file, or one of the earlier form: the whole file, replaced. */
static int
commit_whole(struct amfa_state_handle *h, const char *slot, uint64_t seq)
{
	char file[AMFA_STATE_FILE_SIZE];
	size_t at = (size_t)(seq % 2) * AMFA_STATE_SLOT_SIZE;

	memset(file, '\n', sizeof(file));
	memcpy(file + at, slot, AMFA_STATE_SLOT_SIZE);
	return amfa_file_write_atomic(h->dirfd, h->name, file, sizeof(file),
	    0600);
}

/* The slot that the read one is not, in place. */
static int
commit_slot(struct amfa_state_handle *h, const char *slot, uint64_t seq)
{
	off_t at = (off_t)(seq % 2) * AMFA_STATE_SLOT_SIZE;
	size_t done = 0;
	ssize_t w;

	while (done < AMFA_STATE_SLOT_SIZE) {
		w = pwrite(h->fd, slot + done, AMFA_STATE_SLOT_SIZE - done,
		    at + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += (size_t)w;
	}
	return fdatasync(h->fd) == 0 ? 0 : -errno;
}

int
amfa_state_commit(struct amfa_state_handle *h, const struct amfa_state *st)
{
	char slot[AMFA_STATE_SLOT_SIZE];
	uint64_t seq = h->seq + 1;
	int r;

	if (h->lockfd < 0 || amfa_state_slot_format(st, seq, slot) != 0)
		return -1;
	if (h->form == AMFA_STATE_SLOTS)
		r = commit_slot(h, slot, seq);
	else
		r = commit_whole(h, slot, seq);
	OPENSSL_cleanse(slot, sizeof(slot));
	if (r != 0) {
		amfa_log(LOG_ERR, "%s: cannot write state: %s", h->shown,
		    strerror(-r));
		/* A slot may be torn: the handle is spent. */
		amfa_state_close(h);
		return -1;
	}
	h->seq = seq;
	if (h->form != AMFA_STATE_SLOTS) {
		/* The descriptor, if any, names the file just replaced; the
		 * new one is ours (the lock is still held). */
		if (h->fd >= 0)
			close(h->fd);
		h->form = AMFA_STATE_SLOTS;
		h->fd = openat(h->dirfd, h->name,
		    O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	return 0;
}

void
amfa_state_close(struct amfa_state_handle *h)
{
	if (h->fd >= 0)
		close(h->fd);
	if (h->lockfd >= 0)
		close(h->lockfd);
	if (h->dirfd >= 0)
		close(h->dirfd);
	h->fd = h->lockfd = h->dirfd = -1;
}

int
amfa_state_equal(const struct amfa_state *a, const struct amfa_state *b)
{
	if (a->last_step != b->last_step || a->failures != b->failures ||
	    a->locked_until != b->locked_until ||
	    a->last_success != b->last_success ||
	    a->recovery_gen != b->recovery_gen ||
	    a->recovery_used != b->recovery_used || a->ntokens != b->ntokens)
		return 0;
	for (int i = 0; i < a->ntokens; i++) {
		if (strcmp(a->tokens[i].public_id, b->tokens[i].public_id) !=
			0 ||
		    a->tokens[i].session != b->tokens[i].session ||
		    a->tokens[i].use != b->tokens[i].use)
			return 0;
	}
	return 1;
}
