/* meter.c - see meter.h. */
#include "meter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounting.h"
#include "cgroup_meter.h"
#include "clock.h"
#include "cpu_activity.h"
#include "episode.h"
#include "rapl_log.h"

/* A counter unchanged this long is reported once as stuck (RAPL counters
 * move every millisecond while anything is powered). */
#define STUCK_AFTER_NS (UINT64_C(30) * RAPL_NS_PER_S)
/* Zones that appear after start are found within this (SPEC 4). */
#define RESCAN_WITHIN_NS (UINT64_C(60) * RAPL_NS_PER_S)
/* No sampling faster than this, whatever a zone claims about its wrap:
 * a bogus tiny range must not make the read thread spin. The finest real
 * counter (65.5 kJ at the 2 kW cap) needs 16 s. */
#define MIN_SAFE_PERIOD_NS RAPL_NS_PER_S

/* Active/idle split of one energy total (SPEC 4): each sample's energy is
 * split by the busy ratio of the CPUs behind it over that sample, so
 * active + idle is exactly the energy split so far. */
typedef struct {
  rapl_cpu_set_t cpus;
  bool ready;         /* split once: before that nothing is dispatched */
  uint64_t split_uj;  /* energy split so far: the total at the latest split */
  uint64_t active_uj; /* of which active; idle = split_uj - active_uj */
  rapl_power_t power_active, power_idle;
  uint64_t busy_ticks, total_ticks; /* since the last values: the gauge */
  double last_ratio;
  /* "<domain>-active", "<domain>-idle": made when the zone or total is
   * booked, not at every read */
  char active_name[RAPL_VALUE_NAME_LEN], idle_name[RAPL_VALUE_NAME_LEN];
} split_t;

typedef struct {
  const rapl_zone_info_t *info;
  rapl_counter_t counter;
  rapl_power_t power;
  uint64_t power_epoch; /* counter.epoch of the power's baseline */
  split_t split;
  /* this sample's read */
  int rc;
  uint64_t raw;
  uint64_t rc_ns;
  bool vanished_now; /* its first read this sample found it gone */
  int read_error;   /* the latest read's error; 0: it read */
  rapl_episode_t read_problem, reset_problem, stuck_problem;
  uint64_t read_ns; /* when the latest good read was taken */
  uint64_t changed_ns; /* when the counter last moved */
  bool stuck;
  /* worked out at booking, so that a read compares no names: */
  bool ratio_owner;   /* the first zone of its key: it dispatches the ratio */
  size_t total_index; /* meter->totals[] of its domain */
} zone_state_t;


/* `total`: one domain summed over every zone that has it. Its power
 * starts afresh whenever a member's epoch moves or a member joins: the
 * sum of the members' epochs and their number say so without any flag
 * to remember. */
typedef struct {
  char domain[RAPL_DOMAIN_NAME_LEN];
  rapl_power_t power;
  uint64_t epoch_sum;
  size_t members;
  split_t split; /* over every CPU */
} total_state_t;

struct rapl_meter {
  rapl_options_t options;
  const rapl_source_ops_t *ops;
  rapl_source_t *source;
  zone_state_t *zones;
  size_t zone_count;
  total_state_t *totals;
  size_t total_count;
  rapl_value_t *values;
  size_t value_count;
  size_t value_capacity;
  char gauge_name[RAPL_VALUE_NAME_LEN]; /* "meter-<source>", made at adopt */
  bool any_gone;          /* a zone was gone at the latest sample */
  uint64_t rescan_ns;     /* latest rescan (0: none yet) */
  uint64_t sample_ns;     /* latest sample */
  /* ActiveIdle: CPU topology (reloaded at a rescan that finds the online
   * CPU list changed) and the /proc/stat snapshots of the previous and
   * this sample */
  rapl_topology_t topo;
  rapl_cpu_ticks_t cpu_ticks; /* topo indexed by die, summed per sample */
  bool topo_loaded;
  char *topo_online; /* cpu/online when topo was loaded; NULL: reload */
  rapl_cpu_snapshot_t stat_prev, stat_now;
  bool have_stat_prev;
  rapl_episode_t stat_problem;
  /* Cgroups (SPEC 9): the books, opened at start when globs are set */
  rapl_cgroup_books_t *cgroups;
  uint64_t clk_tck; /* /proc/stat ticks per second */
};

