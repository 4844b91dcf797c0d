/* clock.c - see clock.h. */
#include "clock.h"

#include <time.h>

uint64_t rapl_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}
