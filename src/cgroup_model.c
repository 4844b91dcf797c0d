/* cgroup_model.c - the model half of cgroup.h (SPEC 9): a cgroup's share
 * of a sample's active energy, and its energy kept exact to the
 * microjoule. Pure arithmetic: no I/O, no allocation, no libm. */
#include "cgroup.h"

#include <float.h>

/* True when no ancestor of i (the chain of parent indices) was read at
 * both ends of the sample: i is then "top-level" for this sample, and its
 * share must not overlap the other top-level ones. A parent that is
 * missing this sample does not make its child overlap its siblings: the
 * child stands in for it. The walk is bounded by n (a malformed chain, a
 * cycle, ends it). */
static bool no_valid_ancestor(const bool *valid, const long *parent, size_t n,
                              size_t i) {
  if (parent == NULL)
    return true;
  long p = parent[i];
  for (size_t steps = 0; steps < n && p >= 0 && (size_t)p < n; steps++) {
    if (valid == NULL || valid[p])
      return false;
    p = parent[p];
  }
  return true;
}

static double top_level_sum(const bool *valid, const long *parent, size_t n,
                            const double *share) {
  double sum = 0.0;
  for (size_t i = 0; i < n; i++)
    if (share[i] > 0.0 && no_valid_ancestor(valid, parent, n, i))
      sum += share[i];
  return sum;
}

void rapl_cgroup_shares(const uint64_t *delta_usage_usec, const bool *valid,
                        const long *parent, size_t n, uint64_t delta_busy_usec,
                        double *share) {
  for (size_t i = 0; i < n; i++) {
    bool ok = (valid == NULL || valid[i]) && delta_busy_usec > 0;
    share[i] = ok ? (double)delta_usage_usec[i] / (double)delta_busy_usec : 0.0;
  }
  if (delta_busy_usec == 0)
    return;

  /* Cgroups that do not contain each other ran on the same CPUs for at
   * most the busy time; more is rounding (usage_usec and /proc/stat's
   * ticks read a few microseconds apart, ticks of 10 ms). Scale all by the
   * same factor, children too, so parent >= child still holds. */
  double sum = top_level_sum(valid, parent, n, share);
  if (sum > 1.0) {
    double factor = 1.0 / sum;
    for (size_t i = 0; i < n; i++)
      share[i] *= factor;
    /* 1/sum times each part can round to a sum of 1 + a few ulps: shave
     * until it is <= 1, so n shares never attribute a microjoule more
     * than the active energy (a few steps at most). */
    for (int tries = 0; tries < 64; tries++) {
      sum = top_level_sum(valid, parent, n, share);
      if (sum <= 1.0)
        break;
      for (size_t i = 0; i < n; i++)
        share[i] *= 1.0 - 4 * DBL_EPSILON;
    }
  }
  /* A child read after its parent can show a little more time than the
   * busy time even when the top level is within it. */
  for (size_t i = 0; i < n; i++)
    if (share[i] > 1.0)
      share[i] = 1.0;
}

uint64_t rapl_cgroup_energy_add(rapl_cgroup_energy_t *e, double share,
                                uint64_t active_uj) {
  /* !(share > 0) also catches NaN */
  if (!(share > 0.0) || active_uj == 0)
    return 0;
  if (share > 1.0)
    share = 1.0;
  double exact = share * (double)active_uj + e->carry_uj;
  /* exact >= 0: the cast truncates, which is the floor */
  uint64_t whole = (uint64_t)exact;
  double carry = exact - (double)whole;
  /* guard the invariant 0 <= carry < 1 against rounding at the edges */
  if (carry >= 1.0) {
    whole++;
    carry -= 1.0;
  }
  if (carry < 0.0)
    carry = 0.0;
  e->carry_uj = carry;
  e->energy_uj += whole;
  return whole;
}
