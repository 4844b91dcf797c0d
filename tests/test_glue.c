/* test_glue.c - src/rapl.c driven in-process by a fake collectd
 * (fake_collectd.c) and a clock the test moves: config, init, read,
 * shutdown; sub-interval sampling at long intervals; a meter that appears
 * after start; 1000 init/read/shutdown cycles without a leaked byte or
 * descriptor. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_collectd.h"
#include "testutil.h"

void module_register(void); /* rapl.c */

#define SEC UINT64_C(1000000000)

/* <Plugin rapl> with SysfsPath = root/sys (and more string options). */
typedef struct {
  oconfig_item_t block;
  oconfig_item_t children[4];
  oconfig_value_t values[4];
} conf_t;

static void conf_init(conf_t *c, const char *sysfs) {
  memset(c, 0, sizeof(*c));
  c->block.key = "Plugin";
  c->block.children = c->children;
  c->children[0].key = "SysfsPath";
  c->children[0].values = &c->values[0];
  c->children[0].values_num = 1;
  c->values[0].type = OCONFIG_TYPE_STRING;
  c->values[0].value.string = (char *)sysfs;
  c->block.children_num = 1;
}

/* module_register, config, init: the daemon's start. */
static void start_plugin(const char *sysfs, cdtime_t interval) {
  fake_interval = interval;
  fake_read_registrations = 0;
  module_register();
  conf_t conf;
  conf_init(&conf, sysfs);
  ck_assert_int_eq(fake_config_cb(&conf.block), 0);
  ck_assert_int_eq(fake_init_cb(), 0);
  ck_assert_int_eq(fake_read_registrations, 1);
}

static void stop_plugin(void) {
  fake_free_read(); /* collectd frees read user data... */
  ck_assert_int_eq(fake_shutdown_cb(), 0); /* ...and calls shutdown */
}

static const fake_value_t *last_value(const char *id) {
  for (size_t i = fake_value_count; i-- > 0;)
    if (strcmp(fake_values[i].id, id) == 0)
      return &fake_values[i];
  return NULL;
}

static size_t count_values(const char *id) {
  size_t n = 0;
  for (size_t i = 0; i < fake_value_count; i++)
    n += strcmp(fake_values[i].id, id) == 0;
  return n;
}

START_TEST(dispatches_spec_identifiers) {
  char *root, sysfs[4096];
  fake_reset();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  start_plugin(sysfs, TIME_T_TO_CDTIME_T(10));
  ck_assert(fake_read_interval == TIME_T_TO_CDTIME_T(10));
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  ck_assert_int_eq(sim_advance_ns(m, 10 * SEC), 0);
  fake_now_ns += 10 * SEC;
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  const fake_value_t *p = last_value("rapl-package-0/power-package");
  ck_assert_ptr_nonnull(p);
  ck_assert_double_eq_tol(p->value, 120.0, 0.01);
  ck_assert(p->interval == TIME_T_TO_CDTIME_T(10));
  ck_assert_ptr_nonnull(last_value("rapl-package-1/derive-dram"));
  ck_assert_ptr_nonnull(last_value("rapl-total/power-dram"));
  const fake_value_t *g = last_value("rapl/gauge-meter-rapl-powercap");
  ck_assert_ptr_nonnull(g);
  ck_assert_double_eq(g->value, 1.0);
  /* every value of one read carries one timestamp */
  for (size_t i = fake_value_count - 13; i < fake_value_count; i++)
    ck_assert(fake_values[i].time == g->time);
  stop_plugin();
  sim_stop(m, root);
}
END_TEST

/* Interval 3600 on a machine whose DRAM counter (65.7 kJ) wraps every
 * 329 s at 200 W, 11 times an hour: the plugin samples every 3600/220 =
 * 16.4 s (half the wrap time at the 2 kW cap) and dispatches once an
 * hour, with every joule. */
