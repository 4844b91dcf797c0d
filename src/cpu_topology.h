/* cpu_topology.h - which CPU this is and how its logical CPUs map onto
 * packages, dies and cores (for the MSR source).
 *
 * Parsers are pure functions over bytes (unit-tested and fuzzed); the two
 * loaders read <ProcfsPath>/cpuinfo and <SysfsPath>/devices/system/cpu.
 */
#ifndef RAPL_CPU_TOPOLOGY_H
#define RAPL_CPU_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#define RAPL_MAX_CPUS 8192

typedef enum {
  RAPL_CPU_VENDOR_UNKNOWN,
  RAPL_CPU_VENDOR_INTEL, /* GenuineIntel */
  RAPL_CPU_VENDOR_AMD,   /* AuthenticAMD */
  RAPL_CPU_VENDOR_HYGON, /* HygonGenuine */
} rapl_cpu_vendor_t;

typedef struct {
  rapl_cpu_vendor_t vendor;
  char vendor_id[16]; /* as cpuinfo says it, for messages */
  unsigned family;
  unsigned model;
} rapl_cpu_id_t;

/* The first processor block of /proc/cpuinfo: vendor_id, "cpu family",
 * "model". Returns 0, or -EINVAL when one of them is missing or malformed. */
int rapl_parse_cpuinfo(const char *text, size_t len, rapl_cpu_id_t *id);

/* A kernel CPU list ("0-3,8,10-11\n", as in devices/system/cpu/online).
 * Sets online[cpu] for each listed cpu < max_cpus. Returns the number of
 * CPUs listed, -EINVAL when malformed, -ERANGE for a cpu >= max_cpus. */
int rapl_parse_cpu_list(const char *text, size_t len, bool *online,
                        size_t max_cpus);

typedef struct {
  unsigned cpu;
  int package; /* physical_package_id */
  int die;     /* die_id; 0 where the kernel has none (before Linux 5.3) */
  int core;    /* core_id */
} rapl_cpu_topo_t;

typedef struct {
  rapl_cpu_topo_t *cpus; /* online CPUs, ascending */
  size_t count;
} rapl_topology_t;

/* Reads <procfs>/cpuinfo. 0 or a negative errno with `why` filled. */
int rapl_cpuinfo_load(const char *procfs, rapl_cpu_id_t *id, char *why,
                      size_t why_len);

/* The text of <sysfs>/devices/system/cpu/online ("0-3,8\n"), malloc'd and
 * NUL-terminated: one small read, to tell cheaply whether CPUs came or
 * went since the last look. 0 or a negative errno. */
int rapl_cpu_online_text(const char *sysfs, char **text);

/* Reads the online CPUs and their topology under <sysfs>/devices/system/cpu.
 * 0 or a negative errno with `why` filled. */
int rapl_topology_load(const char *sysfs, rapl_topology_t *topology, char *why,
                       size_t why_len);
void rapl_topology_free(rapl_topology_t *topology);

#endif
