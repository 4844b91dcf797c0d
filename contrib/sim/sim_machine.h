/*
 * sim_machine.h - simulated RAPL machine: builds a fake sysfs powercap tree
 * from a YAML machine description and advances its energy counters in place,
 * the way the Linux kernel presents them (32-bit hardware counter, truncated
 * nanojoule unit, energy_uj wrapping at max_energy_range_uj); optionally
 * also its CPU topology, /proc/cpuinfo and MSRs reading the same counters.
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

/* What sim_build_ex creates.  sim_build(m, root) is sim_build_ex with
 * {.powercap = 1, .cpu = 1, .msr_files = 0}. */
typedef struct {
  /* ROOT/sys/class/powercap and ROOT/sys/devices/virtual/powercap (default
   * 1).  0 simulates a kernel without powercap: the counters still run,
   * sim_zone_dir() is NULL and no energy_uj is written. */
  int powercap;
  /* ROOT/sys/devices/system/cpu and ROOT/proc/cpuinfo, when the description
   * has a cpu: section (default 1). */
  int cpu;
  /* ROOT/dev/cpu/N/msr for every online CPU as SPARSE REGULAR FILES (0600)
   * holding each register as a little-endian 8-byte value at offset =
   * register number; kept up to date by sim_advance_ns (default 0).  Needs
   * cpu: and msr:; Intel only: -EINVAL for AMD/Hygon, whose registers
   * 0xC0010299..0xC001029B are 1 apart and would overlap in a plain file.
   * A sparse file cannot say EIO: an unimplemented register reads 0 (or
   * end of file past the highest one). */
  int msr_files;
} sim_build_opts_t;
int sim_build_ex(sim_machine_t *m, const char *root,
                 const sim_build_opts_t *opts);

/* Set every zone's start (and every AMD per-core counter's) so its 32-bit
 * counter wraps `seconds` after now at
 * the zone's current power: the zone's tick count is set to
 * 2^32 - ceil(power * seconds / unit) (0 when that is negative).  Meant to be
 * called before the first advance; if the tree is built the files are
 * rewritten at once.  Energy delivered so far (sim_zone_truth_nj) is kept. */
void sim_wrap_in(sim_machine_t *m, double seconds);

/* Advance simulated time by dt_ns at each zone's power (and each AMD
 * per-core counter's), rewrite every energy_uj in place (pwrite + ftruncate
 * on the open fd) and, when built, the sparse msr files (pwrite of 8 bytes
 * at the register offset).  Works before sim_build too (then only the state
 * changes).  0 or -errno. */
int sim_advance_ns(sim_machine_t *m, uint64_t dt_ns);

/* Rewrite every energy_uj (and sparse msr file) from the current state.
 * 0 or -errno. */
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
/* start offset in nJ (start_uj * 1000, or what sim_wrap_in chose; after
 * sim_zone_set_raw32 or a stuck period, the offset giving the counter,
 * modulo 2^32 ticks) */
uint64_t sim_zone_start_nj(const sim_machine_t *m, size_t i);
/* the 32-bit hardware counter value (ticks & 0xFFFFFFFF) */
uint32_t sim_zone_raw32(const sim_machine_t *m, size_t i);

/* The zone's directory relative to sys/devices/virtual/powercap:
 * "intel-rapl/intel-rapl:0/intel-rapl:0:1" (available without sim_build). */
const char *sim_zone_path(const sim_machine_t *m, size_t i);
/* The zone whose class link name (sim_zone_link_name) is link_name:
 * 0 and *i set, or -ENOENT. */
int sim_zone_find(const sim_machine_t *m, const char *link_name, size_t *i);

/* ---- Faults (tests) -------------------------------------------------------
 * What the simulated hardware or sysfs can do wrong.  The state lives here;
 * it is shown by the regular-file tree of sim_build as far as regular files
 * can show it, or by whoever serves the tree (rapl-sim's FUSE file system,
 * sim_fuse.h) after sim_powercap_set_served(m, 1).  No fault is set after
 * sim_load_*; every function below returns -EINVAL for a bad index, and
 * -errno when rewriting the regular files failed (sim_build_error() says
 * which path). */

/* The counter: these change the hardware counter, never the truth
 * (sim_zone_truth_nj keeps counting the energy delivered).  The MSR view
 * reads the same counter, so it sees them too.  On a built tree energy_uj
 * is rewritten at once.
 * set_raw32: the 32-bit counter jumps to raw (a reset when lower); the
 * sub-tick remainder is kept and the counter advances from there.
 * sim_zone_start_nj() then returns the start that gives this counter
 * (modulo 2^32 ticks).  stick: while on, the counter does not advance (stuck
 * hardware) although energy is still delivered; off: it advances again from
 * where it stuck. */
