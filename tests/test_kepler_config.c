/* test_kepler_config.c - the Kepler-style YAML of `ConfigFile` (SPEC 5,
 * src/kepler_config.c) on its own: each key form, what is ignored, syntax
 * errors and wrong types with file:line:column, empty, missing and
 * unreadable files. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kepler_config.h"
#include "testutil.h"

static rapl_options_t opts;
static unsigned set;
static char err[1024];

static int parse(const char *yaml) {
  rapl_options_set_defaults(&opts);
  set = 0;
  err[0] = '\0';
  return rapl_kepler_config_parse("cfg.yaml", yaml, strlen(yaml), &opts, &set,
                                  err, sizeof(err));
}

/* Parsing fails with a message that contains `expected`, and changes
 * nothing. */
static void refused(const char *yaml, const char *expected) {
  rapl_options_t defaults;
  rapl_options_set_defaults(&defaults);
  ck_assert_msg(parse(yaml) == -EINVAL, "accepted:\n%s", yaml);
  ck_assert_msg(strstr(err, expected) != NULL, "expected \"%s\" in \"%s\"",
                expected, err);
  ck_assert_msg(memcmp(&opts, &defaults, sizeof(opts)) == 0,
                "options changed by a refused file:\n%s", yaml);
  ck_assert_uint_eq(set, 0);
}

START_TEST(kepler_form_with_ignored_keys) {
  const char *yaml = "log:\n"
                     "  level: debug\n"
                     "  format: text\n"
                     "host:\n"
                     "  sysfs: /host/sys/\n"
                     "  procfs: \"/host/proc\"\n"
                     "monitor:\n"
                     "  interval: 5s\n"
                     "rapl:\n"
                     "  zones: [package, DRAM]\n"
                     "cpu:\n"
                     "  preferredMeters:\n"
                     "    - hwmon\n"
                     "    - rapl\n"
                     "device:\n"
                     "  msr:\n"
                     "    enabled: true\n"
                     "    force: True\n"
                     "    devicePath: /host/dev/cpu/%d/msr\n"
                     "exporter:\n"
                     "  prometheus:\n"
                     "    enabled: yes\n" /* ignored: any value goes */
                     "    debugCollectors: [go]\n"
                     "web:\n"
                     "  listenAddresses: [\":28282\"]\n"
                     "kube:\n"
                     "  enabled: false\n"
                     "  config: {a: [1, 2, {b: c}]}\n";
  ck_assert_msg(parse(yaml) == 0, "%s", err);
  ck_assert_str_eq(opts.sysfs_path, "/host/sys");
  ck_assert_str_eq(opts.procfs_path, "/host/proc");
  ck_assert(opts.domain_wanted[RAPL_DOMAIN_PACKAGE]);
  ck_assert(opts.domain_wanted[RAPL_DOMAIN_DRAM]);
  ck_assert(!opts.domain_wanted[RAPL_DOMAIN_CORE]);
  ck_assert(!opts.domain_wanted[RAPL_DOMAIN_UNCORE]);
  ck_assert(!opts.domain_wanted[RAPL_DOMAIN_PSYS]);
  ck_assert_uint_eq(opts.source_count, 3);
  ck_assert_int_eq(opts.sources[0], RAPL_SOURCE_HWMON);
  ck_assert_int_eq(opts.sources[1], RAPL_SOURCE_POWERCAP);
  ck_assert_int_eq(opts.sources[2], RAPL_SOURCE_MSR);
  ck_assert(opts.msr_enabled);
  ck_assert(opts.msr_force);
  ck_assert_str_eq(opts.msr_device_path, "/host/dev/cpu");
  ck_assert_uint_eq(set, RAPL_OPT_SYSFS_PATH | RAPL_OPT_PROCFS_PATH |
                             RAPL_OPT_ZONES | RAPL_OPT_SOURCES |
                             RAPL_OPT_MSR_ENABLED | RAPL_OPT_MSR_FORCE |
                             RAPL_OPT_MSR_DEVICE_PATH);
  /* what the file has no key for stays as it was */
  ck_assert(opts.per_socket && opts.total && opts.active_idle);
  ck_assert_uint_eq(opts.hwmon_chip_count, 7);
}
END_TEST

