/*
 * test_sim_hwmon.c - the simulator's hwmon chips and /proc/stat
 * (contrib/sim/sim_hwmon.c, sim_stat.c): each shipped hwmon machine is
 * loaded, built, advanced, and its files compared with the truth.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return strdup(buf);
}

/* ROOT/sys/class/hwmon/<hwmon>/<rel> as text, "" if unreadable */
static char *hw_read(const char *root, const char *hwmon, const char *rel) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/%s/%s", root, hwmon, rel);
  char *s = slurp(path);
  return s != NULL ? s : strdup("");
}

static uint64_t hw_u64(const char *root, const char *hwmon, const char *rel) {
  char *s = hw_read(root, hwmon, rel);
  ck_assert_msg(s[0] != '\0', "%s/%s unreadable", hwmon, rel);
  uint64_t v = strtoull(s, NULL, 10);
  free(s);
  return v;
}

static size_t find(const sim_machine_t *m, const char *hwmon,
                   const char *chan) {
  size_t ch = 0;
  ck_assert_msg(sim_hwmon_find(m, hwmon, chan, &ch) == 0, "no %s %s", hwmon,
                chan);
  return ch;
}

START_TEST(xgene_power_channels_and_links) {
  char *root;
  sim_machine_t *m = sim_start("xgene-arm", &root);
  ck_assert_uint_eq(sim_hwmon_chip_count(m), 2);
  char *s = hw_read(root, "hwmon0", "name");
  ck_assert_str_eq(s, "apm_xgene\n");
  free(s);
  s = hw_read(root, "hwmon1", "name");
  ck_assert_str_eq(s, "nvme\n");
  free(s);
  s = hw_read(root, "hwmon0", "power1_label");
  ck_assert_str_eq(s, "CPU power\n");
  free(s);
  s = hw_read(root, "hwmon0", "power2_label");
  ck_assert_str_eq(s, "IO power\n");
  free(s);
  char path[PATH_MAX], link[PATH_MAX];
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon0", root);
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  ck_assert_int_gt(n, 0);
  link[n] = '\0';
  ck_assert_str_eq(link, "../../devices/platform/APMC0D29:00/hwmon/hwmon0");
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon0/device", root);
  n = readlink(path, link, sizeof(link) - 1);
  ck_assert_int_gt(n, 0);
  link[n] = '\0';
  ck_assert_str_eq(link, "../../../APMC0D29:00");
  struct stat st;
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon0/device/hwmon",
           root);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "power1_input"), 16280000);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "power2_input"), 31900000);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "temp1_input"), 35000);
  ck_assert_uint_eq(hw_u64(root, "hwmon1", "power1_input"), 5500000);
  size_t cpu = find(m, "hwmon0", "power1");
  ck_assert_int_eq(sim_advance_ns(m, 10000000000ULL), 0);
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, cpu), 162800000000ULL);
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, find(m, "hwmon0", "power2")),
                    319000000000ULL);
  /* a ramp: 16.28 W -> 26.28 W over 10 s, then constant */
  ck_assert_int_eq(sim_hwmon_ramp(m, cpu, 26280000, 10000000000ULL), 0);
  ck_assert_int_eq(sim_advance_ns(m, 5000000000ULL), 0);
  ck_assert_uint_eq(sim_hwmon_power_uw(m, cpu), 21280000);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "power1_input"), 21280000);
  ck_assert_int_eq(sim_advance_ns(m, 10000000000ULL), 0);
  ck_assert_uint_eq(sim_hwmon_power_uw(m, cpu), 26280000);
  /* 10 s at 16.28 + ramp 10 s averaging 21.28 + 5 s at 26.28 */
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, cpu),
                    162800000000ULL + 212800000000ULL + 131400000000ULL);
  ck_assert_int_eq(sim_hwmon_set_power_uw(m, cpu, 1000000), 0);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "power1_input"), 1000000);
  /* /proc/stat without a cpu: section */
  ck_assert_uint_eq(sim_stat_cpu_count(m), 8);
  snprintf(path, sizeof(path), "%s/proc/stat", root);
  char *text = slurp(path);
  ck_assert_ptr_nonnull(text);
  ck_assert_ptr_nonnull(strstr(text, "\ncpu7 "));
  ck_assert_ptr_null(strstr(text, "\ncpu8 "));
  free(text);
  /* 25 s = 2500 ticks, each field floored on its own (as the kernel's
   * nsec_to_clock_t per field) */
  ck_assert_uint_ge(sim_stat_total_ticks(m, 3), 2498);
  ck_assert_uint_le(sim_stat_total_ticks(m, 3), 2500);
  ck_assert_uint_ge(sim_stat_busy_ticks(m, 3), 624);
  ck_assert_uint_le(sim_stat_busy_ticks(m, 3), 625);
  sim_stop(m, root);
}
END_TEST

