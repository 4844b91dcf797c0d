/* test_cgroup_model.c - the model half of cgroup.h (SPEC 9): shares of
 * the active energy (Kepler's Δusage / Δbusy, clamped where cgroups that
 * do not contain each other add up to more than the busy time) and energy
 * exact to the microjoule over many samples. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cgroup.h"
#include "testutil.h"

#define SEC_USEC UINT64_C(1000000)

/* Two services on a 4-CPU machine busy for 2 s of CPU time in a 1 s
 * sample: one uses 0.6 s (0.30 of the busy time), the other 0.3 s (0.15).
 * Of 80 J of active energy they get 24 J and 12 J, to the microjoule, and
 * still over an hour of such samples. */
START_TEST(two_services_get_their_share) {
  const uint64_t busy = 2 * SEC_USEC;
  const uint64_t usage[2] = {600000, 300000};
  const bool valid[2] = {true, true};
  const long parent[2] = {-1, -1};
  double share[2];
  rapl_cgroup_shares(usage, valid, parent, 2, busy, share);
  ck_assert_double_eq_tol(share[0], 0.30, 1e-15);
  ck_assert_double_eq_tol(share[1], 0.15, 1e-15);

  const uint64_t active_uj = 80 * SEC_USEC;
  rapl_cgroup_energy_t e[2] = {{0}, {0}};
  ck_assert_uint_eq(rapl_cgroup_energy_add(&e[0], share[0], active_uj),
                    24 * SEC_USEC);
  ck_assert_uint_eq(rapl_cgroup_energy_add(&e[1], share[1], active_uj),
                    12 * SEC_USEC);
  for (int s = 1; s < 3600; s++) {
    rapl_cgroup_energy_add(&e[0], share[0], active_uj);
    rapl_cgroup_energy_add(&e[1], share[1], active_uj);
  }
  /* 3600 x 24 J and 3600 x 12 J, within 1 uJ */
  int64_t d0 = (int64_t)e[0].energy_uj - (int64_t)(3600 * 24 * SEC_USEC);
  int64_t d1 = (int64_t)e[1].energy_uj - (int64_t)(3600 * 12 * SEC_USEC);
  ck_assert_msg(llabs(d0) <= 1 && llabs(d1) <= 1,
                "a: %llu uJ (%+lld), b: %llu uJ (%+lld)",
                (unsigned long long)e[0].energy_uj, (long long)d0,
                (unsigned long long)e[1].energy_uj, (long long)d1);
}
END_TEST

/* 1e6 samples whose usage, busy time and active energy all vary, shares
 * that are not round numbers: the sum of the attributions equals the
 * exact rational sum (computed in 128-bit integers) within 1 uJ. Without
 * the carried fraction each sample would lose up to 1 uJ, so up to 1 J. */
START_TEST(exact_to_the_microjoule_over_a_million_samples) {
  rapl_cgroup_energy_t e = {0};
  const uint64_t busy = 3999983; /* prime: shares are never round */
  unsigned __int128 num = 0;     /* sum of usage x active, over busy */
  uint64_t x = 88172645463325252ULL;
  uint64_t floored = 0; /* what dropping the fraction would give */
  for (long s = 0; s < 1000000; s++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t usage = x % busy;
    uint64_t active = 1000 + (x >> 20) % (200 * SEC_USEC); /* up to 200 J */
    bool valid = true;
    long parent = -1;
    double share;
    rapl_cgroup_shares(&usage, &valid, &parent, 1, busy, &share);
    rapl_cgroup_energy_add(&e, share, active);
    num += (unsigned __int128)usage * active;
    floored += (uint64_t)(share * (double)active);
  }
  uint64_t exact = (uint64_t)(num / busy);
  int64_t diff = (int64_t)e.energy_uj - (int64_t)exact;
  ck_assert_msg(llabs(diff) <= 1, "sum %llu uJ, exact %llu uJ (%+lld)",
                (unsigned long long)e.energy_uj, (unsigned long long)exact,
                (long long)diff);
  ck_assert(e.carry_uj >= 0.0 && e.carry_uj < 1.0);
  /* the carry matters: without it about 0.5 J would be lost */
  ck_assert_uint_gt(exact - floored, 100000);
}
END_TEST

/* system.slice and system.slice/a.service both match: the child's time is
 * in the parent's too, so the parent keeps its whole share (it is not
 * reduced by its child's), and only the top-level cgroups are held to a
 * sum <= 1. Here parent 0.9 + other top-level 0.1 = 1.0: nothing scaled. */
