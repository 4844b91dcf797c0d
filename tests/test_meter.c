/* test_meter.c - the whole collectd-free pipeline on simulated machines:
 * what gets dispatched, per zone and in total, through wraps and faults. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "meter.h"
#include "testutil.h"

#define SEC UINT64_C(1000000000)

typedef struct {
  sim_machine_t *sim;
  char *root;
  rapl_meter_t *meter;
  uint64_t now_ns;
  const rapl_value_t *values;
  size_t count;
} fixture_t;

static void setup_with(fixture_t *f, const char *machine,
                       void (*tweak)(rapl_options_t *)) {
  log_capture_start();
  f->sim = sim_start(machine, &f->root);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f->root);
  /* the energy and power values alone: the split has tests of its own */
  o.active_idle = false;
  if (tweak)
    tweak(&o);
  f->meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f->meter, why, sizeof(why)) == 0, "%s", why);
  f->now_ns = 1000 * SEC;
}

static void teardown(fixture_t *f) {
  rapl_meter_free(f->meter);
  sim_free(f->sim);
  rm_tree(f->root);
  free(f->root);
}

/* Advances the simulation by `seconds` and reads the meter. */
static void step(fixture_t *f, uint64_t seconds) {
  if (seconds) {
    ck_assert_int_eq(sim_advance_ns(f->sim, seconds * SEC), 0);
    f->now_ns += seconds * SEC;
  }
  ck_assert_int_eq(rapl_meter_read(f->meter, f->now_ns, &f->values, &f->count), 0);
}

static const rapl_value_t *find(const fixture_t *f, rapl_value_kind_t kind,
                                const char *zone, const char *name) {
  for (size_t i = 0; i < f->count; i++)
    if (f->values[i].kind == kind && strcmp(f->values[i].zone, zone) == 0 &&
        strcmp(f->values[i].name, name) == 0)
      return &f->values[i];
  return NULL;
}

static size_t count_kind(const fixture_t *f, rapl_value_kind_t kind) {
  size_t n = 0;
  for (size_t i = 0; i < f->count; i++)
    n += f->values[i].kind == kind;
  return n;
}

static double sim_watts(const fixture_t *f, const char *key, const char *domain) {
  return (double)sim_zone_power_uw(f->sim, sim_find(f->sim, key, domain)) / 1e6;
}

START_TEST(first_read_is_baseline) {
  fixture_t f;
  setup_with(&f, "xeon-2s", NULL);
  step(&f, 0);
  /* energy 0 for every zone and total, no power yet, the meter gauge */
  ck_assert_uint_eq(count_kind(&f, RAPL_VALUE_ENERGY), 4 + 2);
  ck_assert_uint_eq(count_kind(&f, RAPL_VALUE_POWER), 0);
  for (size_t i = 0; i < f.count; i++)
    if (f.values[i].kind == RAPL_VALUE_ENERGY)
      ck_assert_uint_eq(f.values[i].joules, 0);
  const rapl_value_t *g = find(&f, RAPL_VALUE_METER, "", "meter-rapl-powercap");
  ck_assert_ptr_nonnull(g);
  ck_assert_double_eq(g->value, 1.0);
  teardown(&f);
}
END_TEST

START_TEST(power_and_energy_match_the_simulation) {
  const char *machines[] = {"xeon-2s", "laptop-psys", "epyc-2s", "spr-2s-psys",
                            "xeon-multidie"};
  for (size_t k = 0; k < 5; k++) {
    fixture_t f;
    setup_with(&f, machines[k], NULL);
    step(&f, 0);
    for (int i = 0; i < 30; i++)
      step(&f, 10);
    for (size_t i = 0; i < f.count; i++) {
      const rapl_value_t *v = &f.values[i];
      if (strcmp(v->zone, "total") == 0 || v->kind == RAPL_VALUE_METER)
        continue;
      double watts = sim_watts(&f, v->zone, v->name);
      size_t s = sim_find(f.sim, v->zone, v->name);
      if (v->kind == RAPL_VALUE_POWER) {
        /* one counter unit of quantisation over 10 s at most */
        double unit_w = (double)sim_zone_unit_nj(f.sim, s) / 1e9 / 10.0;
        ck_assert_msg(fabs(v->value - watts) <= unit_w + watts * 1e-5,
                      "%s %s/%s: %.6f W, simulated %.6f W", machines[k],
                      v->zone, v->name, v->value, watts);
      } else {
        double truth_j = (double)sim_zone_truth_nj(f.sim, s) / 1e9;
        ck_assert_msg(fabs((double)v->joules - truth_j) <= 1.0 + truth_j * 1e-5,
                      "%s %s/%s: %llu J, simulated %.3f J", machines[k], v->zone,
                      v->name, (unsigned long long)v->joules, truth_j);
      }
    }
    teardown(&f);
  }
}
END_TEST