START_TEST(amd_energy_counters_modes_and_stat) {
  char *root;
  sim_machine_t *m = sim_start("epyc-amd-energy-2s", &root);
  ck_assert_uint_eq(sim_hwmon_channel_count(m), 10);
  char fname[64];
  for (unsigned i = 1; i <= 10; i++) {
    snprintf(fname, sizeof(fname), "energy%u_label", i);
    char *s = hw_read(root, "hwmon0", fname);
    char want[32];
    if (i <= 8)
      snprintf(want, sizeof(want), "Ecore%03u\n", i - 1);
    else
      snprintf(want, sizeof(want), "Esocket%u\n", i - 9);
    ck_assert_str_eq(s, want);
    free(s);
    /* Ecore<c> is CPU c's core: its package is CPU c's */
    if (i <= 8)
      ck_assert_int_eq(sim_cpu_package(m, i - 1), (i - 1) / 4);
  }
  char path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon0/energy9_input",
           root);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 07777, 0440);
  size_t s0 = find(m, "hwmon0", "energy9");
  ck_assert_uint_eq(sim_hwmon_energy_uj(m, s0), 123456789);
  ck_assert_int_eq(sim_advance_ns(m, 2000000000ULL), 0);
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, s0), 190000000000ULL);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "energy9_input"),
                    123456789ULL + 190000000ULL);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "energy8_input"), 1000000);
  /* /proc/stat: busy 0.9 on package 0, 0.05 on package 1 */
  ck_assert_uint_eq(sim_stat_total_ticks(m, 0), 200);
  ck_assert_uint_eq(sim_stat_busy_ticks(m, 0), 180);
  ck_assert_uint_eq(sim_stat_busy_ticks(m, 8), 180);  /* sibling, pkg 0 */
  ck_assert_uint_ge(sim_stat_busy_ticks(m, 12), 9);   /* pkg 1 */
  ck_assert_uint_le(sim_stat_busy_ticks(m, 12), 10);
  snprintf(path, sizeof(path), "%s/proc/stat", root);
  char *text = slurp(path);
  ck_assert_ptr_nonnull(strstr(text, "cpu0 135 0 45 20 0 0 0 0 0 0\n"));
  ck_assert_msg(strncmp(text, "cpu  ", 5) == 0, "%s", text);
  /* the cpu line sums the cpuN lines: 16 CPUs x 200 ticks, at most one
   * tick per field lost to flooring */
  unsigned long long u, n, sy, id, w;
  ck_assert_int_eq(sscanf(text, "cpu %llu %llu %llu %llu %llu", &u, &n, &sy,
                          &id, &w), 5);
  ck_assert_uint_ge(u + n + sy + id + w, 16 * 200 - 16 * 2);
  ck_assert_uint_le(u + n + sy + id + w, 16 * 200);
  free(text);
  ck_assert_int_eq(sim_cpu_set_busy(m, 5, 1.0), 0);
  uint64_t t13 = sim_stat_total_ticks(m, 13);
  ck_assert_int_eq(sim_cpu_set_online(m, 13, 0), 0);
  ck_assert_int_eq(sim_advance_ns(m, 1000000000ULL), 0);
  ck_assert_uint_ge(sim_stat_busy_ticks(m, 5), 109); /* 10 + 100 */
  ck_assert_uint_le(sim_stat_busy_ticks(m, 5), 110);
  ck_assert_uint_eq(sim_stat_total_ticks(m, 13), t13); /* stood still */
  text = slurp(path);
  ck_assert_ptr_null(strstr(text, "\ncpu13 "));
  ck_assert_ptr_nonnull(strstr(text, "\ncpu12 "));
  free(text);
  snprintf(path, sizeof(path),
           "%s/sys/devices/system/cpu/cpu12/topology/physical_package_id",
           root);
  text = slurp(path);
  ck_assert_str_eq(text, "1\n");
  free(text);
  sim_stop(m, root);
}
END_TEST

START_TEST(acpi_power_meter_layout_enable_sentinel) {
  char *root;
  sim_machine_t *m = sim_start("acpi-power-meter", &root);
  char path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon0/name", root);
  ck_assert_int_ne(stat(path, &st), 0); /* no name in hwmonN itself */
  char *s = hw_read(root, "hwmon0", "device/name");
  ck_assert_str_eq(s, "power_meter\n");
  free(s);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "device/power1_average"),
                    250000000);
  s = hw_read(root, "hwmon0", "device/power1_accuracy");
  ck_assert_str_eq(s, "95.0%\n");
  free(s);
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon0/device/power1_input",
           root);
  ck_assert_int_ne(stat(path, &st), 0);
  s = hw_read(root, "hwmon1", "power1_enable");
  ck_assert_str_eq(s, "0\n");
  free(s);
  s = hw_read(root, "hwmon2", "name");
  ck_assert_str_eq(s, "amdgpu\n");
  free(s);
  size_t pm = find(m, "hwmon0", "power1");
  ck_assert_int_eq(sim_hwmon_set_sentinel(m, pm, 1), 0);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "device/power1_average"),
                    4294967295000ULL);
  ck_assert_int_eq(sim_advance_ns(m, 1000000000ULL), 0);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "device/power1_average"),
                    4294967295000ULL);
  ck_assert_int_eq(sim_hwmon_set_sentinel(m, pm, 0), 0);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "device/power1_average"),
                    250000000);
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, pm), 250000000000ULL);
  ck_assert_int_eq(sim_hwmon_set_enable(m, find(m, "hwmon1", "power1"), 1), 0);
  s = hw_read(root, "hwmon1", "power1_enable");
  ck_assert_str_eq(s, "1\n");
  free(s);
  sim_stop(m, root);
}
END_TEST

