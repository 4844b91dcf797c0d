/* cgroup.h - energy per cgroup (SPEC 9), estimated the way Kepler does.
 *
 * Two halves, both free of collectd:
 *   - the reader (cgroup.c): which cgroup v2 directories under CgroupPath
 *     match the `Cgroups` globs (listed at each rescan, not at each read),
 *     and their CPU time: one pread of cpu.stat's usage_usec per cgroup per
 *     read, the descriptor kept open while the cgroup lives;
 *   - the model (cgroup_model.c, pure arithmetic): over each sample, a
 *     cgroup's share of a domain's machine-wide active energy is its
 *     Δusage_usec over the Δbusy time of all CPUs (/proc/stat, the read the
 *     active/idle split already makes); idle energy is not attributed, and
 *     the shares of cgroups that do not contain each other never add up to
 *     more than the active energy.
 * The meter calls the reader after the zones and feeds the model.
 */
#ifndef RAPL_CGROUP_H
#define RAPL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* collectd's DATA_MAX_NAME_LEN: plugin_instance holds at most 127 bytes */
#define RAPL_CGROUP_INSTANCE_LEN 128
#define RAPL_MAX_CGROUP_GLOBS 32

/* ---- the reader (cgroup.c) ---------------------------------------------- */

typedef struct {
  char *path; /* relative to CgroupPath: "system.slice/a.service" */
  /* plugin_instance: "cgroup-" + path with '/' -> '_'; cut with a stable
   * hash suffix where longer than collectd allows (rapl_cgroup_instance) */
  char instance[RAPL_CGROUP_INSTANCE_LEN];
  uint64_t id;   /* the directory's inode: the same path made again (a
                    service restarted) is a new instance with a new id */
  int fd;        /* cpu.stat, open while the cgroup lives; -1 when gone */
  bool read_ok;  /* usage_usec was read at the latest sample */
  uint64_t usage_usec;
  /* index of the nearest matched ancestor in the set, or -1: cgroups with
   * no matched ancestor are the ones whose shares must not overlap */
  long parent;
} rapl_cgroup_t;

typedef struct rapl_cgroups rapl_cgroups_t;

/* Checks that `cgroup_path` is the root of a cgroup v2 hierarchy (it has
 * cgroup.controllers) and compiles nothing yet: the globs are matched at
 * rescan. NULL with one line in `why` naming the option when the path is
 * missing, not v2 ("a cgroup v1 hierarchy"), or out of memory. */
rapl_cgroups_t *rapl_cgroups_open(const char *cgroup_path,
                                  char *const *globs, size_t glob_count,
                                  char *why, size_t why_len);
void rapl_cgroups_free(rapl_cgroups_t *set);

/* Lists the matched directories again: a new one (or a new instance of a
 * path) is added and baselined at its first read; one that is gone is
 * dropped. Costs one glob per pattern and one stat per match. */
int rapl_cgroups_rescan(rapl_cgroups_t *set);

/* One pread of each cgroup's cpu.stat. A cgroup removed between the
 * listing and the read (ENOENT, ENODEV) is skipped for this read and
 * dropped at the next rescan; the caller logs it once. */
void rapl_cgroups_sample(rapl_cgroups_t *set);

size_t rapl_cgroups_count(const rapl_cgroups_t *set);
const rapl_cgroup_t *rapl_cgroups_get(const rapl_cgroups_t *set, size_t i);

/* "cgroup-<path>" with '/' -> '_' into out (RAPL_CGROUP_INSTANCE_LEN); a
 * result longer than 127 bytes is cut and ends in "-" + 8 hex digits of a
 * hash of the whole path, so it stays unique and the same across runs. */
void rapl_cgroup_instance(const char *path, char *out, size_t out_len);

/* ---- the model (cgroup_model.c) ----------------------------------------- */

/* The share (0..1) of the sample's active energy for each of n cgroups:
 * delta_usage_usec[i] / delta_busy_usec, then, where the cgroups with no
 * matched ancestor (parent[i] < 0) add up to more than delta_busy_usec
 * (rounding, clocks read at slightly different times), all shares are
 * scaled down by the same factor. A cgroup not read at both ends of the
 * sample (valid[i] false) gets 0. delta_busy_usec 0: every share is 0. */
void rapl_cgroup_shares(const uint64_t *delta_usage_usec, const bool *valid,
                        const long *parent, size_t n, uint64_t delta_busy_usec,
                        double *share);

/* A cgroup's energy in one domain, exact in microjoules over many
 * samples: the fractional microjoules of each attribution are carried. */
typedef struct {
  uint64_t energy_uj;
  double carry_uj; /* 0 <= carry < 1 */
} rapl_cgroup_energy_t;

/* Adds share x active_uj; returns the whole microjoules added. */
uint64_t rapl_cgroup_energy_add(rapl_cgroup_energy_t *e, double share,
                                uint64_t active_uj);

#endif