START_TEST(energy_survives_wraps_exactly_as_the_kernel_shows_them) {
  fixture_t f;
  setup_with(&f, "xeon-2s", NULL);
  sim_wrap_in(f.sim, 25.0);
  step(&f, 0);
  uint64_t first_uj[4];
  for (size_t z = 0; z < 4; z++)
    first_uj[z] = sim_zone_energy_uj(f.sim, z);
  for (int i = 0; i < 10; i++)
    step(&f, 10);
  /* every zone wrapped once within the 100 s */
  for (size_t z = 0; z < 4; z++)
    ck_assert_uint_lt(sim_zone_energy_uj(f.sim, z), first_uj[z]);
  const char *keys[] = {"package-0", "package-1"};
  const char *domains[] = {"package", "dram"};
  for (size_t k = 0; k < 2; k++)
    for (size_t d = 0; d < 2; d++) {
      size_t s = sim_find(f.sim, keys[k], domains[d]);
      const rapl_value_t *e = find(&f, RAPL_VALUE_ENERGY, keys[k], domains[d]);
      ck_assert_ptr_nonnull(e);
      /* truth minus the energy before the baseline, within a tick per wrap
       * (the kernel's wrap loses one unit) and the floor to joules */
      double truth_j = (double)sim_zone_truth_nj(f.sim, s) / 1e9;
      ck_assert_msg(fabs((double)e->joules - truth_j) <= 1.0,
                    "%s/%s: %llu J vs %.6f J", keys[k], domains[d],
                    (unsigned long long)e->joules, truth_j);
    }
  ck_assert_uint_eq(log_count("reset"), 0);
  teardown(&f);
}
END_TEST

START_TEST(total_sums_each_domain_over_sockets) {
  fixture_t f;
  setup_with(&f, "xeon-2s", NULL);
  step(&f, 0);
  step(&f, 60);
  const rapl_value_t *tp = find(&f, RAPL_VALUE_POWER, "total", "package");
  const rapl_value_t *td = find(&f, RAPL_VALUE_POWER, "total", "dram");
  ck_assert_ptr_nonnull(tp);
  ck_assert_ptr_nonnull(td);
  double expect_p = sim_watts(&f, "package-0", "package") +
                    sim_watts(&f, "package-1", "package");
  double expect_d = sim_watts(&f, "package-0", "dram") +
                    sim_watts(&f, "package-1", "dram");
  ck_assert_double_eq_tol(tp->value, expect_p, 0.01);
  ck_assert_double_eq_tol(td->value, expect_d, 0.01);
  /* domains are never summed with each other */
  ck_assert_ptr_null(find(&f, RAPL_VALUE_POWER, "total", "total"));
  teardown(&f);
}
END_TEST

START_TEST(psys_sums_into_total_psys) {
  fixture_t f;
  setup_with(&f, "spr-2s-psys", NULL);
  step(&f, 0);
  step(&f, 10);
  const rapl_value_t *t = find(&f, RAPL_VALUE_POWER, "total", "psys");
  ck_assert_ptr_nonnull(t);
  ck_assert_double_eq_tol(t->value, sim_watts(&f, "psys", "psys"), 0.2);
  teardown(&f);
}
END_TEST

static void no_per_socket(rapl_options_t *o) { o->per_socket = false; }
static void no_total(rapl_options_t *o) { o->total = false; }
static void dram_only(rapl_options_t *o) {
  const char *names[] = {"dram"};
  char err[128];
  rapl_options_set_zones(o, names, 1, err, sizeof(err));
}

START_TEST(per_socket_false_dispatches_only_totals) {
  fixture_t f;
  setup_with(&f, "xeon-2s", no_per_socket);
  step(&f, 0);
  step(&f, 10);
  for (size_t i = 0; i < f.count; i++)
    if (f.values[i].kind != RAPL_VALUE_METER)
      ck_assert_str_eq(f.values[i].zone, "total");
  ck_assert_uint_eq(f.count, 2 + 2 + 1);
  teardown(&f);
}
END_TEST

