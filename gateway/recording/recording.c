/* Writing one recording; see recording.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recording.h"
#include "secure_file.h"

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
stop(struct gw_recording *r, const char *why)
{
	r->failed = why;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* Write the line in r->buf whole, or end the recording.  0 or -1. */
static int
flush(struct gw_recording *r)
{
	int e;

	if (r->buf.len > r->max - r->written || r->written > r->max) {
		stop(r, "the recording reached recording_max_size");
		return -1;
	}
	if ((e = amfa_append_whole(r->fd, r->buf.p, r->buf.len)) != 0) {
		stop(r,
		    e == -EFBIG ?
			"the file size limit (RLIMIT_FSIZE) stopped the "
			"recording" :
			e == -ENOSPC ? "the recording's file system is full" :
				       "a recording write failed");
		return -1;
	}
	r->written += r->buf.len;
	r->buf.len = 0;
	return 0;
}

int
gw_recording_start(struct gw_recording *r, int fd, uint64_t max,
    int record_input, const struct gw_cast_header *h)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->max = max;
	r->record_input = record_input;
	r->t0_us = now_us();
	if (gw_cast_header(&r->buf, h) != 0) {
		stop(r, "out of memory");
		return -1;
	}
	return flush(r);
}

int
gw_recording_on(const struct gw_recording *r)
{
	return r->fd >= 0;
}

static int
event(struct gw_recording *r, char type, const void *p, size_t n,
    struct gw_utf8_carry *carry)
{
	if (r->fd < 0)
		return 0;
	r->buf.len = 0;
	if (gw_cast_event(&r->buf, now_us() - r->t0_us, type, p, n, carry) !=
	    0) {
		stop(r, "out of memory");
		return -1;
	}
	return flush(r);
}

int
gw_recording_output(struct gw_recording *r, int stream, const void *p, size_t n)
{
	return event(r, 'o', p, n, stream == 2 ? &r->err_carry : &r->out_carry);
}

int
gw_recording_input(struct gw_recording *r, const void *p, size_t n)
{
	if (!r->record_input)
		return 0;
	return event(r, 'i', p, n, &r->in_carry);
}

int
gw_recording_resize(struct gw_recording *r, unsigned cols, unsigned rows)
{
	char size[32];

	snprintf(size, sizeof(size), "%ux%u", cols, rows);
	return event(r, 'r', size, strlen(size), NULL);
}

int
gw_recording_marker(struct gw_recording *r, const char *text)
{
	return event(r, 'm', text, strlen(text), NULL);
}

void
gw_recording_close(struct gw_recording *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	gw_buf_free(&r->buf);
}
