/*
 * sim_machine.c - simulated RAPL machine (see sim_machine.h, README.md).
 *
 * Model, per zone (follows drivers/powercap/intel_rapl_common.c and
 * powercap_sys.c, as summarised in shared/REFERENCE.md sections 2.2-2.6):
 *   unit_nj             = 1000000000 / (1 << esu)  (truncated), or given
 *   max_energy_range_uj = 0xFFFFFFFF * unit_nj / 1000
 *   total_nj            = start_nj + delivered_nj   (exact, integer)
 *   ticks               = total_nj / unit_nj
 *   energy_uj           = (ticks & 0xFFFFFFFF) * unit_nj / 1000
 * delivered_nj advances by power_uw * dt_ns / 1e6 with the remainder carried,
 * so any sequence of advances delivers exactly floor(power * time).
 *
 * The optional cpu: and msr: sections add a CPU topology (sysfs topology,
 * /proc/cpuinfo) and MSRs whose energy status registers return the zones'
 * own 32-bit counters (REFERENCE.md 2.1, 2.7), plus one extra counter per
 * AMD core for 0xC001029A.  sim_fuse.c serves them as a device.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_machine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
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
static const char *const vendor_ids[] = {"GenuineIntel", "AuthenticAMD",
                                         "HygonGenuine"};

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
};

/* ------------------------------------------------------------------------ */
/* Kernel arithmetic                                                        */

uint64_t sim_unit_nj_from_esu(unsigned esu) {
  if (esu > 31)
    return 0;
  return SIM_NJ_PER_J / (1ULL << esu);
}

uint64_t sim_max_range_uj_for_unit(uint64_t unit_nj) {
  return 0xFFFFFFFFULL * unit_nj / 1000ULL;
}

static unsigned __int128 zone_total_nj(const sim_zone_t *z) {
  return (unsigned __int128)z->start_nj + z->delivered_nj;
}

static uint32_t zone_raw32(const sim_zone_t *z) {
  unsigned __int128 ticks = zone_total_nj(z) / z->unit_nj;
  return (uint32_t)(ticks & 0xFFFFFFFFu);
}

static uint64_t zone_energy_uj(const sim_zone_t *z) {
  return (uint64_t)zone_raw32(z) * z->unit_nj / 1000ULL;
}

/* The counter only matters modulo 2^32 ticks: span = unit_nj << 32 (fits:
 * unit_nj <= SIM_MAX_UNIT_NJ < 2^32). */
static uint64_t zone_span_nj(const sim_zone_t *z) { return z->unit_nj << 32; }

/* start_nj such that the counter total moves back by e nJ (mod span). */
static uint64_t counter_sub(const sim_zone_t *z, uint64_t e) {
  const uint64_t span = zone_span_nj(z);
  unsigned __int128 v = (unsigned __int128)(z->start_nj % span) + span -
                        e % span;
  return (uint64_t)(v % span);
}

/* ------------------------------------------------------------------------ */
/* Freeing                                                                   */

static void zone_free(sim_zone_t *z) {
  if (z->fd >= 0)
    close(z->fd);
  z->fd = -1;
  free(z->name);
  for (size_t i = 0; i < z->n_constraints; i++)
    free(z->constraints[i].name);
  free(z->constraints);
  free(z->link_name);
  free(z->rel_path);
  free(z->dir);
}

static void close_msr_files(sim_machine_t *m) {
  if (m->msr_files == NULL)
    return;
  for (size_t i = 0; i < m->cpu.n_cpus; i++)
    if (m->msr_files[i].fd >= 0)
      close(m->msr_files[i].fd);
  free(m->msr_files);
  m->msr_files = NULL;
}

void sim_free(sim_machine_t *m) {
  if (m == NULL)
    return;
  close_msr_files(m);
  for (size_t i = 0; i < m->n_zones; i++)
    zone_free(&m->zones[i]);
  free(m->zones);
  free(m->cpu.model_name);
  free(m->cpu.online);
  free(m->groups);
  if (m->amd != NULL)
    for (unsigned p = 0; p < m->cpu.packages; p++)
      free(m->amd[p].cores);
  free(m->amd);
  free(m->name);
  free(m->description);
  free(m->root);
  free(m);
}

/* ------------------------------------------------------------------------ */
/* YAML loading                                                              */

typedef struct {
  const char *file;
  yaml_document_t *doc;
  sim_machine_t *m;
  char *err;
  size_t err_len;
  yaml_node_t *cpu_node, *offline_node, *msr_node; /* for later checks */
  yaml_node_t *zero_nodes[SIM_MAX_ZERO];
} load_ctx_t;

__attribute__((format(printf, 3, 4))) static int
fail(load_ctx_t *c, const yaml_node_t *node, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->err != NULL && c->err_len > 0) {
    if (node != NULL)
      snprintf(c->err, c->err_len, "%s:%zu:%zu: %s", c->file,
               (size_t)node->start_mark.line + 1,
               (size_t)node->start_mark.column + 1, msg);
    else
      snprintf(c->err, c->err_len, "%s: %s", c->file, msg);
  }
  return -1;
}

/* The same for a place remembered as 1-based line and column. */
__attribute__((format(printf, 4, 5))) static int
fail_at(load_ctx_t *c, size_t line, size_t col, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->err != NULL && c->err_len > 0)
    snprintf(c->err, c->err_len, "%s:%zu:%zu: %s", c->file, line, col, msg);
  return -1;
}

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE:
    return "a scalar";
  case YAML_SEQUENCE_NODE:
    return "a sequence";
  case YAML_MAPPING_NODE:
    return "a mapping";
  default:
    return "nothing";
  }
}

static const char *scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

static int expect_type(load_ctx_t *c, const yaml_node_t *n,
                       yaml_node_type_t type, const char *what) {
  static const char *names[] = {"nothing", "a scalar", "a sequence",
                                "a mapping"};
  if (n->type == type)
    return 0;
  return fail(c, n, "%s must be %s, not %s", what, names[type], node_kind(n));
}

static int get_string(load_ctx_t *c, const yaml_node_t *n, const char *what,
                      char **out) {
  if (expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  if (strlen(scalar(n)) != n->data.scalar.length)
    return fail(c, n, "%s contains a NUL character", what);
  char *s = strdup(scalar(n));
  if (s == NULL)
    return fail(c, n, "out of memory");
  free(*out);
  *out = s;
  return 0;
}

/* A zone or constraint name becomes file content and, for zones, is shown
 * by tools: keep it short and printable. */
static int check_name(load_ctx_t *c, const yaml_node_t *n, const char *what,
                      const char *s) {
  size_t len = strlen(s);
  if (len == 0)
    return fail(c, n, "%s must not be empty", what);
  if (len > SIM_MAX_NAME)
    return fail(c, n, "%s is longer than %d characters", what, SIM_MAX_NAME);
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '/' || (unsigned char)*p >= 0x7f)
      return fail(c, n, "%s \"%s\" has a character that is not allowed "
                        "(space, '/', control or non-ASCII)", what, s);
  return 0;
}

/* Unsigned integer: plain scalar, decimal or 0x-hexadecimal. */
static int get_uint(load_ctx_t *c, const yaml_node_t *n, const char *what,
                    uint64_t max, uint64_t *out) {
  if (expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  const char *s = scalar(n);
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return fail(c, n, "%s must be an unsigned integer, not a quoted string",
                what);
  int base = 10;
  const char *p = s;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p += 2;
  }
  if (*p == '\0')
    return fail(c, n, "%s must be an unsigned integer, got \"%s\"", what, s);
  uint64_t v = 0;
  for (; *p; p++) {
    unsigned d;
    if (*p >= '0' && *p <= '9')
      d = (unsigned)(*p - '0');
    else if (base == 16 && *p >= 'a' && *p <= 'f')
      d = (unsigned)(*p - 'a' + 10);
    else if (base == 16 && *p >= 'A' && *p <= 'F')
      d = (unsigned)(*p - 'A' + 10);
    else
      return fail(c, n, "%s must be an unsigned integer, got \"%s\"", what, s);
    if (v > (UINT64_MAX - d) / (uint64_t)base)
      return fail(c, n, "%s is too large: %s", what, s);
    v = v * (uint64_t)base + d;
  }
  if (v > max)
    return fail(c, n, "%s must be at most %" PRIu64 ", got %s", what, max, s);
  *out = v;
  return 0;
}

/* Non-negative decimal number: plain scalar, digits [. digits] [e[+-]digits]. */
static int get_number(load_ctx_t *c, const yaml_node_t *n, const char *what,
                      double max, double *out) {
  if (expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  const char *s = scalar(n);
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return fail(c, n, "%s must be a number, not a quoted string", what);
  const char *p = s;
  size_t digits = 0;
  if (*p == '+')
    p++;
  while (*p >= '0' && *p <= '9') {
    p++;
    digits++;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      p++;
      digits++;
    }
  }
  if (digits > 0 && (*p == 'e' || *p == 'E')) {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    size_t ed = 0;
    while (*p >= '0' && *p <= '9') {
      p++;
      ed++;
    }
    if (ed == 0)
      digits = 0;
  }
  if (digits == 0 || *p != '\0')
    return fail(c, n, "%s must be a non-negative number, got \"%s\"", what, s);
  errno = 0;
  double v = strtod(s, NULL);
  if (errno != 0 || v - v != 0.0 || v > max) /* v - v: NaN for inf/NaN */
    return fail(c, n, "%s is out of range (0 .. %g): %s", what, max, s);
  *out = v;
  return 0;
}

/* Walk a mapping whose keys must come from `keys` (NULL-terminated); calls
 * handler(ctx, index-of-key, value-node, arg) for each pair, rejecting
 * unknown and duplicate keys. `seen` gets bit i set for key i. */
typedef int (*pair_fn)(load_ctx_t *c, size_t key, yaml_node_t *val, void *arg);

static int walk_mapping(load_ctx_t *c, yaml_node_t *map, const char *what,
                        const char *const *keys, pair_fn fn, void *arg,
                        uint32_t *seen) {
  if (expect_type(c, map, YAML_MAPPING_NODE, what) != 0)
    return -1;
  *seen = 0;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k == NULL || v == NULL)
      return fail(c, map, "broken document");
    if (k->type != YAML_SCALAR_NODE)
      return fail(c, k, "keys of %s must be scalars", what);
    size_t i;
    for (i = 0; keys[i] != NULL; i++)
      if (strcmp(keys[i], scalar(k)) == 0)
        break;
    if (keys[i] == NULL) {
      char known[256] = "";
      size_t used = 0;
      for (size_t j = 0; keys[j] != NULL && used < sizeof(known); j++) {
        int r = snprintf(known + used, sizeof(known) - used, "%s%s",
                         j ? ", " : "", keys[j]);
        if (r < 0)
          break;
        used += (size_t)r;
      }
      return fail(c, k, "unknown key \"%s\" in %s (known: %s)", scalar(k),
                  what, known);
    }
    if (*seen & (1u << i))
      return fail(c, k, "duplicate key \"%s\" in %s", keys[i], what);
    *seen |= 1u << i;
    if (fn(c, i, v, arg) != 0)
      return -1;
  }
  return 0;
}

/* --- constraints --- */

static const char *const constraint_keys[] = {
    "name", "max_power_uw", "power_limit_uw", "time_window_us", NULL};

static int constraint_pair(load_ctx_t *c, size_t key, yaml_node_t *v,
                           void *arg) {
  sim_constraint_t *k = arg;
  switch (key) {
  case 0:
    if (get_string(c, v, "constraint name", &k->name) != 0)
      return -1;
    return check_name(c, v, "constraint name", k->name);
  case 1:
    return get_uint(c, v, "max_power_uw", UINT64_MAX, &k->max_power_uw);
  case 2:
    return get_uint(c, v, "power_limit_uw", UINT64_MAX, &k->power_limit_uw);
  case 3:
    return get_uint(c, v, "time_window_us", UINT64_MAX, &k->time_window_us);
  }
  return -1;
}

static int parse_constraints(load_ctx_t *c, yaml_node_t *seq, sim_zone_t *z) {
  if (expect_type(c, seq, YAML_SEQUENCE_NODE, "constraints") != 0)
    return -1;
  size_t n = (size_t)(seq->data.sequence.items.top -
                      seq->data.sequence.items.start);
  if (n == 0)
    return 0;
  z->constraints = calloc(n, sizeof(*z->constraints));
  if (z->constraints == NULL)
    return fail(c, seq, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item =
        yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
    if (item == NULL)
      return fail(c, seq, "broken document");
    sim_constraint_t *k = &z->constraints[i];
    z->n_constraints = i + 1;
    uint32_t seen;
    if (walk_mapping(c, item, "a constraint", constraint_keys,
                     constraint_pair, k, &seen) != 0)
      return -1;
    for (size_t j = 0; constraint_keys[j] != NULL; j++)
      if (!(seen & (1u << j)))
        return fail(c, item, "constraint is missing required key \"%s\"",
                    constraint_keys[j]);
  }
  return 0;
}

/* --- zones --- */

enum {
  ZK_ID,
  ZK_NAME,
  ZK_ESU,
  ZK_UNIT_NJ,
  ZK_POWER_W,
  ZK_START_UJ,
  ZK_CONSTRAINTS,
  ZK_ZONES,
};
static const char *const zone_keys[] = {
    "id",       "name",        "esu",   "unit_nj", "power_w",
    "start_uj", "constraints", "zones", NULL};

typedef struct {
  sim_zone_t *z;
  yaml_node_t *subzones;
  int is_sub;
} zone_arg_t;