/* The implementation of each source; NULL: not in this version yet. */
static const rapl_source_ops_t *source_ops(rapl_source_kind_t kind) {
  switch (kind) {
  case RAPL_SOURCE_POWERCAP:
    return &rapl_powercap_source;
  case RAPL_SOURCE_MSR:
    return &rapl_msr_source;
  case RAPL_SOURCE_HWMON:
    return &rapl_hwmon_source;
  default:
    return NULL;
  }
}

rapl_meter_t *rapl_meter_new(const rapl_options_t *options) {
  rapl_meter_t *meter = calloc(1, sizeof(*meter));
  if (meter != NULL)
    meter->options = *options;
  return meter;
}

static void stop(rapl_meter_t *meter) {
  if (meter->ops != NULL)
    meter->ops->close(meter->source);
  free(meter->zones);
  free(meter->totals);
  free(meter->values);
  meter->ops = NULL;
  meter->source = NULL;
  meter->zones = NULL;
  meter->totals = NULL;
  meter->values = NULL;
  meter->zone_count = meter->total_count = meter->value_capacity = 0;
  meter->any_gone = false;
  meter->rescan_ns = meter->sample_ns = 0;
  rapl_topology_free(&meter->topo);
  rapl_cpu_ticks_free(&meter->cpu_ticks);
  free(meter->topo_online);
  meter->topo_online = NULL;
  rapl_cpu_snapshot_free(&meter->stat_prev);
  rapl_cpu_snapshot_free(&meter->stat_now);
  meter->topo_loaded = meter->have_stat_prev = false;
  rapl_cgroup_books_free(meter->cgroups);
  meter->cgroups = NULL;
}

/* Room in the values for every zone and total (energy, power, active and
 * idle energy and power, the busy ratio: 14 per zone covers both), the
 * meter gauge and the cgroups' energy and power per domain. Grown at
 * start and rescan only: a read never allocates. */
static int size_values(rapl_meter_t *meter) {
  size_t need = 14 * meter->zone_count + 1;
  if (meter->cgroups != NULL)
    need += rapl_cgroup_books_max_values(meter->cgroups);
  if (need <= meter->value_capacity)
    return 0;
  rapl_value_t *values = realloc(meter->values, need * sizeof(*values));
  if (values == NULL)
    return -ENOMEM;
  meter->values = values;
  meter->value_capacity = need;
  return 0;
}

void rapl_meter_free(rapl_meter_t *meter) {
  if (meter == NULL)
    return;
  stop(meter);
  free(meter);
}

const char *rapl_meter_source(const rapl_meter_t *meter) {
  return meter->ops ? meter->ops->name : NULL;
}

static void name_split(split_t *split, const char *domain) {
  snprintf(split->active_name, sizeof(split->active_name), "%s-active", domain);
  snprintf(split->idle_name, sizeof(split->idle_name), "%s-idle", domain);
}

static total_state_t *find_total(rapl_meter_t *meter, const char *domain) {
  for (size_t i = 0; i < meter->total_count; i++)
    if (strcmp(meter->totals[i].domain, domain) == 0)
      return &meter->totals[i];
  return NULL;
}

/* Makes room for the source's zones (n of them now), re-fetches every
 * zone's info (a rescan may move them) and books the new ones. */
