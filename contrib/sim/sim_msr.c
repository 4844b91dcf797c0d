/*
 * sim_msr.c - the MSRs (msr: section): which zone each register
 * reads, the checks across cpu:/msr:/powercap:, sim_msr_read, the sparse
 * dev/cpu/N/msr files and the AMD per-core counter accessors
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- msr: the register model --- */

static const char *const msr_keys[] = {"unit", "zero", NULL};

static int msr_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  sim_msr_info_t *mi = arg;
  uint64_t u = 0;
  if (key == 0) {
    if (simi_get_uint(c, v, "msr unit", 0xFFFFFFFFu, &u) != 0)
      return -1;
    mi->unit = u;
    return 0;
  }
  if (simi_expect_type(c, v, YAML_SEQUENCE_NODE, "zero") != 0)
    return -1;
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    yaml_node_t *n = yaml_document_get_node(c->doc, *it);
    if (n == NULL)
      return simi_fail(c, v, "broken document");
    if (mi->n_zero == SIM_MAX_ZERO)
      return simi_fail(c, n, "zero lists more than %d registers", SIM_MAX_ZERO);
    if (simi_get_uint(c, n, "a register", 0xFFFFFFFFu, &u) != 0)
      return -1;
    for (size_t i = 0; i < mi->n_zero; i++)
      if (mi->zero[i] == u)
        return simi_fail(c, n, "register 0x%" PRIX64 " is listed twice", u);
    c->zero_nodes[mi->n_zero] = n;
    mi->zero[mi->n_zero++] = (uint32_t)u;
  }
  return 0;
}

