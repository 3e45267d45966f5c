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
#include "text_out.h"
#include "user.h"

#define STATE_MAX_SIZE 8192
#define STATE_VERSION  "version 1"
#define SLOT_MAGIC     "amfa-state-slot "
/* A slot's header line ends within its first SLOT_HEAD_MAX - 1 bytes. */
#define SLOT_HEAD_MAX 160

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
	struct amfa_text t;

	/* text_out.h, not snprintf: written at every login. */
	amfa_text_fixed(&t, out, outlen);
	amfa_text_str(&t, STATE_VERSION "\nlast_step ");
	amfa_text_i64(&t, st->last_step);
	amfa_text_str(&t, "\nfailures ");
	amfa_text_i64(&t, st->failures);
	amfa_text_str(&t, "\nlocked_until ");
	amfa_text_i64(&t, st->locked_until);
	amfa_text_str(&t, "\nlast_success ");
	amfa_text_i64(&t, st->last_success);
	amfa_text_char(&t, '\n');
	for (int i = 0; i < st->ntokens; i++) {
		amfa_text_str(&t, "token ");
		amfa_text_str(&t, st->tokens[i].public_id);
		amfa_text_char(&t, ' ');
		amfa_text_u64(&t, st->tokens[i].session);
		amfa_text_char(&t, ' ');
		amfa_text_u64(&t, st->tokens[i].use);
		amfa_text_char(&t, '\n');
	}
	if (st->recovery_gen != 0) {
		amfa_text_str(&t, "recovery_used ");
		amfa_text_fixed_digits(&t, (uint32_t)st->recovery_gen, 8, 16);
		amfa_text_char(&t, ' ');
		amfa_text_fixed_digits(&t, st->recovery_used & 0xffff, 4, 16);
		amfa_text_char(&t, '\n');
	}
	amfa_text_str(&t, "end\n");
	return amfa_text_end(&t) != NULL ? 0 : -1;
}

/* The digest of slot `seq' holding `len' bytes of text, in hex. */
static int
slot_digest(uint64_t seq, const char *text, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char head[48];
	struct amfa_text t;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	amfa_text_fixed(&t, head, sizeof(head));
	amfa_text_u64(&t, seq);
	amfa_text_char(&t, ' ');
	amfa_text_u64(&t, len);
	amfa_text_char(&t, '\n');
	if (amfa_text_end(&t) == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = amfa_md(AMFA_MD_SHA256) != NULL &&
	    EVP_DigestInit_ex(ctx, amfa_md(AMFA_MD_SHA256), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, head, t.len) == 1 &&
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
	struct amfa_text t;
	size_t len;

	if (amfa_state_format(st, text, sizeof(text)) != 0)
		return -1;
	len = strlen(text);
	if (slot_digest(seq, text, len, hex) != 0)
		return -1;
	amfa_text_fixed(&t, out, AMFA_STATE_SLOT_SIZE);
	amfa_text_str(&t, SLOT_MAGIC);
	amfa_text_u64(&t, seq);
	amfa_text_char(&t, ' ');
	amfa_text_u64(&t, len);
	amfa_text_char(&t, ' ');
	amfa_text_put(&t, hex, 64);
	amfa_text_char(&t, '\n');
	if (amfa_text_end(&t) == NULL || t.len + len > AMFA_STATE_SLOT_SIZE)
		return -1;
	memcpy(out + t.len, text, len);
	memset(out + t.len + len, '\n', AMFA_STATE_SLOT_SIZE - t.len - len);
	return 0;
}

/* A slot's header line, "amfa-state-slot SEQ LEN SHA256\n", read. */
struct slot_head {
	uint64_t seq;
	uint64_t len;
	const char *hex;  /* 64 lowercase hex digits */
	const char *text; /* the LEN bytes after the line */
};

/* Decimal digits at *p (at least one, as amfa_text_u64 writes them) into
 * *v; the byte after them, or NULL (none, or more than UINT64_MAX). */
static const char *
dec_u64(const char *p, const char *end, uint64_t *v)
{
	const char *start = p;
	uint64_t n = 0;

	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	if (p == start)
		return NULL;
	*v = n;
	return p;
}

/*
 * Slot `index' (0 or 1)'s header: 0, or -1 (torn, empty, or a sequence
 * number that does not belong in this slot: SEQ % 2).  Its digest is not
 * checked here.
 */
static int
slot_head_parse(const char *slot, int index, struct slot_head *h)
{
	const char *p = slot, *end, *nl;

	if ((nl = memchr(slot, '\n', SLOT_HEAD_MAX - 1)) == NULL)
		return -1;
	end = nl;
	if ((size_t)(end - p) < strlen(SLOT_MAGIC) ||
	    memcmp(p, SLOT_MAGIC, strlen(SLOT_MAGIC)) != 0)
		return -1;
	p += strlen(SLOT_MAGIC);
	if ((p = dec_u64(p, end, &h->seq)) == NULL || p == end || *p++ != ' ' ||
	    (p = dec_u64(p, end, &h->len)) == NULL || p == end || *p++ != ' ' ||
	    end - p != 64)
		return -1;
	for (int i = 0; i < 64; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') ||
			(p[i] >= 'a' && p[i] <= 'f')))
			return -1;
	}
	h->hex = p;
	h->text = nl + 1;
	if (h->seq % 2 != (uint64_t)index ||
	    h->len > AMFA_STATE_SLOT_SIZE - (size_t)(h->text - slot))
		return -1;
	return 0;
}

