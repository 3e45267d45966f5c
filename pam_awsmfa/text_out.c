/* Text written piece by piece into a buffer; see text_out.h. */
#include <stdlib.h>
#include <string.h>

#include "text_out.h"

void
amfa_text_fixed(struct amfa_text *t, char *buf, size_t cap)
{
	t->p = buf;
	t->len = 0;
	t->cap = cap;
	t->heap = 0;
	t->bad = cap == 0;
}

void
amfa_text_heap(struct amfa_text *t)
{
	t->p = NULL;
	t->len = t->cap = 0;
	t->heap = 1;
	t->bad = 0;
}

/* Room for n more bytes and the NUL; 0, or -1 (the text is then bad). */
static int
room(struct amfa_text *t, size_t n)
{
	size_t want;
	char *p;

	if (t->bad)
		return -1;
	if (n < t->cap - t->len)
		return 0;
	if (!t->heap || n > SIZE_MAX / 2 - t->len)
		goto bad;
	want = t->cap < 256 ? 256 : t->cap;
	while (want <= t->len + n)
		want *= 2;
	if ((p = realloc(t->p, want)) == NULL)
		goto bad;
	t->p = p;
	t->cap = want;
	return 0;
bad:
	t->bad = 1;
	return -1;
}

void
amfa_text_put(struct amfa_text *t, const char *s, size_t n)
{
	if (room(t, n) != 0)
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

void
amfa_text_str(struct amfa_text *t, const char *s)
{
	amfa_text_put(t, s, strlen(s));
}

void
amfa_text_char(struct amfa_text *t, char c)
{
	if (room(t, 1) == 0)
		t->p[t->len++] = c;
}

void
amfa_text_u64(struct amfa_text *t, uint64_t v)
{
	char d[20];
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	amfa_text_put(t, d + n, sizeof(d) - n);
}

void
amfa_text_i64(struct amfa_text *t, int64_t v)
{
	if (v < 0) {
		amfa_text_char(t, '-');
		/* INT64_MIN's magnitude, computed without overflow. */
		amfa_text_u64(t, (uint64_t)0 - (uint64_t)v);
	} else {
		amfa_text_u64(t, (uint64_t)v);
	}
}

void
amfa_text_fixed_digits(struct amfa_text *t, uint64_t v, int width,
    unsigned base)
{
	static const char digits[] = "0123456789abcdef";
	char d[20];

	if (width < 1 || width > (int)sizeof(d) || (base != 10 && base != 16)) {
		t->bad = 1;
		return;
	}
	for (int i = width - 1; i >= 0; i--) {
		d[i] = digits[v % base];
		v /= base;
	}
	if (v != 0) {
		t->bad = 1;
		return;
	}
	amfa_text_put(t, d, (size_t)width);
}

char *
amfa_text_end(struct amfa_text *t)
{
	if (room(t, 0) != 0) {
		if (t->heap) {
			free(t->p);
			t->p = NULL;
		} else if (t->cap > 0) {
			t->p[t->len] = '\0'; /* the pieces that fitted */
		}
		return NULL;
	}
	t->p[t->len] = '\0';
	return t->p;
}