START_TEST(top_level_msr_form) {
  ck_assert_msg(parse("msr:\n  enabled: true\n  devicePath: /dev/cpu\n") == 0,
                "%s", err);
  ck_assert(opts.msr_enabled);
  ck_assert(!opts.msr_force);
  ck_assert_str_eq(opts.msr_device_path, "/dev/cpu");
  ck_assert_uint_eq(set, RAPL_OPT_MSR_ENABLED | RAPL_OPT_MSR_DEVICE_PATH);
  /* flow style; the /%d/msr form at the root */
  ck_assert_msg(parse("msr: {enabled: FALSE, force: false, devicePath: "
                      "'/%d/msr'}\n") == 0,
                "%s", err);
  ck_assert(!opts.msr_enabled);
  ck_assert_str_eq(opts.msr_device_path, "/");
  ck_assert_uint_eq(set, RAPL_OPT_MSR_ENABLED | RAPL_OPT_MSR_FORCE |
                             RAPL_OPT_MSR_DEVICE_PATH);
}
END_TEST

START_TEST(msr_is_off_unless_enabled_in_so_many_words) {
  /* force alone: the file sets force only; the whole-configuration check
   * (rapl_options_check) then refuses it, as for the block */
  ck_assert_msg(parse("msr:\n  force: true\n") == 0, "%s", err);
  ck_assert(!opts.msr_enabled);
  ck_assert_uint_eq(set, RAPL_OPT_MSR_FORCE);
  ck_assert_int_eq(rapl_options_check(&opts, err, sizeof(err)), -EINVAL);
  /* preferring msr does not enable it */
  ck_assert_msg(parse("cpu:\n  preferredMeters: [msr]\n") == 0, "%s", err);
  ck_assert(!opts.msr_enabled);
  ck_assert_uint_eq(set, RAPL_OPT_SOURCES);
}
END_TEST

START_TEST(empty_zones_means_every_zone) {
  ck_assert_msg(parse("rapl:\n  zones: []\n") == 0, "%s", err);
  for (unsigned d = 0; d < RAPL_DOMAIN_COUNT; d++)
    ck_assert(opts.domain_wanted[d]);
  ck_assert_uint_eq(set, RAPL_OPT_ZONES);
}
END_TEST

START_TEST(preferred_meters) {
  ck_assert_msg(parse("cpu:\n  preferredMeters: [rapl]\n") == 0, "%s", err);
  ck_assert_uint_eq(opts.source_count, 2);
  ck_assert_int_eq(opts.sources[0], RAPL_SOURCE_POWERCAP);
  ck_assert_int_eq(opts.sources[1], RAPL_SOURCE_MSR);
  /* msr named before rapl keeps its place; after rapl it is already there */
  ck_assert_msg(parse("cpu:\n  preferredMeters: [msr, RAPL]\n") == 0, "%s", err);
  ck_assert_uint_eq(opts.source_count, 2);
  ck_assert_int_eq(opts.sources[0], RAPL_SOURCE_MSR);
  ck_assert_int_eq(opts.sources[1], RAPL_SOURCE_POWERCAP);
  ck_assert_msg(parse("cpu:\n  preferredMeters: [rapl, msr, hwmon]\n") == 0,
                "%s", err);
  ck_assert_uint_eq(opts.source_count, 3);
  ck_assert_int_eq(opts.sources[1], RAPL_SOURCE_MSR);
  ck_assert_int_eq(opts.sources[2], RAPL_SOURCE_HWMON);
  ck_assert_msg(parse("cpu:\n  preferredMeters: [powercap]\n") == 0, "%s", err);
  ck_assert_uint_eq(opts.source_count, 1);
  /* an empty list is the default order */
  ck_assert_msg(parse("cpu:\n  preferredMeters: []\n") == 0, "%s", err);
  ck_assert_uint_eq(opts.source_count, 3);
  ck_assert_uint_eq(set, 0);
  refused("cpu:\n  preferredMeters: [hwmon, perf]\n",
          "cfg.yaml:2:28: cpu.preferredMeters: unknown meter \"perf\" "
          "(expected rapl, powercap, msr or hwmon)");
  refused("cpu:\n  preferredMeters: [hwmon, hwmon]\n",
          "cfg.yaml:2:28: cpu.preferredMeters: \"hwmon\" is listed twice");
  refused("cpu:\n  preferredMeters: [rapl, powercap]\n",
          "cfg.yaml:2:27: cpu.preferredMeters: \"powercap\" is listed twice");
}
END_TEST

