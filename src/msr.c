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
 *
 * CPU hotplug (SPEC 6): when the CPU read goes offline (ENXIO), another
 * online CPU of the same package (die) takes over at once - the same
 * counter, so nothing is re-baselined; a package (die) with no online CPU
 * is a vanished zone (-ENODEV) until rescan() finds a CPU of it again, and
 * then re-baselines it. AMD `core` sums the online cores: a thread going
 * offline hands its core to the sibling thread (same counter), a core
 * leaving or joining the sum re-baselines it. rescan() also appends the
 * zones of a package hot-plugged after open.
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

/* One physical core in an AMD `core` sum. */
typedef struct {
  unsigned cpu;  /* the thread read */
  int die, core; /* which core */
  uint32_t prev; /* its counter at the last good read */
  uint32_t now;  /* scratch for one read */
} core_member_t;

typedef struct {
  rapl_zone_info_t info;
  uint32_t reg;
  int package, die; /* the group read: die 0 where registers are per package */
  unsigned cpu;     /* the CPU read for a single counter */
  /* AMD core: one 32-bit counter per physical core, summed in software */
  bool amd_core;
  core_member_t *cores;
  size_t core_count;
  uint64_t core_sum_ticks;
  bool gone;     /* no online CPU in its group: -ENODEV until rescan() */
  bool reopened; /* the next good read returns RAPL_READ_REOPENED */
} msr_zone_t;

struct rapl_source {
  rapl_msr_access_t access;
  rapl_options_t options;
  rapl_msr_platform_t platform;
  bool multi_die;
  msr_zone_t *zones;
  size_t zone_count, zone_cap;
  char *online; /* the online CPU list at the last full look, or NULL */
  bool look_again; /* the next rescan() looks whatever the list says */
};

/* A package (AMD) or die (Intel) and the CPU that reads it. */
typedef struct {
  int package, die;
  unsigned lead_cpu;
} msr_group_t;

static void free_zones(msr_zone_t *zones, size_t count) {
  for (size_t i = 0; i < count; i++)
    free(zones[i].cores);
  free(zones);
}

