/* Time stamps as AWS writes them (STS Expiration, credential_process). */
#ifndef AMFA_AWS_TIME_H
#define AMFA_AWS_TIME_H

#include <time.h>

/* "2026-11-24T23:30:00Z", optional fractional seconds.  0 or -1. */
int amfa_parse_iso8601(const char *s, time_t *out);

#endif
