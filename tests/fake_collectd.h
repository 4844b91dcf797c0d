/* fake_collectd.h - just enough of the collectd daemon to drive src/rapl.c
 * in-process: its callbacks, dispatched values, log lines and a clock the
 * test moves. (The real daemon is tested in test_collectd.c.) */
#ifndef RAPL_FAKE_COLLECTD_H
#define RAPL_FAKE_COLLECTD_H

#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"

typedef struct {
  char id[512]; /* plugin-instance/type-type_instance */
  double value; /* gauge, or derive as double */
  cdtime_t time;
  cdtime_t interval;
} fake_value_t;

/* What the plugin registered. */
extern int (*fake_config_cb)(oconfig_item_t *);
extern plugin_init_cb fake_init_cb;
extern plugin_shutdown_cb fake_shutdown_cb;
extern plugin_read_cb fake_read_cb;
extern user_data_t fake_read_ud;
extern cdtime_t fake_read_interval;
extern int fake_read_registrations;
extern int fake_read_unregistrations;
/* What plugin_unregister_read removed: collectd frees it once the running
 * callback has returned; fake_free_read() does. */
extern user_data_t fake_removed_ud;

/* What collectd would answer. */
/* Non-zero: plugin_register_complex_read fails with this status and, as
 * collectd 5.12 does on every failure path (free_userdata in
 * src/daemon/plugin.c), frees the user data itself. It then opens
 * /dev/null as fake_sentinel_fd, which takes the lowest free descriptor -
 * one the freed user data just closed - so a second close of it by the
 * plugin is seen (fcntl on the sentinel fails). */
extern int fake_register_read_status;
extern int fake_sentinel_fd;
extern cdtime_t fake_interval;   /* plugin_get_interval() */
extern uint64_t fake_now_ns;     /* rapl_clock_ns() and cdtime() */

/* Dispatched values since fake_reset(); log lines too. */
extern fake_value_t *fake_values;
extern size_t fake_value_count;
/* Non-zero: plugin_dispatch_values only counts (fake_dispatch_count),
 * recording nothing - no allocation, no formatting (tests/bench). */
extern int fake_dispatch_count_only;
extern size_t fake_dispatch_count;
size_t fake_log_count(const char *needle);
const char *fake_log_text(void);

void fake_reset(void);

/* The read callback's user data freed as collectd frees it at shutdown. */
void fake_free_read(void);

#endif