START_TEST(long_interval_loses_no_wrap) {
  char *root, sysfs[4096];
  fake_reset();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  size_t dram = sim_find(m, "package-0", "dram");
  sim_zone_set_power_uw(m, dram, 200000000);
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  start_plugin(sysfs, TIME_T_TO_CDTIME_T(3600));
  uint64_t step_ns = CDTIME_T_TO_NS(fake_read_interval);
  ck_assert_msg(step_ns < 16500000000ull && step_ns > 16000000000ull,
                "sampling every %llu ns", (unsigned long long)step_ns);
  ck_assert_uint_eq(fake_log_count("sampling every 16.36 s, dispatching every 3600 s"), 1);
  uint64_t sampled_ns = 0;
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0); /* baseline, dispatched */
  ck_assert_uint_eq(count_values("rapl-package-0/derive-dram"), 1);
  for (int hour = 1; hour <= 3; hour++) {
    for (int k = 0; k < 220; k++) {
      ck_assert_int_eq(sim_advance_ns(m, step_ns), 0);
      fake_now_ns += step_ns;
      sampled_ns += step_ns;
      ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
    }
    ck_assert_uint_eq(count_values("rapl-package-0/derive-dram"), 1 + (size_t)hour);
  }
  double truth_j = (double)sim_zone_truth_nj(m, dram) / 1e9;
  const fake_value_t *e = last_value("rapl-package-0/derive-dram");
  const fake_value_t *p = last_value("rapl-package-0/power-dram");
  printf("interval 3600 s, DRAM at 200 W: %.0f J dispatched, %.3f J simulated, "
         "%d wraps of 65.7 kJ\n", e->value, truth_j, (int)(truth_j / 65713));
  ck_assert_double_eq_tol(e->value, truth_j, 1.0);
  ck_assert_double_eq_tol(p->value, 200.0, 0.01);
  ck_assert(p->interval == TIME_T_TO_CDTIME_T(3600));
  ck_assert_uint_eq(fake_log_count("reset"), 0);
  stop_plugin();
  sim_stop(m, root);
}
END_TEST

START_TEST(meters_that_appear_later_are_used) {
  char *root = make_temp_dir("late"), sysfs[4096];
  fake_reset();
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  start_plugin(sysfs, TIME_T_TO_CDTIME_T(10));
  for (int i = 0; i < 5; i++) { /* collectd would back off; we just retry */
    ck_assert_int_eq(fake_read_cb(&fake_read_ud), -1);
    fake_now_ns += 10 * SEC;
  }
  ck_assert_uint_eq(fake_log_count("no energy source available"), 1);
  ck_assert_uint_eq(fake_value_count, 0);
  /* the module is loaded: the tree appears */
  char err[1024], path[4096];
  sim_machine_t *m = sim_load_file(machine_path("xeon-2s", path, sizeof(path)),
                                   err, sizeof(err));
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(sim_build(m, root), 0);
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  ck_assert_ptr_nonnull(last_value("rapl-package-0/derive-package"));
  ck_assert_int_eq(sim_advance_ns(m, 10 * SEC), 0);
  fake_now_ns += 10 * SEC;
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  ck_assert_double_eq_tol(last_value("rapl-package-0/power-package")->value,
                          120.0, 0.01);
  stop_plugin();
  sim_free(m);
  rm_tree(root);
  free(root);
}
END_TEST

/* A source found after init whose counters wrap sooner than the default
 * sampling period assumes re-registers the read callback with its own
 * safe period (here a 20 kJ range: a wrap every 10 s at the 2 kW cap). */
