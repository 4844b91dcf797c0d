/* test_faults.c - faults on a simulated machine, in the real collectd.
 *
 * rapl-sim serves the powercap zones over FUSE (--powercap fuse) and takes
 * fault commands on its standard input (contrib/sim/README.md). For each
 * fault: it starts after a few good reads, lasts a few reads, and ends;
 * then no power value may be negative, NaN or off the simulated power by
 * more than the test tolerance (no spike, no dip), every energy counter
 * must be monotonic, the problem must be logged once (and its end once),
 * and values must flow again without a restart. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "e2e.h"
#include "energy_source.h"
#include "meter.h"
#include "options.h"

typedef struct {
  const char *name;
  const char *before[2];  /* commands before collectd starts */
  const char *inject[2];  /* after ~3 s of good reads */
  const char *clear[2];   /* ~3.5 s later */
  double fault_s;         /* how long the fault lasts */
  const char *logged;     /* this line must be logged exactly `times` */
  int times;
  const char *recovered;  /* and this one `recovered_times` */
  int recovered_times;
  const char *zone;       /* zone whose values must flow again after */
  bool stuck;             /* zone's package counter stops: while it does,
                           * its power honestly falls towards 0 W */
} fault_t;

static const fault_t faults[] = {
    {"EIO", {NULL}, {"fault intel-rapl:0 eio"}, {"fault intel-rapl:0 none"}, 3.5,
     "package-0 package: reading the counter failed (Input/output error)", 1,
     "package-0 package: the counter reads again", 1, "package-0", false},
    {"EAGAIN", {NULL}, {"fault intel-rapl:0 eagain"}, {"fault intel-rapl:0 none"}, 3.5,
     "package-0 package: reading the counter failed (Resource temporarily unavailable)", 1,
     "package-0 package: the counter reads again", 1, "package-0", false},
    {"ENODATA", {NULL}, {"fault intel-rapl:0 enodata"}, {"fault intel-rapl:0 none"}, 3.5,
     "package-0 package: reading the counter failed (No data available)", 1,
     "package-0 package: the counter reads again", 1, "package-0", false},
    {"EACCES", {NULL}, {"fault intel-rapl:0:0 eacces"}, {"fault intel-rapl:0:0 none"}, 3.5,
     "package-0 dram: reading the counter failed (Permission denied)", 1,
     "package-0 dram: the counter reads again", 1, "package-0", false},
    {"garbage", {NULL}, {"fault intel-rapl:1 garbage"}, {"fault intel-rapl:1 none"}, 3.5,
     "package-1 package: reading the counter failed (Invalid argument)", 1,
     "package-1 package: the counter reads again", 1, "package-1", false},
    {"empty read", {NULL}, {"fault intel-rapl:1 empty"}, {"fault intel-rapl:1 none"}, 3.5,
     "package-1 package: reading the counter failed (No data available)", 1,
     "package-1 package: the counter reads again", 1, "package-1", false},
    {"zone vanishes and returns", {NULL}, {"vanish intel-rapl:1"}, {"return intel-rapl:1"}, 3.5,
     "reading the counter failed (No such device)", 2,
     "the counter reads again (zone is back: new baseline)", 2, "package-1", false},
    {"sysfs root vanishes and returns", {NULL}, {"vanish-all"}, {"return-all"}, 3.5,
     "reading the counter failed (No such device)", 4,
     "the counter reads again (zone is back: new baseline)", 4, "package-0", false},
    {"counter goes backwards", {NULL}, {"set intel-rapl:0 1000"}, {NULL}, 3.5,
     "package-0 package: counter went from", 1, "treated as a counter reset", 1,
     "package-0", false},
    {"counter stuck", {NULL}, {"stick intel-rapl:0 on"}, {"stick intel-rapl:0 off"}, 33,
     "package-0 package: the counter has not changed for", 1,
     "package-0 package: the counter moves again", 1, "package-0", true},
    {"max_energy_range_uj is 0", {"range intel-rapl:0 0"}, {NULL}, {NULL}, 3.5,
     "max_energy_range_uj: 0; a decreasing counter will be treated as a reset", 1,
     "treated as a counter reset", 1, "package-0", false},
    {"max_energy_range_uj unreadable", {"range intel-rapl:0 unreadable"}, {NULL}, {NULL}, 3.5,
     "max_energy_range_uj: Input/output error; a decreasing counter will be treated as a reset", 1,
     "treated as a counter reset", 1, "package-0", false},
};

static double wall_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double watts_of(const sim_machine_t *m, const char *zone,
                       const char *domain) {
  double sum = 0;
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    const char *name = sim_zone_name(m, i);
    const char *d = sim_zone_is_subzone(m, i) ? name : "package";
    if (strcmp(d, domain) == 0 &&
        (strcmp(zone, "total") == 0 || strcmp(sim_zone_parent_name(m, i), zone) == 0))
      sum += (double)sim_zone_power_uw(m, i) / 1e6;
  }
  return sum;
}

