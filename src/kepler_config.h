/* kepler_config.h - the Kepler-style YAML of `ConfigFile` (SPEC 5) read
 * into rapl_options_t, free of collectd.
 *
 * Keys understood (case-sensitive, as Kepler's own reader):
 *   host.sysfs, host.procfs            absolute paths
 *   rapl.zones                         list of domains; [] = every zone
 *   cpu.preferredMeters                list of rapl, powercap, msr, hwmon
 *   msr.{enabled,force,devicePath}     also as device.msr.{...}
 * Every other key is ignored, whatever its value. A null value (`key:`,
 * `~`, `null`) is the same as a missing key. Booleans are YAML 1.2's:
 * plain true/True/TRUE/false/False/FALSE; YAML 1.1's yes/no/on/off and
 * quoted "true" are errors (the MSR opt-in must be unmistakable).
 */
#ifndef RAPL_KEPLER_CONFIG_H
#define RAPL_KEPLER_CONFIG_H

#include <stddef.h>

#include "options.h"

/* Larger files are refused: a Kepler configuration is a few kB. */
#define RAPL_KEPLER_CONFIG_MAX_BYTES (1024L * 1024)

/* Parses `len` bytes of YAML (no NUL terminator needed) from a file called
 * `name` in messages. On success applies what it sets onto *options, stores
 * the RAPL_OPT_* bits of those settings in *set and returns 0. On error
 * returns -EINVAL with "name:line:column: what" in err (line and column
 * counted from 1) and leaves *options and *set untouched. */
int rapl_kepler_config_parse(const char *name, const char *text, size_t len,
                             rapl_options_t *options, unsigned *set, char *err,
                             size_t err_len);

/* Reads the file at `path` and parses it as above. A file that cannot be
 * read gives -errno (-ENOENT, -EACCES, -EISDIR, -EFBIG, ...) with
 * "path: cannot read: why" in err. */
int rapl_kepler_config_load(const char *path, rapl_options_t *options,
                            unsigned *set, char *err, size_t err_len);

#endif
