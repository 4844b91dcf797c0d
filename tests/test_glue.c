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
#include <stdbool.h>
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

/* ---- ConfigFile: the block wins, whatever its order (SPEC 2, 5) --------- */

/* A <Plugin rapl> block built option by option; <MSR> is children[7]. */
typedef struct {
  oconfig_item_t block;
  oconfig_item_t children[8];
  oconfig_value_t values[8];
  oconfig_item_t msr_children[4];
  oconfig_value_t msr_values[4];
} block_t;

static void block_init(block_t *b) {
  memset(b, 0, sizeof(*b));
  b->block.key = "Plugin";
  b->block.children = b->children;
}

static oconfig_item_t *block_add(block_t *b, const char *key) {
  ck_assert_int_lt(b->block.children_num, 8);
  oconfig_item_t *item = &b->children[b->block.children_num];
  item->key = (char *)key;
  item->values = &b->values[b->block.children_num++];
  return item;
}

static void block_string(block_t *b, const char *key, const char *value) {
  oconfig_item_t *item = block_add(b, key);
  item->values_num = 1;
  item->values[0].type = OCONFIG_TYPE_STRING;
  item->values[0].value.string = (char *)value;
}

static void block_boolean(block_t *b, const char *key, bool value) {
  oconfig_item_t *item = block_add(b, key);
  item->values_num = 1;
  item->values[0].type = OCONFIG_TYPE_BOOLEAN;
  item->values[0].value.boolean = value;
}

/* <MSR> Enabled value </MSR> */
static void block_msr_enabled(block_t *b, bool value) {
  oconfig_item_t *msr = block_add(b, "MSR");
  msr->values = NULL;
  msr->children = b->msr_children;
  msr->children_num = 1;
  b->msr_children[0].key = "Enabled";
  b->msr_children[0].values = &b->msr_values[0];
  b->msr_children[0].values_num = 1;
  b->msr_values[0].type = OCONFIG_TYPE_BOOLEAN;
  b->msr_values[0].value.boolean = value;
}

static char *write_yaml(const char *dir, const char *yaml) {
  char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/kepler.yaml", dir), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(yaml, f);
  ck_assert_int_eq(fclose(f), 0);
  return path;
}

/* Configures with `b`, starts, reads twice 10 s apart; 0 or the config
 * callback's failure. */
static int run_block(sim_machine_t *m, block_t *b) {
  fake_reset();
  fake_interval = TIME_T_TO_CDTIME_T(10);
  module_register();
  if (fake_config_cb(&b->block) != 0)
    return -1;
  ck_assert_int_eq(fake_init_cb(), 0);
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  ck_assert_int_eq(sim_advance_ns(m, 10 * SEC), 0);
  fake_now_ns += 10 * SEC;
  ck_assert_int_eq(fake_read_cb(&fake_read_ud), 0);
  return 0;
}

/* The file points SysfsPath at nothing and keeps only DRAM; the block's
 * SysfsPath wins whether it comes before or after ConfigFile, and the
 * file's zones, which the block does not set, apply. */
START_TEST(block_wins_over_config_file_in_either_order) {
  char *root, sysfs[4096];
  sim_machine_t *m = sim_start("xeon-2s", &root);
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  char *yaml = write_yaml(root, "host:\n  sysfs: /nonexistent/sys\n"
                                "rapl:\n  zones: [dram]\n");
  for (int order = 0; order < 2; order++) {
    block_t b;
    block_init(&b);
    if (order == 0)
      block_string(&b, "SysfsPath", sysfs);
    block_string(&b, "ConfigFile", yaml);
    if (order == 1)
      block_string(&b, "SysfsPath", sysfs);
    ck_assert_msg(run_block(m, &b) == 0, "order %d: %s", order, fake_log_text());
    ck_assert_msg(last_value("rapl-package-0/power-dram") != NULL,
                  "order %d: no DRAM power: %s", order, fake_log_text());
    ck_assert_msg(last_value("rapl-package-0/power-package") == NULL,
                  "order %d: the file's zones were not applied", order);
    stop_plugin();
  }
  /* the same setting in both: Zones from the block, in either order */
  char *yaml2 = write_yaml(root, "host:\n  sysfs: /nonexistent/sys\n"
                                 "rapl:\n  zones: [dram]\n");
  for (int order = 0; order < 2; order++) {
    block_t b;
    block_init(&b);
    block_string(&b, "SysfsPath", sysfs);
    if (order == 0)
      block_string(&b, "Zones", "package");
    block_string(&b, "ConfigFile", yaml2);
    if (order == 1)
      block_string(&b, "Zones", "package");
    ck_assert_msg(run_block(m, &b) == 0, "order %d: %s", order, fake_log_text());
    ck_assert_msg(last_value("rapl-package-0/power-package") != NULL,
                  "order %d: no package power: %s", order, fake_log_text());
    ck_assert_msg(last_value("rapl-package-0/power-dram") == NULL,
                  "order %d: the file's zones won over the block's", order);
    stop_plugin();
  }
  free(yaml2);
  free(yaml);
  sim_stop(m, root);
}
END_TEST

/* The file enables and forces MSR; the block's <MSR> Enabled false wins,
 * in either order, and the merged configuration is checked: Force (from
 * the file) without Enabled (the block said no) is refused. */