static void msr_close(rapl_source_t *source) {
  if (source == NULL)
    return;
  free_zones(source->zones, source->zone_count);
  free(source->online);
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

/* The group (die, or 0 where registers are per package) of a CPU. */
static int group_die(const rapl_source_t *src, const rapl_cpu_topo_t *c) {
  return src->platform.per_die ? c->die : 0;
}

/* Groups the online CPUs by package (and die, where registers are
 * per die); the lead CPU of a group is its first online CPU. */
static size_t make_groups(const rapl_source_t *src, const rapl_topology_t *topo,
                          msr_group_t *groups) {
  size_t n = 0;
  for (size_t i = 0; i < topo->count; i++) {
    const rapl_cpu_topo_t *c = &topo->cpus[i];
    int die = group_die(src, c);
    size_t g = 0;
    while (g < n && !(groups[g].package == c->package && groups[g].die == die))
      g++;
    if (g == n)
      groups[n++] = (msr_group_t){c->package, die, c->cpu};
  }
  return n;
}

static int read_counter(rapl_msr_access_t *access, unsigned cpu, uint32_t reg,
                        uint32_t *value) {
  uint64_t v;
  int err = access->read(access->ctx, cpu, reg, &v);
  if (err == 0)
    *value = (uint32_t)v; /* the counter is bits 31:0 */
  return err;
}

static const core_member_t *find_member(const msr_zone_t *z, int die, int core) {
  for (size_t k = 0; k < z->core_count; k++)
    if (z->cores[k].die == die && z->cores[k].core == core)
      return &z->cores[k];
  return NULL;
}

static bool cpu_online_in(const rapl_topology_t *topo, unsigned cpu) {
  for (size_t i = 0; i < topo->count; i++)
    if (topo->cpus[i].cpu == cpu)
      return true;
  return false;
}

/* The members an AMD `core` sum over z->package has in `topo`: one thread
 * of each physical core with an online thread that opens and reads. A core
 * already summed keeps its thread while that is online, or else hands its
 * count to a sibling thread (the same counter, so its previous reading
 * stays valid); a core new to the sum starts from the value read now.
 * *changed: the set of cores differs from z's. The first open or read
 * error, with its CPU, goes to *err / *err_cpu (that core is left out).
 * 0 or -ENOMEM. */
static int core_members(rapl_source_t *src, const msr_zone_t *z,
                        const rapl_topology_t *topo, core_member_t **out,
                        size_t *count, bool *changed, int *err,
                        unsigned *err_cpu) {
  core_member_t *m = calloc(topo->count + 1, sizeof(*m));
  if (m == NULL)
    return -ENOMEM;
  size_t n = 0, kept = 0;
  *err = 0;
  for (size_t i = 0; i < topo->count; i++) {
    const rapl_cpu_topo_t *c = &topo->cpus[i];
    bool seen = false;
    for (size_t k = 0; k < n && !seen; k++)
      seen = m[k].die == c->die && m[k].core == c->core;
    if (c->package != z->package || seen)
      continue;
    const core_member_t *old = find_member(z, c->die, c->core);
    if (old != NULL && cpu_online_in(topo, old->cpu)) {
      m[n++] = *old;
      kept++;
      continue;
    }
    /* a thread of this core that opens and reads, in CPU order */
    bool found = false;
    for (size_t t = i; t < topo->count && !found; t++) {
      const rapl_cpu_topo_t *th = &topo->cpus[t];
      if (th->package != c->package || th->die != c->die || th->core != c->core)
        continue;
      uint32_t value;
      int e = src->access.open_cpu(src->access.ctx, th->cpu);
      if (e == 0)
        e = read_counter(&src->access, th->cpu, z->reg, &value);
      if (e != 0) {
        if (*err == 0) {
          *err = e;
          *err_cpu = th->cpu;
        }
        continue;
      }
      found = true;
      m[n] = (core_member_t){.cpu = th->cpu, .die = c->die, .core = c->core,
                             .prev = old != NULL ? old->prev : value};
      kept += old != NULL;
      n++;
    }
  }
  *changed = kept != z->core_count || n != kept;
  *out = m;
  *count = n;
  return 0;
}

/* core_refresh() and group_move() take the caller's topology, or load
 * their own when it passes NULL: *topo then points at *loaded, which the
 * caller frees with rapl_topology_free() (harmless when nothing was
 * loaded). 0 or the load's negative errno. */
static int topology_or_load(const rapl_source_t *src,
                            const rapl_topology_t **topo,
                            rapl_topology_t *loaded) {
  if (*topo != NULL)
    return 0;
  char why[256];
  int err = rapl_topology_load(src->options.sysfs_path, loaded, why,
                               sizeof(why));
  if (err != 0)
    return err;
  *topo = loaded;
  return 0;
}

/* Rebuilds an AMD `core` sum from `topo` (loaded here when NULL). A change
 * of the set of cores re-baselines the zone; no core left: it is gone. */
static int core_refresh(rapl_source_t *src, msr_zone_t *z,
                        const rapl_topology_t *topo) {
  rapl_topology_t loaded = {0};
  int load_err = topology_or_load(src, &topo, &loaded);
  if (load_err != 0)
    return load_err;
  core_member_t *m;
  size_t n;
  bool changed;
  int open_err;
  unsigned open_cpu;
  int err = core_members(src, z, topo, &m, &n, &changed, &open_err, &open_cpu);
  rapl_topology_free(&loaded);
  if (err != 0)
    return err;
  if (open_err != 0)
    src->look_again = true; /* an online thread that did not read */
  free(z->cores);
  z->cores = m;
  z->core_count = n;
  if (changed)
    z->reopened = true;
  z->gone = n == 0;
  return 0;
}

/* The CPU reading group (package, die) on from_cpu is offline: moves every
 * single-counter zone read there to the group's first online CPU that
 * opens (the same counter: nothing to re-baseline), or marks them gone
 * when the group has no online CPU. `topo` is loaded here when NULL.
 * 0, or the error of an online CPU that would not open. */
static int group_move(rapl_source_t *src, int package, int die,
                      unsigned from_cpu, const rapl_topology_t *topo) {
  rapl_topology_t loaded = {0};
  int load_err = topology_or_load(src, &topo, &loaded);
  if (load_err != 0)
    return load_err;
  int err = 0;
  bool online = false, found = false;
  unsigned to = 0;
  for (size_t i = 0; i < topo->count && !found; i++) {
    const rapl_cpu_topo_t *c = &topo->cpus[i];
    if (c->package != package || group_die(src, c) != die)
      continue;
    online = true;
    int e = src->access.open_cpu(src->access.ctx, c->cpu);
    if (e == 0) {
      found = true;
      to = c->cpu;
    } else if (err == 0) {
      err = e;
    }
  }
  rapl_topology_free(&loaded);
  for (size_t i = 0; i < src->zone_count; i++) {
    msr_zone_t *z = &src->zones[i];
    if (z->amd_core || z->package != package || z->die != die ||
        z->cpu != from_cpu)
      continue;
    if (found) {
      z->cpu = to;
      z->gone = false; /* its `reopened` stays as it was */
    } else if (!online) {
      z->gone = true;
      z->reopened = true; /* whatever it did while away is unknown */
    }
  }
  if (found || !online)
    return 0;
  src->look_again = true;
  return err;
}

typedef struct {
  rapl_source_t *source;
  const rapl_topology_t *topo;
  char *why;
  size_t why_len;
} build_t;

/* Adds a zone if its domain is wanted and its counter reads non-zero. */
static int add_zone(build_t *b, const msr_group_t *g, enum rapl_domain domain,
                    uint64_t unit_register) {
  rapl_source_t *src = b->source;
  const rapl_msr_platform_t *platform = &src->platform;
  uint32_t reg = rapl_msr_energy_register(platform, domain);
  if (reg == 0 || !src->options.domain_wanted[domain])
    return 0;
  uint32_t probe;
  if (read_counter(&src->access, g->lead_cpu, reg, &probe) != 0 || probe == 0)
    return 0; /* not implemented, or hidden as the kernel does */
  /* one key rule for every zone: with a die once any package has two */
  bool per_die_key = src->multi_die || g->die != 0;
  msr_zone_t z = {.reg = reg, .package = g->package, .die = g->die,
                  .cpu = g->lead_cpu};
  rapl_zone_info_t *info = &z.info;
  if (domain == RAPL_DOMAIN_PSYS)
    snprintf(info->key, sizeof(info->key), "psys");
  else if (per_die_key)
    snprintf(info->key, sizeof(info->key), "package-%d-die-%d", g->package,
             g->die);
  else
    snprintf(info->key, sizeof(info->key), "package-%d", g->package);
  snprintf(info->domain, sizeof(info->domain), "%s", rapl_domain_name(domain));
  info->package_id = g->package;
  info->die_id = per_die_key ? g->die : -1;
  rapl_msr_energy_unit(platform, domain, unit_register,
                       &info->uj_per_unit_num, &info->uj_per_unit_den);
  info->max_power_uw = rapl_plausible_power_cap_uw(domain);
  info->wrap_range = UINT32_MAX; /* largest reading; a wrap: (cur - prev) mod 2^32 */
  info->wrap_energy_uj = rapl_units_to_uj(UINT64_C(1) << 32,
                                          info->uj_per_unit_num,
                                          info->uj_per_unit_den);

  if (platform->amd_registers && domain == RAPL_DOMAIN_CORE) {
    z.amd_core = true;
    bool changed;
    int err;
    unsigned err_cpu = 0;
    if (core_members(src, &z, b->topo, &z.cores, &z.core_count, &changed,
                     &err, &err_cpu) != 0) {
      snprintf(b->why, b->why_len, "out of memory");
      return -ENOMEM;
    }
    if (err != 0) {
      explain_open_error(&src->options, err_cpu, err, b->why, b->why_len);
      free(z.cores);
      return err;
    }
    /* The sum is kept in software and never wraps: wrap_range 0 makes any
     * decrease a reset, and none can happen. */
    info->wrap_range = 0;
  }
  src->zones[src->zone_count++] = z;
  return 0;
}

/* Opens a group's lead CPU, reads its unit register and adds the zones of
 * the wanted domains that read non-zero (psys too when `psys`). */
static int add_group(build_t *b, const msr_group_t *g, bool psys) {
  rapl_source_t *src = b->source;
  unsigned cpu = g->lead_cpu;
  uint32_t unit_reg = rapl_msr_unit_register(&src->platform);
  uint64_t unit;
  int err = src->access.open_cpu(src->access.ctx, cpu);
  if (err != 0) {
    explain_open_error(&src->options, cpu, err, b->why, b->why_len);
    return err;
  }
  if ((err = src->access.read(src->access.ctx, cpu, unit_reg, &unit)) != 0) {
    snprintf(b->why, b->why_len,
             "%s/%u/msr: reading the RAPL unit register 0x%x: %s",
             src->options.msr_device_path, cpu, unit_reg, strerror(-err));
    return err;
  }
  for (unsigned d = RAPL_DOMAIN_PACKAGE; d < RAPL_DOMAIN_PSYS; d++)
    if ((err = add_zone(b, g, (enum rapl_domain)d, unit)) != 0)
      return err;
  /* psys is platform-wide: read once, on the first package */
  if (psys)
    return add_zone(b, g, RAPL_DOMAIN_PSYS, unit);
  return 0;
}

/* Room for `more` zones after the existing ones. 0 or -ENOMEM. */
static int reserve_zones(rapl_source_t *src, size_t more) {
  if (src->zone_count + more <= src->zone_cap)
    return 0;
  size_t cap = src->zone_count + more;
  msr_zone_t *z = realloc(src->zones, cap * sizeof(*z));
  if (z == NULL)
    return -ENOMEM;
  src->zones = z;
  src->zone_cap = cap;
  return 0;
}

int rapl_msr_source_open_with(const rapl_options_t *options,
                              rapl_msr_access_t access, rapl_source_t **out,
                              char *why, size_t why_len) {
  rapl_cpu_id_t id;
  rapl_topology_t topo = {0};
  msr_group_t *groups = NULL;
  char *online = NULL;
  rapl_source_t *src = calloc(1, sizeof(*src));
  if (src == NULL) {
    snprintf(why, why_len, "out of memory");
    access.close(access.ctx);
    return -ENOMEM;
  }
  src->access = access;
  src->options = *options;
  int err = rapl_cpuinfo_load(options->procfs_path, &id, why, why_len);
  if (err != 0)
    goto fail;
  if ((err = rapl_msr_platform_lookup(&id, &src->platform)) != 0) {
    snprintf(why, why_len,
             "unsupported CPU: %s family 0x%x model 0x%x is not in the MSR "
             "model table, so its energy units are unknown (no guess is made)",
             id.vendor_id, id.family, id.model);
    goto fail;
  }
  /* the list first: a CPU coming or going meanwhile shows at rescan() */
  if (rapl_cpu_online_text(options->sysfs_path, &online) != 0)
    online = NULL;
  if ((err = rapl_topology_load(options->sysfs_path, &topo, why, why_len)) != 0)
    goto fail;
  if (topo.count == 0) {
    snprintf(why, why_len, "%s/devices/system/cpu: no online CPU with a topology",
             options->sysfs_path);
    err = -ENOENT;
    goto fail;
  }
  groups = calloc(topo.count, sizeof(*groups));
  if (groups == NULL ||
      reserve_zones(src, topo.count * RAPL_DOMAIN_COUNT + 1) != 0) {
    snprintf(why, why_len, "out of memory");
    err = -ENOMEM;
    goto fail;
  }
  size_t group_count = make_groups(src, &topo, groups);
  for (size_t g = 0; g < group_count; g++)
    src->multi_die = src->multi_die || groups[g].die != 0;

  build_t b = {src, &topo, why, why_len};
  for (size_t g = 0; g < group_count; g++)
    if ((err = add_group(&b, &groups[g], g == 0)) != 0)
      goto fail;
  if (src->zone_count == 0) {
    snprintf(why, why_len, "no RAPL counter of the wanted domains reads "
                           "non-zero on this %s",
             src->platform.name);
    err = -ENOENT;
    goto fail;
  }
  rapl_log(RAPL_LOG_WARNING,
           "reading RAPL energy MSRs directly from %s, because <MSR> Enabled "
           "is true. MSR energy counters expose a power side channel "
           "(CVE-2020-8694/CVE-2020-8695, PLATYPUS): keep the msr devices "
           "root-only. CPU: %s (%s family 0x%x model 0x%x)",
           options->msr_device_path, src->platform.name, id.vendor_id,
           id.family, id.model);
  free(groups);
  rapl_topology_free(&topo);
  src->online = online;
  src->look_again = online == NULL;
  *out = src;
  return 0;

fail:
  free(online);
  free(groups);
  rapl_topology_free(&topo);
  msr_close(src);
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

/* A zone that was gone, or whose AMD core set changed, gives its first
 * good read as a new baseline. */
static int good_read(msr_zone_t *z) {
  if (!z->reopened)
    return 0;
  z->reopened = false;
  return RAPL_READ_REOPENED;
}

static int read_single(rapl_source_t *source, msr_zone_t *z, uint64_t *raw) {
  uint32_t value;
  int err = read_counter(&source->access, z->cpu, z->reg, &value);
  if (err == -ENXIO) { /* that CPU went offline: another one of the group */
    source->look_again = true;
    if ((err = group_move(source, z->package, z->die, z->cpu, NULL)) != 0)
      return err;
    if (z->gone)
      return -ENODEV;
    err = read_counter(&source->access, z->cpu, z->reg, &value);
  }
  if (err != 0)
    return err;
  *raw = value;
  return good_read(z);
}

/* AMD core: every core summed or nothing, so a failed read loses no delta. */
static int read_core_sum(rapl_source_t *source, msr_zone_t *z, uint64_t *raw) {
  for (int attempt = 0;; attempt++) {
    int err = 0;
    for (size_t c = 0; c < z->core_count && err == 0; c++)
      err = read_counter(&source->access, z->cores[c].cpu, z->reg,
                         &z->cores[c].now);
    if (err == 0)
      break;
    if (err != -ENXIO || attempt > 0)
      return err;
    /* a thread went offline: its sibling, or the sum changes */
    source->look_again = true;
    if ((err = core_refresh(source, z, NULL)) != 0)
      return err;
    if (z->gone)
      return -ENODEV;
  }
  uint64_t sum = z->core_sum_ticks;
  for (size_t c = 0; c < z->core_count; c++) {
    sum += (uint32_t)(z->cores[c].now - z->cores[c].prev); /* mod 2^32 */
    z->cores[c].prev = z->cores[c].now;
  }
  if (z->reopened)
    sum = z->core_sum_ticks; /* new members: no delta to add, a baseline */
  z->core_sum_ticks = sum;
  *raw = sum;
  return good_read(z);
}

static int msr_read(rapl_source_t *source, size_t zone, uint64_t *raw) {
  if (zone >= source->zone_count)
    return -EINVAL;
  msr_zone_t *z = &source->zones[zone];
  if (z->gone)
    return -ENODEV; /* until rescan() finds a CPU of its package again */
  return z->amd_core ? read_core_sum(source, z, raw)
                     : read_single(source, z, raw);
}

/* Re-attaches or moves the existing zones to what `topo` has online. */
static int rescan_existing(rapl_source_t *src, const rapl_topology_t *topo) {
  for (size_t i = 0; i < src->zone_count; i++) {
    msr_zone_t *z = &src->zones[i];
    if (z->amd_core) {
      int err = core_refresh(src, z, topo);
      if (err != 0)
        return err;
      continue;
    }
    bool online = false;
    for (size_t k = 0; k < topo->count && !online; k++)
      online = topo->cpus[k].cpu == z->cpu &&
               topo->cpus[k].package == z->package &&
               group_die(src, &topo->cpus[k]) == z->die;
    if (online && (!z->gone ||
                   src->access.open_cpu(src->access.ctx, z->cpu) == 0)) {
      z->gone = false; /* back: `reopened` was set when it went */
      continue;
    }
    if (group_move(src, z->package, z->die, z->cpu, topo) == -ENOMEM)
      return -ENOMEM;
  }
  return 0;
}

/* Appends the zones of the packages (dies) in `topo` that have none. */
static int rescan_new(rapl_source_t *src, const rapl_topology_t *topo) {
  msr_group_t *groups = calloc(topo->count + 1, sizeof(*groups));
  if (groups == NULL)
    return -ENOMEM;
  size_t group_count = make_groups(src, topo, groups);
  int added = 0;
  for (size_t g = 0; g < group_count; g++) {
    bool known = false;
    for (size_t i = 0; i < src->zone_count && !known; i++)
      known = src->zones[i].package == groups[g].package &&
              src->zones[i].die == groups[g].die;
    if (known)
      continue;
    if (reserve_zones(src, RAPL_DOMAIN_COUNT) != 0) {
      free(groups);
      return -ENOMEM;
    }
    char why[512];
    build_t b = {src, topo, why, sizeof(why)};
    size_t before = src->zone_count;
    int err = add_group(&b, &groups[g], false);
    if (err == -ENOMEM) {
      free(groups);
      return err;
    }
    if (err != 0) { /* not ready yet (udev): the zones stay out, retried */
      for (size_t i = before; i < src->zone_count; i++)
        free(src->zones[i].cores);
      src->zone_count = before;
      src->look_again = true;
      continue;
    }
    added += (int)(src->zone_count - before);
  }
  free(groups);
  return added;
}

/* SPEC 4 and 6: re-attaches the packages that were gone, moves zones off
 * offline CPUs, adjusts AMD core sums and appends hot-plugged packages.
 * Cheap when nothing changed: one read of the online CPU list. */
static int msr_rescan(rapl_source_t *source) {
  char *online;
  int err = rapl_cpu_online_text(source->options.sysfs_path, &online);
  if (err != 0)
    return err;
  if (!source->look_again && source->online != NULL &&
      strcmp(online, source->online) == 0) {
    free(online);
    return 0;
  }
  rapl_topology_t topo;
  char why[256];
  if ((err = rapl_topology_load(source->options.sysfs_path, &topo, why,
                                sizeof(why))) != 0) {
    free(online);
    return err;
  }
  source->look_again = false; /* set again by whatever fails below */
  int added = rescan_existing(source, &topo);
  if (added == 0)
    added = rescan_new(source, &topo);
  rapl_topology_free(&topo);
  if (added < 0) {
    free(online);
    source->look_again = true;
    return added;
  }
  free(source->online);
  source->online = online;
  return added;
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
