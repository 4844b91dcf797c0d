/* test_hwmon.c - the hwmon source (SPEC 8) on sysfs trees built by hand:
 * chips, channels, labels, the voltage x current table, sentinels,
 * permissions, and the power integral's accuracy through the meter.
 *
 * This file defines rapl_clock_ns (replacing src/clock.c): the source
 * integrates power over the clock, and the test moves it. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "energy_source.h"
#include "hwmon_chips.h"
#include "meter.h"
#include "options.h"
#include "testutil.h"

static uint64_t fake_now_ns;
uint64_t rapl_clock_ns(void) { return fake_now_ns; }

#define S(x) ((uint64_t)(x) * UINT64_C(1000000000))

static const rapl_source_ops_t *ops = &rapl_hwmon_source;

/* ---- building trees ---------------------------------------------------- */

/* Creates every directory of `path` below root. */
static void mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    mkdir(buf, 0755);
    *p = '/';
  }
  mkdir(buf, 0755);
}

/* root/rel = content, mode 0444 (0 keeps 0444) */
static void put(const char *root, const char *rel, const char *content,
                mode_t mode) {
  char path[4096], dir[4096];
  snprintf(path, sizeof(path), "%s/%s", root, rel);
  snprintf(dir, sizeof(dir), "%s", path);
  *strrchr(dir, '/') = '\0';
  mkdirs(dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
  size_t len = strlen(content);
  ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
  close(fd);
  chmod(path, mode ? mode : 0444);
}

/* sys/class/hwmon/hwmon<n>/<file> */
static void chip_file(const char *root, int n, const char *file,
                      const char *content) {
  char rel[4096];
  snprintf(rel, sizeof(rel), "sys/class/hwmon/hwmon%d/%s", n, file);
  put(root, rel, content, 0);
}

static void rewrite(const char *root, int n, const char *file,
                    const char *content) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon%d/%s", root, n, file);
  write_file(path, content);
}

static void xgene(const char *root, int n, unsigned cpu_uw, unsigned io_uw) {
  char buf[32];
  chip_file(root, n, "name", "apm_xgene\n");
  chip_file(root, n, "temp1_label", "SoC Temperature\n");
  chip_file(root, n, "temp1_input", "35000\n");
  chip_file(root, n, "power1_label", "CPU power\n");
  snprintf(buf, sizeof(buf), "%u\n", cpu_uw);
  chip_file(root, n, "power1_input", buf);
  chip_file(root, n, "power2_label", "IO power\n");
  snprintf(buf, sizeof(buf), "%u\n", io_uw);
  chip_file(root, n, "power2_input", buf);
}

static rapl_options_t options_for(const char *root) {
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", root);
  return o;
}

static void zone_list(const rapl_source_t *src, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < ops->zone_count(src); i++) {
    const rapl_zone_info_t *z = ops->zone_info(src, i);
    used += (size_t)snprintf(buf + used, len - used, "%s%s/%s", i ? " " : "",
                             z->key, z->domain);
  }
}

static rapl_source_t *open_with(const rapl_options_t *o) {
  rapl_source_t *src = NULL;
  char why[4096] = "";
  int rc = ops->open(o, &src, why, sizeof(why));
  ck_assert_msg(rc == 0, "open failed: %d %s", rc, why);
  return src;
}

static rapl_source_t *open_ok(const char *root) {
  rapl_options_t o = options_for(root);
  return open_with(&o);
}

static void expect_zones(const rapl_source_t *src, const char *expected) {
  char list[2048];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, expected);
}

static void use_chips(rapl_options_t *o, const char *a, const char *b) {
  o->hwmon_chip_count = 0;
  snprintf(o->hwmon_chips[o->hwmon_chip_count++], sizeof(o->hwmon_chips[0]),
           "%s", a);
  if (b)
    snprintf(o->hwmon_chips[o->hwmon_chip_count++], sizeof(o->hwmon_chips[0]),
             "%s", b);
}

/* ---- pure helpers ------------------------------------------------------ */

