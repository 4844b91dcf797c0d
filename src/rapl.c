/* rapl.c - collectd glue for the rapl plugin: config, init, read, shutdown.
 *
 * Thin on purpose: options go into rapl_options_t, readings come out of the
 * meter (meter.c) as plain values, and this file only maps them onto
 * collectd identifiers (SPEC section 3) and dispatches them.
 */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"

#include <errno.h>
#include <strings.h>

#include "cgroup.h"
#include "kepler_config.h"
#include "meter.h"
#include "options.h"
#include "rapl_log.h"

#define PLUGIN_NAME "rapl"

/* What the core runs with: defaults, then the ConfigFile, then every
 * setting the <Plugin rapl> block names (SPEC 2: the block wins, whatever
 * the order of its options). */
static rapl_options_t options;
/* The block alone (collectd calls rapl_config once per <Plugin rapl>
 * block; they add up), and the RAPL_OPT_* bits of what it set. */
static rapl_options_t block_options;
static unsigned block_set;

/* Before a source is found, the sampling period assumes the fastest wrap
 * of any RAPL counter in service: 2^32 x 15.26 uJ (ESU 16, AMD and DRAM)
 * = 65.5 kJ at the 2 kW plausibility cap is 32.8 s, halved. */
#define DEFAULT_SAFE_PERIOD_NS (UINT64_C(16) * 1000000000)

/* State of the registered read callback, owned by collectd (free_func). */
typedef struct {
  rapl_meter_t *meter;
  char last_start_error[2048]; /* log "no source" once per distinct reason */
  cdtime_t dispatch_interval;  /* collectd's interval for this plugin */
  unsigned samples_per_dispatch; /* >1 when that is longer than a safe period */
  unsigned samples_to_dispatch;  /* countdown; 0: dispatch at this read */
  cdtime_t read_every;           /* the period the callback runs at */
} rapl_context_t;

static cdtime_t sampling_interval(rapl_context_t *ctx);
static void free_context(void *data);
static int rapl_read(user_data_t *ud);

static void collectd_log_sink(int severity, const char *message) {
  plugin_log(severity, PLUGIN_NAME " plugin: %s", message);
}

/* ---- configuration (SPEC section 2) ------------------------------------- */

static const char *type_name(int type) {
  switch (type) {
  case OCONFIG_TYPE_STRING:
    return "a string";
  case OCONFIG_TYPE_NUMBER:
    return "a number";
  case OCONFIG_TYPE_BOOLEAN:
    return "a boolean";
  default:
    return "an unknown type";
  }
}

/* One ERROR line per configuration problem, naming the option. */
static int config_error(const oconfig_item_t *ci, const char *expected) {
  if (ci->values_num != 1)
    ERROR(PLUGIN_NAME " plugin: %s: expected %s, got %d values", ci->key,
          expected, ci->values_num);
  else
    ERROR(PLUGIN_NAME " plugin: %s: expected %s, got %s", ci->key, expected,
          type_name(ci->values[0].type));
  return -1;
}

/* An absolute path into `slot` of block_options; `field` its RAPL_OPT_ bit. */
static int config_path(const oconfig_item_t *ci, char *slot, unsigned field) {
  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_STRING)
    return config_error(ci, "one string (an absolute path)");
  char err[512];
  if (rapl_options_set_path(slot, ci->key, ci->values[0].value.string, err,
                            sizeof(err)) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  block_set |= field;
  return 0;
}

static int config_boolean(const oconfig_item_t *ci, bool *value,
                          unsigned field) {
  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_BOOLEAN) {
    *value = ci->values[0].value.boolean != 0;
    block_set |= field;
    return 0;
  }
  /* collectd itself also accepts quoted "true"/"false". */
  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_STRING) {
    const char *s = ci->values[0].value.string;
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
      *value = strcasecmp(s, "true") == 0;
      block_set |= field;
      return 0;
    }
    ERROR(PLUGIN_NAME " plugin: %s: expected true or false, got \"%s\"",
          ci->key, s);
    return -1;
  }
  return config_error(ci, "one boolean (true or false)");
}

/* A list of 1..32 strings (Zones, Sources, HwmonChips) into names[]; returns the count
 * or -1 after one ERROR line. `expected` says what the strings name. */
