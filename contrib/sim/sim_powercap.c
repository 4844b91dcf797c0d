/*
 * sim_powercap.c - the powercap zones: their YAML (powercap:, mmio:),
 * the sysfs tree (sys/class/powercap, sys/devices/virtual/powercap), the
 * faults a zone can show, and the zone accessors
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static const char *const constraint_keys[] = {
    "name", "max_power_uw", "power_limit_uw", "time_window_us", NULL};

static int constraint_pair(load_ctx_t *c, size_t key, yaml_node_t *v,
                           void *arg) {
  sim_constraint_t *k = arg;
  switch (key) {
  case 0:
    if (simi_get_string(c, v, "constraint name", &k->name) != 0)
      return -1;
    return simi_check_name(c, v, "constraint name", k->name);
  case 1:
    return simi_get_uint(c, v, "max_power_uw", UINT64_MAX, &k->max_power_uw);
  case 2:
    return simi_get_uint(c, v, "power_limit_uw", UINT64_MAX, &k->power_limit_uw);
  case 3:
    return simi_get_uint(c, v, "time_window_us", UINT64_MAX, &k->time_window_us);
  }
  return -1;
}

static int parse_constraints(load_ctx_t *c, yaml_node_t *seq, sim_zone_t *z) {
  if (simi_expect_type(c, seq, YAML_SEQUENCE_NODE, "constraints") != 0)
    return -1;
  size_t n = (size_t)(seq->data.sequence.items.top -
                      seq->data.sequence.items.start);
  if (n == 0)
    return 0;
  z->constraints = calloc(n, sizeof(*z->constraints));
  if (z->constraints == NULL)
    return simi_fail(c, seq, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item =
        yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
    if (item == NULL)
      return simi_fail(c, seq, "broken document");
    sim_constraint_t *k = &z->constraints[i];
    z->n_constraints = i + 1;
    uint32_t seen;
    if (simi_walk_mapping(c, item, "a constraint", constraint_keys,
                     constraint_pair, k, &seen) != 0)
      return -1;
    for (size_t j = 0; constraint_keys[j] != NULL; j++)
      if (!(seen & (1u << j)))
        return simi_fail(c, item, "constraint is missing required key \"%s\"",
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
    if (simi_get_uint(c, v, "id", INT_MAX, &u) != 0)
      return -1;
    z->id = (unsigned)u;
    return 0;
  case ZK_NAME:
    if (simi_get_string(c, v, "name", &z->name) != 0)
      return -1;
    return simi_check_name(c, v, "name", z->name);
  case ZK_ESU:
    if (simi_get_uint(c, v, "esu", 29, &u) != 0)
      return -1;
    z->esu = (int)u;
    z->esu_line = (size_t)v->start_mark.line + 1;
    z->esu_col = (size_t)v->start_mark.column + 1;
    z->unit_nj = sim_unit_nj_from_esu((unsigned)u);
    return 0;
  case ZK_UNIT_NJ:
    if (simi_get_uint(c, v, "unit_nj", SIM_MAX_UNIT_NJ, &u) != 0)
      return -1;
    if (u == 0)
      return simi_fail(c, v, "unit_nj must be at least 1");
    z->unit_nj = u;
    return 0;
  case ZK_POWER_W:
    if (simi_get_number(c, v, "power_w", SIM_MAX_POWER_W, &d) != 0)
      return -1;
    z->power_uw = (uint64_t)(d * 1e6 + 0.5); /* d >= 0: round */
    return 0;
  case ZK_START_UJ:
    if (simi_get_uint(c, v, "start_uj", UINT64_MAX / 1000, &u) != 0)
      return -1;
    z->start_nj = u * 1000;
    return 0;
  case ZK_CONSTRAINTS:
    return parse_constraints(c, v, z);
  case ZK_ZONES:
    if (a->is_sub)
      return simi_fail(c, v, "a sub-zone cannot have sub-zones");
    if (simi_expect_type(c, v, YAML_SEQUENCE_NODE, "zones") != 0)
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
      simi_fail(c, n, "out of memory");
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
  if (simi_walk_mapping(c, n, what, zone_keys, zone_pair, &a, &seen) != 0)
    return -1;
  static const int required[] = {ZK_ID, ZK_NAME, ZK_POWER_W};
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
    if (!(seen & (1u << required[i])))
      return simi_fail(c, n, "%s is missing required key \"%s\"", what,
                  zone_keys[required[i]]);
  int has_esu = (seen >> ZK_ESU) & 1, has_unit = (seen >> ZK_UNIT_NJ) & 1;
  if (has_esu == has_unit)
    return simi_fail(c, n, "%s needs exactly one of \"esu\" and \"unit_nj\"%s",
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
    return simi_fail(c, n, "out of memory");
  }
  for (size_t i = 0; i < self; i++) {
    const sim_zone_t *o = &c->m->zones[i];
    if (strcmp(o->link_name, z->link_name) == 0)
      return simi_fail(c, n, "duplicate zone id %u: %s is already described at "
                        "line %zu, column %zu", z->id, z->link_name, o->line,
                  o->col);
  }
  if (a.subzones != NULL)
    return parse_zone_list(c, a.subzones, is_mmio, (long)self);
  return 0;
}

