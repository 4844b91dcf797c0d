/* test_meter_cgroup.c - energy per cgroup through the meter (SPEC 9): the
 * simulated xeon-2s, its /proc/stat written here, and a cgroup v2 tree
 * made by hand (cgroup.controllers at the root, cpu.stat per cgroup) whose
 * usage_usec the test drives: the services' energies must be their share
 * of the machine-wide active energy.
 *
 * malloc, calloc and realloc are wrapped (-Wl,--wrap, Makefile.am) to count
 * the allocations of a steady read. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meter.h"
#include "alloc_count.h"
#include "testutil.h"

#define SEC UINT64_C(1000000000)


typedef struct {
  sim_machine_t *sim;
  char *root;
  char cg[4096]; /* the cgroup root */
  rapl_meter_t *meter;
  uint64_t now_ns;
  const rapl_value_t *values;
  size_t count;
  uint64_t busy[64], idle[64]; /* /proc/stat ticks per CPU */
  double busy_usec;            /* all CPUs' busy time so far, in usec */
  uint64_t tck;
} fixture_t;

/* Creates or rewrites a file in place (testutil's write_file wants it
 * there), without stdio: no allocation, for the steady-read test. */
static int put_file_raw(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  size_t len = strlen(text);
  ssize_t w = write(fd, text, len);
  return close(fd) == 0 && w == (ssize_t)len ? 0 : -1;
}

static void put_file(const char *path, const char *text) {
  ck_assert_msg(put_file_raw(path, text) == 0, "%s: %s", path, strerror(errno));
}

static void mkdir_p(fixture_t *f, const char *rel) {
  char path[8192];
  snprintf(path, sizeof(path), "%s/%s", f->cg, rel);
  ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
                path, strerror(errno));
  snprintf(path, sizeof(path), "%s/%s/cgroup.controllers", f->cg, rel);
  put_file(path, "cpu memory\n");
}

static int set_usage_raw(fixture_t *f, const char *rel, uint64_t usec) {
  char path[8192], text[256];
  snprintf(path, sizeof(path), "%s/%s/cpu.stat", f->cg, rel);
  snprintf(text, sizeof(text),
           "usage_usec %llu\nuser_usec %llu\nsystem_usec %llu\n"
           "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
           (unsigned long long)usec, (unsigned long long)(usec - usec / 3),
           (unsigned long long)(usec / 3));
  return put_file_raw(path, text);
}

static void set_usage(fixture_t *f, const char *rel, uint64_t usec) {
  ck_assert_int_eq(set_usage_raw(f, rel, usec), 0);
}

/* ROOT/proc/stat: `ticks` more per online CPU, busy at `ratio` (offline
 * CPUs have no line, as in the kernel's). */
static int write_stat_raw(fixture_t *f, uint64_t ticks, double ratio) {
  char path[4096], text[16384];
  snprintf(path, sizeof(path), "%s/proc", f->root);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/proc/stat", f->root);
  size_t len = (size_t)snprintf(text, sizeof(text), "cpu  0 0 0 0 0 0 0 0 0 0\n");
  for (unsigned c = 0; c < sim_cpu_count(f->sim) && c < 64; c++) {
    if (!sim_cpu_online(f->sim, c))
      continue;
    uint64_t b = (uint64_t)((double)ticks * ratio + 0.5);
    f->busy[c] += b;
    f->idle[c] += ticks - b;
    f->busy_usec += (double)b * 1e6 / (double)f->tck;
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "cpu%u %llu 0 %llu %llu 0 0 0 0 0 0\n", c,
                            (unsigned long long)(f->busy[c] - f->busy[c] / 3),
                            (unsigned long long)(f->busy[c] / 3),
                            (unsigned long long)f->idle[c]);
  }
  snprintf(text + len, sizeof(text) - len, "intr 0\nctxt 0\n");
  return put_file_raw(path, text);
}

static void write_stat(fixture_t *f, uint64_t ticks, double ratio) {
  ck_assert_int_eq(write_stat_raw(f, ticks, ratio), 0);
}