static int config_names(const oconfig_item_t *ci, const char **names,
                        const char *expected) {
  if (ci->values_num < 1 || ci->values_num > 32) {
    ERROR(PLUGIN_NAME " plugin: %s: expected 1 to 32 %s, got %d values",
          ci->key, expected, ci->values_num);
    return -1;
  }
  for (int i = 0; i < ci->values_num; i++) {
    if (ci->values[i].type != OCONFIG_TYPE_STRING) {
      ERROR(PLUGIN_NAME " plugin: %s: expected %s as strings, value %d is %s",
            ci->key, expected, i + 1, type_name(ci->values[i].type));
      return -1;
    }
    names[i] = ci->values[i].value.string;
  }
  return ci->values_num;
}

static int config_zones(const oconfig_item_t *ci) {
  const char *names[32];
  int n = config_names(ci, names, "domain names (package, core, uncore, dram, psys)");
  char err[512];
  if (n < 0)
    return -1;
  if (rapl_options_set_zones(&block_options, names, (size_t)n, err,
                             sizeof(err)) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  block_set |= RAPL_OPT_ZONES;
  return 0;
}

static int config_sources(const oconfig_item_t *ci) {
  const char *names[32];
  int n = config_names(ci, names, "source names (powercap, msr, hwmon)");
  char err[512];
  if (n < 0)
    return -1;
  if (rapl_options_set_sources(&block_options, names, (size_t)n, err,
                               sizeof(err)) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  block_set |= RAPL_OPT_SOURCES;
  return 0;
}

static int config_hwmon_chips(const oconfig_item_t *ci) {
  const char *names[32];
  int n = config_names(ci, names, "hwmon chip names");
  char err[512];
  if (n < 0)
    return -1;
  if (rapl_options_set_hwmon_chips(&block_options, names, (size_t)n, err,
                                   sizeof(err)) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  block_set |= RAPL_OPT_HWMON_CHIPS;
  return 0;
}

/* Cgroups "<glob>" ...: 1..RAPL_MAX_CGROUP_GLOBS globs relative to
 * CgroupPath (SPEC 9); a bad glob refuses the configuration. */
static int config_cgroups(const oconfig_item_t *ci) {
  if (ci->values_num < 1 || ci->values_num > RAPL_MAX_CGROUP_GLOBS) {
    ERROR(PLUGIN_NAME " plugin: %s: expected 1 to %d globs relative to "
                      "CgroupPath, got %d values",
          ci->key, RAPL_MAX_CGROUP_GLOBS, ci->values_num);
    return -1;
  }
  const char *globs[RAPL_MAX_CGROUP_GLOBS];
  int n = config_names(ci, globs, "globs relative to CgroupPath");
  char err[1024];
  if (n < 0)
    return -1;
  if (rapl_options_set_cgroups(&block_options, globs, (size_t)n, err,
                               sizeof(err)) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  block_set |= RAPL_OPT_CGROUPS;
  return 0;
}

/* <MSR> Enabled, Force, DevicePath </MSR>: the opt-in for raw MSR reading.
 * Deliberately no other way (environment, command line) to turn it on. */
static int config_msr(const oconfig_item_t *ci) {
  if (ci->values_num != 0) {
    ERROR(PLUGIN_NAME " plugin: MSR: expected a block <MSR> ... </MSR> with "
                      "Enabled, Force, DevicePath; got %d values",
          ci->values_num);
    return -1;
  }
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    int status;
    if (strcasecmp(child->key, "Enabled") == 0)
      status = config_boolean(child, &block_options.msr_enabled,
                              RAPL_OPT_MSR_ENABLED);
    else if (strcasecmp(child->key, "Force") == 0)
      status = config_boolean(child, &block_options.msr_force,
                              RAPL_OPT_MSR_FORCE);
    else if (strcasecmp(child->key, "DevicePath") == 0)
      status = config_path(child, block_options.msr_device_path,
                           RAPL_OPT_MSR_DEVICE_PATH);
    else {
      ERROR(PLUGIN_NAME " plugin: MSR: unknown option \"%s\" (supported: "
                        "Enabled, Force, DevicePath)",
            child->key);
      status = -1;
    }
    if (status != 0)
      return -1;
  }
  return 0;
}

#define SUPPORTED                                                              \
  "SysfsPath, ProcfsPath, Zones, PerSocket, Total, Sources, ActiveIdle, "      \
  "HwmonChips, ConfigFile, CgroupPath, Cgroups, MSR"

/* options = defaults < ConfigFile < what the block set; then the checks
 * that need the whole configuration. */
static int merge_config(void) {
  rapl_options_t merged;
  rapl_options_set_defaults(&merged);
  if (block_set & RAPL_OPT_CONFIG_FILE) {
    char err[1024 + PATH_MAX];
    unsigned file_set = 0;
    if (rapl_kepler_config_load(block_options.config_file, &merged, &file_set,
                                err, sizeof(err)) != 0) {
      ERROR(PLUGIN_NAME " plugin: ConfigFile: %s", err);
      return -1;
    }
  }
  rapl_options_copy(&merged, &block_options, block_set);
  char err[512];
  if (rapl_options_check(&merged, err, sizeof(err)) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  options = merged;
  return 0;
}

static int rapl_config(oconfig_item_t *ci) {
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    int status = 0;
    if (strcasecmp(child->key, "SysfsPath") == 0)
      status = config_path(child, block_options.sysfs_path,
                           RAPL_OPT_SYSFS_PATH);
    else if (strcasecmp(child->key, "ProcfsPath") == 0)
      status = config_path(child, block_options.procfs_path,
                           RAPL_OPT_PROCFS_PATH);
    else if (strcasecmp(child->key, "Zones") == 0)
      status = config_zones(child);
    else if (strcasecmp(child->key, "PerSocket") == 0)
      status = config_boolean(child, &block_options.per_socket,
                              RAPL_OPT_PER_SOCKET);
    else if (strcasecmp(child->key, "Total") == 0)
      status = config_boolean(child, &block_options.total, RAPL_OPT_TOTAL);
    else if (strcasecmp(child->key, "Sources") == 0)
      status = config_sources(child);
    else if (strcasecmp(child->key, "ActiveIdle") == 0)
      status = config_boolean(child, &block_options.active_idle,
                              RAPL_OPT_ACTIVE_IDLE);
    else if (strcasecmp(child->key, "HwmonChips") == 0)
      status = config_hwmon_chips(child);
    else if (strcasecmp(child->key, "ConfigFile") == 0)
      status = config_path(child, block_options.config_file,
                           RAPL_OPT_CONFIG_FILE);
    else if (strcasecmp(child->key, "CgroupPath") == 0)
      status = config_path(child, block_options.cgroup_path,
                           RAPL_OPT_CGROUP_PATH);
    else if (strcasecmp(child->key, "Cgroups") == 0)
      status = config_cgroups(child);
    else if (strcasecmp(child->key, "MSR") == 0)
      status = config_msr(child);
    else {
      ERROR(PLUGIN_NAME " plugin: unknown option \"%s\" (supported: " SUPPORTED
                        ")",
            child->key);
      status = -1;
    }
    if (status != 0)
      return -1;
  }
  /* the file is read once the whole block is known, so the block wins
   * whatever the place of ConfigFile in it */
  return merge_config();
}

/* ---- read ------------------------------------------------------------- */

/* What `vl` already holds from the value before: collectd copies the list
 * it is given (plugin_dispatch_values takes it const), so a field equal to
 * the previous value's is not copied again. The meter's names are strings
 * it owns for the whole read, so equal pointers mean equal names. */
typedef struct {
  const char *zone, *name;
  const char *type;
} vl_fields_t;

/* Copies only the name and its NUL: sstrncpy (strncpy) would also clear
 * the rest of the 128-byte field, for every value whose name changed. */
static void set_field(char *dst, size_t len, const char **held,
                      const char *src) {
  if (*held != src) {
    size_t n = strlen(src);
    if (n >= len)
      n = len - 1; /* cannot happen: the meter's names are shorter */
    memcpy(dst, src, n);
    dst[n] = '\0';
    *held = src;
  }
}

static void dispatch(const rapl_value_t *v, value_list_t *vl,
                     vl_fields_t *held) {
  value_t value;
  const char *type = "gauge";
  switch (v->kind) {
  case RAPL_VALUE_ENERGY:
    value.derive = (derive_t)v->joules;
    type = "derive";
    break;
  case RAPL_VALUE_POWER:
    value.gauge = v->value;
    type = "power";
    break;
  case RAPL_VALUE_METER:
  case RAPL_VALUE_RATIO:
    value.gauge = v->value;
    break;
  }
  vl->values = &value;
  vl->values_len = 1;
  set_field(vl->type, sizeof(vl->type), &held->type, type);
  set_field(vl->plugin_instance, sizeof(vl->plugin_instance), &held->zone,
            v->zone);
  set_field(vl->type_instance, sizeof(vl->type_instance), &held->name,
            v->name);
  plugin_dispatch_values(vl);
  vl->values = NULL;
}

static int start_meter(rapl_context_t *ctx) {
  char why[sizeof(ctx->last_start_error)];
  if (rapl_meter_start(ctx->meter, why, sizeof(why)) == 0) {
    ctx->last_start_error[0] = '\0';
    return 0;
  }
  if (strcmp(why, ctx->last_start_error) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s Probing again at later reads.", why);
    sstrncpy(ctx->last_start_error, why, sizeof(ctx->last_start_error));
  }
  return -1;
}

/* A source found after init whose counters wrap sooner than the period
 * the callback was registered with: register again at its own period.
 * The meter moves to a new context; collectd frees the old one (empty)
 * once this call has returned (plugin_unregister_read marks it). */
static int reregister(rapl_context_t *ctx) {
  rapl_context_t *next = calloc(1, sizeof(*next));
  if (next == NULL) {
    ERROR(PLUGIN_NAME " plugin: out of memory; sampling stays every %.3f s",
          CDTIME_T_TO_DOUBLE(ctx->read_every));
    return 0;
  }
  *next = *ctx;
  ctx->meter = NULL;
  cdtime_t every = sampling_interval(next);
  next->read_every = every;
  INFO(PLUGIN_NAME " plugin: %s wraps sooner than assumed at start: reading "
                   "every %.3f s instead of %.3f s",
       rapl_meter_source(next->meter), CDTIME_T_TO_DOUBLE(every),
       CDTIME_T_TO_DOUBLE(ctx->read_every));
  plugin_unregister_read(PLUGIN_NAME);
  /* collectd owns `next` from here, also when this fails */
  user_data_t ud = {.data = next, .free_func = free_context};
  if (plugin_register_complex_read(NULL, PLUGIN_NAME, rapl_read, every, &ud) !=
      0) {
    ERROR(PLUGIN_NAME " plugin: registering the read callback again failed: "
                      "no more values until collectd restarts");
    return -1;
  }
  return 0;
}

static int rapl_read(user_data_t *ud) {
  rapl_context_t *ctx = ud->data;
  if (ctx->meter == NULL)
    return 0; /* handed over to a new registration; collectd frees this */
  if (rapl_meter_source(ctx->meter) == NULL) {
    if (start_meter(ctx) != 0)
      return -1; /* collectd backs off; we retry at the next read */
    if (sampling_interval(ctx) < ctx->read_every)
      return reregister(ctx);
    ctx->samples_to_dispatch = 0; /* a new source: its baseline now */
  }
  /* One wall-clock time for every value of this read: when the counters
   * were read. Power uses CLOCK_BOOTTIME (clock.c), per zone. */
  cdtime_t read_time = cdtime();
  if (rapl_meter_sample(ctx->meter) != 0)
    return -1;
  /* Long collectd intervals: the callback runs every safe period and only
   * every samples_per_dispatch-th run dispatches, so no wrap is missed. */
  if (ctx->samples_to_dispatch > 0) {
    ctx->samples_to_dispatch--;
    return 0;
  }
  ctx->samples_to_dispatch = ctx->samples_per_dispatch - 1;

  const rapl_value_t *values;
  size_t count;
  if (rapl_meter_values(ctx->meter, &values, &count) != 0)
    return -1;
  value_list_t vl = VALUE_LIST_INIT;
  vl.time = read_time;
  vl.interval = ctx->dispatch_interval;
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
  vl_fields_t held = {NULL, NULL, NULL};
  for (size_t i = 0; i < count; i++)
    dispatch(&values[i], &vl, &held);
  return 0;
}

/* How often to sample so that no counter wraps twice between two reads
 * (SPEC section 4): the dispatch interval divided into equal parts no
 * longer than the safe period. */
static cdtime_t sampling_interval(rapl_context_t *ctx) {
  uint64_t safe_ns = rapl_meter_safe_period_ns(ctx->meter);
  if (safe_ns == 0) /* no source yet, or nothing that wraps */
    safe_ns = DEFAULT_SAFE_PERIOD_NS;
  uint64_t interval_ns = CDTIME_T_TO_NS(ctx->dispatch_interval);
  unsigned parts = (unsigned)((interval_ns + safe_ns - 1) / safe_ns);
  if (parts == 0)
    parts = 1;
  double interval_s = (double)interval_ns / 1e9, safe_s = (double)safe_ns / 1e9;
  ctx->samples_per_dispatch = parts;
  ctx->samples_to_dispatch = 0;
  if (parts > 1)
    INFO(PLUGIN_NAME " plugin: interval %.0f s is longer than the %.1f s in "
                     "which a counter could wrap twice at the plausibility "
                     "cap: sampling every %.2f s, dispatching every %.0f s",
         interval_s, safe_s * 2, interval_s / parts, interval_s);
  return NS_TO_CDTIME_T(interval_ns / parts);
}

/* ---- init / shutdown -------------------------------------------------- */

static void free_context(void *data) {
  rapl_context_t *ctx = data;
  if (ctx == NULL)
    return;
  rapl_meter_free(ctx->meter);
  free(ctx);
}

/* Cgroups asked for explicitly: a CgroupPath that is missing or not a
 * cgroup v2 root fails init with one ERROR naming CgroupPath (collectd then
 * disables the plugin) rather than running without what was asked. */
static int check_cgroup_path(void) {
  if (options.cgroup_glob_count == 0)
    return 0;
  char *globs[RAPL_MAX_CGROUP_GLOBS];
  for (size_t i = 0; i < options.cgroup_glob_count; i++)
    globs[i] = options.cgroup_globs[i];
  char why[PATH_MAX + 256];
  rapl_cgroups_t *set = rapl_cgroups_open(
      options.cgroup_path, globs, options.cgroup_glob_count, why, sizeof(why));
  if (set == NULL) {
    ERROR(PLUGIN_NAME " plugin: %s", why);
    return -1;
  }
  rapl_cgroups_free(set);
  return 0;
}

static int rapl_init(void) {
  rapl_log_set_sink(collectd_log_sink);
  if (check_cgroup_path() != 0)
    return -1;
  rapl_context_t *ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL || (ctx->meter = rapl_meter_new(&options)) == NULL) {
    free(ctx);
    ERROR(PLUGIN_NAME " plugin: out of memory");
    return -1;
  }
  /* No source now is not fatal (SPEC section 7): the read callback keeps
   * probing, so meters that appear later (module loaded) are picked up. */
  (void)start_meter(ctx);
  ctx->dispatch_interval = plugin_get_interval();
  cdtime_t every = sampling_interval(ctx);
  ctx->read_every = every;
  /* From here collectd owns ctx: on failure, plugin_register_complex_read
   * has already freed it through free_func (collectd 5.12, every path). */
  user_data_t ud = {.data = ctx, .free_func = free_context};
  if (plugin_register_complex_read(NULL, PLUGIN_NAME, rapl_read, every, &ud) !=
      0) {
    ERROR(PLUGIN_NAME " plugin: registering the read callback failed");
    return -1;
  }
  return 0;
}

static int rapl_shutdown(void) {
  rapl_log_set_sink(NULL);
  return 0;
}

void module_register(void) {
  rapl_options_set_defaults(&options);
  rapl_options_set_defaults(&block_options);
  block_set = 0;
  plugin_register_complex_config(PLUGIN_NAME, rapl_config);
  plugin_register_init(PLUGIN_NAME, rapl_init);
  plugin_register_shutdown(PLUGIN_NAME, rapl_shutdown);
}
