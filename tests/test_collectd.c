/* test_collectd.c - end to end: the real collectd daemon loads the freshly
 * built rapl.so, reads a simulated machine that advances at known power
 * (contrib/sim, `rapl-sim run`), and writes what it dispatched with the csv
 * plugin. Also: configuration errors as collectd reports them, and a run
 * under valgrind memcheck.
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "e2e.h"


/* Reads one register of one CPU through the simulated msr device. */
static uint32_t read_msr32(const char *root, unsigned cpu, uint32_t reg) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/dev/cpu/%u/msr", root, cpu);
  int fd = open(path, O_RDONLY);
  ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
  uint64_t v = 0;
  ck_assert_int_eq(pread(fd, &v, 8, reg), 8);
  close(fd);
  return (uint32_t)v;
}

typedef enum { VIA_POWERCAP, VIA_MSR } via_t;

/* The machine runs through a counter wrap while collectd reads it every
 * 2 s; checks identifiers, watts within 1 %, and energy within 1 % (+1 J
 * for flooring to whole joules at each end) across the wrap. VIA_MSR: the
 * machine has no powercap, the plugin reads its MSRs (served per register
 * by rapl-sim over FUSE, as the kernel's msr driver does). */
static void check_machine(const char *machine, via_t via) {
  e2e_t t = {0};
  /* Served over FUSE, counters are computed at the instant of each read,
   * so a simulator starved by a loaded machine cannot pose as a power
   * error; the plain-file tree is read by the valgrind and late-meter
   * tests and by every unit test. */
  if (via == VIA_MSR)
    start_sim_args(&t, machine, 5.0, "--msr", "fuse", "--no-powercap");
  else
    start_sim_args(&t, machine, 5.0, "--powercap", "fuse", NULL);
  bool amd = strcmp(sim_cpu_vendor(t.model), "AuthenticAMD") == 0;
  uint32_t pkg_reg = amd ? 0xC001029Bu : 0x611u;
  /* every zone sits just below its wrap now, and must be past it at the end */
  uint64_t before[64];
  size_t zones = sim_zone_count(t.model);
  char *dirs[64] = {NULL};
  uint32_t msr_before = 0;
  if (via == VIA_MSR) {
    msr_before = read_msr32(t.root, 0, pkg_reg);
    ck_assert_uint_gt(msr_before, UINT32_MAX / 2);
  } else {
    for (size_t i = 0; i < zones; i++) {
      char rel[512];
      snprintf(rel, sizeof(rel), "sys/class/powercap/%s/energy_uj",
               sim_zone_link_name(t.model, i));
      dirs[i] = path_join(t.root, rel);
      before[i] = read_u64(dirs[i]);
      ck_assert_uint_gt(before[i], sim_zone_max_range_uj(t.model, i) / 2);
    }
  }
  char *sysfs = path_join(t.root, "sys");
  char extra[8192] = "";
  if (via == VIA_MSR)
    snprintf(extra, sizeof(extra),
             "  ProcfsPath \"%s/proc\"\n  <MSR>\n    Enabled true\n"
             "    DevicePath \"%s/dev/cpu\"\n  </MSR>\n",
             t.root, t.root);
  char *conf = write_conf(t.dir, sysfs, extra, 2);
  ck_assert_int_eq(run_collectd(t.dir, conf, 11.5, NULL), 0);
  if (via == VIA_MSR) {
    ck_assert_msg(read_msr32(t.root, 0, pkg_reg) < msr_before,
                  "%s: the package MSR did not wrap", machine);
  } else {
    for (size_t i = 0; i < zones; i++) {
      ck_assert_msg(read_u64(dirs[i]) < before[i], "%s: zone %s did not wrap",
                    machine, sim_zone_link_name(t.model, i));
      free(dirs[i]);
    }
  }
  const char *source = via == VIA_MSR ? "rapl-msr" : "rapl-powercap";
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  char using[64];
  snprintf(using, sizeof(using), "rapl plugin: using %s", source);
  ck_assert_msg(strstr(log, using) != NULL, "%s", log);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  ck_assert_msg(count_lines_with(log, "reset") == 0, "%s", log);
  ck_assert_msg(count_lines_with(log, "CVE-2020-8694") == (via == VIA_MSR),
                "%s", log);

  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  expect_t e[64];
  size_t ne = expected_zones(t.model, e, 64, via == VIA_MSR && amd);
  /* exactly the expected identifiers: derive + power per zone and total,
   * and the meter gauge; with ActiveIdle (on by default) where the
   * ProcfsPath has a stat file, active and idle derive + power per zone
   * and total and one cpu_usage_ratio gauge per zone key */
  char statf[4096];
  if (via == VIA_MSR)
    snprintf(statf, sizeof(statf), "%s/proc/stat", t.root);
  else
    snprintf(statf, sizeof(statf), "/proc/stat");
  bool split = access(statf, R_OK) == 0;
  size_t keys = 0;
  for (size_t i = 0; i < ne; i++) {
    bool seen = false;
    for (size_t k = 0; k < i; k++)
      seen = seen || strcmp(e[k].zone, e[i].zone) == 0;
    keys += !seen;
  }
  size_t want = 2 * ne + 1 + (split ? 4 * ne + keys : 0);
  ck_assert_msg(csv->n == want, "%s: %zu series, expected %zu", machine,
                csv->n, want);
  for (size_t i = 0; split && i < ne; i++) {
    char id[8192], ida[8192], idi[8192];
    snprintf(id, sizeof(id), "rapl-%s/derive-%s", e[i].zone, e[i].domain);
    snprintf(ida, sizeof(ida), "rapl-%s/derive-%s-active", e[i].zone, e[i].domain);
    snprintf(idi, sizeof(idi), "rapl-%s/derive-%s-idle", e[i].zone, e[i].domain);
    const series_t *all = series(csv, id), *a = series(csv, ida),
                   *idle = series(csv, idi);
    /* no split at the first read, as no power */
    ck_assert_msg(all && a && idle && a->n + 1 == all->n && idle->n + 1 == all->n,
                  "%s: %s split missing", machine, id);
    /* active + idle is the zone's energy: the floors of two exact parts
     * lose less than 2 J together */
    double sum = a->v[a->n - 1] + idle->v[idle->n - 1], whole = all->v[all->n - 1];
    ck_assert_msg(sum <= whole && whole - sum < 2.0,
                  "%s: %s active %.0f + idle %.0f vs %.0f J", machine, id,
                  a->v[a->n - 1], idle->v[idle->n - 1], whole);
  }
  char gauge[64];
  snprintf(gauge, sizeof(gauge), "rapl/gauge-meter-%s", source);
  ck_assert_ptr_nonnull(series(csv, gauge));
  double worst_w_pct = 0, worst_j = 0, worst_j_pct = 0;
  for (size_t i = 0; i < ne; i++) {
    char id[8192];
    snprintf(id, sizeof(id), "rapl-%s/power-%s", e[i].zone, e[i].domain);
    const series_t *p = series(csv, id);
    ck_assert_msg(p != NULL && p->n >= 3, "%s: no %s", machine, id);
    for (size_t k = 0; k < p->n; k++) {
      worst_w_pct = fmax(worst_w_pct, 100 * fabs(p->v[k] - e[i].watts) / e[i].watts);
      ck_assert_msg(fabs(p->v[k] - e[i].watts) <= 0.01 * e[i].watts,
                    "%s: %s = %.4f W at %.3f, simulated %.4f W", machine, id,
                    p->v[k], p->t[k], e[i].watts);
    }
    snprintf(id, sizeof(id), "rapl-%s/derive-%s", e[i].zone, e[i].domain);
    const series_t *d = series(csv, id);
    ck_assert_msg(d != NULL && d->n >= 4, "%s: no %s", machine, id);
    ck_assert_double_eq(d->v[0], 0); /* the first read is the baseline */
    for (size_t k = 1; k < d->n; k++)
      ck_assert_msg(d->v[k] >= d->v[k - 1], "%s: %s went backwards", machine, id);
    double joules = d->v[d->n - 1] - d->v[0];
    double expect_j = e[i].watts * (d->t[d->n - 1] - d->t[0]);
    ck_assert_msg(fabs(joules - expect_j) <= 0.01 * expect_j + 1.0,
                  "%s: %s counted %.0f J, simulated %.2f J", machine, id,
                  joules, expect_j);
    worst_j = fmax(worst_j, fabs(joules - expect_j));
    worst_j_pct = fmax(worst_j_pct, 100 * fabs(joules - expect_j) / expect_j);
  }
  /* figures for the record (the test log), not assertions */
  printf("%s via %s: %zu identifiers:", machine, source, csv->n);
  for (size_t i = 0; i < csv->n; i++)
    printf(" %s", csv->s[i].id);
  printf("\n%s via %s: worst power error %.3f %%; worst energy error %.2f J "
         "(%.3f %%) over the run, across a wrap\n",
         machine, source, worst_w_pct, worst_j, worst_j_pct);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(conf);
  free(sysfs);
  stop_sim(&t);
}