static int book_zones(rapl_meter_t *meter) {
  size_t n = meter->ops->zone_count(meter->source), old = meter->zone_count;
  if (n > old) {
    zone_state_t *zones = realloc(meter->zones, n * sizeof(*zones));
    if (zones == NULL)
      return -ENOMEM;
    meter->zones = zones;
    memset(&zones[old], 0, (n - old) * sizeof(*zones));
    total_state_t *totals = realloc(meter->totals, n * sizeof(*totals));
    if (totals == NULL)
      return -ENOMEM;
    meter->totals = totals;
    memset(&totals[meter->total_count], 0,
           (n - meter->total_count) * sizeof(*totals));
  }
  for (size_t i = 0; i < n; i++) {
    zone_state_t *z = &meter->zones[i];
    z->info = meter->ops->zone_info(meter->source, i);
    if (i < old)
      continue;
    rapl_counter_init(&z->counter, z->info->wrap_range,
                      z->info->uj_per_unit_num, z->info->uj_per_unit_den,
                      z->info->max_power_uw);
    /* a package (or die) zone's CPUs are that package's; psys, hwmon
     * zones that are not a package, and totals use every CPU (SPEC 4) */
    bool package = strncmp(z->info->key, "package-", 8) == 0;
    z->split.cpus = (rapl_cpu_set_t){package ? z->info->package_id : -1,
                                     package ? z->info->die_id : -1};
    name_split(&z->split, z->info->domain);
    if (find_total(meter, z->info->domain) == NULL) {
      total_state_t *total = &meter->totals[meter->total_count++];
      snprintf(total->domain, sizeof(total->domain), "%s", z->info->domain);
      total->split.cpus = (rapl_cpu_set_t){-1, -1};
      name_split(&total->split, total->domain);
    }
  }
  meter->zone_count = n;
  /* one busy ratio per key (the dies' zones of one package share it), and
   * each zone's total: names are compared here, never at a read. Only for
   * the new zones: zones and totals are only ever appended, so the older
   * ones' answers stand (a rescan that adds nothing compares nothing). */
  for (size_t i = old; i < n; i++) {
    zone_state_t *z = &meter->zones[i];
    z->ratio_owner = true;
    for (size_t k = 0; k < i && z->ratio_owner; k++)
      z->ratio_owner = strcmp(meter->zones[k].info->key, z->info->key) != 0;
    z->total_index = (size_t)(find_total(meter, z->info->domain) - meter->totals);
  }
  return size_values(meter);
}

/* Sets up the books for the zones of a freshly opened source. */
static int adopt(rapl_meter_t *meter, const rapl_source_ops_t *ops,
                 rapl_source_t *source) {
  meter->ops = ops;
  meter->source = source;
  snprintf(meter->gauge_name, sizeof(meter->gauge_name), "meter-%s", ops->name);
  if (book_zones(meter) != 0) {
    stop(meter);
    return -ENOMEM;
  }
  char list[512] = "";
  size_t len = 0;
  for (size_t i = 0; i < meter->zone_count; i++) {
    const rapl_zone_info_t *info = meter->zones[i].info;
    if (len < sizeof(list))
      len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s/%s",
                              i ? ", " : "", info->key, info->domain);
  }
  rapl_log(RAPL_LOG_INFO, "using %s, %zu zones: %s", ops->name,
           meter->zone_count, list);
  return 0;
}

/* Cgroups asked for (SPEC 9): the set is opened and listed with the
 * source, so that a CgroupPath that is not a cgroup v2 root fails the
 * start with one line naming it rather than running without what was
 * asked. */
static int start_cgroups(rapl_meter_t *meter, char *why, size_t why_len) {
  if (meter->options.cgroup_glob_count == 0)
    return 0;
  long tck = sysconf(_SC_CLK_TCK);
  meter->clk_tck = tck > 0 ? (uint64_t)tck : 100;
  meter->cgroups = rapl_cgroup_books_open(&meter->options, why, why_len);
  if (meter->cgroups == NULL) {
    stop(meter);
    return -1;
  }
  if (rapl_cgroup_books_rescan(meter->cgroups, meter->total_count) != 0 ||
      size_values(meter) != 0) {
    stop(meter);
    snprintf(why, why_len, "Cgroups: out of memory");
    return -1;
  }
  rapl_log(RAPL_LOG_INFO, "energy per cgroup: %zu cgroups match under %s",
           rapl_cgroup_books_count(meter->cgroups), meter->options.cgroup_path);
  return 0;
}