static void setup(fixture_t *f, const char *const *globs, size_t nglobs,
                  bool active_idle, bool total) {
  memset(f, 0, sizeof(*f));
  log_capture_start();
  f->sim = sim_start("xeon-2s", &f->root);
  f->tck = (uint64_t)sysconf(_SC_CLK_TCK);
  snprintf(f->cg, sizeof(f->cg), "%s/cgroup", f->root);
  ck_assert_int_eq(mkdir(f->cg, 0755), 0);
  char path[8192];
  snprintf(path, sizeof(path), "%s/cgroup.controllers", f->cg);
  put_file(path, "cpuset cpu io memory pids\n");
  mkdir_p(f, "system.slice");
  mkdir_p(f, "system.slice/a.service");
  mkdir_p(f, "system.slice/b.service");
  mkdir_p(f, "user.slice");
  set_usage(f, "system.slice", 0);
  set_usage(f, "system.slice/a.service", 0);
  set_usage(f, "system.slice/b.service", 0);
  set_usage(f, "user.slice", 0);
  write_stat(f, 0, 0.5);
  static rapl_options_t o; /* 16 KiB of globs: not on the stack */
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f->root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", f->root);
  snprintf(o.cgroup_path, sizeof(o.cgroup_path), "%s", f->cg);
  char err[1024];
  ck_assert_msg(rapl_options_set_cgroups(&o, globs, nglobs, err, sizeof(err)) == 0,
                "%s", err);
  o.active_idle = active_idle;
  o.total = total;
  f->meter = rapl_meter_new(&o);
  ck_assert_ptr_nonnull(f->meter);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f->meter, why, sizeof(why)) == 0, "%s", why);
  f->now_ns = 1000 * SEC;
}

static void teardown(fixture_t *f) {
  rapl_meter_free(f->meter);
  sim_free(f->sim);
  rm_tree(f->root);
  free(f->root);
}

static void read_now(fixture_t *f) {
  ck_assert_int_eq(rapl_meter_read(f->meter, f->now_ns, &f->values, &f->count), 0);
}

/* `seconds` pass: the zones' energy, every CPU busy at `ratio`, and the
 * cgroups in `names` use shares[i] of that busy time; then a read. */
static void step(fixture_t *f, uint64_t seconds, double ratio,
                 const char *const *names, const double *shares, size_t n,
                 uint64_t *usage) {
  ck_assert_int_eq(sim_advance_ns(f->sim, seconds * SEC), 0);
  f->now_ns += seconds * SEC;
  double before = f->busy_usec;
  write_stat(f, seconds * f->tck, ratio);
  double busy = f->busy_usec - before;
  for (size_t i = 0; i < n; i++) {
    usage[i] += (uint64_t)(shares[i] * busy + 0.5);
    set_usage(f, names[i], usage[i]);
  }
  read_now(f);
}

static const rapl_value_t *find(const fixture_t *f, rapl_value_kind_t kind,
                                const char *zone, const char *name) {
  for (size_t i = 0; i < f->count; i++)
    if (f->values[i].kind == kind && strcmp(f->values[i].zone, zone) == 0 &&
        strcmp(f->values[i].name, name) == 0)
      return &f->values[i];
  return NULL;
}

static double joules(const fixture_t *f, const char *zone, const char *name) {
  const rapl_value_t *v = find(f, RAPL_VALUE_ENERGY, zone, name);
  ck_assert_msg(v != NULL, "no energy %s/%s", zone, name);
  return (double)v->joules;
}

static double watts(const fixture_t *f, const char *zone, const char *name) {
  const rapl_value_t *v = find(f, RAPL_VALUE_POWER, zone, name);
  ck_assert_msg(v != NULL, "no power %s/%s", zone, name);
  return v->value;
}

static size_t count_zone(const fixture_t *f, const char *zone) {
  size_t n = 0;
  for (size_t i = 0; i < f->count; i++)
    n += strcmp(f->values[i].zone, zone) == 0;
  return n;
}

static double sim_watts(const fixture_t *f, const char *key, const char *domain) {
  return (double)sim_zone_power_uw(f->sim, sim_find(f->sim, key, domain)) / 1e6;
}

static double sim_watts_of(const sim_machine_t *sim, const char *key,
                           const char *domain) {
  return (double)sim_zone_power_uw(sim, sim_find(sim, key, domain)) / 1e6;
}

