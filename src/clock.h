/* clock.h - the one clock the core reads.
 *
 * CLOCK_BOOTTIME (SPEC section 3): monotonic like CLOCK_MONOTONIC, but it
 * also counts the time the machine was suspended, and RAPL counters keep
 * counting while a machine sleeps in s2idle. With CLOCK_MONOTONIC, which
 * stops during suspend, the energy used asleep fell into the one interval
 * around the resume: 8 h asleep at 0.5 W on psys came out as ~1460 W over
 * a 10 s interval, and 48 h at 0.6 W exceeded the plausibility cap and was
 * dropped as a counter reset (103 kJ). With CLOCK_BOOTTIME that energy is
 * counted and the first power after resume is the average over the sleep
 * and the interval (tests/test_clock.c, tests/test_suspend.c).
 *
 * Its own file so that a test can link its own definition instead and
 * drive time (tests/test_glue.c runs hours of collectd reads in
 * milliseconds); nothing else in the core reads a clock.
 */
#ifndef RAPL_CLOCK_H
#define RAPL_CLOCK_H

#include <stdint.h>

/* The time base of every power value, in nanoseconds: CLOCK_BOOTTIME
 * (SPEC section 3). */
uint64_t rapl_clock_ns(void);

#endif