static int parse_zone_list(load_ctx_t *c, yaml_node_t *seq, int is_mmio,
                           long parent) {
  if (simi_expect_type(c, seq, YAML_SEQUENCE_NODE,
                  parent >= 0 ? "zones" : (is_mmio ? "mmio" : "powercap")) != 0)
    return -1;
  for (yaml_node_item_t *it = seq->data.sequence.items.start;
       it < seq->data.sequence.items.top; it++) {
    yaml_node_t *n = yaml_document_get_node(c->doc, *it);
    if (n == NULL)
      return simi_fail(c, seq, "broken document");
    if (parse_zone(c, n, is_mmio, parent) != 0)
      return -1;
  }
  return 0;
}

int simi_sec_powercap(load_ctx_t *c, yaml_node_t *v) {
  c->m->has_powercap = 1;
  return parse_zone_list(c, v, 0, -1);
}

int simi_sec_mmio(load_ctx_t *c, yaml_node_t *v) {
  c->m->has_mmio = 1;
  return parse_zone_list(c, v, 1, -1);
}

/* ------------------------------------------------------------------------ */
/* Building the tree                                                         */

/* Files every powercap device has: uevent, power/, subsystem link; and the
 * flat link in sys/class/powercap.  `rel` is relative to
 * sys/devices/virtual/powercap. */
static int build_device_common(sim_machine_t *m, const char *dir,
                               const char *rel, const char *class_name) {
  int r;
  char *p = NULL, *t = NULL;
  if ((r = simi_write_file(m, dir, "uevent", "", 0644)) != 0)
    return r;
  if (asprintf(&p, "%s/power", dir) < 0)
    return simi_build_fail(m, ENOMEM, "%s/power", dir);
  r = simi_make_dir(m, p);
  free(p);
  if (r != 0)
    return r;
  /* sysfs: <dir>/subsystem -> ../(x depth)class/powercap, where the depth
   * counts devices/virtual/powercap plus the components of rel. */
  t = simi_updirs(3 + simi_path_depth(rel), "class/powercap");
  if (t == NULL)
    return simi_build_fail(m, ENOMEM, "%s/subsystem", dir);
  r = simi_link_in(m, dir, "subsystem", t);
  free(t);
  if (r != 0)
    return r;
  if (asprintf(&p, "%s/sys/class/powercap/%s", m->root, class_name) < 0)
    return simi_build_fail(m, ENOMEM, "%s", class_name);
  if (asprintf(&t, "../../devices/virtual/powercap/%s", rel) < 0) {
    free(p);
    return simi_build_fail(m, ENOMEM, "%s", class_name);
  }
  r = simi_make_link(m, t, p);
  free(p);
  free(t);
  return r;
}

