/* test_dashboards.c - the Grafana dashboards (issue 9): every query of
 * contrib/grafana/rapl-graphite.json and contrib/grafana/rapl-influxdb.json
 * runs against real servers fed by real collectds, and must return data.
 *
 * Two collectds (Hostname h1 on a simulated xeon-2s, h2 on a simulated
 * epyc-2s, both powercap over FUSE, Interval 1, ActiveIdle on with the
 * host's /proc/stat) send through write_graphite to carbon-cache (Debian's
 * graphite-carbon) and through the network plugin to InfluxDB 1.x's
 * collectd input (Debian's influxd; both started by tests/servers.c),
 * all on loopback ports the kernel picks, everything in the test's temp
 * dir. Then carbon is stopped (its cache flushed to whisper) and Debian's
 * graphite-web serves those whisper files through its real render API
 * (tests/graphite_web.py: graphite.wsgi under wsgiref).
 * tests/dashboard_queries.py parses both dashboards,
 * substitutes the variables as Grafana does ($host = both hosts, so the
 * fleet panels sum two hosts) and runs every target and every variable
 * query; it fails on an error, an empty answer or an all-null series.
 * Here, from what it printed:
 *   - power per socket and domain: exactly the simulated zones and domains
 *     of both hosts, every point within 2 % of the simulated watts;
 *   - fleet total: the sum of both hosts' zone totals per domain (median
 *     within 2 %; the first and last buckets may hold one host only);
 *   - active + idle (means) within 2 % of the zone total's watts;
 *   - energy, last 24 h and 7 days, kWh: per host and domain between the
 *     simulated watts x (run - 4 s) and x (run + 1 s) (the first read is a
 *     baseline), the fleet's equal to the sum of the hosts', 7 d = 24 h.
 * A server that cannot start fails the test (never a skip).
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES, RAPL_CONTRIB, RAPL_TESTS (the tests' source dir). */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "servers.h"
#include "testutil.h"

#define PYTHON "/usr/bin/python3" /* Debian's: graphite-web, whisper */
#define RUN_S 10.0 /* collectd's run */

/* collectd for one host: rapl -> write_graphite and network */
static char *host_conf(const char *dir, const char *host, const char *sysfs,
                       int carbon, int udp) {
  char *conf = path_join(dir, "collectd.conf");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "Hostname \"%s\"\nFQDNLookup false\nBaseDir \"%s\"\n"
          "PIDFile \"%s/collectd.pid\"\nInterval 1\n"
          "PluginDir \"/usr/lib/collectd\"\n"
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n"
          "  PrintSeverity true\n</Plugin>\n"
          "LoadPlugin write_graphite\n<Plugin write_graphite>\n"
          "  <Node \"carbon\">\n    Host \"127.0.0.1\"\n    Port \"%d\"\n"
          "    Protocol \"tcp\"\n  </Node>\n</Plugin>\n"
          "<LoadPlugin network>\n  FlushInterval 1\n</LoadPlugin>\n"
          "<Plugin network>\n  Server \"127.0.0.1\" \"%d\"\n</Plugin>\n"
          "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n"
          "<Plugin rapl>\n  SysfsPath \"%s\"\n</Plugin>\n",
          host, dir, dir, dir, carbon, udp, env("RAPL_PLUGIN_DIR"), sysfs);
  fclose(f);
  return conf;
}

/* one S line of dashboard_queries.py */
typedef struct {
  char kind[16], panel[128], ref[8], name[256];
  double n, mean, median, min, max, last;
} row_t;

#define MAX_ROWS 256
static row_t rows[MAX_ROWS];
static size_t n_rows;

static void parse_rows(char *text) {
  n_rows = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, "S\t", 2) != 0)
      continue;
    ck_assert_uint_lt(n_rows, MAX_ROWS);
    row_t *r = &rows[n_rows++];
    int got = sscanf(line,
                     "S\t%15[^\t]\t%127[^\t]\t%7[^\t]\t%255[^\t]\t%lf\t%lf\t%lf"
                     "\t%lf\t%lf\t%lf",
                     r->kind, r->panel, r->ref, r->name, &r->n, &r->mean,
                     &r->median, &r->min, &r->max, &r->last);
    ck_assert_msg(got == 10, "bad line \"%s\"", line);
  }
}

static const row_t *find_row(const char *kind, const char *panel,
                             const char *ref, const char *name) {
  for (size_t i = 0; i < n_rows; i++)
    if (strcmp(rows[i].kind, kind) == 0 && strcmp(rows[i].panel, panel) == 0 &&
        strcmp(rows[i].ref, ref) == 0 && strcmp(rows[i].name, name) == 0)
      return &rows[i];
  return NULL;
}