START_TEST(block_msr_enabled_false_wins_and_merge_is_checked) {
  char *dir = make_temp_dir("glue-msr");
  char *yaml = write_yaml(dir, "msr:\n  enabled: true\n  force: true\n");
  for (int order = 0; order < 2; order++) {
    block_t b;
    block_init(&b);
    if (order == 0)
      block_msr_enabled(&b, false);
    block_string(&b, "ConfigFile", yaml);
    if (order == 1)
      block_msr_enabled(&b, false);
    fake_reset();
    module_register();
    ck_assert_int_eq(fake_config_cb(&b.block), -1);
    ck_assert_msg(fake_log_count("MSR: Force true needs Enabled true") == 1,
                  "order %d: %s", order, fake_log_text());
  }
  /* the file alone: accepted */
  block_t b;
  block_init(&b);
  block_string(&b, "ConfigFile", yaml);
  fake_reset();
  module_register();
  ck_assert_msg(fake_config_cb(&b.block) == 0, "%s", fake_log_text());
  free(yaml);
  rm_tree(dir);
  free(dir);
}
END_TEST

/* A file error is one ERROR line naming ConfigFile, the file, line and
 * column; a later start without ConfigFile does not read the file. */
START_TEST(config_file_error_is_one_line_with_position) {
  char *dir = make_temp_dir("glue-bad");
  char *yaml = write_yaml(dir, "host:\n  sysfs: [x]\n");
  block_t b;
  block_init(&b);
  block_string(&b, "ConfigFile", yaml);
  fake_reset();
  module_register();
  ck_assert_int_eq(fake_config_cb(&b.block), -1);
  char expected[4200];
  snprintf(expected, sizeof(expected),
           "rapl plugin: ConfigFile: %s:2:10: host.sysfs: expected a string",
           yaml);
  ck_assert_msg(fake_log_count(expected) == 1, "%s", fake_log_text());
  ck_assert_uint_eq(fake_log_count("rapl plugin:"), 1);
  block_init(&b);
  block_boolean(&b, "Total", true);
  fake_reset();
  module_register();
  ck_assert_msg(fake_config_cb(&b.block) == 0, "%s", fake_log_text());
  free(yaml);
  rm_tree(dir);
  free(dir);
}
END_TEST

/* ActiveIdle and HwmonChips are options now: accepted, and checked. */
START_TEST(active_idle_and_hwmon_chips_are_options) {
  block_t b;
  block_init(&b);
  block_boolean(&b, "ActiveIdle", false);
  oconfig_item_t *chips = block_add(&b, "HwmonChips");
  static oconfig_value_t names[2] = {
      {.value.string = "apm_xgene", .type = OCONFIG_TYPE_STRING},
      {.value.string = "ina3221", .type = OCONFIG_TYPE_STRING}};
  chips->values = names;
  chips->values_num = 2;
  fake_reset();
  module_register();
  ck_assert_msg(fake_config_cb(&b.block) == 0, "%s", fake_log_text());
  /* a name longer than a chip name can be */
  char long_name[100];
  memset(long_name, 'x', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  block_init(&b);
  block_string(&b, "HwmonChips", long_name);
  fake_reset();
  module_register();
  ck_assert_int_eq(fake_config_cb(&b.block), -1);
  ck_assert_msg(fake_log_count("HwmonChips: \"xxxx") == 1, "%s", fake_log_text());
  ck_assert_msg(fake_log_count("is not a hwmon chip name") == 1, "%s",
                fake_log_text());
}
END_TEST

/* Cgroups (SPEC 9): a bad glob refuses the configuration; with Cgroups
 * set, a CgroupPath that is not a cgroup v2 root fails init, naming it. */
START_TEST(cgroups_options_are_checked_at_config_and_init) {
  block_t b;
  block_init(&b);
  block_string(&b, "Cgroups", "/sys/fs/cgroup/system.slice");
  fake_reset();
  module_register();
  ck_assert_int_eq(fake_config_cb(&b.block), -1);
  ck_assert_msg(fake_log_count("Cgroups: \"/sys/fs/cgroup/system.slice\": "
                               "expected a glob relative to CgroupPath") == 1,
                "%s", fake_log_text());
  ck_assert_uint_eq(fake_log_count("rapl plugin: "), 1); /* one line */

  char *dir = make_temp_dir("glue-cgroup");
  char v2[4200];
  block_init(&b);
  block_string(&b, "CgroupPath", dir); /* no cgroup.controllers: v1-like */
  block_string(&b, "Cgroups", "system.slice/*.service");
  fake_reset();
  module_register();
  ck_assert_msg(fake_config_cb(&b.block) == 0, "%s", fake_log_text());
  ck_assert_int_eq(fake_init_cb(), -1);
  snprintf(v2, sizeof(v2),
           "CgroupPath: %s is not a cgroup v2 hierarchy (no "
           "cgroup.controllers; cgroup v1 is not supported)",
           dir);
  ck_assert_msg(fake_log_count(v2) == 1, "%s", fake_log_text());
  ck_assert_int_eq(fake_read_registrations, 0);

  /* without Cgroups, CgroupPath is not even looked at */
  snprintf(v2, sizeof(v2), "%s/nowhere", dir);
  block_init(&b);
  block_string(&b, "CgroupPath", v2);
  fake_reset();
  fake_read_registrations = 0;
  module_register();
  ck_assert_msg(fake_config_cb(&b.block) == 0, "%s", fake_log_text());
  ck_assert_int_eq(fake_init_cb(), 0);
  ck_assert_uint_eq(fake_log_count("CgroupPath"), 0);
  fake_free_read();
  ck_assert_int_eq(fake_shutdown_cb(), 0);
  rm_tree(dir);
  free(dir);
}
END_TEST

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
  tcase_add_test(tc, block_wins_over_config_file_in_either_order);
  tcase_add_test(tc, block_msr_enabled_false_wins_and_merge_is_checked);
  tcase_add_test(tc, config_file_error_is_one_line_with_position);
  tcase_add_test(tc, active_idle_and_hwmon_chips_are_options);
  tcase_add_test(tc, cgroups_options_are_checked_at_config_and_init);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