int sim_zone_set_raw32(sim_machine_t *m, size_t i, uint32_t raw);
void sim_zone_stick(sim_machine_t *m, size_t i, int on);
int sim_zone_stuck(const sim_machine_t *m, size_t i);

/* What a read of energy_uj gives.  The counter keeps advancing underneath. */
typedef enum {
  SIM_FAULT_NONE = 0, /* the value */
  SIM_FAULT_EIO,      /* read() fails with EIO */
  SIM_FAULT_EAGAIN,   /* ... EAGAIN */
  SIM_FAULT_ENODATA,  /* ... ENODATA */
  SIM_FAULT_EACCES,   /* ... EACCES (the open worked, the read is refused) */
  SIM_FAULT_GARBAGE,  /* the content is "garbage\n" */
  SIM_FAULT_EMPTY,    /* the content is empty (a read returns 0 bytes) */
} sim_fault_t;
/* Regular files can show NONE, GARBAGE and EMPTY (energy_uj is rewritten
 * with that content, and kept so while the fault lasts); the read errors
 * give -ENOTSUP unless the tree is served (the state is then unchanged). */
int sim_zone_set_fault(sim_machine_t *m, size_t i, sim_fault_t fault);
sim_fault_t sim_zone_fault(const sim_machine_t *m, size_t i);
/* "eio", "garbage", ... -> 0 and *fault, else -EINVAL; and back ("none"
 * for SIM_FAULT_NONE, NULL for an unknown value). */
int sim_fault_parse(const char *s, sim_fault_t *fault);
const char *sim_fault_name(sim_fault_t fault);

/* What max_energy_range_uj shows.  sim_zone_max_range_uj() stays the real
 * value. */
typedef enum {
  SIM_RANGE_REAL = 0,   /* 0xFFFFFFFF * unit_nj / 1000 */
  SIM_RANGE_VALUE,      /* value_uj */
  SIM_RANGE_UNREADABLE, /* read() fails with EIO: needs a served tree,
                           -ENOTSUP otherwise */
} sim_range_t;
int sim_zone_set_range(sim_machine_t *m, size_t i, sim_range_t mode,
                       uint64_t value_uj);
sim_range_t sim_zone_range_mode(const sim_machine_t *m, size_t i);

/* The text a read of the zone's energy_uj / max_energy_range_uj returns
 * now, with the faults applied: its length (written to buf, NUL-terminated
 * when it fits; "garbage\n", or 0 for SIM_FAULT_EMPTY) or the negative
 * errno the read fails with (-EIO, -EAGAIN, -ENODATA, -EACCES).  Whether the
 * zone is present (below) is not checked. */
int sim_zone_energy_text(const sim_machine_t *m, size_t i, char *buf,
                         size_t len);
int sim_zone_range_text(const sim_machine_t *m, size_t i, char *buf,
                        size_t len);

/* Zones coming and going (a package removed with its last CPU, suspend, a
 * sysfs root that is unmounted...).  sim_zone_vanish(m, i, 1): the zone's
 * directory and its sub-zones' disappear, so its class link dangles;
 * (m, i, 0): it comes back.  sim_powercap_vanish_all: the same for every
 * control type directory (intel-rapl, intel-rapl-mmio) and so every zone.
 * The counters keep running.  In the regular-file tree a vanished
 * directory is moved (rename) to ROOT/.rapl-sim-vanished/<name> and moved
 * back on return; descriptors opened before keep reading it there (a
 * regular file cannot say ENODEV as kernfs does for a removed node; a
 * served tree does, see sim_zone_generation).  Vanishing what is already
 * gone, or returning what is there, does nothing. */
int sim_zone_vanish(sim_machine_t *m, size_t i, int gone);
int sim_powercap_vanish_all(sim_machine_t *m, int gone);
int sim_zone_vanished(const sim_machine_t *m, size_t i); /* its own flag */
int sim_powercap_all_vanished(const sim_machine_t *m);
/* Visible: not vanished itself, nor its parent, nor all. */
int sim_zone_present(const sim_machine_t *m, size_t i);
/* A number that changes (grows) whenever the zone's node is removed: a
 * vanish of the zone, of its parent or of all.  A server remembers it at
 * open() and answers ENODEV to reads once it differs (kernfs: a node that
 * came back is a new node).  sim_powercap_generation: the same for the
 * control type directories (vanish-all only). */
