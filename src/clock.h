/* clock.h - the one clock the core reads.
 *
 * Its own file so that a test can link its own definition instead and
 * drive time (tests/test_glue.c runs hours of collectd reads in
 * milliseconds); nothing else in the core reads a clock.
 */
#ifndef RAPL_CLOCK_H
#define RAPL_CLOCK_H

#include <stdint.h>

/* The time base of every power value, in nanoseconds (SPEC section 3). */
uint64_t rapl_clock_ns(void);

#endif