#define A "cgroup-system.slice_a.service"
#define B "cgroup-system.slice_b.service"

static const char *const services[] = {"system.slice/*.service"};
static const char *const names[] = {"system.slice/a.service",
                                    "system.slice/b.service"};
static const double shares[] = {0.30, 0.15};

/* Two services using 0.30 and 0.15 of the busy CPU time get 0.30 and
 * 0.15 of total/<domain>-active, energy and power, in every domain; their
 * first read is a baseline (0 J, no power). */
START_TEST(services_get_their_share_of_the_active_energy) {
  fixture_t f;
  setup(&f, services, 1, true, true);
  uint64_t usage[2] = {0, 0};
  read_now(&f);
  ck_assert_double_eq(joules(&f, A, "package"), 0);
  ck_assert_double_eq(joules(&f, B, "dram"), 0);
  ck_assert_ptr_null(find(&f, RAPL_VALUE_POWER, A, "package"));
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "cgroup-user.slice", "package"));
  for (int k = 0; k < 30; k++) /* 5 minutes: rescans on the way */
    step(&f, 10, 0.6, names, shares, 2, usage);
  const char *domains[] = {"package", "dram"};
  for (size_t d = 0; d < 2; d++) {
    char active[64];
    snprintf(active, sizeof(active), "%s-active", domains[d]);
    double total_j = joules(&f, "total", active);
    double total_w = watts(&f, "total", active);
    double a_j = joules(&f, A, domains[d]), b_j = joules(&f, B, domains[d]);
    double a_w = watts(&f, A, domains[d]), b_w = watts(&f, B, domains[d]);
    fprintf(stderr,
            "%s: total active %.0f J %.3f W; a %.0f J (%.4f) %.3f W; "
            "b %.0f J (%.4f) %.3f W\n",
            domains[d], total_j, total_w, a_j, a_j / total_j, a_w, b_j,
            b_j / total_j, b_w);
    ck_assert_double_eq_tol(a_j, 0.30 * total_j, 0.01 * 0.30 * total_j);
    ck_assert_double_eq_tol(b_j, 0.15 * total_j, 0.01 * 0.15 * total_j);
    ck_assert_double_eq_tol(a_w, 0.30 * total_w, 0.01 * 0.30 * total_w);
    ck_assert_double_eq_tol(b_w, 0.15 * total_w, 0.01 * 0.15 * total_w);
  }
  /* the machine-wide active power is the truth times the busy ratio */
  double truth_w = 0.6 * (sim_watts(&f, "package-0", "package") +
                          sim_watts(&f, "package-1", "package"));
  ck_assert_double_eq_tol(watts(&f, A, "package"), 0.30 * truth_w,
                          0.01 * 0.30 * truth_w);
  /* energy, power per domain; nothing else per cgroup */
  ck_assert_uint_eq(count_zone(&f, A), 4);
  teardown(&f);
}
END_TEST

/* ActiveIdle false and Total false: nothing of the split nor the totals is
 * dispatched, and yet the cgroups get their share of the machine-wide
 * active energy (computed for them). */
START_TEST(shares_without_active_idle_nor_total) {
  fixture_t f;
  setup(&f, services, 1, false, false);
  uint64_t usage[2] = {0, 0};
  read_now(&f);
  for (int k = 0; k < 6; k++)
    step(&f, 10, 0.8, names, shares, 2, usage);
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "total", "package"));
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, "package-0", "package-active"));
  double sum_w = sim_watts(&f, "package-0", "package") +
                 sim_watts(&f, "package-1", "package");
  double a_w = watts(&f, A, "package");
  fprintf(stderr, "no split, no total: a %.3f W of %.3f W active (%.4f)\n",
          a_w, 0.8 * sum_w, a_w / (0.8 * sum_w));
  ck_assert_double_eq_tol(a_w, 0.30 * 0.8 * sum_w, 0.01 * 0.30 * 0.8 * sum_w);
  /* 60 s at the same power: the energy agrees */
  ck_assert_double_eq_tol(joules(&f, A, "package"), 0.30 * 0.8 * sum_w * 60,
                          0.01 * 0.30 * 0.8 * sum_w * 60);
  teardown(&f);
}
END_TEST

