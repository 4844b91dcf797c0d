/*
 * sim_counter.c - simulated time: the counters advance at their power.
 * Kernel arithmetic of a zone's counter (REFERENCE.md 2.2-2.6), the AMD
 * per-core counters, sim_advance_ns, sim_wrap_in, sim_write_all
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Kernel arithmetic                                                        */

uint64_t sim_unit_nj_from_esu(unsigned esu) {
  if (esu > 31)
    return 0;
  return SIM_NJ_PER_J / (1ULL << esu);
}

uint64_t sim_max_range_uj_for_unit(uint64_t unit_nj) {
  return 0xFFFFFFFFULL * unit_nj / 1000ULL;
}


/* ------------------------------------------------------------------------ */
/* Running                                                                   */

int sim_write_all(sim_machine_t *m) {
  int first = 0;
  for (size_t i = 0; i < m->n_zones; i++) {
    int r = simi_zone_write(m, &m->zones[i], 0);
    if (r != 0 && first == 0)
      first = r;
  }
  if (m->msr_files != NULL)
    for (size_t cpu = 0; cpu < m->cpu.n_cpus; cpu++) {
      int r = simi_msr_file_write(m, cpu, 0);
      if (r != 0 && first == 0)
        first = r;
    }
  int r = simi_hwmon_write_all(m, 0);
  if (r != 0 && first == 0)
    first = r;
  r = simi_stat_write(m, 0);
  if (r != 0 && first == 0)
    first = r;
  r = simi_cgroups_write_all(m);
  if (r != 0 && first == 0)
    first = r;
  return first;
}

/* The start offset that makes a counter at power_uw wrap `seconds` from
 * now: tick count 2^32 - ceil(power * seconds / unit), clamped at 0. */
static uint64_t wrap_start_nj(uint64_t power_uw, uint64_t unit_nj,
                              uint64_t delivered_nj, double seconds) {
  const unsigned __int128 span32 = (unsigned __int128)1 << 32;
  /* ticks needed to wrap: ceil(power * seconds / unit) */
  long double x = 0.0L;
  if (seconds > 0 && seconds - seconds == 0.0)
    x = (long double)power_uw * (long double)seconds * 1000.0L /
        (long double)unit_nj;
  unsigned __int128 ticks; /* tick count wanted right now */
  if (x >= 4294967296.0L) {
    ticks = 0; /* cannot wrap that soon even from 0: clamp */
  } else {
    uint64_t need = (uint64_t)x;
    if ((long double)need < x)
      need++;
    ticks = span32 - need;
  }
  /* total = start + delivered must equal ticks * unit (mod 2^32 ticks). */
  unsigned __int128 total = ticks * unit_nj;
  while (total < delivered_nj)
    total += span32 * unit_nj;
  return (uint64_t)(total - delivered_nj);
}

/* Power of an AMD per-core counter: the package's core zone's, 0 for a
 * core whose threads are all offline. */
static uint64_t core_power_uw(const sim_machine_t *m, const sim_amd_pkg_t *ap,
                              const sim_core_ctr_t *cc) {
  return cc->has_online ? m->zones[ap->core_zone].power_uw : 0;
}

/* The AMD per-core counters that are not a zone (every core but the lead
 * one of each package), as a flat walk: returns the counter after *pos and
 * advances *pos, NULL at the end.  *pkg_out gets its package. */
static sim_core_ctr_t *next_extra_core(const sim_machine_t *m, size_t *pos,
                                       const sim_amd_pkg_t **pkg_out) {
  if (m->amd == NULL)
    return NULL;
  size_t per_pkg = (size_t)m->cpu.dies * m->cpu.cores;
  for (; *pos < (size_t)m->cpu.packages * per_pkg; (*pos)++) {
    const sim_amd_pkg_t *ap = &m->amd[*pos / per_pkg];
    size_t k = *pos % per_pkg;
    if (ap->cores == NULL || k == ap->lead_core)
      continue;
    *pkg_out = ap;
    (*pos)++;
    return &ap->cores[k];
  }
  return NULL;
}

void sim_wrap_in(sim_machine_t *m, double seconds) {
  for (size_t i = 0; i < m->n_zones; i++) {
    sim_zone_t *z = &m->zones[i];
    z->start_nj =
        wrap_start_nj(z->power_uw, z->unit_nj, z->delivered_nj, seconds);
  }
  const sim_amd_pkg_t *ap;
  sim_core_ctr_t *cc;
  for (size_t pos = 0; (cc = next_extra_core(m, &pos, &ap)) != NULL;)
    cc->start_nj = wrap_start_nj(core_power_uw(m, ap, cc),
                                 m->zones[ap->core_zone].unit_nj,
                                 cc->delivered_nj, seconds);
  sim_write_all(m);
}

/* Energy for dt_ns at power_uw, carrying the sub-nJ remainder. */
static int energy_fits(uint64_t power_uw, uint64_t dt_ns, uint64_t carry,
                       uint64_t delivered_nj) {
  unsigned __int128 p = (unsigned __int128)power_uw * dt_ns + carry;
  return p / 1000000 <= UINT64_MAX - delivered_nj;
}

static void energy_add(uint64_t power_uw, uint64_t dt_ns, uint64_t *carry,
                       uint64_t *delivered_nj) {
  unsigned __int128 p = (unsigned __int128)power_uw * dt_ns + *carry;
  *delivered_nj += (uint64_t)(p / 1000000);
  *carry = (uint64_t)(p % 1000000);
}

int sim_advance_ns(sim_machine_t *m, uint64_t dt_ns) {
  for (size_t i = 0; i < m->n_zones; i++) {
    const sim_zone_t *z = &m->zones[i];
    if (!energy_fits(z->power_uw, dt_ns, z->carry, z->delivered_nj))
      return -EOVERFLOW;
  }
  const sim_amd_pkg_t *ap;
  sim_core_ctr_t *cc;
  for (size_t pos = 0; (cc = next_extra_core(m, &pos, &ap)) != NULL;)
    if (!energy_fits(core_power_uw(m, ap, cc), dt_ns, cc->carry,
                     cc->delivered_nj))
      return -EOVERFLOW;
  for (size_t i = 0; i < m->n_zones; i++) {
    sim_zone_t *z = &m->zones[i];
    uint64_t before = z->delivered_nj;
    energy_add(z->power_uw, dt_ns, &z->carry, &z->delivered_nj);
    if (z->stuck) /* the energy is delivered, the counter stays */
      z->start_nj = counter_sub(z, z->delivered_nj - before);
  }
  for (size_t pos = 0; (cc = next_extra_core(m, &pos, &ap)) != NULL;)
    energy_add(core_power_uw(m, ap, cc), dt_ns, &cc->carry, &cc->delivered_nj);
  m->elapsed_ns += dt_ns;
  simi_hwmon_advance(m);
  simi_stat_advance(m, dt_ns);
  return sim_write_all(m);
}