START_TEST(laptop_psys) { check_machine("laptop-psys", VIA_POWERCAP); }
END_TEST
START_TEST(xeon_2s) { check_machine("xeon-2s", VIA_POWERCAP); }
END_TEST
START_TEST(epyc_2s) { check_machine("epyc-2s", VIA_POWERCAP); }
END_TEST
START_TEST(spr_2s_psys) { check_machine("spr-2s-psys", VIA_POWERCAP); }
END_TEST
START_TEST(xeon_multidie) { check_machine("xeon-multidie", VIA_POWERCAP); }
END_TEST
START_TEST(xeon_2s_msr_without_powercap) { check_machine("xeon-2s", VIA_MSR); }
END_TEST
START_TEST(epyc_2s_msr_without_powercap) { check_machine("epyc-2s", VIA_MSR); }
END_TEST

/* SPEC 7 / issue 4: collectd starts before the meters exist (msr module or
 * intel_rapl loaded later); the plugin starts dispatching once they appear,
 * without a restart. */
START_TEST(meters_appearing_after_start_are_picked_up) {
  e2e_t t = {0};
  t.dir = make_temp_dir("late");
  t.root = path_join(t.dir, "root");
  char *sysfs = path_join(t.root, "sys");
  char *conf = write_conf(t.dir, sysfs, NULL, 1);
  char *out = path_join(t.dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-f", "-C", conf, NULL};
  pid_t collectd = spawn(argv, out);
  usleep(2500000); /* two failed reads: no source */
  start_sim(&t, "xeon-2s", 3600);
  usleep(14000000); /* collectd's back-off: the next reads at ~4 s, ~8 s */
  kill(collectd, SIGTERM);
  ck_assert_int_eq(wait_exit(collectd, 30), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(count_lines_with(log, "no energy source available") == 1, "%s", log);
  ck_assert_msg(strstr(log, "rapl plugin: using rapl-powercap") != NULL, "%s", log);
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  const series_t *p = series(csv, "rapl-package-0/power-package");
  ck_assert_msg(p != NULL && p->n >= 2, "no power after the meters appeared:\n%s", log);
  for (size_t k = 0; k < p->n; k++)
    ck_assert_double_eq_tol(p->v[k], 120.0, 1.2);
  printf("late meters: first power value %.3f W after %zu values\n", p->v[0], p->n);
  free(csv);
  free(log);
  free(logf);
  free(out);
  free(conf);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

/* ---- configuration errors ------------------------------------------------ */

static const struct {
  const char *block;    /* inside <Plugin rapl> */
  const char *expected; /* the one ERROR line must contain this */
} bad_configs[] = {
    {"  Foo 1\n", "rapl plugin: unknown option \"Foo\""},
    {"  SysfsPath \"sys\"\n",
     "SysfsPath: expected an absolute path, got the relative path \"sys\""},
    {"  ProcfsPath \"\"\n", "ProcfsPath: expected an absolute path, got an empty string"},
    {"  SysfsPath \"/a\" \"/b\"\n", "SysfsPath: expected one string (an absolute path), got 2 values"},
    {"  SysfsPath 42\n", "SysfsPath: expected one string (an absolute path), got a number"},
    {"  Zones \"gpu\"\n", "Zones: unknown domain \"gpu\""},
    /* (a bare `Zones` with no value is a syntax error of collectd's own
     * parser: it never reaches the plugin) */
    {"  Zones \"\"\n", "Zones: unknown domain \"\""},
    {"  Zones \"dram\" 7\n", "Zones: expected domain names (package, core, uncore, dram, psys) as strings, value 2 is a number"},
    {"  PerSocket \"maybe\"\n", "PerSocket: expected true or false, got \"maybe\""},
    {"  Total 1\n", "Total: expected one boolean (true or false), got a number"},
    {"  PerSocket false\n  Total false\n", "PerSocket and Total are both false"},
    {"  <MSR>\n    Force true\n  </MSR>\n", "MSR: Force true needs Enabled true"},
    {"  <MSR>\n    Bogus 1\n  </MSR>\n", "MSR: unknown option \"Bogus\""},
    {"  <MSR>\n    Enabled \"yes\"\n  </MSR>\n", "Enabled: expected true or false, got \"yes\""},
    {"  <MSR>\n    DevicePath \"dev/cpu\"\n  </MSR>\n",
     "DevicePath: expected an absolute path, got the relative path \"dev/cpu\""},
    {"  <MSR \"x\">\n  </MSR>\n", "MSR: expected a block <MSR> ... </MSR>"},
    {"  Sources \"perf\"\n", "Sources: unknown source \"perf\""},
    {"  Sources \"msr\" \"msr\"\n", "Sources: \"msr\" is listed twice"},
    {"  ActiveIdle \"maybe\"\n", "ActiveIdle: expected true or false, got \"maybe\""},
    {"  HwmonChips 5\n", "HwmonChips: expected hwmon chip names as strings, value 1 is a number"},
    {"  HwmonChips \"a/b\"\n", "HwmonChips: \"a/b\" is not a hwmon chip name"},
    {"  HwmonChips \"zenergy\" \"zenergy\"\n", "HwmonChips: \"zenergy\" is listed twice"},
    {"  ConfigFile \"kepler.yaml\"\n",
     "ConfigFile: expected an absolute path, got the relative path \"kepler.yaml\""},
    {"  ConfigFile \"/nonexistent/kepler.yaml\"\n",
     "ConfigFile: /nonexistent/kepler.yaml: cannot read: No such file or directory"},
    {"  ProcfsPath 1\n", "ProcfsPath: expected one string (an absolute path), got a number"},
    {"  Sources 5\n", "Sources: expected source names (powercap, msr, hwmon) as strings, value 1 is a number"},
    {"  PerSocket true false\n", "PerSocket: expected one boolean (true or false), got 2 values"},
    {"  <MSR>\n    Force 2\n  </MSR>\n", "Force: expected one boolean (true or false), got a number"},
    {"  <MSR>\n    DevicePath \"/a\" \"/b\"\n  </MSR>\n", "DevicePath: expected one string (an absolute path), got 2 values"},
    {"  Zones \"package\" \"gpu\"\n", "Zones: unknown domain \"gpu\""},
    /* energy per cgroup (SPEC 9) */
    {"  Cgroups \"/sys/fs/cgroup/system.slice\"\n",
     "Cgroups: \"/sys/fs/cgroup/system.slice\": expected a glob relative to "
     "CgroupPath, e.g. \"system.slice/*.service\", got an absolute path"},
    {"  Cgroups \"system.slice/../../etc\"\n", "got a \"..\" component"},
    {"  Cgroups \"user-[0-9.slice\"\n",
     "Cgroups: \"user-[0-9.slice\": unbalanced '[' at byte 6"},
    {"  Cgroups 5\n", "Cgroups: expected globs relative to CgroupPath as "
                      "strings, value 1 is a number"},
    {"  CgroupPath \"sys/fs/cgroup\"\n",
     "CgroupPath: expected an absolute path, got the relative path"},
};

START_TEST(bad_config_is_refused_with_one_clear_error) {
  char *dir = make_temp_dir("conf");
  char *conf = write_conf(dir, "/sys", bad_configs[_i].block, 1);
  char *log = path_join(dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-T", "-C", conf, NULL};
  int status = wait_exit(spawn(argv, log), 30);
  char *logf = path_join(dir, "collectd.log");
  char *text = slurp(logf);
  ck_assert_msg(status != 0, "collectd accepted: %s", bad_configs[_i].block);
  ck_assert_msg(strstr(text, bad_configs[_i].expected) != NULL,
                "expected \"%s\" in:\n%s", bad_configs[_i].expected, text);
  ck_assert_msg(count_lines_with(text, "rapl plugin:") == 1,
                "not exactly one rapl line:\n%s", text);
  free(text);
  free(logf);
  free(log);
  free(conf);
  rm_tree(dir);
  free(dir);
}
END_TEST

/* SPEC 5: a Kepler-style file that enables MSR takes effect. The machine
 * has no powercap; its MSRs are served over FUSE by rapl-sim; the block
 * names only the file. */
START_TEST(config_file_enables_msr) {
  e2e_t t = {0};
  start_sim_args(&t, "xeon-2s", 3600, "--msr", "fuse", "--no-powercap");
  char *yaml = path_join(t.dir, "kepler.yaml");
  FILE *f = fopen(yaml, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "log:\n  level: debug\n"
          "host:\n  sysfs: %s/sys\n  procfs: %s/proc\n"
          "rapl:\n  zones: []\n"
          "cpu:\n  preferredMeters: [rapl]\n"
          "device:\n  msr:\n    enabled: true\n"
          "    devicePath: %s/dev/cpu/%%d/msr\n"
          "web:\n  listenAddresses: [\":28282\"]\n",
          t.root, t.root, t.root);
  fclose(f);
  char block[8192];
  snprintf(block, sizeof(block), "  ConfigFile \"%s\"\n", yaml);
  char *conf = write_conf(t.dir, NULL, block, 1);
  ck_assert_int_eq(run_collectd(t.dir, conf, 4.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(strstr(log, "rapl plugin: using rapl-msr") != NULL, "%s", log);
  ck_assert_msg(count_lines_with(log, "CVE-2020-8694") == 1, "%s", log);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  ck_assert_msg(series(csv, "rapl/gauge-meter-rapl-msr") != NULL, "%s", log);
  const series_t *p = series(csv, "rapl-package-0/power-package");
  ck_assert_msg(p != NULL && p->n >= 2, "no package power:\n%s", log);
  double watts =
      (double)sim_zone_power_uw(t.model, sim_find(t.model, "package-0",
                                                  "package")) / 1e6;
  for (size_t k = 0; k < p->n; k++)
    ck_assert_double_eq_tol(p->v[k], watts, 0.01 * watts);
  printf("ConfigFile enabling MSR: %zu power values, %.3f W (simulated %.3f W)\n",
         p->n, p->v[p->n - 1], watts);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(conf);
  free(yaml);
  stop_sim(&t);
}
END_TEST

/* SPEC 5: a syntax error in the file is a configuration error naming the
 * file, line and column; collectd refuses to start. */
START_TEST(config_file_syntax_error_is_refused) {
  char *dir = make_temp_dir("conf-yaml");
  char *yaml = path_join(dir, "kepler.yaml");
  FILE *f = fopen(yaml, "w");
  ck_assert_ptr_nonnull(f);
  fputs("host:\n  sysfs: /sys\n   procfs: /proc\n", f);
  fclose(f);
  char block[8192];
  snprintf(block, sizeof(block), "  ConfigFile \"%s\"\n", yaml);
  char *conf = write_conf(dir, "/sys", block, 1);
  char *log = path_join(dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-T", "-C", conf, NULL};
  int status = wait_exit(spawn(argv, log), 30);
  char *logf = path_join(dir, "collectd.log");
  char *text = slurp(logf);
  ck_assert_msg(status != 0, "collectd accepted a file with a syntax error");
  char expected[8300];
  snprintf(expected, sizeof(expected),
           "rapl plugin: ConfigFile: %s:3:10: YAML syntax error: ", yaml);
  ck_assert_msg(count_lines_with(text, expected) == 1, "expected \"%s\" in:\n%s",
                expected, text);
  ck_assert_msg(count_lines_with(text, "rapl plugin:") == 1,
                "not exactly one rapl line:\n%s", text);
  free(text);
  free(logf);
  free(log);
  free(conf);
  free(yaml);
  rm_tree(dir);
  free(dir);
}
END_TEST

START_TEST(no_source_is_one_error_and_collectd_runs_on) {
  char *dir = make_temp_dir("nosrc");
  char *conf = write_conf(dir, dir, NULL, 1); /* a sysfs without powercap */
  ck_assert_int_eq(run_collectd(dir, conf, 3.5, NULL), 0);
  char *logf = path_join(dir, "collectd.log");
  char *text = slurp(logf);
  ck_assert_msg(count_lines_with(text, "rapl plugin: no energy source available: "
                                       "powercap: ") == 1,
                "%s", text);
  ck_assert_msg(strstr(text, "class/powercap: not present") != NULL, "%s", text);
  free(text);
  free(logf);
  free(conf);
  rm_tree(dir);
  free(dir);
}
END_TEST

/* ---- valgrind ------------------------------------------------------------ */

START_TEST(valgrind_30_reads_clean) {
  e2e_t t = {0};
  start_sim(&t, "xeon-2s", 10.0);
  char *sysfs = path_join(t.root, "sys");
  char *conf = write_conf(t.dir, sysfs, NULL, 1);
  char *vlog = path_join(t.dir, "valgrind.log");
  char *logopt = NULL;
  ck_assert_int_ge(asprintf(&logopt, "--log-file=%s", vlog), 0);
  char *wrapper[] = {"/usr/bin/valgrind", "--error-exitcode=99",
                     "--leak-check=full", "--errors-for-leak-kinds=definite",
                     "--show-leak-kinds=definite", logopt, NULL};
  ck_assert_msg(access(wrapper[0], X_OK) == 0, "valgrind is not installed");
  /* 30 reads at Interval 1, plus valgrind's start-up */
  int status = run_collectd(t.dir, conf, 36, wrapper);
  char *vtext = slurp(vlog);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(status == 0, "valgrind/collectd exit %d:\n%s", status, vtext);
  ck_assert_msg(strstr(vtext, "ERROR SUMMARY: 0 errors") != NULL, "%s", vtext);
  /* --errors-for-leak-kinds=definite: a definite leak is an error too */
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  const series_t *d = series(csv, "rapl-package-0/derive-package");
  ck_assert_ptr_nonnull(d);
  ck_assert_msg(d->n >= 30, "only %zu reads under valgrind", d->n);
  /* for the record: valgrind's own summary lines */
  for (const char *line = vtext; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (memmem(line, len, "ERROR SUMMARY", 13) || memmem(line, len, "definitely lost", 15) ||
        memmem(line, len, "in use at exit", 14) || memmem(line, len, "All heap blocks", 15))
      printf("valgrind (%zu reads): %.*s\n", d->n, (int)len, line);
    line = end ? end + 1 : NULL;
  }
  fflush(stdout);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  free(csv);
  free(log);
  free(logf);
  free(vtext);
  free(logopt);
  free(vlog);
  free(conf);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("collectd");
  TCase *machines = tcase_create("machines");
  tcase_set_timeout(machines, 120);
  tcase_add_test(machines, laptop_psys);
  tcase_add_test(machines, xeon_2s);
  tcase_add_test(machines, epyc_2s);
  tcase_add_test(machines, spr_2s_psys);
  tcase_add_test(machines, xeon_multidie);
  tcase_add_test(machines, xeon_2s_msr_without_powercap);
  tcase_add_test(machines, epyc_2s_msr_without_powercap);
  suite_add_tcase(s, machines);
  TCase *config = tcase_create("config");
  tcase_set_timeout(config, 60);
  tcase_add_loop_test(config, bad_config_is_refused_with_one_clear_error, 0,
                      (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
  tcase_add_test(config, no_source_is_one_error_and_collectd_runs_on);
  tcase_add_test(config, config_file_enables_msr);
  tcase_add_test(config, config_file_syntax_error_is_refused);
  tcase_add_test(config, meters_appearing_after_start_are_picked_up);
  suite_add_tcase(s, config);
  TCase *vg = tcase_create("valgrind");
  tcase_set_timeout(vg, 300);
  tcase_add_test(vg, valgrind_30_reads_clean);
  suite_add_tcase(s, vg);
  return run_suite(s);
}
