/* test_soak.c - 30 days of a busy 2-socket server, compressed: power
 * changing every 10 simulated minutes, counters read every 15 s (inside
 * the 16.4 s safe period), thousands of wraps, through the real sources
 * and the accounting. The MSR path must end exactly on the hardware truth
 * (every tick, every microjoule before flooring); the powercap path on the
 * kernel's own arithmetic, whose cost against the truth is printed. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting.h"
#include "msr.h"
#include "testutil.h"

#define SEC UINT64_C(1000000000)
#define DAYS 30
#define STEP_S 15

typedef struct {
  rapl_counter_t counter;
  const rapl_zone_info_t *info;
  size_t sim_zone;
} book_t;

static int sim_open_cpu(void *opaque, unsigned cpu) {
  return sim_cpu_online(opaque, cpu) ? 0 : -ENXIO;
}
static int sim_read(void *opaque, unsigned cpu, uint32_t reg, uint64_t *v) {
  return sim_msr_read(opaque, cpu, reg, v);
}
static void sim_close(void *opaque) { (void)opaque; }

/* A deterministic busy profile: 60..400 W per package, 8..60 W per DRAM. */
static uint32_t lcg(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

static void set_load(sim_machine_t *m, uint32_t *rng) {
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    bool dram = strcmp(sim_zone_name(m, i), "dram") == 0;
    uint64_t lo = dram ? 8 : 60, hi = dram ? 60 : 400;
    uint64_t watts_x1000 = lo * 1000 + lcg(rng) % ((hi - lo) * 1000);
    sim_zone_set_power_uw(m, i, watts_x1000 * 1000);
  }
}

static void open_books(const rapl_source_ops_t *ops, rapl_source_t *src,
                       sim_machine_t *m, book_t *books) {
  for (size_t i = 0; i < ops->zone_count(src); i++) {
    books[i].info = ops->zone_info(src, i);
    books[i].sim_zone = sim_find(m, books[i].info->key, books[i].info->domain);
    rapl_counter_init(&books[i].counter, books[i].info->wrap_range,
                      books[i].info->uj_per_unit_num,
                      books[i].info->uj_per_unit_den, books[i].info->max_power_uw);
  }
}

static void sample_books(const rapl_source_ops_t *ops, rapl_source_t *src,
                         book_t *books, uint64_t now_ns) {
  for (size_t i = 0; i < ops->zone_count(src); i++) {
    uint64_t raw;
    ck_assert_int_eq(ops->read(src, i, &raw), 0);
    ck_assert_int_ne(rapl_counter_sample(&books[i].counter, raw, now_ns),
                     RAPL_SAMPLE_RESET);
  }
}