static int zone_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  zone_arg_t *a = arg;
  sim_zone_t *z = a->z;
  uint64_t u = 0;
  double d = 0;
  switch (key) {
  case ZK_ID:
    if (get_uint(c, v, "id", INT_MAX, &u) != 0)
      return -1;
    z->id = (unsigned)u;
    return 0;
  case ZK_NAME:
    if (get_string(c, v, "name", &z->name) != 0)
      return -1;
    return check_name(c, v, "name", z->name);
  case ZK_ESU:
    if (get_uint(c, v, "esu", 29, &u) != 0)
      return -1;
    z->esu = (int)u;
    z->esu_line = (size_t)v->start_mark.line + 1;
    z->esu_col = (size_t)v->start_mark.column + 1;
    z->unit_nj = sim_unit_nj_from_esu((unsigned)u);
    return 0;
  case ZK_UNIT_NJ:
    if (get_uint(c, v, "unit_nj", SIM_MAX_UNIT_NJ, &u) != 0)
      return -1;
    if (u == 0)
      return fail(c, v, "unit_nj must be at least 1");
    z->unit_nj = u;
    return 0;
  case ZK_POWER_W:
    if (get_number(c, v, "power_w", SIM_MAX_POWER_W, &d) != 0)
      return -1;
    z->power_uw = (uint64_t)(d * 1e6 + 0.5); /* d >= 0: round */
    return 0;
  case ZK_START_UJ:
    if (get_uint(c, v, "start_uj", UINT64_MAX / 1000, &u) != 0)
      return -1;
    z->start_nj = u * 1000;
    return 0;
  case ZK_CONSTRAINTS:
    return parse_constraints(c, v, z);
  case ZK_ZONES:
    if (a->is_sub)
      return fail(c, v, "a sub-zone cannot have sub-zones");
    if (expect_type(c, v, YAML_SEQUENCE_NODE, "zones") != 0)
      return -1;
    a->subzones = v;
    return 0;
  }
  return -1;
}

static sim_zone_t *add_zone(load_ctx_t *c, const yaml_node_t *n) {
  sim_machine_t *m = c->m;
  if (m->n_zones == m->cap_zones) {
    size_t cap = m->cap_zones ? m->cap_zones * 2 : 8;
    sim_zone_t *nz = realloc(m->zones, cap * sizeof(*nz));
    if (nz == NULL) {
      fail(c, n, "out of memory");
      return NULL;
    }
    m->zones = nz;
    m->cap_zones = cap;
  }
  sim_zone_t *z = &m->zones[m->n_zones++];
  memset(z, 0, sizeof(*z));
  z->fd = -1;
  z->esu = -1;
  z->parent = -1;
  z->line = (size_t)n->start_mark.line + 1;
  z->col = (size_t)n->start_mark.column + 1;
  return z;
}

static int parse_zone_list(load_ctx_t *c, yaml_node_t *seq, int is_mmio,
                           long parent);

static int parse_zone(load_ctx_t *c, yaml_node_t *n, int is_mmio,
                      long parent) {
  const char *what = parent < 0 ? "a zone" : "a sub-zone";
  sim_zone_t *z = add_zone(c, n);
  if (z == NULL)
    return -1;
  size_t self = c->m->n_zones - 1;
  z->is_mmio = is_mmio;
  z->parent = parent;

  zone_arg_t a = {.z = z, .subzones = NULL, .is_sub = parent >= 0};
  uint32_t seen;
  if (walk_mapping(c, n, what, zone_keys, zone_pair, &a, &seen) != 0)
    return -1;
  static const int required[] = {ZK_ID, ZK_NAME, ZK_POWER_W};
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
    if (!(seen & (1u << required[i])))
      return fail(c, n, "%s is missing required key \"%s\"", what,
                  zone_keys[required[i]]);
  int has_esu = (seen >> ZK_ESU) & 1, has_unit = (seen >> ZK_UNIT_NJ) & 1;
  if (has_esu == has_unit)
    return fail(c, n, "%s needs exactly one of \"esu\" and \"unit_nj\"%s",
                what, has_esu ? " (both given)" : "");

  /* Kernel naming: dev_set_name("%s:%x", parent_name, id). */
  const char *ct = is_mmio ? SIM_CT_MMIO : SIM_CT_RAPL;
  int r;
  if (parent < 0) {
    r = asprintf(&z->link_name, "%s:%x", ct, z->id);
    if (r >= 0)
      r = asprintf(&z->rel_path, "%s/%s", ct, z->link_name);
  } else {
    const sim_zone_t *p = &c->m->zones[parent];
    r = asprintf(&z->link_name, "%s:%x", p->link_name, z->id);
    if (r >= 0)
      r = asprintf(&z->rel_path, "%s/%s", p->rel_path, z->link_name);
  }
  if (r < 0) {
    z->link_name = z->rel_path = NULL;
    return fail(c, n, "out of memory");
  }
  for (size_t i = 0; i < self; i++) {
    const sim_zone_t *o = &c->m->zones[i];
    if (strcmp(o->link_name, z->link_name) == 0)
      return fail(c, n, "duplicate zone id %u: %s is already described at "
                        "line %zu, column %zu", z->id, z->link_name, o->line,
                  o->col);
  }
  if (a.subzones != NULL)
    return parse_zone_list(c, a.subzones, is_mmio, (long)self);
  return 0;
}

static int parse_zone_list(load_ctx_t *c, yaml_node_t *seq, int is_mmio,
                           long parent) {
  if (expect_type(c, seq, YAML_SEQUENCE_NODE,
                  parent >= 0 ? "zones" : (is_mmio ? "mmio" : "powercap")) != 0)
    return -1;
  for (yaml_node_item_t *it = seq->data.sequence.items.start;
       it < seq->data.sequence.items.top; it++) {
    yaml_node_t *n = yaml_document_get_node(c->doc, *it);
    if (n == NULL)
      return fail(c, seq, "broken document");
    if (parse_zone(c, n, is_mmio, parent) != 0)
      return -1;
  }
  return 0;
}

/* --- top level: one handler per section; a new section is one more entry --- */

static int sec_machine(load_ctx_t *c, yaml_node_t *v) {
  if (get_string(c, v, "machine", &c->m->name) != 0)
    return -1;
  return check_name(c, v, "machine", c->m->name);
}

static int sec_description(load_ctx_t *c, yaml_node_t *v) {
  return get_string(c, v, "description", &c->m->description);
}

static int sec_powercap(load_ctx_t *c, yaml_node_t *v) {
  c->m->has_powercap = 1;
  return parse_zone_list(c, v, 0, -1);
}

static int sec_mmio(load_ctx_t *c, yaml_node_t *v) {
  c->m->has_mmio = 1;
  return parse_zone_list(c, v, 1, -1);
}

/* --- cpu: the topology --- */

/* Where CPU `cpu` sits.  Linux numbering on a typical x86 server: first
 * threads of all cores package-major, then the second threads likewise. */
typedef struct {
  unsigned pkg, die, core_in_die, thread;
} sim_topo_t;

static sim_topo_t cpu_topo(const sim_cpu_info_t *ci, size_t cpu) {
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
static unsigned topo_core_id(const sim_cpu_info_t *ci, sim_topo_t t) {
  return t.die * ci->cores + t.core_in_die;
}

static int is_amd_like(const sim_machine_t *m) {
  return m->cpu.vendor == SIM_VENDOR_AMD || m->cpu.vendor == SIM_VENDOR_HYGON;
}

/* The register group a CPU reads: the kernel keys Intel RAPL packages by
 * die, AMD/Hygon by package (REFERENCE.md 2.7, rapl_msrs_are_pkg_scope). */
static size_t topo_group(const sim_machine_t *m, sim_topo_t t) {
  if (is_amd_like(m))
    return t.pkg;
  return (size_t)t.pkg * m->cpu.dies + t.die;
}

enum {
  CK_VENDOR,
  CK_FAMILY,
  CK_MODEL,
  CK_MODEL_NAME,
  CK_STEPPING,
  CK_MICROCODE,
  CK_PACKAGES,
  CK_DIES,
  CK_CORES,
  CK_THREADS,
  CK_OFFLINE,
};
static const char *const cpu_keys[] = {
    "vendor",   "family",           "model",         "model_name",
    "stepping", "microcode",        "packages",      "dies_per_package",
    "cores_per_die", "threads_per_core", "offline",  NULL};

static int get_uint_min(load_ctx_t *c, const yaml_node_t *n, const char *what,
                        uint64_t min, uint64_t max, uint64_t *out) {
  if (get_uint(c, n, what, max, out) != 0)
    return -1;
  if (*out < min)
    return fail(c, n, "%s must be at least %" PRIu64 ", got %s", what, min,
                scalar(n));
  return 0;
}

static int cpu_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  sim_cpu_info_t *ci = arg;
  uint64_t u = 0;
  char *str = NULL;
  switch (key) {
  case CK_VENDOR:
    if (get_string(c, v, "vendor", &str) != 0 || str == NULL)
      return -1;
    for (size_t i = 0; i < sizeof(vendor_ids) / sizeof(vendor_ids[0]); i++)
      if (strcmp(str, vendor_ids[i]) == 0) {
        ci->vendor = (int)i;
        free(str);
        return 0;
      }
    fail(c, v, "vendor must be GenuineIntel, AuthenticAMD or HygonGenuine, "
               "got \"%s\"", str);
    free(str);
    return -1;
  case CK_FAMILY: /* base + extended family: at most 0xF + 0xFF */
    if (get_uint(c, v, "family", 0x10E, &u) != 0)
      return -1;
    ci->family = (unsigned)u;
    return 0;
  case CK_MODEL:
    if (get_uint(c, v, "model", 0xFF, &u) != 0)
      return -1;
    ci->model = (unsigned)u;
    return 0;
  case CK_MODEL_NAME:
    if (get_string(c, v, "model_name", &ci->model_name) != 0)
      return -1;
    /* the CPUID brand string: 48 bytes including the NUL */
    if (ci->model_name[0] == '\0' || strlen(ci->model_name) > 47)
      return fail(c, v, "model_name must have 1 to 47 characters");
    for (const char *p = ci->model_name; *p; p++)
      if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
        return fail(c, v, "model_name must be printable ASCII");
    return 0;
  case CK_STEPPING:
    if (get_uint(c, v, "stepping", 0xF, &u) != 0)
      return -1;
    ci->stepping = (unsigned)u;
    return 0;
  case CK_MICROCODE:
    if (get_uint(c, v, "microcode", 0xFFFFFFFFu, &u) != 0)
      return -1;
    ci->microcode = u;
    return 0;
  case CK_PACKAGES:
    if (get_uint_min(c, v, "packages", 1, 64, &u) != 0)
      return -1;
    ci->packages = (unsigned)u;
    return 0;
  case CK_DIES:
    if (get_uint_min(c, v, "dies_per_package", 1, 16, &u) != 0)
      return -1;
    ci->dies = (unsigned)u;
    return 0;
  case CK_CORES:
    if (get_uint_min(c, v, "cores_per_die", 1, 256, &u) != 0)
      return -1;
    ci->cores = (unsigned)u;
    return 0;
  case CK_THREADS:
    if (get_uint_min(c, v, "threads_per_core", 1, 4, &u) != 0)
      return -1;
    ci->threads = (unsigned)u;
    return 0;
  case CK_OFFLINE:
    if (expect_type(c, v, YAML_SEQUENCE_NODE, "offline") != 0)
      return -1;
    c->offline_node = v;
    return 0;
  }
  return -1;
}

static int sec_cpu(load_ctx_t *c, yaml_node_t *v) {
  sim_cpu_info_t *ci = &c->m->cpu;
  c->cpu_node = v;
  ci->dies = 1;
  ci->threads = 1;
  ci->microcode = 0x1;
  uint32_t seen;
  if (walk_mapping(c, v, "cpu", cpu_keys, cpu_pair, ci, &seen) != 0)
    return -1;
  static const int required[] = {CK_VENDOR,      CK_FAMILY,   CK_MODEL,
                                 CK_MODEL_NAME,  CK_PACKAGES, CK_CORES};
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
    if (!(seen & (1u << required[i])))
      return fail(c, v, "cpu is missing required key \"%s\"",
                  cpu_keys[required[i]]);
  ci->n_cpus = (size_t)ci->packages * ci->dies * ci->cores * ci->threads;
  if (ci->n_cpus > SIM_MAX_CPUS)
    return fail(c, v, "cpu describes %zu logical CPUs; at most %d are "
                      "supported (keep the machine small)",
                ci->n_cpus, SIM_MAX_CPUS);
  ci->online = malloc(ci->n_cpus);
  if (ci->online == NULL)
    return fail(c, v, "out of memory");
  memset(ci->online, 1, ci->n_cpus);
  ci->present = 1;

  yaml_node_t *off = c->offline_node;
  if (off != NULL)
    for (yaml_node_item_t *it = off->data.sequence.items.start;
         it < off->data.sequence.items.top; it++) {
      yaml_node_t *n = yaml_document_get_node(c->doc, *it);
      uint64_t u = 0;
      if (n == NULL)
        return fail(c, off, "broken document");
      if (get_uint(c, n, "an offline CPU", UINT64_MAX, &u) != 0)
        return -1;
      if (u >= ci->n_cpus)
        return fail(c, n, "offline CPU %" PRIu64 " does not exist (CPUs are "
                          "0..%zu)", u, ci->n_cpus - 1);
      if (u == 0)
        return fail(c, n, "CPU 0 cannot be offline (x86 Linux has no "
                          "cpu0/online)");
      if (!ci->online[u])
        return fail(c, n, "CPU %" PRIu64 " is listed twice", u);
      ci->online[u] = 0;
    }
  /* The kernel removes a RAPL package when its last CPU goes offline
   * (REFERENCE.md 2.6, rapl_cpu_down_prep): keep one per die. */
  for (unsigned p = 0; p < ci->packages; p++)
    for (unsigned d = 0; d < ci->dies; d++) {
      int any = 0;
      for (size_t cpu = 0; cpu < ci->n_cpus && !any; cpu++) {
        sim_topo_t t = cpu_topo(ci, cpu);
        any = t.pkg == p && t.die == d && ci->online[cpu];
      }
      if (!any)
        return fail(c, off != NULL ? off : v,
                    "every CPU of package %u die %u is offline; the kernel "
                    "would remove its RAPL zones: keep one online", p, d);
    }
  return 0;
}

