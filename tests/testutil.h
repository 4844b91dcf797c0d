/* testutil.h - shared helpers for the Check test programs. */
#ifndef RAPL_TESTUTIL_H
#define RAPL_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "sim_machine.h"

/* Captures what the core logs (rapl_log) so tests can assert on it. */
void log_capture_start(void);
/* Number of captured messages containing `needle` (NULL: all). */
size_t log_count(const char *needle);
/* All captured messages, newline-separated (for failure messages). */
const char *log_text(void);

/* A fresh private directory under $TMPDIR, mode 0755; removed by rm_tree. */
char *make_temp_dir(const char *tag);
void rm_tree(const char *path);

/* Path of a shipped machine description (contrib/machines/<name>.yaml). */
const char *machine_path(const char *name, char *buf, size_t len);

/* Loads and builds a simulated machine under a fresh root; fails the
 * current test on any error. `root` receives the malloc'd root path. */
sim_machine_t *sim_start(const char *machine_name, char **root);
sim_machine_t *sim_start_string(const char *yaml, char **root);

/* Index of the simulated zone with this parent/name (e.g. "package-1",
 * "dram"), excluding mmio zones; fails the test when absent. */
size_t sim_find(const sim_machine_t *m, const char *key, const char *domain);

/* Writes `content` into a file (truncating), keeping its inode. */
void write_file(const char *path, const char *content);

/* Runs fn in a child as user nobody (root only): for permission tests,
 * since root reads 0400 files anyway. Returns the child's exit status,
 * or -1 when not root. */
int run_as_nobody(int (*fn)(void *), void *arg);

/* Runs every test of the suite (forking each), frees it, and returns the
 * process exit status: EXIT_SUCCESS when all passed. */
int run_suite(Suite *suite);

/* Frees a machine from sim_start and removes its root. */
void sim_stop(sim_machine_t *m, char *root);

#endif