int simi_sec_msr(load_ctx_t *c, yaml_node_t *v) {
  sim_msr_info_t *mi = &c->m->msr;
  c->msr_node = v;
  uint32_t seen;
  if (simi_walk_mapping(c, v, "msr", msr_keys, msr_pair, mi, &seen) != 0)
    return -1;
  if (!(seen & 1u))
    return simi_fail(c, v, "msr is missing required key \"unit\"");
  mi->present = 1;
  return 0;
}

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
    return simi_fail(c, c->cpu_node, "out of memory");
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
        return simi_fail_at(c, z->line, z->col,
                       "zone %s: cpu has %u package(s), 0..%u", z->name,
                       ci->packages, ci->packages - 1);
      int want_die = !amd && ci->dies > 1;
      if (want_die && die < 0)
        return simi_fail_at(c, z->line, z->col,
                       "zone %s: with %u dies per package the kernel names "
                       "Intel zones package-P-die-D", z->name, ci->dies);
      if (!want_die && die >= 0)
        return simi_fail_at(c, z->line, z->col,
                       "zone %s: the kernel adds -die-D only on Intel with "
                       "more than one die per package", z->name);
      if (die >= (long)ci->dies)
        return simi_fail_at(c, z->line, z->col,
                       "zone %s: cpu has %u die(s) per package", z->name,
                       ci->dies);
      if (z->is_mmio)
        continue;
      size_t g = amd ? pkg : pkg * ci->dies + (size_t)(die < 0 ? 0 : die);
      if (m->groups[g].pkg >= 0)
        return simi_fail_at(c, z->line, z->col, "zone %s: a second zone named %s",
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
        return simi_fail_at(c, z->line, z->col,
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
        return simi_fail_at(c, z->line, z->col,
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
    return simi_fail(c, c->cpu_node, "out of memory");
  size_t per_pkg = (size_t)ci->dies * ci->cores;
  for (unsigned p = 0; p < ci->packages; p++) {
    sim_amd_pkg_t *ap = &m->amd[p];
    ap->core_zone = m->groups[p].core;
    if (ap->core_zone < 0)
      continue;
    ap->cores = calloc(per_pkg, sizeof(*ap->cores));
    if (ap->cores == NULL)
      return simi_fail(c, c->cpu_node, "out of memory");
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

int simi_finish_cpu_msr(load_ctx_t *c) {
  sim_machine_t *m = c->m;
  const sim_msr_info_t *mi = &m->msr;
  if (mi->present && !m->cpu.present)
    return simi_fail(c, c->msr_node, "msr needs a cpu section (MSRs are per CPU)");
  if (mi->present) {
    /* A zone with esu reads the unit MSR; one with unit_nj is a fixed-unit
     * domain (DRAM 15.3 uJ on server parts, SPR psys 1 J: REFERENCE.md 2.3). */
    unsigned esu = msr_esu(mi->unit);
    for (size_t i = 0; i < m->n_zones; i++) {
      const sim_zone_t *z = &m->zones[i];
      if (z->esu >= 0 && (unsigned)z->esu != esu)
        return simi_fail_at(c, z->esu_line, z->esu_col,
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
      return simi_fail(c, c->msr_node,
                  "msr: no powercap zone named %s; the package energy "
                  "register reads that zone's counter", want);
    }
  for (size_t i = 0; i < mi->n_zero; i++) {
    uint32_t reg = mi->zero[i];
    long zone = -1;
    if (reg == (amd ? SIM_MSR_AMD_RAPL_POWER_UNIT : SIM_MSR_RAPL_POWER_UNIT))
      return simi_fail(c, c->zero_nodes[i], "0x%" PRIX32 " is the unit register; "
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
      return simi_fail(c, c->zero_nodes[i],
                  "register 0x%" PRIX32 " is listed in zero but reads zone "
                  "%s (%s)", reg, m->zones[zone].link_name,
                  m->zones[zone].name);
  }
  return 0;
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

int simi_msr_file_write(sim_machine_t *m, size_t cpu, int force) {
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

void simi_close_msr_files(sim_machine_t *m) {
  if (m->msr_files == NULL)
    return;
  for (size_t i = 0; i < m->cpu.n_cpus; i++)
    if (m->msr_files[i].fd >= 0)
      close(m->msr_files[i].fd);
  free(m->msr_files);
  m->msr_files = NULL;
}

/* --- dev/cpu/N/msr as sparse regular files --- */

/* ROOT/dev/cpu/<cpu>/msr of an online CPU: created, with the unit, the
 * zero registers and the counters written. */
int simi_msr_file_create(sim_machine_t *m, size_t cpu) {
  char *dir, *path;
  if (asprintf(&dir, "%s/dev/cpu/%zu", m->root, cpu) < 0)
    return simi_build_fail(m, ENOMEM, "dev/cpu/%zu", cpu);
  int r = simi_make_dir(m, dir);
  if (r == 0 && asprintf(&path, "%s/msr", dir) >= 0) {
    sim_msr_file_t *f = &m->msr_files[cpu];
    memset(f->written_valid, 0, sizeof(f->written_valid));
    f->fd = simi_open_for_write(path, O_TRUNC);
    if (f->fd < 0)
      r = simi_build_fail(m, errno, "cannot create %s", path);
    if (r == 0 && (r = pwrite_u64_le(f->fd, m->msr.unit,
                                     SIM_MSR_RAPL_POWER_UNIT)) != 0)
      r = simi_build_fail(m, -r, "cannot write %s", path);
    for (size_t i = 0; i < m->msr.n_zero && r == 0; i++)
      if ((r = pwrite_u64_le(f->fd, 0, m->msr.zero[i])) != 0)
        r = simi_build_fail(m, -r, "cannot write %s", path);
    if (r == 0 && (r = simi_msr_file_write(m, cpu, 1)) != 0)
      r = simi_build_fail(m, -r, "cannot write %s", path);
    if (r == 0 && fchmod(f->fd, 0600) != 0)
      r = simi_build_fail(m, errno, "cannot chmod %s", path);
    free(path);
  } else if (r == 0) {
    r = simi_build_fail(m, ENOMEM, "dev/cpu/%zu/msr", cpu);
  }
  free(dir);
  return r;
}

/* The msr driver removes the device of a CPU going offline. */
int simi_msr_file_remove(sim_machine_t *m, size_t cpu) {
  sim_msr_file_t *f = &m->msr_files[cpu];
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  char *dir, *path = NULL;
  if (asprintf(&dir, "%s/dev/cpu/%zu", m->root, cpu) < 0 ||
      asprintf(&path, "%s/msr", dir) < 0)
    return simi_build_fail(m, ENOMEM, "dev/cpu/%zu", cpu);
  int r = 0;
  if (unlink(path) != 0 && errno != ENOENT)
    r = simi_build_fail(m, errno, "cannot remove %s", path);
  else if (rmdir(dir) != 0 && errno != ENOENT)
    r = simi_build_fail(m, errno, "cannot remove %s", dir);
  free(path);
  free(dir);
  return r;
}

int simi_build_msr_files(sim_machine_t *m) {
  static const char *const dirs[] = {"dev", "dev/cpu"};
  int r = simi_make_dirs(m, dirs, 2);
  if (r != 0)
    return r;
  const sim_cpu_info_t *ci = &m->cpu;
  m->msr_files = calloc(ci->n_cpus, sizeof(*m->msr_files));
  if (m->msr_files == NULL)
    return simi_build_fail(m, ENOMEM, "dev/cpu");
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++)
    m->msr_files[cpu].fd = -1;
  for (size_t cpu = 0; cpu < ci->n_cpus && r == 0; cpu++)
    if (ci->online[cpu]) /* the msr driver has no device for offline CPUs */
      r = simi_msr_file_create(m, cpu);
  return r;
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

