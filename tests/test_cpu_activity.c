/* test_cpu_activity.c - /proc/stat parsing and busy ratios of CPU sets
 * (SPEC 4, active/idle). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_activity.h"
#include "testutil.h"

#define MAXC 16

static int parse(const char *text, rapl_cpu_times_t *t) {
  return rapl_parse_proc_stat(text, strlen(text), t, MAXC);
}

START_TEST(per_cpu_lines_are_parsed) {
  rapl_cpu_times_t t[MAXC];
  /* user nice system idle iowait irq softirq steal guest guest_nice */
  const char *stat = "cpu  10 0 10 80 0 0 0 0 0 0\n"
                     "cpu0 1 2 3 40 5 6 7 8 9 10\n"
                     "cpu3 100 0 0 900\n" /* an old kernel: four fields */
                     "intr 12345 0 0\nctxt 99\nbtime 1\n";
  ck_assert_int_eq(parse(stat, t), 2);
  ck_assert(t[0].present && !t[1].present && !t[2].present && t[3].present);
  ck_assert_uint_eq(t[0].busy, 1 + 2 + 3 + 6 + 7 + 8); /* guest is in user */
  ck_assert_uint_eq(t[0].idle, 40 + 5);
  ck_assert_uint_eq(t[3].busy, 100);
  ck_assert_uint_eq(t[3].idle, 900);
}
END_TEST

START_TEST(malformed_lines_are_refused) {
  rapl_cpu_times_t t[MAXC];
  ck_assert_int_eq(parse("cpu0 1 2 x 4\n", t), -EINVAL);
  ck_assert_int_eq(parse("cpu0 1 2 3\n", t), -EINVAL);  /* too few */
  ck_assert_int_eq(parse("cpu0\t1 2 3 4\n", t), -EINVAL);
  ck_assert_int_eq(parse("cpu1 1 2 3 4\ncpu1 1 2 3 4\n", t), -EINVAL);
  ck_assert_int_eq(parse("cpu99 1 2 3 4\n", t), -ERANGE);
  ck_assert_int_eq(parse("cpu0 99999999999999999999 0 0 0\n", t), -EINVAL);
  ck_assert_int_eq(parse("", t), 0);
  /* the kernel prints no leading zero: "cpu00" would alias cpu0 (found by
   * fuzz_proc_stat) */
  ck_assert_int_eq(parse("cpu00 1 2 3 4\n", t), -EINVAL);
  ck_assert_int_eq(parse("cpu01 1 2 3 4\n", t), -EINVAL);
  ck_assert_int_eq(parse("cpu0 1 2 3 4\ncpu10 1 2 3 4\n", t), 2);
}
END_TEST

/* two packages of two CPUs: 0,1 on package 0, 2,3 on package 1 */
static rapl_cpu_topo_t cpus[] = {{0, 0, 0, 0}, {1, 0, 0, 1}, {2, 1, 0, 0}, {3, 1, 0, 1}};
static const rapl_topology_t topo = {cpus, 4};

START_TEST(set_ratios_follow_their_cpus) {
  rapl_cpu_times_t b[MAXC], a[MAXC];
  rapl_cpu_snapshot_t before = {.cpus = b, .count = MAXC},
                      after = {.cpus = a, .count = MAXC};
  ck_assert_int_eq(parse("cpu0 0 0 0 0\ncpu1 0 0 0 0\ncpu2 0 0 0 0\ncpu3 0 0 0 0\n", b), 4);
  ck_assert_int_eq(parse("cpu0 90 0 0 10\ncpu1 80 0 10 10\ncpu2 5 0 0 95\ncpu3 0 0 5 95\n", a), 4);
  uint64_t busy, total;
  rapl_cpu_set_ticks(&before, &after, &topo, (rapl_cpu_set_t){0, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 180);
  ck_assert_uint_eq(total, 200);
  rapl_cpu_set_ticks(&before, &after, &topo, (rapl_cpu_set_t){1, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 10);
  rapl_cpu_set_ticks(&before, &after, &topo, (rapl_cpu_set_t){-1, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 190);
  ck_assert_uint_eq(total, 400);
}
END_TEST

/* A CPU offline at either end, or whose counters restarted (hot-replug),
 * is left out: the ratio never leaves 0..1. */
START_TEST(offline_and_restarted_cpus_are_left_out) {
  rapl_cpu_times_t b[MAXC], a[MAXC];
  rapl_cpu_snapshot_t before = {.cpus = b, .count = MAXC},
                      after = {.cpus = a, .count = MAXC};
  ck_assert_int_eq(parse("cpu0 1000 0 0 1000\ncpu1 500 0 0 500\ncpu2 7 0 0 3\n", b), 3);
  ck_assert_int_eq(parse("cpu0 2 0 0 1\ncpu1 600 0 0 600\ncpu3 50 0 0 50\n", a), 3);
  uint64_t busy, total;
  rapl_cpu_set_ticks(&before, &after, &topo, (rapl_cpu_set_t){-1, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 100); /* cpu1 only */
  ck_assert_uint_eq(total, 200);
  ck_assert_uint_le(busy, total);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cpu_activity");
  TCase *tc = tcase_create("cpu_activity");
  tcase_add_test(tc, per_cpu_lines_are_parsed);
  tcase_add_test(tc, malformed_lines_are_refused);
  tcase_add_test(tc, set_ratios_follow_their_cpus);
  tcase_add_test(tc, offline_and_restarted_cpus_are_left_out);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
