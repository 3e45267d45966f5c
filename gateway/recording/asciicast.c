/* asciicast v2 lines; see asciicast.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "asciicast.h"
#include "audit_json.h"

int
gw_buf_reserve(struct gw_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (more > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void
gw_buf_free(struct gw_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
put(struct gw_buf *b, const char *s, size_t n)
{
	if (gw_buf_reserve(b, n) != 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/*
 * The length of the UTF-8 sequence at s (n bytes available): 1-4 for a
 * valid one, 0 when it is not UTF-8, -1 when it may be, but is cut short.
 */
static int
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	int len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
	} else
		return 0;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return len;
}

static const char hex[] = "0123456789abcdef";

/* The escaped form of bytes that are valid UTF-8, into b (room made). */
static size_t
escape_run(char *out, const unsigned char *s, size_t n)
{
	char *o = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (c == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		} else
			*o++ = (char)c;
	}
	return (size_t)(o - out);
}

static int
utf8_body(struct gw_buf *b, const unsigned char *s, size_t n,
    struct gw_utf8_carry *carry)
{
	size_t i = 0, run = 0;

	/* At most 6 bytes out for each byte in, or for each replacement. */
	if (n > SIZE_MAX / 6 || gw_buf_reserve(b, n * 6 + 6) != 0)
		return -1;
	while (i < n) {
		int len = utf8_len(s + i, n - i);

		if (len > 0) {
			i += (size_t)len;
			run += (size_t)len;
			continue;
		}
		b->len += escape_run(b->p + b->len, s + i - run, run);
		run = 0;
		if (len < 0 && carry != NULL) {
			/* Cut short at the end: the rest comes next time. */
			carry->n = n - i;
			memcpy(carry->b, s + i, carry->n);
			break;
		}
		memcpy(b->p + b->len, "\\ufffd", 6);
		b->len += 6;
		i++;
	}
	b->len += escape_run(b->p + b->len, s + i - run, run);
	b->p[b->len] = '\0';
	return 0;
}

int
gw_json_utf8(struct gw_buf *b, const unsigned char *s, size_t n,
    struct gw_utf8_carry *carry)
{
	unsigned char *joined;
	int r;

	if (carry == NULL || carry->n == 0)
		return utf8_body(b, s, n, carry);
	/* The bytes carried over, then this data (rare: a copy is fine). */
	if (n > SIZE_MAX - sizeof(carry->b) ||
	    (joined = malloc(carry->n + n)) == NULL)
		return -1;
	memcpy(joined, carry->b, carry->n);
	memcpy(joined + carry->n, s, n);
	n += carry->n;
	carry->n = 0;
	r = utf8_body(b, joined, n, carry);
	free(joined);
	return r;
}

int
gw_cast_event(struct gw_buf *b, uint64_t usec, char type, const void *data,
    size_t n, struct gw_utf8_carry *carry)
{
	char head[64];
	int hl;

	hl = snprintf(head, sizeof(head),
	    "[%" PRIu64 ".%06" PRIu64 ", \"%c\", \"", usec / 1000000,
	    usec % 1000000, type);
	if (hl < 0 || (size_t)hl >= sizeof(head) ||
	    put(b, head, (size_t)hl) != 0 ||
	    gw_json_utf8(b, data, n, carry) != 0 || put(b, "\"]\n", 3) != 0)
		return -1;
	return 0;
}

/* A JSON string of `s' checked as UTF-8 (the caller's TERM may be any
 * bytes), or NULL for none. */
static struct json_object *
utf8_string(const char *s)
{
	struct gw_buf tmp = { 0 };
	struct json_object *o;

	if (s == NULL)
		return NULL;
	/* Escaped text is valid JSON inside quotes: decode it with json-c. */
	if (put(&tmp, "\"", 1) != 0 ||
	    gw_json_utf8(&tmp, (const unsigned char *)s, strlen(s), NULL) !=
		0 ||
	    put(&tmp, "\"", 1) != 0) {
		gw_buf_free(&tmp);
		return NULL;
	}
	o = json_tokener_parse(tmp.p);
	gw_buf_free(&tmp);
	return o;
}

static int
add_utf8(struct json_object *o, const char *key, const char *v)
{
	struct json_object *s;

	if (v == NULL)
		return 0;
	if ((s = utf8_string(v)) == NULL)
		return -1;
	return json_object_object_add(o, key, s) == 0 ? 0 : -1;
}

int
gw_cast_header(struct gw_buf *b, const struct gw_cast_header *h)
{
	struct json_object *o, *env, *who;
	char *text = NULL;
	int r = 0;

	if ((o = json_object_new_object()) == NULL)
		return -1;
	r |= amfa_json_add_int(o, "version", 2);
	r |= amfa_json_add_int(o, "width", h->width);
	r |= amfa_json_add_int(o, "height", h->height);
	r |= amfa_json_add_int(o, "timestamp", h->timestamp);
	if ((env = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "env", env) != 0)
		r = -1;
	else {
		r |= add_utf8(env, "SHELL", h->shell);
		r |= add_utf8(env, "TERM", h->term);
	}
	/* Who, from where, when: the audit record's fields. */
	if ((who = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "awsmfa", who) != 0)
		r = -1;
	else {
		r |= add_utf8(who, "user", h->user);
		r |= amfa_json_add_int(who, "uid", h->uid);
		r |= add_utf8(who, "iam_user", h->iam_user);
		r |= add_utf8(who, "host", h->host);
		r |= add_utf8(who, "source", h->source);
		if (h->source_port != 0)
			r |= amfa_json_add_int(who, "source_port",
			    h->source_port);
		if (h->sshd_pid != 0)
			r |= amfa_json_add_int(who, "sshd_pid", h->sshd_pid);
		r |= add_utf8(who, "time", h->time);
	}
	if (r == 0)
		text = amfa_json_line(o);
	json_object_put(o);
	if (text == NULL)
		return -1;
	r = put(b, text, strlen(text)) != 0 || put(b, "\n", 1) != 0 ? -1 : 0;
	free(text);
	return r;
}