static int build_control_type(sim_machine_t *m, const char *ct) {
  char *dir;
  if (asprintf(&dir, "%s/sys/devices/virtual/powercap/%s", m->root, ct) < 0)
    return simi_build_fail(m, ENOMEM, "%s", ct);
  int r = simi_make_dir(m, dir);
  if (r == 0)
    r = simi_write_file(m, dir, "enabled", "1\n", 0644);
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

int simi_zone_write(const sim_machine_t *m, sim_zone_t *z, int force) {
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
  int r = simi_write_all_at(z->fd, buf, (size_t)len);
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
    return simi_build_fail(m, ENOMEM, "%s", z->link_name);
  }
  const char *dir = z->dir;
  if ((r = simi_make_dir(m, dir)) != 0)
    return r;

  char *content;
  if (asprintf(&content, "%s\n", z->name) < 0)
    return simi_build_fail(m, ENOMEM, "%s/name", dir);
  r = simi_write_file(m, dir, "name", content, 0444);
  free(content);
  if (r != 0)
    return r;
  if ((r = simi_write_u64_file(m, dir, "max_energy_range_uj",
                          zone_shown_range_uj(z), 0444)) != 0)
    return r;
  if ((r = simi_write_file(m, dir, "enabled", "1\n", 0644)) != 0)
    return r;

  for (size_t i = 0; i < z->n_constraints; i++) {
    const sim_constraint_t *k = &z->constraints[i];
    char fname[64];
    snprintf(fname, sizeof(fname), "constraint_%zu_name", i);
    if (asprintf(&content, "%s\n", k->name) < 0)
      return simi_build_fail(m, ENOMEM, "%s/%s", dir, fname);
    r = simi_write_file(m, dir, fname, content, 0444);
    free(content);
    if (r != 0)
      return r;
    snprintf(fname, sizeof(fname), "constraint_%zu_max_power_uw", i);
    if ((r = simi_write_u64_file(m, dir, fname, k->max_power_uw, 0444)) != 0)
      return r;
    snprintf(fname, sizeof(fname), "constraint_%zu_power_limit_uw", i);
    if ((r = simi_write_u64_file(m, dir, fname, k->power_limit_uw, 0644)) != 0)
      return r;
    snprintf(fname, sizeof(fname), "constraint_%zu_time_window_us", i);
    if ((r = simi_write_u64_file(m, dir, fname, k->time_window_us, 0644)) != 0)
      return r;
  }

  /* device -> parent device (the control type for top-level zones), in the
   * form sysfs writes it: "../../<parent dir name>". */
  const char *parent_name =
      z->parent >= 0 ? m->zones[z->parent].link_name
                     : (z->is_mmio ? SIM_CT_MMIO : SIM_CT_RAPL);
  char *target = simi_updirs(2, parent_name);
  if (target == NULL)
    return simi_build_fail(m, ENOMEM, "%s/device", dir);
  r = simi_link_in(m, dir, "device", target);
  free(target);
  if (r != 0)
    return r;
  if ((r = build_device_common(m, dir, z->rel_path, z->link_name)) != 0)
    return r;

  /* energy_uj: keep an O_WRONLY fd, rewrite in place from now on. */
  char *path;
  if (asprintf(&path, "%s/energy_uj", dir) < 0)
    return simi_build_fail(m, ENOMEM, "%s/energy_uj", dir);
  z->fd = simi_open_for_write(path, 0);
  if (z->fd < 0) {
    r = simi_build_fail(m, errno, "cannot create %s", path);
  } else {
    z->written_valid = 0;
    r = simi_zone_write(m, z, 1);
    if (r != 0)
      r = simi_build_fail(m, -r, "cannot write %s", path);
    else if (fchmod(z->fd, 0400) != 0)
      r = simi_build_fail(m, errno, "cannot chmod %s", path);
  }
  free(path);
  return r;
}

int simi_build_powercap(sim_machine_t *m) {
  static const char *const dirs[] = {
      "sys", "sys/class", "sys/class/powercap", "sys/devices",
      "sys/devices/virtual", "sys/devices/virtual/powercap"};
  int r = simi_make_dirs(m, dirs, sizeof(dirs) / sizeof(dirs[0]));
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
  return r != 0 ? simi_build_fail(m, -r, "cannot rewrite the counters") : 0;
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
  int r = simi_zone_write(m, z, 0);
  if (r != 0)
    return simi_build_fail(m, -r, "cannot write %s/energy_uj", z->link_name);
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
    return simi_build_fail(m, ENOMEM, "%s", z->link_name);
  int r = simi_write_u64_file(m, dir, "max_energy_range_uj",
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
    return simi_build_fail(m, ENOMEM, "moving a directory");
  if (rename(from, to) != 0)
    return simi_build_fail(m, errno, "cannot move %s to %s", from, to);
  return 0;
}

static int make_grave(sim_machine_t *m) {
  char *p;
  if (asprintf(&p, "%s/" SIM_GRAVE, m->root) < 0)
    return simi_build_fail(m, ENOMEM, SIM_GRAVE);
  int r = simi_make_dir(m, p);
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