/* --- msr: the register model --- */

static const char *const msr_keys[] = {"unit", "zero", NULL};

static int msr_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  sim_msr_info_t *mi = arg;
  uint64_t u = 0;
  if (key == 0) {
    if (get_uint(c, v, "msr unit", 0xFFFFFFFFu, &u) != 0)
      return -1;
    mi->unit = u;
    return 0;
  }
  if (expect_type(c, v, YAML_SEQUENCE_NODE, "zero") != 0)
    return -1;
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    yaml_node_t *n = yaml_document_get_node(c->doc, *it);
    if (n == NULL)
      return fail(c, v, "broken document");
    if (mi->n_zero == SIM_MAX_ZERO)
      return fail(c, n, "zero lists more than %d registers", SIM_MAX_ZERO);
    if (get_uint(c, n, "a register", 0xFFFFFFFFu, &u) != 0)
      return -1;
    for (size_t i = 0; i < mi->n_zero; i++)
      if (mi->zero[i] == u)
        return fail(c, n, "register 0x%" PRIX64 " is listed twice", u);
    c->zero_nodes[mi->n_zero] = n;
    mi->zero[mi->n_zero++] = (uint32_t)u;
  }
  return 0;
}

static int sec_msr(load_ctx_t *c, yaml_node_t *v) {
  sim_msr_info_t *mi = &c->m->msr;
  c->msr_node = v;
  uint32_t seen;
  if (walk_mapping(c, v, "msr", msr_keys, msr_pair, mi, &seen) != 0)
    return -1;
  if (!(seen & 1u))
    return fail(c, v, "msr is missing required key \"unit\"");
  mi->present = 1;
  return 0;
}

static const struct {
  const char *key;
  int (*parse)(load_ctx_t *c, yaml_node_t *value);
  int required;
} sections[] = {
    {"machine", sec_machine, 1},
    {"description", sec_description, 0},
    {"powercap", sec_powercap, 0},
    {"mmio", sec_mmio, 0},
    {"cpu", sec_cpu, 0},
    {"msr", sec_msr, 0},
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

/* --- checks across sections, and the tables derived from them --- */

static unsigned msr_esu(uint64_t unit) { return (unsigned)((unit >> 8) & 0x1F); }

/* "package-P" (die -1) or "package-P-die-D"; 0 if it is one of those. */
static int parse_package_name(const char *s, unsigned long *pkg, long *die) {
  if (strncmp(s, "package-", 8) != 0 || s[8] < '0' || s[8] > '9')
    return -1;
  char *end;
  *pkg = strtoul(s + 8, &end, 10);
  *die = -1;
  if (*end == '\0')
    return 0;
  if (strncmp(end, "-die-", 5) != 0 || end[5] < '0' || end[5] > '9')
    return -1;
  unsigned long d = strtoul(end + 5, &end, 10);
  if (*end != '\0' || d > 1000000)
    return -1;
  *die = (long)d;
  return 0;
}

/* Find which zones each register group reads (kernel names: REFERENCE.md
 * section 1 "name values"). */
static int map_groups(load_ctx_t *c) {
  sim_machine_t *m = c->m;
  const sim_cpu_info_t *ci = &m->cpu;
  int amd = is_amd_like(m);
  m->n_groups = amd ? ci->packages : (size_t)ci->packages * ci->dies;
  m->groups = malloc(m->n_groups * sizeof(*m->groups));
  if (m->groups == NULL)
    return fail(c, c->cpu_node, "out of memory");
  for (size_t g = 0; g < m->n_groups; g++)
    m->groups[g] = (sim_group_t){-1, -1, -1, -1, -1};
  long psys_all = -1;
  for (size_t i = 0; i < m->n_zones; i++) {
    const sim_zone_t *z = &m->zones[i];
    if (z->parent >= 0)
      continue;
    unsigned long pkg;
    long die;
    if (parse_package_name(z->name, &pkg, &die) == 0) {
      if (pkg >= ci->packages)
        return fail_at(c, z->line, z->col,
                       "zone %s: cpu has %u package(s), 0..%u", z->name,
                       ci->packages, ci->packages - 1);
      int want_die = !amd && ci->dies > 1;
      if (want_die && die < 0)
        return fail_at(c, z->line, z->col,
                       "zone %s: with %u dies per package the kernel names "
                       "Intel zones package-P-die-D", z->name, ci->dies);
      if (!want_die && die >= 0)
        return fail_at(c, z->line, z->col,
                       "zone %s: the kernel adds -die-D only on Intel with "
                       "more than one die per package", z->name);
      if (die >= (long)ci->dies)
        return fail_at(c, z->line, z->col,
                       "zone %s: cpu has %u die(s) per package", z->name,
                       ci->dies);
      if (z->is_mmio)
        continue;
      size_t g = amd ? pkg : pkg * ci->dies + (size_t)(die < 0 ? 0 : die);
      if (m->groups[g].pkg >= 0)
        return fail_at(c, z->line, z->col, "zone %s: a second zone named %s",
                       z->link_name, z->name);
      m->groups[g].pkg = (long)i;
    } else if (!z->is_mmio && strcmp(z->name, "psys") == 0) {
      psys_all = (long)i;
    } else if (!z->is_mmio && strncmp(z->name, "psys-", 5) == 0) {
      /* kernel: "psys-%d" with the RAPL package (die) id for rp->id > 0 */
      char *end;
      unsigned long g = strtoul(z->name + 5, &end, 10);
      if (*end != '\0' || z->name[5] < '0' || z->name[5] > '9' ||
          g >= m->n_groups)
        return fail_at(c, z->line, z->col,
                       "zone %s: psys-N needs N < %zu (the RAPL package ids)",
                       z->name, m->n_groups);
      m->groups[g].psys = (long)i;
    }
  }
  for (size_t g = 0; g < m->n_groups; g++)
    if (m->groups[g].psys < 0)
      m->groups[g].psys = psys_all;
  for (size_t i = 0; i < m->n_zones; i++) {
    const sim_zone_t *z = &m->zones[i];
    if (z->parent < 0 || z->is_mmio)
      continue;
    for (size_t g = 0; g < m->n_groups; g++) {
      if (m->groups[g].pkg != z->parent)
        continue;
      long *slot = strcmp(z->name, "core") == 0     ? &m->groups[g].core
                   : strcmp(z->name, "uncore") == 0 ? &m->groups[g].uncore
                   : strcmp(z->name, "dram") == 0   ? &m->groups[g].dram
                                                    : NULL;
      if (slot == NULL)
        break;
      if (*slot >= 0)
        return fail_at(c, z->line, z->col,
                       "zone %s: a second sub-zone named %s", z->link_name,
                       z->name);
      *slot = (long)i;
    }
  }
  return 0;
}

/* AMD/Hygon: one counter per physical core for 0xC001029A. */
static int init_amd_cores(load_ctx_t *c) {
  sim_machine_t *m = c->m;
  const sim_cpu_info_t *ci = &m->cpu;
  m->amd = calloc(ci->packages, sizeof(*m->amd));
  if (m->amd == NULL)
    return fail(c, c->cpu_node, "out of memory");
  size_t per_pkg = (size_t)ci->dies * ci->cores;
  for (unsigned p = 0; p < ci->packages; p++) {
    sim_amd_pkg_t *ap = &m->amd[p];
    ap->core_zone = m->groups[p].core;
    if (ap->core_zone < 0)
      continue;
    ap->cores = calloc(per_pkg, sizeof(*ap->cores));
    if (ap->cores == NULL)
      return fail(c, c->cpu_node, "out of memory");
    int lead_found = 0;
    for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
      sim_topo_t t = cpu_topo(ci, cpu);
      if (t.pkg != p || !ci->online[cpu])
        continue;
      ap->cores[topo_core_id(ci, t)].has_online = 1;
      if (!lead_found) { /* lowest-numbered online CPU: the kernel's lead */
        ap->lead_core = topo_core_id(ci, t);
        lead_found = 1;
      }
    }
    /* Distinct, deterministic starts (golden-ratio steps over the 32-bit
     * range from the zone's own start) so a reader that sums the cores
     * really has to read each one. */
    const sim_zone_t *z = &m->zones[ap->core_zone];
    uint32_t base = (uint32_t)(z->start_nj / z->unit_nj);
    for (size_t k = 0; k < per_pkg; k++) {
      uint32_t ticks = base + (uint32_t)(k + 1) * 0x9E3779B1u;
      ap->cores[k].start_nj = (uint64_t)ticks * z->unit_nj;
    }
  }
  return 0;
}

static int finish_load(load_ctx_t *c) {
  sim_machine_t *m = c->m;
  const sim_msr_info_t *mi = &m->msr;
  if (mi->present && !m->cpu.present)
    return fail(c, c->msr_node, "msr needs a cpu section (MSRs are per CPU)");
  if (mi->present) {
    /* A zone with esu reads the unit MSR; one with unit_nj is a fixed-unit
     * domain (DRAM 15.3 uJ on server parts, SPR psys 1 J: REFERENCE.md 2.3). */
    unsigned esu = msr_esu(mi->unit);
    for (size_t i = 0; i < m->n_zones; i++) {
      const sim_zone_t *z = &m->zones[i];
      if (z->esu >= 0 && (unsigned)z->esu != esu)
        return fail_at(c, z->esu_line, z->esu_col,
                       "zone %s (%s) has esu %d but msr unit 0x%" PRIX64
                       " has ESU %u (bits 12:8); give the same esu, or "
                       "unit_nj for a fixed-unit domain",
                       z->link_name, z->name, z->esu, mi->unit, esu);
    }
  }
  if (!m->cpu.present)
    return 0;
  if (map_groups(c) != 0)
    return -1;
  if (is_amd_like(m) && init_amd_cores(c) != 0)
    return -1;
  if (!mi->present)
    return 0;
  int amd = is_amd_like(m);
  for (size_t g = 0; g < m->n_groups; g++)
    if (m->groups[g].pkg < 0) {
      char want[64];
      if (!amd && m->cpu.dies > 1)
        snprintf(want, sizeof(want), "package-%zu-die-%zu", g / m->cpu.dies,
                 g % m->cpu.dies);
      else
        snprintf(want, sizeof(want), "package-%zu", g);
      return fail(c, c->msr_node,
                  "msr: no powercap zone named %s; the package energy "
                  "register reads that zone's counter", want);
    }
  for (size_t i = 0; i < mi->n_zero; i++) {
    uint32_t reg = mi->zero[i];
    long zone = -1;
    if (reg == (amd ? SIM_MSR_AMD_RAPL_POWER_UNIT : SIM_MSR_RAPL_POWER_UNIT))
      return fail(c, c->zero_nodes[i], "0x%" PRIX32 " is the unit register; "
                  "it reads msr.unit", reg);
    for (size_t g = 0; g < m->n_groups && zone < 0; g++) {
      const sim_group_t *gr = &m->groups[g];
      if (amd)
        zone = reg == SIM_MSR_AMD_PKG_ENERGY_STATUS    ? gr->pkg
               : reg == SIM_MSR_AMD_CORE_ENERGY_STATUS ? gr->core
                                                       : -1;
      else
        zone = reg == SIM_MSR_PKG_ENERGY_STATUS        ? gr->pkg
               : reg == SIM_MSR_PP0_ENERGY_STATUS      ? gr->core
               : reg == SIM_MSR_PP1_ENERGY_STATUS      ? gr->uncore
               : reg == SIM_MSR_DRAM_ENERGY_STATUS     ? gr->dram
               : reg == SIM_MSR_PLATFORM_ENERGY_STATUS ? gr->psys
                                                       : -1;
    }
    if (zone >= 0)
      return fail(c, c->zero_nodes[i],
                  "register 0x%" PRIX32 " is listed in zero but reads zone "
                  "%s (%s)", reg, m->zones[zone].link_name,
                  m->zones[zone].name);
  }
  return 0;
}

static int top_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  (void)arg;
  return sections[key].parse(c, v);
}

static int load_root(load_ctx_t *c, yaml_node_t *root) {
  const char *keys[N_SECTIONS + 1];
  for (size_t i = 0; i < N_SECTIONS; i++)
    keys[i] = sections[i].key;
  keys[N_SECTIONS] = NULL;
  uint32_t seen;
  if (walk_mapping(c, root, "the machine description", keys, top_pair, NULL,
                   &seen) != 0)
    return -1;
  for (size_t i = 0; i < N_SECTIONS; i++)
    if (sections[i].required && !(seen & (1u << i)))
      return fail(c, root, "missing required top-level key \"%s\"",
                  sections[i].key);
  return finish_load(c);
}