START_TEST(empty_and_null_set_nothing) {
  rapl_options_t defaults;
  rapl_options_set_defaults(&defaults);
  const char *nothing[] = {
      "",
      "\n\n",
      "# only a comment\n",
      "---\n",
      "~\n",
      "host:\nrapl:\ncpu:\nmsr:\ndevice:\n",
      "host:\n  sysfs:\n  procfs: ~\nrapl:\n  zones: null\n",
      "device:\n  msr:\n    enabled:\n",
      "cpu: {preferredMeters: ~}\n",
  };
  for (size_t i = 0; i < sizeof(nothing) / sizeof(nothing[0]); i++) {
    ck_assert_msg(parse(nothing[i]) == 0, "\"%s\": %s", nothing[i], err);
    ck_assert_msg(set == 0, "\"%s\" set %#x", nothing[i], set);
    ck_assert(memcmp(&opts, &defaults, sizeof(opts)) == 0);
  }
}
END_TEST

START_TEST(aliases_are_followed) {
  ck_assert_msg(parse("paths: &sys /host/sys\nhost:\n  sysfs: *sys\n"
                      "both: &on {enabled: true}\nmsr: *on\n") == 0,
                "%s", err);
  ck_assert_str_eq(opts.sysfs_path, "/host/sys");
  ck_assert(opts.msr_enabled);
}
END_TEST

START_TEST(syntax_errors_name_line_and_column) {
  /* a tab where indentation is expected */
  refused("host:\n\tsysfs: /sys\n", "cfg.yaml:2:1: ");
  /* a list never closed */
  refused("log:\n  level: info\nrapl:\n  zones: [package, dram\n",
          "cfg.yaml:5:1: ");
  /* a key at the wrong indentation */
  refused("host:\n  sysfs: /sys\n   procfs: /proc\n", "cfg.yaml:3:10: ");
  refused("host:\n  sysfs: \"/sys\n", "cfg.yaml:");
  /* a second document */
  refused("host: {sysfs: /sys}\n---\nhost: {sysfs: /x}\n",
          "cfg.yaml:3:1: expected one YAML document, found a second");
  /* the message says what libyaml found */
  ck_assert_int_eq(parse("host:\n\tsysfs: /sys\n"), -EINVAL);
  ck_assert_msg(strstr(err, "syntax error") != NULL, "%s", err);
  printf("a tab: %s\n", err);
  ck_assert_int_eq(parse("host:\n  sysfs: /sys\n   procfs: /proc\n"), -EINVAL);
  printf("misindented: %s\n", err);
}
END_TEST

