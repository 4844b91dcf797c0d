/* accounting.c - see accounting.h. */
#include "accounting.h"

uint64_t rapl_plausible_power_cap_uw(enum rapl_domain domain) {
  uint64_t watts =
      domain == RAPL_DOMAIN_PSYS ? RAPL_CAP_PSYS_W : RAPL_CAP_SOCKET_DOMAIN_W;
  return watts * 1000000;
}

uint64_t rapl_wrap_unit(uint64_t wrap_range) {
  return (wrap_range + UINT32_MAX / 2) / UINT32_MAX;
}

bool rapl_wrap_delta(uint64_t prev, uint64_t cur, uint64_t wrap_range,
                     uint64_t *delta, bool *wrapped) {
  *wrapped = false;
  if (wrap_range != 0 && (cur > wrap_range || prev > wrap_range))
    return false;
  if (cur >= prev) {
    *delta = cur - prev;
    return true;
  }
  if (wrap_range == 0)
    return false; /* a decrease we cannot size: max_energy_range_uj unknown */
  /* wrap_range is the counter's largest reading, 0xFFFFFFFF units of the
   * 32-bit hardware counter (the kernel's max_energy_range_uj is exactly
   * that, floored to uJ), so the step from the top back to 0 is one unit
   * more: (max - prev) + cur + u, u = round(max / 0xFFFFFFFF). For an MSR
   * read in raw units (max 0xFFFFFFFF, u = 1) this is exactly
   * (cur - prev) mod 2^32. */
  *delta = (wrap_range - prev) + cur + rapl_wrap_unit(wrap_range);
  *wrapped = true;
  return true;
}

uint64_t rapl_units_to_uj(uint64_t units, uint64_t num, uint64_t den) {
  if (den == 0)
    return 0;
  unsigned __int128 uj = (unsigned __int128)units * num / den;
  return uj > UINT64_MAX ? UINT64_MAX : (uint64_t)uj;
}

uint64_t rapl_energy_cap_uj(uint64_t cap_uw, uint64_t elapsed_ns) {
  unsigned __int128 ns = (unsigned __int128)elapsed_ns + RAPL_CAP_SLACK_NS;
  if (cap_uw != 0 && ns > ~(unsigned __int128)0 / cap_uw)
    return UINT64_MAX;
  /* uW * ns / 1e9 = uJ */
  unsigned __int128 uj = (unsigned __int128)cap_uw * ns / RAPL_NS_PER_S;
  return uj > UINT64_MAX ? UINT64_MAX : (uint64_t)uj;
}

void rapl_counter_init(rapl_counter_t *counter, uint64_t wrap_range,
                       uint64_t uj_per_unit_num, uint64_t uj_per_unit_den,
                       uint64_t cap_uw) {
  *counter = (rapl_counter_t){
      .wrap_range = wrap_range,
      .uj_per_unit_num = uj_per_unit_num,
      .uj_per_unit_den = uj_per_unit_den ? uj_per_unit_den : 1,
      .cap_uw = cap_uw,
  };
}

static void rebaseline(rapl_counter_t *counter, uint64_t raw, uint64_t now_ns) {
  counter->have_prev = true;
  counter->prev_raw = raw;
  counter->prev_ns = now_ns;
}

rapl_sample_t rapl_counter_sample(rapl_counter_t *counter, uint64_t raw,
                                  uint64_t now_ns) {
  if (!counter->have_prev || now_ns < counter->prev_ns) {
    counter->epoch++;
    rebaseline(counter, raw, now_ns);
    return RAPL_SAMPLE_BASELINE;
  }
  uint64_t delta_units;
  bool wrapped;
  if (!rapl_wrap_delta(counter->prev_raw, raw, counter->wrap_range,
                       &delta_units, &wrapped)) {
    counter->resets++;
    counter->epoch++;
    rebaseline(counter, raw, now_ns);
    return RAPL_SAMPLE_RESET;
  }
  if (counter->cap_uw != 0) {
    uint64_t delta_uj = rapl_units_to_uj(delta_units, counter->uj_per_unit_num,
                                         counter->uj_per_unit_den);
    if (delta_uj > rapl_energy_cap_uj(counter->cap_uw,
                                      now_ns - counter->prev_ns)) {
      counter->resets++;
      counter->epoch++;
      rebaseline(counter, raw, now_ns);
      return RAPL_SAMPLE_RESET;
    }
  }
  counter->total_units += delta_units;
  if (wrapped)
    counter->wraps++;
  rebaseline(counter, raw, now_ns);
  return RAPL_SAMPLE_COUNTED;
}

void rapl_counter_forget_reading(rapl_counter_t *counter) {
  counter->have_prev = false; /* the next sample is a baseline: a new epoch */
}

uint64_t rapl_counter_total_uj(const rapl_counter_t *counter) {
  return rapl_units_to_uj(counter->total_units, counter->uj_per_unit_num,
                          counter->uj_per_unit_den);
}

bool rapl_power_update(rapl_power_t *power, uint64_t total_uj, uint64_t now_ns,
                       double *watts) {
  bool valid = power->have_prev && now_ns > power->prev_ns &&
               total_uj >= power->prev_uj;
  if (valid) {
    /* uJ / ns * 1e3 = W */
    *watts = (double)(total_uj - power->prev_uj) * 1e3 /
             (double)(now_ns - power->prev_ns);
  }
  power->have_prev = true;
  power->prev_uj = total_uj;
  power->prev_ns = now_ns;
  return valid;
}
