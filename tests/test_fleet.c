/* test_fleet.c - end to end, issue 9 path 3: a fleet on one machine.
 *
 * Two collectd instances, Hostname "xeon" on a simulated 2-socket Intel
 * (xeon-2s) and Hostname "epyc" on a simulated 2-socket AMD (epyc-2s),
 * each loading rapl.so (powercap over FUSE, ActiveIdle false, Interval 2),
 * send with the network plugin, signed (SecurityLevel Sign, their own
 * Username/Password), to a third collectd, the aggregation server: network
 * <Listen> with SecurityLevel Sign and an AuthFile, `Forward true` to
 * InfluxDB 1.x's collectd input (stock types.db), and write_graphite to
 * carbon-cache (whisper). A fourth collectd, Hostname "intruder", signs
 * with a known user name and a wrong password.
 *
 * Checks: for each host, exactly the series the README documents (InfluxDB
 * measurement rapl_value with tags host/instance/type/type_instance;
 * Graphite paths <host>.rapl-<zone>.power-<domain>), every power within
 * 2 % of the simulated watts in InfluxDB and in whisper,
 * non_negative_derivative of the energy within 2 % (+ 1 J for whole
 * joules) of the power in InfluxDB, derive as J/s in whisper; nothing of
 * host "intruder" in either store, and the aggregator's log shows the
 * rejected signature. Every server (influxd, carbon-cache, the aggregator)
 * that cannot start fails the test (never skips). All on 127.0.0.1, on
 * ports the kernel picks (free now, never a default port).
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "servers.h"
#include "testutil.h"

/* the aggregator's AuthFile: one key per host */
#define AUTHFILE "xeon: xeon-secret-1\nepyc: epyc-secret-2\n"
/* what collectd's network plugin (5.12) logs for a signature made with
 * another key than the AuthFile's */
#define REJECTED "Verifying HMAC-SHA-256 signature failed"

#define RUN_S 12.5 /* reads at 0, 2, .. 12 s: 6 power points per series */
#define TOL 0.02
#define MAXE 16
#define MAXP 256

typedef struct {
  const char *host, *machine, *user, *password;
  e2e_t *sim;
  char *dir, *log;
  pid_t pid;
  expect_t e[MAXE];
  size_t ne;
  size_t influx_np[MAXE]; /* power points per series in InfluxDB */
  double influx_t[MAXE][MAXP]; /* and their times (µs) */
  /* figures */
  double influx_p, influx_d, whisper_p, whisper_rate;
  size_t influx_points, whisper_points;
} node_t;

static void put(const char *path, const char *content) {
  FILE *f = fopen(path, "w");
  ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
  fputs(content, f);
  fclose(f);
}

static void conf_head(FILE *f, const char *dir, const char *host) {
  fprintf(f,
          "Hostname \"%s\"\nFQDNLookup false\nBaseDir \"%s\"\n"
          "PIDFile \"%s/collectd.pid\"\nInterval 2\n"
          "PluginDir \"/usr/lib/collectd\"\n"
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n"
          "  PrintSeverity true\n</Plugin>\n"
          "<LoadPlugin network>\n  FlushInterval 1\n</LoadPlugin>\n",
          host, dir, dir, dir);
}

/* a fleet member: rapl on its simulated machine -> network, signed */
static void client_conf(node_t *n, int port) {
  char *conf = path_join(n->dir, "collectd.conf");
  char *sysfs = path_join(n->sim->root, "sys");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  conf_head(f, n->dir, n->host);
  fprintf(f,
          "<Plugin network>\n  <Server \"127.0.0.1\" \"%d\">\n"
          "    SecurityLevel Sign\n    Username \"%s\"\n    Password \"%s\"\n"
          "  </Server>\n</Plugin>\n"
          "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n"
          "<Plugin rapl>\n  SysfsPath \"%s\"\n  ActiveIdle false\n</Plugin>\n",
          port, n->user, n->password, env("RAPL_PLUGIN_DIR"), sysfs);
  fclose(f);
  free(sysfs);
  free(conf);
}

