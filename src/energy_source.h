/* energy_source.h - the one interface every energy source implements.
 *
 * In the spirit of Kepler's raplReader: a source discovers its zones once,
 * then reads each zone's raw counter on demand. Everything a source knows
 * about its counter's arithmetic (where it wraps, how many microjoules one
 * raw unit is, how much power is plausible) is in rapl_zone_info_t, so the
 * accounting never needs to know which source it serves:
 *   powercap: raw = energy_uj, 1 unit = 1 uJ, wraps at max_energy_range_uj;
 *   MSR:      raw = 32-bit register, 1 unit = the decoded energy unit,
 *             wraps at 2^32;
 *   hwmon:    raw = energyN_input in uJ (64-bit, never wraps), or the
 *             source's own integral of powerN_* (or inN x currN) in uJ.
 * A source's file is the only code that touches its files.
 */
#ifndef RAPL_ENERGY_SOURCE_H
#define RAPL_ENERGY_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define RAPL_ZONE_KEY_LEN 64
#define RAPL_DOMAIN_NAME_LEN 32

typedef struct {
  char key[RAPL_ZONE_KEY_LEN];          /* plugin_instance: "package-0", "psys" */
  char domain[RAPL_DOMAIN_NAME_LEN];    /* type_instance: "package", "dram", ... */
  int package_id;                       /* physical package; ordering only */
  int die_id;                           /* -1 when the zone is not per die */
  uint64_t wrap_range; /* raw counter runs 0..wrap_range then wraps; 0: unknown */
  uint64_t uj_per_unit_num; /* one raw unit is num/den microjoules */
  uint64_t uj_per_unit_den;
  uint64_t max_power_uw; /* plausibility cap: more is a counter reset */
  /* Energy after which the hardware counter behind the zone wraps (0: never
   * or unknown). Two reads must come less than one wrap apart. */
  uint64_t wrap_energy_uj;
} rapl_zone_info_t;

/* read() result: the value is valid, but from a counter that was gone and
 * came back (module reload, package hot-plug): the caller re-baselines. */
#define RAPL_READ_REOPENED 1

typedef struct rapl_source rapl_source_t;

typedef struct {
  /* Meter name as dispatched in gauge-meter-<name>. */
  const char *name;
  /* Discovers the zones wanted by `options` and opens what reading them
   * needs. Returns 0, or a negative errno with `why` saying what is missing
   * or not permitted (one line, for the operator). Succeeds only with at
   * least one readable zone. */
  int (*open)(const rapl_options_t *options, rapl_source_t **source, char *why,
              size_t why_len);
  size_t (*zone_count)(const rapl_source_t *source);
  const rapl_zone_info_t *(*zone_info)(const rapl_source_t *source,
                                       size_t zone);
  /* Reads one zone's raw counter. Returns 0, RAPL_READ_REOPENED, or a
   * negative errno (-EINVAL: the value did not parse; -ERANGE: above
   * wrap_range; -ENODEV: the zone is gone for now). Never blocks. */
  int (*read)(rapl_source_t *source, size_t zone, uint64_t *raw);
  /* Looks again at what the source is made of: re-attaches zones that were
   * gone (the next good read of each returns RAPL_READ_REOPENED) and
   * appends zones that appeared since open after the existing ones (the
   * zone_info pointers of existing zones may move: callers fetch them
   * again). Returns the number of zones added, or a negative errno with
   * nothing changed. The meter calls it at most once per sample: while a
   * zone is gone, and about once a minute (SPEC section 4). */
  int (*rescan)(rapl_source_t *source);
  void (*close)(rapl_source_t *source);
} rapl_source_ops_t;

extern const rapl_source_ops_t rapl_powercap_source;
extern const rapl_source_ops_t rapl_msr_source;
extern const rapl_source_ops_t rapl_hwmon_source;

#endif