unsigned sim_zone_generation(const sim_machine_t *m, size_t i);
unsigned sim_powercap_generation(const sim_machine_t *m);

/* on = 1: the powercap tree is presented by a server reading the state
 * above (rapl-sim --powercap fuse, mounted over
 * ROOT/sys/devices/virtual/powercap), not by the regular files: energy_uj
 * is no longer rewritten, faults are not mirrored into the files (no
 * rewrite, no rename) and every fault is accepted.  Call it after
 * sim_build, before any fault; sim_build_ex rewrites the files whatever it
 * says. */
void sim_powercap_set_served(sim_machine_t *m, int on);
int sim_powercap_served(const sim_machine_t *m);

/* ---- CPU topology (the cpu: section) ----------------------------------
 * Logical CPUs are numbered as Linux enumerates a typical x86 server: the
 * first thread of every core, package-major (package 0 die 0 cores, package
 * 0 die 1 cores, ..., package 1 ...), then the second threads in the same
 * order.  core_id counts across the dies of a package (die 1 starts at
 * cores_per_die).  All of these describe offline CPUs too. */
int sim_has_cpu(const sim_machine_t *m);          /* cpu: present */
size_t sim_cpu_count(const sim_machine_t *m);     /* 0 without cpu: */
int sim_cpu_online(const sim_machine_t *m, unsigned cpu); /* 1/0 (0: no such CPU) */
int sim_cpu_package(const sim_machine_t *m, unsigned cpu); /* -1: no such CPU */
int sim_cpu_die(const sim_machine_t *m, unsigned cpu);     /* die_id in its package */
int sim_cpu_core(const sim_machine_t *m, unsigned cpu);    /* core_id in its package */
int sim_cpu_thread(const sim_machine_t *m, unsigned cpu);  /* 0 = first thread */
const char *sim_cpu_vendor(const sim_machine_t *m); /* "GenuineIntel"..., NULL without cpu: */
/* CPU hotplug at run time, as `echo 0|1 > cpuN/online`: on = 0 takes the
 * CPU offline, 1 brings it back.  Its MSRs then give / stop giving ENXIO
 * (sim_msr_read, and the FUSE device, which checks sim_cpu_online at each
 * lookup).  On a built tree, sys/devices/system/cpu/{online,offline},
 * cpuN/online, cpuN/topology (removed while offline), the sibling lists
 * of the other CPUs and proc/cpuinfo are rewritten, and with sparse msr
 * files ROOT/dev/cpu/N/msr is removed / created.  Every CPU of a package
 * (die) may go offline (unlike the offline: list at load), but the
 * powercap zones are left alone: sim_zone_vanish them to show the kernel
 * removing the package with its last CPU.  AMD/Hygon: a core whose
 * threads are all offline draws no power from then on; the lead core
 * (the powercap core zone) stays the one chosen at load.  0, -EINVAL (no
 * cpu: section, no such CPU, or CPU 0 offline: x86 cannot unplug it), or
 * -errno from rewriting the files (sim_build_error() says which path). */
int sim_cpu_set_online(sim_machine_t *m, unsigned cpu, int on);

unsigned sim_cpu_family(const sim_machine_t *m);
unsigned sim_cpu_model(const sim_machine_t *m);
unsigned sim_cpu_packages(const sim_machine_t *m);
unsigned sim_cpu_dies_per_package(const sim_machine_t *m);

/* ---- MSRs (the msr: section) --------------------------------------------
 * Each energy status register returns the 32-bit hardware counter of the
 * powercap zone it belongs to (zero-extended), so both views read the same
 * counter: Intel 0x611/0x639/0x641/0x619 = the CPU's package (or die) zone
 * and its core/uncore/dram sub-zones, 0x64D = psys; AMD/Hygon 0xC001029B =
 * the package zone, 0xC001029A = a counter per physical core (see below).
 * The unit register (0x606 / 0xC0010299) returns msr.unit; registers listed
 * in msr.zero read 0.  Returns 0, -ENXIO for a CPU that does not exist or is
 * offline, -EIO for a register that is not implemented (every register when
 * the description has no msr: section), -EINVAL for NULL arguments. */
#define SIM_MSR_RAPL_POWER_UNIT 0x606u      /* Intel, REFERENCE.md 2.1 */
#define SIM_MSR_PKG_ENERGY_STATUS 0x611u
#define SIM_MSR_DRAM_ENERGY_STATUS 0x619u
#define SIM_MSR_PP0_ENERGY_STATUS 0x639u     /* core */
#define SIM_MSR_PP1_ENERGY_STATUS 0x641u     /* uncore */
#define SIM_MSR_PLATFORM_ENERGY_STATUS 0x64Du /* psys */
#define SIM_MSR_AMD_RAPL_POWER_UNIT 0xC0010299u
#define SIM_MSR_AMD_CORE_ENERGY_STATUS 0xC001029Au /* per core */
#define SIM_MSR_AMD_PKG_ENERGY_STATUS 0xC001029Bu  /* per package */

