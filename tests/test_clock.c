/* test_clock.c - the time base of power counts a suspend (SPEC section 3).
 *
 * RAPL counters keep counting while a machine sleeps in s2idle, so power is
 * Δenergy / Δt with Δt from CLOCK_BOOTTIME: the energy used asleep is
 * counted, and the first power after resume is the average over the sleep
 * and the interval. CLOCK_MONOTONIC stops during suspend; with it, 8 h
 * asleep at 0.5 W on psys came out as ~1460 W over a 10 s interval, and
 * 48 h at 0.6 W looked like a counter reset (103 kJ dropped).
 *
 * The real src/clock.c and the real meter run here; this program is linked
 * with -Wl,--wrap=clock_gettime, so clock_gettime() calls in the objects of
 * this link (src/clock.c among them) come to __wrap_clock_gettime below,
 * which runs a simulated machine's clocks: CLOCK_MONOTONIC (and its RAW and
 * COARSE variants) counts the time awake only, CLOCK_BOOTTIME (and
 * BOOTTIME_ALARM) the time awake plus the time asleep, as Linux does. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "meter.h"
#include "testutil.h"

#define SEC UINT64_C(1000000000)
#define HOUR (3600 * SEC)

/* ---- the simulated clocks -------------------------------------------- */

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);

static bool faking;       /* off: every clock is the real one */
static uint64_t awake_ns; /* CLOCK_MONOTONIC */
static uint64_t slept_ns; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts) {
  uint64_t ns;
  switch (clk) {
  case CLOCK_MONOTONIC:
  case CLOCK_MONOTONIC_RAW:
  case CLOCK_MONOTONIC_COARSE:
    ns = awake_ns;
    break;
  case CLOCK_BOOTTIME:
  case CLOCK_BOOTTIME_ALARM:
    ns = awake_ns + slept_ns;
    break;
  default:
    return __real_clock_gettime(clk, ts);
  }
  if (!faking)
    return __real_clock_gettime(clk, ts);
  ts->tv_sec = (time_t)(ns / SEC);
  ts->tv_nsec = (long)(ns % SEC);
  return 0;
}

static void clocks_start(void) {
  awake_ns = 1000 * SEC; /* booted 1000 s ago, never slept */
  slept_ns = 0;
  faking = true;
}

static void clocks_stop(void) { faking = false; }

/* ---- a laptop that runs, sleeps and resumes --------------------------- */

typedef struct {
  sim_machine_t *sim;
  char *root;
  rapl_meter_t *meter;
  const rapl_value_t *values;
  size_t count;
  uint64_t truth_nj[16]; /* per simulated zone, at the previous read */
  uint64_t read_ns;      /* rapl_clock_ns() of the previous read (true) */
} laptop_t;

static void laptop_start(laptop_t *l) {
  memset(l, 0, sizeof(*l));
  log_capture_start();
  clocks_start();
  l->sim = sim_start("laptop-psys", &l->root);
  ck_assert_uint_le(sim_zone_count(l->sim), 16);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", l->root);
  l->meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(l->meter, why, sizeof(why)) == 0, "%s", why);
}

static void laptop_stop(laptop_t *l) {
  rapl_meter_free(l->meter);
  sim_free(l->sim);
  rm_tree(l->root);
  free(l->root);
  clocks_stop();
}

/* One read of the meter, as the collectd read callback does it (the meter
 * reads the clock itself). */
static void laptop_read(laptop_t *l) {
  for (size_t i = 0; i < sim_zone_count(l->sim); i++)
    l->truth_nj[i] = sim_zone_truth_nj(l->sim, i);
  l->read_ns = awake_ns + slept_ns;
  ck_assert_int_eq(rapl_meter_sample(l->meter), 0);
  ck_assert_int_eq(rapl_meter_values(l->meter, &l->values, &l->count), 0);
}

/* Awake for `s` seconds at the machine's own powers. */
static void laptop_run(laptop_t *l, uint64_t s) {
  ck_assert_int_eq(sim_advance_ns(l->sim, s * SEC), 0);
  awake_ns += s * SEC;
}

