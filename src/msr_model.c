/* msr_model.c - see msr_model.h. Model numbers: arch/x86/include/asm/
 * intel-family.h; which model gets which defaults: the rapl_ids[] table of
 * drivers/powercap/intel_rapl_common.c (SPEC section 6, REFERENCE.md 2.3,
 * 2.4, 2.8). */
#include "msr_model.h"

#include <errno.h>
#include <stddef.h>

typedef struct {
  unsigned family;
  unsigned model;
  const char *name;
  bool dram_fixed_unit; /* rapl_defaults_hsw_server */
  bool psys_1j_unit;    /* rapl_defaults_spr_server */
  bool atom_units;      /* rapl_defaults_byt/tng/ann/cht */
} intel_model_t;

#define CORE(f, m, n) {f, m, n, false, false, false}
#define HSW_SERVER(f, m, n) {f, m, n, true, false, false}
#define SPR_SERVER(f, m, n) {f, m, n, false, true, false}
#define ATOM(f, m, n) {f, m, n, false, false, true}

static const intel_model_t intel_models[] = {
#include "msr_model_table.h"
};

int rapl_msr_platform_lookup(const rapl_cpu_id_t *id,
                             rapl_msr_platform_t *platform) {
  *platform = (rapl_msr_platform_t){0};
  switch (id->vendor) {
  case RAPL_CPU_VENDOR_AMD:
    /* Zen, Zen 2 (17h), Zen 3/4 (19h), Zen 5 (1Ah): rapl_defaults_amd */
    if (id->family != 0x17 && id->family != 0x19 && id->family != 0x1A)
      return -ENOTSUP;
    platform->name = id->family == 0x17   ? "AMD family 17h (Zen/Zen 2)"
                     : id->family == 0x19 ? "AMD family 19h (Zen 3/Zen 4)"
                                          : "AMD family 1Ah (Zen 5)";
    platform->amd_registers = true;
    return 0;
  case RAPL_CPU_VENDOR_HYGON:
    if (id->family != 0x18)
      return -ENOTSUP;
    platform->name = "Hygon family 18h (Dhyana)";
    platform->amd_registers = true;
    return 0;
  case RAPL_CPU_VENDOR_INTEL:
    for (size_t i = 0; i < sizeof(intel_models) / sizeof(intel_models[0]); i++) {
      const intel_model_t *m = &intel_models[i];
      if (m->family != id->family || m->model != id->model)
        continue;
      platform->name = m->name;
      platform->per_die = true; /* the kernel keys Intel RAPL by die */
      platform->dram_fixed_unit = m->dram_fixed_unit;
      platform->psys_1j_unit = m->psys_1j_unit;
      platform->atom_units = m->atom_units;
      return 0;
    }
    return -ENOTSUP;
  default:
    return -ENOTSUP;
  }
}

uint32_t rapl_msr_unit_register(const rapl_msr_platform_t *platform) {
  return platform->amd_registers ? RAPL_MSR_AMD_POWER_UNIT
                                 : RAPL_MSR_INTEL_POWER_UNIT;
}

uint32_t rapl_msr_energy_register(const rapl_msr_platform_t *platform,
                                  enum rapl_domain domain) {
  if (platform->amd_registers) {
    switch (domain) {
    case RAPL_DOMAIN_PACKAGE:
      return RAPL_MSR_AMD_PKG_ENERGY;
    case RAPL_DOMAIN_CORE:
      return RAPL_MSR_AMD_CORE_ENERGY;
    default:
      return 0;
    }
  }
  switch (domain) {
  case RAPL_DOMAIN_PACKAGE:
    return RAPL_MSR_INTEL_PKG_ENERGY;
  case RAPL_DOMAIN_CORE:
    return RAPL_MSR_INTEL_PP0_ENERGY;
  case RAPL_DOMAIN_UNCORE:
    return RAPL_MSR_INTEL_PP1_ENERGY;
  case RAPL_DOMAIN_DRAM:
    return RAPL_MSR_INTEL_DRAM_ENERGY;
  case RAPL_DOMAIN_PSYS:
    return RAPL_MSR_INTEL_PSYS_ENERGY;
  default:
    return 0;
  }
}

void rapl_msr_energy_unit(const rapl_msr_platform_t *platform,
                          enum rapl_domain domain, uint64_t unit_register,
                          uint64_t *uj_num, uint64_t *uj_den) {
  unsigned esu = rapl_msr_esu(unit_register);
  if (domain == RAPL_DOMAIN_DRAM && platform->dram_fixed_unit) {
    /* 15.3 uJ: kernel rapl_defaults_hsw_server.dram_domain_energy_unit */
    *uj_num = 153;
    *uj_den = 10;
  } else if (domain == RAPL_DOMAIN_PSYS && platform->psys_1j_unit) {
    /* 1 J: kernel rapl_defaults_spr_server.psys_domain_energy_unit */
    *uj_num = 1000000;
    *uj_den = 1;
  } else if (platform->atom_units) {
    /* 2^ESU uJ: kernel rapl_check_unit_atom() */
    *uj_num = UINT64_C(1) << esu;
    *uj_den = 1;
  } else {
    /* 1/2^ESU J: kernel rapl_check_unit_core(), exact here (the kernel
     * truncates the unit to whole nanojoules, 2.6 ppm low at ESU 14) */
    *uj_num = 1000000;
    *uj_den = UINT64_C(1) << esu;
  }
}
