/* meter.c - see meter.h. */
#include "meter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "accounting.h"
#include "clock.h"
#include "rapl_log.h"

/* A counter unchanged this long is reported once as stuck (RAPL counters
 * move every millisecond while anything is powered). */
#define STUCK_AFTER_NS (UINT64_C(30) * RAPL_NS_PER_S)

typedef struct {
  const rapl_zone_info_t *info;
  rapl_counter_t counter;
  rapl_power_t power;
  int last_error;  /* latch: log a read problem once, when it starts */
  uint64_t read_ns; /* when the latest good read was taken */
  bool reset_since_values; /* a reset lost energy since the last values */
  uint64_t changed_ns;      /* when the counter last moved */
  bool stuck;               /* latch for the stuck-counter warning */
} zone_state_t;

/* `total`: one domain summed over every zone that has it. */
typedef struct {
  char domain[RAPL_DOMAIN_NAME_LEN];
  rapl_power_t power;
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
};

/* The implementation of each source; NULL: not in this version yet. */
static const rapl_source_ops_t *source_ops(rapl_source_kind_t kind) {
  switch (kind) {
  case RAPL_SOURCE_POWERCAP:
    return &rapl_powercap_source;
  case RAPL_SOURCE_MSR:
    return &rapl_msr_source;
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

static total_state_t *find_total(rapl_meter_t *meter, const char *domain) {
  for (size_t i = 0; i < meter->total_count; i++)
    if (strcmp(meter->totals[i].domain, domain) == 0)
      return &meter->totals[i];
  return NULL;
}

/* Sets up the books for the zones of a freshly opened source. */
static int adopt(rapl_meter_t *meter, const rapl_source_ops_t *ops,
                 rapl_source_t *source) {
  size_t n = ops->zone_count(source);
  meter->ops = ops;
  meter->source = source;
  meter->zones = calloc(n, sizeof(*meter->zones));
  meter->totals = calloc(n, sizeof(*meter->totals));
  /* per zone: energy + power; per total: energy + power; one meter gauge */
  meter->value_capacity = 4 * n + 1;
  meter->values = calloc(meter->value_capacity, sizeof(*meter->values));
  if (meter->zones == NULL || meter->totals == NULL || meter->values == NULL) {
    stop(meter);
    return -ENOMEM;
  }
  meter->zone_count = n;
  char list[512] = "";
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    zone_state_t *z = &meter->zones[i];
    z->info = ops->zone_info(source, i);
    rapl_counter_init(&z->counter, z->info->wrap_range,
                      z->info->uj_per_unit_num, z->info->uj_per_unit_den,
                      z->info->max_power_uw);
    if (find_total(meter, z->info->domain) == NULL)
      snprintf(meter->totals[meter->total_count++].domain,
               sizeof(meter->totals[0].domain), "%s", z->info->domain);
    if (len < sizeof(list))
      len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s/%s",
                              i ? ", " : "", z->info->key, z->info->domain);
  }
  rapl_log(RAPL_LOG_INFO, "using %s, %zu zones: %s", ops->name, n, list);
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
          return 0;
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
  memset(v, 0, sizeof(*v));
  v->kind = kind;
  snprintf(v->zone, sizeof(v->zone), "%s", zone);
  snprintf(v->name, sizeof(v->name), "%s", name);
  return v;
}

static void push_energy_and_power(rapl_meter_t *meter, const char *zone,
                                  const char *domain, uint64_t total_uj,
                                  rapl_power_t *power, uint64_t now_ns) {
  rapl_value_t *energy = push(meter, RAPL_VALUE_ENERGY, zone, domain);
  if (energy != NULL)
    energy->joules = rapl_uj_to_joules(total_uj);
  double watts;
  if (rapl_power_update(power, total_uj, now_ns, &watts)) {
    rapl_value_t *p = push(meter, RAPL_VALUE_POWER, zone, domain);
    if (p != NULL)
      p->value = watts;
  }
}

