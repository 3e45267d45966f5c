/* Milliseconds on CLOCK_MONOTONIC: deadlines and durations, never dates. */
#ifndef AMFA_MONOTONIC_H
#define AMFA_MONOTONIC_H

long long amfa_monotonic_ms(void);

#endif
