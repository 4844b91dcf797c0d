/* test_influxdb.c - end to end, forwarding (issue 9): the real collectd
 * loads rapl.so on a simulated 2-socket Xeon (rapl-sim) and sends what it
 * dispatches with its network plugin to InfluxDB 1.x (Debian's influxd,
 * started here on loopback ports, its data in the test's temp dir, with a
 * [[collectd]] input using only the stock types.db). Over InfluxDB's HTTP
 * API: exactly the series the README documents (measurement rapl_value,
 * tags host, instance, type, type_instance), every power within 1 % of the
 * simulated one, and non_negative_derivative(derive, 1s) within 2 % of the
 * power series. influxd that cannot start is a failure, not a skip.
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES. INFLUXD overrides /usr/bin/influxd. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "servers.h"
#include "testutil.h"

#define MAXP 256

START_TEST(collectd_network_to_influxdb) {
  double t0 = now_s();
  e2e_t t = {0};
  /* powercap over FUSE: counters computed at the instant of each read, so
   * a simulator starved by a loaded machine cannot pose as a power error
   * (as in test_collectd.c) */
  start_sim_args(&t, "xeon-2s", 3600, "--powercap", "fuse", NULL);
  int http = free_port(SOCK_STREAM), rpc = free_port(SOCK_STREAM);
  int udp = free_port(SOCK_DGRAM);
  while (rpc == http)
    rpc = free_port(SOCK_STREAM);

  /* influxd: loopback only, everything under t.dir */
  char *ilog;
  pid_t influxd = start_influxd(t.dir, http, rpc, udp, &ilog);
  wait_influxd(influxd, http, ilog);
  double t_influx = now_s() - t0;

  /* collectd: rapl every 2 s (as test_collectd.c: the jitter of a loaded
   * machine weighs half as much as at 1 s) -> network, flushed every
   * second; 12.5 s: 6 power points per series */
  char *sysfs = path_join(t.root, "sys");
  char *conf = write_conf(t.dir, sysfs, "  ActiveIdle false\n", 2);
  FILE *f = fopen(conf, "a");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "<LoadPlugin network>\n  FlushInterval 1\n</LoadPlugin>\n"
          "<Plugin network>\n  Server \"127.0.0.1\" \"%d\"\n</Plugin>\n",
          udp);
  fclose(f);
  ck_assert_int_eq(run_collectd(t.dir, conf, 12.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);

  /* the last packet's points: wait until the count stays the same */
  influx_settle(http, "SELECT count(value) FROM rapl_value", 5);

  /* exactly the documented series */
  char *meas = influx_query(http, "SHOW MEASUREMENTS");
  ck_assert_msg(strstr(meas, "[[\"rapl_value\"]]") != NULL,
                "measurements: %s\ninfluxd:\n%s\ncollectd:\n%s", meas,
                slurp(ilog), log);
  char *keys = influx_query(http, "SHOW TAG KEYS FROM rapl_value");
  ck_assert_msg(strstr(keys, "[[\"host\"],[\"instance\"],[\"type\"],"
                             "[\"type_instance\"]]") != NULL,
                "tag keys: %s", keys);
  char *ser = influx_query(http, "SHOW SERIES FROM rapl_value");
  expect_t e[16];
  size_t ne = expected_zones(t.model, e, 16, false);
  ck_assert_uint_eq(ne, 6); /* package-0/1, total x package, dram */
  size_t nser = 0;
  for (const char *s = ser; (s = strstr(s, "[\"rapl_value,")) != NULL; s++)
    nser++;
  /* derive + power per zone and domain, and the meter gauge */
  ck_assert_msg(nser == 2 * ne + 1,
                "%zu series: %s", nser, ser);
  ck_assert_msg(strstr(ser, "[\"rapl_value,host=e2e,type=gauge,"
                            "type_instance=meter-rapl-powercap\"]") != NULL,
                "no meter gauge: %s", ser);

  double worst_p = 0, worst_d = 0, worst_dp = 0;
  size_t npoints = 0;
  double *pt = calloc(4 * MAXP, sizeof(double));
  ck_assert_ptr_nonnull(pt);
  double *pv = pt + MAXP, *dt = pt + 2 * MAXP, *dv = pt + 3 * MAXP;
  for (size_t i = 0; i < ne; i++) {
    char key[4096], q[8192];
    for (int k = 0; k < 2; k++) {
      snprintf(key, sizeof(key),
               "[\"rapl_value,host=e2e,instance=%s,type=%s,type_instance=%s\"]",
               e[i].zone, k ? "power" : "derive", e[i].domain);
      ck_assert_msg(strstr(ser, key) != NULL, "no %s in %s", key, ser);
    }
    snprintf(q, sizeof(q),
             "SELECT value FROM rapl_value WHERE host='e2e' AND instance='%s' "
             "AND type='power' AND type_instance='%s'",
             e[i].zone, e[i].domain);
    char *pj = influx_query(http, q);
    size_t np = influx_points(pj, pt, pv, MAXP);
    ck_assert_msg(np >= 5, "%s: %zu power points: %s", key, np, pj);
    for (size_t k = 0; k < np; k++) {
      double err = fabs(pv[k] - e[i].watts) / e[i].watts;
      worst_p = fmax(worst_p, err);
      ck_assert_msg(err <= 0.01, "%s/%s: %.4f W, simulated %.4f W", e[i].zone,
                    e[i].domain, pv[k], e[i].watts);
    }
    snprintf(q, sizeof(q),
             "SELECT non_negative_derivative(value, 1s) FROM rapl_value WHERE "
             "host='e2e' AND instance='%s' AND type='derive' AND "
             "type_instance='%s'",
             e[i].zone, e[i].domain);
    char *dj = influx_query(http, q);
    size_t nd = influx_points(dj, dt, dv, MAXP);
    ck_assert_msg(nd >= 4, "%s/%s: %zu derivative points: %s", e[i].zone,
                  e[i].domain, nd, dj);
    /* each derivative point is the energy of the interval that ends at a
     * read, which dispatched the power of that interval at the same time:
     * joules (floored by the plugin: up to 1 J per point) against power x
     * interval, per point and over the run */
    double sum_d = 0, sum_p = 0, prev_t = NAN;
    size_t matched = 0;
    for (size_t k = 0; k < nd; k++) {
      size_t m = 0;
      while (m < np && pt[m] != dt[k])
        m++;
      ck_assert_msg(m < np, "%s/%s: no power at derivative time %.0f",
                    e[i].zone, e[i].domain, dt[k]);
      /* the interval: from the previous derive point (its time is the
       * previous power point's, or the baseline before the first) */
      double span = m > 0 ? (pt[m] - pt[m - 1]) / 1e6 : NAN;
      if (!isnan(prev_t))
        span = (dt[k] - prev_t) / 1e6;
      prev_t = dt[k];
      double err = fabs(dv[k] - pv[m]) / pv[m];
      worst_dp = fmax(worst_dp, err);
      if (!isnan(span) && span > 1.0) {
        ck_assert_msg(fabs(dv[k] - pv[m]) * span <= 0.02 * pv[m] * span + 1.0,
                      "%s/%s: derivative %.4f W/s against power %.4f W",
                      e[i].zone, e[i].domain, dv[k], pv[m]);
        sum_d += dv[k] * span;
        sum_p += pv[m] * span;
        matched++;
      }
    }
    ck_assert_uint_ge(matched, 3);
    double err = fabs(sum_d - sum_p) / sum_p;
    worst_d = fmax(worst_d, err);
    ck_assert_msg(err <= 0.02, "%s/%s: derivative %.2f J against power %.2f J",
                  e[i].zone, e[i].domain, sum_d, sum_p);
    npoints += np;
    free(pj);
    free(dj);
  }

  kill(influxd, SIGTERM);
  int st = wait_exit(influxd, 15);
  printf("influxdb e2e: measurement rapl_value, tag keys host instance type "
         "type_instance; %zu series, %zu power points; worst power error "
         "%.3f %%, worst derivative/power error %.3f %% over the run (%.3f %% "
         "per point); influxd up in %.2f s, exit %d, total %.1f s\n",
         nser, npoints, 100 * worst_p, 100 * worst_d, 100 * worst_dp, t_influx,
         st, now_s() - t0);
  fflush(stdout);
  ck_assert_msg(st == 0, "influxd exit status %d", st);
  free(pt);
  free(ser);
  free(keys);
  free(meas);
  free(log);
  free(logf);
  free(conf);
  free(sysfs);
  free(ilog);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("influxdb");
  TCase *tc = tcase_create("collectd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, collectd_network_to_influxdb);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
