/*
 * sim_internal.h - the simulated machine's shared state and the helpers its
 * source files share.  Private to contrib/sim: the public interface is
 * sim_machine.h.  Cross-file helpers are named simi_*; small ones are
 * static inline here.
 */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "sim_machine.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <yaml.h>

#define SIM_CT_RAPL "intel-rapl"
#define SIM_CT_MMIO "intel-rapl-mmio"
#define SIM_NJ_PER_J 1000000000ULL
#define SIM_MAX_UNIT_NJ 4000000000ULL /* keeps 2^32 * unit_nj within uint64 */
#define SIM_MAX_POWER_W 1000000.0     /* 1 MW: far above any real zone */
#define SIM_MAX_NAME 64

typedef struct {
  char *name;
  uint64_t max_power_uw;
  uint64_t power_limit_uw;
  uint64_t time_window_us;
} sim_constraint_t;

typedef struct {
  unsigned id;
  char *name;
  int is_mmio;
  long parent; /* index into zones[], -1 for a top-level zone */
  int esu;     /* -1 when unit_nj was given explicitly */
  uint64_t unit_nj;
  uint64_t power_uw;
  uint64_t start_nj;
  uint64_t delivered_nj;
  uint64_t carry; /* remainder of power_uw * dt_ns / 1e6, always < 1e6 */
  sim_constraint_t *constraints;
  size_t n_constraints;
  char *link_name; /* "intel-rapl:0:1" */
  char *rel_path;  /* "intel-rapl/intel-rapl:0/intel-rapl:0:1" */
  char *dir;       /* absolute, after sim_build */
  int fd;          /* O_WRONLY on energy_uj, -1 before sim_build */
  uint64_t written_uj;
  int written_valid;
  int written_fault;      /* the fault energy_uj was last written for */
  /* Faults (sim_zone_set_fault and friends); none by default. */
  int fault;              /* sim_fault_t */
  int vanished;           /* sim_zone_vanish(.., 1): this zone itself */
  unsigned gen;           /* bumped at every vanish of this zone */
  int stuck;              /* the counter does not advance */
  int range_mode;         /* sim_range_t */
  uint64_t range_uj;      /* shown by max_energy_range_uj in SIM_RANGE_VALUE */
  size_t line, col;         /* where the zone was described (1-based) */
  size_t esu_line, esu_col; /* where its esu was given (0 if not) */
} sim_zone_t;

/* CPU vendors, as the plugin tells them apart (cpuinfo vendor_id). */
enum { SIM_VENDOR_INTEL, SIM_VENDOR_AMD, SIM_VENDOR_HYGON };
extern const char *const simi_vendor_ids[3];

#define SIM_MAX_CPUS 1024 /* keep the trees (and the fds of msr files) small */

typedef struct {
  int present;
  int vendor; /* SIM_VENDOR_* */
  unsigned family, model, stepping;
  uint64_t microcode;
  char *model_name;
  unsigned packages, dies, cores, threads; /* dies per package, cores per die,
                                              threads per core */
  size_t n_cpus;
  unsigned char *online; /* n_cpus entries */
} sim_cpu_info_t;

#define SIM_MAX_ZERO 64
typedef struct {
  int present;
  uint64_t unit;
  uint32_t zero[SIM_MAX_ZERO];
  size_t n_zero;
} sim_msr_info_t;

/* Zones an Intel register group (a die: package * dies + die) or an AMD
 * package reads; -1 when there is none. */
typedef struct {
  long pkg, core, uncore, dram, psys;
} sim_group_t;

/* An AMD per-core counter other than the lead core's (that one is the
 * powercap core zone). */
typedef struct {
  uint64_t start_nj;
  uint64_t delivered_nj;
  uint64_t carry;
  int has_online; /* some thread of the core is online */
} sim_core_ctr_t;

