/* test_hwmon_collectd.c - end to end: the real collectd loads rapl.so on a
 * machine with no powercap and MSR disabled (the default) whose only meter
 * is an X-Gene's hwmon chip (a static tree: constant power), and falls
 * back to hwmon without an ERROR (SPEC 1, 8).
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "testutil.h"

static void put(const char *dir, const char *file, const char *content) {
  char *path = path_join(dir, file);
  FILE *f = fopen(path, "w");
  ck_assert_msg(f != NULL, "%s", path);
  fputs(content, f);
  fclose(f);
  free(path);
}

START_TEST(xgene_without_powercap_or_msr) {
  char *dir = make_temp_dir("hwmon-e2e");
  char *sysfs = path_join(dir, "sys");
  char *chip = path_join(dir, "sys/class/hwmon/hwmon0");
  char *nvme = path_join(dir, "sys/class/hwmon/hwmon1");
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s'", chip, nvme);
  ck_assert_int_eq(system(cmd), 0);
  put(chip, "name", "apm_xgene\n");
  put(chip, "temp1_label", "SoC Temperature\n");
  put(chip, "temp1_input", "35000\n");
  put(chip, "power1_label", "CPU power\n");
  put(chip, "power1_input", "16280000\n");
  put(chip, "power2_label", "IO power\n");
  put(chip, "power2_input", "31900000\n");
  put(nvme, "name", "nvme\n");
  put(nvme, "temp1_input", "41000\n");
  char *conf = write_conf(dir, sysfs, NULL, 1);
  ck_assert_int_eq(run_collectd(dir, conf, 5.5, NULL), 0);
  char *logf = path_join(dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(strstr(log, "rapl plugin: using hwmon") != NULL, "%s", log);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(dir, csv);
  ck_assert_ptr_nonnull(series(csv, "rapl/gauge-meter-hwmon"));
  const series_t *d = series(csv, "rapl-apm_xgene/derive-cpu_power");
  const series_t *p = series(csv, "rapl-apm_xgene/power-cpu_power");
  const series_t *io = series(csv, "rapl-apm_xgene/power-io_power");
  ck_assert_msg(d != NULL && d->n >= 3, "no derive-cpu_power:\n%s", log);
  ck_assert_msg(p != NULL && p->n >= 2, "no power-cpu_power:\n%s", log);
  ck_assert_msg(io != NULL && io->n >= 2, "no power-io_power:\n%s", log);
  ck_assert_ptr_nonnull(series(csv, "rapl-total/power-cpu_power"));
  ck_assert_double_eq(d->v[0], 0); /* the first read is the baseline */
  double worst = 0;
  for (size_t k = 0; k < p->n; k++) {
    worst = fmax(worst, fabs(p->v[k] - 16.28) / 16.28);
    ck_assert_msg(fabs(p->v[k] - 16.28) <= 0.01 * 16.28, "%.4f W", p->v[k]);
  }
  for (size_t k = 0; k < io->n; k++)
    ck_assert_msg(fabs(io->v[k] - 31.9) <= 0.01 * 31.9, "%.4f W", io->v[k]);
  double joules = d->v[d->n - 1] - d->v[0];
  double expect_j = 16.28 * (d->t[d->n - 1] - d->t[0]);
  ck_assert_msg(fabs(joules - expect_j) <= 0.01 * expect_j + 1.0,
                "counted %.0f J, expected %.2f J", joules, expect_j);
  printf("hwmon e2e: %zu identifiers:", csv->n);
  for (size_t i = 0; i < csv->n; i++)
    printf(" %s", csv->s[i].id);
  printf("\nhwmon e2e: worst power error %.3f %%, energy %.0f J for %.2f J\n",
         100 * worst, joules, expect_j);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(conf);
  free(nvme);
  free(chip);
  free(sysfs);
  rm_tree(dir);
  free(dir);
}
END_TEST

/* The shipped hwmon machines, run by rapl-sim (files mode: energy, power
 * and /proc/stat rewritten as time passes), through the fallback order:
 * no powercap, MSR disabled, hwmon used. Every expected power within 1 %,
 * every energy within 1 % + 1 J of power x time; nothing else dispatched
 * for the ignored chips (nvme, a disabled meter, amdgpu). */
typedef struct {
  const char *id; /* rapl-<zone>/power-<domain> */
  double watts;
} want_t;

typedef struct {
  const char *machine;
  const char *extra; /* <Plugin rapl> lines */
  want_t want[8];
  const char *absent[4];
  double ratio[3]; /* package-0, package-1, total busy ratios; 0: none */
} hwmon_machine_t;

