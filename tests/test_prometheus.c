/* test_prometheus.c - end to end, downstream (issue 9, Prometheus) and the
 * operator's drop-in:
 *
 *  1. the real collectd loads rapl.so on a simulated 2-socket Xeon
 *     (rapl-sim) with Debian's write_prometheus plugin, Hostname "h1"; the
 *     exposition, scraped with curl, has the families and labels the README
 *     documents (collectd_rapl_power / collectd_rapl_derive_total, labels
 *     rapl=<zone>, type=<domain>, instance=<host>), and every power within
 *     1 % of the simulated one. An exporter that cannot be reached fails.
 *  2. contrib/collectd.conf.d/rapl.conf, included by Debian's stock
 *     collectd.conf (only what an unprivileged run in a temp dir needs is
 *     rewritten, see stock_conf()), passes `collectd -t` and, run, delivers
 *     the simulated machine's power.
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES, RAPL_CONTRIB (contrib/ of the source tree). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
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
#include "testutil.h"


/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(s, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  return ntohs(a.sin_port);
}

/* curl's output (malloc'd) and exit status */
static char *scrape(int port, int *status) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd),
           "curl -sS --max-time 2 http://127.0.0.1:%d/metrics 2>&1", port);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
    n += got;
    if (cap - n - 1 == 0)
      buf = realloc(buf, cap *= 2);
  }
  buf[n] = '\0';
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return buf;
}

/* The value of the sample line that starts with `series` + ' ', or NAN. */
static double sample(const char *text, const char *series) {
  size_t len = strlen(series);
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (strncmp(l, series, len) == 0 && l[len] == ' ')
      return strtod(l + len + 1, NULL);
  return NAN;
}

