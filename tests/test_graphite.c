/* test_graphite.c - end to end, issue 9 path 1: the real collectd loads
 * rapl.so on a simulated 2-socket Xeon (xeon-2s, ActiveIdle false) and
 * sends through collectd's own write_graphite plugin (host "h1", every
 * option at its default) to a real carbon-cache (Debian's graphite-carbon)
 * on loopback; the whisper files carbon wrote are read back with whisper's
 * own tool (whisper-fetch). Checks the metric paths the README documents
 * for Graphite (`h1.rapl-package-0.power-dram`, ...), the power values
 * against the simulated power (1 %), derive sent as J/s by default, and,
 * through a second <Node> with `Prefix "raw."` and `StoreRates false`,
 * derive as increasing joules.
 *
 * carbon runs in the foreground with all its files in the test's temp dir;
 * if it cannot be started the test fails (never skips).
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES. */
#define _GNU_SOURCE
#include <check.h>
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

#define WHISPER_FETCH "/usr/bin/whisper-fetch"

/* the README's Graphite paths for a 2-socket Skylake-SP, host h1,
 * ActiveIdle false, under LOCAL_DATA_DIR (dots are directories) */
static const char *const documented[] = {
    "h1/rapl-package-0/derive-dram.wsp",    "h1/rapl-package-0/derive-package.wsp",
    "h1/rapl-package-0/power-dram.wsp",     "h1/rapl-package-0/power-package.wsp",
    "h1/rapl-package-1/derive-dram.wsp",    "h1/rapl-package-1/derive-package.wsp",
    "h1/rapl-package-1/power-dram.wsp",     "h1/rapl-package-1/power-package.wsp",
    "h1/rapl-total/derive-dram.wsp",        "h1/rapl-total/derive-package.wsp",
    "h1/rapl-total/power-dram.wsp",         "h1/rapl-total/power-package.wsp",
    "h1/rapl/gauge-meter-rapl-powercap.wsp",
};
#define N_DOCUMENTED (sizeof(documented) / sizeof(documented[0]))

static void write_collectd_conf(const char *dir, const char *sysfs, int port) {
  char *conf = path_join(dir, "collectd.conf");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "Hostname \"h1\"\nFQDNLookup false\nBaseDir \"%s\"\n"
          "PIDFile \"%s/collectd.pid\"\nInterval 1\n"
          "PluginDir \"/usr/lib/collectd\"\n"
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n</Plugin>\n"
          "LoadPlugin write_graphite\n<Plugin write_graphite>\n"
          "  <Node \"defaults\">\n    Host \"127.0.0.1\"\n    Port \"%d\"\n"
          "    Protocol \"tcp\"\n  </Node>\n"
          "  <Node \"raw\">\n    Host \"127.0.0.1\"\n    Port \"%d\"\n"
          "    Protocol \"tcp\"\n    Prefix \"raw.\"\n    StoreRates false\n"
          "  </Node>\n</Plugin>\n"
          "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n"
          "<Plugin rapl>\n  SysfsPath \"%s\"\n  ActiveIdle false\n</Plugin>\n",
          dir, dir, dir, port, port, env("RAPL_PLUGIN_DIR"), sysfs);
  fclose(f);
  free(conf);
}

/* every *.wsp under LOCAL_DATA_DIR, relative, sorted */
static char *found[128];
static size_t n_found;
static size_t skip_len;