typedef struct {
  long core_zone;        /* the package's `core` sub-zone, -1 if none */
  size_t lead_core;      /* core_id of the lowest-numbered online CPU */
  sim_core_ctr_t *cores; /* dies * cores entries (the lead's unused) */
} sim_amd_pkg_t;

/* Sparse msr file of one online CPU: the counter registers it rewrites. */
#define SIM_MSR_SLOTS 5
typedef struct {
  int fd;
  uint64_t written[SIM_MSR_SLOTS];
  int written_valid[SIM_MSR_SLOTS];
} sim_msr_file_t;

struct sim_machine {
  char *name;
  char *description;
  int has_powercap;
  int has_mmio;
  sim_zone_t *zones;
  size_t n_zones;
  size_t cap_zones;
  char *root;
  uint64_t elapsed_ns;
  char build_err[512];
  sim_cpu_info_t cpu;
  sim_msr_info_t msr;
  sim_group_t *groups; /* cpu present: Intel packages*dies, AMD packages */
  size_t n_groups;
  sim_amd_pkg_t *amd; /* AMD/Hygon: one per package */
  sim_msr_file_t *msr_files; /* n_cpus entries while sparse files are built */
  int all_vanished;  /* sim_powercap_vanish_all(.., 1) */
  unsigned all_gen;  /* bumped at every vanish-all */
  int served;        /* sim_powercap_set_served: the files are not the view */
  int powercap_built; /* the last sim_build_ex made the powercap tree */
  int cpu_built;      /* ... and sys/devices/system/cpu, proc/cpuinfo */
  struct sim_hwmon_state *hw; /* sim_hwmon.c; NULL without hwmon: */
  struct sim_stat_state *st;  /* sim_stat.c; NULL without stat: */
  struct sim_cgroup_state *cg; /* sim_cgroup.c; NULL without cgroups: */
};

/* ---- Kernel arithmetic of a zone's counter (sim_counter.c) ---- */

static inline unsigned __int128 zone_total_nj(const sim_zone_t *z) {
  return (unsigned __int128)z->start_nj + z->delivered_nj;
}

static inline uint32_t zone_raw32(const sim_zone_t *z) {
  unsigned __int128 ticks = zone_total_nj(z) / z->unit_nj;
  return (uint32_t)(ticks & 0xFFFFFFFFu);
}

static inline uint64_t zone_energy_uj(const sim_zone_t *z) {
  return (uint64_t)zone_raw32(z) * z->unit_nj / 1000ULL;
}

/* The counter only matters modulo 2^32 ticks: span = unit_nj << 32 (fits:
 * unit_nj <= SIM_MAX_UNIT_NJ < 2^32). */
static inline uint64_t zone_span_nj(const sim_zone_t *z) { return z->unit_nj << 32; }

/* start_nj such that the counter total moves back by e nJ (mod span). */
static inline uint64_t counter_sub(const sim_zone_t *z, uint64_t e) {
  const uint64_t span = zone_span_nj(z);
  unsigned __int128 v = (unsigned __int128)(z->start_nj % span) + span -
                        e % span;
  return (uint64_t)(v % span);
}


/* ---- YAML loading (sim_yaml.c) ---- */

typedef struct {
  const char *file;
  yaml_document_t *doc;
  sim_machine_t *m;
  char *err;
  size_t err_len;
  yaml_node_t *cpu_node, *offline_node, *msr_node; /* for later checks */
  yaml_node_t *zero_nodes[SIM_MAX_ZERO];
  yaml_node_t *stat_node;
  yaml_node_t *cgroups_node;
} load_ctx_t;


__attribute__((format(printf, 3, 4))) int
simi_fail(load_ctx_t *c, const yaml_node_t *node, const char *fmt, ...);
/* The same for a place remembered as 1-based line and column. */
__attribute__((format(printf, 4, 5))) int
simi_fail_at(load_ctx_t *c, size_t line, size_t col, const char *fmt, ...);
static inline const char *simi_scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}
int simi_expect_type(load_ctx_t *c, const yaml_node_t *n,
                     yaml_node_type_t type, const char *what);