/* A service stopped (its cgroup removed) and started again (a new
 * directory: a new id): dispatched no more after the rescan, then from
 * 0 J again. */
START_TEST(service_restarted_starts_again_from_zero) {
  fixture_t f;
  setup(&f, services, 1, true, true);
  uint64_t usage[2] = {0, 0};
  read_now(&f);
  for (int k = 0; k < 3; k++)
    step(&f, 10, 0.6, names, shares, 2, usage);
  double b_before = joules(&f, B, "package");
  ck_assert(b_before > 0);
  /* stop b: its cgroup goes; a rescan (within 60 s) drops it */
  char path[8192];
  snprintf(path, sizeof(path), "%s/system.slice/b.service", f.cg);
  rm_tree(path);
  for (int k = 0; k < 7; k++)
    step(&f, 10, 0.6, names, shares, 1, usage);
  ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, B, "package"));
  ck_assert_uint_eq(count_zone(&f, B), 0);
  /* start it again: a new cgroup of the same path, made while another
   * directory holds the old inode number (ext4 reuses freed ones) */
  mkdir_p(&f, "system.slice/keep");
  mkdir_p(&f, "system.slice/b.service");
  usage[1] = 0;
  set_usage(&f, "system.slice/b.service", 0);
  bool seen = false;
  for (int k = 0; k < 7 && !seen; k++) {
    step(&f, 10, 0.6, names, shares, 2, usage);
    const rapl_value_t *v = find(&f, RAPL_VALUE_ENERGY, B, "package");
    if (v != NULL) {
      seen = true;
      ck_assert_uint_eq(v->joules, 0); /* its first read: a baseline */
      ck_assert_ptr_null(find(&f, RAPL_VALUE_POWER, B, "package"));
    }
  }
  ck_assert_msg(seen, "b.service not picked up again within 70 s");
  step(&f, 10, 0.6, names, shares, 2, usage);
  double b_after = joules(&f, B, "package");
  ck_assert(b_after > 0 && b_after < b_before);
  ck_assert_double_eq_tol(watts(&f, B, "package"),
                          0.15 * watts(&f, "total", "package-active"),
                          0.01 * 0.15 * watts(&f, "total", "package-active"));
  teardown(&f);
}
END_TEST

/* A cgroup listed whose cpu.stat is gone by the time it is read (removed
 * between listing and read): skipped, never dispatched, said once however
 * many reads and rescans follow; the others go on. */
START_TEST(removed_between_listing_and_read_is_skipped_and_logged_once) {
  fixture_t f;
  setup(&f, services, 1, true, true);
  /* matched by the glob, no cpu.stat: as if removed after the listing */
  char path[8192];
  snprintf(path, sizeof(path), "%s/system.slice/c.service", f.cg);
  ck_assert_int_eq(mkdir(path, 0755), 0);
  uint64_t usage[2] = {0, 0};
  for (int k = 0; k < 14; k++) /* rescans at least twice */
    step(&f, 10, 0.6, names, shares, 2, usage);
  ck_assert_uint_eq(count_zone(&f, "cgroup-system.slice_c.service"), 0);
  ck_assert_msg(log_count("system.slice/c.service") == 1, "%s", log_text());
  ck_assert_double_eq_tol(watts(&f, A, "package"),
                          0.30 * watts(&f, "total", "package-active"),
                          0.01 * 0.30 * watts(&f, "total", "package-active"));
  teardown(&f);
}
END_TEST

/* cpu.stat that cannot be read (garbage) for a while: one WARNING naming
 * the cgroup, not dispatched meanwhile, one line when it reads again, and
 * no CPU time lost: the energy is its share still. */
