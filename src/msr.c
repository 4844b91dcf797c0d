/* msr.c - the raw RAPL MSR energy source.
 *
 * For kernels without powercap, locked-down containers and hypervisors
 * that hide it, when the operator opts in (<MSR> Enabled true). Follows the
 * kernel's rules: one CPU read per package (per die on Intel, whose RAPL
 * registers are die-scoped); a domain exists when its counter reads and is
 * non-zero (intel_rapl_common.c rapl_check_domain()); units per package
 * from the unit register, with the model table's exceptions. AMD's core
 * counter is per core, so `core` is the sum over one thread of each core -
 * unlike Kepler's EP-002 draft, which summed the package counter once per
 * logical CPU and ignored the DRAM unit.
 */
#include "msr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounting.h"
#include "cpu_topology.h"
#include "msr_model.h"
#include "rapl_log.h"

typedef struct {
  rapl_zone_info_t info;
  uint32_t reg;
  unsigned cpu; /* the CPU read for a single counter */
  /* AMD core: one 32-bit counter per physical core, summed in software */
  unsigned *core_cpus;
  uint32_t *core_prev;
  uint32_t *core_now; /* scratch for one read */
  size_t core_count;
  uint64_t core_sum_ticks;
} msr_zone_t;

struct rapl_source {
  rapl_msr_access_t access;
  msr_zone_t *zones;
  size_t zone_count;
};

/* A package (AMD) or die (Intel) and the CPU that reads it. */
typedef struct {
  int package, die;
  unsigned lead_cpu;
} msr_group_t;

static void free_zones(msr_zone_t *zones, size_t count) {
  for (size_t i = 0; i < count; i++) {
    free(zones[i].core_cpus);
    free(zones[i].core_prev);
    free(zones[i].core_now);
  }
  free(zones);
}

static void msr_close(rapl_source_t *source) {
  if (source == NULL)
    return;
  free_zones(source->zones, source->zone_count);
  source->access.close(source->access.ctx);
  free(source);
}

/* The operator-facing reason an MSR device could not be opened. */
static void explain_open_error(const rapl_options_t *options, unsigned cpu,
                               int err, char *why, size_t why_len) {
  const char *dir = options->msr_device_path;
  if (err == -ENOENT || err == -ENXIO) {
    if (access(dir, F_OK) != 0)
      snprintf(why, why_len,
               "%s: not present: the msr driver is not loaded (modprobe msr; "
               "at boot: contrib/msr/modules-load.d/msr.conf)",
               dir);
    else
      snprintf(why, why_len, "%s/%u/msr: not present (CPU %u has no msr device)",
               dir, cpu, cpu);
  } else if (err == -EACCES || err == -EPERM) {
    if (!rapl_msr_have_rawio())
      snprintf(why, why_len,
               "%s/%u/msr: permission denied: reading MSRs needs the "
               "CAP_SYS_RAWIO capability, which this collectd lacks (run it "
               "as root with CAP_SYS_RAWIO; systemd drop-in: "
               "contrib/msr/systemd/rapl-msr.conf)",
               dir, cpu);
    else
      snprintf(why, why_len,
               "%s/%u/msr: permission denied by the file's mode (the msr "
               "device is root-only: run collectd as root)",
               dir, cpu);
  } else {
    snprintf(why, why_len, "%s/%u/msr: %s", dir, cpu, strerror(-err));
  }
}

/* Groups the online CPUs by package (and die, where registers are
 * per die); the lead CPU of a group is its first online CPU. */
static size_t make_groups(const rapl_topology_t *topo, bool per_die,
                          msr_group_t *groups) {
  size_t n = 0;
  for (size_t i = 0; i < topo->count; i++) {
    const rapl_cpu_topo_t *c = &topo->cpus[i];
    int die = per_die ? c->die : 0;
    size_t g = 0;
    while (g < n && !(groups[g].package == c->package && groups[g].die == die))
      g++;
    if (g == n)
      groups[n++] = (msr_group_t){c->package, die, c->cpu};
  }
  return n;
}

/* One thread of each physical core of `package`, for AMD's core counter. */
static size_t core_threads(const rapl_topology_t *topo, int package,
                           unsigned *cpus) {
  size_t n = 0;
  for (size_t i = 0; i < topo->count; i++) {
    const rapl_cpu_topo_t *c = &topo->cpus[i];
    if (c->package != package)
      continue;
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++)
      seen = topo->cpus[k].package == package &&
             topo->cpus[k].die == c->die && topo->cpus[k].core == c->core;
    if (!seen)
      cpus[n++] = c->cpu;
  }
  return n;
}

typedef struct {
  const rapl_options_t *options;
  rapl_source_t *source;
  const rapl_msr_platform_t *platform;
  const rapl_topology_t *topo;
  char *why;
  size_t why_len;
} build_t;

