/* accounting.h - energy accounting: wraps, resets, totals, power.
 *
 * Pure arithmetic over numbers: no I/O, no clock, no collectd. Callers pass
 * raw counter readings and monotonic timestamps in; exact microjoule totals
 * and watts come out. SPEC section 4 is the contract; every rule here has a
 * unit test in tests/test_accounting.c.
 */
#ifndef RAPL_ACCOUNTING_H
#define RAPL_ACCOUNTING_H

#include <stdbool.h>
#include <stdint.h>

#include "domain.h"

#define RAPL_NS_PER_S UINT64_C(1000000000)
#define RAPL_UJ_PER_J UINT64_C(1000000)

/* A RAPL counter is updated about every millisecond (Intel SDM; amd_energy
 * doc), and two reads of one zone are never exactly one interval apart, so
 * the plausibility check allows this much time on top of the measured one. */
#define RAPL_CAP_SLACK_NS (UINT64_C(100) * 1000000)

/* Plausibility caps. Bursts far above PL1 are real (PL2, PL4 run at 1.2-2x
 * TDP); the largest sockets draw ~500 W and a whole SPR platform (psys)
 * under 3 kW. What these caps reject are wrap-sized jumps: a spurious wrap
 * of a 65.7 kJ DRAM counter within 10 s reads as 6.5 kW, a 262 kJ package
 * counter as 26 kW (Kepler issues #1344, #1851: 9 kW on a 35 W machine). */
#define RAPL_CAP_SOCKET_DOMAIN_W UINT64_C(2000)
#define RAPL_CAP_PSYS_W UINT64_C(5000)

uint64_t rapl_plausible_power_cap_uw(enum rapl_domain domain);

/* One counter unit of a counter whose largest reading is wrap_range =
 * 0xFFFFFFFF units: round(wrap_range / 0xFFFFFFFF). */
uint64_t rapl_wrap_unit(uint64_t wrap_range);

/* Counter delta from prev to cur for a counter that runs 0..wrap_range and
 * then wraps: cur - prev when cur >= prev, else (wrap_range - prev) + cur +
 * rapl_wrap_unit(wrap_range) (SPEC section 4).
 * Returns false when no single wrap explains the readings (a decrease with
 * an unknown range, or a reading above the range): the caller treats that
 * as a reset. *wrapped tells whether a wrap was corrected. */
bool rapl_wrap_delta(uint64_t prev, uint64_t cur, uint64_t wrap_range,
                     uint64_t *delta, bool *wrapped);

/* units * num / den, floored, computed in 128 bits; saturates at UINT64_MAX. */
uint64_t rapl_units_to_uj(uint64_t units, uint64_t num, uint64_t den);

/* The most energy a zone capped at cap_uw can use in elapsed_ns, with the
 * update slack. Saturates at UINT64_MAX. */
uint64_t rapl_energy_cap_uj(uint64_t cap_uw, uint64_t elapsed_ns);

/* Whole joules for dispatch: the floor, so the dispatched counter never runs
 * ahead of the exact total and no rounding error accumulates. */
static inline uint64_t rapl_uj_to_joules(uint64_t energy_uj) {
  return energy_uj / RAPL_UJ_PER_J;
}

typedef enum {
  RAPL_SAMPLE_BASELINE, /* first reading: the starting point, nothing counted */
  RAPL_SAMPLE_COUNTED,  /* delta added to the total (0 for equal readings) */
  RAPL_SAMPLE_RESET,    /* implausible change: re-baselined, nothing counted */
} rapl_sample_t;

/* One zone's energy counter. */
typedef struct {
  uint64_t wrap_range;      /* see rapl_zone_info_t */
  uint64_t uj_per_unit_num;
  uint64_t uj_per_unit_den;
  uint64_t cap_uw;
  bool have_prev;
  uint64_t prev_raw;
  uint64_t prev_ns;
  uint64_t total_units; /* raw units counted since start: exact */
  uint64_t wraps;       /* wraps corrected since start */
  uint64_t resets;      /* resets seen since start */
  /* Grows at every new baseline (first reading, reset, forgotten reading):
   * whatever was computed from the previous readings - a power, a total's
   * power - must start afresh when it changed. */
  uint64_t epoch;
} rapl_counter_t;

void rapl_counter_init(rapl_counter_t *counter, uint64_t wrap_range,
                       uint64_t uj_per_unit_num, uint64_t uj_per_unit_den,
                       uint64_t cap_uw);

/* Feeds one successful reading taken at now_ns (monotonic). */
rapl_sample_t rapl_counter_sample(rapl_counter_t *counter, uint64_t raw,
                                  uint64_t now_ns);

/* Forget the previous reading (the zone vanished): the next sample is a
 * baseline. The total is kept. */
void rapl_counter_forget_reading(rapl_counter_t *counter);

/* Exact energy counted since start, in microjoules (floored). */
uint64_t rapl_counter_total_uj(const rapl_counter_t *counter);

/* Power between two successive readings of a monotonic energy total. */
typedef struct {
  bool have_prev;
  uint64_t prev_uj;
  uint64_t prev_ns;
} rapl_power_t;

/* Moves the baseline to (total_uj, now_ns). Returns true and sets *watts
 * when there was a previous point with now_ns after it; never returns a
 * negative, NaN or infinite rate (a total below the previous one is treated
 * as a new baseline). */
bool rapl_power_update(rapl_power_t *power, uint64_t total_uj, uint64_t now_ns,
                       double *watts);

static inline void rapl_power_forget(rapl_power_t *power) {
  power->have_prev = false;
}

#endif