static int collect(const char *path, const struct stat *st, int type,
                   struct FTW *ftw) {
  (void)st;
  (void)ftw;
  size_t len = strlen(path);
  if (type == FTW_F && len > 4 && strcmp(path + len - 4, ".wsp") == 0) {
    ck_assert_uint_lt(n_found, 128);
    found[n_found++] = strdup(path + skip_len);
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
  size_t n;
  long t[4096];
  double v[4096];
} points_t;

/* whisper-fetch of one file, null points dropped */
static void fetch(const char *dir, const char *rel, points_t *p) {
  char *wsp = NULL, *out = path_join(dir, "fetch.out");
  ck_assert_int_ge(asprintf(&wsp, "%s/carbon/whisper/%s", dir, rel), 0);
  unlink(out);
  char *argv[] = {WHISPER_FETCH, "--drop=nulls", wsp, NULL};
  pid_t pid = spawn(argv, out);
  ck_assert_msg(wait_exit(pid, 30) == 0, "whisper-fetch %s failed", rel);
  char *text = slurp(out);
  p->n = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    long ts;
    double v;
    ck_assert_msg(sscanf(line, "%ld %lf", &ts, &v) == 2,
                  "whisper-fetch %s: \"%s\"", rel, line);
    ck_assert_uint_lt(p->n, 4096);
    p->t[p->n] = ts;
    p->v[p->n++] = v;
  }
  free(text);
  free(wsp);
  free(out);
}