START_TEST(read_failure_is_one_episode_and_loses_nothing) {
  fixture_t f;
  setup(&f, services, 1, true, true);
  uint64_t usage[2] = {0, 0};
  read_now(&f);
  for (int k = 0; k < 3; k++)
    step(&f, 10, 0.6, names, shares, 2, usage);
  for (int k = 0; k < 3; k++) {
    step(&f, 10, 0.6, names, shares, 2, usage);
    char path[8192];
    snprintf(path, sizeof(path), "%s/system.slice/a.service/cpu.stat", f.cg);
    put_file(path, "usage_usec oops\n");
    read_now(&f); /* the same instant: no time, only the failure */
    ck_assert_ptr_null(find(&f, RAPL_VALUE_ENERGY, A, "package"));
    ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_ENERGY, B, "package"));
  }
  for (int k = 0; k < 3; k++)
    step(&f, 10, 0.6, names, shares, 2, usage);
  ck_assert_msg(log_count("cgroup system.slice/a.service: reading") == 1, "%s",
                log_text());
  ck_assert_msg(log_count("cgroup system.slice/a.service: cpu.stat reads again") == 1,
                "%s", log_text());
  double total_j = joules(&f, "total", "package-active");
  double a_j = joules(&f, A, "package");
  fprintf(stderr, "after a read failure: a %.0f J of %.0f J active (%.4f)\n",
          a_j, total_j, a_j / total_j);
  ck_assert_double_eq_tol(a_j, 0.30 * total_j, 0.01 * 0.30 * total_j);
  teardown(&f);
}
END_TEST

/* A parent and its children all matched: the parent keeps its whole share
 * (its children's time is in it), and the cgroups that do not contain
 * each other never get more than the active energy. */
START_TEST(parent_and_children_overlap_within_the_active_energy) {
  fixture_t f;
  const char *const globs[] = {"system.slice", "system.slice/*.service",
                               "user.slice"};
  setup(&f, globs, 3, true, true);
  const char *const all[] = {"system.slice", "system.slice/a.service",
                             "system.slice/b.service", "user.slice"};
  /* system.slice: a + b + 0.05 of its own; user.slice 0.53: the top level
   * adds up to 1.03 of the busy time (rounding), clamped to 1 */
  const double s[] = {0.50, 0.30, 0.15, 0.53};
  uint64_t usage[4] = {0, 0, 0, 0};
  read_now(&f);
  for (int k = 0; k < 6; k++)
    step(&f, 10, 0.6, all, s, 4, usage);
  double total_j = joules(&f, "total", "package-active");
  double sys_j = joules(&f, "cgroup-system.slice", "package");
  double user_j = joules(&f, "cgroup-user.slice", "package");
  double a_j = joules(&f, A, "package");
  fprintf(stderr,
          "overlap: system.slice %.0f J + user.slice %.0f J = %.0f J of %.0f J "
          "active; a %.0f J\n",
          sys_j, user_j, sys_j + user_j, total_j, a_j);
  ck_assert(sys_j + user_j <= total_j);
  ck_assert_double_eq_tol(sys_j, 0.50 / 1.03 * total_j, 0.01 * total_j);
  ck_assert_double_eq_tol(a_j, 0.30 / 1.03 * total_j, 0.01 * total_j);
  ck_assert(sys_j > a_j + joules(&f, B, "package"));
  teardown(&f);
}
END_TEST

/* A CgroupPath that is not a cgroup v2 root fails the start, with one
 * line naming CgroupPath. */
START_TEST(not_cgroup_v2_fails_the_start) {
  log_capture_start();
  char *root = NULL;
  sim_machine_t *sim = sim_start("xeon-2s", &root);
  static rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", root);
  snprintf(o.cgroup_path, sizeof(o.cgroup_path), "%s/sys", root); /* no v2 */
  char err[256];
  ck_assert_int_eq(rapl_options_set_cgroups(&o, services, 1, err, sizeof(err)), 0);
  rapl_meter_t *m = rapl_meter_new(&o);
  char why[2048];
  ck_assert_int_eq(rapl_meter_start(m, why, sizeof(why)), -1);
  ck_assert_msg(strstr(why, "CgroupPath") != NULL && strchr(why, '\n') == NULL,
                "%s", why);
  ck_assert_ptr_null(rapl_meter_source(m));
  rapl_meter_free(m);
  sim_free(sim);
  rm_tree(root);
  free(root);
}
END_TEST