START_TEST(total_false_dispatches_no_totals) {
  fixture_t f;
  setup_with(&f, "xeon-2s", no_total);
  step(&f, 0);
  step(&f, 10);
  for (size_t i = 0; i < f.count; i++)
    ck_assert_str_ne(f.values[i].zone, "total");
  ck_assert_uint_eq(f.count, 4 + 4 + 1);
  teardown(&f);
}
END_TEST

START_TEST(total_on_one_socket_too) {
  fixture_t f;
  setup_with(&f, "laptop-psys", NULL);
  step(&f, 0);
  step(&f, 10);
  ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_POWER, "total", "package"));
  ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_POWER, "total", "core"));
  ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_POWER, "total", "uncore"));
  ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_POWER, "total", "psys"));
  teardown(&f);
}
END_TEST

START_TEST(zones_filter_limits_what_is_dispatched) {
  fixture_t f;
  setup_with(&f, "xeon-2s", dram_only);
  step(&f, 0);
  step(&f, 10);
  for (size_t i = 0; i < f.count; i++)
    if (f.values[i].kind != RAPL_VALUE_METER)
      ck_assert_str_eq(f.values[i].name, "dram");
  teardown(&f);
}
END_TEST

START_TEST(failed_zone_is_skipped_and_counted_later) {
  fixture_t f;
  setup_with(&f, "xeon-2s", NULL);
  size_t s = sim_find(f.sim, "package-1", "package");
  char path[4096];
  snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(f.sim, s));
  step(&f, 0);
  step(&f, 10);
  /* three reads with garbage where the counter should be */
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(sim_advance_ns(f.sim, 10 * SEC), 0);
    f.now_ns += 10 * SEC;
    write_file(path, "garbage\n");
    step(&f, 0);
    ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "package-1", "package"));
    ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "total", "package"));
    ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_ENERGY, "package-0", "package"));
    ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_ENERGY, "total", "dram"));
  }
  ck_assert_uint_eq(log_count("package-1 package: reading the counter failed"), 1);
  /* it reads again: the 40 s of energy are all there, power over 40 s */
  step(&f, 10);
  ck_assert_uint_eq(log_count("package-1 package: the counter reads again"), 1);
  const rapl_value_t *p = find(&f, RAPL_VALUE_POWER, "package-1", "package");
  ck_assert_ptr_nonnull(p);
  ck_assert_double_eq_tol(p->value, sim_watts(&f, "package-1", "package"), 0.01);
  const rapl_value_t *e = find(&f, RAPL_VALUE_ENERGY, "package-1", "package");
  double truth_j = (double)sim_zone_truth_nj(f.sim, s) / 1e9;
  /* floored: never ahead of the truth, less than a joule behind (plus the
   * counter's own quantisation: one 61 uJ unit and the kernel's truncation) */
  ck_assert_msg((double)e->joules <= truth_j &&
                    truth_j - (double)e->joules < 1.0 + 1e-4,
                "%llu J vs %.6f J", (unsigned long long)e->joules, truth_j);
  const rapl_value_t *t = find(&f, RAPL_VALUE_POWER, "total", "package");
  ck_assert_ptr_nonnull(t);
  ck_assert_double_eq_tol(t->value,
                          sim_watts(&f, "package-0", "package") +
                              sim_watts(&f, "package-1", "package"),
                          0.01);
  teardown(&f);
}
END_TEST

