/*
 * The asciicast v2 format (what asciinema(1) plays): a header line, a JSON
 * object, then one line per event, [TIME, TYPE, DATA], TIME in seconds
 * since the start, TYPE "o" (output), "i" (typed input), "r" (the
 * terminal's new size, "COLSxROWS") or "m" (a marker).  DATA is a JSON
 * string, so it must be UTF-8: a terminal's bytes are copied as they are
 * when they are UTF-8, a sequence cut between two reads is carried over to
 * the next event of its stream, and bytes that are not UTF-8 become
 * U+FFFD, as asciinema's own recorder does.  Pure formatting: no I/O.
 */
#ifndef GW_ASCIICAST_H
#define GW_ASCIICAST_H

#include <stddef.h>
#include <stdint.h>

/* A growing text buffer; free p with free(). */
struct gw_buf {
	char *p;
	size_t len, cap;
};

/* An incomplete UTF-8 sequence left at the end of a stream's last event. */
struct gw_utf8_carry {
	unsigned char b[4];
	size_t n;
};

/* What the header says about the session (NULL or 0: left out). */
struct gw_cast_header {
	unsigned width, height;
	int64_t timestamp; /* start, seconds since the epoch */
	const char *term;  /* the client's TERM */
	const char *shell;
	const char *user;
	int64_t uid;
	const char *iam_user;
	const char *host; /* the bastion's name */
	const char *source;
	unsigned source_port;
	long sshd_pid;
	const char *time; /* start, ISO 8601 UTC */
};

/* Append the header line (with its newline).  0, or -1 out of memory. */
int gw_cast_header(struct gw_buf *b, const struct gw_cast_header *h);

/*
 * Append one event line for `n' bytes of `data' at `usec' microseconds
 * after the start.  `carry' (per stream; NULL: none kept) takes an
 * incomplete UTF-8 sequence at the end and gives it back first next time.
 * 0, or -1 out of memory.
 */
int gw_cast_event(struct gw_buf *b, uint64_t usec, char type, const void *data,
    size_t n, struct gw_utf8_carry *carry);

/*
 * Append `n' bytes as the inside of a JSON string (no quotes), UTF-8
 * checked as above.  0, or -1 out of memory.
 */
int gw_json_utf8(struct gw_buf *b, const unsigned char *s, size_t n,
    struct gw_utf8_carry *carry);

int gw_buf_reserve(struct gw_buf *b, size_t more);
void gw_buf_free(struct gw_buf *b);

#endif