/* Asleep (s2idle) for `hours`: CLOCK_MONOTONIC stands still, CLOCK_BOOTTIME
 * and the counters go on, psys at psys_w and the CPU zones at a trickle. */
static void laptop_sleep(laptop_t *l, uint64_t hours, double psys_w) {
  uint64_t awake_uw[16];
  for (size_t i = 0; i < sim_zone_count(l->sim); i++) {
    awake_uw[i] = sim_zone_power_uw(l->sim, i);
    const char *name = sim_zone_name(l->sim, i);
    double w = strcmp(name, "psys") == 0   ? psys_w
               : strcmp(name, "core") == 0 ? 0.05
               : strcmp(name, "uncore") == 0 ? 0.02
                                             : 0.2; /* package-0 */
    sim_zone_set_power_uw(l->sim, i, (uint64_t)(w * 1e6 + 0.5));
  }
  ck_assert_int_eq(sim_advance_ns(l->sim, hours * HOUR), 0);
  slept_ns += hours * HOUR;
  for (size_t i = 0; i < sim_zone_count(l->sim); i++)
    sim_zone_set_power_uw(l->sim, i, awake_uw[i]);
}

static const rapl_value_t *find(const laptop_t *l, rapl_value_kind_t kind,
                                const char *zone, const char *name) {
  for (size_t i = 0; i < l->count; i++)
    if (l->values[i].kind == kind && strcmp(l->values[i].zone, zone) == 0 &&
        strcmp(l->values[i].name, name) == 0)
      return &l->values[i];
  return NULL;
}

typedef struct {
  uint64_t joules_before[16];
  char zone[16][32], domain[16][32];
} books_t;

/* Which value every (non-mmio) simulated zone is dispatched as. */
static void books_open(const laptop_t *l, books_t *b) {
  memset(b, 0, sizeof(*b));
  for (size_t i = 0; i < sim_zone_count(l->sim); i++) {
    if (sim_zone_is_mmio(l->sim, i))
      continue;
    const char *name = sim_zone_name(l->sim, i);
    snprintf(b->zone[i], sizeof(b->zone[i]), "%s",
             sim_zone_parent_name(l->sim, i));
    snprintf(b->domain[i], sizeof(b->domain[i]), "%s",
             sim_zone_is_subzone(l->sim, i) ? name
             : strcmp(name, "psys") == 0    ? "psys"
                                            : "package");
    const rapl_value_t *e =
        find(l, RAPL_VALUE_ENERGY, b->zone[i], b->domain[i]);
    ck_assert_msg(e != NULL, "%s/%s: no energy value", b->zone[i], b->domain[i]);
    b->joules_before[i] = e->joules;
  }
}

/* After the read that follows a resume: every zone's energy grew by what
 * it used (asleep and awake), and its power is that energy over the whole
 * time since the previous read, sleep included. The tolerances: a power is
 * Δenergy_uj / Δt exactly, and energy_uj shows the energy in 61035 nJ
 * ticks truncated to µJ, so a power is off the truth by less than one tick
 * and a µJ over Δt (2 nW after 8 h); the joules are the floor of the exact
 * total (SPEC 3), less than 1 J behind the truth at either end. */
