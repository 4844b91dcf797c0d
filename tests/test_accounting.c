/* test_accounting.c - wraps, resets, caps, totals and power (SPEC section 4). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "accounting.h"
#include "testutil.h"

#define S(x) ((uint64_t)(x) * RAPL_NS_PER_S)
/* ESU=14 package counter on kernels >= 4.1 (REFERENCE.md 2.5) */
#define RANGE_ESU14 UINT64_C(262143328850)
#define CAP_PKG (RAPL_CAP_SOCKET_DOMAIN_W * 1000000)

START_TEST(delta_without_wrap) {
  uint64_t d;
  bool wrapped;
  ck_assert(rapl_wrap_delta(1000, 5000, RANGE_ESU14, &d, &wrapped));
  ck_assert_uint_eq(d, 4000);
  ck_assert(!wrapped);
}
END_TEST

START_TEST(equal_readings_are_zero) {
  uint64_t d = 99;
  bool wrapped;
  ck_assert(rapl_wrap_delta(123456, 123456, RANGE_ESU14, &d, &wrapped));
  ck_assert_uint_eq(d, 0);
  ck_assert(!wrapped);
}
END_TEST

START_TEST(delta_across_a_powercap_wrap) {
  uint64_t d;
  bool wrapped;
  /* 1000 uJ before the top, 500 uJ after the wrap, and the step from the
   * top to 0, one counter unit: max_energy_range_uj is 0xFFFFFFFF units,
   * one short of the 2^32 at which the counter wraps (SPEC 4): u =
   * round(262143328850 / 0xFFFFFFFF) = 61 uJ at ESU 14 */
  ck_assert(rapl_wrap_delta(RANGE_ESU14 - 1000, 500, RANGE_ESU14, &d, &wrapped));
  ck_assert_uint_eq(d, 1500 + 61);
  ck_assert(wrapped);
  /* DRAM's fixed 15.3 uJ unit: 15 uJ; SPR psys at 1 J: 1000000 uJ */
  ck_assert(rapl_wrap_delta(UINT64_C(65712999613), 0, UINT64_C(65712999613),
                            &d, &wrapped));
  ck_assert_uint_eq(d, 15);
  ck_assert(rapl_wrap_delta(UINT64_C(4294967295000000) - 7, 3,
                            UINT64_C(4294967295000000), &d, &wrapped));
  ck_assert_uint_eq(d, 7 + 3 + 1000000);
}
END_TEST

START_TEST(delta_across_a_32bit_wrap_is_modular) {
  /* An MSR counts raw units up to 0xFFFFFFFF: one unit per wrap makes the
   * rule exactly (cur - prev) mod 2^32. */
  const uint64_t range = UINT32_MAX;
  const uint32_t cases[][2] = {{0xFFFFFFF0u, 0x10u},
                               {0xFFFFFFFFu, 0u},
                               {0x80000000u, 0x7FFFFFFFu},
                               {5u, 4u}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t d;
    bool wrapped;
    ck_assert(rapl_wrap_delta(cases[i][0], cases[i][1], range, &d, &wrapped));
    ck_assert_uint_eq(d, (uint32_t)(cases[i][1] - cases[i][0]));
  }
}
END_TEST

START_TEST(decrease_with_unknown_range_is_not_a_wrap) {
  uint64_t d;
  bool wrapped;
  ck_assert(!rapl_wrap_delta(5000, 1000, 0, &d, &wrapped));
  /* but an increase is fine without a range */
  ck_assert(rapl_wrap_delta(1000, 5000, 0, &d, &wrapped));
  ck_assert_uint_eq(d, 4000);
}
END_TEST

START_TEST(reading_above_the_range_is_not_a_wrap) {
  uint64_t d;
  bool wrapped;
  ck_assert(!rapl_wrap_delta(10, RANGE_ESU14 + 1, RANGE_ESU14, &d, &wrapped));
  ck_assert(!rapl_wrap_delta(RANGE_ESU14 + 1, 10, RANGE_ESU14, &d, &wrapped));
}
END_TEST

START_TEST(units_convert_exactly_in_128_bits) {
  /* MSR ESU=14: 2^14 ticks = 1 J exactly */
  ck_assert_uint_eq(rapl_units_to_uj(16384, 1000000, 16384), 1000000);
  ck_assert_uint_eq(rapl_units_to_uj(1, 1000000, 16384), 61); /* 61.03 floored */
  /* 15.3 uJ DRAM unit: 10 ticks = 153 uJ */
  ck_assert_uint_eq(rapl_units_to_uj(10, 153, 10), 153);
  /* large: 1e14 ticks * 1e6 would overflow 64 bits before dividing */
  ck_assert_uint_eq(rapl_units_to_uj(UINT64_C(100000000000000), 1000000, 16384),
                    UINT64_C(6103515625000000));
  ck_assert_uint_eq(rapl_units_to_uj(UINT64_MAX, 1000000, 1), UINT64_MAX);
}
END_TEST

