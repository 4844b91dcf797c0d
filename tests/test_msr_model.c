/* test_msr_model.c - RAPL unit decoding and the CPU model table, row by row. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msr_model.h"
#include "testutil.h"

static rapl_msr_platform_t lookup_ok(rapl_cpu_vendor_t vendor, unsigned family,
                                     unsigned model) {
  rapl_cpu_id_t id = {.vendor = vendor, .family = family, .model = model};
  rapl_msr_platform_t p;
  ck_assert_msg(rapl_msr_platform_lookup(&id, &p) == 0,
                "family 0x%x model 0x%x not found", family, model);
  return p;
}

/* The unit of one tick of a domain in uJ, as a double, for readable tables. */
static double tick_uj(const rapl_msr_platform_t *p, enum rapl_domain d,
                      uint64_t unit_reg) {
  uint64_t num, den;
  rapl_msr_energy_unit(p, d, unit_reg, &num, &den);
  return (double)num / (double)den;
}

static const struct {
  unsigned family, model;
  enum rapl_domain domain;
  uint64_t unit_reg;
  uint64_t num, den; /* expected uJ per tick */
} unit_rows[] = {
    /* Sandy Bridge Xeon E3 0x606 = 0xA1003: ESU 16 = 15.26 uJ (REFERENCE 2.1a) */
    {6, 0x2A, RAPL_DOMAIN_PACKAGE, 0xA1003, 1000000, 65536},
    /* Coffee Lake: ESU 14 = 61.04 uJ, DRAM too (cpu-energy-meter#25) */
    {6, 0x9E, RAPL_DOMAIN_PACKAGE, 0xA0E03, 1000000, 16384},
    {6, 0x9E, RAPL_DOMAIN_DRAM, 0xA0E03, 1000000, 16384},
    /* Haswell-EP: package at ESU 14, DRAM fixed 15.3 uJ (HPCPerfStats#9) */
    {6, 0x3F, RAPL_DOMAIN_PACKAGE, 0xA0E03, 1000000, 16384},
    {6, 0x3F, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    /* Skylake-SP / Cascade Lake: DRAM fixed */
    {6, 0x55, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    {6, 0x4F, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    {6, 0x6A, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    {6, 0x6C, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    {6, 0x57, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    {6, 0x85, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    /* Broadwell-DE: DRAM fixed, as perf (model_hsx) and turbostat
     * (bdx_features) treat it and SPEC 6 says; the kernel's powercap
     * driver alone uses the MSR unit here */
    {6, 0x56, RAPL_DOMAIN_DRAM, 0xA0E03, 153, 10},
    /* Sapphire/Emerald Rapids: psys 1 J, DRAM at the MSR unit */
    {6, 0x8F, RAPL_DOMAIN_PSYS, 0xA0E03, 1000000, 1},
    {6, 0xCF, RAPL_DOMAIN_PSYS, 0xA0E03, 1000000, 1},
    {6, 0x8F, RAPL_DOMAIN_DRAM, 0xA0E03, 1000000, 16384},
    {6, 0x8F, RAPL_DOMAIN_PACKAGE, 0xA0E03, 1000000, 16384},
    /* Client psys is at the MSR unit */
    {6, 0x8C, RAPL_DOMAIN_PSYS, 0xA0E03, 1000000, 16384},
    /* Silvermont/Airmont: 2^ESU uJ, ESU 5 = 32 uJ (rapl_check_unit_atom) */
    {6, 0x37, RAPL_DOMAIN_PACKAGE, 0x505, 32, 1},
    {6, 0x4C, RAPL_DOMAIN_CORE, 0x505, 32, 1},
    {6, 0x4A, RAPL_DOMAIN_PACKAGE, 0x505, 32, 1},
    {6, 0x5A, RAPL_DOMAIN_PACKAGE, 0x505, 32, 1},
    /* Goldmont and later Atoms use the core formula */
    {6, 0x5C, RAPL_DOMAIN_PACKAGE, 0xA0E03, 1000000, 16384},
    /* Nova Lake is family 0x12 */
    {0x12, 0x01, RAPL_DOMAIN_PACKAGE, 0xA0E03, 1000000, 16384},
};

START_TEST(intel_units_by_model) {
  const typeof(unit_rows[0]) *r = &unit_rows[_i];
  rapl_msr_platform_t p = lookup_ok(RAPL_CPU_VENDOR_INTEL, r->family, r->model);
  uint64_t num, den;
  rapl_msr_energy_unit(&p, r->domain, r->unit_reg, &num, &den);
  /* compare as fractions: num/den == r->num/r->den */
  ck_assert_msg((unsigned __int128)num * r->den == (unsigned __int128)r->num * den,
                "model 0x%x %s: %llu/%llu uJ, expected %llu/%llu", r->model,
                rapl_domain_name(r->domain), (unsigned long long)num,
                (unsigned long long)den, (unsigned long long)r->num,
                (unsigned long long)r->den);
}
END_TEST

START_TEST(esu_mask_is_bits_12_to_8) {
  ck_assert_uint_eq(rapl_msr_esu(0xA0E03), 14);
  ck_assert_uint_eq(rapl_msr_esu(0xA1003), 16);
  ck_assert_uint_eq(rapl_msr_esu(0x1F00), 31);
  /* the 0xF000 mask slip (EnergiBridge#9) would read 0 here: 1 J units */
  ck_assert_uint_eq(rapl_msr_esu(0xA0E03) , (0xA0E03 & 0x1F00) >> 8);
  ck_assert_uint_ne(rapl_msr_esu(0xA0E03), (0xA0E03 & 0xF000) >> 12);
}
END_TEST

START_TEST(amd_zen_and_hygon) {
  /* Ryzen 7 1700X 0xC0010299 = 0xa1003; Zen 4 0xa1000; Zen 5 0x000a1000:
   * all ESU 16 = 15.26 uJ (REFERENCE 2.1a) */
  const unsigned families[] = {0x17, 0x19, 0x1A};
  const uint64_t units[] = {0xa1003, 0xa1000, 0x000a1000};
  for (size_t i = 0; i < 3; i++) {
    rapl_msr_platform_t p = lookup_ok(RAPL_CPU_VENDOR_AMD, families[i], 0x01);
    ck_assert(p.amd_registers);
    ck_assert(!p.per_die);
    ck_assert_double_eq_tol(tick_uj(&p, RAPL_DOMAIN_PACKAGE, units[i]),
                            15.2587890625, 1e-12);
    ck_assert_uint_eq(rapl_msr_unit_register(&p), 0xC0010299u);
    ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_PACKAGE), 0xC001029Bu);
    ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_CORE), 0xC001029Au);
    ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_DRAM), 0);
    ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_PSYS), 0);
  }
  rapl_msr_platform_t h = lookup_ok(RAPL_CPU_VENDOR_HYGON, 0x18, 0x00);
  ck_assert(h.amd_registers);
}
END_TEST