START_TEST(reset_counts_nothing_and_never_goes_negative) {
  fixture_t f;
  setup_with(&f, "xeon-2s", NULL);
  size_t s = sim_find(f.sim, "package-0", "package");
  char path[4096];
  snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(f.sim, s));
  step(&f, 0);
  step(&f, 10);
  uint64_t before = find(&f, RAPL_VALUE_ENERGY, "package-0", "package")->joules;
  f.now_ns += 10 * SEC;
  write_file(path, "5\n"); /* counter reset (not explainable as one wrap) */
  step(&f, 0);
  ck_assert_uint_eq(log_count("treated as a counter reset"), 1);
  const rapl_value_t *e = find(&f, RAPL_VALUE_ENERGY, "package-0", "package");
  ck_assert_uint_eq(e->joules, before);
  ck_assert_ptr_null(find(&f, RAPL_VALUE_POWER, "package-0", "package"));
  ck_assert_ptr_null(find(&f, RAPL_VALUE_POWER, "total", "package"));
  /* counting resumes from the new baseline */
  write_file(path, "100000005\n"); /* +100 J in 10 s */
  f.now_ns += 10 * SEC;
  step(&f, 0);
  const rapl_value_t *p = find(&f, RAPL_VALUE_POWER, "package-0", "package");
  ck_assert_ptr_nonnull(p);
  ck_assert_double_eq_tol(p->value, 10.0, 1e-9);
  ck_assert_uint_eq(find(&f, RAPL_VALUE_ENERGY, "package-0", "package")->joules,
                    before + 100);
  for (size_t i = 0; i < f.count; i++)
    if (f.values[i].kind == RAPL_VALUE_POWER)
      ck_assert(isfinite(f.values[i].value) && f.values[i].value >= 0);
  teardown(&f);
}
END_TEST

/* SPEC 4: a problem is logged when it starts and when it ends; a
 * recurrence within 10 minutes of its end continues the episode silently. */
START_TEST(flapping_error_logs_one_episode) {
  fixture_t f;
  setup_with(&f, "xeon-2s", NULL);
  size_t s = sim_find(f.sim, "package-1", "package");
  char path[4096];
  snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(f.sim, s));
  step(&f, 0);
  for (int i = 0; i < 100; i++) { /* garbage at every other read */
    ck_assert_int_eq(sim_advance_ns(f.sim, 10 * SEC), 0);
    f.now_ns += 10 * SEC;
    if (i % 2 == 0)
      write_file(path, "garbage\n");
    step(&f, 0);
  }
  ck_assert_msg(log_count("package-1 package: reading the counter failed") == 1 &&
                    log_count("package-1 package: the counter reads again") == 1,
                "logged %zu failures and %zu recoveries, expected 1 and 1",
                log_count("package-1 package: reading the counter failed"),
                log_count("package-1 package: the counter reads again"));
  /* every joule is still there: a failed read only delays it */
  double truth_j = (double)sim_zone_truth_nj(f.sim, s) / 1e9;
  const rapl_value_t *e = find(&f, RAPL_VALUE_ENERGY, "package-1", "package");
  ck_assert_ptr_nonnull(e);
  ck_assert(truth_j - (double)e->joules < 1.0 + 1e-4);
  /* quiet for 11 minutes: the next failure is a new episode */
  for (int i = 0; i < 66; i++)
    step(&f, 10);
  write_file(path, "garbage\n");
  step(&f, 0);
  step(&f, 10);
  ck_assert_msg(log_count("package-1 package: reading the counter failed") == 2 &&
                    log_count("package-1 package: the counter reads again") == 2,
                "logged %zu failures and %zu recoveries, expected 2 and 2",
                log_count("package-1 package: reading the counter failed"),
                log_count("package-1 package: the counter reads again"));
  teardown(&f);
}
END_TEST

/* SPEC 4: zones that appear after start are picked up within 60 s; the new
 * zone starts at 0, its total appears with it, and an existing total stays
 * monotonic without a spike. */