START_TEST(first_sample_is_the_baseline) {
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  ck_assert_int_eq(rapl_counter_sample(&c, 987654321, S(100)), RAPL_SAMPLE_BASELINE);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 0);
  ck_assert_int_eq(rapl_counter_sample(&c, 987654321 + 5000000, S(101)),
                   RAPL_SAMPLE_COUNTED);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 5000000);
}
END_TEST

START_TEST(wrap_is_counted_exactly) {
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, RANGE_ESU14 - 30000000, S(0));
  /* the counter steps from the top to 0 in one 61 uJ unit (SPEC 4) */
  ck_assert_int_eq(rapl_counter_sample(&c, 70000000 - 61, S(1)),
                   RAPL_SAMPLE_COUNTED);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 100000000); /* 100 J in 1 s */
  ck_assert_uint_eq(c.wraps, 1);
}
END_TEST

START_TEST(spurious_wrap_is_a_reset_not_a_spike) {
  /* Kepler #1344: a counter that steps back a little must not be read as a
   * wrap of 262 kJ (a 26 kW spike in 10 s on a 35 W machine). */
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, 50000000, S(0));
  rapl_counter_sample(&c, 50350000, S(10)); /* 35 mW... fine */
  uint64_t before = rapl_counter_total_uj(&c);
  ck_assert_int_eq(rapl_counter_sample(&c, 50340000, S(20)), RAPL_SAMPLE_RESET);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), before);
  ck_assert_uint_eq(c.resets, 1);
  /* re-baselined at the new reading: the next delta counts from it */
  ck_assert_int_eq(rapl_counter_sample(&c, 50340000 + 350000, S(30)),
                   RAPL_SAMPLE_COUNTED);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), before + 350000);
}
END_TEST

START_TEST(counter_reset_to_zero_is_a_reset) {
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, 1000000000, S(0));
  /* reboot-like reset: the wrap reading would be ~261 kJ in 10 s */
  ck_assert_int_eq(rapl_counter_sample(&c, 20, S(10)), RAPL_SAMPLE_RESET);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 0);
}
END_TEST

START_TEST(decrease_with_unknown_range_is_a_reset) {
  rapl_counter_t c;
  rapl_counter_init(&c, 0, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, 5000, S(0));
  ck_assert_int_eq(rapl_counter_sample(&c, 6000, S(1)), RAPL_SAMPLE_COUNTED);
  ck_assert_int_eq(rapl_counter_sample(&c, 10, S(2)), RAPL_SAMPLE_RESET);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 1000);
}
END_TEST

START_TEST(burst_far_above_pl1_is_real) {
  /* A 15 W laptop package at PL4 ~ 120 W for 1 s: counted. */
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, 0, S(0));
  ck_assert_int_eq(rapl_counter_sample(&c, 120000000, S(1)), RAPL_SAMPLE_COUNTED);
  /* just under the documented cap over 10 s: counted */
  ck_assert_int_eq(rapl_counter_sample(&c, 120000000 + 19990000000ull, S(11)),
                   RAPL_SAMPLE_COUNTED);
  /* well over the cap: a jump, not power */
  ck_assert_int_eq(rapl_counter_sample(&c, 120000000 + 19990000000ull +
                                               30000000000ull, S(21)),
                   RAPL_SAMPLE_RESET);
}
END_TEST

START_TEST(time_going_backwards_rebaselines) {
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, 1000, S(10));
  ck_assert_int_eq(rapl_counter_sample(&c, 2000, S(5)), RAPL_SAMPLE_BASELINE);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 0);
}
END_TEST

START_TEST(forgotten_reading_keeps_the_total) {
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  rapl_counter_sample(&c, 1000, S(0));
  rapl_counter_sample(&c, 3000, S(1));
  rapl_counter_forget_reading(&c); /* zone vanished */
  ck_assert_int_eq(rapl_counter_sample(&c, 50, S(2)), RAPL_SAMPLE_BASELINE);
  ck_assert_uint_eq(rapl_counter_total_uj(&c), 2000);
}
END_TEST

START_TEST(joules_are_floored_without_drift) {
  /* 0.999999 J per step for a million steps: per-step rounding would drift
   * by up to 1e6 J; flooring the exact total never does. */
  rapl_counter_t c;
  rapl_counter_init(&c, RANGE_ESU14, 1, 1, CAP_PKG);
  uint64_t raw = 0, t = 0;
  rapl_counter_sample(&c, raw, t);
  for (int i = 1; i <= 1000000; i++) {
    raw += 999999;
    if (raw > RANGE_ESU14)
      raw -= RANGE_ESU14 + 61; /* back to 0 one unit after the top */
    t += RAPL_NS_PER_S;
    ck_assert_int_eq(rapl_counter_sample(&c, raw, t), RAPL_SAMPLE_COUNTED);
  }
  ck_assert_uint_eq(rapl_counter_total_uj(&c), UINT64_C(999999000000));
  ck_assert_uint_eq(rapl_uj_to_joules(rapl_counter_total_uj(&c)), 999999);
  ck_assert_uint_eq(rapl_uj_to_joules(1999999), 1);
  ck_assert_uint_eq(c.wraps, 3);
}
END_TEST

