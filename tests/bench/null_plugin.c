/* null_plugin.c - the daemon's floor for tests/bench/bench-daemon (issue 10).
 *
 * A collectd read plugin that dispatches exactly the values rapl dispatches
 * on the benchmark's machine - same identifiers (plugin "rapl"), types and
 * count per read - without reading anything: what collectd itself spends
 * per read (scheduling the callback, plugin_dispatch_values, the value
 * cache, the network plugin's encoding and sending) with rapl's work
 * removed. rapl's cost above the daemon is then the difference.
 *
 *   LoadPlugin null_plugin
 *   <Plugin null_plugin>
 *     Value "package-0" "derive" "package"   # plugin_instance type type_instance
 *     Value "" "gauge" "meter-rapl-powercap"
 *     ...
 *   </Plugin>
 *
 *   ReadFile "/sys/class/powercap/intel-rapl:0/energy_uj"   # optional
 *
 * With ReadFile, each read also preads every such file (opened once, at
 * init), as rapl does: the daemon's floor with the physical reads in it,
 * so rapl above it is its own logic only.
 *
 * The read is shaped as rapl_read is (src/rapl.c): one value_list_t per
 * read, its time taken once and its interval set, one value per dispatch.
 * derive values grow by one per read, gauges stay put: the cost of
 * dispatching does not depend on the numbers.
 */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"

#define PLUGIN_NAME "null_plugin"

typedef struct {
  char plugin_instance[DATA_MAX_NAME_LEN];
  char type[DATA_MAX_NAME_LEN];
  char type_instance[DATA_MAX_NAME_LEN];
  int is_derive;
} null_value_t;

static null_value_t *values;
static char **paths; /* ReadFile */
static int *fds;
static size_t paths_len;
static char read_buf[256 * 1024];
static volatile ssize_t read_sink; /* what was read, so nothing is elided */
static size_t values_len;
static derive_t reads;
static cdtime_t interval; /* rapl too takes it once, at init */

static int add_path(const char *path) {
  char **grown = realloc(paths, (paths_len + 1) * sizeof(*paths));
  if (grown == NULL)
    return -1;
  paths = grown;
  paths[paths_len] = strdup(path);
  if (paths[paths_len] == NULL)
    return -1;
  paths_len++;
  return 0;
}

static int null_config(oconfig_item_t *ci) {
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *c = ci->children + i;
    if (strcasecmp(c->key, "ReadFile") == 0 && c->values_num == 1 &&
        c->values[0].type == OCONFIG_TYPE_STRING) {
      if (add_path(c->values[0].value.string) != 0) {
        ERROR(PLUGIN_NAME " plugin: out of memory");
        return -1;
      }
      continue;
    }
    if (strcasecmp(c->key, "Value") != 0 || c->values_num != 3 ||
        c->values[0].type != OCONFIG_TYPE_STRING ||
        c->values[1].type != OCONFIG_TYPE_STRING ||
        c->values[2].type != OCONFIG_TYPE_STRING) {
      ERROR(PLUGIN_NAME " plugin: expected `Value \"plugin_instance\" "
                        "\"type\" \"type_instance\"` or `ReadFile \"path\"`, "
                        "got `%s`",
            c->key);
      return -1;
    }
    null_value_t *grown = realloc(values, (values_len + 1) * sizeof(*values));
    if (grown == NULL) {
      ERROR(PLUGIN_NAME " plugin: out of memory");
      return -1;
    }
    values = grown;
    null_value_t *v = values + values_len++;
    sstrncpy(v->plugin_instance, c->values[0].value.string,
             sizeof(v->plugin_instance));
    sstrncpy(v->type, c->values[1].value.string, sizeof(v->type));
    sstrncpy(v->type_instance, c->values[2].value.string,
             sizeof(v->type_instance));
    v->is_derive = strcmp(v->type, "derive") == 0;
  }
  return 0;
}

static int null_read(user_data_t *ud) {
  (void)ud;
  reads++;
  ssize_t got = 0;
  for (size_t i = 0; i < paths_len; i++)
    got += pread(fds[i], read_buf, sizeof(read_buf), 0);
  read_sink = got;
  value_list_t vl = VALUE_LIST_INIT;
  vl.time = cdtime();
  vl.interval = interval;
  sstrncpy(vl.plugin, "rapl", sizeof(vl.plugin));
  for (size_t i = 0; i < values_len; i++) {
    value_t value;
    if (values[i].is_derive)
      value.derive = reads;
    else
      value.gauge = 100.0 + (double)i;
    sstrncpy(vl.type, values[i].type, sizeof(vl.type));
    vl.values = &value;
    vl.values_len = 1;
    sstrncpy(vl.plugin_instance, values[i].plugin_instance,
             sizeof(vl.plugin_instance));
    sstrncpy(vl.type_instance, values[i].type_instance,
             sizeof(vl.type_instance));
    plugin_dispatch_values(&vl);
  }
  return 0;
}

static int null_init(void) {
  if (values_len == 0) {
    ERROR(PLUGIN_NAME " plugin: no Value configured");
    return -1;
  }
  interval = plugin_get_interval();
  fds = calloc(paths_len ? paths_len : 1, sizeof(*fds));
  if (fds == NULL)
    return -1;
  for (size_t i = 0; i < paths_len; i++)
    fds[i] = -1;
  for (size_t i = 0; i < paths_len; i++)
    if ((fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC)) < 0) {
      ERROR(PLUGIN_NAME " plugin: %s: %s", paths[i], STRERRNO);
      return -1;
    }
  INFO(PLUGIN_NAME " plugin: %zu values and %zu files per read", values_len,
       paths_len);
  return plugin_register_complex_read(NULL, PLUGIN_NAME, null_read, 0, NULL);
}

static int null_shutdown(void) {
  free(values);
  values = NULL;
  values_len = 0;
  for (size_t i = 0; i < paths_len; i++) {
    if (fds != NULL && fds[i] >= 0)
      close(fds[i]);
    free(paths[i]);
  }
  free(paths);
  free(fds);
  paths = NULL;
  fds = NULL;
  paths_len = 0;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, null_config);
  plugin_register_init(PLUGIN_NAME, null_init);
  plugin_register_shutdown(PLUGIN_NAME, null_shutdown);
}