START_TEST(zones_that_appear_later_are_added) {
  fixture_t f;
  log_capture_start();
  f.sim = sim_start("spr-2s-psys", &f.root);
  size_t psys = sim_find(f.sim, "psys", "psys");
  size_t pkg1 = sim_find(f.sim, "package-1", "package");
  ck_assert_int_eq(sim_zone_vanish(f.sim, psys, 1), 0);
  ck_assert_int_eq(sim_zone_vanish(f.sim, pkg1, 1), 0);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f.root);
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  f.now_ns = 1000 * SEC;
  step(&f, 0);
  step(&f, 10);
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "psys", "psys"));
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "package-1", "package"));
  double pkg0_w = sim_watts(&f, "package-0", "package");
  uint64_t last_total = find(&f, RAPL_VALUE_ENERGY, "total", "package")->joules;
  /* the driver brings them: within 60 s they are read */
  ck_assert_int_eq(sim_zone_vanish(f.sim, psys, 0), 0);
  ck_assert_int_eq(sim_zone_vanish(f.sim, pkg1, 0), 0);
  int seen_at = -1;
  for (int k = 1; k <= 12; k++) { /* 5 s reads, 60 s */
    step(&f, 5);
    const rapl_value_t *total = find(&f, RAPL_VALUE_ENERGY, "total", "package");
    ck_assert_ptr_nonnull(total);
    ck_assert_uint_ge(total->joules, last_total);
    last_total = total->joules;
    const rapl_value_t *tp = find(&f, RAPL_VALUE_POWER, "total", "package");
    const rapl_value_t *e = find(&f, RAPL_VALUE_ENERGY, "psys", "psys");
    if (e != NULL && seen_at < 0) {
      seen_at = k;
      /* the new zones start at 0, and no spike in the existing total */
      ck_assert_uint_eq(e->joules, 0);
      ck_assert_uint_eq(find(&f, RAPL_VALUE_ENERGY, "package-1", "package")->joules, 0);
      ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_ENERGY, "total", "psys"));
      if (tp != NULL)
        ck_assert_double_eq_tol(tp->value, pkg0_w, 0.01);
    } else if (seen_at > 0 && k == seen_at + 1) {
      ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_POWER, "psys", "psys"));
      ck_assert_double_eq_tol(find(&f, RAPL_VALUE_POWER, "psys", "psys")->value,
                              sim_watts(&f, "psys", "psys"), 0.01);
    }
  }
  ck_assert_msg(seen_at > 0, "psys not picked up within 60 s:\n%s", log_text());
  step(&f, 5);
  ck_assert_double_eq_tol(find(&f, RAPL_VALUE_POWER, "total", "package")->value,
                          pkg0_w + sim_watts(&f, "package-1", "package"), 0.01);
  ck_assert_uint_eq(log_count("reset"), 0);
  teardown(&f);
}
END_TEST

/* A bogus tiny max_energy_range_uj (1 mJ: a wrap every 0.5 us at the
 * cap) must not make the read thread spin: sampling is at most once a
 * second. */
START_TEST(tiny_range_does_not_spin_the_sampling) {
  fixture_t f;
  log_capture_start();
  f.sim = sim_start("xeon-2s", &f.root);
  ck_assert_int_eq(sim_zone_set_range(f.sim, sim_find(f.sim, "package-0", "dram"),
                                      SIM_RANGE_VALUE, 1000), 0);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f.root);
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  ck_assert_uint_eq(rapl_meter_safe_period_ns(f.meter), SEC);
  teardown(&f);
}
END_TEST

/* ---- active/idle (SPEC 3, 4) ---- */

static void split_on(rapl_options_t *o) { o->active_idle = true; }

/* ROOT/proc/stat for the simulated CPUs: `ticks` more per CPU, busy at
 * the fraction of its package (busy[package]); absent CPUs get no line. */
typedef struct {
  uint64_t busy[64], idle[64];
} stat_t;

static void write_stat(fixture_t *f, stat_t *st, uint64_t ticks,
                       const double *busy_by_package, unsigned skip_cpu) {
  char path[4096], text[16384];
  snprintf(path, sizeof(path), "%s/proc", f->root);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/proc/stat", f->root);
  size_t len = (size_t)snprintf(text, sizeof(text), "cpu  0 0 0 0 0 0 0 0 0 0\n");
  for (unsigned c = 0; c < sim_cpu_count(f->sim) && c < 64; c++) {
    uint64_t b = (uint64_t)((double)ticks * busy_by_package[sim_cpu_package(f->sim, c)] + 0.5);
    st->busy[c] += b;
    st->idle[c] += ticks - b;
    if (c == skip_cpu)
      continue;
    /* busy split over user and system, idle over idle and iowait */
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "cpu%u %llu 0 %llu %llu %llu 0 0 0 0 0\n", c,
                            (unsigned long long)(st->busy[c] - st->busy[c] / 3),
                            (unsigned long long)(st->busy[c] / 3),
                            (unsigned long long)(st->idle[c] - st->idle[c] / 4),
                            (unsigned long long)(st->idle[c] / 4));
  }
  snprintf(text + len, sizeof(text) - len, "intr 0\nctxt 0\n");
  FILE *out = fopen(path, "w");
  ck_assert_ptr_nonnull(out);
  fputs(text, out);
  fclose(out);
}

