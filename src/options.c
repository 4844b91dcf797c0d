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
  snprintf(options->cgroup_path, sizeof(options->cgroup_path),
           "/sys/fs/cgroup");
  options->cgroup_glob_count = 0; /* energy per cgroup off */
}

void rapl_options_copy(rapl_options_t *dst, const rapl_options_t *src,
                       unsigned fields) {
  if (fields & RAPL_OPT_SYSFS_PATH)
    memcpy(dst->sysfs_path, src->sysfs_path, sizeof(dst->sysfs_path));
  if (fields & RAPL_OPT_PROCFS_PATH)
    memcpy(dst->procfs_path, src->procfs_path, sizeof(dst->procfs_path));
  if (fields & RAPL_OPT_ZONES)
    memcpy(dst->domain_wanted, src->domain_wanted, sizeof(dst->domain_wanted));
  if (fields & RAPL_OPT_PER_SOCKET)
    dst->per_socket = src->per_socket;
  if (fields & RAPL_OPT_TOTAL)
    dst->total = src->total;
  if (fields & RAPL_OPT_SOURCES) {
    memcpy(dst->sources, src->sources, sizeof(dst->sources));
    dst->source_count = src->source_count;
  }
  if (fields & RAPL_OPT_MSR_ENABLED)
    dst->msr_enabled = src->msr_enabled;
  if (fields & RAPL_OPT_MSR_FORCE)
    dst->msr_force = src->msr_force;
  if (fields & RAPL_OPT_MSR_DEVICE_PATH)
    memcpy(dst->msr_device_path, src->msr_device_path,
           sizeof(dst->msr_device_path));
  if (fields & RAPL_OPT_ACTIVE_IDLE)
    dst->active_idle = src->active_idle;
  if (fields & RAPL_OPT_HWMON_CHIPS) {
    memcpy(dst->hwmon_chips, src->hwmon_chips, sizeof(dst->hwmon_chips));
    dst->hwmon_chip_count = src->hwmon_chip_count;
  }
  if (fields & RAPL_OPT_CONFIG_FILE)
    memcpy(dst->config_file, src->config_file, sizeof(dst->config_file));
  if (fields & RAPL_OPT_CGROUP_PATH)
    memcpy(dst->cgroup_path, src->cgroup_path, sizeof(dst->cgroup_path));
  if (fields & RAPL_OPT_CGROUPS) {
    memcpy(dst->cgroup_globs, src->cgroup_globs, sizeof(dst->cgroup_globs));
    dst->cgroup_glob_count = src->cgroup_glob_count;
  }
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

int rapl_options_set_hwmon_chips(rapl_options_t *options,
                                 const char *const *names, size_t count,
                                 char *err, size_t err_len) {
  if (count == 0 || count > RAPL_MAX_HWMON_CHIPS) {
    snprintf(err, err_len,
             "HwmonChips: expected 1 to %d hwmon chip names, got %zu values",
             RAPL_MAX_HWMON_CHIPS, count);
    return -EINVAL;
  }
  for (size_t i = 0; i < count; i++) {
    size_t len = strlen(names[i]);
    if (len == 0 || len >= RAPL_HWMON_CHIP_NAME_LEN ||
        strchr(names[i], '/') != NULL) {
      snprintf(err, err_len,
               "HwmonChips: \"%.*s%s\" is not a hwmon chip name (expected "
               "what a chip's `name` file holds: 1 to %d bytes, no '/')",
               RAPL_HWMON_CHIP_NAME_LEN, names[i],
               len > RAPL_HWMON_CHIP_NAME_LEN ? "..." : "",
               RAPL_HWMON_CHIP_NAME_LEN - 1);
      return -EINVAL;
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp(names[k], names[i]) == 0) {
        snprintf(err, err_len, "HwmonChips: \"%s\" is listed twice",
                 names[i]);
        return -EINVAL;
      }
  }
  for (size_t i = 0; i < count; i++)
    snprintf(options->hwmon_chips[i], sizeof(options->hwmon_chips[i]), "%s",
             names[i]);
  options->hwmon_chip_count = count;
  return 0;
}

int rapl_options_check_cgroup_glob(const char *glob, char *err,
                                   size_t err_len) {
  static const char expected[] =
      "expected a glob relative to CgroupPath, e.g. "
      "\"system.slice/*.service\"";
  if (glob == NULL || glob[0] == '\0') {
    snprintf(err, err_len, "Cgroups: %s, got an empty string", expected);
    return -EINVAL;
  }
  size_t len = strlen(glob);
  if (len >= RAPL_CGROUP_GLOB_LEN) {
    snprintf(err, err_len, "Cgroups: \"%.40s...\" is longer than %d bytes",
             glob, RAPL_CGROUP_GLOB_LEN - 1);
    return -EINVAL;
  }
  if (glob[0] == '/') {
    snprintf(err, err_len, "Cgroups: \"%s\": %s, got an absolute path",
             glob, expected);
    return -EINVAL;
  }
  /* components: none empty ("a//b", "a/"), none "." or ".." */
  for (const char *c = glob;;) {
    const char *slash = strchr(c, '/');
    size_t n = slash != NULL ? (size_t)(slash - c) : strlen(c);
    if (n == 0 || (n == 1 && c[0] == '.') ||
        (n == 2 && c[0] == '.' && c[1] == '.')) {
      snprintf(err, err_len,
               "Cgroups: \"%s\": %s, got %s component", glob, expected,
               n == 0 ? "an empty" : n == 1 ? "a \".\"" : "a \"..\"");
      return -EINVAL;
    }
    if (slash == NULL)
      break;
    c = slash + 1;
  }
  /* brackets as glob(3) reads them: '[' opens a class closed by a later
   * ']' (one right after "[" or "[!" is a member) within the component;
   * a backslash escapes the next character outside a class */
  for (size_t i = 0; i < len; i++) {
    if (glob[i] == '\\' && i + 1 < len) {
      i++;
      continue;
    }
    if (glob[i] != '[')
      continue;
    size_t k = i + 1;
    if (k < len && (glob[k] == '!' || glob[k] == '^'))
      k++;
    if (k < len && glob[k] == ']')
      k++;
    while (k < len && glob[k] != ']' && glob[k] != '/')
      k++;
    if (k >= len || glob[k] != ']') {
      snprintf(err, err_len,
               "Cgroups: \"%s\": unbalanced '[' at byte %zu (a class "
               "[...] must close within its path component)",
               glob, i + 1);
      return -EINVAL;
    }
    i = k;
  }
  return 0;
}

int rapl_options_set_cgroups(rapl_options_t *options,
                             const char *const *globs, size_t count,
                             char *err, size_t err_len) {
  if (count == 0 || count > RAPL_MAX_CGROUP_GLOBS) {
    snprintf(err, err_len,
             "Cgroups: expected 1 to %d globs relative to CgroupPath, got "
             "%zu values",
             RAPL_MAX_CGROUP_GLOBS, count);
    return -EINVAL;
  }
  for (size_t i = 0; i < count; i++)
    if (rapl_options_check_cgroup_glob(globs[i], err, err_len) != 0)
      return -EINVAL;
  for (size_t i = 0; i < count; i++)
    snprintf(options->cgroup_globs[i], sizeof(options->cgroup_globs[i]), "%s",
             globs[i]);
  options->cgroup_glob_count = count;
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