START_TEST(wrong_types_name_line_and_column) {
  refused("- host\n- rapl\n",
          "cfg.yaml:1:1: expected a mapping of Kepler settings (host, rapl, "
          "cpu, msr, ...), got a list");
  refused("just text\n", "cfg.yaml:1:1: expected a mapping of Kepler settings");
  refused("host: /sys\n", "cfg.yaml:1:7: host: expected a mapping, got the "
                          "string \"/sys\"");
  refused("host:\n  sysfs:\n    a: b\n",
          "cfg.yaml:3:5: host.sysfs: expected a string (an absolute path), got "
          "a mapping");
  refused("host:\n  procfs: [/proc]\n",
          "cfg.yaml:2:11: host.procfs: expected a string (an absolute path), "
          "got a list");
  refused("host:\n  sysfs: 5\n",
          "cfg.yaml:2:10: host.sysfs: expected a string (an absolute path), "
          "got the number 5");
  refused("host:\n  sysfs: true\n", "got the boolean true");
  refused("host:\n  sysfs: sys\n",
          "cfg.yaml:2:10: host.sysfs: expected an absolute path, got the "
          "relative path \"sys\"");
  refused("host:\n  sysfs: \"/s\\0ys\"\n",
          "cfg.yaml:2:10: host.sysfs: the string contains a NUL byte");
  refused("msr:\n  enabled: yes\n",
          "cfg.yaml:2:12: msr.enabled: expected a boolean (true or false), got "
          "the string \"yes\"");
  refused("msr:\n  enabled: \"true\"\n",
          "cfg.yaml:2:12: msr.enabled: expected a boolean (true or false), got "
          "the string \"true\" (quoted: a string, not a boolean)");
  refused("device:\n  msr:\n    force: 1\n",
          "cfg.yaml:3:12: device.msr.force: expected a boolean (true or "
          "false), got the number 1");
  refused("device:\n  msr: true\n",
          "cfg.yaml:2:8: device.msr: expected a mapping, got the boolean true");
  refused("device: [msr]\n", "cfg.yaml:1:9: device: expected a mapping, got a list");
  refused("msr:\n  devicePath: /dev/cpu/%d/msr_safe\n",
          "cfg.yaml:2:15: msr.devicePath: expected a directory or a path "
          "ending in /%d/msr, got \"/dev/cpu/%d/msr_safe\"");
  refused("msr:\n  devicePath: dev/cpu/%d/msr\n",
          "msr.devicePath: expected an absolute path");
  refused("rapl:\n  zones: dram\n",
          "cfg.yaml:2:10: rapl.zones: expected a list of domains (package, "
          "core, uncore, dram, psys), got the string \"dram\"");
  refused("rapl:\n  zones:\n    - dram\n    - gpu\n",
          "cfg.yaml:4:7: rapl.zones: unknown domain \"gpu\" (expected package, "
          "core, uncore, dram or psys)");
  refused("rapl:\n  zones: [dram, {a: b}]\n",
          "cfg.yaml:2:17: rapl.zones: expected a domain name, got a mapping");
  refused("rapl:\n  zones: [dram, ~]\n",
          "cfg.yaml:2:17: rapl.zones: expected a domain name, got null");
  refused("cpu:\n  preferredMeters: rapl\n",
          "cfg.yaml:2:20: cpu.preferredMeters: expected a list of meters");
}
END_TEST

/* ---- files -------------------------------------------------------------- */

static void create_file(const char *path, const char *content) {
  FILE *f = fopen(path, "w");
  ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
  fputs(content, f);
  ck_assert_int_eq(fclose(f), 0);
}

START_TEST(file_is_read) {
  char *dir = make_temp_dir("kepler");
  char path[4096];
  snprintf(path, sizeof(path), "%s/config.yaml", dir);
  create_file(path, "host:\n  sysfs: /host/sys\n");
  rapl_options_set_defaults(&opts);
  set = 0;
  ck_assert_msg(rapl_kepler_config_load(path, &opts, &set, err, sizeof(err)) == 0,
                "%s", err);
  ck_assert_str_eq(opts.sysfs_path, "/host/sys");
  ck_assert_uint_eq(set, RAPL_OPT_SYSFS_PATH);
  /* errors name the file itself */
  write_file(path, "host:\n  sysfs: [x]\n");
  ck_assert_int_eq(rapl_kepler_config_load(path, &opts, &set, err, sizeof(err)),
                   -EINVAL);
  char expected[4200];
  snprintf(expected, sizeof(expected), "%s:2:10: host.sysfs: expected", path);
  ck_assert_msg(strstr(err, expected) == err, "%s", err);
  /* empty */
  write_file(path, "");
  rapl_options_set_defaults(&opts);
  set = 0;
  ck_assert_int_eq(rapl_kepler_config_load(path, &opts, &set, err, sizeof(err)), 0);
  ck_assert_uint_eq(set, 0);
  rm_tree(dir);
  free(dir);
}
END_TEST

START_TEST(missing_file) {
  char *dir = make_temp_dir("kepler");
  char path[4096];
  snprintf(path, sizeof(path), "%s/nope.yaml", dir);
  rapl_options_set_defaults(&opts);
  ck_assert_int_eq(rapl_kepler_config_load(path, &opts, &set, err, sizeof(err)),
                   -ENOENT);
  char expected[4200];
  snprintf(expected, sizeof(expected), "%s: cannot read: No such file or directory",
           path);
  ck_assert_msg(strcmp(err, expected) == 0, "%s", err);
  ck_assert_int_eq(rapl_kepler_config_load(dir, &opts, &set, err, sizeof(err)),
                   -EISDIR);
  ck_assert_msg(strstr(err, ": cannot read: Is a directory") != NULL, "%s", err);
  rm_tree(dir);
  free(dir);
}
END_TEST