int rapl_meter_start(rapl_meter_t *meter, char *why, size_t why_len) {
  if (meter->ops != NULL)
    return 0;
  int len = snprintf(why, why_len, "no energy source available:");
  rapl_source_kind_t order[RAPL_SOURCE_COUNT];
  size_t count = rapl_options_source_order(&meter->options, order);
  for (size_t i = 0; i < count; i++) {
    const rapl_source_ops_t *ops = source_ops(order[i]);
    char reason[1024];
    if (order[i] == RAPL_SOURCE_MSR && !meter->options.msr_enabled) {
      /* never without the operator's explicit opt-in (CVE-2020-8694) */
      snprintf(reason, sizeof(reason),
               "disabled (raw MSR reading is opt-in: <MSR> Enabled true)");
    } else if (ops == NULL) {
      snprintf(reason, sizeof(reason), "not supported by this version yet");
    } else {
      rapl_source_t *source = NULL;
      int err = ops->open(&meter->options, &source, reason, sizeof(reason));
      if (err == 0) {
        err = adopt(meter, ops, source);
        if (err == 0)
          return start_cgroups(meter, why, why_len);
        snprintf(reason, sizeof(reason), "%s", strerror(-err));
      }
    }
    if (len > 0 && (size_t)len < why_len)
      len += snprintf(why + len, why_len - (size_t)len, " %s: %s.",
                      rapl_source_kind_name(order[i]), reason);
  }
  return -1;
}

static rapl_value_t *push(rapl_meter_t *meter, rapl_value_kind_t kind,
                          const char *zone, const char *name) {
  if (meter->value_count == meter->value_capacity)
    return NULL; /* cannot happen: capacity is sized for every value */
  rapl_value_t *v = &meter->values[meter->value_count++];
  *v = (rapl_value_t){.kind = kind, .zone = zone, .name = name};
  return v;
}

/* Pushes an energy value and, from the second point on, its power; true
 * when the power was pushed. */
static bool push_energy_and_power(rapl_meter_t *meter, const char *zone,
                                  const char *domain, uint64_t total_uj,
                                  rapl_power_t *power, uint64_t now_ns) {
  rapl_value_t *energy = push(meter, RAPL_VALUE_ENERGY, zone, domain);
  if (energy != NULL)
    energy->joules = rapl_uj_to_joules(total_uj);
  double watts;
  if (!rapl_power_update(power, total_uj, now_ns, &watts))
    return false;
  rapl_value_t *p = push(meter, RAPL_VALUE_POWER, zone, domain);
  if (p != NULL)
    p->value = watts;
  return true;
}

/* The active/idle values of a zone or total (SPEC 3), after its own power:
 * <domain>-active and <domain>-idle energy and power, and with
 * `ratio_gauge` the CPUs' busy ratio since the last values. `restart`:
 * the energy was re-baselined, the split's powers start afresh. */
static void push_split(rapl_meter_t *meter, const char *zone,
                       split_t *split, bool restart,
                       bool ratio_gauge, uint64_t now_ns) {
  if (!split->ready)
    return; /* /proc/stat has not been read twice yet */
  if (restart) {
    rapl_power_forget(&split->power_active);
    rapl_power_forget(&split->power_idle);
  }
  (void)push_energy_and_power(meter, zone, split->active_name,
                              split->active_uj, &split->power_active, now_ns);
  (void)push_energy_and_power(meter, zone, split->idle_name,
                              split->split_uj - split->active_uj,
                              &split->power_idle, now_ns);
  if (ratio_gauge) {
    rapl_value_t *ratio = push(meter, RAPL_VALUE_RATIO, zone, "cpu_usage_ratio");
    if (ratio != NULL)
      ratio->value = split->total_ticks ? (double)split->busy_ticks /
                                              (double)split->total_ticks
                                        : split->last_ratio;
  }
  split->busy_ticks = split->total_ticks = 0;
}

static void read_zone(rapl_meter_t *meter, size_t i, const uint64_t *fixed_ns) {
  zone_state_t *z = &meter->zones[i];
  z->rc = meter->ops->read(meter->source, i, &z->raw);
  z->rc_ns = fixed_ns ? *fixed_ns : rapl_clock_ns();
}

/* Adds the sample's read of one zone to the books; logs each problem once
 * when it starts and once when it ends (SPEC 4). */