static sim_machine_t *load(yaml_parser_t *parser, const char *file, char *err,
                           size_t err_len) {
  load_ctx_t c = {.file = file, .err = err, .err_len = err_len};
  yaml_document_t doc;
  if (!yaml_parser_load(parser, &doc)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s:%zu:%zu: YAML syntax error: %s%s%s", file,
               (size_t)parser->problem_mark.line + 1,
               (size_t)parser->problem_mark.column + 1,
               parser->problem ? parser->problem : "unknown problem",
               parser->context ? " " : "",
               parser->context ? parser->context : "");
    return NULL;
  }
  c.doc = &doc;
  sim_machine_t *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    fail(&c, NULL, "out of memory");
    yaml_document_delete(&doc);
    return NULL;
  }
  c.m = m;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  int rc;
  if (root == NULL)
    rc = fail(&c, NULL, "the file is empty (no YAML document)");
  else
    rc = load_root(&c, root);
  yaml_document_delete(&doc);

  if (rc == 0) { /* exactly one document */
    yaml_document_t extra;
    if (!yaml_parser_load(parser, &extra)) {
      snprintf(err, err_len, "%s:%zu:%zu: YAML syntax error: %s", file,
               (size_t)parser->problem_mark.line + 1,
               (size_t)parser->problem_mark.column + 1,
               parser->problem ? parser->problem : "unknown problem");
      rc = -1;
    } else {
      yaml_node_t *r2 = yaml_document_get_root_node(&extra);
      if (r2 != NULL) {
        c.doc = &extra;
        rc = fail(&c, r2, "only one YAML document is allowed");
      }
      yaml_document_delete(&extra);
    }
  }
  if (rc == 0 && m->description == NULL) {
    m->description = strdup("");
    if (m->description == NULL)
      rc = fail(&c, NULL, "out of memory");
  }
  if (rc != 0) {
    sim_free(m);
    return NULL;
  }
  return m;
}

sim_machine_t *sim_load_string(const char *yaml, char *err, size_t err_len) {
  if (err != NULL && err_len > 0)
    err[0] = '\0';
  if (yaml == NULL) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "<string>: no text given");
    return NULL;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "<string>: cannot initialise the YAML parser");
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml,
                               strlen(yaml));
  sim_machine_t *m = load(&parser, "<string>", err, err_len);
  yaml_parser_delete(&parser);
  return m;
}

sim_machine_t *sim_load_file(const char *path, char *err, size_t err_len) {
  if (err != NULL && err_len > 0)
    err[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: cannot initialise the YAML parser", path);
    fclose(f);
    return NULL;
  }
  yaml_parser_set_input_file(&parser, f);
  sim_machine_t *m = load(&parser, path, err, err_len);
  yaml_parser_delete(&parser);
  if (m != NULL && ferror(f)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: read error", path);
    sim_free(m);
    m = NULL;
  }
  fclose(f);
  return m;
}

/* ------------------------------------------------------------------------ */
/* The MSR model                                                             */

static uint32_t amd_core_raw32(const sim_machine_t *m, const sim_amd_pkg_t *ap,
                               size_t k) {
  const sim_zone_t *z = &m->zones[ap->core_zone];
  if (k == ap->lead_core) /* the kernel's lead CPU: the powercap core zone */
    return zone_raw32(z);
  const sim_core_ctr_t *cc = &ap->cores[k];
  unsigned __int128 ticks =
      ((unsigned __int128)cc->start_nj + cc->delivered_nj) / z->unit_nj;
  return (uint32_t)(ticks & 0xFFFFFFFFu);
}

/* The zone an Intel energy status register reads in group gr, or -1. */
static long intel_reg_zone(const sim_group_t *gr, uint32_t reg) {
  switch (reg) {
  case SIM_MSR_PKG_ENERGY_STATUS:
    return gr->pkg;
  case SIM_MSR_PP0_ENERGY_STATUS:
    return gr->core;
  case SIM_MSR_PP1_ENERGY_STATUS:
    return gr->uncore;
  case SIM_MSR_DRAM_ENERGY_STATUS:
    return gr->dram;
  case SIM_MSR_PLATFORM_ENERGY_STATUS:
    return gr->psys;
  }
  return -1;
}

int sim_msr_read(const sim_machine_t *m, unsigned cpu, uint32_t reg,
                 uint64_t *value) {
  if (m == NULL || value == NULL)
    return -EINVAL;
  if (!m->cpu.present || cpu >= m->cpu.n_cpus || !m->cpu.online[cpu])
    return -ENXIO; /* msr driver: no such (online) CPU */
  if (!m->msr.present)
    return -EIO;
  sim_topo_t t = cpu_topo(&m->cpu, cpu);
  const sim_group_t *gr = &m->groups[topo_group(m, t)];
  if (is_amd_like(m)) {
    if (reg == SIM_MSR_AMD_RAPL_POWER_UNIT) {
      *value = m->msr.unit;
      return 0;
    }
    if (reg == SIM_MSR_AMD_PKG_ENERGY_STATUS && gr->pkg >= 0) {
      *value = zone_raw32(&m->zones[gr->pkg]);
      return 0;
    }
    const sim_amd_pkg_t *ap = &m->amd[t.pkg];
    if (reg == SIM_MSR_AMD_CORE_ENERGY_STATUS && ap->cores != NULL) {
      *value = amd_core_raw32(m, ap, topo_core_id(&m->cpu, t));
      return 0;
    }
  } else {
    if (reg == SIM_MSR_RAPL_POWER_UNIT) {
      *value = m->msr.unit;
      return 0;
    }
    long zone = intel_reg_zone(gr, reg);
    if (zone >= 0) {
      *value = zone_raw32(&m->zones[zone]);
      return 0;
    }
  }
  for (size_t i = 0; i < m->msr.n_zero; i++)
    if (m->msr.zero[i] == reg) {
      *value = 0;
      return 0;
    }
  return -EIO; /* rdmsr faults: the msr driver returns EIO */
}

/* Sparse msr files (Intel only): the counter registers rewritten on every
 * advance; the unit and the zero registers are written once at build. */
static const uint32_t msr_file_regs[SIM_MSR_SLOTS] = {
    SIM_MSR_PKG_ENERGY_STATUS, SIM_MSR_PP0_ENERGY_STATUS,
    SIM_MSR_PP1_ENERGY_STATUS, SIM_MSR_DRAM_ENERGY_STATUS,
    SIM_MSR_PLATFORM_ENERGY_STATUS};

static int pwrite_u64_le(int fd, uint64_t v, uint32_t reg) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(v >> (8 * i));
  for (;;) {
    ssize_t w = pwrite(fd, b, sizeof(b), (off_t)reg);
    if (w == (ssize_t)sizeof(b))
      return 0;
    if (w < 0 && errno == EINTR)
      continue;
    return w < 0 ? -errno : -EIO;
  }
}

static int msr_file_write(sim_machine_t *m, size_t cpu, int force) {
  sim_msr_file_t *f = &m->msr_files[cpu];
  if (f->fd < 0)
    return 0;
  const sim_group_t *gr = &m->groups[topo_group(m, cpu_topo(&m->cpu, cpu))];
  for (size_t s = 0; s < SIM_MSR_SLOTS; s++) {
    long zone = intel_reg_zone(gr, msr_file_regs[s]);
    if (zone < 0)
      continue;
    uint64_t v = zone_raw32(&m->zones[zone]);
    if (!force && f->written_valid[s] && f->written[s] == v)
      continue;
    int r = pwrite_u64_le(f->fd, v, msr_file_regs[s]);
    if (r != 0)
      return r;
    f->written[s] = v;
    f->written_valid[s] = 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Building the tree                                                         */

__attribute__((format(printf, 3, 4))) static int
build_fail(sim_machine_t *m, int err, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(m->build_err, sizeof(m->build_err), "%s: %s", what, strerror(err));
  return -err;
}

static int make_dir(sim_machine_t *m, const char *path) {
  if (mkdir(path, 0755) != 0) {
    int e = errno;
    struct stat st;
    if (e != EEXIST)
      return build_fail(m, e, "cannot create directory %s", path);
    if (stat(path, &st) != 0)
      return build_fail(m, errno, "cannot stat %s", path);
    if (!S_ISDIR(st.st_mode))
      return build_fail(m, ENOTDIR, "%s exists", path);
  }
  if (chmod(path, 0755) != 0)
    return build_fail(m, errno, "cannot chmod %s", path);
  return 0;
}

static int make_dir_p(sim_machine_t *m, const char *path) {
  char *p = strdup(path);
  if (p == NULL)
    return build_fail(m, ENOMEM, "%s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      int r = build_fail(m, errno, "cannot create directory %s", p);
      free(p);
      return r;
    }
    *s = '/';
  }
  free(p);
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return build_fail(m, errno, "cannot create directory %s", path);
  return 0;
}

/* Open for writing even when a previous build left the file 0400/0444. */
static int open_for_write(const char *path, int flags) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags,
                0600);
  if (fd < 0 && errno == EACCES && chmod(path, 0600) == 0)
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0600);
  return fd;
}

static int write_all_at(int fd, const char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(fd, buf + done, len - done, (off_t)done);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (w == 0)
      return -EIO;
    done += (size_t)w;
  }
  return 0;
}

static int write_file(sim_machine_t *m, const char *dir, const char *name,
                      const char *content, mode_t mode) {
  char *path;
  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return build_fail(m, ENOMEM, "%s/%s", dir, name);
  int fd = open_for_write(path, O_TRUNC);
  int r = 0;
  if (fd < 0) {
    r = build_fail(m, errno, "cannot create %s", path);
  } else {
    int w = write_all_at(fd, content, strlen(content));
    if (w != 0)
      r = build_fail(m, -w, "cannot write %s", path);
    else if (fchmod(fd, mode) != 0)
      r = build_fail(m, errno, "cannot chmod %s", path);
    if (close(fd) != 0 && r == 0)
      r = build_fail(m, errno, "cannot write %s", path);
  }
  free(path);
  return r;
}

static int write_u64_file(sim_machine_t *m, const char *dir, const char *name,
                          uint64_t v, mode_t mode) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
  return write_file(m, dir, name, buf, mode);
}

/* Create (or keep, if it already says the same) a symlink. */
static int make_link(sim_machine_t *m, const char *target, const char *path) {
  if (symlink(target, path) == 0)
    return 0;
  if (errno != EEXIST)
    return build_fail(m, errno, "cannot create symlink %s", path);
  struct stat st;
  if (lstat(path, &st) != 0)
    return build_fail(m, errno, "cannot stat %s", path);
  if (S_ISLNK(st.st_mode)) {
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n >= 0) {
      buf[n] = '\0';
      if (strcmp(buf, target) == 0)
        return 0;
    }
  } else if (S_ISDIR(st.st_mode)) {
    return build_fail(m, EEXIST, "%s is a directory, expected a symlink",
                      path);
  }
  if (unlink(path) != 0)
    return build_fail(m, errno, "cannot replace %s", path);
  if (symlink(target, path) != 0)
    return build_fail(m, errno, "cannot create symlink %s", path);
  return 0;
}

/* Link `name` inside `dir` pointing at `target`. */
static int link_in(sim_machine_t *m, const char *dir, const char *name,
                   const char *target) {
  char *path;
  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return build_fail(m, ENOMEM, "%s/%s", dir, name);
  int r = make_link(m, target, path);
  free(path);
  return r;
}

