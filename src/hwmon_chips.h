/* hwmon_chips.h - what the hwmon source knows about chips and channels,
 * as data and pure functions (no I/O): attribute names, labels, the
 * voltage x current pairing table, sentinels, and the trapezoid integral
 * of a power reading into an energy counter. tests/test_hwmon.c covers
 * each; src/hwmon.c is the only code that reads hwmon files.
 */
#ifndef RAPL_HWMON_CHIPS_H
#define RAPL_HWMON_CHIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Channel types of Documentation/hwmon/sysfs-interface used here. */
typedef enum {
  RAPL_HWMON_ENERGY, /* energyN_*: uJ */
  RAPL_HWMON_POWER,  /* powerN_*: uW */
  RAPL_HWMON_IN,     /* inN_*: mV */
  RAPL_HWMON_CURR,   /* currN_*: mA */
} rapl_hwmon_type_t;

typedef enum {
  RAPL_HWMON_INPUT,   /* _input */
  RAPL_HWMON_AVERAGE, /* _average (not _average_interval, _average_max...) */
  RAPL_HWMON_LABEL,   /* _label */
  RAPL_HWMON_ENABLE,  /* _enable */
} rapl_hwmon_item_t;

typedef struct {
  rapl_hwmon_type_t type;
  unsigned index;
  rapl_hwmon_item_t item;
} rapl_hwmon_attr_t;

/* "power1_average" -> {POWER, 1, AVERAGE}. False for any other file
 * (power1_average_interval, temp1_input, name, ...). */
bool rapl_hwmon_parse_attr(const char *name, rapl_hwmon_attr_t *attr);

/* "energy", "power", "in", "curr". */
const char *rapl_hwmon_type_name(rapl_hwmon_type_t type);

/* A label as a domain (SPEC 8): lower-cased, every character outside
 * [a-z0-9_] mapped to '_' ("CPU power" -> "cpu_power"); cut to fit len.
 * Trailing newline and blanks are dropped first. False when nothing is
 * left (an empty label: the caller uses the channel's name). */
bool rapl_hwmon_domain_from_label(const char *label, char *domain, size_t len);

/* One voltage x current pair: power = in<in_index> (mV) x curr<curr_index>
 * (mA) = uW. */
typedef struct {
  unsigned in_index;
  unsigned curr_index;
} rapl_hwmon_pair_t;

#define RAPL_HWMON_MAX_PAIRS 4

typedef struct {
  const char *chip; /* hwmon `name` */
  rapl_hwmon_pair_t pairs[RAPL_HWMON_MAX_PAIRS];
  size_t pair_count;
  const char *why; /* the kernel driver's channel layout, for the reader */
} rapl_hwmon_chip_pairs_t;

/* The table's row for a chip, or NULL: then same-index channels with the
 * same label pair up. */
const rapl_hwmon_chip_pairs_t *rapl_hwmon_chip_pairs(const char *chip);

/* The whole table (README, tests). */
const rapl_hwmon_chip_pairs_t *rapl_hwmon_pair_table(size_t *count);

/* amd_energy and zenergy: per-core and per-socket energy channels. */
bool rapl_hwmon_is_amd_energy_chip(const char *chip);

typedef enum {
  RAPL_HWMON_AMD_NONE,
  RAPL_HWMON_AMD_CORE,   /* Ecore<NNN>: read on CPU NNN */
  RAPL_HWMON_AMD_SOCKET, /* Esocket<N> */
} rapl_hwmon_amd_kind_t;

/* "Ecore007" -> CORE, 7; "Esocket1" -> SOCKET, 1; else NONE. */
rapl_hwmon_amd_kind_t rapl_hwmon_parse_amd_label(const char *label,
                                                 unsigned *number);

/* A signed decimal as hwmon prints it ("%ld\n", "%d\n"): currents can be
 * negative. 0, -ENODATA (empty), -EINVAL, -ERANGE. */
int rapl_hwmon_parse_s64(const char *buf, size_t len, int64_t *value);

/* All-ones "no reading" values drivers pass through (SPEC 7): 2^32-1 and
 * 2^64-1 in any unit, and 4294967295000 uW (ACPI power_meter: _PMM's
 * 0xFFFFFFFF mW, times 1000; lm-sensors#460 "4.29 MW"). */
bool rapl_hwmon_is_sentinel(uint64_t value);

/* Power integrated into a monotonic microjoule counter with the trapezoid
 * rule (SPEC 8). Exact: the remainder below one microjoule is kept. */
typedef struct {
  bool have_prev;
  uint64_t prev_uw;
  uint64_t prev_ns;
  uint64_t energy_uj;
  uint64_t rem;  /* of (uW x ns x 2): below 2e9 */
} rapl_hwmon_integral_t;

/* Adds the interval since the previous reading, (prev + now) / 2 x dt,
 * and moves the baseline to (power_uw, now_ns). The first reading (or one
 * not after the previous) only sets the baseline. */
void rapl_hwmon_integrate(rapl_hwmon_integral_t *integral, uint64_t power_uw,
                          uint64_t now_ns);

/* Forget the baseline (the channel was gone): the counter is kept. */
static inline void rapl_hwmon_integral_forget(rapl_hwmon_integral_t *integral) {
  integral->have_prev = false;
}

#endif
