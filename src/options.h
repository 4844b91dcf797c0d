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

#include "cgroup.h"
#include "domain.h"

/* Energy sources, in the order SPEC section 1 names them. */
typedef enum {
  RAPL_SOURCE_POWERCAP,
  RAPL_SOURCE_MSR,
  RAPL_SOURCE_HWMON,
  RAPL_SOURCE_COUNT
} rapl_source_kind_t;

/* "powercap", "msr", "hwmon" (the names of the Sources option). */
const char *rapl_source_kind_name(rapl_source_kind_t kind);

#define RAPL_MAX_HWMON_CHIPS 32
#define RAPL_HWMON_CHIP_NAME_LEN 64
/* a `Cgroups` glob, NUL included (systemd and Kubernetes cgroup paths run
 * to ~200 bytes; a glob is shorter) */
#define RAPL_CGROUP_GLOB_LEN 512

typedef struct {
  char sysfs_path[PATH_MAX];  /* host's /sys ("/host/sys" in a container) */
  char procfs_path[PATH_MAX]; /* host's /proc */
  bool domain_wanted[RAPL_DOMAIN_COUNT]; /* `Zones` filter; all by default */
  bool per_socket; /* dispatch one value set per socket/die/psys zone */
  bool total;      /* dispatch the sums of each domain as zone "total" */
  /* `Sources`: preference order, each at most once */
  rapl_source_kind_t sources[RAPL_SOURCE_COUNT];
  size_t source_count;
  /* <MSR>: never used unless enabled (CVE-2020-8694/8695); force puts it
   * before powercap. No default, environment or command line turns it on. */
  bool msr_enabled;
  bool msr_force;
  char msr_device_path[PATH_MAX]; /* directory of <cpu>/msr */
  /* ActiveIdle: split each zone's energy by the busy ratio of its CPUs
   * (SPEC 3, 4); on by default */
  bool active_idle;
  /* HwmonChips: hwmon chip names used as CPU/platform meters (SPEC 8) */
  char hwmon_chips[RAPL_MAX_HWMON_CHIPS][RAPL_HWMON_CHIP_NAME_LEN];
  size_t hwmon_chip_count;
  char config_file[PATH_MAX]; /* ConfigFile (Kepler-style YAML); "" none */
  /* CgroupPath: the cgroup v2 root ("/host/sys/fs/cgroup" in a container);
   * whether it is v2 is checked at init (rapl_cgroups_open) */
  char cgroup_path[PATH_MAX];
  /* Cgroups: globs relative to cgroup_path (SPEC 9); none (the default):
   * energy per cgroup is off */
  char cgroup_globs[RAPL_MAX_CGROUP_GLOBS][RAPL_CGROUP_GLOB_LEN];
  size_t cgroup_glob_count;
} rapl_options_t;

void rapl_options_set_defaults(rapl_options_t *options);

/* The settings one configuration source (the <Plugin rapl> block, the
 * ConfigFile) set, as a bit set: the block wins over the file for every
 * setting it names, whatever the order of its options (SPEC 2). */
enum {
  RAPL_OPT_SYSFS_PATH = 1u << 0,
  RAPL_OPT_PROCFS_PATH = 1u << 1,
  RAPL_OPT_ZONES = 1u << 2,
  RAPL_OPT_PER_SOCKET = 1u << 3,
  RAPL_OPT_TOTAL = 1u << 4,
  RAPL_OPT_SOURCES = 1u << 5,
  RAPL_OPT_MSR_ENABLED = 1u << 6,
  RAPL_OPT_MSR_FORCE = 1u << 7,
  RAPL_OPT_MSR_DEVICE_PATH = 1u << 8,
  RAPL_OPT_ACTIVE_IDLE = 1u << 9,
  RAPL_OPT_HWMON_CHIPS = 1u << 10,
  RAPL_OPT_CONFIG_FILE = 1u << 11,
  RAPL_OPT_CGROUP_PATH = 1u << 12,
  RAPL_OPT_CGROUPS = 1u << 13,
};

/* Copies the settings named in `fields` (RAPL_OPT_* bits) from src. */
void rapl_options_copy(rapl_options_t *dst, const rapl_options_t *src,
                       unsigned fields);

/* Stores an absolute path (trailing slashes dropped). Returns 0, or -EINVAL
 * with a message naming `option` in err when the path is empty, relative or
 * too long. */
int rapl_options_set_path(char *slot, const char *option, const char *value,
                          char *err, size_t err_len);

/* Replaces the domain filter by `names` (at least one, each a RAPL domain,
 * case-insensitive). Returns 0 or -EINVAL with a message in err. */
int rapl_options_set_zones(rapl_options_t *options, const char *const *names,
                           size_t count, char *err, size_t err_len);

/* Replaces the source order by `names` (at least one; each "powercap", "msr"
 * or "hwmon", case-insensitive, at most once). 0 or -EINVAL with a message. */
int rapl_options_set_sources(rapl_options_t *options, const char *const *names,
                             size_t count, char *err, size_t err_len);

/* Replaces the hwmon chip list by `names` (1 to RAPL_MAX_HWMON_CHIPS, each
 * 1 to RAPL_HWMON_CHIP_NAME_LEN - 1 bytes, no '/', none twice). 0 or
 * -EINVAL with a message naming HwmonChips. */
int rapl_options_set_hwmon_chips(rapl_options_t *options,
                                 const char *const *names, size_t count,
                                 char *err, size_t err_len);

/* Whether `glob` can be a `Cgroups` pattern: relative to CgroupPath, so not
 * empty, not absolute, no empty, "." or ".." component (nothing outside
 * CgroupPath, one spelling per cgroup), every '[' closed, shorter than
 * RAPL_CGROUP_GLOB_LEN. 0, or -EINVAL with a message naming Cgroups and the
 * glob in err. Pure: no file system access. */
int rapl_options_check_cgroup_glob(const char *glob, char *err,
                                   size_t err_len);

/* Replaces the cgroup globs by `globs` (1 to RAPL_MAX_CGROUP_GLOBS, each
 * passing rapl_options_check_cgroup_glob). 0 or -EINVAL with a message. */
int rapl_options_set_cgroups(rapl_options_t *options,
                             const char *const *globs, size_t count,
                             char *err, size_t err_len);

/* The sources to try, in order: `Sources` with msr moved first when
 * msr_force is set. Returns how many were written to order[]. */
size_t rapl_options_source_order(const rapl_options_t *options,
                                 rapl_source_kind_t order[RAPL_SOURCE_COUNT]);

/* Whole-configuration checks, once every option is set. */
int rapl_options_check(const rapl_options_t *options, char *err,
                       size_t err_len);

#endif
