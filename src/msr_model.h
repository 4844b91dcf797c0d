/* msr_model.h - RAPL registers, energy units and the CPU model table.
 *
 * Pure data and arithmetic (no I/O), unit-tested row by row. As in the
 * kernel's intel_rapl_common.c, per-model behaviour is looked up in one
 * table, not spread across ifs: a new CPU is one line.
 */
#ifndef RAPL_MSR_MODEL_H
#define RAPL_MSR_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu_topology.h"
#include "domain.h"

/* Intel SDM vol. 4; arch/x86/include/asm/msr-index.h */
#define RAPL_MSR_INTEL_POWER_UNIT 0x606u
#define RAPL_MSR_INTEL_PKG_ENERGY 0x611u
#define RAPL_MSR_INTEL_DRAM_ENERGY 0x619u
#define RAPL_MSR_INTEL_PP0_ENERGY 0x639u /* core */
#define RAPL_MSR_INTEL_PP1_ENERGY 0x641u /* uncore (client GPU) */
#define RAPL_MSR_INTEL_PSYS_ENERGY 0x64Du /* platform, once */
/* AMD PPR fam 17h+; the same bit layout as Intel's unit register */
#define RAPL_MSR_AMD_POWER_UNIT 0xC0010299u
#define RAPL_MSR_AMD_CORE_ENERGY 0xC001029Au /* per core */
#define RAPL_MSR_AMD_PKG_ENERGY 0xC001029Bu

/* What a CPU's RAPL MSRs look like. */
typedef struct {
  const char *name;   /* "Skylake-SP / Cascade Lake / Cooper Lake", "AMD Zen" */
  bool amd_registers; /* AMD/Hygon register set; core counter per core */
  bool per_die;       /* Intel: package registers are per die */
  bool dram_fixed_unit; /* DRAM counts 15.3 uJ whatever the unit register says */
  bool psys_1j_unit;    /* psys counts 1 J (Sapphire/Emerald Rapids) */
  bool atom_units;      /* energy unit is 2^ESU uJ (Silvermont/Airmont) */
} rapl_msr_platform_t;

/* Looks the CPU up. Returns 0, or -ENOTSUP for a vendor, family or model
 * the table does not know: the caller says so instead of guessing. */
int rapl_msr_platform_lookup(const rapl_cpu_id_t *id,
                             rapl_msr_platform_t *platform);

/* The energy status register of a domain, 0 when the platform has none. */
uint32_t rapl_msr_energy_register(const rapl_msr_platform_t *platform,
                                  enum rapl_domain domain);
/* The unit register of the platform. */
uint32_t rapl_msr_unit_register(const rapl_msr_platform_t *platform);

/* Energy status unit, bits 12:8 of the unit register (a 0x1F00 mask: the
 * 0xF000 slip seen in the wild makes it 1 J on an i7-6700HQ). */
static inline unsigned rapl_msr_esu(uint64_t unit_register) {
  return (unsigned)((unit_register >> 8) & 0x1F);
}

/* One counter tick of `domain` in microjoules, as num/den (exact). */
void rapl_msr_energy_unit(const rapl_msr_platform_t *platform,
                          enum rapl_domain domain, uint64_t unit_register,
                          uint64_t *uj_num, uint64_t *uj_den);

#endif