/* "../" repeated n times followed by tail. */
static char *updirs(size_t n, const char *tail) {
  size_t tl = strlen(tail);
  char *s = malloc(3 * n + tl + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    memcpy(s + 3 * i, "../", 3);
  memcpy(s + 3 * n, tail, tl + 1);
  return s;
}

static size_t path_depth(const char *rel) {
  size_t d = 1;
  for (const char *p = rel; *p; p++)
    d += (*p == '/');
  return d;
}

/* Files every powercap device has: uevent, power/, subsystem link; and the
 * flat link in sys/class/powercap.  `rel` is relative to
 * sys/devices/virtual/powercap. */
static int build_device_common(sim_machine_t *m, const char *dir,
                               const char *rel, const char *class_name) {
  int r;
  char *p = NULL, *t = NULL;
  if ((r = write_file(m, dir, "uevent", "", 0644)) != 0)
    return r;
  if (asprintf(&p, "%s/power", dir) < 0)
    return build_fail(m, ENOMEM, "%s/power", dir);
  r = make_dir(m, p);
  free(p);
  if (r != 0)
    return r;
  /* sysfs: <dir>/subsystem -> ../(x depth)class/powercap, where the depth
   * counts devices/virtual/powercap plus the components of rel. */
  t = updirs(3 + path_depth(rel), "class/powercap");
  if (t == NULL)
    return build_fail(m, ENOMEM, "%s/subsystem", dir);
  r = link_in(m, dir, "subsystem", t);
  free(t);
  if (r != 0)
    return r;
  if (asprintf(&p, "%s/sys/class/powercap/%s", m->root, class_name) < 0)
    return build_fail(m, ENOMEM, "%s", class_name);
  if (asprintf(&t, "../../devices/virtual/powercap/%s", rel) < 0) {
    free(p);
    return build_fail(m, ENOMEM, "%s", class_name);
  }
  r = make_link(m, t, p);
  free(p);
  free(t);
  return r;
}

static int build_control_type(sim_machine_t *m, const char *ct) {
  char *dir;
  if (asprintf(&dir, "%s/sys/devices/virtual/powercap/%s", m->root, ct) < 0)
    return build_fail(m, ENOMEM, "%s", ct);
  int r = make_dir(m, dir);
  if (r == 0)
    r = write_file(m, dir, "enabled", "1\n", 0644);
  if (r == 0)
    r = build_device_common(m, dir, ct, ct);
  free(dir);
  return r;
}

/* What the regular file energy_uj holds: the value, or what a fault that
 * a regular file can show puts there ("garbage\n", nothing). */
static int zone_file_fault(const sim_zone_t *z) {
  return z->fault == SIM_FAULT_GARBAGE || z->fault == SIM_FAULT_EMPTY
             ? z->fault
             : SIM_FAULT_NONE;
}

static int zone_write(const sim_machine_t *m, sim_zone_t *z, int force) {
  if (z->fd < 0 || (m->served && !force))
    return 0;
  uint64_t uj = zone_energy_uj(z);
  int shown = zone_file_fault(z);
  if (!force && z->written_valid && z->written_fault == shown &&
      (shown != SIM_FAULT_NONE || z->written_uj == uj))
    return 0;
  char buf[32];
  int len = 0; /* SIM_FAULT_EMPTY */
  if (shown == SIM_FAULT_GARBAGE)
    len = snprintf(buf, sizeof(buf), "garbage\n");
  else if (shown == SIM_FAULT_NONE)
    len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", uj);
  /* New digits first, then cut: a concurrent pread() sees either the new
   * number + "\n" (maybe followed by stale bytes) or exactly the new text. */
  int r = write_all_at(z->fd, buf, (size_t)len);
  if (r != 0)
    return r;
  if (ftruncate(z->fd, (off_t)len) != 0)
    return -errno;
  z->written_uj = uj;
  z->written_fault = shown;
  z->written_valid = 1;
  return 0;
}

/* The value max_energy_range_uj shows (SIM_RANGE_UNREADABLE: the real one,
 * for the regular file and for st_size). */
static uint64_t zone_shown_range_uj(const sim_zone_t *z) {
  return z->range_mode == SIM_RANGE_VALUE
             ? z->range_uj
             : sim_max_range_uj_for_unit(z->unit_nj);
}

static int build_zone(sim_machine_t *m, sim_zone_t *z) {
  int r;
  if (asprintf(&z->dir, "%s/sys/devices/virtual/powercap/%s", m->root,
               z->rel_path) < 0) {
    z->dir = NULL;
    return build_fail(m, ENOMEM, "%s", z->link_name);
  }
  const char *dir = z->dir;
  if ((r = make_dir(m, dir)) != 0)
    return r;

  char *content;
  if (asprintf(&content, "%s\n", z->name) < 0)
    return build_fail(m, ENOMEM, "%s/name", dir);
  r = write_file(m, dir, "name", content, 0444);
  free(content);
  if (r != 0)
    return r;
  if ((r = write_u64_file(m, dir, "max_energy_range_uj",
                          zone_shown_range_uj(z), 0444)) != 0)
    return r;
  if ((r = write_file(m, dir, "enabled", "1\n", 0644)) != 0)
    return r;

  for (size_t i = 0; i < z->n_constraints; i++) {
    const sim_constraint_t *k = &z->constraints[i];
    char fname[64];
    snprintf(fname, sizeof(fname), "constraint_%zu_name", i);
    if (asprintf(&content, "%s\n", k->name) < 0)
      return build_fail(m, ENOMEM, "%s/%s", dir, fname);
    r = write_file(m, dir, fname, content, 0444);
    free(content);
    if (r != 0)
      return r;
    snprintf(fname, sizeof(fname), "constraint_%zu_max_power_uw", i);
    if ((r = write_u64_file(m, dir, fname, k->max_power_uw, 0444)) != 0)
      return r;
    snprintf(fname, sizeof(fname), "constraint_%zu_power_limit_uw", i);
    if ((r = write_u64_file(m, dir, fname, k->power_limit_uw, 0644)) != 0)
      return r;
    snprintf(fname, sizeof(fname), "constraint_%zu_time_window_us", i);
    if ((r = write_u64_file(m, dir, fname, k->time_window_us, 0644)) != 0)
      return r;
  }

  /* device -> parent device (the control type for top-level zones), in the
   * form sysfs writes it: "../../<parent dir name>". */
  const char *parent_name =
      z->parent >= 0 ? m->zones[z->parent].link_name
                     : (z->is_mmio ? SIM_CT_MMIO : SIM_CT_RAPL);
  char *target = updirs(2, parent_name);
  if (target == NULL)
    return build_fail(m, ENOMEM, "%s/device", dir);
  r = link_in(m, dir, "device", target);
  free(target);
  if (r != 0)
    return r;
  if ((r = build_device_common(m, dir, z->rel_path, z->link_name)) != 0)
    return r;

  /* energy_uj: keep an O_WRONLY fd, rewrite in place from now on. */
  char *path;
  if (asprintf(&path, "%s/energy_uj", dir) < 0)
    return build_fail(m, ENOMEM, "%s/energy_uj", dir);
  z->fd = open_for_write(path, 0);
  if (z->fd < 0) {
    r = build_fail(m, errno, "cannot create %s", path);
  } else {
    z->written_valid = 0;
    r = zone_write(m, z, 1);
    if (r != 0)
      r = build_fail(m, -r, "cannot write %s", path);
    else if (fchmod(z->fd, 0400) != 0)
      r = build_fail(m, errno, "cannot chmod %s", path);
  }
  free(path);
  return r;
}

static void close_fds(sim_machine_t *m) {
  for (size_t i = 0; i < m->n_zones; i++) {
    sim_zone_t *z = &m->zones[i];
    if (z->fd >= 0)
      close(z->fd);
    z->fd = -1;
    z->written_valid = 0;
    free(z->dir);
    z->dir = NULL;
  }
  close_msr_files(m);
}

/* Create each of the directories root/rel[i], in order. */
static int make_dirs(sim_machine_t *m, const char *const *rel, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *p;
    if (asprintf(&p, "%s/%s", m->root, rel[i]) < 0)
      return build_fail(m, ENOMEM, "%s", rel[i]);
    int r = make_dir(m, p);
    free(p);
    if (r != 0)
      return r;
  }
  return 0;
}

static int build_powercap(sim_machine_t *m) {
  static const char *const dirs[] = {
      "sys", "sys/class", "sys/class/powercap", "sys/devices",
      "sys/devices/virtual", "sys/devices/virtual/powercap"};
  int r = make_dirs(m, dirs, sizeof(dirs) / sizeof(dirs[0]));
  if (r != 0)
    return r;
  if (m->has_powercap && (r = build_control_type(m, SIM_CT_RAPL)) != 0)
    return r;
  if (m->has_mmio && (r = build_control_type(m, SIM_CT_MMIO)) != 0)
    return r;
  for (size_t i = 0; i < m->n_zones; i++)
    if ((r = build_zone(m, &m->zones[i])) != 0)
      return r;
  return 0;
}

/* --- sys/devices/system/cpu and proc/cpuinfo --- */

typedef struct {
  int online;         /* 1: online CPUs only, 0: offline only, -1: all */
  long pkg, die, core; /* -1: any; core is the core_id */
} cpu_filter_t;

static int cpu_match(const sim_cpu_info_t *ci, size_t cpu,
                     const cpu_filter_t *f) {
  sim_topo_t t = cpu_topo(ci, cpu);
  return (f->online < 0 || f->online == ci->online[cpu]) &&
         (f->pkg < 0 || f->pkg == (long)t.pkg) &&
         (f->die < 0 || f->die == (long)t.die) &&
         (f->core < 0 || f->core == (long)topo_core_id(ci, t));
}

/* The kernel's bitmap list format (cpulist_read / "%*pbl"): "0-1,3-8\n";
 * an empty set gives "\n".  NULL when out of memory. */
static char *cpu_list(const sim_cpu_info_t *ci, const cpu_filter_t *f) {
  size_t cap = ci->n_cpus * 12 + 2, used = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  for (size_t cpu = 0; cpu < ci->n_cpus;) {
    if (!cpu_match(ci, cpu, f)) {
      cpu++;
      continue;
    }
    size_t last = cpu;
    while (last + 1 < ci->n_cpus && cpu_match(ci, last + 1, f))
      last++;
    int n = last == cpu ? snprintf(buf + used, cap - used, "%s%zu",
                                   used ? "," : "", cpu)
                        : snprintf(buf + used, cap - used, "%s%zu-%zu",
                                   used ? "," : "", cpu, last);
    used += (size_t)n;
    cpu = last + 1;
  }
  snprintf(buf + used, cap - used, "\n");
  return buf;
}

static int write_cpu_list(sim_machine_t *m, const char *dir, const char *name,
                          const cpu_filter_t *f) {
  char *list = cpu_list(&m->cpu, f);
  if (list == NULL)
    return build_fail(m, ENOMEM, "%s/%s", dir, name);
  int r = write_file(m, dir, name, list, 0444);
  free(list);
  return r;
}

static int write_int_file(sim_machine_t *m, const char *dir, const char *name,
                          long v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%ld\n", v);
  return write_file(m, dir, name, buf, 0444);
}

/* cpuN/topology/ of an online CPU (offline CPUs have none: the kernel
 * removes the topology group when a CPU goes down).  The sibling masks
 * hold online CPUs only, as the kernel's do. */
static int build_topology(sim_machine_t *m, size_t cpu, const char *cpudir) {
  const sim_cpu_info_t *ci = &m->cpu;
  sim_topo_t t = cpu_topo(ci, cpu);
  long core = (long)topo_core_id(ci, t);
  char *dir;
  if (asprintf(&dir, "%s/topology", cpudir) < 0)
    return build_fail(m, ENOMEM, "%s/topology", cpudir);
  const cpu_filter_t thread_f = {1, t.pkg, t.die, core};
  const cpu_filter_t die_f = {1, t.pkg, t.die, -1};
  const cpu_filter_t pkg_f = {1, t.pkg, -1, -1};
  int r = make_dir(m, dir);
  if (r == 0)
    r = write_int_file(m, dir, "physical_package_id", t.pkg);
  if (r == 0)
    r = write_int_file(m, dir, "die_id", t.die);
  if (r == 0)
    r = write_int_file(m, dir, "core_id", core);
  if (r == 0)
    r = write_cpu_list(m, dir, "thread_siblings_list", &thread_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "core_cpus_list", &thread_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "die_cpus_list", &die_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "package_cpus_list", &pkg_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "core_siblings_list", &pkg_f);
  free(dir);
  return r;
}

static unsigned bits_for(unsigned n) { /* ceil(log2(n)) */
  unsigned b = 0;
  while ((1u << b) < n)
    b++;
  return b;
}

/* x86 APIC id: thread, core, die, package fields, each as wide as needed. */
static unsigned apic_id(const sim_cpu_info_t *ci, sim_topo_t t) {
  unsigned smt = bits_for(ci->threads), core = bits_for(ci->cores),
           die = bits_for(ci->dies);
  return (((t.pkg << die | t.die) << core | t.core_in_die) << smt) | t.thread;
}

/* cpu MHz: the "@ 2.40GHz" of an Intel brand string, else 2000. */
static unsigned cpu_khz(const sim_cpu_info_t *ci) {
  const char *at = strstr(ci->model_name, "@ ");
  if (at != NULL) {
    char *end;
    double ghz = strtod(at + 2, &end);
    if (end != at + 2 && strncmp(end, "GHz", 3) == 0 && ghz > 0 && ghz < 10)
      return (unsigned)(ghz * 1e6 + 0.5);
  }
  return 2000000;
}

/* Flags as a 6.x kernel prints them; "msr" is what the plugin's MSR reader
 * relies on.  Intel: a Skylake-SP list; AMD: a Zen 3 (Milan) list. */
static const char flags_intel[] =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb "
    "rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl "
    "xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor "
    "ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 "
    "sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand "
    "lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single "
    "intel_ppin ssbd mba ibrs ibpb stibp tpr_shadow flexpriority ept vpid "
    "ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid cqm mpx "
    "rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt "
    "avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc "
    "cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts rapl "
    "pku ospke md_clear flush_l1d arch_capabilities";
static const char flags_amd[] =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp "
    "lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf "
    "rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic "
    "movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic "
    "cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce "
    "topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 "
    "cdp_l3 invpcid_single hw_pstate ssbd mba ibrs ibpb stibp vmmcall "
    "fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap "
    "clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc "
    "cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr "
    "rdpru wbnoinvd amd_ppin arat npt lbrv svm_lock nrip_save tsc_scale "
    "vmcb_clean flushbyasid decodeassists pausefilter pfthreshold "
    "v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid "
    "overflow_recov succor smca";

/* One block per online CPU in the format of arch/x86/kernel/cpu/proc.c
 * show_cpuinfo(): "siblings" counts the package's online CPUs and "cpu
 * cores" its cores with an online thread. */
static int write_cpuinfo(const sim_machine_t *m, FILE *f) {
  const sim_cpu_info_t *ci = &m->cpu;
  int amd = is_amd_like(m);
  unsigned khz = cpu_khz(ci);
  size_t per_pkg_cores = (size_t)ci->dies * ci->cores;
  size_t *siblings = calloc(ci->packages, sizeof(*siblings));
  size_t *booted_cores = calloc(ci->packages, sizeof(*booted_cores));
  unsigned char *core_seen = calloc(ci->packages, per_pkg_cores);
  if (siblings == NULL || booted_cores == NULL || core_seen == NULL) {
    free(siblings);
    free(booted_cores);
    free(core_seen);
    return -ENOMEM;
  }
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
    if (!ci->online[cpu])
      continue;
    sim_topo_t t = cpu_topo(ci, cpu);
    siblings[t.pkg]++;
    unsigned char *seen = &core_seen[t.pkg * per_pkg_cores +
                                     topo_core_id(ci, t)];
    booted_cores[t.pkg] += !*seen;
    *seen = 1;
  }
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
    if (!ci->online[cpu])
      continue;
    sim_topo_t t = cpu_topo(ci, cpu);
    unsigned apic = apic_id(ci, t);
    fprintf(f,
            "processor\t: %zu\n"
            "vendor_id\t: %s\n"
            "cpu family\t: %u\n"
            "model\t\t: %u\n"
            "model name\t: %s\n"
            "stepping\t: %u\n",
            cpu, vendor_ids[ci->vendor], ci->family, ci->model,
            ci->model_name, ci->stepping);
    if (ci->microcode != 0)
      fprintf(f, "microcode\t: 0x%" PRIx64 "\n", ci->microcode);
    fprintf(f,
            "cpu MHz\t\t: %u.%03u\n"
            "cache size\t: %zu KB\n"
            "physical id\t: %u\n"
            "siblings\t: %zu\n"
            "core id\t\t: %u\n"
            "cpu cores\t: %zu\n"
            "apicid\t\t: %u\n"
            "initial apicid\t: %u\n"
            "fpu\t\t: yes\n"
            "fpu_exception\t: yes\n"
            "cpuid level\t: %d\n"
            "wp\t\t: yes\n"
            "flags\t\t: %s\n"
            "bugs\t\t: %s\n"
            "bogomips\t: %u.%02u\n",
            khz / 1000, khz % 1000,
            amd ? (size_t)512 : (size_t)1408 * per_pkg_cores, t.pkg,
            siblings[t.pkg], topo_core_id(ci, t), booted_cores[t.pkg], apic,
            apic, amd ? 16 : 22,
            amd ? flags_amd : flags_intel,
            amd ? "sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass "
                  "srso"
                : "spectre_v1 spectre_v2 spec_store_bypass swapgs taa "
                  "itlb_multihit mmio_stale_data retbleed gds",
            khz * 2 / 1000, khz * 2 % 1000 / 10);
    if (amd)
      fprintf(f, "TLB size\t: 2560 4K pages\n");
    fprintf(f,
            "clflush size\t: 64\n"
            "cache_alignment\t: 64\n"
            "address sizes\t: %s\n"
            "power management:%s\n\n",
            amd ? "48 bits physical, 48 bits virtual"
                : "46 bits physical, 48 bits virtual",
            amd ? " ts ttp tm hwpstate cpb eff_freq_ro [13] [14]" : "");
  }
  free(siblings);
  free(booted_cores);
  free(core_seen);
  return ferror(f) ? -EIO : 0;
}

