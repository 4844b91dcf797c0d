/* rapl_log.h - logging seam between the collectd-free core and its host.
 *
 * The core (readers, accounting, meter) never calls collectd directly, so it
 * can be unit-tested alone. It logs through rapl_log(); the collectd glue
 * points the sink at plugin_log(), tests point it at a capture buffer.
 */
#ifndef RAPL_LOG_H
#define RAPL_LOG_H

/* Severities are syslog's, as collectd's plugin_log() takes them. */
enum { RAPL_LOG_ERR = 3, RAPL_LOG_WARNING = 4, RAPL_LOG_NOTICE = 5, RAPL_LOG_INFO = 6 };

typedef void (*rapl_log_sink_fn)(int severity, const char *message);

/* NULL restores the default sink (stderr). */
void rapl_log_set_sink(rapl_log_sink_fn sink);

void rapl_log(int severity, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