static double value_of(const fixture_t *f, rapl_value_kind_t kind,
                       const char *zone, const char *name) {
  const rapl_value_t *v = find(f, kind, zone, name);
  ck_assert_msg(v != NULL, "no %s/%s", zone, name);
  return kind == RAPL_VALUE_ENERGY ? (double)v->joules : v->value;
}

/* One socket busy, the other idle: each socket's split follows its own
 * CPUs, the totals all of them; active + idle is the zone's energy. */
START_TEST(active_idle_follows_each_sockets_cpus) {
  fixture_t f;
  setup_with(&f, "xeon-2s", split_on);
  /* procfs of the simulated machine */
  rapl_meter_free(f.meter);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f.root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", f.root);
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  static stat_t st;
  memset(&st, 0, sizeof(st));
  const double busy[2] = {0.9, 0.05};
  write_stat(&f, &st, 0, busy, 999);
  step(&f, 0); /* baseline: no split */
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "package-0", "package-active"));
  for (int k = 0; k < 6; k++) {
    ck_assert_int_eq(sim_advance_ns(f.sim, 10 * SEC), 0);
    f.now_ns += 10 * SEC;
    write_stat(&f, &st, 1000, busy, 999);
    step(&f, 0);
  }
  double p0 = sim_watts(&f, "package-0", "package");
  double p1 = sim_watts(&f, "package-1", "package");
  /* totals: every online CPU (some of this machine's are offline) */
  double n[2] = {0, 0};
  for (unsigned c = 0; c < sim_cpu_count(f.sim); c++)
    if (sim_cpu_online(f.sim, c))
      n[sim_cpu_package(f.sim, c)]++;
  double all = (busy[0] * n[0] + busy[1] * n[1]) / (n[0] + n[1]);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_RATIO, "package-0", "cpu_usage_ratio"), 0.9, 1e-9);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_RATIO, "package-1", "cpu_usage_ratio"), 0.05, 1e-9);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_RATIO, "total", "cpu_usage_ratio"), all, 1e-9);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_POWER, "package-0", "package-active"), 0.9 * p0, 0.01);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_POWER, "package-0", "package-idle"), 0.1 * p0, 0.01);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_POWER, "package-1", "package-active"), 0.05 * p1, 0.01);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_POWER, "total", "package-active"),
                          all * (p0 + p1), 0.01);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_POWER, "package-1", "dram-active"),
                          0.05 * sim_watts(&f, "package-1", "dram"), 0.01);
  /* the identity, in whole joules after flooring each part */
  const char *zones[] = {"package-0", "package-1", "total"};
  const char *domains[] = {"package", "dram"};
  for (size_t z = 0; z < 3; z++)
    for (size_t d = 0; d < 2; d++) {
      char a[64], i[64];
      snprintf(a, sizeof(a), "%s-active", domains[d]);
      snprintf(i, sizeof(i), "%s-idle", domains[d]);
      double whole = value_of(&f, RAPL_VALUE_ENERGY, zones[z], domains[d]);
      double sum = value_of(&f, RAPL_VALUE_ENERGY, zones[z], a) +
                   value_of(&f, RAPL_VALUE_ENERGY, zones[z], i);
      ck_assert_msg(sum <= whole && whole - sum <= 1.0, "%s/%s: %.0f + %.0f J of %.0f J",
                    zones[z], domains[d], value_of(&f, RAPL_VALUE_ENERGY, zones[z], a),
                    value_of(&f, RAPL_VALUE_ENERGY, zones[z], i), whole);
    }
  teardown(&f);
}
END_TEST

/* The busy ratio of every online CPU, as the total's gauge should read. */
static double online_ratio(const fixture_t *f, const double *busy) {
  double n[2] = {0, 0};
  for (unsigned c = 0; c < sim_cpu_count(f->sim); c++)
    if (sim_cpu_online(f->sim, c))
      n[sim_cpu_package(f->sim, c)]++;
  return (busy[0] * n[0] + busy[1] * n[1]) / (n[0] + n[1]);
}

/* The topology is loaded again only when cpu/online changes (not at every
 * rescan), and then within a rescan: a CPU coming online or going offline
 * moves the total's ratio. */