START_TEST(attribute_names) {
  rapl_hwmon_attr_t a;
  ck_assert(rapl_hwmon_parse_attr("power1_average", &a));
  ck_assert_int_eq(a.type, RAPL_HWMON_POWER);
  ck_assert_uint_eq(a.index, 1);
  ck_assert_int_eq(a.item, RAPL_HWMON_AVERAGE);
  ck_assert(rapl_hwmon_parse_attr("energy12_input", &a));
  ck_assert_int_eq(a.type, RAPL_HWMON_ENERGY);
  ck_assert_uint_eq(a.index, 12);
  ck_assert(rapl_hwmon_parse_attr("in0_label", &a));
  ck_assert_int_eq(a.type, RAPL_HWMON_IN);
  ck_assert_uint_eq(a.index, 0);
  ck_assert(rapl_hwmon_parse_attr("curr3_enable", &a));
  ck_assert_int_eq(a.item, RAPL_HWMON_ENABLE);
  ck_assert(!rapl_hwmon_parse_attr("power1_average_interval", &a));
  ck_assert(!rapl_hwmon_parse_attr("power1_average_max", &a));
  ck_assert(!rapl_hwmon_parse_attr("intrusion0_alarm", &a));
  ck_assert(!rapl_hwmon_parse_attr("temp1_input", &a));
  ck_assert(!rapl_hwmon_parse_attr("power_input", &a));
  ck_assert(!rapl_hwmon_parse_attr("name", &a));
}
END_TEST

START_TEST(label_to_domain) {
  char d[RAPL_DOMAIN_NAME_LEN];
  ck_assert(rapl_hwmon_domain_from_label("CPU power\n", d, sizeof(d)));
  ck_assert_str_eq(d, "cpu_power");
  ck_assert(rapl_hwmon_domain_from_label("DIMM VRD1", d, sizeof(d)));
  ck_assert_str_eq(d, "dimm_vrd1");
  ck_assert(rapl_hwmon_domain_from_label("VDD-CPU.0 (mW)", d, sizeof(d)));
  ck_assert_str_eq(d, "vdd_cpu_0__mw_");
  ck_assert(!rapl_hwmon_domain_from_label("\n", d, sizeof(d)));
  ck_assert(rapl_hwmon_domain_from_label(
      "a label much longer than thirty-two characters", d, sizeof(d)));
  ck_assert_uint_eq(strlen(d), sizeof(d) - 1);
}
END_TEST

START_TEST(amd_labels_and_sentinels) {
  unsigned n;
  ck_assert_int_eq(rapl_hwmon_parse_amd_label("Ecore007", &n), RAPL_HWMON_AMD_CORE);
  ck_assert_uint_eq(n, 7);
  ck_assert_int_eq(rapl_hwmon_parse_amd_label("Esocket1", &n), RAPL_HWMON_AMD_SOCKET);
  ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(rapl_hwmon_parse_amd_label("Ecore", &n), RAPL_HWMON_AMD_NONE);
  ck_assert_int_eq(rapl_hwmon_parse_amd_label("CPU power", &n), RAPL_HWMON_AMD_NONE);
  ck_assert(rapl_hwmon_is_sentinel(UINT64_C(4294967295000)));
  ck_assert(rapl_hwmon_is_sentinel(UINT64_MAX));
  ck_assert(rapl_hwmon_is_sentinel(UINT32_MAX));
  ck_assert(!rapl_hwmon_is_sentinel(UINT64_C(250000000)));
  int64_t v;
  ck_assert_int_eq(rapl_hwmon_parse_s64("-12\n", 4, &v), 0);
  ck_assert_int_eq(v, -12);
  ck_assert_int_eq(rapl_hwmon_parse_s64("", 0, &v), -ENODATA);
  ck_assert_int_eq(rapl_hwmon_parse_s64("-\n", 2, &v), -EINVAL);
  ck_assert_int_eq(rapl_hwmon_parse_s64("1x", 2, &v), -EINVAL);
  ck_assert_int_eq(rapl_hwmon_parse_s64("99999999999999999999", 20, &v), -ERANGE);
}
END_TEST