START_TEST(collectd_to_carbon_whisper) {
  double t0 = now_s();
  e2e_t t = {0};
  t.dir = make_temp_dir("graphite-e2e");
  int port = free_port(SOCK_STREAM);
  char *carbon_log = NULL;
  pid_t carbon = start_carbon(t.dir, port, &carbon_log);
  /* over FUSE the counters are computed at each read: a regular-file tree
   * is rewritten by rapl-sim on its own schedule, and on a loaded 2-core
   * machine a late rewrite skews one interval's watts by over 1 % */
  start_sim_args(&t, "xeon-2s", 3600, "--powercap", "fuse", NULL);
  wait_carbon(carbon, port, carbon_log);
  double t_carbon = now_s() - t0;
  char *sysfs = path_join(t.root, "sys");
  write_collectd_conf(t.dir, sysfs, port);
  char *conf = path_join(t.dir, "collectd.conf");
  ck_assert_int_eq(run_collectd(t.dir, conf, 6.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  /* collectd flushed write_graphite at shutdown; carbon writes what it has
   * cached before it exits on SIGTERM */
  usleep(500000);
  kill(carbon, SIGTERM);
  int status = wait_exit(carbon, 30);
  char *clog = slurp(carbon_log);
  ck_assert_msg(status == 0 || status == 128 + SIGTERM,
                "carbon-cache exit status %d:\n%s", status, clog);

  /* the paths: exactly the documented ones, for both nodes */
  char *data = path_join(t.dir, "carbon/whisper");
  skip_len = strlen(data) + 1;
  n_found = 0;
  ck_assert_msg(nftw(data, collect, 16, FTW_PHYS) == 0,
                "no whisper files:\ncollectd:\n%s\ncarbon:\n%s", log, clog);
  qsort(found, n_found, sizeof(found[0]), cmp_str);
  char *want[2 * N_DOCUMENTED];
  for (size_t i = 0; i < N_DOCUMENTED; i++) {
    want[i] = strdup(documented[i]);
    ck_assert_int_ge(asprintf(&want[N_DOCUMENTED + i], "raw/%s", documented[i]), 0);
  }
  qsort(want, 2 * N_DOCUMENTED, sizeof(want[0]), cmp_str);
  char listed[8192] = "";
  for (size_t i = 0; i < n_found; i++) {
    strncat(listed, found[i], sizeof(listed) - strlen(listed) - 2);
    strcat(listed, "\n");
  }
  ck_assert_msg(n_found == 2 * N_DOCUMENTED, "%zu whisper files:\n%s", n_found,
                listed);
  for (size_t i = 0; i < n_found; i++)
    ck_assert_msg(strcmp(found[i], want[i]) == 0, "%s instead of %s in:\n%s",
                  found[i], want[i], listed);

  /* the values */
  points_t *p = malloc(sizeof(*p));
  const char *zones[3] = {"package-0", "package-1", "total"};
  const char *domains[2] = {"package", "dram"};
  double worst = 0, worst_rate = 0;
  size_t n_power = 0;
  for (size_t z = 0; z < 3; z++)
    for (size_t d = 0; d < 2; d++) {
      double watts;
      if (z < 2)
        watts = (double)sim_zone_power_uw(t.model, sim_find(t.model, zones[z],
                                                            domains[d])) / 1e6;
      else
        watts = (double)(sim_zone_power_uw(t.model, sim_find(t.model, "package-0",
                                                             domains[d])) +
                         sim_zone_power_uw(t.model, sim_find(t.model, "package-1",
                                                             domains[d]))) / 1e6;
      char rel[256];
      /* power: the simulated power, 1 % */
      snprintf(rel, sizeof(rel), "h1/rapl-%s/power-%s.wsp", zones[z], domains[d]);
      fetch(t.dir, rel, p);
      ck_assert_msg(p->n >= 3, "%s: %zu points:\n%s", rel, p->n, clog);
      for (size_t k = 0; k < p->n; k++) {
        double err = fabs(p->v[k] - watts) / watts;
        worst = fmax(worst, err);
        ck_assert_msg(err <= 0.01, "%s at %ld = %.4f W, simulated %.4f W", rel,
                      p->t[k], p->v[k], watts);
      }
      n_power += p->n;
      /* derive, StoreRates true (the default): J/s = W, from whole joules
       * over about 1 s (up to 1 J off each, more if a read came late): each
       * within 1 % + 3 W, their mean within 1 % + 1 W */
      snprintf(rel, sizeof(rel), "h1/rapl-%s/derive-%s.wsp", zones[z], domains[d]);
      fetch(t.dir, rel, p);
      ck_assert_msg(p->n >= 3, "%s: %zu points", rel, p->n);
      double mean = 0;
      for (size_t k = 0; k < p->n; k++) {
        mean += p->v[k] / (double)p->n;
        ck_assert_msg(fabs(p->v[k] - watts) <= 0.01 * watts + 3.0,
                      "%s at %ld = %.4f J/s, simulated %.4f W", rel, p->t[k],
                      p->v[k], watts);
      }
      worst_rate = fmax(worst_rate, fabs(mean - watts));
      ck_assert_msg(fabs(mean - watts) <= 0.01 * watts + 1.0,
                    "%s: mean %.4f J/s, simulated %.4f W", rel, mean, watts);
      /* derive, StoreRates false: joules, increasing */
      snprintf(rel, sizeof(rel), "raw/h1/rapl-%s/derive-%s.wsp", zones[z],
               domains[d]);
      fetch(t.dir, rel, p);
      ck_assert_msg(p->n >= 3, "%s: %zu points", rel, p->n);
      for (size_t k = 1; k < p->n; k++)
        ck_assert_msg(p->v[k] > p->v[k - 1], "%s: %.0f J at %ld after %.0f J",
                      rel, p->v[k], p->t[k], p->v[k - 1]);
    }
  fetch(t.dir, "h1/rapl/gauge-meter-rapl-powercap.wsp", p);
  ck_assert_msg(p->n >= 3, "meter: %zu points", p->n);
  for (size_t k = 0; k < p->n; k++)
    ck_assert_double_eq(p->v[k], 1);

  printf("graphite e2e: %zu whisper files:", n_found);
  for (size_t i = 0; i < n_found; i++)
    printf(" %s", found[i]);
  printf("\ngraphite e2e: %zu power points, worst power error %.3f %%, worst "
         "mean J/s error %.3f W; carbon up after %.1f s, whole test %.1f s\n",
         n_power, 100 * worst, worst_rate, t_carbon, now_s() - t0);
  fflush(stdout);
  for (size_t i = 0; i < n_found; i++)
    free(found[i]);
  for (size_t i = 0; i < 2 * N_DOCUMENTED; i++)
    free(want[i]);
  free(p);
  free(data);
  free(clog);
  free(log);
  free(logf);
  free(conf);
  free(sysfs);
  free(carbon_log);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("graphite");
  TCase *tc = tcase_create("carbon");
  tcase_set_timeout(tc, 90);
  tcase_add_test(tc, collectd_to_carbon_whisper);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
