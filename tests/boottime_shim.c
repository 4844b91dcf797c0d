/* boottime_shim.c - LD_PRELOAD into collectd: a suspend as its clocks see it.
 *
 * Linux's CLOCK_BOOTTIME counts the time a machine was suspended and
 * CLOCK_MONOTONIC does not. tests/test_suspend freezes collectd (SIGSTOP),
 * adds the length of a pretended sleep to the file named by
 * $RAPL_BOOTTIME_OFFSET_FILE, makes rapl-sim's counters jump by the energy
 * used asleep (its `sleep` command) and lets collectd go on (SIGCONT): to
 * collectd that is a resume from suspend.
 *
 * clock_gettime(CLOCK_BOOTTIME or CLOCK_BOOTTIME_ALARM) returns the real
 * clock plus the offset in that file: seconds, a decimal number with up to
 * 9 fractional digits, read at every call (no file, an empty or a bad one:
 * 0). Every other clock, and every other function, is untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

/* "28800" or "28800.25" -> ns; 0 for anything else (or over 1e9 s). */
static int64_t parse_seconds(const char *s) {
  int64_t sec = 0, frac = 0, scale = NS_PER_S;
  const char *p = s;
  if (*p < '0' || *p > '9')
    return 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    sec = sec * 10 + (*p - '0');
    if (sec > 1000000000) /* 31 years: not a sleep */
      return 0;
  }
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      if (scale > 1) {
        scale /= 10;
        frac += (*p - '0') * scale;
      }
  while (*p == '\n' || *p == ' ')
    p++;
  return *p == '\0' ? sec * NS_PER_S + frac : 0;
}

static int64_t offset_ns(void) {
  const char *path = getenv("RAPL_BOOTTIME_OFFSET_FILE");
  if (path == NULL || path[0] == '\0')
    return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  char buf[64];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return parse_seconds(buf);
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
  static clock_gettime_fn real; /* the same value whichever thread sets it */
  clock_gettime_fn next = __atomic_load_n(&real, __ATOMIC_RELAXED);
  if (next == NULL) {
    next = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    if (next == NULL)
      abort();
    __atomic_store_n(&real, next, __ATOMIC_RELAXED);
  }
  int r = next(clk, ts);
  if (r != 0 || (clk != CLOCK_BOOTTIME && clk != CLOCK_BOOTTIME_ALARM))
    return r;
  int64_t ns = (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec + offset_ns();
  ts->tv_sec = (time_t)(ns / NS_PER_S);
  ts->tv_nsec = (long)(ns % NS_PER_S);
  return 0;
}