START_TEST(total_passes_32_bits) {
  /* a 64-bit total: 6e12 uJ is far above 2^32 and counted exactly */
  rapl_counter_t c;
  rapl_counter_init(&c, UINT32_MAX, 1000000, 16384, CAP_PKG);
  uint32_t raw = 0;
  uint64_t t = 0, ticks = 0;
  rapl_counter_sample(&c, raw, t);
  for (int i = 0; i < 24 * 3600; i++) { /* a day at ~300 W, 1 s steps */
    uint32_t step = 300u * 16384u + (uint32_t)(i % 7);
    raw += step;
    ticks += step;
    t += RAPL_NS_PER_S;
    ck_assert_int_eq(rapl_counter_sample(&c, raw, t), RAPL_SAMPLE_COUNTED);
  }
  ck_assert_uint_eq(c.total_units, ticks);
  ck_assert_uint_eq(rapl_counter_total_uj(&c),
                    (uint64_t)((unsigned __int128)ticks * 1000000 / 16384));
}
END_TEST

START_TEST(power_needs_two_points) {
  rapl_power_t p = {0};
  double w = -1;
  ck_assert(!rapl_power_update(&p, 0, S(0), &w));
  ck_assert(rapl_power_update(&p, 25000000, S(2), &w)); /* 25 J in 2 s */
  ck_assert_double_eq_tol(w, 12.5, 1e-12);
  ck_assert(rapl_power_update(&p, 25000000, S(3), &w)); /* idle */
  ck_assert_double_eq(w, 0.0);
}
END_TEST

START_TEST(power_is_never_negative_nan_or_infinite) {
  rapl_power_t p = {0};
  double w = -1;
  rapl_power_update(&p, 1000, S(5), &w);
  ck_assert(!rapl_power_update(&p, 2000, S(5), &w)); /* dt = 0 */
  ck_assert(!rapl_power_update(&p, 10, S(6), &w));   /* total went down */
  ck_assert(!rapl_power_update(&p, 20, S(4), &w));   /* time went back */
  ck_assert(rapl_power_update(&p, 1000020, S(5), &w));
  ck_assert(isfinite(w) && w >= 0);
  ck_assert_double_eq_tol(w, 1.0, 1e-12);
}
END_TEST

START_TEST(forgotten_power_restarts) {
  rapl_power_t p = {0};
  double w;
  rapl_power_update(&p, 0, S(0), &w);
  rapl_power_forget(&p);
  ck_assert(!rapl_power_update(&p, 5000000, S(1), &w));
  ck_assert(rapl_power_update(&p, 6000000, S(2), &w));
  ck_assert_double_eq_tol(w, 1.0, 1e-12);
}
END_TEST

START_TEST(caps_by_domain) {
  ck_assert_uint_eq(rapl_plausible_power_cap_uw(RAPL_DOMAIN_PACKAGE), CAP_PKG);
  ck_assert_uint_eq(rapl_plausible_power_cap_uw(RAPL_DOMAIN_DRAM), CAP_PKG);
  ck_assert_uint_eq(rapl_plausible_power_cap_uw(RAPL_DOMAIN_PSYS),
                    RAPL_CAP_PSYS_W * 1000000);
  /* cap energy: 2000 W for 10 s plus the 0.1 s update slack */
  ck_assert_uint_eq(rapl_energy_cap_uj(CAP_PKG, S(10)), UINT64_C(20200000000));
  ck_assert_uint_eq(rapl_energy_cap_uj(UINT64_MAX, UINT64_MAX), UINT64_MAX);
}
END_TEST

int main(void) {
  Suite *s = suite_create("accounting");
  TCase *tc = tcase_create("accounting");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, delta_without_wrap);
  tcase_add_test(tc, equal_readings_are_zero);
  tcase_add_test(tc, delta_across_a_powercap_wrap);
  tcase_add_test(tc, delta_across_a_32bit_wrap_is_modular);
  tcase_add_test(tc, decrease_with_unknown_range_is_not_a_wrap);
  tcase_add_test(tc, reading_above_the_range_is_not_a_wrap);
  tcase_add_test(tc, units_convert_exactly_in_128_bits);
  tcase_add_test(tc, first_sample_is_the_baseline);
  tcase_add_test(tc, wrap_is_counted_exactly);
  tcase_add_test(tc, spurious_wrap_is_a_reset_not_a_spike);
  tcase_add_test(tc, counter_reset_to_zero_is_a_reset);
  tcase_add_test(tc, decrease_with_unknown_range_is_a_reset);
  tcase_add_test(tc, burst_far_above_pl1_is_real);
  tcase_add_test(tc, time_going_backwards_rebaselines);
  tcase_add_test(tc, forgotten_reading_keeps_the_total);
  tcase_add_test(tc, joules_are_floored_without_drift);
  tcase_add_test(tc, total_passes_32_bits);
  tcase_add_test(tc, power_needs_two_points);
  tcase_add_test(tc, power_is_never_negative_nan_or_infinite);
  tcase_add_test(tc, forgotten_power_restarts);
  tcase_add_test(tc, caps_by_domain);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