static void account_zone(rapl_meter_t *meter, size_t i) {
  zone_state_t *z = &meter->zones[i];
  const char *key = z->info->key, *domain = z->info->domain;
  uint64_t now_ns = z->rc_ns, raw = z->raw;
  int rc = z->rc;
  if (rc < 0) {
    if (rapl_episode_seen(&z->read_problem, rc, now_ns))
      rapl_log(RAPL_LOG_WARNING,
               "%s %s: reading the counter failed (%s); the zone is skipped "
               "until it reads again, its energy is counted then",
               key, domain, strerror(-rc));
    z->read_error = rc;
    return;
  }
  if (rc == RAPL_READ_REOPENED && z->vanished_now &&
      !z->read_problem.active) {
    /* gone and back between two reads: one line for the whole episode */
    if (rapl_episode_seen(&z->read_problem, -ENODEV, now_ns))
      rapl_log(RAPL_LOG_INFO,
               "%s %s: the zone was gone and is back (new baseline)", key,
               domain);
    z->read_problem.quiet = true;
  }
  if (rapl_episode_cleared(&z->read_problem, now_ns))
    rapl_log(RAPL_LOG_INFO, "%s %s: the counter reads again%s", key, domain,
             rc == RAPL_READ_REOPENED ? " (zone is back: new baseline)" : "");
  z->read_error = 0;
  /* What it used while away is unknown: a new baseline (a new epoch, so
   * its power and its totals' power start afresh). */
  if (rc == RAPL_READ_REOPENED)
    rapl_counter_forget_reading(&z->counter);
  bool had_prev = z->counter.have_prev;
  uint64_t prev_raw = z->counter.prev_raw;
  z->read_ns = now_ns;
  switch (rapl_counter_sample(&z->counter, raw, now_ns)) {
  case RAPL_SAMPLE_BASELINE:
    z->changed_ns = now_ns;
    break;
  case RAPL_SAMPLE_RESET:
    if (rapl_episode_seen(&z->reset_problem, 1, now_ns))
      rapl_log(RAPL_LOG_WARNING,
               "%s %s: counter went from %llu to %llu, which is neither a "
               "wrap nor plausible power: treated as a counter reset, nothing "
               "counted for this interval",
               key, domain, (unsigned long long)prev_raw,
               (unsigned long long)raw);
    (void)rapl_episode_cleared(&z->reset_problem, now_ns); /* a moment */
    z->changed_ns = now_ns;
    break;
  case RAPL_SAMPLE_COUNTED:
    if (!had_prev || raw != prev_raw) {
      if (z->stuck && rapl_episode_cleared(&z->stuck_problem, now_ns))
        rapl_log(RAPL_LOG_INFO, "%s %s: the counter moves again", key, domain);
      z->stuck = false;
      z->changed_ns = now_ns;
    } else if (!z->stuck && now_ns - z->changed_ns >= STUCK_AFTER_NS) {
      if (rapl_episode_seen(&z->stuck_problem, 1, now_ns))
        rapl_log(RAPL_LOG_WARNING,
                 "%s %s: the counter has not changed for %llu s (stuck "
                 "hardware or firmware?); reporting 0 W while it stays so",
                 key, domain,
                 (unsigned long long)((now_ns - z->changed_ns) / RAPL_NS_PER_S));
      z->stuck = true;
    }
    break;
  }
}

/* Looks again at the source (SPEC 4): gone zones come back, new zones are
 * booked. At most once per sample. */
static void rescan(rapl_meter_t *meter, uint64_t now_ns) {
  meter->rescan_ns = now_ns;
  if ((meter->options.active_idle || meter->cgroups != NULL) &&
      meter->topo_loaded) {
    /* CPUs may have come or gone too: the topology is loaded again (a
     * file per CPU and attribute) only when the online list says so */
    char *online = NULL;
    if (meter->topo_online == NULL ||
        rapl_cpu_online_text(meter->options.sysfs_path, &online) != 0 ||
        strcmp(online, meter->topo_online) != 0)
      meter->topo_loaded = false;
    free(online);
  }
  int added = meter->ops->rescan(meter->source);
  if (added >= 0 && book_zones(meter) != 0)
    rapl_log(RAPL_LOG_ERR, "out of memory while adding zones; retrying");
  /* the cgroups are listed again with the zones (whether or not the source
   * could be): services started since are found, stopped ones dropped
   * (SPEC 9) */
  if (meter->cgroups != NULL &&
      (rapl_cgroup_books_rescan(meter->cgroups, meter->total_count) != 0 ||
       size_values(meter) != 0))
    rapl_log(RAPL_LOG_ERR, "out of memory while listing the cgroups; no "
                           "energy per cgroup until the next rescan");
}

