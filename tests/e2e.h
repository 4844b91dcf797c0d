/* e2e.h - helpers of the end-to-end tests: processes (collectd, rapl-sim),
 * collectd configurations, and reading what the csv plugin wrote.
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES. */
#ifndef RAPL_E2E_H
#define RAPL_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testutil.h"

/* An environment variable that must be set (fails the test otherwise). */
const char *env(const char *name);
/* a/b, malloc'd */
char *path_join(const char *a, const char *b);
double now_s(void);
/* fork + exec with stdout and stderr appended to `log` */
pid_t spawn(char *const argv[], const char *log);
/* the same with standard input from a pipe, whose write end is *in */
pid_t spawn_piped(char *const argv[], const char *log, int *in);
/* exit status, or -1 after killing it at the timeout */
int wait_exit(pid_t pid, double timeout_s);
/* a whole file, malloc'd ("" when missing) */
char *slurp(const char *path);
size_t count_lines_with(const char *text, const char *needle);
uint64_t read_u64(const char *path);

/* a simulated machine run by rapl-sim, and the dir of one test */
typedef struct {
  char *dir;  /* everything of this test */
  char *root; /* the simulated machine's "/" */
  pid_t sim;
  int sim_in;           /* rapl-sim's standard input: fault commands */
  sim_machine_t *model; /* same description, for zone facts (not run) */
} e2e_t;

/* Starts `rapl-sim run` on the machine under t->root (t->dir and t->root
 * are created unless set), counters wrapping wrap_in_s from now, with up
 * to three extra arguments (NULL-terminated early); waits for "ready". */
void start_sim_args(e2e_t *t, const char *machine, double wrap_in_s,
                    const char *extra1, const char *extra2, const char *extra3);
void start_sim(e2e_t *t, const char *machine, double wrap_in_s);
/* Sends one command to rapl-sim (contrib/sim/README.md: fault, vanish,
 * set, ...) and waits for its "ok <command>" answer. */
void sim_command(e2e_t *t, const char *command);
/* stops rapl-sim (it must exit 0) and removes t->dir */
void stop_sim(e2e_t *t);

/* dir/collectd.conf: logfile (dir/collectd.log) and csv (dir/csv) from
 * Debian's plugin directory, rapl from the build tree. */
char *write_conf(const char *dir, const char *sysfs,
                 const char *rapl_block_extra, int interval_s);
/* collectd -f for `seconds`, then SIGTERM; its exit status */
int run_collectd(const char *dir, const char *conf, double seconds,
                 char *const *wrapper);

/* what the csv plugin wrote for host "e2e" */
#define MAX_SERIES 64
#define MAX_POINTS 512
typedef struct {
  char id[1024]; /* "rapl-package-0/power-dram" */
  size_t n;
  double t[MAX_POINTS], v[MAX_POINTS];
} series_t;

typedef struct {
  series_t s[MAX_SERIES];
  size_t n;
} csv_t;

void read_csv(const char *dir, csv_t *out);
const series_t *series(const csv_t *c, const char *id);
/* read_csv of the plugin directories named prefix* only */
void read_csv_plugin(const char *dir, const char *prefix, csv_t *out);

/* What a simulated machine should show: one entry per zone and domain
 * (mmio duplicates left out), then the per-domain totals, with the
 * simulated watts. amd_core_sum: the MSR source sums AMD's per-core
 * counters, where powercap shows the lead core only. */
typedef struct {
  char zone[64], domain[32];
  double watts;
} expect_t;
size_t expected_zones(const sim_machine_t *m, expect_t *e, size_t max,
                      bool amd_core_sum);

#endif