/* Reads between rescans allocate nothing, cgroups and all. */
START_TEST(steady_reads_allocate_nothing) {
  fixture_t f;
  setup(&f, services, 1, true, true);
  uint64_t usage[2] = {0, 0};
  read_now(&f);
  step(&f, 1, 0.6, names, shares, 2, usage);
  step(&f, 1, 0.6, names, shares, 2, usage);
  /* no ck_assert in the loop: Check allocates to record where it is */
  int failed = 0;
  size_t before = allocations;
  for (int k = 0; k < 20; k++) { /* 20 s: no rescan */
    failed += sim_advance_ns(f.sim, SEC) != 0;
    f.now_ns += SEC;
    failed += write_stat_raw(&f, f.tck, 0.6) != 0;
    for (size_t i = 0; i < 2; i++) {
      usage[i] += (uint64_t)(shares[i] * 0.6 * 1e6 * 14); /* 14 CPUs */
      failed += set_usage_raw(&f, names[i], usage[i]) != 0;
    }
    failed += rapl_meter_read(f.meter, f.now_ns, &f.values, &f.count) != 0;
  }
  size_t reads = allocations - before;
  ck_assert_int_eq(failed, 0);
  ck_assert_ptr_nonnull(find(&f, RAPL_VALUE_POWER, A, "package"));
  ck_assert_msg(reads == 0, "%zu allocations in 20 reads", reads);
  teardown(&f);
}
END_TEST

/* ---- the simulator's services (contrib/machines/xeon-2s-services.yaml) ---- */

typedef struct {
  sim_machine_t *sim;
  char *root;
  rapl_meter_t *meter;
  uint64_t now_ns;
  const rapl_value_t *values;
  size_t count;
} sim_fixture_t;

static void sim_setup(sim_fixture_t *f, const char *const *globs, size_t n) {
  memset(f, 0, sizeof(*f));
  log_capture_start();
  f->sim = sim_start("xeon-2s-services", &f->root);
  ck_assert(sim_has_cgroups(f->sim) && sim_has_stat(f->sim));
  static rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f->root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", f->root);
  snprintf(o.cgroup_path, sizeof(o.cgroup_path), "%s", sim_cgroup_root(f->sim));
  char err[1024];
  ck_assert_msg(rapl_options_set_cgroups(&o, globs, n, err, sizeof(err)) == 0,
                "%s", err);
  f->meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f->meter, why, sizeof(why)) == 0, "%s", why);
  f->now_ns = 1000 * SEC;
  ck_assert_int_eq(rapl_meter_read(f->meter, f->now_ns, &f->values, &f->count), 0);
}

static void sim_step(sim_fixture_t *f, uint64_t seconds) {
  ck_assert_int_eq(sim_advance_ns(f->sim, seconds * SEC), 0);
  f->now_ns += seconds * SEC;
  ck_assert_int_eq(rapl_meter_read(f->meter, f->now_ns, &f->values, &f->count), 0);
}

static const rapl_value_t *sim_value(const sim_fixture_t *f,
                                     rapl_value_kind_t kind, const char *zone,
                                     const char *name) {
  for (size_t i = 0; i < f->count; i++)
    if (f->values[i].kind == kind && strcmp(f->values[i].zone, zone) == 0 &&
        strcmp(f->values[i].name, name) == 0)
      return &f->values[i];
  return NULL;
}

static double sim_get(const sim_fixture_t *f, rapl_value_kind_t kind,
                      const char *zone, const char *name) {
  const rapl_value_t *v = sim_value(f, kind, zone, name);
  ck_assert_msg(v != NULL, "no %s/%s", zone, name);
  return kind == RAPL_VALUE_ENERGY ? (double)v->joules : v->value;
}

static void sim_teardown(sim_fixture_t *f) {
  rapl_meter_free(f->meter);
  sim_free(f->sim);
  rm_tree(f->root);
  free(f->root);
}

#define NGINX "cgroup-system.slice_nginx.service"
#define PG "cgroup-system.slice_postgresql.service"
static const char *const sim_globs[] = {"system.slice",
                                        "system.slice/*.service"};

/* The simulated services (shares 0.30 and 0.15 of all CPUs' busy time,
 * system.slice 0.50) get that share of the machine-wide active energy,
 * against the meter's total/<domain>-active and against the simulator's
 * truth: the zones' power x the busy ratio of the online CPUs. */