START_TEST(cpu_hotplug_reaches_the_split) {
  fixture_t f;
  setup_with(&f, "xeon-2s", split_on);
  rapl_meter_free(f.meter);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  o.active_idle = true;
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f.root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", f.root);
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  unsigned off = 0; /* an offline CPU of package 0 (busy 0.9) */
  for (unsigned c = 1; c < sim_cpu_count(f.sim) && off == 0; c++)
    if (!sim_cpu_online(f.sim, c) && sim_cpu_package(f.sim, c) == 0)
      off = c;
  if (off == 0) { /* none at load: take one offline */
    off = 1;
    ck_assert_int_eq(sim_cpu_set_online(f.sim, off, 0), 0);
  }
  static stat_t st;
  memset(&st, 0, sizeof(st));
  const double busy[2] = {0.9, 0.05};
  write_stat(&f, &st, 0, busy, 999);
  step(&f, 0);
  for (int phase = 0; phase < 3; phase++) {
    if (phase > 0) /* online, then offline again */
      ck_assert_int_eq(sim_cpu_set_online(f.sim, off, phase == 1), 0);
    /* past the next rescan (60 s), then one more interval of ticks */
    for (int k = 0; k < 8; k++) {
      ck_assert_int_eq(sim_advance_ns(f.sim, 10 * SEC), 0);
      f.now_ns += 10 * SEC;
      write_stat(&f, &st, 1000, busy, 999);
      step(&f, 0);
    }
    ck_assert_double_eq_tol(
        value_of(&f, RAPL_VALUE_RATIO, "total", "cpu_usage_ratio"),
        online_ratio(&f, busy), 1e-9);
  }
  teardown(&f);
}
END_TEST

/* /proc/stat going wrong: a CPU offline, a malformed file, counters that
 * restart. No ratio leaves 0..1, and no energy is lost from the split. */
START_TEST(proc_stat_faults_keep_the_split_whole) {
  fixture_t f;
  setup_with(&f, "xeon-2s", split_on);
  rapl_meter_free(f.meter);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f.root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", f.root);
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  static stat_t st;
  memset(&st, 0, sizeof(st));
  const double busy[2] = {0.5, 0.5};
  char path[4096];
  snprintf(path, sizeof(path), "%s/proc/stat", f.root);
  write_stat(&f, &st, 0, busy, 999);
  step(&f, 0);
  for (int k = 0; k < 8; k++) {
    ck_assert_int_eq(sim_advance_ns(f.sim, 10 * SEC), 0);
    f.now_ns += 10 * SEC;
    if (k == 2)
      memset(st.busy, 0, sizeof(st.busy[0]) * 2); /* CPUs 0-1 restarted */
    write_stat(&f, &st, 1000, busy, k == 4 ? 3u : 999u); /* CPU 3 offline */
    if (k == 5)
      write_file(path, "cpu0 1 2 oops\n");
    step(&f, 0);
    for (size_t i = 0; i < f.count; i++) {
      if (f.values[i].kind == RAPL_VALUE_RATIO)
        ck_assert(f.values[i].value >= 0 && f.values[i].value <= 1);
      if (f.values[i].kind == RAPL_VALUE_POWER)
        ck_assert(isfinite(f.values[i].value) && f.values[i].value >= 0);
    }
  }
  ck_assert_uint_eq(log_count("stat: Invalid argument"), 1);
  ck_assert_uint_eq(log_count("stat reads again"), 1);
  double whole = value_of(&f, RAPL_VALUE_ENERGY, "package-0", "package");
  double sum = value_of(&f, RAPL_VALUE_ENERGY, "package-0", "package-active") +
               value_of(&f, RAPL_VALUE_ENERGY, "package-0", "package-idle");
  ck_assert_msg(sum <= whole && whole - sum <= 1.0, "%.0f of %.0f J", sum, whole);
  teardown(&f);
}
END_TEST

/* The container recipe (README "Containers"): the host's /sys and /proc
 * bind-mounted read-only at another path, SysfsPath and ProcfsPath set. In
 * a private mount namespace of this test's own process. */