START_TEST(fault_is_survived) {
  const fault_t *f = &faults[_i];
  e2e_t t = {0};
  /* the range faults need a wrap during the run; the others none */
  bool range = f->before[0] != NULL;
  start_sim_args(&t, "xeon-2s", range ? 6.0 : 3600.0, "--powercap", "fuse", NULL);
  for (size_t k = 0; k < 2 && f->before[k]; k++)
    sim_command(&t, f->before[k]);
  char *sysfs = path_join(t.root, "sys");
  char *conf = write_conf(t.dir, sysfs, NULL, 1);
  char *out = path_join(t.dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-f", "-C", conf, NULL};
  pid_t collectd = spawn(argv, out);
  usleep(3200000);
  for (size_t k = 0; k < 2 && f->inject[k]; k++)
    sim_command(&t, f->inject[k]);
  usleep((useconds_t)(f->fault_s * 1e6));
  for (size_t k = 0; k < 2 && f->clear[k]; k++)
    sim_command(&t, f->clear[k]);
  double cleared = wall_s();
  usleep(4500000);
  kill(collectd, SIGTERM);
  ck_assert_int_eq(wait_exit(collectd, 30), 0);

  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(count_lines_with(log, f->logged) == (size_t)f->times,
                "%s: \"%s\" logged %zu times, expected %d:\n%s", f->name,
                f->logged, count_lines_with(log, f->logged), f->times, log);
  ck_assert_msg(count_lines_with(log, f->recovered) == (size_t)f->recovered_times,
                "%s: \"%s\" logged %zu times, expected %d:\n%s", f->name,
                f->recovered, count_lines_with(log, f->recovered),
                f->recovered_times, log);

  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  size_t powers = 0;
  double worst_pct = 0;
  for (size_t s = 0; s < csv->n; s++) {
    const series_t *x = &csv->s[s];
    char zone[64], domain[32];
    /* the active/idle split follows this machine's own /proc/stat (no
     * ProcfsPath here): its identities are test_collectd's and test_meter's */
    if (strstr(x->id, "-active") != NULL || strstr(x->id, "-idle") != NULL)
      continue;
    if (sscanf(x->id, "rapl-%63[^/]/power-%31s", zone, domain) == 2) {
      double expect = watts_of(t.model, zone, domain);
      for (size_t k = 0; k < x->n; k++) {
        ck_assert_msg(isfinite(x->v[k]) && x->v[k] >= 0, "%s: %s = %f", f->name,
                      x->id, x->v[k]);
        double pct = 100 * fabs(x->v[k] - expect) / expect;
        if (f->stuck && strcmp(domain, "package") == 0 &&
            (strcmp(zone, "total") == 0 || strcmp(zone, f->zone) == 0)) {
          /* the stuck counter adds 0 W (part of an interval at the edges):
           * anything between the others' power and the full power is
           * honest, nothing outside it */
          double stuck_w = watts_of(t.model, f->zone, "package");
          ck_assert_msg(x->v[k] >= (expect - stuck_w) * 0.99 &&
                            x->v[k] <= expect * 1.01,
                        "%s: %s = %.3f W", f->name, x->id, x->v[k]);
          if (x->v[k] < expect * 0.99)
            continue;
        }
        worst_pct = fmax(worst_pct, pct);
        /* 2 %: a reader preempted between a read and its timestamp on a
         * loaded 2-core machine was seen 1.15 % off once (make check runs
         * two test programs at a time); a lost or doubled interval at
         * Interval 1 is 50 % or more */
        ck_assert_msg(pct <= 2.0, "%s: %s = %.3f W at %.3f, simulated %.3f W "
                      "(a spike or a dip)", f->name, x->id, x->v[k], x->t[k], expect);
        powers++;
      }
    } else if (strstr(x->id, "/derive-") != NULL) {
      for (size_t k = 1; k < x->n; k++)
        ck_assert_msg(x->v[k] >= x->v[k - 1], "%s: %s went backwards", f->name, x->id);
    }
  }
  ck_assert_uint_gt(powers, 10);
  /* values flow again after the fault, without a restart */
  char id[128];
  snprintf(id, sizeof(id), "rapl-%s/power-package", f->zone);
  const series_t *p = series(csv, id);
  ck_assert_ptr_nonnull(p);
  size_t after = 0;
  for (size_t k = 0; k < p->n; k++)
    after += p->t[k] > cleared && p->v[k] > 0;
  ck_assert_msg(after >= 2, "%s: %s did not come back after the fault", f->name, id);
  printf("fault %-32s logged once: \"%s\" x%d; worst power deviation %.3f %%; "
         "%zu values after recovery\n",
         f->name, f->logged, f->times, worst_pct, after);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(out);
  free(conf);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

/* The powercap reader itself on the FUSE-served tree, whose removed nodes
 * behave like kernfs (ENODEV on descriptors opened before). */
static rapl_source_t *open_served(e2e_t *t, const char *machine) {
  start_sim_args(t, machine, 3600.0, "--powercap", "fuse", NULL);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", t->root);
  rapl_source_t *src = NULL;
  char why[2048];
  ck_assert_msg(rapl_powercap_source.open(&o, &src, why, sizeof(why)) == 0, "%s",
                why);
  return src;
}

static size_t zone_index(const rapl_source_t *src, const char *key,
                         const char *domain) {
  const rapl_source_ops_t *ops = &rapl_powercap_source;
  for (size_t i = 0; i < ops->zone_count(src); i++)
    if (strcmp(ops->zone_info(src, i)->key, key) == 0 &&
        strcmp(ops->zone_info(src, i)->domain, domain) == 0)
      return i;
  ck_abort_msg("no zone %s/%s", key, domain);
  return 0;
}

/* SPEC 4: a zone that returns is re-baselined even when its first read
 * after the return fails - else the next delta spans the absence. */
START_TEST(returning_zone_whose_first_read_fails_is_rebaselined) {
  e2e_t t = {0};
  rapl_source_t *src = open_served(&t, "xeon-2s");
  const rapl_source_ops_t *ops = &rapl_powercap_source;
  size_t z = zone_index(src, "package-1", "package");
  uint64_t raw;
  ck_assert_int_eq(ops->read(src, z, &raw), 0);
  sim_command(&t, "vanish intel-rapl:1");
  ck_assert_int_eq(ops->read(src, z, &raw), -ENODEV);
  sim_command(&t, "return intel-rapl:1");
  sim_command(&t, "fault intel-rapl:1 eio");
  ck_assert_int_ge(ops->rescan(src), 0);
  z = zone_index(src, "package-1", "package");
  ck_assert_int_eq(ops->read(src, z, &raw), -EIO);
  sim_command(&t, "fault intel-rapl:1 none");
  ck_assert_int_eq(ops->read(src, z, &raw), RAPL_READ_REOPENED);
  ck_assert_int_eq(ops->read(src, z, &raw), 0);
  ops->close(src);
  stop_sim(&t);
}
END_TEST

/* A gone intel-rapl package is not re-attached to its intel-rapl-mmio
 * twin (another counter of the same package) by accident. */
START_TEST(gone_package_is_not_reattached_to_its_mmio_twin) {
  e2e_t t = {0};
  rapl_source_t *src = open_served(&t, "laptop-psys");
  const rapl_source_ops_t *ops = &rapl_powercap_source;
  size_t z = zone_index(src, "package-0", "package");
  uint64_t raw;
  ck_assert_int_eq(ops->read(src, z, &raw), 0);
  sim_command(&t, "vanish intel-rapl:0");
  ck_assert_int_eq(ops->read(src, z, &raw), -ENODEV);
  ck_assert_int_ge(ops->rescan(src), 0);
  z = zone_index(src, "package-0", "package");
  ck_assert_int_eq(ops->read(src, z, &raw), -ENODEV);
  sim_command(&t, "return intel-rapl:0");
  ck_assert_int_ge(ops->rescan(src), 0);
  z = zone_index(src, "package-0", "package");
  ck_assert_int_eq(ops->read(src, z, &raw), RAPL_READ_REOPENED);
  ops->close(src);
  stop_sim(&t);
}
END_TEST

/* A zone that vanishes and returns between two reads (a module reload)
 * is one episode: one log line, and a new baseline at once. */
START_TEST(vanish_and_return_between_two_reads_is_logged_once) {
  e2e_t t = {0};
  start_sim_args(&t, "xeon-2s", 3600.0, "--powercap", "fuse", NULL);
  log_capture_start();
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", t.root);
  rapl_meter_t *m = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(m, why, sizeof(why)) == 0, "%s", why);
  const rapl_value_t *v;
  size_t n;
  ck_assert_int_eq(rapl_meter_sample(m), 0);
  ck_assert_int_eq(rapl_meter_values(m, &v, &n), 0);
  sim_command(&t, "vanish intel-rapl:1");
  sim_command(&t, "return intel-rapl:1");
  ck_assert_int_eq(rapl_meter_sample(m), 0); /* back: a new baseline */
  ck_assert_int_eq(rapl_meter_values(m, &v, &n), 0);
  usleep(200000);
  ck_assert_int_eq(rapl_meter_sample(m), 0);
  /* package-1 and its dram: one line each, nothing else */
  ck_assert_msg(log_count("the zone was gone and is back (new baseline)") == 2 &&
                    log_count("reading the counter failed") == 0 &&
                    log_count("reads again") == 0,
                "%s", log_text());
  ck_assert_int_eq(rapl_meter_values(m, &v, &n), 0);
  bool pkg1 = false;
  for (size_t i = 0; i < n; i++)
    pkg1 = pkg1 || (v[i].kind == RAPL_VALUE_POWER &&
                    strcmp(v[i].zone, "package-1") == 0);
  ck_assert_msg(pkg1, "package-1 reads again at once");
  rapl_meter_free(m);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("faults");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, fault_is_survived, 0,
                      (int)(sizeof(faults) / sizeof(faults[0])));
  tcase_add_test(tc, returning_zone_whose_first_read_fails_is_rebaselined);
  tcase_add_test(tc, gone_package_is_not_reattached_to_its_mmio_twin);
  tcase_add_test(tc, vanish_and_return_between_two_reads_is_logged_once);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
