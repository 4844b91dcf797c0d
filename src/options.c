/* options.c - see options.h. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const source_names[RAPL_SOURCE_COUNT] = {
    [RAPL_SOURCE_POWERCAP] = "powercap",
    [RAPL_SOURCE_MSR] = "msr",
    [RAPL_SOURCE_HWMON] = "hwmon",
};

const char *rapl_source_kind_name(rapl_source_kind_t kind) {
  return (unsigned)kind < RAPL_SOURCE_COUNT ? source_names[kind] : "?";
}

void rapl_options_set_defaults(rapl_options_t *options) {
  memset(options, 0, sizeof(*options));
  snprintf(options->sysfs_path, sizeof(options->sysfs_path), "/sys");
  snprintf(options->procfs_path, sizeof(options->procfs_path), "/proc");
  for (unsigned i = 0; i < RAPL_DOMAIN_COUNT; i++)
    options->domain_wanted[i] = true;
  options->per_socket = true;
  options->total = true;
  for (unsigned i = 0; i < RAPL_SOURCE_COUNT; i++)
    options->sources[i] = (rapl_source_kind_t)i;
  options->source_count = RAPL_SOURCE_COUNT;
  options->msr_enabled = false;
  options->msr_force = false;
  snprintf(options->msr_device_path, sizeof(options->msr_device_path),
           "/dev/cpu");
  options->active_idle = true;
  /* CPU and platform meters only: GPUs, drives, batteries and board rails
   * are never CPU meters unless named (SPEC 8) */
  static const char *const default_chips[] = {
      "apm_xgene",   "amd_energy",  "zenergy",     "power_meter",
      "smpro_hwmon", "altra_hwmon", "fam15h_power"};
  for (size_t i = 0; i < sizeof(default_chips) / sizeof(default_chips[0]); i++)
    snprintf(options->hwmon_chips[options->hwmon_chip_count++],
             sizeof(options->hwmon_chips[0]), "%s", default_chips[i]);
}

int rapl_options_set_path(char *slot, const char *option, const char *value,
                          char *err, size_t err_len) {
  if (value == NULL || value[0] == '\0') {
    snprintf(err, err_len, "%s: expected an absolute path, got an empty string",
             option);
    return -EINVAL;
  }
  if (value[0] != '/') {
    snprintf(err, err_len,
             "%s: expected an absolute path, got the relative path \"%s\"",
             option, value);
    return -EINVAL;
  }
  size_t len = strlen(value);
  if (len >= PATH_MAX) {
    snprintf(err, err_len, "%s: path is longer than %d bytes", option,
             PATH_MAX - 1);
    return -EINVAL;
  }
  /* "/host/sys/" and "/host/sys" are the same root; "/" stays "/". */
  while (len > 1 && value[len - 1] == '/')
    len--;
  memcpy(slot, value, len);
  slot[len] = '\0';
  return 0;
}

int rapl_options_set_zones(rapl_options_t *options, const char *const *names,
                           size_t count, char *err, size_t err_len) {
  bool wanted[RAPL_DOMAIN_COUNT] = {false};
  if (count == 0) {
    snprintf(err, err_len,
             "Zones: expected one or more domain names "
             "(package, core, uncore, dram, psys), got none");
    return -EINVAL;
  }
  for (size_t i = 0; i < count; i++) {
    enum rapl_domain domain;
    if (!rapl_domain_from_name(names[i], &domain)) {
      snprintf(err, err_len,
               "Zones: unknown domain \"%s\" (expected package, core, "
               "uncore, dram or psys)",
               names[i]);
      return -EINVAL;
    }
    wanted[domain] = true;
  }
  memcpy(options->domain_wanted, wanted, sizeof(wanted));
  return 0;
}

int rapl_options_set_sources(rapl_options_t *options, const char *const *names,
                             size_t count, char *err, size_t err_len) {
  rapl_source_kind_t order[RAPL_SOURCE_COUNT];
  bool seen[RAPL_SOURCE_COUNT] = {false};
  if (count == 0 || count > RAPL_SOURCE_COUNT) {
    snprintf(err, err_len,
             "Sources: expected 1 to %d of \"powercap\", \"msr\", \"hwmon\", "
             "got %zu values",
             RAPL_SOURCE_COUNT, count);
    return -EINVAL;
  }
  for (size_t i = 0; i < count; i++) {
    unsigned k = 0;
    while (k < RAPL_SOURCE_COUNT && strcasecmp(names[i], source_names[k]) != 0)
      k++;
    if (k == RAPL_SOURCE_COUNT) {
      snprintf(err, err_len,
               "Sources: unknown source \"%s\" (expected powercap, msr or "
               "hwmon)",
               names[i]);
      return -EINVAL;
    }
    if (seen[k]) {
      snprintf(err, err_len, "Sources: \"%s\" is listed twice", names[i]);
      return -EINVAL;
    }
    seen[k] = true;
    order[i] = (rapl_source_kind_t)k;
  }
  memcpy(options->sources, order, count * sizeof(order[0]));
  options->source_count = count;
  return 0;
}

size_t rapl_options_source_order(const rapl_options_t *options,
                                 rapl_source_kind_t order[RAPL_SOURCE_COUNT]) {
  size_t n = 0;
  if (options->msr_force)
    order[n++] = RAPL_SOURCE_MSR;
  for (size_t i = 0; i < options->source_count; i++)
    if (!(options->msr_force && options->sources[i] == RAPL_SOURCE_MSR))
      order[n++] = options->sources[i];
  return n;
}

int rapl_options_check(const rapl_options_t *options, char *err,
                       size_t err_len) {
  if (!options->per_socket && !options->total) {
    snprintf(err, err_len,
             "PerSocket and Total are both false: the plugin would dispatch "
             "no energy value; set at least one of them to true");
    return -EINVAL;
  }
  if (options->msr_force && !options->msr_enabled) {
    snprintf(err, err_len,
             "MSR: Force true needs Enabled true (MSR reading is never turned "
             "on implicitly)");
    return -EINVAL;
  }
  return 0;
}