START_TEST(simulated_services_get_their_share) {
  sim_fixture_t f;
  sim_setup(&f, sim_globs, 2);
  for (int k = 0; k < 30; k++)
    sim_step(&f, 10);
  double n[2] = {0, 0}, busy[2] = {0, 0};
  for (unsigned c = 0; c < sim_cpu_count(f.sim); c++)
    if (sim_cpu_online(f.sim, c)) {
      n[sim_cpu_package(f.sim, c)]++;
      busy[sim_cpu_package(f.sim, c)] += sim_cpu_busy(f.sim, c);
    }
  double ratio = (busy[0] + busy[1]) / (n[0] + n[1]);
  const char *domains[] = {"package", "dram"};
  const struct {
    const char *zone;
    double share;
  } svc[] = {{NGINX, 0.30}, {PG, 0.15}, {"cgroup-system.slice", 0.50}};
  for (size_t d = 0; d < 2; d++) {
    char active[64];
    snprintf(active, sizeof(active), "%s-active", domains[d]);
    double total_j = sim_get(&f, RAPL_VALUE_ENERGY, "total", active);
    double total_w = sim_get(&f, RAPL_VALUE_POWER, "total", active);
    double truth_w = ratio * (sim_watts_of(f.sim, "package-0", domains[d]) +
                              sim_watts_of(f.sim, "package-1", domains[d]));
    for (size_t s = 0; s < 3; s++) {
      double j = sim_get(&f, RAPL_VALUE_ENERGY, svc[s].zone, domains[d]);
      double w = sim_get(&f, RAPL_VALUE_POWER, svc[s].zone, domains[d]);
      fprintf(stderr,
              "sim %s %s: %.0f J = %.4f of %.0f J active; %.3f W vs "
              "%.2f x %.3f W truth (%+.3f %%)\n",
              svc[s].zone, domains[d], j, j / total_j, total_j, w,
              svc[s].share, truth_w,
              100 * (w - svc[s].share * truth_w) / (svc[s].share * truth_w));
      ck_assert_double_eq_tol(j, svc[s].share * total_j,
                              0.01 * svc[s].share * total_j);
      ck_assert_double_eq_tol(w, svc[s].share * total_w,
                              0.01 * svc[s].share * total_w);
      ck_assert_double_eq_tol(w, svc[s].share * truth_w,
                              0.01 * svc[s].share * truth_w);
    }
  }
  sim_teardown(&f);
}
END_TEST

/* A simulated service stopped (removed: its open cpu.stat reads nothing)
 * is skipped at once, said once, dropped at the rescan; started again (a
 * new directory) it starts from 0 J. */
START_TEST(simulated_service_stopped_and_started) {
  sim_fixture_t f;
  sim_setup(&f, sim_globs, 2);
  for (int k = 0; k < 3; k++)
    sim_step(&f, 10);
  double before = sim_get(&f, RAPL_VALUE_ENERGY, PG, "package");
  ck_assert(before > 0);
  ck_assert_int_eq(sim_cgroup_remove(f.sim, "system.slice/postgresql.service"), 0);
  for (int k = 0; k < 8; k++) { /* removed between listing and read */
    sim_step(&f, 10);
    ck_assert_ptr_null(sim_value(&f, RAPL_VALUE_ENERGY, PG, "package"));
    ck_assert_ptr_nonnull(sim_value(&f, RAPL_VALUE_ENERGY, NGINX, "package"));
  }
  ck_assert_msg(log_count("system.slice/postgresql.service") == 1, "%s",
                log_text());
  ck_assert_int_eq(sim_cgroup_add(f.sim, "system.slice/postgresql.service", 0.15), 0);
  bool seen = false;
  for (int k = 0; k < 7 && !seen; k++) {
    sim_step(&f, 10);
    const rapl_value_t *v = sim_value(&f, RAPL_VALUE_ENERGY, PG, "package");
    if (v != NULL) {
      seen = true;
      ck_assert_uint_eq(v->joules, 0);
      ck_assert_ptr_null(sim_value(&f, RAPL_VALUE_POWER, PG, "package"));
    }
  }
  ck_assert_msg(seen, "postgresql.service not picked up again within 70 s");
  sim_step(&f, 10);
  double after = sim_get(&f, RAPL_VALUE_ENERGY, PG, "package");
  double w = sim_get(&f, RAPL_VALUE_POWER, PG, "package");
  double total_w = sim_get(&f, RAPL_VALUE_POWER, "total", "package-active");
  fprintf(stderr, "sim restart: %.0f J before, %.0f J 10 s after; %.3f W = %.4f of %.3f W\n",
          before, after, w, w / total_w, total_w);
  ck_assert(after > 0 && after < before);
  ck_assert_double_eq_tol(w, 0.15 * total_w, 0.01 * 0.15 * total_w);
  sim_teardown(&f);
}
END_TEST

