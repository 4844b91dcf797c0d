/* clock.h - the one clock the core reads.
 *
 * Its own file so that a test can link its own definition instead and
 * drive time (tests/test_glue.c runs hours of collectd reads in
 * milliseconds); nothing else in the core reads a clock.
 */
#ifndef RAPL_CLOCK_H
#define RAPL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rapl_monotonic_ns(void);

#endif
