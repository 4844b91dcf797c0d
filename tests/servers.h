/* servers.h - the real servers of the downstream end-to-end tests, each
 * started on loopback ports with all its files in the test's temp dir and
 * stopped by PID: InfluxDB 1.x (Debian's influxd, with a [[collectd]]
 * input on the stock types.db) and carbon-cache (graphite-carbon, whisper
 * files read back with /usr/bin/python3's whisper module). A server that
 * cannot start fails the test (never skips). */
#ifndef RAPL_SERVERS_H
#define RAPL_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* a loopback port free now (SOCK_STREAM or SOCK_DGRAM); the kernel's
 * choice, from the ephemeral range: never a server's default port */
int free_port(int type);
/* something listens on 127.0.0.1:port (tcp) */
bool tcp_port_open(int port);
/* something is bound to 127.0.0.1:port (udp) */
bool udp_port_bound(int port);

/* fork + exec, stdout and stderr appended to `log`, in its own process
 * group, SIGTERM'd when the test process dies (a failed check) */
pid_t spawn_daemon(char *const argv[], const char *log);
/* until something accepts on 127.0.0.1:port (tcp); fails the test, naming
 * the server `what`, if pid exits or 30 s pass (then it is SIGKILL'd) */
void wait_listening(const char *what, pid_t pid, int port, const char *log);

/* influxd: dir/influxdb.conf, data under dir/influxdb, HTTP on `http`,
 * RPC on `rpc`, the collectd input (database "collectd") on udp `udp`;
 * *logp: its log (malloc'd). start_ returns at once, wait_ until /ping
 * answers (fails the test if it exits or 15 s pass). $INFLUXD overrides
 * /usr/bin/influxd. */
pid_t start_influxd(const char *dir, int http, int rpc, int udp, char **logp);
void wait_influxd(pid_t pid, int http, const char *log);
/* one InfluxQL query on database "collectd" (curl); the JSON, malloc'd;
 * times in microseconds since the epoch */
char *influx_query(int http, const char *q);
/* the [[time, value], ...] pairs of a one-series answer */
size_t influx_points(const char *json, double *t, double *v, size_t max);
/* waits (up to timeout_s) until the answer to q stops changing */
void influx_settle(int http, const char *q, double timeout_s);

/* carbon-cache --nodaemon: dir/carbon.conf, whisper files under
 * dir/carbon/whisper (1 s resolution for an hour), line receiver on tcp
 * `port`; *logp: its log (malloc'd). wait_ until it listens (fails the
 * test if it exits or 30 s pass). */
pid_t start_carbon(const char *dir, int port, char **logp);
void wait_carbon(pid_t pid, int port, const char *log);

/* the non-null points of whisper files, read with whisper.fetch in one
 * python3 run: "<file> <time> <value>" lines, malloc'd */
char *whisper_dump(const char *dir, char *const files[], size_t n);

#endif
