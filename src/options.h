/* options.h - the plugin's settings (SPEC section 2), free of collectd.
 *
 * The collectd glue fills this from the <Plugin rapl> block; the core reads it.
 * Fixed-size buffers: nothing to free, nothing to leak across reloads.
 */
#ifndef RAPL_OPTIONS_H
#define RAPL_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "domain.h"

typedef struct {
  char sysfs_path[PATH_MAX];  /* host's /sys ("/host/sys" in a container) */
  char procfs_path[PATH_MAX]; /* host's /proc */
  bool domain_wanted[RAPL_DOMAIN_COUNT]; /* `Zones` filter; all by default */
  bool per_socket; /* dispatch one value set per socket/die/psys zone */
  bool total;      /* dispatch the sums of each domain as zone "total" */
} rapl_options_t;

void rapl_options_set_defaults(rapl_options_t *options);

/* Stores an absolute path (trailing slashes dropped). Returns 0, or -EINVAL
 * with a message naming `option` in err when the path is empty, relative or
 * too long. */
int rapl_options_set_path(char *slot, const char *option, const char *value,
                          char *err, size_t err_len);

/* Replaces the domain filter by `names` (at least one, each a RAPL domain,
 * case-insensitive). Returns 0 or -EINVAL with a message in err. */
int rapl_options_set_zones(rapl_options_t *options, const char *const *names,
                           size_t count, char *err, size_t err_len);

/* Whole-configuration checks, once every option is set. */
int rapl_options_check(const rapl_options_t *options, char *err,
                       size_t err_len);

#endif
