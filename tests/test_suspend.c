/* test_suspend.c - suspend and resume, end to end in the real collectd.
 *
 * SPEC section 3: power is Δenergy / Δt with Δt from CLOCK_BOOTTIME, which
 * counts the time a machine sleeps; RAPL counters keep counting in s2idle,
 * so the energy used asleep is counted and the first power after resume is
 * the average over the sleep and the interval (not a 14 kW spike, and not
 * a "counter reset" that drops the energy).
 *
 * A laptop (contrib/machines/laptop-psys.yaml, psys at 20 W awake) is
 * served over FUSE by rapl-sim; collectd runs with tests/boottime_shim.so
 * preloaded. A suspend is: SIGSTOP collectd (the kernel freezes processes
 * too), add the sleep's seconds to the shim's offset file (CLOCK_BOOTTIME
 * jumps, CLOCK_MONOTONIC does not), rapl-sim `sleep` (the counters jump by
 * the energy used asleep), SIGCONT. Twice: 8 h at 0.5 W psys, then 48 h at
 * 0.6 W (the case that crossed the 5000 W plausibility cap and was dropped
 * as a counter reset), with the CPU zones at a trickle; with --wrap-in 3000
 * the package and psys counters wrap during the 48 h sleep.
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES, RAPL_BOOTTIME_SHIM. */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

typedef struct {
  const char *zone, *domain; /* as dispatched */
  const char *link;          /* rapl-sim's name of the zone */
  double sleep_w;            /* power asleep (psys: per sleep, below) */
} zone_t;

static const zone_t zones[] = {
    {"psys", "psys", "intel-rapl:1", 0},
    {"package-0", "package", "intel-rapl:0", 0.2},
    {"package-0", "core", "intel-rapl:0:0", 0.05},
    {"package-0", "uncore", "intel-rapl:0:1", 0.02},
};
#define N_ZONES (sizeof(zones) / sizeof(zones[0]))

typedef struct {
  double seconds, psys_w;
  double stop_wall, resume_wall; /* epoch seconds around the suspend */
} sleep_t;

static double wall_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double sleep_w(const zone_t *z, const sleep_t *s) {
  return strcmp(z->domain, "psys") == 0 ? s->psys_w : z->sleep_w;
}

/* Writes the shim's offset file (collectd is stopped or not started). */
static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_msg(f != NULL, "%s", path);
  ck_assert_int_ge(fputs(text, f), 0);
  ck_assert_int_eq(fclose(f), 0);
}

/* The power of the simulated zone awake. */
static double awake_w(const sim_machine_t *m, const char *link) {
  size_t i;
  ck_assert_int_eq(sim_zone_find(m, link, &i), 0);
  return (double)sim_zone_power_uw(m, i) / 1e6;
}

/* collectd (our child) is frozen while the machine sleeps: its
 * CLOCK_BOOTTIME and the counters jump together, as in a real resume. */
static void suspend(e2e_t *t, pid_t collectd, const char *offset_file,
                    double *offset_s, sleep_t *s) {
  s->stop_wall = wall_s();
  ck_assert_int_eq(kill(collectd, SIGSTOP), 0);
  int status;
  ck_assert_int_eq(waitpid(collectd, &status, WUNTRACED), collectd);
  ck_assert_msg(WIFSTOPPED(status), "collectd did not stop");
  *offset_s += s->seconds;
  char text[64], cmd[512];
  snprintf(text, sizeof(text), "%.0f\n", *offset_s);
  put(offset_file, text);
  int n = snprintf(cmd, sizeof(cmd), "sleep %.0f", s->seconds);
  for (size_t z = 0; z < N_ZONES; z++)
    n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %s=%g", zones[z].link,
                  sleep_w(&zones[z], s));
  /* the mmio view of package-0 is a counter of its own */
  snprintf(cmd + n, sizeof(cmd) - (size_t)n, " intel-rapl-mmio:0=%g",
           zones[1].sleep_w);
  sim_command(t, cmd);
  s->resume_wall = wall_s();
  ck_assert_int_eq(kill(collectd, SIGCONT), 0);
}