static size_t count_rows(const char *kind, const char *panel, const char *ref) {
  size_t n = 0;
  for (size_t i = 0; i < n_rows; i++)
    n += strcmp(rows[i].kind, kind) == 0 && strcmp(rows[i].panel, panel) == 0 &&
         strcmp(rows[i].ref, ref) == 0;
  return n;
}

typedef struct {
  const char *name;
  expect_t e[32];
  size_t n;
} host_t;

static double total_watts(const host_t *h, const char *domain) {
  for (size_t i = 0; i < h->n; i++)
    if (strcmp(h->e[i].zone, "total") == 0 && strcmp(h->e[i].domain, domain) == 0)
      return h->e[i].watts;
  return 0;
}

static double worst_power, worst_fleet, worst_ai;

static void check_kind(const char *kind, const host_t *hosts, size_t nh,
                       const char *out) {
  /* power per socket and domain: exactly the zones, every point 2 % */
  const char *P = "Power per socket and domain";
  size_t want = 0;
  for (size_t h = 0; h < nh; h++)
    for (size_t i = 0; i < hosts[h].n; i++) {
      const expect_t *e = &hosts[h].e[i];
      if (strcmp(e->zone, "total") == 0)
        continue;
      want++;
      char name[256];
      snprintf(name, sizeof(name), "%s.rapl-%s.power-%s", hosts[h].name,
               e->zone, e->domain);
      const row_t *r = find_row(kind, P, "A", name);
      ck_assert_msg(r != NULL, "%s: no %s in:\n%s", kind, name, out);
      ck_assert_msg(r->n >= 3, "%s %s: %.0f points", kind, name, r->n);
      double err = fmax(fabs(r->min - e->watts), fabs(r->max - e->watts)) /
                   e->watts;
      worst_power = fmax(worst_power, err);
      ck_assert_msg(err <= 0.02, "%s %s: %.4f..%.4f W, simulated %.4f W", kind,
                    name, r->min, r->max, e->watts);
      printf("dashboards: %s %s: %s %.0f points %.3f..%.3f W, simulated "
             "%.3f W\n",
             kind, P, name, r->n, r->min, r->max, e->watts);
    }
  ck_assert_uint_eq(count_rows(kind, P, "A"), want);

  /* fleet: per domain, the sum of the hosts' totals */
  const char *F = "Fleet total power";
  const char *domains[] = {"package", "dram", "core"};
  size_t n_fleet = 0;
  for (size_t d = 0; d < 3; d++) {
    double w = 0;
    for (size_t h = 0; h < nh; h++)
      w += total_watts(&hosts[h], domains[d]);
    if (w == 0)
      continue;
    n_fleet++;
    char name[64];
    snprintf(name, sizeof(name), "fleet %s", domains[d]);
    const row_t *r = find_row(kind, F, "A", name);
    ck_assert_msg(r != NULL, "%s: no %s in:\n%s", kind, name, out);
    double err = fabs(r->median - w) / w;
    worst_fleet = fmax(worst_fleet, err);
    ck_assert_msg(err <= 0.02, "%s %s: median %.4f W, simulated %.4f W", kind,
                  name, r->median, w);
    printf("dashboards: %s %s: %s median %.3f W (%.3f..%.3f, %.0f points), "
           "simulated sum %.3f W\n",
           kind, F, name, r->median, r->min, r->max, r->n, w);
  }
  ck_assert_uint_eq(count_rows(kind, F, "A"), n_fleet);

  /* active + idle = total */
  const char *AI = "Active and idle power (zone total)";
  size_t n_ai = 0;
  for (size_t h = 0; h < nh; h++)
    for (size_t d = 0; d < 3; d++) {
      double w = total_watts(&hosts[h], domains[d]);
      if (w == 0)
        continue;
      char na[128], ni[128];
      snprintf(na, sizeof(na), "%s.power-%s-active", hosts[h].name, domains[d]);
      snprintf(ni, sizeof(ni), "%s.power-%s-idle", hosts[h].name, domains[d]);
      const row_t *a = find_row(kind, AI, "A", na), *i = find_row(kind, AI, "A", ni);
      ck_assert_msg(a && i, "%s: no %s or %s in:\n%s", kind, na, ni, out);
      n_ai += 2;
      double err = fabs(a->mean + i->mean - w) / w;
      worst_ai = fmax(worst_ai, err);
      ck_assert_msg(err <= 0.02, "%s %s + %s: %.4f + %.4f W, total %.4f W",
                    kind, na, ni, a->mean, i->mean, w);
      printf("dashboards: %s %s: %s %.3f W + idle %.3f W = %.3f W, simulated "
             "total %.3f W\n",
             kind, AI, na, a->mean, i->mean, a->mean + i->mean, w);
    }
  ck_assert_uint_eq(count_rows(kind, AI, "A"), n_ai);

  /* energy */
  const char *E[2] = {"Energy, last 24 hours", "Energy, last 7 days"};
  for (size_t d = 0; d < 3; d++) {
    double fleet_j = 0, want_fleet = 0;
    bool any = false;
    for (size_t h = 0; h < nh; h++) {
      double w = total_watts(&hosts[h], domains[d]);
      if (w == 0)
        continue;
      any = true;
      char name[128];
      snprintf(name, sizeof(name), "%s.%s", hosts[h].name, domains[d]);
      const row_t *day = find_row(kind, E[0], "A", name);
      const row_t *week = find_row(kind, E[1], "A", name);
      ck_assert_msg(day && week, "%s: no energy %s in:\n%s", kind, name, out);
      /* the stat panels show the sum of the returned points */
      double j = day->mean * day->n * 3.6e6;
      double jw = week->mean * week->n * 3.6e6;
      ck_assert_msg(j >= w * (RUN_S - 4) && j <= w * (RUN_S + 1) * 1.02,
                    "%s energy %s: %.1f J, simulated %.3f W over %.0f s", kind,
                    name, j, w, RUN_S);
      ck_assert_msg(fabs(jw - j) <= 1e-3 * j, "%s %s: 7 days %.1f J, 24 h %.1f J",
                    kind, name, jw, j);
      printf("dashboards: %s energy %s: %.9f kWh = %.1f J (7 d: %.1f J), "
             "simulated %.3f W x %.0f s run = %.1f J\n",
             kind, name, j / 3.6e6, j, jw, w, RUN_S, w * RUN_S);
      fleet_j += j;
      want_fleet += w * RUN_S;
    }
    if (!any)
      continue;
    char name[64];
    snprintf(name, sizeof(name), "fleet %s", domains[d]);
    for (size_t k = 0; k < 2; k++) {
      const row_t *r = find_row(kind, E[k], "B", name);
      ck_assert_msg(r != NULL, "%s: no %s in %s:\n%s", kind, name, E[k], out);
      double j = r->mean * r->n * 3.6e6;
      ck_assert_msg(fabs(j - fleet_j) <= 1e-3 * fleet_j + 1e-6,
                    "%s %s %s: %.1f J, hosts' sum %.1f J", kind, E[k], name, j,
                    fleet_j);
      printf("dashboards: %s %s %s: %.1f J, hosts' sum %.1f J\n", kind, E[k],
             name, j, fleet_j);
    }
  }
}