START_TEST(thirty_days_busy_two_sockets) {
  char *root;
  sim_machine_t *m = sim_start("xeon-2s", &root);
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", root);
  o.msr_enabled = true;
  char why[1024];
  rapl_source_t *msr = NULL, *pc = NULL;
  rapl_msr_access_t access = {sim_open_cpu, sim_read, sim_close, m};
  ck_assert_msg(rapl_msr_source_open_with(&o, access, &msr, why, sizeof(why)) == 0,
                "%s", why);
  ck_assert_msg(rapl_powercap_source.open(&o, &pc, why, sizeof(why)) == 0, "%s", why);
  size_t n = rapl_msr_source.zone_count(msr);
  ck_assert_uint_eq(n, rapl_powercap_source.zone_count(pc));
  book_t bm[8], bp[8];
  open_books(&rapl_msr_source, msr, m, bm);
  open_books(&rapl_powercap_source, pc, m, bp);
  uint64_t start_ticks[8], start_uj[8];
  for (size_t i = 0; i < n; i++) {
    size_t z = bm[i].sim_zone;
    start_ticks[i] = sim_zone_start_nj(m, z) / sim_zone_unit_nj(m, z);
    start_uj[i] = sim_zone_energy_uj(m, z);
  }

  uint32_t rng = 2026;
  uint64_t now = 0;
  sample_books(&rapl_msr_source, msr, bm, now);
  sample_books(&rapl_powercap_source, pc, bp, now);
  const uint64_t steps = (uint64_t)DAYS * 24 * 3600 / STEP_S;
  for (uint64_t step = 0; step < steps; step++) {
    if (step % (600 / STEP_S) == 0)
      set_load(m, &rng);
    ck_assert_int_eq(sim_advance_ns(m, STEP_S * SEC), 0);
    now += STEP_S * SEC;
    sample_books(&rapl_msr_source, msr, bm, now);
    sample_books(&rapl_powercap_source, pc, bp, now);
  }

  for (size_t i = 0; i < n; i++) {
    size_t z = bm[i].sim_zone;
    uint64_t unit_nj = sim_zone_unit_nj(m, z);
    uint64_t truth_nj = sim_zone_truth_nj(m, z);
    /* the hardware truth: every tick the 32-bit counter made */
    uint64_t ticks = (sim_zone_start_nj(m, z) + truth_nj) / unit_nj - start_ticks[i];
    const rapl_zone_info_t *info = bm[i].info;
    uint64_t expect_uj = rapl_units_to_uj(ticks, info->uj_per_unit_num,
                                          info->uj_per_unit_den);
    uint64_t msr_uj = rapl_counter_total_uj(&bm[i].counter);
    /* powercap: the kernel's energy_uj and the SPEC wrap rule
     * (max - prev) + cur + u, u = round(max / 0xFFFFFFFF) one unit */
    uint64_t range = sim_zone_max_range_uj(m, z);
    uint64_t unit_uj = (range + UINT32_MAX / 2) / UINT32_MAX;
    uint64_t kernel_uj = sim_zone_energy_uj(m, z) +
                         bp[i].counter.wraps * (range + unit_uj) - start_uj[i];
    uint64_t pc_uj = rapl_counter_total_uj(&bp[i].counter);
    /* what is left: max_energy_range_uj is floored to whole uJ, so each
     * wrap may come up to 1 uJ short of 2^32 ticks - never a whole unit */
    uint64_t ticks_uj = ticks * unit_nj / 1000;
    uint64_t gap_uj = pc_uj > ticks_uj ? pc_uj - ticks_uj : ticks_uj - pc_uj;
    printf("soak %s/%s: %llu wraps; truth %llu ticks = %llu uJ; msr %llu ticks "
           "= %llu uJ (error %lld uJ); powercap %llu uJ (kernel rule %llu uJ, "
           "%lld uJ from the ticks: %.6f ppm)\n",
           info->key, info->domain, (unsigned long long)bm[i].counter.wraps,
           (unsigned long long)ticks, (unsigned long long)expect_uj,
           (unsigned long long)bm[i].counter.total_units,
           (unsigned long long)msr_uj, (long long)(msr_uj - expect_uj),
           (unsigned long long)pc_uj, (unsigned long long)kernel_uj,
           (long long)(pc_uj - ticks * unit_nj / 1000),
           1e6 * ((double)pc_uj - (double)ticks * (double)unit_nj / 1000) /
               ((double)ticks * (double)unit_nj / 1000));
    ck_assert_uint_ge(bm[i].counter.wraps, 100);
    ck_assert_uint_eq(bm[i].counter.resets, 0);
    ck_assert_uint_eq(bm[i].counter.total_units, ticks);
    ck_assert_uint_eq(msr_uj, expect_uj);
    ck_assert_uint_eq(bp[i].counter.wraps, bm[i].counter.wraps);
    ck_assert_uint_eq(pc_uj, kernel_uj);
    ck_assert_uint_le(gap_uj, bp[i].counter.wraps + 1);
  }
  fflush(stdout);
  rapl_msr_source.close(msr);
  rapl_powercap_source.close(pc);
  sim_stop(m, root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("soak");
  TCase *tc = tcase_create("soak");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, thirty_days_busy_two_sockets);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
