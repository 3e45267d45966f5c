/*
 * Text written piece by piece into a buffer, without stdio: the state
 * file's slots and the audit record are written at every login, and
 * snprintf costs more than everything else they do but the digest.
 *
 * A fixed buffer (the caller's) or a heap one that grows.  A piece that
 * does not fit, or memory that cannot be had, marks the text bad; every
 * later piece is then ignored and amfa_text_end answers NULL.  Nothing is
 * ever cut short silently.
 */
#ifndef AMFA_TEXT_OUT_H
#define AMFA_TEXT_OUT_H

#include <stddef.h>
#include <stdint.h>

struct amfa_text {
	char *p;
	size_t len, cap;
	int heap, bad;
};

/* Into buf[0..cap) (cap > 0; one byte is kept for the NUL). */
void amfa_text_fixed(struct amfa_text *t, char *buf, size_t cap);
/* Into memory of its own (free() what amfa_text_end returns). */
void amfa_text_heap(struct amfa_text *t);

void amfa_text_put(struct amfa_text *t, const char *s, size_t n);
void amfa_text_str(struct amfa_text *t, const char *s);
void amfa_text_char(struct amfa_text *t, char c);
/* Decimal, as printf's "%" PRIu64 and "%" PRId64. */
void amfa_text_u64(struct amfa_text *t, uint64_t v);
void amfa_text_i64(struct amfa_text *t, int64_t v);
/* v in exactly `width' digits (1..20) of `base' (10 or 16, lowercase),
 * leading zeros kept: "%0*u" and "%0*x" for a v that fits; a v that does
 * not fit marks the text bad. */
void amfa_text_fixed_digits(struct amfa_text *t, uint64_t v, int width,
    unsigned base);

/* The text, NUL-terminated, or NULL if it went bad: a heap text is then
 * freed, a fixed one holds the whole pieces that fitted.  The length is
 * t->len. */
char *amfa_text_end(struct amfa_text *t);

#endif