START_TEST(dashboards_queries_return_data) {
  double t0 = now_s();
  e2e_t t1 = {0}, t2 = {0};
  start_sim_args(&t1, "xeon-2s", 3600, "--powercap", "fuse", NULL);
  start_sim_args(&t2, "epyc-2s", 3600, "--powercap", "fuse", NULL);
  host_t hosts[2] = {{.name = "h1"}, {.name = "h2"}};
  hosts[0].n = expected_zones(t1.model, hosts[0].e, 32, false);
  hosts[1].n = expected_zones(t2.model, hosts[1].e, 32, false);
  const char *dir = t1.dir;

  int carbon_port = free_port(SOCK_STREAM), http = free_port(SOCK_STREAM),
      rpc = free_port(SOCK_STREAM), udp = free_port(SOCK_DGRAM),
      web = free_port(SOCK_STREAM);
  while (http == carbon_port)
    http = free_port(SOCK_STREAM);
  while (rpc == http || rpc == carbon_port)
    rpc = free_port(SOCK_STREAM);
  char *carbon_log, *influx_log; /* dir/carbon.log, dir/influxd.log */
  pid_t carbon = start_carbon(dir, carbon_port, &carbon_log);
  pid_t influxd = start_influxd(dir, http, rpc, udp, &influx_log);
  wait_listening("carbon-cache", carbon, carbon_port, carbon_log);
  wait_listening("influxd", influxd, http, influx_log);
  double t_servers = now_s() - t0;

  /* both hosts at once, RUN_S seconds */
  char *sys1 = path_join(t1.root, "sys"), *sys2 = path_join(t2.root, "sys");
  char *conf1 = host_conf(t1.dir, "h1", sys1, carbon_port, udp);
  char *conf2 = host_conf(t2.dir, "h2", sys2, carbon_port, udp);
  long from = (long)time(NULL) - 5; /* epoch: now_s() is monotonic */
  char *err1 = path_join(t1.dir, "collectd.stderr");
  char *err2 = path_join(t2.dir, "collectd.stderr");
  char *a1[] = {(char *)env("COLLECTD"), "-f", "-C", conf1, NULL};
  char *a2[] = {(char *)env("COLLECTD"), "-f", "-C", conf2, NULL};
  pid_t c1 = spawn(a1, err1), c2 = spawn(a2, err2);
  usleep((useconds_t)(RUN_S * 1e6));
  kill(c1, SIGTERM);
  kill(c2, SIGTERM);
  ck_assert_int_eq(wait_exit(c1, 15), 0);
  ck_assert_int_eq(wait_exit(c2, 15), 0);
  for (int k = 0; k < 2; k++) {
    char *lf = path_join(k ? t2.dir : t1.dir, "collectd.log");
    char *log = slurp(lf);
    ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
    free(log);
    free(lf);
  }
  usleep(1000000); /* InfluxDB's last batch (100 ms), carbon's writes */
  long until = (long)time(NULL) + 1;

  /* carbon writes its cache at SIGTERM; graphite-web then reads whisper */
  kill(carbon, SIGTERM);
  int st = wait_exit(carbon, 30);
  ck_assert_msg(st == 0 || st == 128 + SIGTERM, "carbon-cache exit %d:\n%s", st,
                slurp(carbon_log));
  char *web_dir = path_join(dir, "graphite-web");
  ck_assert_int_eq(mkdir(web_dir, 0755), 0);
  char *whisper = path_join(dir, "carbon/whisper");
  char *web_log = path_join(dir, "graphite-web.log");
  char *script = path_join(env("RAPL_TESTS"), "graphite_web.py");
  char port_s[16];
  snprintf(port_s, sizeof(port_s), "%d", web);
  char *wa[] = {PYTHON, script, web_dir, whisper, port_s, NULL};
  ck_assert_msg(access(PYTHON, X_OK) == 0, "%s is missing: %s", PYTHON,
                strerror(errno));
  pid_t gweb = spawn_daemon(wa, web_log);
  wait_listening("graphite-web", gweb, web, web_log);
  double t_web = now_s() - t0;

  /* every query of both dashboards */
  char *queries = path_join(env("RAPL_TESTS"), "dashboard_queries.py");
  char *gjson = path_join(env("RAPL_CONTRIB"), "grafana/rapl-graphite.json");
  char *ijson = path_join(env("RAPL_CONTRIB"), "grafana/rapl-influxdb.json");
  char gurl[64], iurl[64], fs[32], us[32];
  snprintf(gurl, sizeof(gurl), "http://127.0.0.1:%d", web);
  snprintf(iurl, sizeof(iurl), "http://127.0.0.1:%d", http);
  snprintf(fs, sizeof(fs), "%ld", from);
  snprintf(us, sizeof(us), "%ld", until);
  char *qa[] = {PYTHON, queries, "--graphite", gurl, "--influxdb", iurl,
                "--db", "collectd", "--hosts", "h1,h2", "--from", fs,
                "--until", us, "--set", "min_interval=2s", gjson, ijson, NULL};
  char *qout = path_join(dir, "queries.out");
  pid_t q = spawn(qa, qout);
  st = wait_exit(q, 60);
  char *out = slurp(qout);
  printf("%s", out);
  if (st != 0) {
    /* Check's messages are short: the whole story goes to the log */
    char *wl = slurp(web_log);
    size_t len = strlen(wl);
    printf("graphite-web's log (end):\n%s\n", len > 8000 ? wl + len - 8000 : wl);
    fflush(stdout);
    ck_abort_msg("dashboard_queries.py exit %d (its output above, in the log)",
                 st);
  }
  char *copy = strdup(out);
  parse_rows(copy);
  check_kind("graphite", hosts, 2, out);
  check_kind("influxdb", hosts, 2, out);

  kill(gweb, SIGTERM);
  st = wait_exit(gweb, 15);
  ck_assert_msg(st == 0, "graphite-web exit %d:\n%s", st, slurp(web_log));
  kill(influxd, SIGTERM);
  st = wait_exit(influxd, 15);
  ck_assert_msg(st == 0, "influxd exit %d", st);
  printf("dashboards: %zu series from both dashboards; worst power error "
         "%.3f %%, fleet %.3f %%, active+idle %.3f %%; servers up in %.1f s, "
         "graphite-web at %.1f s, whole test %.1f s\n",
         n_rows, 100 * worst_power, 100 * worst_fleet, 100 * worst_ai,
         t_servers, t_web, now_s() - t0);
  fflush(stdout);
  free(copy);
  free(out);
  free(qout);
  free(ijson);
  free(gjson);
  free(queries);
  free(script);
  free(web_log);
  free(whisper);
  free(web_dir);
  free(err1);
  free(err2);
  free(conf1);
  free(conf2);
  free(sys1);
  free(sys2);
  free(carbon_log);
  free(influx_log);
  stop_sim(&t2);
  stop_sim(&t1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dashboards");
  TCase *tc = tcase_create("grafana");
  tcase_set_timeout(tc, 90);
  tcase_add_test(tc, dashboards_queries_return_data);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