START_TEST(trapezoid_is_exact_for_ramps) {
  rapl_hwmon_integral_t in = {0};
  rapl_hwmon_integrate(&in, 10000000, S(100)); /* baseline: 10 W */
  ck_assert_uint_eq(in.energy_uj, 0);
  rapl_hwmon_integrate(&in, 30000000, S(101)); /* ramp to 30 W over 1 s */
  ck_assert_uint_eq(in.energy_uj, 20000000);   /* 20 J */
  /* 1 uW for 1 ns at a time: the remainder adds up exactly */
  rapl_hwmon_integral_t small = {0};
  rapl_hwmon_integrate(&small, 1, 0);
  for (uint64_t t = 1; t <= 3000; t++)
    rapl_hwmon_integrate(&small, 1, t * 1000000); /* 1 ms steps, 3 s */
  ck_assert_uint_eq(small.energy_uj, 3); /* 1 uW x 3 s */
  /* a clock that does not move adds nothing */
  rapl_hwmon_integrate(&in, 50000000, S(101));
  ck_assert_uint_eq(in.energy_uj, 20000000);
}
END_TEST

START_TEST(pairing_table_is_data) {
  size_t n;
  const rapl_hwmon_chip_pairs_t *t = rapl_hwmon_pair_table(&n);
  ck_assert_uint_ge(n, 3);
  const rapl_hwmon_chip_pairs_t *ina3221 = rapl_hwmon_chip_pairs("ina3221");
  ck_assert_ptr_nonnull(ina3221);
  ck_assert_uint_eq(ina3221->pair_count, 3);
  const rapl_hwmon_chip_pairs_t *ina226 = rapl_hwmon_chip_pairs("ina226");
  ck_assert_ptr_nonnull(ina226);
  ck_assert_uint_eq(ina226->pairs[0].in_index, 1); /* in0 is the shunt */
  ck_assert_ptr_null(rapl_hwmon_chip_pairs("apm_xgene"));
  for (size_t i = 0; i < n; i++)
    ck_assert_uint_le(t[i].pair_count, RAPL_HWMON_MAX_PAIRS);
}
END_TEST

/* ---- chips and channels ------------------------------------------------ */

START_TEST(xgene_power_channels_nvme_ignored) {
  char *root = make_temp_dir("hwmon");
  xgene(root, 0, 16280000, 31900000);
  chip_file(root, 1, "name", "nvme\n");
  chip_file(root, 1, "temp1_input", "41000\n");
  chip_file(root, 1, "power1_input", "5000000\n"); /* never a CPU meter */
  fake_now_ns = S(10);
  rapl_source_t *src = open_ok(root);
  expect_zones(src, "apm_xgene/cpu_power apm_xgene/io_power");
  const rapl_zone_info_t *z = ops->zone_info(src, 0);
  ck_assert_uint_eq(z->wrap_range, 0);
  ck_assert_uint_eq(z->uj_per_unit_num, 1);
  ck_assert_uint_eq(z->uj_per_unit_den, 1);
  ck_assert_uint_gt(z->max_power_uw, UINT64_C(2000) * 1000000);
  ck_assert_uint_lt(z->max_power_uw, UINT64_C(4294967295000));
  /* open read the baseline at 10 s; 2 s later at a constant 16.28 W */
  uint64_t raw;
  fake_now_ns = S(12);
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 2 * 16280000);
  ck_assert_int_eq(ops->read(src, 1, &raw), 0);
  ck_assert_uint_eq(raw, 2 * 31900000);
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

/* amd_energy on 2 sockets x 4 cores with SMT: CPUs 0-3 on package 0, 4-7
 * on package 1, 8-15 their siblings. Ecore<c> is read on CPU c. */