START_TEST(write_prometheus_exposition) {
  e2e_t t = {0};
  /* FUSE: counters computed at each read (see test_graphite.c) */
  start_sim_args(&t, "xeon-2s", 3600.0, "--powercap", "fuse", NULL);
  expect_t e[64];
  size_t ne = expected_zones(t.model, e, 64, false);
  int port = free_port();
  char *conf = path_join(t.dir, "collectd.conf");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "Hostname \"h1\"\nFQDNLookup false\nBaseDir \"%s\"\n"
          "PIDFile \"%s/collectd.pid\"\nInterval 1\n"
          "PluginDir \"/usr/lib/collectd\"\n"
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n  PrintSeverity true\n"
          "</Plugin>\n"
          "LoadPlugin write_prometheus\n<Plugin write_prometheus>\n"
          "  Host \"127.0.0.1\"\n  Port \"%d\"\n</Plugin>\n"
          "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n"
          "<Plugin rapl>\n  SysfsPath \"%s/sys\"\n</Plugin>\n",
          t.dir, t.dir, t.dir, port, env("RAPL_PLUGIN_DIR"), t.root);
  fclose(f);
  char *errlog = path_join(t.dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-f", "-C", conf, NULL};
  pid_t pid = spawn(argv, errlog);
  /* scrape until 3 expositions carry every zone's power (values at 1 s
   * intervals; the first read of a zone is its baseline, no power) */
  int good = 0, reached = 0, status = -1;
  double worst = 0, end = now_s() + 12.0;
  char *text = NULL;
  while (good < 3 && now_s() < end) {
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "collectd exited early");
    free(text);
    text = scrape(port, &status);
    if (status != 0) {
      usleep(200000);
      continue;
    }
    reached++;
    bool all = true;
    for (size_t i = 0; i < ne && all; i++) {
      char s[8192];
      snprintf(s, sizeof(s),
               "collectd_rapl_power{rapl=\"%s\",type=\"%s\",instance=\"h1\"}",
               e[i].zone, e[i].domain);
      all = !isnan(sample(text, s));
    }
    if (!all) {
      usleep(300000);
      continue;
    }
    for (size_t i = 0; i < ne; i++) {
      char s[8192];
      snprintf(s, sizeof(s),
               "collectd_rapl_power{rapl=\"%s\",type=\"%s\",instance=\"h1\"}",
               e[i].zone, e[i].domain);
      double w = sample(text, s);
      double err = fabs(w - e[i].watts) / e[i].watts;
      worst = fmax(worst, err);
      ck_assert_msg(err <= 0.01, "%s = %.4f W, simulated %.4f W\n%s", s, w,
                    e[i].watts, text);
      snprintf(s, sizeof(s),
               "collectd_rapl_derive_total{rapl=\"%s\",type=\"%s\",instance=\"h1\"}",
               e[i].zone, e[i].domain);
      double j = sample(text, s);
      ck_assert_msg(!isnan(j) && j >= 0, "no %s\n%s", s, text);
    }
    ck_assert_msg(strstr(text, "# TYPE collectd_rapl_power gauge\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "# TYPE collectd_rapl_derive_total counter\n") != NULL,
                  "%s", text);
    /* no plugin instance: write_prometheus puts the type instance in the
     * plugin's label */
    ck_assert_msg(sample(text, "collectd_rapl_gauge{rapl=\"meter-rapl-powercap\","
                               "instance=\"h1\"}") == 1.0,
                  "%s", text);
    ck_assert_msg(!isnan(sample(text, "collectd_rapl_gauge{rapl=\"package-0\","
                                      "type=\"cpu_usage_ratio\",instance=\"h1\"}")),
                  "%s", text);
    good++;
    usleep(1100000);
  }
  kill(pid, SIGTERM);
  ck_assert_int_eq(wait_exit(pid, 30), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(reached > 0, "write_prometheus on 127.0.0.1:%d never answered "
                "(curl: %s)\n%s", port, text ? text : "", log);
  ck_assert_msg(good == 3, "%d of 3 scrapes had every zone's power\n%s\n%s", good,
                text, log);
  /* no ERROR but the one Debian's write_prometheus logs at every start
   * (libmicrohttpd's "MHD_OPTION_EXTERNAL_LOGGER is not the first option") */
  ck_assert_msg(count_lines_with(log, "[error]") ==
                    count_lines_with(log, "MHD_OPTION_EXTERNAL_LOGGER"),
                "%s", log);
  ck_assert_msg(count_lines_with(log, "rapl plugin: using rapl-powercap") == 1, "%s", log);
  printf("prometheus: %d scrapes, %zu zones, worst power error %.3f %%; rapl "
         "families:\n", good, ne, 100 * worst);
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (strncmp(l, "collectd_rapl_", 14) == 0 || strncmp(l, "# TYPE collectd_rapl_", 21) == 0)
      printf("  %.*s\n", (int)(strchrnul(l, '\n') - l), l);
  fflush(stdout);
  free(log);
  free(logf);
  free(text);
  free(errlog);
  free(conf);
  stop_sim(&t);
}
END_TEST

/* Debian's stock collectd.conf: the "collectd" package's
 * /etc/collectd/collectd.conf where installed, else the same file that
 * collectd-core ships as its example. */
static const char *stock_path(void) {
  if (access("/etc/collectd/collectd.conf", R_OK) == 0)
    return "/etc/collectd/collectd.conf";
  return "/usr/share/doc/collectd-core/examples/collectd.conf";
}

/* Copies the stock config to dir/collectd.conf, changing only (each a whole
 * line of the stock file, each must be found exactly once):
 *   #Hostname "localhost"  -> Hostname "e2e"   (the csv directory's name;
 *                             no FQDN lookup)
 *   #BaseDir "/var/lib/collectd" -> BaseDir "<dir>" + PIDFile "<dir>/..."
 *                             (unprivileged: no /var/lib, no /run)
 *   #Interval 10           -> Interval 1       (a short test)
 *   LoadPlugin rrdtool and its <Plugin rrdtool> block -> commented out
 *                             (it writes under /var/lib/collectd/rrd, and
 *                             librrd8 is only a Suggests of collectd-core;
 *                             the test's csv plugin stands in for it)
 *   <Include "/etc/collectd/collectd.conf.d"> -> <Include "<dir>/conf.d">
 * Everything else (syslog, the read plugins battery, cpu, df, disk,
 * entropy, interface, irq, load, memory, processes, swap, users) stays as
 * shipped: they only read /proc and /sys. */
static char *stock_conf(const char *dir) {
  struct {
    const char *from;
    char to[4096];
    int seen;
  } rw[5] = {{"#Hostname \"localhost\"", "Hostname \"e2e\"", 0},
             {"#BaseDir \"/var/lib/collectd\"", "", 0},
             {"#Interval 10", "Interval 1", 0},
             {"LoadPlugin rrdtool", "#LoadPlugin rrdtool", 0},
             {"<Include \"/etc/collectd/collectd.conf.d\">", "", 0}};
  snprintf(rw[1].to, sizeof(rw[1].to), "BaseDir \"%s\"\nPIDFile \"%s/collectd.pid\"",
           dir, dir);
  snprintf(rw[4].to, sizeof(rw[4].to), "<Include \"%s/conf.d\">", dir);
  char *stock = slurp(stock_path());
  ck_assert_msg(strlen(stock) > 0, "no %s", stock_path());
  char *conf = path_join(dir, "collectd.conf");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  int rrd_block = 0; /* 1 inside <Plugin rrdtool>, 2 after it */
  for (char *l = stock; *l;) {
    char *nl = strchrnul(l, '\n');
    size_t len = (size_t)(nl - l);
    bool done = false;
    if (rrd_block == 0 && strncmp(l, "<Plugin rrdtool>", len) == 0 && len == 16)
      rrd_block = 1;
    if (rrd_block == 1) {
      fprintf(f, "#%.*s\n", (int)len, l);
      if (len == 9 && strncmp(l, "</Plugin>", 9) == 0)
        rrd_block = 2;
      l = *nl ? nl + 1 : nl;
      continue;
    }
    for (size_t k = 0; k < 5 && !done; k++)
      if (strlen(rw[k].from) == len && strncmp(l, rw[k].from, len) == 0) {
        fprintf(f, "%s\n", rw[k].to);
        rw[k].seen++;
        done = true;
      }
    if (!done)
      fprintf(f, "%.*s\n", (int)len, l);
    l = *nl ? nl + 1 : nl;
  }
  fclose(f);
  ck_assert_msg(rrd_block == 2, "%s: no <Plugin rrdtool> block", stock_path());
  for (size_t k = 0; k < 5; k++)
    ck_assert_msg(rw[k].seen == 1, "%s: '%s' found %d times", stock_path(),
                  rw[k].from, rw[k].seen);
  free(stock);
  return conf;
}

/* dir/conf.d/rapl.conf: the shipped drop-in, with PluginDir around its
 * LoadPlugin (rapl.so from the build tree) and SysfsPath set to the
 * simulated machine; the drop-in's every other line as shipped. */
static void drop_in(const char *dir, const char *sysfs) {
  char *src = path_join(env("RAPL_CONTRIB"), "collectd.conf.d/rapl.conf");
  char *text = slurp(src);
  ck_assert_msg(strlen(text) > 0, "no %s", src);
  char path[4096];
  snprintf(path, sizeof(path), "%s/conf.d", dir);
  ck_assert_int_eq(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/conf.d/rapl.conf", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  int load = 0, sys = 0;
  for (char *l = text; *l;) {
    char *nl = strchrnul(l, '\n');
    size_t len = (size_t)(nl - l);
    if (len == strlen("LoadPlugin rapl") && strncmp(l, "LoadPlugin rapl", len) == 0) {
      fprintf(f, "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n",
              env("RAPL_PLUGIN_DIR"));
      load++;
    } else if (len == strlen("\tSysfsPath \"/sys\"") &&
               strncmp(l, "\tSysfsPath \"/sys\"", len) == 0) {
      fprintf(f, "\tSysfsPath \"%s\"\n", sysfs);
      sys++;
    } else {
      fprintf(f, "%.*s\n", (int)len, l);
    }
    l = *nl ? nl + 1 : nl;
  }
  fclose(f);
  ck_assert_int_eq(load, 1);
  ck_assert_int_eq(sys, 1);
  /* the test's own outputs, in a second file of the included directory */
  snprintf(path, sizeof(path), "%s/conf.d/zz-test.conf", dir);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n  PrintSeverity true\n"
          "</Plugin>\n"
          "LoadPlugin csv\n<Plugin csv>\n  DataDir \"%s/csv\"\n"
          "  StoreRates false\n</Plugin>\n",
          dir, dir);
  fclose(f);
  free(text);
  free(src);
}

START_TEST(debian_stock_conf_with_drop_in) {
  e2e_t t = {0};
  /* FUSE: counters computed at each read (see test_graphite.c) */
  start_sim_args(&t, "xeon-2s", 3600.0, "--powercap", "fuse", NULL);
  expect_t e[64];
  size_t ne = expected_zones(t.model, e, 64, false);
  char *sysfs = path_join(t.root, "sys");
  char *conf = stock_conf(t.dir);
  drop_in(t.dir, sysfs);
  /* collectd -t: the configuration test, plugins loaded and configured */
  char *tlog = path_join(t.dir, "collectd-t.log");
  char *argv[] = {(char *)env("COLLECTD"), "-t", "-C", conf, NULL};
  int st = wait_exit(spawn(argv, tlog), 30);
  char *tout = slurp(tlog);
  ck_assert_msg(st == 0, "collectd -t: %d\n%s", st, tout);
  ck_assert_int_eq(run_collectd(t.dir, conf, 5.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(strstr(log, "rapl plugin: using rapl-powercap") != NULL, "%s", log);
  for (const char *l = log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    int len = (int)(strchrnul(l, '\n') - l);
    ck_assert_msg(!(memmem(l, (size_t)len, "rapl plugin", 11) &&
                    (memmem(l, (size_t)len, "[error]", 7) ||
                     memmem(l, (size_t)len, "[warning]", 9))),
                  "%.*s", len, l);
  }
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv_plugin(t.dir, "rapl", csv);
  ck_assert_ptr_nonnull(series(csv, "rapl/gauge-meter-rapl-powercap"));
  /* Values arrive, and are the machine's: the mean power over the run
   * (energy / time, from the derive series) within 3 % + 1 J (the floors
   * of whole joules), each sample within 10 %. Not 1 % per sample as in
   * test_collectd: the stock file's dozen read plugins (processes, df, ...)
   * run at the same instants on a loaded machine, and each sample's time
   * then carries tens of ms of jitter; test 1 holds the 1 %. */
  double worst = 0, worst_mean = 0;
  for (size_t i = 0; i < ne; i++) {
    char id[8192];
    snprintf(id, sizeof(id), "rapl-%s/power-%s", e[i].zone, e[i].domain);
    const series_t *p = series(csv, id);
    ck_assert_msg(p != NULL && p->n >= 2, "no %s\n%s", id, log);
    for (size_t k = 0; k < p->n; k++) {
      double err = fabs(p->v[k] - e[i].watts) / e[i].watts;
      worst = fmax(worst, err);
      ck_assert_msg(err <= 0.10, "%s = %.4f W, simulated %.4f W", id, p->v[k],
                    e[i].watts);
    }
    snprintf(id, sizeof(id), "rapl-%s/derive-%s", e[i].zone, e[i].domain);
    const series_t *d = series(csv, id);
    ck_assert_msg(d != NULL && d->n >= 3, "no %s\n%s", id, log);
    double dt = d->t[d->n - 1] - d->t[0], joules = d->v[d->n - 1] - d->v[0];
    double expect = e[i].watts * dt;
    worst_mean = fmax(worst_mean, fabs(joules - expect) / expect);
    ck_assert_msg(fabs(joules - expect) <= 0.03 * expect + 1.0,
                  "%s: %.0f J in %.3f s, simulated %.4f W", id, joules, dt,
                  e[i].watts);
  }
  /* the stock plugins ran too (they are not the test's, only a sign the
   * stock file was loaded as a whole) */
  char *load = path_join(t.dir, "csv/e2e/load");
  ck_assert_msg(access(load, F_OK) == 0, "no %s", load);
  free(load);
  printf("stock conf (%s) + drop-in: %zu series, %zu zones, worst power "
         "sample error %.3f %%, worst mean power error %.3f %%\n",
         stock_path(), csv->n, ne, 100 * worst, 100 * worst_mean);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(tout);
  free(tlog);
  free(conf);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("prometheus");
  TCase *tc = tcase_create("collectd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, write_prometheus_exposition);
  tcase_add_test(tc, debian_stock_conf_with_drop_in);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
