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

/* The ticks of one set, through the per-die table as the meter uses it. */
static void set_ticks(const rapl_cpu_snapshot_t *before,
                      const rapl_cpu_snapshot_t *after,
                      const rapl_topology_t *topo, rapl_cpu_set_t set,
                      uint64_t *busy, uint64_t *total) {
  rapl_cpu_ticks_t t = {0};
  ck_assert_int_eq(rapl_cpu_ticks_index(&t, topo), 0);
  rapl_cpu_ticks_sum(&t, before, after, topo);
  rapl_cpu_ticks_of(&t, set, busy, total);
  rapl_cpu_ticks_free(&t);
}

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
  set_ticks(&before, &after, &topo, (rapl_cpu_set_t){0, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 180);
  ck_assert_uint_eq(total, 200);
  set_ticks(&before, &after, &topo, (rapl_cpu_set_t){1, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 10);
  set_ticks(&before, &after, &topo, (rapl_cpu_set_t){-1, -1}, &busy, &total);
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
  set_ticks(&before, &after, &topo, (rapl_cpu_set_t){-1, -1}, &busy, &total);
  ck_assert_uint_eq(busy, 100); /* cpu1 only */
  ck_assert_uint_eq(total, 200);
  ck_assert_uint_le(busy, total);
}
END_TEST

/* The per-die table against the plain definition - a pass over the CPUs
 * of the set - on random machines: package ids sparse and unordered,
 * several dies, CPUs offline at either end or restarted, sets of packages
 * and dies that are not there. */
static void reference(const rapl_cpu_snapshot_t *before,
                      const rapl_cpu_snapshot_t *after,
                      const rapl_topology_t *machine, rapl_cpu_set_t set,
                      uint64_t *busy, uint64_t *total) {
  *busy = *total = 0;
  for (size_t i = 0; i < machine->count; i++) {
    const rapl_cpu_topo_t *c = &machine->cpus[i];
    if (set.package >= 0 &&
        (c->package != set.package || (set.die >= 0 && c->die != set.die)))
      continue;
    const rapl_cpu_times_t *b = &before->cpus[c->cpu], *a = &after->cpus[c->cpu];
    if (!b->present || !a->present || a->busy < b->busy || a->idle < b->idle)
      continue;
    *busy += a->busy - b->busy;
    *total += (a->busy - b->busy) + (a->idle - b->idle);
  }
}

START_TEST(per_die_sums_match_a_pass_per_set) {
  enum { CPUS = 64 };
  static rapl_cpu_topo_t c[CPUS];
  static rapl_cpu_times_t b[CPUS], a[CPUS];
  rapl_cpu_snapshot_t before = {.cpus = b, .count = CPUS},
                      after = {.cpus = a, .count = CPUS};
  srand(4242);
  for (int round = 0; round < 500; round++) {
    size_t n = (size_t)(rand() % CPUS);
    int packages[4] = {rand() % 100, rand() % 100, rand() % 3, 7};
    for (size_t i = 0; i < n; i++)
      c[i] = (rapl_cpu_topo_t){.cpu = (unsigned)i,
                               .package = packages[rand() % 4],
                               .die = rand() % 3,
                               .core = 0};
    for (size_t i = 0; i < CPUS; i++) {
      b[i] = (rapl_cpu_times_t){rand() % 8 != 0, (uint64_t)(rand() % 1000),
                                (uint64_t)(rand() % 1000)};
      a[i] = (rapl_cpu_times_t){rand() % 8 != 0, (uint64_t)(rand() % 2000),
                                (uint64_t)(rand() % 2000)};
    }
    rapl_topology_t machine = {c, n};
    rapl_cpu_ticks_t t = {0};
    ck_assert_int_eq(rapl_cpu_ticks_index(&t, &machine), 0);
    rapl_cpu_ticks_sum(&t, &before, &after, &machine);
    for (int p = -1; p < 4; p++)
      for (int d = -1; d < 4; d++) {
        rapl_cpu_set_t set = {p < 0 ? -1 : packages[p], d};
        uint64_t busy, total, want_busy, want_total;
        rapl_cpu_ticks_of(&t, set, &busy, &total);
        reference(&before, &after, &machine, set, &want_busy, &want_total);
        ck_assert_msg(busy == want_busy && total == want_total,
                      "round %d, package %d die %d: %llu/%llu, want "
                      "%llu/%llu",
                      round, set.package, d, (unsigned long long)busy,
                      (unsigned long long)total,
                      (unsigned long long)want_busy,
                      (unsigned long long)want_total);
      }
    rapl_cpu_ticks_free(&t);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("cpu_activity");
  TCase *tc = tcase_create("cpu_activity");
  tcase_add_test(tc, per_cpu_lines_are_parsed);
  tcase_add_test(tc, malformed_lines_are_refused);
  tcase_add_test(tc, set_ratios_follow_their_cpus);
  tcase_add_test(tc, offline_and_restarted_cpus_are_left_out);
  tcase_add_test(tc, per_die_sums_match_a_pass_per_set);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