int sim_has_msr(const sim_machine_t *m);
uint64_t sim_msr_unit(const sim_machine_t *m); /* msr.unit, 0 without msr: */
int sim_msr_read(const sim_machine_t *m, unsigned cpu, uint32_t reg,
                 uint64_t *value);

/* AMD/Hygon per-core counters (0xC001029A).  Every physical core of a
 * package has its own counter advancing at the power of the package's
 * `core` sub-zone; both threads of a core read the same counter.  The core
 * of the package's lead CPU (its lowest-numbered online CPU, the one the
 * kernel reads) IS the powercap `core` zone; the other cores start at
 * distinct values derived from their index.  A core whose threads are all
 * offline draws no power (it cannot be read either), so the sum of the
 * truths is what a reader summing one thread per core should see.
 * core_index = core_id, 0 .. sim_amd_core_count-1.  Count 0 when the
 * machine is not AMD/Hygon or the package has no `core` sub-zone. */
size_t sim_amd_core_count(const sim_machine_t *m, unsigned package);
/* energy delivered since the sim start (start offset excluded), nJ */
uint64_t sim_amd_core_truth_nj(const sim_machine_t *m, unsigned package,
                               size_t core_index);
/* the core's 32-bit counter */
uint32_t sim_amd_core_raw32(const sim_machine_t *m, unsigned package,
                            size_t core_index);

/* ---- hwmon chips (the hwmon: section, sim_hwmon.c) --------------------
 * Built by sim_build / sim_build_ex whenever the description has chips:
 * ROOT/sys/class/hwmon/hwmonN -> ../../devices/<device>/hwmon/hwmonN, N in
 * file order.  The channel files (and `name`) are in hwmonN, or for
 * layout acpi_power_meter in hwmonN/device/ (REFERENCE.md 3.4).
 * sim_advance_ns moves every energy and power channel on (energyN_input:
 * uJ, 64-bit, start + energy delivered; powerN_input / powerN_average: the
 * power now, uW) and rewrites the value files in place.  Channels are
 * numbered 0 .. sim_hwmon_channel_count-1 over all chips, in file order. */
size_t sim_hwmon_chip_count(const sim_machine_t *m);
const char *sim_hwmon_chip_name(const sim_machine_t *m, size_t chip); /* "apm_xgene" */
const char *sim_hwmon_chip_hwmon(const sim_machine_t *m, size_t chip); /* "hwmon0" */
/* absolute directory holding `name` and the channel files (hwmonN, or
 * hwmonN's device directory for ACPI power_meter); NULL before sim_build */
const char *sim_hwmon_chip_attr_dir(const sim_machine_t *m, size_t chip);
size_t sim_hwmon_channel_count(const sim_machine_t *m);
/* ("hwmon1", "power2") -> 0 and *ch, or -ENOENT */
int sim_hwmon_find(const sim_machine_t *m, const char *hwmon,
                   const char *channel, size_t *ch);
size_t sim_hwmon_channel_chip(const sim_machine_t *m, size_t ch);
const char *sim_hwmon_channel_name(const sim_machine_t *m, size_t ch); /* "power1" */
const char *sim_hwmon_channel_label(const sim_machine_t *m, size_t ch); /* NULL: none */
/* energy and power channels: the power now (uW), and the exact energy
 * delivered since the start (nJ, floor of the integral; start_uj excluded) */
uint64_t sim_hwmon_power_uw(const sim_machine_t *m, size_t ch);
uint64_t sim_hwmon_truth_nj(const sim_machine_t *m, size_t ch);
/* energy channels: the energyN_input value (uJ) without a sentinel */
uint64_t sim_hwmon_energy_uj(const sim_machine_t *m, size_t ch);
/* what the channel's value files show now (the sentinel when set) */
uint64_t sim_hwmon_value(const sim_machine_t *m, size_t ch);
/* From now on: constant power, or a linear ramp from the power now to
 * to_uw over over_ns, then constant.  -EINVAL for other channels. */
int sim_hwmon_set_power_uw(sim_machine_t *m, size_t ch, uint64_t power_uw);
int sim_hwmon_ramp(sim_machine_t *m, size_t ch, uint64_t to_uw,
                   uint64_t over_ns);