int simi_get_string(load_ctx_t *c, const yaml_node_t *n, const char *what,
                    char **out);
/* short, printable, no '/' or space (it becomes file content and names) */
int simi_check_name(load_ctx_t *c, const yaml_node_t *n, const char *what,
                    const char *s);
/* unsigned integer: plain scalar, decimal or 0x-hexadecimal, <= max */
int simi_get_uint(load_ctx_t *c, const yaml_node_t *n, const char *what,
                  uint64_t max, uint64_t *out);
/* non-negative decimal number, <= max */
int simi_get_number(load_ctx_t *c, const yaml_node_t *n, const char *what,
                    double max, double *out);
/* Walk a mapping whose keys must come from `keys` (NULL-terminated); calls
 * fn(ctx, index-of-key, value-node, arg) for each pair, rejecting unknown
 * and duplicate keys.  `seen` gets bit i set for key i. */
typedef int (*pair_fn)(load_ctx_t *c, size_t key, yaml_node_t *val, void *arg);
int simi_walk_mapping(load_ctx_t *c, yaml_node_t *map, const char *what,
                      const char *const *keys, pair_fn fn, void *arg,
                      uint32_t *seen);

/* The top-level sections, each parsed next to what it simulates. */
int simi_sec_powercap(load_ctx_t *c, yaml_node_t *v); /* sim_powercap.c */
int simi_sec_mmio(load_ctx_t *c, yaml_node_t *v);     /* sim_powercap.c */
int simi_sec_cpu(load_ctx_t *c, yaml_node_t *v);      /* sim_cpu.c */
int simi_sec_msr(load_ctx_t *c, yaml_node_t *v);      /* sim_msr.c */
int simi_sec_hwmon(load_ctx_t *c, yaml_node_t *v);    /* sim_hwmon.c */
int simi_sec_stat(load_ctx_t *c, yaml_node_t *v);     /* sim_stat.c */
int simi_sec_cgroups(load_ctx_t *c, yaml_node_t *v);  /* sim_cgroup.c */
/* true/false */
int simi_get_bool(load_ctx_t *c, const yaml_node_t *n, const char *what,
                  int *out);
/* Checks across the cpu:, msr: and powercap: sections, and the register
 * groups derived from them (sim_msr.c); 0 or -1 with the error set. */
int simi_finish_cpu_msr(load_ctx_t *c);

/* ---- Topology (sim_cpu.c) ---- */

/* Where CPU `cpu` sits.  Linux numbering on a typical x86 server: first
 * threads of all cores package-major, then the second threads likewise. */
typedef struct {
  unsigned pkg, die, core_in_die, thread;
} sim_topo_t;

static inline sim_topo_t cpu_topo(const sim_cpu_info_t *ci, size_t cpu) {
  size_t per_thread = (size_t)ci->packages * ci->dies * ci->cores;
  size_t r = cpu % per_thread;
  sim_topo_t t = {
      .pkg = (unsigned)(r / ((size_t)ci->dies * ci->cores)),
      .die = (unsigned)(r / ci->cores % ci->dies),
      .core_in_die = (unsigned)(r % ci->cores),
      .thread = (unsigned)(cpu / per_thread),
  };
  return t;
}

/* core_id as sysfs shows it: counted across the dies of the package. */
static inline unsigned topo_core_id(const sim_cpu_info_t *ci, sim_topo_t t) {
  return t.die * ci->cores + t.core_in_die;
}

static inline int is_amd_like(const sim_machine_t *m) {
  return m->cpu.vendor == SIM_VENDOR_AMD || m->cpu.vendor == SIM_VENDOR_HYGON;
}

/* The register group a CPU reads: the kernel keys Intel RAPL packages by
 * die, AMD/Hygon by package (REFERENCE.md 2.7, rapl_msrs_are_pkg_scope). */
static inline size_t topo_group(const sim_machine_t *m, sim_topo_t t) {
  if (is_amd_like(m))
    return t.pkg;
  return (size_t)t.pkg * m->cpu.dies + t.die;
}