static int build_cpuinfo(sim_machine_t *m) {
  static const char *const dirs[] = {"proc"};
  int r = make_dirs(m, dirs, 1);
  if (r != 0)
    return r;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return build_fail(m, errno, "proc/cpuinfo");
  r = write_cpuinfo(m, f);
  if (fclose(f) != 0 && r == 0)
    r = -errno;
  if (r != 0) {
    free(text);
    return build_fail(m, -r, "proc/cpuinfo");
  }
  char *dir;
  if (asprintf(&dir, "%s/proc", m->root) < 0) {
    free(text);
    return build_fail(m, ENOMEM, "proc/cpuinfo");
  }
  r = write_file(m, dir, "cpuinfo", text, 0444);
  free(dir);
  free(text);
  return r;
}

static int build_cpu(sim_machine_t *m) {
  static const char *const dirs[] = {"sys", "sys/devices",
                                     "sys/devices/system",
                                     "sys/devices/system/cpu"};
  int r = make_dirs(m, dirs, sizeof(dirs) / sizeof(dirs[0]));
  if (r != 0)
    return r;
  const sim_cpu_info_t *ci = &m->cpu;
  char *base;
  if (asprintf(&base, "%s/sys/devices/system/cpu", m->root) < 0)
    return build_fail(m, ENOMEM, "sys/devices/system/cpu");
  const cpu_filter_t all = {-1, -1, -1, -1}, on = {1, -1, -1, -1},
                     off = {0, -1, -1, -1};
  r = write_cpu_list(m, base, "online", &on);
  if (r == 0)
    r = write_cpu_list(m, base, "possible", &all);
  if (r == 0)
    r = write_cpu_list(m, base, "present", &all);
  if (r == 0)
    r = write_cpu_list(m, base, "offline", &off);
  for (size_t cpu = 0; cpu < ci->n_cpus && r == 0; cpu++) {
    char *dir;
    if (asprintf(&dir, "%s/cpu%zu", base, cpu) < 0) {
      r = build_fail(m, ENOMEM, "cpu%zu", cpu);
      break;
    }
    r = make_dir(m, dir);
    /* x86 has no cpu0/online (CPU 0 cannot be unplugged) */
    if (r == 0 && cpu > 0)
      r = write_file(m, dir, "online", ci->online[cpu] ? "1\n" : "0\n",
                     0644);
    if (r == 0 && ci->online[cpu])
      r = build_topology(m, cpu, dir);
    free(dir);
  }
  free(base);
  if (r == 0)
    r = build_cpuinfo(m);
  return r;
}

/* --- dev/cpu/N/msr as sparse regular files --- */

/* ROOT/dev/cpu/<cpu>/msr of an online CPU: created, with the unit, the
 * zero registers and the counters written. */
static int msr_file_create(sim_machine_t *m, size_t cpu) {
  char *dir, *path;
  if (asprintf(&dir, "%s/dev/cpu/%zu", m->root, cpu) < 0)
    return build_fail(m, ENOMEM, "dev/cpu/%zu", cpu);
  int r = make_dir(m, dir);
  if (r == 0 && asprintf(&path, "%s/msr", dir) >= 0) {
    sim_msr_file_t *f = &m->msr_files[cpu];
    memset(f->written_valid, 0, sizeof(f->written_valid));
    f->fd = open_for_write(path, O_TRUNC);
    if (f->fd < 0)
      r = build_fail(m, errno, "cannot create %s", path);
    if (r == 0 && (r = pwrite_u64_le(f->fd, m->msr.unit,
                                     SIM_MSR_RAPL_POWER_UNIT)) != 0)
      r = build_fail(m, -r, "cannot write %s", path);
    for (size_t i = 0; i < m->msr.n_zero && r == 0; i++)
      if ((r = pwrite_u64_le(f->fd, 0, m->msr.zero[i])) != 0)
        r = build_fail(m, -r, "cannot write %s", path);
    if (r == 0 && (r = msr_file_write(m, cpu, 1)) != 0)
      r = build_fail(m, -r, "cannot write %s", path);
    if (r == 0 && fchmod(f->fd, 0600) != 0)
      r = build_fail(m, errno, "cannot chmod %s", path);
    free(path);
  } else if (r == 0) {
    r = build_fail(m, ENOMEM, "dev/cpu/%zu/msr", cpu);
  }
  free(dir);
  return r;
}

/* The msr driver removes the device of a CPU going offline. */
static int msr_file_remove(sim_machine_t *m, size_t cpu) {
  sim_msr_file_t *f = &m->msr_files[cpu];
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  char *dir, *path = NULL;
  if (asprintf(&dir, "%s/dev/cpu/%zu", m->root, cpu) < 0 ||
      asprintf(&path, "%s/msr", dir) < 0)
    return build_fail(m, ENOMEM, "dev/cpu/%zu", cpu);
  int r = 0;
  if (unlink(path) != 0 && errno != ENOENT)
    r = build_fail(m, errno, "cannot remove %s", path);
  else if (rmdir(dir) != 0 && errno != ENOENT)
    r = build_fail(m, errno, "cannot remove %s", dir);
  free(path);
  free(dir);
  return r;
}

static int build_msr_files(sim_machine_t *m) {
  static const char *const dirs[] = {"dev", "dev/cpu"};
  int r = make_dirs(m, dirs, 2);
  if (r != 0)
    return r;
  const sim_cpu_info_t *ci = &m->cpu;
  m->msr_files = calloc(ci->n_cpus, sizeof(*m->msr_files));
  if (m->msr_files == NULL)
    return build_fail(m, ENOMEM, "dev/cpu");
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++)
    m->msr_files[cpu].fd = -1;
  for (size_t cpu = 0; cpu < ci->n_cpus && r == 0; cpu++)
    if (ci->online[cpu]) /* the msr driver has no device for offline CPUs */
      r = msr_file_create(m, cpu);
  return r;
}

int sim_build(sim_machine_t *m, const char *root) {
  const sim_build_opts_t opts = {.powercap = 1, .cpu = 1, .msr_files = 0};
  return sim_build_ex(m, root, &opts);
}

int sim_build_ex(sim_machine_t *m, const char *root,
                 const sim_build_opts_t *opts) {
  if (m == NULL)
    return -EINVAL;
  const sim_build_opts_t defaults = {.powercap = 1, .cpu = 1, .msr_files = 0};
  const sim_build_opts_t *o = opts != NULL ? opts : &defaults;
  m->build_err[0] = '\0';
  close_fds(m);
  free(m->root);
  m->root = NULL;
  /* A new tree is whole: nothing has vanished from it. */
  m->powercap_built = 0;
  m->cpu_built = 0;
  m->all_vanished = 0;
  for (size_t i = 0; i < m->n_zones; i++)
    m->zones[i].vanished = 0;
  if (o->msr_files) {
    if (!m->cpu.present || !m->msr.present)
      return build_fail(m, EINVAL, "msr files need the cpu and msr sections "
                                   "in the machine description");
    if (is_amd_like(m))
      return build_fail(m, EINVAL,
                        "msr files: %s registers 0xC0010299, 0xC001029A and "
                        "0xC001029B are 1 apart, so 8-byte values at those "
                        "offsets of a plain file would overlap; use the FUSE "
                        "device (rapl-sim run --msr fuse)",
                        vendor_ids[m->cpu.vendor]);
  }
  if (root == NULL || root[0] == '\0')
    return build_fail(m, EINVAL, "empty root directory");

  int r = make_dir_p(m, root);
  if (r != 0)
    return r;
  m->root = realpath(root, NULL);
  if (m->root == NULL)
    return build_fail(m, errno, "cannot resolve %s", root);
  if (strcmp(m->root, "/") == 0) {
    free(m->root);
    m->root = NULL;
    return build_fail(m, EINVAL, "refusing to build under /");
  }
  if ((r = make_dir(m, m->root)) != 0) /* chmod 0755 */
    return r;
  if (o->powercap && (r = build_powercap(m)) != 0)
    return r;
  m->powercap_built = o->powercap != 0;
  if (o->cpu && m->cpu.present && (r = build_cpu(m)) != 0)
    return r;
  m->cpu_built = o->cpu && m->cpu.present;
  if (o->msr_files && (r = build_msr_files(m)) != 0)
    return r;
  return 0;
}