START_TEST(too_large_file) {
  char *dir = make_temp_dir("kepler");
  char path[4096];
  snprintf(path, sizeof(path), "%s/big.yaml", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  for (int i = 0; i < RAPL_KEPLER_CONFIG_MAX_BYTES / 16 + 1; i++)
    fputs("# .............\n", f); /* 16 bytes */
  fclose(f);
  ck_assert_int_eq(rapl_kepler_config_load(path, &opts, &set, err, sizeof(err)),
                   -EFBIG);
  ck_assert_msg(strstr(err, "larger than 1048576 bytes") != NULL, "%s", err);
  rm_tree(dir);
  free(dir);
}
END_TEST

static const char *unreadable_path;

static int load_as_unprivileged(void *arg) {
  (void)arg;
  rapl_options_set_defaults(&opts);
  int ret = rapl_kepler_config_load(unreadable_path, &opts, &set, err, sizeof(err));
  if (ret != -EACCES) {
    fprintf(stderr, "returned %d: %s\n", ret, err);
    return 1;
  }
  char expected[4200];
  snprintf(expected, sizeof(expected), "%s: cannot read: Permission denied",
           unreadable_path);
  if (strstr(err, expected) != err || strstr(err, "needs read access") == NULL) {
    fprintf(stderr, "err: %s\n", err);
    return 2;
  }
  printf("unreadable: %s\n", err);
  fflush(stdout);
  return 0;
}

START_TEST(unreadable_file) {
  char *dir = make_temp_dir("kepler");
  char path[4096];
  snprintf(path, sizeof(path), "%s/config.yaml", dir);
  create_file(path, "host:\n  sysfs: /sys\n");
  ck_assert_int_eq(chmod(path, 0600), 0);
  unreadable_path = path;
  int status = run_as_nobody(load_as_unprivileged, NULL);
  if (status == -1) { /* not root: mode 000 denies this user */
    ck_assert_int_eq(chmod(path, 0), 0);
    status = load_as_unprivileged(NULL);
  }
  ck_assert_int_eq(status, 0);
  rm_tree(dir);
  free(dir);
}
END_TEST

/* contrib/kepler-config.yaml, as shipped, is read without an error and
 * leaves MSR off. */
START_TEST(shipped_example) {
  char path[4096];
  const char *machines = getenv("RAPL_MACHINES");
  snprintf(path, sizeof(path), "%s/../kepler-config.yaml",
           machines ? machines : "contrib/machines");
  rapl_options_set_defaults(&opts);
  set = 0;
  ck_assert_msg(rapl_kepler_config_load(path, &opts, &set, err, sizeof(err)) == 0,
                "%s", err);
  ck_assert(!opts.msr_enabled);
  ck_assert(set & RAPL_OPT_SYSFS_PATH);
  ck_assert(set & RAPL_OPT_SOURCES);
  ck_assert(set & RAPL_OPT_MSR_ENABLED);
  ck_assert_int_eq(rapl_options_check(&opts, err, sizeof(err)), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kepler_config");
  TCase *tc = tcase_create("kepler_config");
  tcase_add_test(tc, kepler_form_with_ignored_keys);
  tcase_add_test(tc, top_level_msr_form);
  tcase_add_test(tc, msr_is_off_unless_enabled_in_so_many_words);
  tcase_add_test(tc, empty_zones_means_every_zone);
  tcase_add_test(tc, preferred_meters);
  tcase_add_test(tc, empty_and_null_set_nothing);
  tcase_add_test(tc, aliases_are_followed);
  tcase_add_test(tc, syntax_errors_name_line_and_column);
  tcase_add_test(tc, wrong_types_name_line_and_column);
  tcase_add_test(tc, file_is_read);
  tcase_add_test(tc, missing_file);
  tcase_add_test(tc, too_large_file);
  tcase_add_test(tc, unreadable_file);
  tcase_add_test(tc, shipped_example);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
