/* cpu_activity.h - how busy a set of CPUs was, from /proc/stat (SPEC 4).
 *
 * The parser is a pure function over bytes (unit-tested and fuzzed); the
 * loader reads <ProcfsPath>/stat once per sample. A set's busy ratio over
 * an interval is Δbusy / Δ(busy + idle + iowait) summed over its CPUs that
 * have a line in both snapshots and whose counters did not go back (a CPU
 * hot-replugged starts again from 0): never outside 0..1.
 */
#ifndef RAPL_CPU_ACTIVITY_H
#define RAPL_CPU_ACTIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu_topology.h"

/* One CPU's times, in USER_HZ ticks. busy = user + nice + system + irq +
 * softirq + steal; idle = idle + iowait (guest time is inside user). */
typedef struct {
  bool present; /* the CPU has a line */
  uint64_t busy;
  uint64_t idle;
} rapl_cpu_times_t;

typedef struct {
  rapl_cpu_times_t *cpus; /* indexed by CPU number */
  size_t count;           /* entries in cpus */
  /* the loader's, kept from one load to the next so that a sample
   * allocates nothing and clears only what the last load wrote: */
  size_t used;   /* cpus[used..count) are all clear */
  char *buf;     /* the file's text */
  size_t buf_cap;
  int fd;        /* <procfs>/stat kept open between loads, when fd_open */
  bool fd_open;
} rapl_cpu_snapshot_t;

/* The per-CPU lines ("cpuN user nice system idle iowait irq softirq steal
 * ...") of /proc/stat into times[0..max_cpus). The aggregate "cpu" line
 * and other lines are ignored; at least the four first fields are needed
 * (older kernels have fewer than eight). Returns the number of CPU lines,
 * or -EINVAL for a malformed cpuN line (nothing is trusted then), -ERANGE
 * for a CPU number >= max_cpus. */
int rapl_parse_proc_stat(const char *text, size_t len, rapl_cpu_times_t *times,
                         size_t max_cpus);

/* Reads <procfs>/stat into snap (allocated on first use; RAPL_MAX_CPUS
 * entries, and a text buffer kept for the next load). The file stays open
 * and each load is a pread from offset 0 (procfs regenerates the text
 * there); when that read fails the file is opened again once at the same
 * load, and after any failure (read or parse) the next load opens it
 * afresh. A file replaced by rename() would still be read through the old
 * descriptor: the kernel's /proc/stat never is (the simulator and the
 * tests rewrite theirs in place). 0 or a negative errno. */
int rapl_cpu_snapshot_load(const char *procfs, rapl_cpu_snapshot_t *snap);
/* Swaps the CPU times of a and b; each keeps its own descriptor and text
 * buffer, so one snapshot can do all the loading. */
void rapl_cpu_snapshot_swap_times(rapl_cpu_snapshot_t *a,
                                  rapl_cpu_snapshot_t *b);
/* Frees the entries and the buffer and closes the descriptor. */
void rapl_cpu_snapshot_free(rapl_cpu_snapshot_t *snap);

/* A set of CPUs: one package (and die), or all (package < 0). */
typedef struct {
  int package; /* -1: every CPU */
  int die;     /* -1: every die of the package */
} rapl_cpu_set_t;

/* The busy and total ticks of every die of every package, and of all CPUs,
 * between two snapshots, summed in one pass over the CPUs: a sample splits
 * every zone and total, and a pass over the CPUs per zone was
 * O(zones x CPUs) (16k steps at 32 sockets). CPUs missing from either
 * snapshot, or whose counters went back (hot-replugged), are left out. */
typedef struct {
  int package;
  int die;
  uint64_t busy;
  uint64_t total;
} rapl_die_ticks_t;

typedef struct {
  rapl_die_ticks_t *dies; /* one per (package, die) of the topology, sorted */
  size_t die_count;
  size_t *die_of;   /* topo->cpus[i] is in dies[die_of[i]] */
  size_t cpu_count; /* entries in die_of: the indexed topology's count */
  uint64_t busy;    /* all CPUs */
  uint64_t total;
} rapl_cpu_ticks_t;

/* Indexes topo's CPUs by (package, die); again whenever topo changes (it
 * allocates; rapl_cpu_ticks_sum does not). 0 or -ENOMEM (t is then empty). */
int rapl_cpu_ticks_index(rapl_cpu_ticks_t *t, const rapl_topology_t *topo);
/* Sums the ticks between before and after; topo is the one indexed. */
void rapl_cpu_ticks_sum(rapl_cpu_ticks_t *t, const rapl_cpu_snapshot_t *before,
                        const rapl_cpu_snapshot_t *after,
                        const rapl_topology_t *topo);
/* The busy and total ticks of `set` in the latest sum (0 for a package or
 * die the topology does not have). */
void rapl_cpu_ticks_of(const rapl_cpu_ticks_t *t, rapl_cpu_set_t set,
                       uint64_t *busy, uint64_t *total);
void rapl_cpu_ticks_free(rapl_cpu_ticks_t *t);

#endif