static void amd_energy_tree(const char *root, mode_t mode) {
  char rel[512], buf[64];
  for (int cpu = 0; cpu < 16; cpu++) {
    snprintf(rel, sizeof(rel),
             "sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    put(root, rel, (cpu % 8) < 4 ? "0\n" : "1\n", 0);
  }
  chip_file(root, 3, "name", "amd_energy\n");
  for (int c = 0; c < 8; c++) {
    snprintf(rel, sizeof(rel), "energy%d_label", c + 1);
    snprintf(buf, sizeof(buf), "Ecore%03d\n", c);
    chip_file(root, 3, rel, buf);
    snprintf(rel, sizeof(rel), "sys/class/hwmon/hwmon3/energy%d_input", c + 1);
    snprintf(buf, sizeof(buf), "%d\n", 1000000 * (c + 1));
    put(root, rel, buf, mode);
  }
  for (int s = 0; s < 2; s++) {
    snprintf(rel, sizeof(rel), "energy%d_label", 9 + s);
    snprintf(buf, sizeof(buf), "Esocket%d\n", s);
    chip_file(root, 3, rel, buf);
    snprintf(rel, sizeof(rel), "sys/class/hwmon/hwmon3/energy%d_input", 9 + s);
    put(root, rel, s ? "900000000\n" : "500000000\n", mode);
  }
}

START_TEST(amd_energy_maps_onto_packages) {
  char *root = make_temp_dir("hwmon");
  amd_energy_tree(root, 0440);
  rapl_source_t *src = open_ok(root);
  expect_zones(src, "package-0/package package-0/core package-1/package "
                    "package-1/core");
  uint64_t raw;
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 500000000);
  ck_assert_int_eq(ops->read(src, 1, &raw), 0);
  ck_assert_uint_eq(raw, (1 + 2 + 3 + 4) * 1000000); /* Ecore000..003 */
  ck_assert_int_eq(ops->read(src, 3, &raw), 0);
  ck_assert_uint_eq(raw, (5 + 6 + 7 + 8) * 1000000); /* Ecore004..007 */
  const rapl_zone_info_t *z = ops->zone_info(src, 2);
  ck_assert_int_eq(z->package_id, 1);
  ck_assert_uint_eq(z->wrap_range, 0);      /* 64-bit: a decrease is a reset */
  ck_assert_uint_eq(z->max_power_uw, UINT64_C(2000) * 1000000); /* RAPL's */
  ops->close(src);
  /* Zones "core": the filter applies to the RAPL domains */
  rapl_options_t o = options_for(root);
  const char *core[] = {"core"};
  char err[256];
  ck_assert_int_eq(rapl_options_set_zones(&o, core, 1, err, sizeof(err)), 0);
  src = open_with(&o);
  expect_zones(src, "package-0/core package-1/core");
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

static const char *perm_root;
static int open_as_unprivileged(void *arg) {
  (void)arg;
  rapl_options_t o = options_for(perm_root);
  rapl_source_t *src = NULL;
  char why[4096] = "";
  int rc = ops->open(&o, &src, why, sizeof(why));
  if (rc == 0)
    return 1;
  if (rc != -EACCES || strstr(why, "permission denied") == NULL ||
      strstr(why, "CVE-2020-12912") == NULL) {
    fprintf(stderr, "rc %d why: %s\n", rc, why);
    return 2;
  }
  printf("amd_energy as nobody: %s\n", why);
  return 0;
}

START_TEST(amd_energy_root_only) {
  char *root = make_temp_dir("hwmon");
  amd_energy_tree(root, 0440);
  perm_root = root;
  int status = run_as_nobody(open_as_unprivileged, NULL);
  if (status == -1) { /* not root: make the files unreadable for us */
    for (int i = 1; i <= 10; i++) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/sys/class/hwmon/hwmon3/energy%d_input",
               root, i);
      chmod(path, 0);
    }
    status = open_as_unprivileged(NULL);
  }
  ck_assert_int_eq(status, 0);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(acpi_power_meter_under_device) {
  char *root = make_temp_dir("hwmon");
  /* hwmon_device_register() without a name: everything on the device */
  put(root, "sys/class/hwmon/hwmon2/device/name", "power_meter\n", 0);
  put(root, "sys/class/hwmon/hwmon2/device/power1_average", "250000000\n", 0);
  put(root, "sys/class/hwmon/hwmon2/device/power1_average_interval", "1000\n", 0);
  put(root, "sys/class/hwmon/hwmon2/device/power1_average_max", "0\n", 0);
  put(root, "sys/class/hwmon/hwmon2/device/power1_accuracy", "95.0%\n", 0);
  put(root, "sys/class/hwmon/hwmon2/device/power1_is_battery", "0\n", 0);
  fake_now_ns = S(100);
  rapl_source_t *src = open_ok(root);
  expect_zones(src, "power_meter/power1");
  uint64_t raw;
  fake_now_ns = S(101);
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 250000000);
  /* the firmware's "unknown" (_PMM 0xFFFFFFFF mW): that read is skipped
   * and nothing is integrated over it */
  char path[4096];
  snprintf(path, sizeof(path),
           "%s/sys/class/hwmon/hwmon2/device/power1_average", root);
  write_file(path, "4294967295000\n");
  fake_now_ns = S(102);
  ck_assert_int_eq(ops->read(src, 0, &raw), -ERANGE);
  write_file(path, "18446744073709551615\n");
  ck_assert_int_eq(ops->read(src, 0, &raw), -ERANGE);
  write_file(path, "");
  ck_assert_int_eq(ops->read(src, 0, &raw), -ENODATA);
  write_file(path, "250000000\n");
  fake_now_ns = S(103);
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 3 * UINT64_C(250000000)); /* 101..103 bridged */
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(disabled_channel_and_average_first) {
  char *root = make_temp_dir("hwmon");
  chip_file(root, 0, "name", "smpro_hwmon\n");
  chip_file(root, 0, "power1_label", "CORE VRD\n");
  chip_file(root, 0, "power1_input", "90000000\n");
  chip_file(root, 0, "power1_average", "80000000\n"); /* preferred */
  chip_file(root, 0, "power2_label", "SoC\n");
  chip_file(root, 0, "power2_input", "20000000\n");
  chip_file(root, 0, "power2_enable", "0\n");
  chip_file(root, 0, "power3_input", "7000000\n"); /* no label */
  fake_now_ns = S(1);
  rapl_source_t *src = open_ok(root);
  expect_zones(src, "smpro_hwmon/core_vrd smpro_hwmon/power3");
  uint64_t raw;
  fake_now_ns = S(2);
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 80000000);
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(same_label_is_one_domain) {
  char *root = make_temp_dir("hwmon");
  xgene(root, 0, 10000000, 5000000);
  rewrite(root, 0, "power2_label", "cpu POWER\n");
  fake_now_ns = S(1);
  rapl_source_t *src = open_ok(root);
  expect_zones(src, "apm_xgene/cpu_power");
  uint64_t raw;
  fake_now_ns = S(2);
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 15000000);
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(energy_channels_win_over_power) {
  char *root = make_temp_dir("hwmon");
  chip_file(root, 0, "name", "altra_hwmon\n");
  chip_file(root, 0, "energy1_label", "Core Energy 000\n");
  chip_file(root, 0, "energy1_input", "2790000000\n");
  chip_file(root, 0, "power1_label", "CPU power\n");
  chip_file(root, 0, "power1_input", "50000000\n");
  rapl_source_t *src = open_ok(root);
  expect_zones(src, "altra_hwmon/core_energy_000");
  uint64_t raw;
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, UINT64_C(2790000000));
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(gpu_and_drives_never_by_default) {
  char *root = make_temp_dir("hwmon");
  chip_file(root, 0, "name", "amdgpu\n");
  chip_file(root, 0, "power1_average", "28000000\n");
  chip_file(root, 1, "name", "nvme\n");
  chip_file(root, 2, "name", "BAT0\n");
  chip_file(root, 2, "power1_input", "9000000\n");
  chip_file(root, 4, "name", "ina3221\n"); /* board rails: only when named */
  chip_file(root, 4, "in1_input", "12000\n");
  chip_file(root, 4, "curr1_input", "1000\n");
  rapl_options_t o = options_for(root);
  rapl_source_t *src = NULL;
  char why[4096] = "";
  ck_assert_int_eq(ops->open(&o, &src, why, sizeof(why)), -ENODEV);
  ck_assert_msg(strstr(why, "no chip of HwmonChips") != NULL, "%s", why);
  ck_assert_msg(strstr(why, "amdgpu, nvme, BAT0, ina3221") != NULL, "%s", why);
  printf("only GPUs and drives: %s\n", why);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(open_failures_say_why) {
  char *root = make_temp_dir("hwmon");
  rapl_options_t o = options_for(root);
  rapl_source_t *src = NULL;
  char why[4096] = "";
  ck_assert_int_eq(ops->open(&o, &src, why, sizeof(why)), -ENOENT);
  ck_assert_msg(strstr(why, "class/hwmon: not present") != NULL, "%s", why);
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/sys/class/hwmon", root);
  mkdirs(dir);
  ck_assert_int_eq(ops->open(&o, &src, why, sizeof(why)), -ENODEV);
  ck_assert_msg(strstr(why, "class/hwmon: no hwmon chip") != NULL, "%s", why);
  chip_file(root, 0, "name", "apm_xgene\n");
  chip_file(root, 0, "temp1_input", "35000\n");
  ck_assert_int_ne(ops->open(&o, &src, why, sizeof(why)), 0);
  ck_assert_msg(strstr(why, "no usable channel") != NULL, "%s", why);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(ina3221_pairs_and_generic_pairs) {
  char *root = make_temp_dir("hwmon");
  chip_file(root, 0, "name", "ina3221\n");
  chip_file(root, 0, "in1_label", "VDD_CPU\n");
  chip_file(root, 0, "in1_input", "12000\n");
  chip_file(root, 0, "in1_average", "11000\n");
  chip_file(root, 0, "curr1_input", "2000\n");
  chip_file(root, 0, "curr1_average", "3000\n"); /* both: averages */
  chip_file(root, 0, "in2_label", "VDD_GPU\n");
  chip_file(root, 0, "in2_input", "5000\n");
  chip_file(root, 0, "in2_average", "9999\n"); /* no curr2_average: inputs */
  chip_file(root, 0, "curr2_input", "-4\n");    /* backwards: 0 W */
  chip_file(root, 0, "in3_input", "3300\n");
  chip_file(root, 0, "curr3_input", "100\n");
  chip_file(root, 0, "in3_enable", "0\n");
  chip_file(root, 0, "in4_input", "40\n"); /* shunt voltage: no pair */
  chip_file(root, 0, "curr4_input", "5000\n");
  chip_file(root, 1, "name", "myboard\n"); /* not in the table */
  chip_file(root, 1, "in1_label", "rail\n");
  chip_file(root, 1, "curr1_label", "rail\n");
  chip_file(root, 1, "in1_input", "1000\n");
  chip_file(root, 1, "curr1_input", "1000\n");
  chip_file(root, 1, "in2_label", "x\n");
  chip_file(root, 1, "curr2_label", "y\n");
  chip_file(root, 1, "in2_input", "1000\n");
  chip_file(root, 1, "curr2_input", "1000\n");
  rapl_options_t o = options_for(root);
  use_chips(&o, "ina3221", "myboard");
  fake_now_ns = S(1);
  rapl_source_t *src = open_with(&o);
  expect_zones(src, "ina3221/vdd_cpu ina3221/vdd_gpu myboard/rail");
  uint64_t raw;
  fake_now_ns = S(2);
  ck_assert_int_eq(ops->read(src, 0, &raw), 0);
  ck_assert_uint_eq(raw, 11000 * 3000); /* 33 W over 1 s, in uJ */
  ck_assert_int_eq(ops->read(src, 1, &raw), 0);
  ck_assert_uint_eq(raw, 0);
  ck_assert_int_eq(ops->read(src, 2, &raw), 0);
  ck_assert_uint_eq(raw, 1000000); /* 1 V x 1 A */
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(duplicate_chip_names_get_a_suffix) {
  char *root = make_temp_dir("hwmon");
  chip_file(root, 1, "name", "ina3221\n");
  chip_file(root, 1, "in1_input", "12000\n");
  chip_file(root, 1, "curr1_input", "1000\n");
  chip_file(root, 0, "name", "fam15h_power\n");
  chip_file(root, 0, "power1_input", "26000000\n");
  chip_file(root, 10, "name", "ina3221\n");
  chip_file(root, 10, "in1_input", "12000\n");
  chip_file(root, 10, "curr1_input", "2000\n");
  chip_file(root, 2, "name", "ina3221\n");
  chip_file(root, 2, "in1_input", "5000\n");
  chip_file(root, 2, "curr1_input", "1000\n");
  rapl_options_t o = options_for(root);
  use_chips(&o, "ina3221", "fam15h_power");
  rapl_source_t *src = open_with(&o);
  /* hwmon10 after hwmon2: natural order, not strcmp's */
  expect_zones(src, "fam15h_power/power1 ina3221/power1 ina3221-2/power1 "
                    "ina3221-3/power1");
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

START_TEST(rescan_adds_new_chips_cheaply) {
  char *root = make_temp_dir("hwmon");
  xgene(root, 0, 10000000, 5000000);
  rapl_source_t *src = open_ok(root);
  ck_assert_int_eq(ops->rescan(src), 0);
  put(root, "sys/class/hwmon/hwmon5/device/name", "power_meter\n", 0);
  put(root, "sys/class/hwmon/hwmon5/device/power1_average", "200000000\n", 0);
  ck_assert_int_eq(ops->rescan(src), 1);
  expect_zones(src, "apm_xgene/cpu_power apm_xgene/io_power power_meter/power1");
  ck_assert_int_eq(ops->rescan(src), 0);
  ops->close(src);
  rm_tree(root);
  free(root);
}
END_TEST

/* ---- accuracy through the meter ---------------------------------------- */

/* Power in ramps: up from 20 to 120 W over 7.3 s, down over 5.1 s, a step
 * to 60 W for 4 s, repeated (period 16.4 s, not a multiple of the read
 * interval, so breakpoints fall between reads). */
static double cpu_w(double t) {
  double p = fmod(t, 16.4);
  if (p < 7.3)
    return 20 + 100 * p / 7.3;
  if (p < 12.4)
    return 120 - 100 * (p - 7.3) / 5.1;
  return 60;
}
static double io_w(double t) { return 30 + 10 * sin(t / 3.0); }

static double true_joules(double (*w)(double), double from, double to) {
  double sum = 0, dt = 1e-4;
  for (double t = from; t < to; t += dt)
    sum += w(t + dt / 2) * dt;
  return sum;
}

static void check_accuracy(double interval_s) {
  char *root = make_temp_dir("hwmon");
  xgene(root, 0, 20000000, 30000000);
  rapl_options_t o = options_for(root);
  const char *only[] = {"hwmon"};
  char err[256];
  ck_assert_int_eq(rapl_options_set_sources(&o, only, 1, err, sizeof(err)), 0);
  rapl_meter_t *meter = rapl_meter_new(&o);
  char why[2048];
  fake_now_ns = 0;
  ck_assert_msg(rapl_meter_start(meter, why, sizeof(why)) == 0, "%s", why);
  ck_assert_str_eq(rapl_meter_source(meter), "hwmon");
  double last_j[2] = {0, 0}, power_j[2] = {0, 0};
  int steps = (int)(60.0 / interval_s + 0.5);
  for (int k = 0; k <= steps; k++) {
    double t = k * interval_s;
    char buf[32];
    snprintf(buf, sizeof(buf), "%.0f\n", cpu_w(t) * 1e6);
    rewrite(root, 0, "power1_input", buf);
    snprintf(buf, sizeof(buf), "%.0f\n", io_w(t) * 1e6);
    rewrite(root, 0, "power2_input", buf);
    fake_now_ns = (uint64_t)llround(t * 1e9);
    const rapl_value_t *v;
    size_t n;
    ck_assert_int_eq(rapl_meter_read(meter, fake_now_ns, &v, &n), 0);
    for (size_t i = 0; i < n; i++) {
      int which = strcmp(v[i].name, "cpu_power") == 0 ? 0
                  : strcmp(v[i].name, "io_power") == 0 ? 1 : -1;
      if (which < 0 || strcmp(v[i].zone, "apm_xgene") != 0)
        continue;
      if (v[i].kind == RAPL_VALUE_ENERGY)
        last_j[which] = (double)v[i].joules;
      else if (v[i].kind == RAPL_VALUE_POWER)
        power_j[which] += v[i].value * interval_s;
    }
  }
  double truth[2] = {true_joules(cpu_w, 0, 60), true_joules(io_w, 0, 60)};
  for (int i = 0; i < 2; i++) {
    double err_pct = 100 * fabs(last_j[i] - truth[i]) / truth[i];
    double power_pct = 100 * fabs(power_j[i] - truth[i]) / truth[i];
    printf("hwmon ramps, reads every %.1f s over 60 s, %s: counted %.0f J, "
           "true %.2f J: error %.3f %% (power x dt: %.3f %%)\n",
           interval_s, i ? "io_power" : "cpu_power", last_j[i], truth[i],
           err_pct, power_pct);
    ck_assert_msg(err_pct < 1.0, "energy error %.3f %%", err_pct);
    ck_assert_msg(power_pct < 1.0, "power error %.3f %%", power_pct);
  }
  fflush(stdout);
  rapl_meter_free(meter);
  rm_tree(root);
  free(root);
}

START_TEST(ramps_within_one_percent_1s) { check_accuracy(1.0); }
END_TEST
START_TEST(ramps_within_one_percent_2s) { check_accuracy(2.0); }
END_TEST

START_TEST(meter_falls_back_to_hwmon) {
  /* no powercap, MSR off: the meter uses hwmon and names it */
  char *root = make_temp_dir("hwmon");
  xgene(root, 0, 16000000, 32000000);
  rapl_options_t o = options_for(root);
  rapl_meter_t *meter = rapl_meter_new(&o);
  char why[2048];
  fake_now_ns = S(5);
  ck_assert_msg(rapl_meter_start(meter, why, sizeof(why)) == 0, "%s", why);
  const rapl_value_t *v;
  size_t n;
  fake_now_ns = S(6);
  ck_assert_int_eq(rapl_meter_read(meter, S(6), &v, &n), 0);
  fake_now_ns = S(8);
  ck_assert_int_eq(rapl_meter_read(meter, S(8), &v, &n), 0);
  bool gauge = false, power = false;
  for (size_t i = 0; i < n; i++) {
    gauge = gauge || (v[i].kind == RAPL_VALUE_METER &&
                      strcmp(v[i].name, "meter-hwmon") == 0);
    if (v[i].kind == RAPL_VALUE_POWER && strcmp(v[i].zone, "apm_xgene") == 0 &&
        strcmp(v[i].name, "cpu_power") == 0) {
      power = true;
      ck_assert_double_eq_tol(v[i].value, 16.0, 1e-6);
    }
  }
  ck_assert(gauge);
  ck_assert(power);
  rapl_meter_free(meter);
  rm_tree(root);
  free(root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("hwmon");
  TCase *pure = tcase_create("pure");
  tcase_add_test(pure, attribute_names);
  tcase_add_test(pure, label_to_domain);
  tcase_add_test(pure, amd_labels_and_sentinels);
  tcase_add_test(pure, trapezoid_is_exact_for_ramps);
  tcase_add_test(pure, pairing_table_is_data);
  suite_add_tcase(s, pure);
  TCase *chips = tcase_create("chips");
  tcase_add_test(chips, xgene_power_channels_nvme_ignored);
  tcase_add_test(chips, amd_energy_maps_onto_packages);
  tcase_add_test(chips, amd_energy_root_only);
  tcase_add_test(chips, acpi_power_meter_under_device);
  tcase_add_test(chips, disabled_channel_and_average_first);
  tcase_add_test(chips, same_label_is_one_domain);
  tcase_add_test(chips, energy_channels_win_over_power);
  tcase_add_test(chips, gpu_and_drives_never_by_default);
  tcase_add_test(chips, open_failures_say_why);
  tcase_add_test(chips, ina3221_pairs_and_generic_pairs);
  tcase_add_test(chips, duplicate_chip_names_get_a_suffix);
  tcase_add_test(chips, rescan_adds_new_chips_cheaply);
  suite_add_tcase(s, chips);
  TCase *meter = tcase_create("meter");
  tcase_add_test(meter, ramps_within_one_percent_1s);
  tcase_add_test(meter, ramps_within_one_percent_2s);
  tcase_add_test(meter, meter_falls_back_to_hwmon);
  suite_add_tcase(s, meter);
  return run_suite(s);
}