const char *sim_build_error(const sim_machine_t *m) {
  return m != NULL ? m->build_err : "";
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

int sim_write_all(sim_machine_t *m) {
  int first = 0;
  for (size_t i = 0; i < m->n_zones; i++) {
    int r = zone_write(m, &m->zones[i], 0);
    if (r != 0 && first == 0)
      first = r;
  }
  if (m->msr_files != NULL)
    for (size_t cpu = 0; cpu < m->cpu.n_cpus; cpu++) {
      int r = msr_file_write(m, cpu, 0);
      if (r != 0 && first == 0)
        first = r;
    }
  return first;
}

/* The start offset that makes a counter at power_uw wrap `seconds` from
 * now: tick count 2^32 - ceil(power * seconds / unit), clamped at 0. */
static uint64_t wrap_start_nj(uint64_t power_uw, uint64_t unit_nj,
                              uint64_t delivered_nj, double seconds) {
  const unsigned __int128 span32 = (unsigned __int128)1 << 32;
  /* ticks needed to wrap: ceil(power * seconds / unit) */
  long double x = 0.0L;
  if (seconds > 0 && seconds - seconds == 0.0)
    x = (long double)power_uw * (long double)seconds * 1000.0L /
        (long double)unit_nj;
  unsigned __int128 ticks; /* tick count wanted right now */
  if (x >= 4294967296.0L) {
    ticks = 0; /* cannot wrap that soon even from 0: clamp */
  } else {
    uint64_t need = (uint64_t)x;
    if ((long double)need < x)
      need++;
    ticks = span32 - need;
  }
  /* total = start + delivered must equal ticks * unit (mod 2^32 ticks). */
  unsigned __int128 total = ticks * unit_nj;
  while (total < delivered_nj)
    total += span32 * unit_nj;
  return (uint64_t)(total - delivered_nj);
}

/* Power of an AMD per-core counter: the package's core zone's, 0 for a
 * core whose threads are all offline. */
static uint64_t core_power_uw(const sim_machine_t *m, const sim_amd_pkg_t *ap,
                              const sim_core_ctr_t *cc) {
  return cc->has_online ? m->zones[ap->core_zone].power_uw : 0;
}

/* The AMD per-core counters that are not a zone (every core but the lead
 * one of each package), as a flat walk: returns the counter after *pos and
 * advances *pos, NULL at the end.  *pkg_out gets its package. */
static sim_core_ctr_t *next_extra_core(const sim_machine_t *m, size_t *pos,
                                       const sim_amd_pkg_t **pkg_out) {
  if (m->amd == NULL)
    return NULL;
  size_t per_pkg = (size_t)m->cpu.dies * m->cpu.cores;
  for (; *pos < (size_t)m->cpu.packages * per_pkg; (*pos)++) {
    const sim_amd_pkg_t *ap = &m->amd[*pos / per_pkg];
    size_t k = *pos % per_pkg;
    if (ap->cores == NULL || k == ap->lead_core)
      continue;
    *pkg_out = ap;
    (*pos)++;
    return &ap->cores[k];
  }
  return NULL;
}

void sim_wrap_in(sim_machine_t *m, double seconds) {
  for (size_t i = 0; i < m->n_zones; i++) {
    sim_zone_t *z = &m->zones[i];
    z->start_nj =
        wrap_start_nj(z->power_uw, z->unit_nj, z->delivered_nj, seconds);
  }
  const sim_amd_pkg_t *ap;
  sim_core_ctr_t *cc;
  for (size_t pos = 0; (cc = next_extra_core(m, &pos, &ap)) != NULL;)
    cc->start_nj = wrap_start_nj(core_power_uw(m, ap, cc),
                                 m->zones[ap->core_zone].unit_nj,
                                 cc->delivered_nj, seconds);
  sim_write_all(m);
}

/* Energy for dt_ns at power_uw, carrying the sub-nJ remainder. */
static int energy_fits(uint64_t power_uw, uint64_t dt_ns, uint64_t carry,
                       uint64_t delivered_nj) {
  unsigned __int128 p = (unsigned __int128)power_uw * dt_ns + carry;
  return p / 1000000 <= UINT64_MAX - delivered_nj;
}

static void energy_add(uint64_t power_uw, uint64_t dt_ns, uint64_t *carry,
                       uint64_t *delivered_nj) {
  unsigned __int128 p = (unsigned __int128)power_uw * dt_ns + *carry;
  *delivered_nj += (uint64_t)(p / 1000000);
  *carry = (uint64_t)(p % 1000000);
}

int sim_advance_ns(sim_machine_t *m, uint64_t dt_ns) {
  for (size_t i = 0; i < m->n_zones; i++) {
    const sim_zone_t *z = &m->zones[i];
    if (!energy_fits(z->power_uw, dt_ns, z->carry, z->delivered_nj))
      return -EOVERFLOW;
  }
  const sim_amd_pkg_t *ap;
  sim_core_ctr_t *cc;
  for (size_t pos = 0; (cc = next_extra_core(m, &pos, &ap)) != NULL;)
    if (!energy_fits(core_power_uw(m, ap, cc), dt_ns, cc->carry,
                     cc->delivered_nj))
      return -EOVERFLOW;
  for (size_t i = 0; i < m->n_zones; i++) {
    sim_zone_t *z = &m->zones[i];
    uint64_t before = z->delivered_nj;
    energy_add(z->power_uw, dt_ns, &z->carry, &z->delivered_nj);
    if (z->stuck) /* the energy is delivered, the counter stays */
      z->start_nj = counter_sub(z, z->delivered_nj - before);
  }
  for (size_t pos = 0; (cc = next_extra_core(m, &pos, &ap)) != NULL;)
    energy_add(core_power_uw(m, ap, cc), dt_ns, &cc->carry, &cc->delivered_nj);
  m->elapsed_ns += dt_ns;
  return sim_write_all(m);
}


/* ------------------------------------------------------------------------ */
/* Faults                                                                    */

/* The zone's regular files are the view: built, not served. */
static int files_live(const sim_machine_t *m, const sim_zone_t *z) {
  return m->powercap_built && !m->served && z->dir != NULL;
}

static const char *zone_ct(const sim_zone_t *z) {
  return z->is_mmio ? SIM_CT_MMIO : SIM_CT_RAPL;
}

#define SIM_GRAVE ".rapl-sim-vanished"

/* Where a directory of the regular-file tree is now: a vanished one sits in
 * ROOT/.rapl-sim-vanished/<name>.  NULL when out of memory. */
static char *ct_phys(const sim_machine_t *m, const char *ct) {
  char *p;
  if (m->all_vanished
          ? asprintf(&p, "%s/" SIM_GRAVE "/%s", m->root, ct) < 0
          : asprintf(&p, "%s/sys/devices/virtual/powercap/%s", m->root, ct) <
                0)
    return NULL;
  return p;
}

static char *zone_phys(const sim_machine_t *m, const sim_zone_t *z) {
  char *p;
  if (z->vanished)
    return asprintf(&p, "%s/" SIM_GRAVE "/%s", m->root, z->link_name) < 0
               ? NULL
               : p;
  char *up = z->parent >= 0 ? zone_phys(m, &m->zones[z->parent])
                            : ct_phys(m, zone_ct(z));
  if (up == NULL)
    return NULL;
  int r = asprintf(&p, "%s/%s", up, z->link_name);
  free(up);
  return r < 0 ? NULL : p;
}

static int zone_ok(const sim_machine_t *m, size_t i) {
  return m != NULL && i < m->n_zones;
}

int sim_zone_set_raw32(sim_machine_t *m, size_t i, uint32_t raw) {
  if (!zone_ok(m, i))
    return -EINVAL;
  sim_zone_t *z = &m->zones[i];
  const uint64_t span = zone_span_nj(z);
  /* keep the sub-tick remainder, replace the tick count mod 2^32 */
  uint64_t rem = (uint64_t)(zone_total_nj(z) % z->unit_nj);
  unsigned __int128 want = (unsigned __int128)raw * z->unit_nj + rem;
  unsigned __int128 v = want + span - z->delivered_nj % span;
  z->start_nj = (uint64_t)(v % span);
  m->build_err[0] = '\0';
  int r = sim_write_all(m);
  return r != 0 ? build_fail(m, -r, "cannot rewrite the counters") : 0;
}

void sim_zone_stick(sim_machine_t *m, size_t i, int on) {
  if (zone_ok(m, i))
    m->zones[i].stuck = on != 0;
}

int sim_zone_stuck(const sim_machine_t *m, size_t i) {
  return zone_ok(m, i) ? m->zones[i].stuck : 0;
}

static const char *const fault_names[] = {
    "none", "eio", "eagain", "enodata", "eacces", "garbage", "empty"};
#define N_FAULTS (sizeof(fault_names) / sizeof(fault_names[0]))

int sim_fault_parse(const char *s, sim_fault_t *fault) {
  for (size_t k = 0; s != NULL && k < N_FAULTS; k++)
    if (strcmp(s, fault_names[k]) == 0) {
      *fault = (sim_fault_t)k;
      return 0;
    }
  return -EINVAL;
}

const char *sim_fault_name(sim_fault_t fault) {
  return (unsigned)fault < N_FAULTS ? fault_names[fault] : NULL;
}

int sim_zone_set_fault(sim_machine_t *m, size_t i, sim_fault_t fault) {
  if (!zone_ok(m, i) || (unsigned)fault >= N_FAULTS)
    return -EINVAL;
  sim_zone_t *z = &m->zones[i];
  if (!m->served && fault != SIM_FAULT_NONE && fault != SIM_FAULT_GARBAGE &&
      fault != SIM_FAULT_EMPTY)
    return -ENOTSUP; /* a regular file cannot fail a read */
  m->build_err[0] = '\0';
  z->fault = fault;
  int r = zone_write(m, z, 0);
  if (r != 0)
    return build_fail(m, -r, "cannot write %s/energy_uj", z->link_name);
  return 0;
}

sim_fault_t sim_zone_fault(const sim_machine_t *m, size_t i) {
  return zone_ok(m, i) ? (sim_fault_t)m->zones[i].fault : SIM_FAULT_NONE;
}

int sim_zone_set_range(sim_machine_t *m, size_t i, sim_range_t mode,
                       uint64_t value_uj) {
  if (!zone_ok(m, i) || (mode != SIM_RANGE_REAL && mode != SIM_RANGE_VALUE &&
                         mode != SIM_RANGE_UNREADABLE))
    return -EINVAL;
  if (mode == SIM_RANGE_UNREADABLE && !m->served)
    return -ENOTSUP;
  sim_zone_t *z = &m->zones[i];
  m->build_err[0] = '\0';
  z->range_mode = mode;
  z->range_uj = mode == SIM_RANGE_VALUE ? value_uj : 0;
  if (!files_live(m, z))
    return 0;
  char *dir = zone_phys(m, z);
  if (dir == NULL)
    return build_fail(m, ENOMEM, "%s", z->link_name);
  int r = write_u64_file(m, dir, "max_energy_range_uj",
                         zone_shown_range_uj(z), 0444);
  free(dir);
  return r;
}

sim_range_t sim_zone_range_mode(const sim_machine_t *m, size_t i) {
  return zone_ok(m, i) ? (sim_range_t)m->zones[i].range_mode
                       : SIM_RANGE_REAL;
}

/* Copy s into buf (NUL-terminated, truncated to len); return strlen(s). */
static int text_out(char *buf, size_t len, const char *s) {
  size_t n = strlen(s);
  if (len > 0) {
    size_t c = n < len ? n : len - 1;
    memcpy(buf, s, c);
    buf[c] = '\0';
  }
  return (int)n;
}

int sim_zone_energy_text(const sim_machine_t *m, size_t i, char *buf,
                         size_t len) {
  if (!zone_ok(m, i))
    return -EINVAL;
  const sim_zone_t *z = &m->zones[i];
  char tmp[32];
  switch ((sim_fault_t)z->fault) {
  case SIM_FAULT_EIO:
    return -EIO;
  case SIM_FAULT_EAGAIN:
    return -EAGAIN;
  case SIM_FAULT_ENODATA:
    return -ENODATA;
  case SIM_FAULT_EACCES:
    return -EACCES;
  case SIM_FAULT_GARBAGE:
    return text_out(buf, len, "garbage\n");
  case SIM_FAULT_EMPTY:
    return text_out(buf, len, "");
  case SIM_FAULT_NONE:
    break;
  }
  snprintf(tmp, sizeof(tmp), "%" PRIu64 "\n", zone_energy_uj(z));
  return text_out(buf, len, tmp);
}

int sim_zone_range_text(const sim_machine_t *m, size_t i, char *buf,
                        size_t len) {
  if (!zone_ok(m, i))
    return -EINVAL;
  const sim_zone_t *z = &m->zones[i];
  if (z->range_mode == SIM_RANGE_UNREADABLE)
    return -EIO;
  char tmp[32];
  snprintf(tmp, sizeof(tmp), "%" PRIu64 "\n", zone_shown_range_uj(z));
  return text_out(buf, len, tmp);
}

/* Move a directory of the regular-file tree (vanish / return). */
static int move_dir(sim_machine_t *m, const char *from, const char *to) {
  if (from == NULL || to == NULL)
    return build_fail(m, ENOMEM, "moving a directory");
  if (rename(from, to) != 0)
    return build_fail(m, errno, "cannot move %s to %s", from, to);
  return 0;
}

static int make_grave(sim_machine_t *m) {
  char *p;
  if (asprintf(&p, "%s/" SIM_GRAVE, m->root) < 0)
    return build_fail(m, ENOMEM, SIM_GRAVE);
  int r = make_dir(m, p);
  free(p);
  return r;
}

int sim_zone_vanish(sim_machine_t *m, size_t i, int gone) {
  if (!zone_ok(m, i))
    return -EINVAL;
  sim_zone_t *z = &m->zones[i];
  gone = gone != 0;
  if (z->vanished == gone)
    return 0;
  m->build_err[0] = '\0';
  int r = 0;
  if (files_live(m, z)) {
    if (gone && (r = make_grave(m)) != 0)
      return r;
    char *from = zone_phys(m, z);
    z->vanished = gone;
    char *to = zone_phys(m, z);
    r = move_dir(m, from, to);
    free(from);
    free(to);
    if (r != 0) {
      z->vanished = !gone;
      return r;
    }
  }
  z->vanished = gone;
  if (gone)
    z->gen++;
  return 0;
}

int sim_powercap_vanish_all(sim_machine_t *m, int gone) {
  if (m == NULL)
    return -EINVAL;
  gone = gone != 0;
  if (m->all_vanished == gone)
    return 0;
  m->build_err[0] = '\0';
  if (m->powercap_built && !m->served && m->root != NULL) {
    const char *cts[2];
    size_t n = 0;
    if (m->has_powercap)
      cts[n++] = SIM_CT_RAPL;
    if (m->has_mmio)
      cts[n++] = SIM_CT_MMIO;
    int r = 0;
    if (gone && n > 0)
      r = make_grave(m);
    for (size_t k = 0; k < n && r == 0; k++) {
      char *from = ct_phys(m, cts[k]);
      m->all_vanished = gone;
      char *to = ct_phys(m, cts[k]);
      m->all_vanished = !gone;
      r = move_dir(m, from, to);
      free(from);
      free(to);
      if (r != 0) { /* put back what was moved */
        while (k-- > 0) {
          m->all_vanished = gone;
          char *a = ct_phys(m, cts[k]);
          m->all_vanished = !gone;
          char *b = ct_phys(m, cts[k]);
          if (a != NULL && b != NULL)
            (void)rename(a, b);
          free(a);
          free(b);
        }
        return r;
      }
    }
  }
  m->all_vanished = gone;
  if (gone)
    m->all_gen++;
  return 0;
}

int sim_zone_vanished(const sim_machine_t *m, size_t i) {
  return zone_ok(m, i) ? m->zones[i].vanished : 0;
}

int sim_powercap_all_vanished(const sim_machine_t *m) {
  return m != NULL ? m->all_vanished : 0;
}

int sim_zone_present(const sim_machine_t *m, size_t i) {
  if (!zone_ok(m, i) || m->all_vanished)
    return 0;
  const sim_zone_t *z = &m->zones[i];
  return !z->vanished && !(z->parent >= 0 && m->zones[z->parent].vanished);
}

unsigned sim_zone_generation(const sim_machine_t *m, size_t i) {
  if (!zone_ok(m, i))
    return 0;
  const sim_zone_t *z = &m->zones[i];
  /* a sum of counters that only grow: changes whenever one of them does */
  return z->gen + (z->parent >= 0 ? m->zones[z->parent].gen : 0) +
         m->all_gen;
}

unsigned sim_powercap_generation(const sim_machine_t *m) {
  return m != NULL ? m->all_gen : 0;
}

void sim_powercap_set_served(sim_machine_t *m, int on) {
  if (m != NULL)
    m->served = on != 0;
}

int sim_powercap_served(const sim_machine_t *m) {
  return m != NULL ? m->served : 0;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */

const char *sim_machine_name(const sim_machine_t *m) { return m->name; }
const char *sim_machine_description(const sim_machine_t *m) {
  return m->description;
}
const char *sim_root(const sim_machine_t *m) { return m->root; }
uint64_t sim_elapsed_ns(const sim_machine_t *m) { return m->elapsed_ns; }
size_t sim_zone_count(const sim_machine_t *m) { return m->n_zones; }

#define ZONE(m, i) (&(m)->zones[(i)])

const char *sim_zone_dir(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->dir : NULL;
}
const char *sim_zone_name(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->name : NULL;
}
const char *sim_zone_parent_name(const sim_machine_t *m, size_t i) {
  if (i >= m->n_zones)
    return NULL;
  const sim_zone_t *z = ZONE(m, i);
  return z->parent >= 0 ? m->zones[z->parent].name : z->name;
}
const char *sim_zone_link_name(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->link_name : NULL;
}
int sim_zone_is_mmio(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->is_mmio : 0;
}
int sim_zone_is_subzone(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->parent >= 0 : 0;
}
uint64_t sim_zone_power_uw(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->power_uw : 0;
}
void sim_zone_set_power_uw(sim_machine_t *m, size_t i, uint64_t power_uw) {
  if (i < m->n_zones)
    ZONE(m, i)->power_uw = power_uw;
}
uint64_t sim_zone_max_range_uj(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? sim_max_range_uj_for_unit(ZONE(m, i)->unit_nj) : 0;
}
uint64_t sim_zone_truth_nj(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->delivered_nj : 0;
}
uint64_t sim_zone_energy_uj(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? zone_energy_uj(ZONE(m, i)) : 0;
}
uint64_t sim_zone_unit_nj(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->unit_nj : 0;
}
uint64_t sim_zone_start_nj(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->start_nj : 0;
}
uint32_t sim_zone_raw32(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? zone_raw32(ZONE(m, i)) : 0;
}
const char *sim_zone_path(const sim_machine_t *m, size_t i) {
  return i < m->n_zones ? ZONE(m, i)->rel_path : NULL;
}
int sim_zone_find(const sim_machine_t *m, const char *link_name, size_t *i) {
  if (m == NULL || link_name == NULL)
    return -ENOENT;
  for (size_t k = 0; k < m->n_zones; k++)
    if (strcmp(m->zones[k].link_name, link_name) == 0) {
      if (i != NULL)
        *i = k;
      return 0;
    }
  return -ENOENT;
}

int sim_has_cpu(const sim_machine_t *m) { return m->cpu.present; }
size_t sim_cpu_count(const sim_machine_t *m) { return m->cpu.n_cpus; }
int sim_cpu_online(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? m->cpu.online[cpu] : 0;
}

/* AMD/Hygon: which cores still have an online thread (a core without one
 * draws no power).  The lead core stays the one chosen at load. */
static void amd_update_online(sim_machine_t *m) {
  if (m->amd == NULL)
    return;
  const sim_cpu_info_t *ci = &m->cpu;
  size_t per_pkg = (size_t)ci->dies * ci->cores;
  for (unsigned p = 0; p < ci->packages; p++)
    if (m->amd[p].cores != NULL)
      for (size_t k = 0; k < per_pkg; k++)
        m->amd[p].cores[k].has_online = 0;
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
    sim_topo_t t = cpu_topo(ci, cpu);
    if (ci->online[cpu] && m->amd[t.pkg].cores != NULL)
      m->amd[t.pkg].cores[topo_core_id(ci, t)].has_online = 1;
  }
}

/* The kernel removes cpuN/topology when the CPU goes offline. */
static int remove_topology(sim_machine_t *m, unsigned cpu) {
  static const char *const files[] = {
      "physical_package_id", "die_id",          "core_id",
      "thread_siblings_list", "core_cpus_list", "die_cpus_list",
      "package_cpus_list",   "core_siblings_list"};
  char *dir;
  if (asprintf(&dir, "%s/sys/devices/system/cpu/cpu%u/topology", m->root,
               cpu) < 0)
    return build_fail(m, ENOMEM, "cpu%u/topology", cpu);
  int r = 0;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && r == 0; i++) {
    char *path;
    if (asprintf(&path, "%s/%s", dir, files[i]) < 0) {
      r = build_fail(m, ENOMEM, "%s", dir);
      break;
    }
    if (unlink(path) != 0 && errno != ENOENT)
      r = build_fail(m, errno, "cannot remove %s", path);
    free(path);
  }
  if (r == 0 && rmdir(dir) != 0 && errno != ENOENT)
    r = build_fail(m, errno, "cannot remove %s", dir);
  free(dir);
  return r;
}