static int read_counter(rapl_msr_access_t *access, unsigned cpu, uint32_t reg,
                        uint32_t *value) {
  uint64_t v;
  int err = access->read(access->ctx, cpu, reg, &v);
  if (err == 0)
    *value = (uint32_t)v; /* the counter is bits 31:0 */
  return err;
}

/* Adds a zone if its domain is wanted and its counter reads non-zero. */
static int add_zone(build_t *b, const msr_group_t *g, bool multi_die,
                    enum rapl_domain domain, uint64_t unit_register) {
  rapl_source_t *src = b->source;
  uint32_t reg = rapl_msr_energy_register(b->platform, domain);
  if (reg == 0 || !b->options->domain_wanted[domain])
    return 0;
  uint32_t probe;
  if (read_counter(&src->access, g->lead_cpu, reg, &probe) != 0 || probe == 0)
    return 0; /* not implemented, or hidden as the kernel does */
  msr_zone_t z = {.reg = reg, .cpu = g->lead_cpu};
  rapl_zone_info_t *info = &z.info;
  if (domain == RAPL_DOMAIN_PSYS)
    snprintf(info->key, sizeof(info->key), "psys");
  else if (multi_die)
    snprintf(info->key, sizeof(info->key), "package-%d-die-%d", g->package,
             g->die);
  else
    snprintf(info->key, sizeof(info->key), "package-%d", g->package);
  snprintf(info->domain, sizeof(info->domain), "%s", rapl_domain_name(domain));
  info->package_id = g->package;
  info->die_id = multi_die ? g->die : -1;
  rapl_msr_energy_unit(b->platform, domain, unit_register,
                       &info->uj_per_unit_num, &info->uj_per_unit_den);
  info->max_power_uw = rapl_plausible_power_cap_uw(domain);
  info->wrap_range = UINT32_MAX; /* largest reading; a wrap: (cur - prev) mod 2^32 */
  info->wrap_energy_uj = rapl_units_to_uj(UINT64_C(1) << 32,
                                          info->uj_per_unit_num,
                                          info->uj_per_unit_den);

  if (b->platform->amd_registers && domain == RAPL_DOMAIN_CORE) {
    z.core_cpus = calloc(b->topo->count, sizeof(*z.core_cpus));
    z.core_prev = calloc(b->topo->count, sizeof(*z.core_prev));
    z.core_now = calloc(b->topo->count, sizeof(*z.core_now));
    if (z.core_cpus == NULL || z.core_prev == NULL || z.core_now == NULL) {
      free(z.core_cpus), free(z.core_prev), free(z.core_now);
      return -ENOMEM;
    }
    z.core_count = core_threads(b->topo, g->package, z.core_cpus);
    for (size_t c = 0; c < z.core_count; c++) {
      int err = src->access.open_cpu(src->access.ctx, z.core_cpus[c]);
      if (err == 0)
        err = read_counter(&src->access, z.core_cpus[c], reg, &z.core_prev[c]);
      if (err != 0) {
        explain_open_error(b->options, z.core_cpus[c], err, b->why, b->why_len);
        free(z.core_cpus), free(z.core_prev), free(z.core_now);
        return err;
      }
    }
    /* The sum is kept in software and never wraps: wrap_range 0 makes any
     * decrease a reset, and none can happen. */
    info->wrap_range = 0;
  }
  src->zones[src->zone_count++] = z;
  return 0;
}

