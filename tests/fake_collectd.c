/* fake_collectd.c - see fake_collectd.h. */
#define _GNU_SOURCE
#include "fake_collectd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "collectd/core/utils/common/common.h"

int (*fake_config_cb)(oconfig_item_t *);
plugin_init_cb fake_init_cb;
plugin_shutdown_cb fake_shutdown_cb;
plugin_read_cb fake_read_cb;
user_data_t fake_read_ud;
cdtime_t fake_read_interval;
int fake_read_registrations;
int fake_read_unregistrations;
user_data_t fake_removed_ud;
int fake_register_read_status;
int fake_sentinel_fd = -1;
cdtime_t fake_interval;
uint64_t fake_now_ns = UINT64_C(1000) * 1000000000;
fake_value_t *fake_values;
size_t fake_value_count;
int fake_dispatch_count_only;
size_t fake_dispatch_count;
static size_t fake_value_capacity;
static char log_buf[256 * 1024];
static size_t log_len;

void fake_reset(void) {
  free(fake_values);
  fake_values = NULL;
  fake_value_count = fake_value_capacity = 0;
  log_len = 0;
  log_buf[0] = '\0';
}

size_t fake_log_count(const char *needle) {
  size_t n = 0;
  for (const char *p = log_buf; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

const char *fake_log_text(void) { return log_buf; }

void fake_free_read(void) {
  if (fake_removed_ud.free_func != NULL)
    fake_removed_ud.free_func(fake_removed_ud.data);
  memset(&fake_removed_ud, 0, sizeof(fake_removed_ud));
  if (fake_read_ud.free_func != NULL)
    fake_read_ud.free_func(fake_read_ud.data);
  memset(&fake_read_ud, 0, sizeof(fake_read_ud));
  fake_read_cb = NULL;
}

/* ---- the daemon's API, as rapl.c uses it -------------------------------- */

int plugin_register_complex_config(const char *type,
                                   int (*callback)(oconfig_item_t *)) {
  (void)type;
  fake_config_cb = callback;
  return 0;
}

int plugin_register_init(const char *name, plugin_init_cb callback) {
  (void)name;
  fake_init_cb = callback;
  return 0;
}

int plugin_register_shutdown(const char *name, plugin_shutdown_cb callback) {
  (void)name;
  fake_shutdown_cb = callback;
  return 0;
}

int plugin_register_complex_read(const char *group, const char *name,
                                 plugin_read_cb callback, cdtime_t interval,
                                 user_data_t const *user_data) {
  (void)group, (void)name;
  if (fake_register_read_status != 0) {
    if (user_data != NULL && user_data->data != NULL &&
        user_data->free_func != NULL)
      user_data->free_func(user_data->data);
    fake_sentinel_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fake_register_read_status;
  }
  fake_read_cb = callback;
  fake_read_ud = *user_data;
  fake_read_interval = interval;
  fake_read_registrations++;
  return 0;
}

int plugin_unregister_read(const char *name) {
  (void)name;
  if (fake_read_cb == NULL)
    return -ENOENT;
  if (fake_removed_ud.free_func != NULL) /* one pending at a time */
    fake_removed_ud.free_func(fake_removed_ud.data);
  fake_removed_ud = fake_read_ud;
  memset(&fake_read_ud, 0, sizeof(fake_read_ud));
  fake_read_cb = NULL;
  fake_read_unregistrations++;
  return 0;
}

int plugin_dispatch_values(value_list_t const *vl) {
  fake_dispatch_count++;
  if (fake_dispatch_count_only)
    return 0;
  if (fake_value_count == fake_value_capacity) {
    fake_value_capacity = fake_value_capacity ? 2 * fake_value_capacity : 256;
    fake_values = realloc(fake_values, fake_value_capacity * sizeof(*fake_values));
  }
  fake_value_t *v = &fake_values[fake_value_count++];
  snprintf(v->id, sizeof(v->id), "%s%s%s/%s%s%s", vl->plugin,
           vl->plugin_instance[0] ? "-" : "", vl->plugin_instance, vl->type,
           vl->type_instance[0] ? "-" : "", vl->type_instance);
  v->value = strcmp(vl->type, "derive") == 0 ? (double)vl->values[0].derive
                                             : vl->values[0].gauge;
  v->time = vl->time;
  v->interval = vl->interval;
  return 0;
}

void plugin_log(int level, const char *format, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, format);
  vsnprintf(line, sizeof(line), format, ap);
  va_end(ap);
  int n = snprintf(log_buf + log_len, sizeof(log_buf) - log_len, "[%d] %s\n",
                   level, line);
  if (n > 0 && log_len + (size_t)n < sizeof(log_buf))
    log_len += (size_t)n;
}

cdtime_t plugin_get_interval(void) { return fake_interval; }

cdtime_t cdtime(void) { return NS_TO_CDTIME_T(fake_now_ns); }

char *sstrncpy(char *dest, const char *src, size_t n) {
  strncpy(dest, src, n);
  dest[n - 1] = '\0';
  return dest;
}

/* the core's clock (src/clock.h): this definition replaces clock.c */
uint64_t rapl_clock_ns(void) { return fake_now_ns; }