/* the aggregation server: signed packets in (AuthFile), forwarded to
 * InfluxDB's collectd input and written to carbon */
static void aggregator_conf(const char *dir, int listen, int influx_udp,
                            int carbon) {
  char *conf = path_join(dir, "collectd.conf");
  char *auth = path_join(dir, "passwd");
  put(auth, AUTHFILE);
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  conf_head(f, dir, "aggregator");
  fprintf(f,
          "<Plugin network>\n  <Listen \"127.0.0.1\" \"%d\">\n"
          "    SecurityLevel Sign\n    AuthFile \"%s\"\n  </Listen>\n"
          "  Server \"127.0.0.1\" \"%d\"\n  Forward true\n</Plugin>\n"
          "LoadPlugin write_graphite\n<Plugin write_graphite>\n"
          "  <Node \"carbon\">\n    Host \"127.0.0.1\"\n    Port \"%d\"\n"
          "    Protocol \"tcp\"\n  </Node>\n</Plugin>\n",
          listen, auth, influx_udp, carbon);
  fclose(f);
  free(auth);
  free(conf);
}

static pid_t start_collectd(const char *dir) {
  char *conf = path_join(dir, "collectd.conf");
  char *out = path_join(dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-f", "-C", conf, NULL};
  pid_t pid = spawn_daemon(argv, out);
  free(out);
  free(conf);
  return pid;
}

/* ---- InfluxDB ---------------------------------------------------------- */

static void check_influx(int http, node_t *n, const char *series) {
  char key[1024], q[2048];
  size_t nser = 0;
  snprintf(key, sizeof(key), "[\"rapl_value,host=%s,", n->host);
  for (const char *s = series; (s = strstr(s, key)) != NULL; s++)
    nser++;
  /* derive + power per zone and domain, and the meter gauge */
  ck_assert_msg(nser == 2 * n->ne + 1, "%s: %zu series, %zu expected: %s",
                n->host, nser, 2 * n->ne + 1, series);
  snprintf(key, sizeof(key),
           "[\"rapl_value,host=%s,type=gauge,type_instance=meter-rapl-powercap\"]",
           n->host);
  ck_assert_msg(strstr(series, key) != NULL, "no %s in %s", key, series);
  double *pt = calloc(4 * MAXP, sizeof(double));
  ck_assert_ptr_nonnull(pt);
  double *pv = pt + MAXP, *dt = pt + 2 * MAXP, *dv = pt + 3 * MAXP;
  for (size_t i = 0; i < n->ne; i++) {
    const expect_t *e = &n->e[i];
    for (int k = 0; k < 2; k++) {
      snprintf(key, sizeof(key),
               "[\"rapl_value,host=%s,instance=%s,type=%s,type_instance=%s\"]",
               n->host, e->zone, k ? "power" : "derive", e->domain);
      ck_assert_msg(strstr(series, key) != NULL, "no %s in %s", key, series);
    }
    snprintf(q, sizeof(q),
             "SELECT value FROM rapl_value WHERE host='%s' AND instance='%s' "
             "AND type='power' AND type_instance='%s'",
             n->host, e->zone, e->domain);
    char *pj = influx_query(http, q);
    size_t np = influx_points(pj, pt, pv, MAXP);
    ck_assert_msg(np >= 5, "%s %s/%s: %zu power points: %s", n->host, e->zone,
                  e->domain, np, pj);
    for (size_t k = 0; k < np; k++) {
      double err = fabs(pv[k] - e->watts) / e->watts;
      n->influx_p = fmax(n->influx_p, err);
      ck_assert_msg(err <= TOL, "InfluxDB %s %s/%s: %.4f W, simulated %.4f W",
                    n->host, e->zone, e->domain, pv[k], e->watts);
    }
    n->influx_points += np;
    n->influx_np[i] = np;
    memcpy(n->influx_t[i], pt, np * sizeof(double));
    snprintf(q, sizeof(q),
             "SELECT non_negative_derivative(value, 1s) FROM rapl_value WHERE "
             "host='%s' AND instance='%s' AND type='derive' AND "
             "type_instance='%s'",
             n->host, e->zone, e->domain);
    char *dj = influx_query(http, q);
    size_t nd = influx_points(dj, dt, dv, MAXP);
    ck_assert_msg(nd >= 4, "%s %s/%s: %zu derivative points: %s", n->host,
                  e->zone, e->domain, nd, dj);
    /* as test_influxdb.c: each derivative point is the energy of the
     * interval ending at a read, which dispatched that interval's power
     * with the same time; joules are whole (up to 1 J off per point) */
    double sum_d = 0, sum_p = 0, prev_t = NAN;
    size_t matched = 0;
    for (size_t k = 0; k < nd; k++) {
      size_t m = 0;
      while (m < np && pt[m] != dt[k])
        m++;
      ck_assert_msg(m < np, "%s %s/%s: no power at derivative time %.0f",
                    n->host, e->zone, e->domain, dt[k]);
      double span = m > 0 ? (pt[m] - pt[m - 1]) / 1e6 : NAN;
      if (!isnan(prev_t))
        span = (dt[k] - prev_t) / 1e6;
      prev_t = dt[k];
      if (!isnan(span) && span > 1.0) {
        ck_assert_msg(fabs(dv[k] - pv[m]) * span <= TOL * pv[m] * span + 1.0,
                      "%s %s/%s: derivative %.4f W against power %.4f W",
                      n->host, e->zone, e->domain, dv[k], pv[m]);
        sum_d += dv[k] * span;
        sum_p += pv[m] * span;
        matched++;
      }
    }
    ck_assert_uint_ge(matched, 3);
    double err = fabs(sum_d - sum_p) / sum_p;
    n->influx_d = fmax(n->influx_d, err);
    ck_assert_msg(fabs(sum_d - sum_p) <= TOL * sum_p + 1.0,
                  "%s %s/%s: derivative %.2f J against power %.2f J", n->host,
                  e->zone, e->domain, sum_d, sum_p);
    free(pj);
    free(dj);
  }
  free(pt);
}

/* ---- whisper ----------------------------------------------------------- */

static char *found[256];
static size_t n_found, skip_len;

static int collect(const char *path, const struct stat *st, int type,
                   struct FTW *ftw) {
  (void)st;
  (void)ftw;
  size_t len = strlen(path);
  if (type == FTW_F && len > 4 && strcmp(path + len - 4, ".wsp") == 0) {
    ck_assert_uint_lt(n_found, 256);
    found[n_found++] = strdup(path + skip_len);
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the points of one file in whisper_dump's text: times (s) in ts, values
 * in v */
static size_t wsp_points(const char *dump, const char *file, long *ts,
                         double *v, size_t max) {
  size_t n = 0, len = strlen(file);
  for (const char *l = dump; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
    if (strncmp(l, file, len) == 0 && l[len] == ' ' && n < max) {
      ck_assert_msg(sscanf(l + len, " %ld %lf", &ts[n], &v[n]) == 2, "%.80s",
                    l);
      n++;
    }
  }
  return n;
}

/* the whisper slot of an InfluxDB time (µs): write_graphite sends
 * CDTIME_T_TO_TIME_T(vl->time), collectd's time rounded to the nearest
 * second; InfluxDB keeps the fraction; whisper's step is 1 s */
static long wsp_slot(double influx_us) {
  return (long)floor(influx_us / 1e6 + 0.5);
}

/* InfluxDB's and whisper's times of one series, side by side, and what
 * either lacks; in buf */
static const char *times_diff(char *buf, size_t size, const double *it,
                              size_t ni, const long *wt, size_t nw) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, size - o, "\n  InfluxDB:");
  for (size_t k = 0; k < ni && o < size; k++)
    o += (size_t)snprintf(buf + o, size - o, " %.3f", it[k] / 1e6);
  if (o < size)
    o += (size_t)snprintf(buf + o, size - o, "\n  whisper: ");
  for (size_t k = 0; k < nw && o < size; k++)
    o += (size_t)snprintf(buf + o, size - o, " %ld", wt[k]);
  for (size_t k = 0; k < ni && o < size; k++) {
    size_t m = 0;
    while (m < nw && wt[m] != wsp_slot(it[k]))
      m++;
    if (m == nw)
      o += (size_t)snprintf(buf + o, size - o,
                            "\n  not in whisper: %.3f (slot %ld)", it[k] / 1e6,
                            wsp_slot(it[k]));
  }
  for (size_t m = 0; m < nw && o < size; m++) {
    size_t k = 0;
    while (k < ni && wsp_slot(it[k]) != wt[m])
      k++;
    if (k == ni)
      o += (size_t)snprintf(buf + o, size - o, "\n  not in InfluxDB: %ld",
                            wt[m]);
  }
  return buf;
}

static void check_whisper(const char *dump, node_t *n) {
  double v[MAXP];
  long ts[MAXP];
  char file[512], diff[4096];
  for (size_t i = 0; i < n->ne; i++) {
    const expect_t *e = &n->e[i];
    snprintf(file, sizeof(file), "%s/rapl-%s/power-%s.wsp", n->host, e->zone,
             e->domain);
    size_t np = wsp_points(dump, file, ts, v, MAXP);
    /* complete: every point InfluxDB got (the aggregator wrote both) */
    ck_assert_msg(np == n->influx_np[i], "%s: %zu points, %zu in InfluxDB%s",
                  file, np, n->influx_np[i],
                  times_diff(diff, sizeof(diff), n->influx_t[i],
                             n->influx_np[i], ts, np));
    /* the same points: each of InfluxDB's times has its whisper slot */
    for (size_t k = 0; k < n->influx_np[i]; k++) {
      size_t m = 0;
      while (m < np && ts[m] != wsp_slot(n->influx_t[i][k]))
        m++;
      ck_assert_msg(m < np, "%s: not the points InfluxDB has%s", file,
                    times_diff(diff, sizeof(diff), n->influx_t[i],
                               n->influx_np[i], ts, np));
    }
    for (size_t k = 0; k < np; k++) {
      double err = fabs(v[k] - e->watts) / e->watts;
      n->whisper_p = fmax(n->whisper_p, err);
      ck_assert_msg(err <= TOL, "whisper %s: %.4f W, simulated %.4f W", file,
                    v[k], e->watts);
    }
    n->whisper_points += np;
    /* derive, sent as J/s (write_graphite's StoreRates default) from
     * whole joules over 2 s: the mean within 2 % + 1 W */
    snprintf(file, sizeof(file), "%s/rapl-%s/derive-%s.wsp", n->host, e->zone,
             e->domain);
    size_t nd = wsp_points(dump, file, ts, v, MAXP);
    ck_assert_msg(nd >= 3, "%s: %zu points", file, nd);
    double mean = 0;
    for (size_t k = 0; k < nd; k++)
      mean += v[k] / (double)nd;
    n->whisper_rate = fmax(n->whisper_rate, fabs(mean - e->watts));
    ck_assert_msg(fabs(mean - e->watts) <= TOL * e->watts + 1.0,
                  "%s: mean %.4f J/s, simulated %.4f W", file, mean, e->watts);
  }
  snprintf(file, sizeof(file), "%s/rapl/gauge-meter-rapl-powercap.wsp", n->host);
  size_t ng = wsp_points(dump, file, ts, v, MAXP);
  ck_assert_msg(ng >= 3, "%s: %zu points", file, ng);
  for (size_t k = 0; k < ng; k++)
    ck_assert_double_eq(v[k], 1);
}

/* whisper holds, for every power series of both hosts, a point in the slot
 * of each of InfluxDB's points */
static bool whisper_complete(const char *dump, node_t *nodes) {
  double v[MAXP];
  long ts[MAXP];
  char file[512];
  for (size_t h = 0; h < 2; h++) {
    node_t *n = &nodes[h];
    for (size_t i = 0; i < n->ne; i++) {
      snprintf(file, sizeof(file), "%s/rapl-%s/power-%s.wsp", n->host,
               n->e[i].zone, n->e[i].domain);
      size_t np = wsp_points(dump, file, ts, v, MAXP);
      for (size_t k = 0; k < n->influx_np[i]; k++) {
        size_t m = 0;
        while (m < np && ts[m] != wsp_slot(n->influx_t[i][k]))
          m++;
        if (m == np)
          return false;
      }
    }
  }
  return true;
}

/* the first line of `text` that holds `needle`, malloc'd */
static char *line_with(const char *text, const char *needle) {
  const char *p = strstr(text, needle);
  if (p == NULL)
    return strdup("");
  const char *b = p;
  while (b > text && b[-1] != '\n')
    b--;
  const char *e = strchr(p, '\n');
  return strndup(b, e ? (size_t)(e - b) : strlen(b));
}

START_TEST(fleet_signed_network_to_influxdb_and_carbon) {
  double t0 = now_s();
  char *dir = make_temp_dir("fleet-e2e");
  /* five distinct loopback ports */
  int http = free_port(SOCK_STREAM), rpc, carbon, iudp = free_port(SOCK_DGRAM),
      listen;
  do
    rpc = free_port(SOCK_STREAM);
  while (rpc == http);
  do
    carbon = free_port(SOCK_STREAM);
  while (carbon == http || carbon == rpc);
  do
    listen = free_port(SOCK_DGRAM);
  while (listen == iudp);

  char *ilog, *clog;
  pid_t influxd = start_influxd(dir, http, rpc, iudp, &ilog);
  pid_t carbond = start_carbon(dir, carbon, &clog);

  e2e_t xeon = {0}, epyc = {0};
  start_sim_args(&xeon, "xeon-2s", 3600, "--powercap", "fuse", NULL);
  start_sim_args(&epyc, "epyc-2s", 3600, "--powercap", "fuse", NULL);
  node_t nodes[3] = {
      {.host = "xeon", .machine = "xeon-2s", .user = "xeon",
       .password = "xeon-secret-1", .sim = &xeon},
      {.host = "epyc", .machine = "epyc-2s", .user = "epyc",
       .password = "epyc-secret-2", .sim = &epyc},
      /* a known user name, the wrong key; reads the Xeon's counters */
      {.host = "intruder", .machine = "xeon-2s", .user = "epyc",
       .password = "not-the-key", .sim = &xeon},
  };
  for (size_t i = 0; i < 3; i++) {
    nodes[i].ne = expected_zones(nodes[i].sim->model, nodes[i].e, MAXE, false);
    ck_assert_uint_eq(nodes[i].ne, 6); /* 2 packages + total, x 2 domains */
  }

  wait_influxd(influxd, http, ilog);
  wait_carbon(carbond, carbon, clog);
  double t_servers = now_s() - t0;

  char *adir = path_join(dir, "aggregator");
  ck_assert_int_eq(mkdir(adir, 0755), 0);
  aggregator_conf(adir, listen, iudp, carbon);
  char *alogf = path_join(adir, "collectd.log");
  char *aerr = path_join(adir, "collectd.stderr");
  pid_t agg = start_collectd(adir);
  for (double deadline = now_s() + 10; !udp_port_bound(listen);) {
    ck_assert_msg(waitpid(agg, NULL, WNOHANG) == 0,
                  "the aggregator exited:\n%s\n%s", slurp(aerr), slurp(alogf));
    ck_assert_msg(now_s() < deadline,
                  "the aggregator did not bind 127.0.0.1:%d in 10 s:\n%s", listen,
                  slurp(alogf));
    usleep(20000);
  }

  for (size_t i = 0; i < 3; i++) {
    nodes[i].dir = path_join(dir, nodes[i].host);
    ck_assert_int_eq(mkdir(nodes[i].dir, 0755), 0);
    nodes[i].log = path_join(nodes[i].dir, "collectd.log");
    client_conf(&nodes[i], listen);
    nodes[i].pid = start_collectd(nodes[i].dir);
  }
  for (double end = now_s() + RUN_S; now_s() < end;) {
    for (size_t i = 0; i < 3; i++)
      ck_assert_msg(waitpid(nodes[i].pid, NULL, WNOHANG) == 0,
                    "collectd %s exited early:\n%s", nodes[i].host,
                    slurp(nodes[i].log));
    ck_assert_msg(waitpid(agg, NULL, WNOHANG) == 0,
                  "the aggregator exited early:\n%s", slurp(alogf));
    usleep(50000);
  }
  for (size_t i = 0; i < 3; i++)
    kill(nodes[i].pid, SIGTERM);
  for (size_t i = 0; i < 3; i++) {
    int st = wait_exit(nodes[i].pid, 30);
    char *log = slurp(nodes[i].log);
    ck_assert_msg(st == 0, "collectd %s exit status %d:\n%s", nodes[i].host, st,
                  log);
    ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s:\n%s",
                  nodes[i].host, log);
    free(log);
  }
  /* the clients' last packets through the aggregator: what it forwards to
   * InfluxDB stops changing (its write threads have handled every value
   * list, for write_graphite too); then its shutdown flushes
   * write_graphite. Stopping it 0.5 s after the clients lost up to a
   * whole read's points in whisper on a loaded machine. */
  usleep(1500000); /* its network buffer goes out every second */
  influx_settle(http, "SELECT count(value) FROM rapl_value", 10);
  kill(agg, SIGTERM);
  int ast = wait_exit(agg, 30);
  char *alog = slurp(alogf);
  ck_assert_msg(ast == 0, "aggregator exit status %d:\n%s", ast, alog);
  ck_assert_msg(count_lines_with(alog, "[error]") == 0, "aggregator:\n%s", alog);

  /* the intruder: rejected, and it says so */
  size_t rejected = count_lines_with(alog, REJECTED);
  ck_assert_msg(rejected >= 3, "%zu \"%s\" in the aggregator's log:\n%s",
                rejected, REJECTED, alog);
  char *reject_line = line_with(alog, REJECTED);
  ck_assert_msg(strstr(reject_line, "Username: epyc") != NULL, "%s",
                reject_line);

  /* InfluxDB: both hosts, exactly their series, nothing else */
  char *meas = influx_query(http, "SHOW MEASUREMENTS");
  ck_assert_msg(strstr(meas, "[[\"rapl_value\"]]") != NULL,
                "measurements: %s\ninfluxd:\n%s\naggregator:\n%s", meas,
                slurp(ilog), alog);
  char *hosts = influx_query(http, "SHOW TAG VALUES FROM rapl_value WITH KEY = \"host\"");
  ck_assert_msg(strstr(hosts, "[[\"host\",\"epyc\"],[\"host\",\"xeon\"]]") != NULL,
                "hosts: %s", hosts);
  char *series = influx_query(http, "SHOW SERIES");
  ck_assert_msg(strstr(series, "intruder") == NULL, "%s", series);
  size_t nser = 0;
  for (const char *s = series; (s = strstr(s, "[\"rapl_value,")) != NULL; s++)
    nser++;
  ck_assert_msg(nser == 2 * (2 * 6 + 1), "%zu series: %s", nser, series);
  for (size_t i = 0; i < 2; i++)
    check_influx(http, &nodes[i], series);

  /* carbon-cache (1.1.7) does not write its cache out when it stops: its
   * writer thread writes what it cached, sleeps 1 s, and loops while the
   * reactor runs; SIGTERM ends the loop at once, dropping whatever came in
   * since its last pass. The aggregator's shutdown flushes write_graphite's
   * last buffer, so stopping carbon within about a second of that could
   * lose the last read of some series (whisper 5 points, InfluxDB 6). So:
   * the files, then wait until whisper holds every point InfluxDB has, then
   * stop carbon. */
  char *data = path_join(dir, "carbon/whisper");
  skip_len = strlen(data) + 1;
  n_found = 0;
  ck_assert_msg(nftw(data, collect, 16, FTW_PHYS) == 0,
                "no whisper files:\naggregator:\n%s\ncarbon:\n%s", alog,
                slurp(clog));
  qsort(found, n_found, sizeof(found[0]), cmp_str);
  char *want[64];
  size_t nwant = 0;
  for (size_t i = 0; i < 2; i++) {
    for (size_t k = 0; k < nodes[i].ne; k++)
      for (int d = 0; d < 2; d++)
        ck_assert_int_ge(asprintf(&want[nwant++], "%s/rapl-%s/%s-%s.wsp",
                                  nodes[i].host, nodes[i].e[k].zone,
                                  d ? "power" : "derive", nodes[i].e[k].domain),
                         0);
    ck_assert_int_ge(asprintf(&want[nwant++], "%s/rapl/gauge-meter-rapl-powercap.wsp",
                              nodes[i].host), 0);
  }
  qsort(want, nwant, sizeof(want[0]), cmp_str);
  char listed[8192] = "";
  for (size_t i = 0; i < n_found; i++) {
    strncat(listed, found[i], sizeof(listed) - strlen(listed) - 2);
    strcat(listed, "\n");
  }
  ck_assert_msg(n_found == nwant, "%zu whisper files, %zu expected:\n%s",
                n_found, nwant, listed);
  for (size_t i = 0; i < n_found; i++)
    ck_assert_msg(strcmp(found[i], want[i]) == 0, "%s instead of %s in:\n%s",
                  found[i], want[i], listed);
  char *dump = whisper_dump(dir, found, n_found);
  for (double deadline = now_s() + 20;
       !whisper_complete(dump, nodes) && now_s() < deadline;) {
    ck_assert_msg(waitpid(carbond, NULL, WNOHANG) == 0,
                  "carbon-cache exited early:\n%s", slurp(clog));
    usleep(300000);
    free(dump);
    dump = whisper_dump(dir, found, n_found);
  }
  free(dump);
  kill(carbond, SIGTERM);
  int cst = wait_exit(carbond, 30);
  char *clogs = slurp(clog);
  ck_assert_msg(cst == 0 || cst == 128 + SIGTERM,
                "carbon-cache exit status %d:\n%s", cst, clogs);
  dump = whisper_dump(dir, found, n_found);
  for (size_t i = 0; i < 2; i++)
    check_whisper(dump, &nodes[i]);

  kill(influxd, SIGTERM);
  int ist = wait_exit(influxd, 15);
  ck_assert_msg(ist == 0, "influxd exit status %d", ist);

  for (size_t i = 0; i < 2; i++)
    printf("fleet e2e: host %s (%s): %zu series; InfluxDB %zu power points, "
           "worst power error %.3f %%, worst derivative/power error %.3f %%; "
           "whisper %zu power points, worst power error %.3f %%, worst mean "
           "J/s error %.3f W\n",
           nodes[i].host, nodes[i].machine, 2 * nodes[i].ne + 1,
           nodes[i].influx_points, 100 * nodes[i].influx_p,
           100 * nodes[i].influx_d, nodes[i].whisper_points,
           100 * nodes[i].whisper_p, nodes[i].whisper_rate);
  printf("fleet e2e: intruder rejected %zu times, nothing of it stored: %s\n"
         "fleet e2e: servers up after %.1f s, whole test %.1f s\n",
         rejected, reject_line, t_servers, now_s() - t0);
  fflush(stdout);

  for (size_t i = 0; i < n_found; i++)
    free(found[i]);
  for (size_t i = 0; i < nwant; i++)
    free(want[i]);
  for (size_t i = 0; i < 3; i++) {
    free(nodes[i].dir);
    free(nodes[i].log);
  }
  free(dump);
  free(data);
  free(clogs);
  free(series);
  free(hosts);
  free(meas);
  free(reject_line);
  free(alog);
  free(aerr);
  free(alogf);
  free(adir);
  free(ilog);
  free(clog);
  stop_sim(&xeon);
  stop_sim(&epyc);
  rm_tree(dir);
  free(dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fleet");
  TCase *tc = tcase_create("fleet");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, fleet_signed_network_to_influxdb_and_carbon);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