int sim_cpu_set_online(sim_machine_t *m, unsigned cpu, int on) {
  if (m == NULL || !m->cpu.present || cpu >= m->cpu.n_cpus ||
      (cpu == 0 && !on))
    return -EINVAL;
  on = on != 0;
  if (m->cpu.online[cpu] == on)
    return 0;
  m->cpu.online[cpu] = (unsigned char)on;
  amd_update_online(m);
  int r = 0;
  if (m->root != NULL && m->cpu_built) {
    if (!on)
      r = remove_topology(m, cpu);
    if (r == 0)
      r = build_cpu(m); /* lists, cpuN/online, sibling masks, cpuinfo */
  }
  if (r == 0 && m->root != NULL && m->msr_files != NULL)
    r = on ? msr_file_create(m, cpu) : msr_file_remove(m, cpu);
  return r;
}

int sim_cpu_package(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? (int)cpu_topo(&m->cpu, cpu).pkg : -1;
}
int sim_cpu_die(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? (int)cpu_topo(&m->cpu, cpu).die : -1;
}
int sim_cpu_core(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus
             ? (int)topo_core_id(&m->cpu, cpu_topo(&m->cpu, cpu))
             : -1;
}
int sim_cpu_thread(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? (int)cpu_topo(&m->cpu, cpu).thread : -1;
}
const char *sim_cpu_vendor(const sim_machine_t *m) {
  return m->cpu.present ? vendor_ids[m->cpu.vendor] : NULL;
}
unsigned sim_cpu_family(const sim_machine_t *m) { return m->cpu.family; }
unsigned sim_cpu_model(const sim_machine_t *m) { return m->cpu.model; }
unsigned sim_cpu_packages(const sim_machine_t *m) { return m->cpu.packages; }
unsigned sim_cpu_dies_per_package(const sim_machine_t *m) {
  return m->cpu.dies;
}
int sim_has_msr(const sim_machine_t *m) { return m->msr.present; }
uint64_t sim_msr_unit(const sim_machine_t *m) {
  return m->msr.present ? m->msr.unit : 0;
}

static const sim_amd_pkg_t *amd_pkg(const sim_machine_t *m, unsigned package) {
  if (m->amd == NULL || package >= m->cpu.packages ||
      m->amd[package].cores == NULL)
    return NULL;
  return &m->amd[package];
}
size_t sim_amd_core_count(const sim_machine_t *m, unsigned package) {
  return amd_pkg(m, package) != NULL ? (size_t)m->cpu.dies * m->cpu.cores
                                     : 0;
}
uint64_t sim_amd_core_truth_nj(const sim_machine_t *m, unsigned package,
                               size_t core_index) {
  const sim_amd_pkg_t *ap = amd_pkg(m, package);
  if (ap == NULL || core_index >= sim_amd_core_count(m, package))
    return 0;
  if (core_index == ap->lead_core)
    return m->zones[ap->core_zone].delivered_nj;
  return ap->cores[core_index].delivered_nj;
}
uint32_t sim_amd_core_raw32(const sim_machine_t *m, unsigned package,
                            size_t core_index) {
  const sim_amd_pkg_t *ap = amd_pkg(m, package);
  if (ap == NULL || core_index >= sim_amd_core_count(m, package))
    return 0;
  return amd_core_raw32(m, ap, core_index);
}

/* ------------------------------------------------------------------------ */
/* Self-test of the arithmetic                                               */

__attribute__((format(printf, 3, 4))) static int
st_fail(char *err, size_t len, const char *fmt, ...) {
  if (err != NULL && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The MSR model on a tiny AMD machine: unit, offline CPU, unimplemented
 * register, the lead core being the powercap core zone, one counter per
 * core shared by its threads, and 1 s at 2 W advancing each core. */
static int selftest_msr(char *err, size_t err_len) {
  char lerr[256];
  sim_machine_t *m = sim_load_string(
      "machine: selftest-msr\n"
      "cpu: {vendor: AuthenticAMD, family: 0x19, model: 1, model_name: x,\n"
      "      packages: 1, cores_per_die: 2, threads_per_core: 2,\n"
      "      offline: [2]}\n"
      "msr: {unit: 0xA1003}\n"
      "powercap:\n"
      "  - {id: 0, name: package-0, esu: 16, power_w: 100,\n"
      "     zones: [{id: 0, name: core, esu: 16, power_w: 2}]}\n",
      lerr, sizeof(lerr));
  if (m == NULL)
    return st_fail(err, err_len, "loading the built-in MSR machine: %s",
                   lerr);
  int rc = 0;
  uint64_t unit = 0, c0 = 0, c1 = 0, c3 = 0, x = 0, c1b = 0;
  if (sim_msr_read(m, 0, SIM_MSR_AMD_RAPL_POWER_UNIT, &unit) != 0 ||
      unit != 0xA1003)
    rc = st_fail(err, err_len, "AMD unit register: 0x%" PRIx64, unit);
  else if (sim_msr_read(m, 2, SIM_MSR_AMD_RAPL_POWER_UNIT, &x) != -ENXIO)
    rc = st_fail(err, err_len, "offline CPU 2 does not give ENXIO");
  else if (sim_msr_read(m, 0, SIM_MSR_RAPL_POWER_UNIT, &x) != -EIO)
    rc = st_fail(err, err_len, "Intel 0x606 on AMD does not give EIO");
  else if (sim_msr_read(m, 0, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c0) != 0 ||
           sim_msr_read(m, 1, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c1) != 0 ||
           sim_msr_read(m, 3, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c3) != 0 ||
           c0 != sim_zone_raw32(m, 1) || c1 == c0 || c3 != c1)
    rc = st_fail(err, err_len, "per-core counters: cpu0 0x%" PRIx64
                 " (zone 0x%" PRIx32 "), cpu1 0x%" PRIx64 ", cpu3 0x%" PRIx64,
                 c0, sim_zone_raw32(m, 1), c1, c3);
  if (rc == 0) {
    sim_advance_ns(m, 1000000000ULL);
    sim_msr_read(m, 3, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c1b);
    uint32_t ticks = (uint32_t)(c1b - c1); /* 2 J / 15258 nJ = 131078.8 */
    if (ticks != 131078 && ticks != 131079)
      rc = st_fail(err, err_len, "core 1 advanced %" PRIu32 " ticks in 1 s "
                   "at 2 W, want 131078..131079", ticks);
    else if (sim_amd_core_truth_nj(m, 0, 1) != 2000000000ULL)
      rc = st_fail(err, err_len, "core 1 truth %" PRIu64 " nJ, want 2 J",
                   sim_amd_core_truth_nj(m, 0, 1));
  }
  sim_free(m);
  return rc;
}

int sim_selftest(char *err, size_t err_len) {
  static const struct {
    uint64_t unit_nj;
    uint64_t range_uj;
  } known[] = {
      {61035, 262143328850ULL},        /* ESU 14, seen on real machines */
      {15300, 65712999613ULL},         /* fixed DRAM unit, seen */
      {15258, 65532610987ULL},         /* ESU 16 */
      {1000000000, 4294967295000000ULL}, /* SPR psys, 1 J */
  };
  if (sim_unit_nj_from_esu(14) != 61035)
    return st_fail(err, err_len, "esu 14 gives %" PRIu64 " nJ, want 61035",
                   sim_unit_nj_from_esu(14));
  if (sim_unit_nj_from_esu(16) != 15258)
    return st_fail(err, err_len, "esu 16 gives %" PRIu64 " nJ, want 15258",
                   sim_unit_nj_from_esu(16));
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    uint64_t got = sim_max_range_uj_for_unit(known[i].unit_nj);
    if (got != known[i].range_uj)
      return st_fail(err, err_len,
                     "unit %" PRIu64 " nJ: max_energy_range_uj %" PRIu64
                     ", want %" PRIu64,
                     known[i].unit_nj, got, known[i].range_uj);
  }

  /* Counter behaviour: 1/3 W for 3 s in 3000 steps of 1 ms = exactly 1 J,
   * and a wrap 2 s after sim_wrap_in(2). */
  char lerr[256];
  sim_machine_t *m = sim_load_string(
      "machine: selftest\n"
      "powercap:\n"
      "  - {id: 0, name: package-0, esu: 14, power_w: 0.333333}\n"
      "  - {id: 1, name: psys, unit_nj: 1000000000, power_w: 10}\n",
      lerr, sizeof(lerr));
  if (m == NULL)
    return st_fail(err, err_len, "loading the built-in machine: %s", lerr);
  int rc = 0;
  for (int s = 0; s < 3000; s++)
    sim_advance_ns(m, 1000000);
  if (sim_zone_truth_nj(m, 0) != 999999000ULL) /* 0.333333 W * 3 s */
    rc = st_fail(err, err_len, "3000 x 1 ms at 0.333333 W gave %" PRIu64
                 " nJ, want 999999000", sim_zone_truth_nj(m, 0));
  else if (sim_zone_energy_uj(m, 1) != 30000000ULL)
    rc = st_fail(err, err_len, "psys after 3 s at 10 W reads %" PRIu64
                 " uJ, want 30000000", sim_zone_energy_uj(m, 1));
  if (rc == 0) {
    sim_wrap_in(m, 2.0);
    uint64_t before = sim_zone_energy_uj(m, 0);
    sim_advance_ns(m, 1999000000ULL);
    uint64_t mid = sim_zone_energy_uj(m, 0);
    sim_advance_ns(m, 2000000ULL);
    uint64_t after = sim_zone_energy_uj(m, 0);
    if (!(mid > before && after < mid))
      rc = st_fail(err, err_len, "no wrap 2 s after sim_wrap_in(2): %" PRIu64
                   " -> %" PRIu64 " -> %" PRIu64, before, mid, after);
  }
  sim_free(m);
  if (rc != 0)
    return rc;
  return selftest_msr(err, err_len);
}