START_TEST(ina3221_voltage_current) {
  char *root;
  sim_machine_t *m = sim_start("ina3221-board", &root);
  char *s = hw_read(root, "hwmon0", "in1_label");
  ck_assert_str_eq(s, "VDD_IN\n");
  free(s);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "in1_input"), 5000);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "curr1_input"), 1600);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "in1_enable"), 1);
  ck_assert_uint_eq(hw_u64(root, "hwmon1", "in1_average"), 1100);
  ck_assert_uint_eq(hw_u64(root, "hwmon1", "curr1_average"), 900);
  ck_assert_uint_eq(hw_u64(root, "hwmon1", "curr1_input"), 900);
  s = hw_read(root, "hwmon1", "curr1_label");
  ck_assert_str_eq(s, "VDD_DDR\n");
  free(s);
  size_t c1 = find(m, "hwmon0", "curr1");
  ck_assert_int_eq(sim_hwmon_set_value(m, c1, 2000), 0);
  ck_assert_uint_eq(hw_u64(root, "hwmon0", "curr1_input"), 2000);
  ck_assert_int_eq(sim_hwmon_set_power_uw(m, c1, 1), -EINVAL);
  ck_assert_uint_eq(sim_stat_cpu_count(m), 0);
  sim_stop(m, root);
}
END_TEST

/* A power ramp's integral is exact: 0 -> 3 W over 3 s in 1 ms steps. */
START_TEST(ramp_integral_exact_and_down) {
  char err[256];
  sim_machine_t *m = sim_load_string(
      "machine: ramp\n"
      "hwmon:\n"
      "  - name: fam15h_power\n"
      "    channels:\n"
      "      - {type: power, index: 1, average: true, power_w: 0,\n"
      "         ramp: {to_w: 3, over_s: 3}}\n"
      "      - {type: power, index: 2, power_w: 3,\n"
      "         ramp: {to_w: 0, over_s: 3}}\n",
      err, sizeof(err));
  ck_assert_msg(m != NULL, "%s", err);
  for (int i = 0; i < 3000; i++)
    ck_assert_int_eq(sim_advance_ns(m, 1000000), 0);
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, 0), 4500000000ULL);
  ck_assert_uint_eq(sim_hwmon_truth_nj(m, 1), 4500000000ULL);
  ck_assert_uint_eq(sim_hwmon_power_uw(m, 0), 3000000);
  ck_assert_uint_eq(sim_hwmon_power_uw(m, 1), 0);
  sim_free(m);
}
END_TEST

START_TEST(bad_descriptions_are_rejected) {
  static const char *const bad[] = {
      "machine: x\nhwmon: [{name: a, channels: [{type: power, index: 1}]}]\n",
      "machine: x\nhwmon: [{name: a, channels: [{type: volt, index: 1}]}]\n",
      "machine: x\nhwmon: [{name: a, channels: [{type: in, index: 1, "
      "power_w: 1}]}]\n",
      "machine: x\nhwmon: [{name: a, mode: 0999}]\n",
      "machine: x\nhwmon: [{name: a, channels: [{type: power, index: 1, "
      "power_w: 1}, {type: power, index: 1, power_w: 2}]}]\n",
      "machine: x\nstat: {busy: {all: 0.5}}\n",
      "machine: x\nstat: {cpus: 2, busy: {package-1: 0.5}}\n",
      "machine: x\nstat: {cpus: 2, busy: {all: 1.5}}\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[256] = "";
    sim_machine_t *m = sim_load_string(bad[i], err, sizeof(err));
    ck_assert_msg(m == NULL, "accepted: %s", bad[i]);
    ck_assert_msg(strstr(err, "<string>:") == err, "%s", err);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("sim_hwmon");
  TCase *tc = tcase_create("sim_hwmon");
  tcase_add_test(tc, xgene_power_channels_and_links);
  tcase_add_test(tc, amd_energy_counters_modes_and_stat);
  tcase_add_test(tc, acpi_power_meter_layout_enable_sentinel);
  tcase_add_test(tc, ina3221_voltage_current);
  tcase_add_test(tc, ramp_integral_exact_and_down);
  tcase_add_test(tc, bad_descriptions_are_rejected);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