START_TEST(late_source_with_a_faster_wrap_reregisters) {
  char *root = make_temp_dir("late-fast"), sysfs[4096];
  fake_reset();
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  start_plugin(sysfs, TIME_T_TO_CDTIME_T(60));
  ck_assert(fake_read_interval == TIME_T_TO_CDTIME_T(15)); /* 60 s / 4 */
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), -1);
  char err[1024], path[4096];
  sim_machine_t *m = sim_load_file(machine_path("xeon-2s", path, sizeof(path)),
                                   err, sizeof(err));
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(sim_build(m, root), 0);
  size_t dram = sim_find(m, "package-0", "dram");
  ck_assert_int_eq(sim_zone_set_range(m, dram, SIM_RANGE_VALUE,
                                      UINT64_C(20000000000)), 0);
  fake_now_ns += 15 * SEC;
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  ck_assert_int_eq(fake_read_registrations, 2);
  ck_assert_int_eq(fake_read_unregistrations, 1);
  ck_assert_msg(fake_read_interval == TIME_T_TO_CDTIME_T(5),
                "re-registered at %.3f s", CDTIME_T_TO_DOUBLE(fake_read_interval));
  ck_assert_ptr_nonnull(fake_read_cb);
  /* the new registration reads and dispatches every 12th read */
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  ck_assert_ptr_nonnull(last_value("rapl-package-0/derive-package"));
  stop_plugin();
  sim_free(m);
  rm_tree(root);
  free(root);
}
END_TEST

/* collectd 5.12 frees the read callback's user data itself when the
 * registration fails; the plugin must not free it (and close its
 * descriptors) a second time. */
START_TEST(failed_registration_frees_once) {
  char *root, sysfs[4096];
  fake_reset();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  fake_interval = TIME_T_TO_CDTIME_T(10);
  module_register();
  conf_t conf;
  conf_init(&conf, sysfs);
  ck_assert_int_eq(fake_config_cb(&conf.block), 0);
  fake_register_read_status = EINVAL;
  ck_assert_int_eq(fake_init_cb(), -1); /* a source is open by now */
  fake_register_read_status = 0;
  ck_assert_int_ge(fake_sentinel_fd, 0);
  ck_assert_msg(fcntl(fake_sentinel_fd, F_GETFD) >= 0,
                "descriptor %d, opened after collectd freed the user data, "
                "was closed by the plugin: a second free of its source",
                fake_sentinel_fd);
  ck_assert_uint_eq(fake_log_count("registering the read callback failed"), 1);
  close(fake_sentinel_fd);
  ck_assert_int_eq(fake_shutdown_cb(), 0);
  sim_stop(m, root);
}
END_TEST

static size_t open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  size_t n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

START_TEST(thousand_cycles_leak_nothing) {
  char *root, sysfs[4096];
  sim_machine_t *m = sim_start("xeon-2s", &root);
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  size_t fds_before = 0, bytes_before = 0;
  /* glibc counts chunks parked in its per-thread cache (up to 7 per size)
   * as in use, so the baseline is taken once that has filled: after 10
   * warm-up cycles. Then 1000 more must not move it by one byte. */
  for (int cycle = 0; cycle < 1010; cycle++) {
    fake_reset();
    start_plugin(sysfs, TIME_T_TO_CDTIME_T(10));
    ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
    fake_now_ns += 10 * SEC;
    ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
    stop_plugin();
    fake_reset();
    if (cycle == 9) {
      fds_before = open_fds();
      bytes_before = mallinfo2().uordblks;
    }
  }
  size_t fds_after = open_fds(), bytes_after = mallinfo2().uordblks;
  printf("1000 init/read/shutdown cycles: %zu -> %zu descriptors, %zu -> %zu "
         "heap bytes in use\n", fds_before, fds_after, bytes_before, bytes_after);
  ck_assert_uint_eq(fds_after, fds_before);
  ck_assert_uint_eq(bytes_after, bytes_before);
  sim_stop(m, root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("glue");
  TCase *tc = tcase_create("glue");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, dispatches_spec_identifiers);
  tcase_add_test(tc, long_interval_loses_no_wrap);
  tcase_add_test(tc, meters_that_appear_later_are_used);
  tcase_add_test(tc, thousand_cycles_leak_nothing);
  tcase_add_test(tc, failed_registration_frees_once);
  tcase_add_test(tc, late_source_with_a_faster_wrap_reregisters);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
