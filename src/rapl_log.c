/* rapl_log.c - see rapl_log.h. */
#include "rapl_log.h"

#include <stdarg.h>
#include <stdio.h>

static void stderr_sink(int severity, const char *message) {
  fprintf(stderr, "rapl[%d]: %s\n", severity, message);
}

static rapl_log_sink_fn current_sink = stderr_sink;

void rapl_log_set_sink(rapl_log_sink_fn sink) {
  current_sink = sink ? sink : stderr_sink;
}

void rapl_log(int severity, const char *format, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, format);
  /* clang-analyzer 14 misreads va_start here (valist.Uninitialized) */
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
  vsnprintf(message, sizeof(message), format, ap);
  va_end(ap);
  current_sink(severity, message);
}