START_TEST(intel_registers) {
  rapl_msr_platform_t p = lookup_ok(RAPL_CPU_VENDOR_INTEL, 6, 0x55);
  ck_assert(p.per_die);
  ck_assert_uint_eq(rapl_msr_unit_register(&p), 0x606);
  ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_PACKAGE), 0x611);
  ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_CORE), 0x639);
  ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_UNCORE), 0x641);
  ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_DRAM), 0x619);
  ck_assert_uint_eq(rapl_msr_energy_register(&p, RAPL_DOMAIN_PSYS), 0x64D);
}
END_TEST

START_TEST(unknown_cpus_are_refused_not_guessed) {
  const struct {
    rapl_cpu_vendor_t vendor;
    unsigned family, model;
  } unknown[] = {
      {RAPL_CPU_VENDOR_INTEL, 6, 0x4D},  /* Avoton: not in the kernel table */
      {RAPL_CPU_VENDOR_INTEL, 6, 0xAD},  /* Granite Rapids: TPMI */
      {RAPL_CPU_VENDOR_INTEL, 6, 0xAF},  /* Sierra Forest: TPMI */
      {RAPL_CPU_VENDOR_INTEL, 15, 0x06}, /* Pentium 4 */
      {RAPL_CPU_VENDOR_INTEL, 0x12, 0x55},
      {RAPL_CPU_VENDOR_AMD, 0x15, 0x01}, /* Bulldozer: no RAPL MSRs */
      {RAPL_CPU_VENDOR_AMD, 0x16, 0x00},
      {RAPL_CPU_VENDOR_HYGON, 0x17, 0x00},
      {RAPL_CPU_VENDOR_UNKNOWN, 6, 0x55},
  };
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    rapl_cpu_id_t id = {.vendor = unknown[i].vendor,
                        .family = unknown[i].family,
                        .model = unknown[i].model};
    rapl_msr_platform_t p;
    ck_assert_msg(rapl_msr_platform_lookup(&id, &p) != 0, "row %zu accepted", i);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("msr_model");
  TCase *tc = tcase_create("msr_model");
  tcase_add_loop_test(tc, intel_units_by_model, 0,
                      (int)(sizeof(unit_rows) / sizeof(unit_rows[0])));
  tcase_add_test(tc, esu_mask_is_bits_12_to_8);
  tcase_add_test(tc, amd_zen_and_hygon);
  tcase_add_test(tc, intel_registers);
  tcase_add_test(tc, unknown_cpus_are_refused_not_guessed);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
