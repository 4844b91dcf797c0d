/* meter.h - one energy meter: picks a source, reads it, keeps the books.
 *
 * Free of collectd: it turns raw readings into the values SPEC section 3
 * describes (per-zone and total energy in joules, power in watts, the
 * meter-in-use gauge) and leaves naming the collectd types to the glue.
 */
#ifndef RAPL_METER_H
#define RAPL_METER_H

#include <stddef.h>
#include <stdint.h>

#include "energy_source.h"
#include "options.h"

typedef enum {
  RAPL_VALUE_ENERGY, /* joules, monotonic counter (collectd: derive) */
  RAPL_VALUE_POWER,  /* watts over the last interval (collectd: power) */
  RAPL_VALUE_METER,  /* 1: this meter is in use (collectd: gauge) */
  RAPL_VALUE_RATIO,  /* CPU busy ratio 0..1 of a zone (collectd: gauge) */
} rapl_value_kind_t;

/* The longest type_instance the meter makes, with its NUL. */
#define RAPL_VALUE_NAME_LEN 64

/* zone and name point into strings the meter (or its source) owns: they
 * are made once, when a zone or total is booked or the source starts, so
 * that a read only fills in numbers. Like the values themselves they are
 * valid until the next sample (a rescan may move or re-book zones), stop
 * or rapl_meter_free; copy them to keep them longer. */
typedef struct {
  rapl_value_kind_t kind;
  const char *zone; /* plugin_instance: the zone's key, "total"; "" for the
                     * meter gauge */
  const char *name; /* type_instance: domain, "<domain>-active",
                     * "cpu_usage_ratio", "meter-<source>" */
  uint64_t joules;  /* RAPL_VALUE_ENERGY */
  double value;     /* RAPL_VALUE_POWER, _METER, _RATIO */
} rapl_value_t;

typedef struct rapl_meter rapl_meter_t;

/* The options are copied. NULL when out of memory. */
rapl_meter_t *rapl_meter_new(const rapl_options_t *options);
void rapl_meter_free(rapl_meter_t *meter);

/* Finds a source if none is in use yet: 0 when one is (now or already);
 * otherwise -1 with `why` listing every source and why it was not used. */
int rapl_meter_start(rapl_meter_t *meter, char *why, size_t why_len);

/* The source in use ("rapl-powercap"), or NULL before a successful start. */
const char *rapl_meter_source(const rapl_meter_t *meter);

/* Reads every zone once and adds what it used to the books; each read is
 * stamped with rapl_clock_ns() (CLOCK_BOOTTIME) right after it returns. May be called
 * more often than values are dispatched (to stay within wrap times).
 * -1 when no source is in use. */
int rapl_meter_sample(rapl_meter_t *meter);
/* The same with every read stamped now_ns (deterministic tests). */
int rapl_meter_sample_at(rapl_meter_t *meter, uint64_t now_ns);

/* The values to dispatch after the latest sample, valid (with the strings
 * they point to) until the next call, sample or rapl_meter_free; power is
 * over the time since the previous call. -1: no source. */
int rapl_meter_values(rapl_meter_t *meter, const rapl_value_t **values,
                      size_t *count);

/* rapl_meter_sample_at() then rapl_meter_values(). */
int rapl_meter_read(rapl_meter_t *meter, uint64_t now_ns,
                    const rapl_value_t **values, size_t *count);

/* The longest period between samples that cannot miss a counter wrap:
 * half the shortest wrap time of any zone at its plausibility cap.
 * 0 when no zone constrains it (or no source is in use). */
uint64_t rapl_meter_safe_period_ns(const rapl_meter_t *meter);

#endif
