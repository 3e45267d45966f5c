/*
 * One session's recording: the asciicast lines (asciicast.h) written to
 * the descriptor that recording_dir.h created.  Every line is written
 * whole or not at all (amfa_append_whole: the file size limit, which may
 * be the caller's hard RLIMIT_FSIZE, and the free space are checked first;
 * a part written all the same is taken back), so a recording cut short by
 * a limit is still a valid asciicast file that ends with a whole line.
 *
 * A line that would take the file past `max' bytes, or that cannot be
 * written, ends the recording: the descriptor is closed, `failed' says why,
 * and every later call does nothing.  What happens to the session then is
 * the caller's (recording_failure in gateway.conf).
 */
#ifndef GW_RECORDING_H
#define GW_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "asciicast.h"

struct gw_recording {
	int fd;		    /* -1: not recording (any more) */
	uint64_t max;	    /* bytes the file may reach */
	uint64_t written;   /* bytes in the file */
	uint64_t t0_us;	    /* start, monotonic microseconds */
	int record_input;   /* "i" events too */
	const char *failed; /* why the recording ended early, or NULL */
	struct gw_utf8_carry out_carry, err_carry, in_carry;
	struct gw_buf buf;
};

/* Start on `fd' (ours from now on) with the header.  0, or -1 (failed). */
int gw_recording_start(struct gw_recording *r, int fd, uint64_t max,
    int record_input, const struct gw_cast_header *h);

/*
 * Record output (`stream' 1 or 2, stdout or stderr of a shell without a
 * terminal; both are "o"), typed input (only with record_input), a new
 * terminal size, or a marker.  0 when recorded or not recording; -1 when
 * this event ended the recording (r->failed says why).
 */
int gw_recording_output(struct gw_recording *r, int stream, const void *p,
    size_t n);
int gw_recording_input(struct gw_recording *r, const void *p, size_t n);
int gw_recording_resize(struct gw_recording *r, unsigned cols, unsigned rows);
int gw_recording_marker(struct gw_recording *r, const char *text);

/* Is it still recording? */
int gw_recording_on(const struct gw_recording *r);

/* Close the file (it stays as it is) and free the buffer. */
void gw_recording_close(struct gw_recording *r);

#endif