/* ActiveIdle false: the topology is still followed at rescans for the
 * cgroups' sake. Two CPUs brought online after start (busy like their
 * package) count in the busy time the shares divide by; were they left out
 * (a topology loaded once), the services would get more than their share. */
START_TEST(cpus_coming_online_count_without_active_idle) {
  sim_fixture_t f;
  static const char *const svc_glob[] = {"system.slice/*.service"};
  memset(&f, 0, sizeof(f));
  log_capture_start();
  f.sim = sim_start("xeon-2s-services", &f.root);
  static rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", f.root);
  snprintf(o.procfs_path, sizeof(o.procfs_path), "%s/proc", f.root);
  snprintf(o.cgroup_path, sizeof(o.cgroup_path), "%s", sim_cgroup_root(f.sim));
  char err[1024];
  ck_assert_int_eq(rapl_options_set_cgroups(&o, svc_glob, 1, err, sizeof(err)), 0);
  o.active_idle = false;
  f.meter = rapl_meter_new(&o);
  char why[2048];
  ck_assert_msg(rapl_meter_start(f.meter, why, sizeof(why)) == 0, "%s", why);
  f.now_ns = 1000 * SEC;
  ck_assert_int_eq(rapl_meter_read(f.meter, f.now_ns, &f.values, &f.count), 0);
  for (int k = 0; k < 3; k++)
    sim_step(&f, 10);
  ck_assert_int_eq(sim_cpu_set_online(f.sim, 2, 1), 0);
  ck_assert_int_eq(sim_cpu_set_online(f.sim, 9, 1), 0);
  ck_assert_int_eq(sim_cpu_set_busy(f.sim, 2, sim_cpu_busy(f.sim, 0)), 0);
  ck_assert_int_eq(sim_cpu_set_busy(f.sim, 9, sim_cpu_busy(f.sim, 8)), 0);
  for (int k = 0; k < 9; k++) /* a rescan on the way */
    sim_step(&f, 10);
  double busy = 0;
  for (unsigned c = 0; c < sim_cpu_count(f.sim); c++)
    if (sim_cpu_online(f.sim, c))
      busy += sim_cpu_busy(f.sim, c);
  double ratio = busy / (double)sim_cpu_count(f.sim);
  double truth_w = ratio * (sim_watts_of(f.sim, "package-0", "package") +
                            sim_watts_of(f.sim, "package-1", "package"));
  double w = sim_get(&f, RAPL_VALUE_POWER, NGINX, "package");
  fprintf(stderr, "CPUs online later, no ActiveIdle: nginx %.3f W vs 0.30 x %.3f W (%+.3f %%)\n",
          w, truth_w, 100 * (w - 0.30 * truth_w) / (0.30 * truth_w));
  ck_assert_double_eq_tol(w, 0.30 * truth_w, 0.01 * 0.30 * truth_w);
  sim_teardown(&f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("meter_cgroup");
  TCase *tc = tcase_create("meter_cgroup");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, services_get_their_share_of_the_active_energy);
  tcase_add_test(tc, shares_without_active_idle_nor_total);
  tcase_add_test(tc, service_restarted_starts_again_from_zero);
  tcase_add_test(tc, removed_between_listing_and_read_is_skipped_and_logged_once);
  tcase_add_test(tc, read_failure_is_one_episode_and_loses_nothing);
  tcase_add_test(tc, parent_and_children_overlap_within_the_active_energy);
  tcase_add_test(tc, not_cgroup_v2_fails_the_start);
  tcase_add_test(tc, steady_reads_allocate_nothing);
  tcase_add_test(tc, simulated_services_get_their_share);
  tcase_add_test(tc, simulated_service_stopped_and_started);
  tcase_add_test(tc, cpus_coming_online_count_without_active_idle);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
