/*
 * sim_machine.h - simulated RAPL machine: builds a fake sysfs powercap tree
 * from a YAML machine description and advances its energy counters in place,
 * the way the Linux kernel presents them (32-bit hardware counter, truncated
 * nanojoule unit, energy_uj wrapping at max_energy_range_uj).
 *
 * Used by the tests and the demo of collectd-rapl; see contrib/sim/README.md.
 */
#ifndef SIM_MACHINE_H
#define SIM_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_machine sim_machine_t;

/* Load a description; on error return NULL and write a message naming
 * file:line:col into err (sim_load_string uses "<string>" as file name). */
sim_machine_t *sim_load_file(const char *path, char *err, size_t err_len);
sim_machine_t *sim_load_string(const char *yaml, char *err, size_t err_len);

/* Free everything; closes the writer fds too. NULL is accepted. */
void sim_free(sim_machine_t *m);

/* Create the tree under root (root is created if missing and made 0755) and
 * open the writer fds; the current counter values are written.  Calling it
 * again rebuilds (closes and reopens the fds).  Returns 0 or -errno; on
 * failure sim_build_error() says which path failed. */
int sim_build(sim_machine_t *m, const char *root);
const char *sim_build_error(const sim_machine_t *m);

/* Set every zone's start so its 32-bit counter wraps `seconds` after now at
 * the zone's current power: the zone's tick count is set to
 * 2^32 - ceil(power * seconds / unit) (0 when that is negative).  Meant to be
 * called before the first advance; if the tree is built the files are
 * rewritten at once.  Energy delivered so far (sim_zone_truth_nj) is kept. */
void sim_wrap_in(sim_machine_t *m, double seconds);

/* Advance simulated time by dt_ns at each zone's power, rewrite every
 * energy_uj in place (pwrite + ftruncate on the open fd).  Works before
 * sim_build too (then only the state changes).  0 or -errno. */
int sim_advance_ns(sim_machine_t *m, uint64_t dt_ns);

/* Rewrite every energy_uj from the current state.  0 or -errno. */
int sim_write_all(sim_machine_t *m);

/* Machine-wide information. */
const char *sim_machine_name(const sim_machine_t *m);
const char *sim_machine_description(const sim_machine_t *m); /* "" if none */
const char *sim_root(const sim_machine_t *m); /* absolute root after sim_build, else NULL */
uint64_t sim_elapsed_ns(const sim_machine_t *m); /* sum of all dt_ns advanced */

/* Zones: all zones incl. sub-zones and mmio, in file order (a top-level zone
 * is followed by its sub-zones; the powercap section comes before mmio). */
size_t sim_zone_count(const sim_machine_t *m);
/* absolute path of the zone's directory under devices/ (NULL before sim_build) */
const char *sim_zone_dir(const sim_machine_t *m, size_t i);
/* "package-0", "dram", ... */
const char *sim_zone_name(const sim_machine_t *m, size_t i);
/* parent's name for sub-zones, own name for top-level zones */
const char *sim_zone_parent_name(const sim_machine_t *m, size_t i);
/* name of the flat link in sys/class/powercap: "intel-rapl:0:1", "intel-rapl-mmio:0" */
const char *sim_zone_link_name(const sim_machine_t *m, size_t i);
int sim_zone_is_mmio(const sim_machine_t *m, size_t i);
int sim_zone_is_subzone(const sim_machine_t *m, size_t i);
uint64_t sim_zone_power_uw(const sim_machine_t *m, size_t i);
/* New power applies to the time advanced from now on. */
void sim_zone_set_power_uw(sim_machine_t *m, size_t i, uint64_t power_uw);
uint64_t sim_zone_max_range_uj(const sim_machine_t *m, size_t i);
/* exact energy delivered since sim start (excluding the start offset) */
uint64_t sim_zone_truth_nj(const sim_machine_t *m, size_t i);
/* the value currently in energy_uj: (ticks & 0xFFFFFFFF) * unit_nj / 1000 */
uint64_t sim_zone_energy_uj(const sim_machine_t *m, size_t i);
uint64_t sim_zone_unit_nj(const sim_machine_t *m, size_t i);
/* start offset in nJ (start_uj * 1000, or what sim_wrap_in chose) */
uint64_t sim_zone_start_nj(const sim_machine_t *m, size_t i);
/* the 32-bit hardware counter value (ticks & 0xFFFFFFFF) */
uint32_t sim_zone_raw32(const sim_machine_t *m, size_t i);

/* Kernel arithmetic, exposed for tests. */
uint64_t sim_unit_nj_from_esu(unsigned esu);       /* 1000000000 / (1 << esu) */
uint64_t sim_max_range_uj_for_unit(uint64_t unit_nj); /* 0xFFFFFFFF * unit_nj / 1000 */

/* Check the arithmetic against known kernel values (262143328850 for ESU 14,
 * 65712999613 for the fixed 15.3 uJ DRAM unit, ...).  0 if fine, else -1 and
 * a message in err. */
int sim_selftest(char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* SIM_MACHINE_H */