static const hwmon_machine_t machines[] = {
    {"xgene-arm", NULL,
     {{"rapl-apm_xgene/power-cpu_power", 16.28},
      {"rapl-apm_xgene/power-io_power", 31.90}},
     {"rapl-nvme/power-power1"}, {0}},
    {"epyc-amd-energy-2s", NULL,
     {{"rapl-package-0/power-package", 95.0},
      {"rapl-package-1/power-package", 60.0},
      {"rapl-package-0/power-core", 6.0 + 5.5 + 5.0 + 4.5},
      {"rapl-package-1/power-core", 1.25 + 1.0 + 0.75 + 0.5},
      {"rapl-total/power-package", 155.0}},
     {NULL}, {0.9, 0.05, 0.475}},
    {"acpi-power-meter", NULL,
     {{"rapl-power_meter/power-power1", 250.0}},
     {"rapl-power_meter-2/power-power1", "rapl-amdgpu/power-power1"}, {0}},
    {"ina3221-board", "  HwmonChips \"ina3221\" \"board_vmon\"\n",
     {{"rapl-ina3221/power-vdd_in", 5.000 * 1.600},
      {"rapl-ina3221/power-vdd_cpu_gpu_cv", 4.992 * 0.480},
      {"rapl-ina3221/power-vdd_soc", 4.996 * 0.320},
      {"rapl-board_vmon/power-vdd_ddr", 1.100 * 0.900}},
     {NULL}, {0}},
};

START_TEST(shipped_hwmon_machine_end_to_end) {
  const hwmon_machine_t *hm = &machines[_i];
  e2e_t t = {0};
  start_sim_args(&t, hm->machine, 3600.0, NULL, NULL, NULL);
  char *sysfs = path_join(t.root, "sys");
  char extra[4096];
  snprintf(extra, sizeof(extra), "  ProcfsPath \"%s/proc\"\n%s", t.root,
           hm->extra ? hm->extra : "");
  char *conf = write_conf(t.dir, sysfs, extra, 1);
  ck_assert_int_eq(run_collectd(t.dir, conf, 6.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(strstr(log, "rapl plugin: using hwmon") != NULL, "%s", log);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  ck_assert_ptr_nonnull(series(csv, "rapl/gauge-meter-hwmon"));
  double worst_w = 0, worst_j = 0;
  for (size_t w = 0; w < 8 && hm->want[w].id; w++) {
    const series_t *p = series(csv, hm->want[w].id);
    ck_assert_msg(p != NULL && p->n >= 3, "%s: no %s", hm->machine, hm->want[w].id);
    for (size_t k = 0; k < p->n; k++) {
      double err = fabs(p->v[k] - hm->want[w].watts) / hm->want[w].watts;
      worst_w = fmax(worst_w, err);
      ck_assert_msg(err <= 0.01, "%s: %s = %.4f W, expected %.4f W", hm->machine,
                    hm->want[w].id, p->v[k], hm->want[w].watts);
    }
    char id[256];
    const char *slash = strchr(hm->want[w].id, '/');
    snprintf(id, sizeof(id), "%.*s/derive-%s", (int)(slash - hm->want[w].id),
             hm->want[w].id, slash + 7);
    const series_t *d = series(csv, id);
    ck_assert_msg(d != NULL && d->n >= 3, "%s: no %s", hm->machine, id);
    double joules = d->v[d->n - 1] - d->v[0];
    double expect = hm->want[w].watts * (d->t[d->n - 1] - d->t[0]);
    worst_j = fmax(worst_j, fabs(joules - expect));
    ck_assert_msg(fabs(joules - expect) <= 0.01 * expect + 1.0,
                  "%s: %s counted %.0f J, expected %.2f J", hm->machine, id,
                  joules, expect);
  }
  for (size_t a = 0; a < 4 && hm->absent[a]; a++)
    ck_assert_msg(series(csv, hm->absent[a]) == NULL, "%s: %s dispatched",
                  hm->machine, hm->absent[a]);
  const char *keys[3] = {"package-0", "package-1", "total"};
  for (size_t k = 0; k < 3 && hm->ratio[k] > 0; k++) {
    char id[128];
    snprintf(id, sizeof(id), "rapl-%s/gauge-cpu_usage_ratio", keys[k]);
    const series_t *r = series(csv, id);
    ck_assert_msg(r != NULL && r->n >= 2, "%s: no %s", hm->machine, id);
    for (size_t i = 0; i < r->n; i++)
      ck_assert_msg(fabs(r->v[i] - hm->ratio[k]) <= 0.02, "%s: %s = %.4f",
                    hm->machine, id, r->v[i]);
  }
  printf("hwmon machine %-20s %zu series, worst power error %.3f %%, worst "
         "energy error %.2f J\n",
         hm->machine, csv->n, 100 * worst_w, worst_j);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(conf);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("hwmon_collectd");
  TCase *tc = tcase_create("collectd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, xgene_without_powercap_or_msr);
  tcase_add_loop_test(tc, shipped_hwmon_machine_end_to_end, 0,
                      (int)(sizeof(machines) / sizeof(machines[0])));
  suite_add_tcase(s, tc);
  return run_suite(s);
}