int rapl_msr_source_open_with(const rapl_options_t *options,
                              rapl_msr_access_t access, rapl_source_t **out,
                              char *why, size_t why_len) {
  rapl_cpu_id_t id;
  rapl_msr_platform_t platform;
  rapl_topology_t topo = {0};
  msr_group_t *groups = NULL;
  rapl_source_t *src = NULL;
  int err = rapl_cpuinfo_load(options->procfs_path, &id, why, why_len);
  if (err != 0)
    goto fail;
  if ((err = rapl_msr_platform_lookup(&id, &platform)) != 0) {
    snprintf(why, why_len,
             "unsupported CPU: %s family 0x%x model 0x%x is not in the MSR "
             "model table, so its energy units are unknown (no guess is made)",
             id.vendor_id, id.family, id.model);
    goto fail;
  }
  if ((err = rapl_topology_load(options->sysfs_path, &topo, why, why_len)) != 0)
    goto fail;
  if (topo.count == 0) {
    snprintf(why, why_len, "%s/devices/system/cpu: no online CPU with a topology",
             options->sysfs_path);
    err = -ENOENT;
    goto fail;
  }
  groups = calloc(topo.count, sizeof(*groups));
  src = calloc(1, sizeof(*src));
  /* at most one zone per domain and group, plus psys */
  if (groups != NULL && src != NULL)
    src->zones = calloc(topo.count * RAPL_DOMAIN_COUNT + 1, sizeof(*src->zones));
  if (groups == NULL || src == NULL || src->zones == NULL) {
    snprintf(why, why_len, "out of memory");
    err = -ENOMEM;
    goto fail;
  }
  src->access = access;
  size_t group_count = make_groups(&topo, platform.per_die, groups);
  bool multi_die = false;
  for (size_t g = 0; g < group_count; g++)
    multi_die = multi_die || groups[g].die != 0;

  build_t b = {options, src, &platform, &topo, why, why_len};
  for (size_t g = 0; g < group_count; g++) {
    unsigned cpu = groups[g].lead_cpu;
    uint64_t unit;
    if ((err = access.open_cpu(access.ctx, cpu)) != 0) {
      explain_open_error(options, cpu, err, why, why_len);
      goto fail;
    }
    if ((err = access.read(access.ctx, cpu, rapl_msr_unit_register(&platform),
                           &unit)) != 0) {
      snprintf(why, why_len, "%s/%u/msr: reading the RAPL unit register 0x%x: %s",
               options->msr_device_path, cpu, rapl_msr_unit_register(&platform),
               strerror(-err));
      goto fail;
    }
    for (unsigned d = RAPL_DOMAIN_PACKAGE; d < RAPL_DOMAIN_PSYS; d++)
      if ((err = add_zone(&b, &groups[g], multi_die, (enum rapl_domain)d, unit)) != 0)
        goto fail;
    /* psys is platform-wide: read once, on the first package */
    if (g == 0 && (err = add_zone(&b, &groups[g], multi_die, RAPL_DOMAIN_PSYS,
                                  unit)) != 0)
      goto fail;
  }
  if (src->zone_count == 0) {
    snprintf(why, why_len, "no RAPL counter of the wanted domains reads "
                           "non-zero on this %s",
             platform.name);
    err = -ENOENT;
    goto fail;
  }
  rapl_log(RAPL_LOG_WARNING,
           "reading RAPL energy MSRs directly from %s, because <MSR> Enabled "
           "is true. MSR energy counters expose a power side channel "
           "(CVE-2020-8694/CVE-2020-8695, PLATYPUS): keep the msr devices "
           "root-only. CPU: %s (%s family 0x%x model 0x%x)",
           options->msr_device_path, platform.name, id.vendor_id, id.family,
           id.model);
  free(groups);
  rapl_topology_free(&topo);
  *out = src;
  return 0;

fail:
  if (src != NULL) {
    free_zones(src->zones, src->zone_count);
    free(src);
  }
  access.close(access.ctx);
  free(groups);
  rapl_topology_free(&topo);
  return err;
}

static int msr_open(const rapl_options_t *options, rapl_source_t **out,
                    char *why, size_t why_len) {
  rapl_msr_access_t access;
  if (rapl_msr_device_access(options->msr_device_path, &access) != 0) {
    snprintf(why, why_len, "out of memory");
    return -ENOMEM;
  }
  return rapl_msr_source_open_with(options, access, out, why, why_len);
}

static size_t msr_zone_count(const rapl_source_t *source) {
  return source->zone_count;
}

static const rapl_zone_info_t *msr_zone_info(const rapl_source_t *source,
                                             size_t zone) {
  return zone < source->zone_count ? &source->zones[zone].info : NULL;
}

static int msr_read(rapl_source_t *source, size_t zone, uint64_t *raw) {
  if (zone >= source->zone_count)
    return -EINVAL;
  msr_zone_t *z = &source->zones[zone];
  if (z->core_count == 0) {
    uint32_t value;
    int err = read_counter(&source->access, z->cpu, z->reg, &value);
    if (err == 0)
      *raw = value;
    return err;
  }
  /* AMD core: all cores or nothing, so a failed read loses no delta */
  for (size_t c = 0; c < z->core_count; c++) {
    int err = read_counter(&source->access, z->core_cpus[c], z->reg,
                           &z->core_now[c]);
    if (err != 0)
      return err;
  }
  uint64_t sum = z->core_sum_ticks;
  for (size_t c = 0; c < z->core_count; c++) {
    sum += (uint32_t)(z->core_now[c] - z->core_prev[c]); /* mod 2^32 */
    z->core_prev[c] = z->core_now[c];
  }
  z->core_sum_ticks = sum;
  *raw = sum;
  return 0;
}

/* Not yet: zones appearing or returning are handled in read(). */
static int msr_rescan(rapl_source_t *source) {
  (void)source;
  return 0;
}

const rapl_source_ops_t rapl_msr_source = {
    .name = "rapl-msr",
    .open = msr_open,
    .zone_count = msr_zone_count,
    .zone_info = msr_zone_info,
    .read = msr_read,
    .rescan = msr_rescan,
    .close = msr_close,
};