/* in, curr, temp channels: the value (mV, mA, millidegree C) */
int sim_hwmon_set_value(sim_machine_t *m, size_t ch, uint64_t value);
/* on: the value files show the sentinel (default all-ones; power
 * 4294967295000 as ACPI's UNKNOWN_POWER), while the energy keeps flowing */
int sim_hwmon_set_sentinel(sim_machine_t *m, size_t ch, int on);
/* writes <channel>_enable (creating it) */
int sim_hwmon_set_enable(sim_machine_t *m, size_t ch, int on);

/* ---- /proc/stat (the stat: section, sim_stat.c) -------------------------
 * ROOT/proc/stat (built with the CPU view: sim_build_ex .cpu): the "cpu"
 * line sums every CPU, one "cpuN" line per online CPU, fields user nice
 * system idle iowait irq softirq steal guest guest_nice in USER_HZ (100)
 * ticks.  sim_advance_ns gives each online CPU dt x busy as busy time (3/4
 * user, 1/4 system) and the rest as idle (a stat.iowait fraction of it as
 * iowait); an offline CPU's times stand still.  CPUs are those of the cpu:
 * section, or stat.cpus (all online, package 0) without one. */
int sim_has_stat(const sim_machine_t *m);
size_t sim_stat_cpu_count(const sim_machine_t *m);
/* 0..1 from now on; 0 or -EINVAL (no stat:, no such CPU, out of range) */
int sim_cpu_set_busy(sim_machine_t *m, unsigned cpu, double fraction);
double sim_cpu_busy(const sim_machine_t *m, unsigned cpu);
/* what the cpuN line says now: busy = user + nice + system + irq + softirq
 * + steal, total = busy + idle + iowait (ticks) */
uint64_t sim_stat_busy_ticks(const sim_machine_t *m, unsigned cpu);
uint64_t sim_stat_total_ticks(const sim_machine_t *m, unsigned cpu);

/* ---- cgroups (the cgroups: section, sim_cgroup.c) -----------------------
 * A cgroup v2 tree: ROOT/sys/fs/cgroup/cgroup.controllers and, for each
 * cgroup (a list of {path, share}; parents made as needed), a directory
 * with cgroup.controllers and cpu.stat in the kernel's format
 * ("usage_usec N\nuser_usec N\nsystem_usec N\nnr_periods 0\n...").
 * usage_usec = share x the busy time of all CPUs (the user + system time
 * of the stat: section, which it needs; /proc/stat shows it in 10 ms
 * ticks) since the cgroup was made; cpu.stat is rewritten in place by
 * sim_advance_ns.  At load, a listed cgroup's share must cover its nearest
 * listed children's (the kernel counts a child's time in its parent too)
 * and the cgroups with no listed parent share at most 1.  The tree is
 * written by sim_build_ex whatever its options. */
int sim_has_cgroups(const sim_machine_t *m);
/* every cgroup ever listed or added, removed ones included, in order */
size_t sim_cgroup_count(const sim_machine_t *m);
const char *sim_cgroup_path(const sim_machine_t *m, size_t i);
double sim_cgroup_share(const sim_machine_t *m, size_t i);
int sim_cgroup_present(const sim_machine_t *m, size_t i); /* not removed */
/* what its cpu.stat says (or said last) */
uint64_t sim_cgroup_usage_usec(const sim_machine_t *m, size_t i);
/* the present cgroup at path: 0 and *i, or -ENOENT */
int sim_cgroup_find(const sim_machine_t *m, const char *path, size_t *i);
/* ROOT/sys/fs/cgroup after sim_build, else NULL */
const char *sim_cgroup_root(const sim_machine_t *m);
/* A new cgroup (a new instance: a new directory, so a new inode, also at
 * the path of a removed one), its usage from 0, its share 0..1 not checked
 * against the others.  0, -EINVAL (no cgroups:, bad path or share),
 * -EEXIST (present), -errno from writing the tree. */
int sim_cgroup_add(sim_machine_t *m, const char *path, double share);
/* rmdir: -EBUSY while a present cgroup is below it (as the kernel).  A
 * regular file cannot say ENODEV as kernfs does to a removed cgroup's open
 * descriptor: its cpu.stat is emptied (an open descriptor then reads 0
 * bytes: no usage_usec) and the directory moved to
 * ROOT/.rapl-sim-removed-cgroups/<n>, keeping its inode taken.  0,
 * -ENOENT, -EBUSY, -EINVAL, -errno. */
int sim_cgroup_remove(sim_machine_t *m, const char *path);

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