/* Splits the energy a total gained since its latest split by its CPUs'
 * busy ratio over this sample. */
static void split_energy(split_t *split, uint64_t total_uj,
                         const rapl_meter_t *meter) {
  if (total_uj < split->split_uj)
    return; /* cannot happen: totals never go back */
  uint64_t busy, ticks;
  rapl_cpu_ticks_of(&meter->cpu_ticks, split->cpus, &busy, &ticks);
  double ratio = ticks ? (double)busy / (double)ticks : split->last_ratio;
  if (!(ratio >= 0.0)) /* NaN too */
    ratio = 0.0;
  if (ratio > 1.0)
    ratio = 1.0;
  split->last_ratio = ratio;
  uint64_t delta = total_uj - split->split_uj;
  uint64_t active = (uint64_t)((double)delta * ratio);
  split->active_uj += active > delta ? delta : active;
  split->split_uj = total_uj;
  split->ready = true;
  split->busy_ticks += busy;
  split->total_ticks += ticks;
}

/* ActiveIdle: one read of /proc/stat per sample (not per zone), then each
 * zone's and total's new energy is split. When /proc/stat cannot be read,
 * nothing is split now: the energy waits for the next good read. */
static void split_sample(rapl_meter_t *meter, uint64_t now_ns) {
  if (!meter->topo_loaded) {
    char why[256];
    rapl_topology_free(&meter->topo);
    free(meter->topo_online);
    meter->topo_online = NULL;
    /* the list first: CPUs that change during the load differ from it at
     * the next rescan. No list (or no topology): loaded again then. */
    char *online = NULL;
    if (rapl_cpu_online_text(meter->options.sysfs_path, &online) != 0)
      online = NULL;
    if (rapl_topology_load(meter->options.sysfs_path, &meter->topo, why,
                           sizeof(why)) != 0 ||
        rapl_cpu_ticks_index(&meter->cpu_ticks, &meter->topo) != 0) {
      rapl_topology_free(&meter->topo); /* no CPU known: ratios hold */
      rapl_cpu_ticks_free(&meter->cpu_ticks);
      free(online);
      online = NULL;
    }
    meter->topo_online = online;
    meter->topo_loaded = true;
  }
  int err = rapl_cpu_snapshot_load(meter->options.procfs_path, &meter->stat_now);
  if (err != 0) {
    if (rapl_episode_seen(&meter->stat_problem, err, now_ns))
      rapl_log(RAPL_LOG_WARNING,
               "%s/stat: %s; the active/idle split waits until it reads again",
               meter->options.procfs_path, strerror(-err));
    return;
  }
  if (rapl_episode_cleared(&meter->stat_problem, now_ns))
    rapl_log(RAPL_LOG_INFO, "%s/stat reads again", meter->options.procfs_path);
  /* the cgroups' CPU time right after the CPUs': one sample, and over the
   * same interval as /proc/stat's busy time (SPEC 9) */
  if (meter->have_stat_prev)
    rapl_cpu_ticks_sum(&meter->cpu_ticks, &meter->stat_prev, &meter->stat_now,
                       &meter->topo);
  if (meter->cgroups != NULL) {
    uint64_t busy = meter->have_stat_prev ? meter->cpu_ticks.busy : 0;
    rapl_cgroup_books_sample(meter->cgroups,
                             busy * UINT64_C(1000000) / meter->clk_tck,
                             meter->have_stat_prev, now_ns);
  }
  /* the first snapshot only starts the clock: energy since the plugin
   * started is split at the next one */
  for (size_t i = 0; meter->have_stat_prev && i < meter->zone_count; i++) {
    zone_state_t *z = &meter->zones[i];
    if (z->read_error == 0)
      split_energy(&z->split, rapl_counter_total_uj(&z->counter), meter);
  }
  for (size_t t = 0; meter->have_stat_prev && t < meter->total_count; t++) {
    total_state_t *total = &meter->totals[t];
    uint64_t sum_uj = 0;
    for (size_t i = 0; i < meter->zone_count; i++)
      if (meter->zones[i].total_index == t)
        sum_uj += rapl_counter_total_uj(&meter->zones[i].counter);
    /* the machine-wide active energy of this sample, whether the total
     * is dispatched (Total) or not: what the cgroups share (SPEC 9) */
    uint64_t active_before = total->split.active_uj;
    split_energy(&total->split, sum_uj, meter);
    if (meter->cgroups != NULL)
      rapl_cgroup_books_attribute(meter->cgroups, t,
                                  total->split.active_uj - active_before);
  }
  /* stat_now keeps the descriptor and buffer: one open file, one buffer */
  rapl_cpu_snapshot_swap_times(&meter->stat_prev, &meter->stat_now);
  meter->have_stat_prev = true;
}