/* ---- Writing the trees (sim_fs.c) ---- */

/* Set m->build_err to "<what>: strerror(err)" and return -err. */
__attribute__((format(printf, 3, 4))) int
simi_build_fail(sim_machine_t *m, int err, const char *fmt, ...);
int simi_make_dir(sim_machine_t *m, const char *path);   /* mkdir + chmod 0755 */
int simi_make_dir_p(sim_machine_t *m, const char *path); /* mkdir -p */
/* Open for writing even when a previous build left the file 0400/0444. */
int simi_open_for_write(const char *path, int flags);
int simi_write_all_at(int fd, const char *buf, size_t len); /* 0 or -errno */
int simi_write_file(sim_machine_t *m, const char *dir, const char *name,
                    const char *content, mode_t mode);
int simi_write_u64_file(sim_machine_t *m, const char *dir, const char *name,
                        uint64_t v, mode_t mode);
/* Create (or keep, if it already says the same) a symlink. */
int simi_make_link(sim_machine_t *m, const char *target, const char *path);
/* Link `name` inside `dir` pointing at `target`. */
int simi_link_in(sim_machine_t *m, const char *dir, const char *name,
                 const char *target);
char *simi_updirs(size_t n, const char *tail); /* "../" x n + tail */
size_t simi_path_depth(const char *rel);
/* Create each of the directories root/rel[i], in order. */
int simi_make_dirs(sim_machine_t *m, const char *const *rel, size_t n);

/* ---- Powercap tree (sim_powercap.c) ---- */

int simi_build_powercap(sim_machine_t *m);
/* Rewrite the zone's energy_uj when it changed (or always with force). */
int simi_zone_write(const sim_machine_t *m, sim_zone_t *z, int force);

/* ---- CPU tree (sim_cpu.c) ---- */

int simi_build_cpu(sim_machine_t *m);

/* ---- MSR files (sim_msr.c) ---- */

int simi_build_msr_files(sim_machine_t *m);
int simi_msr_file_write(sim_machine_t *m, size_t cpu, int force);
int simi_msr_file_create(sim_machine_t *m, size_t cpu);
int simi_msr_file_remove(sim_machine_t *m, size_t cpu);
void simi_close_msr_files(sim_machine_t *m);

/* ---- hwmon chips (sim_hwmon.c) ---- */

int simi_build_hwmon(sim_machine_t *m);
/* Bring every channel to m->elapsed_ns (after it moved on). */
void simi_hwmon_advance(sim_machine_t *m);
int simi_hwmon_write_all(sim_machine_t *m, int force);
void simi_hwmon_close(sim_machine_t *m); /* the writer fds (rebuild) */
void simi_hwmon_free(sim_machine_t *m);

/* ---- /proc/stat (sim_stat.c) ---- */

/* Checks against cpu: once everything is loaded; 0 or -1. */
int simi_stat_finish(load_ctx_t *c);
int simi_build_stat(sim_machine_t *m);
void simi_stat_advance(sim_machine_t *m, uint64_t dt_ns);
int simi_stat_write(sim_machine_t *m, int force);
void simi_stat_close(sim_machine_t *m);
void simi_stat_free(sim_machine_t *m);
/* The busy time of all CPUs so far (ns, what /proc/stat counts as user +
 * system before the cut into ticks); 0 without stat:. */
uint64_t simi_stat_busy_ns(const sim_machine_t *m);

/* ---- cgroups (sim_cgroup.c) ---- */

/* Checks against stat: and between the shares; 0 or -1. */
int simi_cgroups_finish(load_ctx_t *c);
int simi_build_cgroups(sim_machine_t *m);
int simi_cgroups_write_all(sim_machine_t *m);
void simi_cgroups_close(sim_machine_t *m);
void simi_cgroups_free(sim_machine_t *m);

#endif /* SIM_INTERNAL_H */
