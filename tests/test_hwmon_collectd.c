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

int main(void) {
  Suite *s = suite_create("hwmon_collectd");
  TCase *tc = tcase_create("collectd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, xgene_without_powercap_or_msr);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