static int sample(rapl_meter_t *meter, const uint64_t *fixed_ns) {
  if (meter->ops == NULL)
    return -1;
  uint64_t now_ns = fixed_ns ? *fixed_ns : rapl_clock_ns();
  /* Rescan while something is gone, and often enough that a zone which
   * appears just after one rescan is found within RESCAN_WITHIN_NS: when
   * the next sample (one gap later) would be too late. */
  uint64_t gap_ns = meter->sample_ns && now_ns > meter->sample_ns
                        ? now_ns - meter->sample_ns : 0;
  if (meter->rescan_ns == 0 || now_ns < meter->rescan_ns)
    meter->rescan_ns = now_ns;
  bool rescanned = false;
  if (meter->any_gone ||
      now_ns - meter->rescan_ns + gap_ns >= RESCAN_WITHIN_NS) {
    rescan(meter, now_ns);
    rescanned = true;
  }
  meter->sample_ns = now_ns;
  bool gone_now = false;
  for (size_t i = 0; i < meter->zone_count; i++) {
    read_zone(meter, i, fixed_ns);
    meter->zones[i].vanished_now = meter->zones[i].rc == -ENODEV;
    gone_now = gone_now || meter->zones[i].vanished_now;
  }
  /* A zone found gone now may be back already (a module reload between
   * two reads): one rescan, and its read again. */
  if (gone_now && !rescanned) {
    size_t before = meter->zone_count;
    rescan(meter, now_ns);
    for (size_t i = 0; i < meter->zone_count; i++) {
      if (i >= before)
        meter->zones[i].vanished_now = false;
      if (i >= before || meter->zones[i].rc == -ENODEV)
        read_zone(meter, i, fixed_ns);
    }
  }
  meter->any_gone = false;
  for (size_t i = 0; i < meter->zone_count; i++) {
    account_zone(meter, i);
    meter->any_gone = meter->any_gone || meter->zones[i].rc == -ENODEV;
  }
  /* the cgroups need /proc/stat's busy time and the totals' active energy
   * even with ActiveIdle false (then the split is not dispatched) */
  if (meter->options.active_idle || meter->cgroups != NULL)
    split_sample(meter, now_ns);
  return 0;
}

int rapl_meter_sample(rapl_meter_t *meter) { return sample(meter, NULL); }

int rapl_meter_sample_at(rapl_meter_t *meter, uint64_t now_ns) {
  return sample(meter, &now_ns);
}

/* Each cgroup read at the latest sample: its energy per domain (J, from 0
 * when first seen) and, from its second point on, its power (SPEC 9). */
static void push_cgroups(rapl_meter_t *meter) {
  rapl_cgroup_books_t *books = meter->cgroups;
  if (books == NULL)
    return;
  uint64_t now_ns = rapl_cgroup_books_sample_ns(books);
  size_t n = rapl_cgroup_books_count(books);
  for (size_t i = 0; i < n; i++) {
    const char *instance = rapl_cgroup_books_instance(books, i);
    if (instance == NULL)
      continue;
    for (size_t t = 0; t < meter->total_count; t++) {
      rapl_power_t *power = rapl_cgroup_books_power(books, i, t);
      if (power != NULL)
        (void)push_energy_and_power(
            meter, instance, meter->totals[t].domain,
            rapl_cgroup_books_energy_uj(books, i, t), power, now_ns);
    }
  }
}