/* Samples one zone; logs a problem when it starts and when it ends. */
static void sample_zone(rapl_meter_t *meter, size_t i, const uint64_t *fixed_ns) {
  zone_state_t *z = &meter->zones[i];
  uint64_t raw;
  int rc = meter->ops->read(meter->source, i, &raw);
  uint64_t now_ns = fixed_ns ? *fixed_ns : rapl_clock_ns();
  if (rc < 0) {
    if (rc != z->last_error)
      rapl_log(RAPL_LOG_WARNING,
               "%s %s: reading the counter failed (%s); the zone is skipped "
               "until it reads again, its energy is counted then",
               z->info->key, z->info->domain, strerror(-rc));
    z->last_error = rc;
    return;
  }
  if (z->last_error != 0)
    rapl_log(RAPL_LOG_INFO, "%s %s: the counter reads again%s", z->info->key,
             z->info->domain,
             rc == RAPL_READ_REOPENED ? " (zone is back: new baseline)" : "");
  z->last_error = 0;
  if (rc == RAPL_READ_REOPENED) {
    /* what it used while away is unknown: a new baseline, and the totals
     * skip a dispatch rather than show the gap as a dip */
    rapl_counter_forget_reading(&z->counter);
    z->reset_since_values = true;
  }
  bool had_prev = z->counter.have_prev;
  uint64_t prev_raw = z->counter.prev_raw;
  z->read_ns = now_ns;
  switch (rapl_counter_sample(&z->counter, raw, now_ns)) {
  case RAPL_SAMPLE_BASELINE:
    rapl_power_forget(&z->power);
    z->changed_ns = now_ns;
    break;
  case RAPL_SAMPLE_RESET:
    rapl_log(RAPL_LOG_WARNING,
             "%s %s: counter went from %llu to %llu, which is neither a "
             "wrap nor plausible power: treated as a counter reset, nothing "
             "counted for this interval",
             z->info->key, z->info->domain, (unsigned long long)prev_raw,
             (unsigned long long)raw);
    rapl_power_forget(&z->power);
    z->reset_since_values = true;
    z->changed_ns = now_ns;
    break;
  case RAPL_SAMPLE_COUNTED:
    if (!had_prev || raw != prev_raw) {
      if (z->stuck)
        rapl_log(RAPL_LOG_INFO, "%s %s: the counter moves again",
                 z->info->key, z->info->domain);
      z->stuck = false;
      z->changed_ns = now_ns;
    } else if (!z->stuck && now_ns - z->changed_ns >= STUCK_AFTER_NS) {
      rapl_log(RAPL_LOG_WARNING,
               "%s %s: the counter has not changed for %llu s (stuck "
               "hardware or firmware?); reporting 0 W while it stays so",
               z->info->key, z->info->domain,
               (unsigned long long)((now_ns - z->changed_ns) / RAPL_NS_PER_S));
      z->stuck = true;
    }
    break;
  }
}

static int sample(rapl_meter_t *meter, const uint64_t *fixed_ns) {
  if (meter->ops == NULL)
    return -1;
  for (size_t i = 0; i < meter->zone_count; i++)
    sample_zone(meter, i, fixed_ns);
  return 0;
}

int rapl_meter_sample(rapl_meter_t *meter) { return sample(meter, NULL); }

int rapl_meter_sample_at(rapl_meter_t *meter, uint64_t now_ns) {
  return sample(meter, &now_ns);
}

int rapl_meter_values(rapl_meter_t *meter, const rapl_value_t **values,
                      size_t *count) {
  if (meter->ops == NULL)
    return -1;
  meter->value_count = 0;
  for (size_t i = 0; i < meter->zone_count; i++) {
    zone_state_t *z = &meter->zones[i];
    if (z->last_error != 0 || !meter->options.per_socket)
      continue;
    push_energy_and_power(meter, z->info->key, z->info->domain,
                          rapl_counter_total_uj(&z->counter), &z->power,
                          z->read_ns);
  }
  /* A total is dispatched only when every zone of its domain read in the
   * latest sample and lost nothing to a reset since the last values:
   * otherwise the missing energy would show as a dip now and a spike
   * later. A failed read only delays energy: the next power spans both
   * intervals. A reset loses energy: the total's power starts afresh. */
  for (size_t t = 0; meter->options.total && t < meter->total_count; t++) {
    total_state_t *total = &meter->totals[t];
    uint64_t sum_uj = 0, latest_ns = 0;
    bool read_ok = true, lost = false;
    for (size_t i = 0; i < meter->zone_count; i++) {
      const zone_state_t *z = &meter->zones[i];
      if (strcmp(z->info->domain, total->domain) != 0)
        continue;
      read_ok = read_ok && z->last_error == 0;
      lost = lost || z->reset_since_values;
      sum_uj += rapl_counter_total_uj(&z->counter);
      if (z->read_ns > latest_ns)
        latest_ns = z->read_ns;
    }
    if (lost) /* energy nobody can know: restart the power from here */
      rapl_power_forget(&total->power);
    if (read_ok && !lost)
      push_energy_and_power(meter, "total", total->domain, sum_uj,
                            &total->power, latest_ns);
  }
  for (size_t i = 0; i < meter->zone_count; i++)
    meter->zones[i].reset_since_values = false;
  char name[RAPL_VALUE_NAME_LEN];
  snprintf(name, sizeof(name), "meter-%s", meter->ops->name);
  rapl_value_t *gauge = push(meter, RAPL_VALUE_METER, "", name);
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
  return period_ns;
}
