/* options.c - see options.h. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void rapl_options_set_defaults(rapl_options_t *options) {
  memset(options, 0, sizeof(*options));
  snprintf(options->sysfs_path, sizeof(options->sysfs_path), "/sys");
  snprintf(options->procfs_path, sizeof(options->procfs_path), "/proc");
  for (unsigned i = 0; i < RAPL_DOMAIN_COUNT; i++)
    options->domain_wanted[i] = true;
  options->per_socket = true;
  options->total = true;
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

int rapl_options_check(const rapl_options_t *options, char *err,
                       size_t err_len) {
  if (!options->per_socket && !options->total) {
    snprintf(err, err_len,
             "PerSocket and Total are both false: the plugin would dispatch "
             "no energy value; set at least one of them to true");
    return -EINVAL;
  }
  return 0;
}