/* The state a slot holds, if its digest and its text are right: 0 with
 * *st, or -1. */
static int
slot_load(const struct slot_head *h, struct amfa_state *st)
{
	char want[65];
	const char *why;

	if (slot_digest(h->seq, h->text, (size_t)h->len, want) != 0 ||
	    CRYPTO_memcmp(want, h->hex, 64) != 0)
		return -1;
	return amfa_state_parse(h->text, (size_t)h->len, st, &why);
}

int
amfa_state_slots_parse(const char *buf, size_t len, struct amfa_state *st,
    uint64_t *seq, const char **why)
{
	struct slot_head h[2];
	int ok[2], first;

	*why = "not two state slots";
	if (len != AMFA_STATE_FILE_SIZE)
		return -1;
	ok[0] = slot_head_parse(buf, 0, &h[0]) == 0;
	ok[1] = slot_head_parse(buf + AMFA_STATE_SLOT_SIZE, 1, &h[1]) == 0;
	/*
	 * The state is the valid slot with the later SEQ (compared as serial
	 * numbers, RFC 1982 in spirit).  So the later one is checked first,
	 * and the earlier is read only when the later is not valid (a torn
	 * write): one digest per login, not two.
	 */
	first = ok[0] && (!ok[1] || (int64_t)(h[0].seq - h[1].seq) > 0) ? 0 : 1;
	*why = "neither slot is valid";
	for (int k = 0; k < 2; k++) {
		int i = k == 0 ? first : 1 - first;

		if (ok[i] && slot_load(&h[i], st) == 0) {
			*seq = h[i].seq;
			*why = NULL;
			return 0;
		}
	}
	state_init(st); /* nothing of a slot that failed half-way */
	return -1;
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

/* a, b and c end to end in out: 0, or -1 (what fitted, whole pieces). */
static int
join(char *out, size_t max, const char *a, const char *b, const char *c)
{
	struct amfa_text t;

	amfa_text_fixed(&t, out, max);
	amfa_text_str(&t, a);
	amfa_text_str(&t, b);
	amfa_text_str(&t, c);
	return amfa_text_end(&t) != NULL ? 0 : -1;
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
	/* Valid names fit (AMFA_USER_NAME_MAX); `shown' is for messages. */
	if (join(h->name, sizeof(h->name), "", user, ".state") != 0 ||
	    join(lockname, sizeof(lockname), "", user, ".lock") != 0)
		return -1;
	(void)join(h->shown, sizeof(h->shown), cfg->state_dir, "/", h->name);
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