/* Index of the first point after `t0`, or s->n. */
static size_t first_after(const series_t *s, double t0) {
  size_t k = 0;
  while (k < s->n && s->t[k] <= t0)
    k++;
  return k;
}

/* Index of the point at time `t`, or s->n. */
static size_t point_at(const series_t *s, double t) {
  for (size_t k = 0; k < s->n; k++)
    if (fabs(s->t[k] - t) < 1e-4)
      return k;
  return s->n;
}

START_TEST(shim_moves_boottime_only) {
  char *dir = make_temp_dir("shim");
  char *file = path_join(dir, "offset");
  put(file, "28800.5\n");
  setenv("RAPL_BOOTTIME_OFFSET_FILE", file, 1);
  void *h = dlopen(env("RAPL_BOOTTIME_SHIM"), RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(h != NULL, "%s", dlerror());
  int (*shim)(clockid_t, struct timespec *) =
      (int (*)(clockid_t, struct timespec *))dlsym(h, "clock_gettime");
  ck_assert_ptr_nonnull(shim);
  struct timespec real, moved, mono_real, mono;
  clock_gettime(CLOCK_BOOTTIME, &real);
  ck_assert_int_eq(shim(CLOCK_BOOTTIME, &moved), 0);
  clock_gettime(CLOCK_MONOTONIC, &mono_real);
  ck_assert_int_eq(shim(CLOCK_MONOTONIC, &mono), 0);
  double ahead = (double)(moved.tv_sec - real.tv_sec) +
                 (double)(moved.tv_nsec - real.tv_nsec) / 1e9;
  double mono_ahead = (double)(mono.tv_sec - mono_real.tv_sec) +
                      (double)(mono.tv_nsec - mono_real.tv_nsec) / 1e9;
  ck_assert_msg(ahead >= 28800.5 && ahead < 28800.6, "boottime ahead by %.6f s",
                ahead);
  ck_assert_msg(mono_ahead >= 0 && mono_ahead < 0.1,
                "monotonic moved by %.6f s", mono_ahead);
  dlclose(h);
  unsetenv("RAPL_BOOTTIME_OFFSET_FILE");
  rm_tree(dir);
  free(dir);
  free(file);
}
END_TEST

START_TEST(suspend_is_counted_and_averaged) {
  e2e_t t = {0};
  start_sim_args(&t, "laptop-psys", 3000.0, "--powercap", "fuse", NULL);
  char *offset_file = path_join(t.dir, "boottime-offset");
  put(offset_file, "0\n");
  double offset_s = 0;
  char *sysfs = path_join(t.root, "sys");
  char *conf = write_conf(t.dir, sysfs, NULL, 1);
  char *out = path_join(t.dir, "collectd.stderr");
  char preload[4096], offset_env[4096];
  snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", env("RAPL_BOOTTIME_SHIM"));
  snprintf(offset_env, sizeof(offset_env), "RAPL_BOOTTIME_OFFSET_FILE=%s",
           offset_file);
  char *argv[] = {"/usr/bin/env", preload,        offset_env,
                  (char *)env("COLLECTD"), "-f", "-C", conf, NULL};
  pid_t collectd = spawn(argv, out);
  sleep_t sleeps[] = {{.seconds = 8 * 3600, .psys_w = 0.5},
                      {.seconds = 48 * 3600, .psys_w = 0.6}};
  usleep(2500000);
  for (size_t i = 0; i < 2; i++) {
    suspend(&t, collectd, offset_file, &offset_s, &sleeps[i]);
    usleep(2500000);
  }
  kill(collectd, SIGTERM);
  ck_assert_int_eq(wait_exit(collectd, 30), 0);

  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);

  /* The expected values, from the csv's own read times: over the interval
   * across a sleep of S seconds that took dt of real time, a zone used
   * E = P_asleep * S + P_awake * dt, and its power is E / (S + dt).
   * Tolerances: the joules are floored (1 J at either end), and a csv time
   * (when collectd started the read) is off the instant of the zone's own
   * read by what the read took (FUSE round trips: allow 50 ms on a loaded
   * machine), which moves E by P_awake * 50 ms and the power by
   * P_awake * 50 ms / S (35 µW after 8 h at 20 W); csv prints watts with
   * 6 decimals. */
  char report[8192] = "";
  size_t used = 0;
  bool ok = true;
  for (size_t i = 0; i < 2; i++) {
    const sleep_t *s = &sleeps[i];
    used += (size_t)snprintf(report + used, sizeof(report) - used,
                             "%.0f h asleep at %.2f W psys:\n", s->seconds / 3600,
                             s->psys_w);
    for (size_t z = 0; z < N_ZONES; z++) {
      const zone_t *zn = &zones[z];
      char id[128];
      snprintf(id, sizeof(id), "rapl-%s/derive-%s", zn->zone, zn->domain);
      const series_t *d = series(csv, id);
      snprintf(id, sizeof(id), "rapl-%s/power-%s", zn->zone, zn->domain);
      const series_t *p = series(csv, id);
      ck_assert_msg(d != NULL && p != NULL, "no csv for %s/%s", zn->zone,
                    zn->domain);
      size_t k = first_after(d, s->stop_wall);
      ck_assert_msg(k > 0 && k < d->n, "%s: no reads around the sleep", id);
      double dt = d->t[k] - d->t[k - 1];
      double run_w = awake_w(t.model, zn->link);
      double expect_j = sleep_w(zn, s) * s->seconds + run_w * dt;
      double expect_w = expect_j / (s->seconds + dt);
      double grew_j = d->v[k] - d->v[k - 1];
      size_t pk = point_at(p, d->t[k]);
      double got_w = pk < p->n ? p->v[pk] : NAN;
      double next_w = pk + 1 < p->n ? p->v[pk + 1] : NAN;
      double tol_j = 1.0 + run_w * 0.05;
      double tol_w = run_w * 0.05 / s->seconds + 1e-6;
      bool zone_ok = fabs(grew_j - expect_j) <= tol_j &&
                     fabs(got_w - expect_w) <= tol_w &&
                     fabs(next_w - run_w) <= run_w * 0.01;
      ok = ok && zone_ok;
      used += (size_t)snprintf(
          report + used, sizeof(report) - used,
          "  %s %s/%s: derive grew %.0f J (expected %.3f ± %.2f J); first "
          "power after resume %.6f W (expected %.6f ± %.6f W over %.0f s + "
          "%.3f s); next %.3f W (awake %.3f W)\n",
          zone_ok ? "ok " : "BAD", zn->zone, zn->domain, grew_j, expect_j,
          tol_j, got_w, expect_w, tol_w, s->seconds, dt, next_w, run_w);
    }
  }
  size_t resets = count_lines_with(log, "treated as a counter reset");
  used += (size_t)snprintf(report + used, sizeof(report) - used,
                           "reset warnings logged: %zu\n", resets);
  /* every energy counter is monotonic */
  for (size_t s = 0; s < csv->n; s++)
    if (strstr(csv->s[s].id, "/derive-") != NULL)
      for (size_t k = 1; k < csv->s[s].n; k++)
        if (csv->s[s].v[k] < csv->s[s].v[k - 1]) {
          ok = false;
          used += (size_t)snprintf(report + used, sizeof(report) - used,
                                   "%s went backwards\n", csv->s[s].id);
        }
  printf("%s", report);
  fflush(stdout);
  ck_assert_msg(ok && resets == 0, "%s%s", report, log);
  free(csv);
  free(log);
  free(logf);
  free(out);
  free(conf);
  free(sysfs);
  free(offset_file);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("suspend");
  TCase *tc = tcase_create("suspend");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, shim_moves_boottime_only);
  tcase_add_test(tc, suspend_is_counted_and_averaged);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