static void check_resume(const laptop_t *l, const books_t *b,
                         const uint64_t truth_before[16],
                         uint64_t interval_ns, const char *what) {
  char report[4096] = "";
  size_t used = 0;
  bool ok = true;
  for (size_t i = 0; i < sim_zone_count(l->sim); i++) {
    if (sim_zone_is_mmio(l->sim, i))
      continue;
    double used_j =
        (double)(sim_zone_truth_nj(l->sim, i) - truth_before[i]) / 1e9;
    double expect_w = used_j / ((double)interval_ns / 1e9);
    /* one counter tick and the µJ truncation of energy_uj, over Δt */
    double tick_w = (double)(sim_zone_unit_nj(l->sim, i) + 1000) / 1e9 /
                    ((double)interval_ns / 1e9);
    const rapl_value_t *e = find(l, RAPL_VALUE_ENERGY, b->zone[i], b->domain[i]);
    const rapl_value_t *p = find(l, RAPL_VALUE_POWER, b->zone[i], b->domain[i]);
    double grew_j = e ? (double)e->joules - (double)b->joules_before[i] : NAN;
    bool zone_ok = e != NULL && p != NULL && fabs(grew_j - used_j) < 1.001 &&
                   fabs(p->value - expect_w) <= tick_w;
    ok = ok && zone_ok;
    used += (size_t)snprintf(
        report + used, sizeof(report) - used,
        "  %s %s/%s: energy grew %.0f J (used %.3f J), power %.6f W "
        "(expected %.6f W: the average over the sleep and the interval)\n",
        zone_ok ? "ok " : "BAD", b->zone[i], b->domain[i], grew_j, used_j,
        p ? p->value : NAN, expect_w);
  }
  size_t resets = log_count("treated as a counter reset");
  printf("%s:\n%s  reset warnings: %zu\n", what, report, resets);
  fflush(stdout);
  ck_assert_msg(ok && resets == 0, "%s:\n%s  reset warnings: %zu\n%s", what,
                report, resets, log_text());
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(rapl_clock_counts_time_asleep) {
  clocks_start();
  uint64_t before = rapl_clock_ns();
  awake_ns += 10 * SEC;
  slept_ns += 8 * HOUR;
  uint64_t after = rapl_clock_ns();
  clocks_stop();
  printf("rapl_clock_ns advanced %.3f s over 10 s awake + 8 h asleep\n",
         (double)(after - before) / 1e9);
  fflush(stdout);
  ck_assert_msg(after - before == 8 * HOUR + 10 * SEC,
                "rapl_clock_ns advanced %.3f s over 10 s awake and 8 h "
                "asleep: it must count the sleep (CLOCK_BOOTTIME)",
                (double)(after - before) / 1e9);
}
END_TEST

/* Runs 10 s, sleeps `hours` at psys_w, resumes, runs 10 s, reads. */
static void sleep_and_resume(uint64_t hours, double psys_w, const char *what) {
  laptop_t l;
  laptop_start(&l);
  laptop_read(&l); /* baseline */
  laptop_run(&l, 10);
  laptop_read(&l);
  /* awake: psys at its own 20 W */
  const rapl_value_t *p = find(&l, RAPL_VALUE_POWER, "psys", "psys");
  ck_assert_ptr_nonnull(p);
  ck_assert_double_eq_tol(p->value, 20.0, 0.001);
  books_t b;
  books_open(&l, &b);
  uint64_t truth_before[16], before_ns = l.read_ns;
  memcpy(truth_before, l.truth_nj, sizeof(truth_before));
  laptop_sleep(&l, hours, psys_w);
  laptop_run(&l, 10);
  laptop_read(&l);
  check_resume(&l, &b, truth_before, l.read_ns - before_ns, what);
  /* and the next interval is an ordinary one again */
  laptop_run(&l, 10);
  laptop_read(&l);
  p = find(&l, RAPL_VALUE_POWER, "psys", "psys");
  ck_assert_ptr_nonnull(p);
  ck_assert_double_eq_tol(p->value, 20.0, 0.001);
  laptop_stop(&l);
}

START_TEST(eight_hours_asleep_at_half_a_watt) {
  sleep_and_resume(8, 0.5, "8 h asleep at 0.5 W psys, then 10 s at 20 W");
}
END_TEST

START_TEST(two_days_asleep_is_not_a_counter_reset) {
  sleep_and_resume(48, 0.6, "48 h asleep at 0.6 W psys, then 10 s at 20 W");
}
END_TEST

int main(void) {
  Suite *s = suite_create("clock");
  TCase *tc = tcase_create("clock");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rapl_clock_counts_time_asleep);
  tcase_add_test(tc, eight_hours_asleep_at_half_a_watt);
  tcase_add_test(tc, two_days_asleep_is_not_a_counter_reset);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