START_TEST(parent_and_child_overlap) {
  const uint64_t busy = 10 * SEC_USEC;
  /* 0: system.slice, 1: system.slice/a.service, 2: user.slice */
  const uint64_t usage[3] = {9 * SEC_USEC, 6 * SEC_USEC, 1 * SEC_USEC};
  const bool valid[3] = {true, true, true};
  const long parent[3] = {-1, 0, -1};
  double share[3];
  rapl_cgroup_shares(usage, valid, parent, 3, busy, share);
  ck_assert_double_eq_tol(share[0], 0.9, 1e-15);
  ck_assert_double_eq_tol(share[1], 0.6, 1e-15);
  ck_assert_double_eq_tol(share[2], 0.1, 1e-15);
  ck_assert(share[0] + share[2] <= 1.0);

  /* over the top level (rounding): every share, the child's too, scaled
   * by the same factor, so the parent still holds its child */
  const uint64_t usage2[3] = {10 * SEC_USEC, 6 * SEC_USEC, 2 * SEC_USEC};
  rapl_cgroup_shares(usage2, valid, parent, 3, busy, share);
  ck_assert(share[0] + share[2] <= 1.0);
  ck_assert_double_eq_tol(share[0] + share[2], 1.0, 1e-12);
  ck_assert_double_eq_tol(share[0], 10.0 / 12.0, 1e-12);
  ck_assert_double_eq_tol(share[1], 6.0 / 12.0, 1e-12);
  ck_assert(share[0] > share[1]);

  /* the parent not read this sample: the child stands in for it and is
   * held with the other top-level ones (0.6 + 0.5 > 1 is scaled) */
  const bool parent_missing[3] = {false, true, true};
  const uint64_t usage3[3] = {0, 6 * SEC_USEC, 5 * SEC_USEC};
  rapl_cgroup_shares(usage3, parent_missing, parent, 3, busy, share);
  ck_assert_double_eq(share[0], 0.0);
  ck_assert(share[1] + share[2] <= 1.0);
  ck_assert_double_eq_tol(share[1], 6.0 / 11.0, 1e-12);
}
END_TEST

/* Two services whose usage adds up to 1.02 x the busy time (cpu.stat and
 * /proc/stat read microseconds apart, ticks of 10 ms): scaled to a sum of
 * exactly <= 1, so their energies add up to the active energy, never to
 * more, to the microjoule, sample after sample. */
START_TEST(overlapping_rounding_clamps_to_the_active_energy) {
  const uint64_t busy = 1000000;
  const uint64_t usage[2] = {680000, 340000}; /* 0.68 + 0.34 = 1.02 */
  const bool valid[2] = {true, true};
  const long parent[2] = {-1, -1};
  double share[2];
  rapl_cgroup_shares(usage, valid, parent, 2, busy, share);
  ck_assert(share[0] + share[1] <= 1.0);
  ck_assert_double_eq_tol(share[0], 0.68 / 1.02, 1e-12);
  ck_assert_double_eq_tol(share[1], 0.34 / 1.02, 1e-12);

  rapl_cgroup_energy_t e[2] = {{0}, {0}};
  uint64_t active_total = 0;
  for (int s = 0; s < 100000; s++) {
    uint64_t active = 37000000 + (uint64_t)s * 7; /* ~37 J, never round */
    rapl_cgroup_energy_add(&e[0], share[0], active);
    rapl_cgroup_energy_add(&e[1], share[1], active);
    active_total += active;
    ck_assert_uint_le(e[0].energy_uj + e[1].energy_uj, active_total);
  }
  uint64_t sum = e[0].energy_uj + e[1].energy_uj;
  /* each keeps < 1 uJ in its carry */
  ck_assert_msg(active_total - sum <= 2, "sum %llu uJ of %llu uJ active",
                (unsigned long long)sum, (unsigned long long)active_total);

  /* many cgroups, sums that round badly: still <= 1 */
  uint64_t many[7];
  bool valid7[7];
  long parent7[7];
  double share7[7];
  for (int i = 0; i < 7; i++) {
    many[i] = 145719 + (uint64_t)i * 3;
    valid7[i] = true;
    parent7[i] = -1;
  }
  rapl_cgroup_shares(many, valid7, parent7, 7, 1000003, share7);
  double s7 = 0.0;
  for (int i = 0; i < 7; i++)
    s7 += share7[i];
  ck_assert(s7 <= 1.0);
}
END_TEST

/* A cgroup not read at both ends of the sample gets 0, and so does
 * everyone when the CPUs were not busy at all; a share that is not a
 * number, or negative, adds nothing. */
START_TEST(invalid_gets_nothing) {
  const uint64_t usage[2] = {500000, 250000};
  const bool valid[2] = {false, true};
  const long parent[2] = {-1, -1};
  double share[2];
  rapl_cgroup_shares(usage, valid, parent, 2, 1000000, share);
  ck_assert_double_eq(share[0], 0.0);
  ck_assert_double_eq_tol(share[1], 0.25, 1e-15);

  const bool both[2] = {true, true};
  rapl_cgroup_shares(usage, both, parent, 2, 0, share);
  ck_assert_double_eq(share[0], 0.0);
  ck_assert_double_eq(share[1], 0.0);

  rapl_cgroup_energy_t e = {0};
  ck_assert_uint_eq(rapl_cgroup_energy_add(&e, 0.0, 1000000), 0);
  ck_assert_uint_eq(rapl_cgroup_energy_add(&e, -0.5, 1000000), 0);
  ck_assert_uint_eq(rapl_cgroup_energy_add(&e, NAN, 1000000), 0);
  ck_assert_uint_eq(e.energy_uj, 0);
  ck_assert_double_eq(e.carry_uj, 0.0);
  /* more than the whole is the whole */
  ck_assert_uint_eq(rapl_cgroup_energy_add(&e, 1.5, 1000000), 1000000);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cgroup_model");
  TCase *tc = tcase_create("cgroup_model");
  tcase_add_test(tc, two_services_get_their_share);
  tcase_add_test(tc, exact_to_the_microjoule_over_a_million_samples);
  tcase_add_test(tc, parent_and_child_overlap);
  tcase_add_test(tc, overlapping_rounding_clamps_to_the_active_energy);
  tcase_add_test(tc, invalid_gets_nothing);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