int rapl_meter_values(rapl_meter_t *meter, const rapl_value_t **values,
                      size_t *count) {
  if (meter->ops == NULL)
    return -1;
  meter->value_count = 0;
  for (size_t i = 0; i < meter->zone_count; i++) {
    zone_state_t *z = &meter->zones[i];
    bool restart = z->counter.epoch != z->power_epoch;
    if (restart) /* re-baselined: start afresh */
      rapl_power_forget(&z->power);
    z->power_epoch = z->counter.epoch;
    if (z->read_error != 0 || !meter->options.per_socket)
      continue;
    if (push_energy_and_power(meter, z->info->key, z->info->domain,
                              rapl_counter_total_uj(&z->counter), &z->power,
                              z->read_ns) &&
        meter->options.active_idle)
      push_split(meter, z->info->key, &z->split, restart,
                 z->ratio_owner, z->read_ns);
  }
  /* A total is dispatched only when every zone of its domain read in the
   * latest sample: a failed read only delays energy (the next power spans
   * both intervals). When a member re-baselined or joined since the last
   * values, the energy it used meanwhile is unknown: the total's power
   * starts afresh, and its energy, which sums per-zone counters that never
   * go back, stays monotonic. */
  for (size_t t = 0; meter->options.total && t < meter->total_count; t++) {
    total_state_t *total = &meter->totals[t];
    uint64_t sum_uj = 0, latest_ns = 0, epoch_sum = 0;
    size_t members = 0;
    bool read_ok = true;
    for (size_t i = 0; i < meter->zone_count; i++) {
      const zone_state_t *z = &meter->zones[i];
      if (z->total_index != t)
        continue;
      read_ok = read_ok && z->read_error == 0;
      epoch_sum += z->counter.epoch;
      members++;
      sum_uj += rapl_counter_total_uj(&z->counter);
      if (z->read_ns > latest_ns)
        latest_ns = z->read_ns;
    }
    bool restart = epoch_sum != total->epoch_sum || members != total->members;
    if (restart)
      rapl_power_forget(&total->power);
    total->epoch_sum = epoch_sum;
    total->members = members;
    if (read_ok &&
        push_energy_and_power(meter, "total", total->domain, sum_uj,
                              &total->power, latest_ns) &&
        meter->options.active_idle)
      push_split(meter, "total", &total->split, restart,
                 t == 0, latest_ns);
  }
  push_cgroups(meter);
  rapl_value_t *gauge = push(meter, RAPL_VALUE_METER, "", meter->gauge_name);
  if (gauge != NULL)
    gauge->value = 1.0;
  *values = meter->values;
  *count = meter->value_count;
  return 0;
}

int rapl_meter_read(rapl_meter_t *meter, uint64_t now_ns,
                    const rapl_value_t **values, size_t *count) {
  if (rapl_meter_sample_at(meter, now_ns) != 0)
    return -1;
  return rapl_meter_values(meter, values, count);
}

uint64_t rapl_meter_safe_period_ns(const rapl_meter_t *meter) {
  uint64_t period_ns = 0;
  for (size_t i = 0; i < meter->zone_count; i++) {
    const rapl_zone_info_t *info = meter->zones[i].info;
    if (info->wrap_energy_uj == 0 || info->max_power_uw == 0)
      continue;
    /* half the wrap time at the cap: uJ / uW = s */
    unsigned __int128 ns = (unsigned __int128)info->wrap_energy_uj *
                           RAPL_NS_PER_S / (2 * (unsigned __int128)info->max_power_uw);
    uint64_t zone_ns = ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
    if (period_ns == 0 || zone_ns < period_ns)
      period_ns = zone_ns;
  }
  return period_ns != 0 && period_ns < MIN_SAFE_PERIOD_NS ? MIN_SAFE_PERIOD_NS
                                                          : period_ns;
}