START_TEST(container_reads_host_trees_mounted_read_only) {
  fixture_t f;
  setup_with(&f, "xeon-2s", split_on);
  rapl_meter_free(f.meter);
  static stat_t st;
  memset(&st, 0, sizeof(st));
  const double busy[2] = {0.5, 0.25};
  write_stat(&f, &st, 0, busy, 999);
  ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
  ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
  char src[4096], dst[2][4096];
  const char *trees[2] = {"sys", "proc"};
  for (int i = 0; i < 2; i++) {
    snprintf(src, sizeof(src), "%s/%s", f.root, trees[i]);
    snprintf(dst[i], sizeof(dst[i]), "%s/host", f.root);
    mkdir(dst[i], 0755);
    snprintf(dst[i], sizeof(dst[i]), "%s/host/%s", f.root, trees[i]);
    mkdir(dst[i], 0755);
    ck_assert_msg(mount(src, dst[i], NULL, MS_BIND | MS_REC, NULL) == 0,
                  "bind %s: %s", dst[i], strerror(errno));
    ck_assert_msg(mount(NULL, dst[i], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0,
                  "read-only %s: %s", dst[i], strerror(errno));
  }
  char probe[4200];
  snprintf(probe, sizeof(probe), "%s/probe", dst[0]);
  ck_assert_int_eq(open(probe, O_WRONLY | O_CREAT, 0644), -1);
  ck_assert_int_eq(errno, EROFS);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s", dst[0]);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s", dst[1]);
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  step(&f, 0);
  for (int k = 0; k < 2; k++) {
    ck_assert_int_eq(sim_advance_ns(f.sim, 10 * SEC), 0);
    f.now_ns += 10 * SEC;
    write_stat(&f, &st, 1000, busy, 999);
    step(&f, 0);
  }
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_POWER, "package-0", "package"),
                          sim_watts(&f, "package-0", "package"), 0.01);
  ck_assert_double_eq_tol(value_of(&f, RAPL_VALUE_RATIO, "package-1", "cpu_usage_ratio"),
                          0.25, 1e-9);
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(umount2(dst[i], MNT_DETACH), 0);
  teardown(&f);
}
END_TEST

START_TEST(no_source_explains_why) {
  char *root = make_temp_dir("nosrc");
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", root);
  rapl_meter_t *m = rapl_meter_new(&o);
  char why[2048];
  ck_assert_int_eq(rapl_meter_start(m, why, sizeof(why)), -1);
  ck_assert_msg(strstr(why, "no energy source available: powercap: ") != NULL,
                "%s", why);
  ck_assert_ptr_null(rapl_meter_source(m));
  const rapl_value_t *v;
  size_t n;
  ck_assert_int_eq(rapl_meter_read(m, 0, &v, &n), -1);
  /* the meters appear later: the next start finds them */
  char err[1024];
  sim_machine_t *sim = sim_load_file(machine_path("xeon-2s", why, sizeof(why)),
                                     err, sizeof(err));
  ck_assert_ptr_nonnull(sim);
  ck_assert_int_eq(sim_build(sim, root), 0);
  ck_assert_int_eq(rapl_meter_start(m, why, sizeof(why)), 0);
  ck_assert_str_eq(rapl_meter_source(m), "rapl-powercap");
  rapl_meter_free(m);
  sim_free(sim);
  rm_tree(root);
  free(root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("meter");
  TCase *tc = tcase_create("meter");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, first_read_is_baseline);
  tcase_add_test(tc, power_and_energy_match_the_simulation);
  tcase_add_test(tc, energy_survives_wraps_exactly_as_the_kernel_shows_them);
  tcase_add_test(tc, total_sums_each_domain_over_sockets);
  tcase_add_test(tc, psys_sums_into_total_psys);
  tcase_add_test(tc, per_socket_false_dispatches_only_totals);
  tcase_add_test(tc, total_false_dispatches_no_totals);
  tcase_add_test(tc, total_on_one_socket_too);
  tcase_add_test(tc, zones_filter_limits_what_is_dispatched);
  tcase_add_test(tc, failed_zone_is_skipped_and_counted_later);
  tcase_add_test(tc, reset_counts_nothing_and_never_goes_negative);
  tcase_add_test(tc, no_source_explains_why);
  tcase_add_test(tc, flapping_error_logs_one_episode);
  tcase_add_test(tc, zones_that_appear_later_are_added);
  tcase_add_test(tc, tiny_range_does_not_spin_the_sampling);
  tcase_add_test(tc, active_idle_follows_each_sockets_cpus);
  tcase_add_test(tc, cpu_hotplug_reaches_the_split);
  tcase_add_test(tc, proc_stat_faults_keep_the_split_whole);
  tcase_add_test(tc, container_reads_host_trees_mounted_read_only);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
