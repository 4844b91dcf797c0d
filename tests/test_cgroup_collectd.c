/* test_cgroup_collectd.c - energy per cgroup (issue 11, SPEC 9) end to
 * end: the real collectd loads the freshly built rapl.so on a simulated
 * 2-socket Xeon with two systemd services in a cgroup v2 tree
 * (contrib/machines/xeon-2s-services.yaml: nginx 0.30 and postgresql 0.15
 * of all busy CPU time, system.slice 0.50), the powercap counters served
 * over FUSE so they are exact at each read.
 *
 *   - services: Cgroups with the glob of system.slice's *.service, csv. Each
 *     power-package is its share x the total's power-package-active at the
 *     same timestamp (1 %) and x the simulator's truth; its derive starts
 *     at 0 and never goes back. postgresql is stopped (rapl-sim
 *     `cgroup-remove`): no longer dispatched from the next read, one
 *     WARNING for it in the whole run; started again (`cgroup-add`) it is
 *     found at the next rescan (about 60 s) and starts from 0 J.
 *   - overlap: the parent "system.slice" matched too: it gets its own
 *     share (0.50), which includes its services'.
 *   - graphite: the same services through write_graphite (every option at
 *     its default) to a real carbon-cache; the whisper paths are the
 *     README's ("h1.rapl-cgroup-system_slice_nginx_service.power-package").
 *
 * Environment (set by `make check`): COLLECTD, RAPL_PLUGIN_DIR, RAPL_SIM,
 * RAPL_MACHINES. */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "servers.h"
#include "testutil.h"

#define MACHINE "xeon-2s-services"
#define NGINX "cgroup-system.slice_nginx.service"
#define PG "cgroup-system.slice_postgresql.service"
#define SLICE "cgroup-system.slice"
#define INTERVAL 2

/* the rapl block: the sim's /proc and cgroup tree, the given globs */
static char *rapl_block(const e2e_t *t, const char *globs) {
  char *s = NULL;
  ck_assert_int_ge(asprintf(&s,
                            "  ProcfsPath \"%s/proc\"\n"
                            "  CgroupPath \"%s/sys/fs/cgroup\"\n"
                            "  Cgroups %s\n",
                            t->root, t->root, globs),
                   0);
  return s;
}

static pid_t start_collectd(const char *dir, const char *conf) {
  char *log = path_join(dir, "collectd.stderr");
  char *argv[] = {(char *)env("COLLECTD"), "-f", "-C", (char *)conf, NULL};
  pid_t pid = spawn(argv, log);
  free(log);
  return pid;
}

/* sleeps until `until` (now_s() clock), failing if collectd exits */
static void run_until(pid_t pid, double until) {
  while (now_s() < until) {
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "collectd exited early");
    usleep(50000);
  }
}

/* the wall clock, as the csv plugin's epoch (now_s() is CLOCK_MONOTONIC) */
static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int stop_collectd(pid_t pid) {
  kill(pid, SIGTERM);
  return wait_exit(pid, 60);
}

/* the simulator's truth: the zones' power of a domain x the busy ratio of
 * the online CPUs (what the machine-wide active power must be) */
static double truth_active_w(const sim_machine_t *m, const char *domain) {
  double n = 0, busy = 0;
  for (unsigned c = 0; c < sim_cpu_count(m); c++)
    if (sim_cpu_online(m, c)) {
      n++;
      busy += sim_cpu_busy(m, c);
    }
  double w = 0;
  for (int p = 0; p < 2; p++) {
    char zone[32];
    snprintf(zone, sizeof(zone), "package-%d", p);
    int i = sim_find(m, zone, domain);
    ck_assert_int_ge(i, 0);
    w += (double)sim_zone_power_uw(m, (size_t)i) / 1e6;
  }
  return w * busy / n;
}

/* the active power of the total at time ts (NAN if none) */
static double at(const series_t *s, double ts) {
  for (size_t k = 0; k < s->n; k++)
    if (fabs(s->t[k] - ts) < 0.0005)
      return s->v[k];
  return NAN;
}

/* Each point of `svc`'s power against share x the total's active power at
 * the same timestamp (3 % a point, 1 % their mean), and the mean against
 * share x truth (1 %).
 * Points in [skip_from, skip_to) are not expected (and must not be). The
 * table row is printed; returns the worst point error (%). */
static double check_share(const csv_t *csv, const char *svc, double share,
                          const char *domain, double truth_w) {
  char id[256], tid[256];
  snprintf(id, sizeof(id), "rapl-%s/power-%s", svc, domain);
  snprintf(tid, sizeof(tid), "rapl-total/power-%s-active", domain);
  const series_t *p = series(csv, id), *tot = series(csv, tid);
  ck_assert_msg(p != NULL && p->n >= 3, "no %s", id);
  ck_assert_msg(tot != NULL, "no %s", tid);
  double worst = 0, sum_m = 0, sum_e = 0, sum_all = 0;
  size_t matched = 0;
  for (size_t k = 0; k < p->n; k++) {
    sum_all += p->v[k];
    /* the total's active power starts one read later than a cgroup's
     * power: the first split (the first two /proc/stat) is its baseline */
    double active = at(tot, p->t[k]);
    if (isnan(active)) {
      ck_assert_msg(k == 0, "%s at %.3f: no %s at that time", id, p->t[k], tid);
      continue;
    }
    matched++;
    double want = share * active;
    double err = 100 * fabs(p->v[k] - want) / want;
    worst = fmax(worst, err);
    /* a single point may be off by a tick or two of CPU time: the plugin
     * reads /proc/stat and cpu.stat one after the other, and the simulator
     * can advance between them (0.57 % seen on an idle machine); 1 % is
     * asserted on the mean below, as the issue asks of the energy */
    ck_assert_msg(err <= 3.0, "%s at %.3f = %.4f W, %.2f x %.4f W active = %.4f W",
                  id, p->t[k], p->v[k], share, active, want);
    sum_m += p->v[k];
    sum_e += want;
  }
  ck_assert_msg(matched >= 2, "%s: %zu points at %s's times", id, matched, tid);
  double mean_m = sum_m / (double)matched, mean_e = sum_e / (double)matched;
  ck_assert_msg(fabs(mean_m - mean_e) <= 0.01 * mean_e,
                "%s: mean %.4f W, %.2f x the total's active power = %.4f W", id,
                mean_m, share, mean_e);
  double mean_all = sum_all / (double)p->n;
  double err_truth = 100 * (mean_all - share * truth_w) / (share * truth_w);
  ck_assert_msg(fabs(err_truth) <= 1.0, "%s: mean %.4f W, truth %.2f x %.4f W",
                id, mean_all, share, truth_w);
  printf("cgroup e2e: | %-40s | %s | %.2f | %3zu | %8.3f W | %8.3f W | %+.3f %% "
         "(worst point %.3f %%) | %8.3f W (mean of %zu) | %8.3f W | %+.3f %% |\n",
         svc, domain, share, matched, mean_m, mean_e,
         100 * (mean_m - mean_e) / mean_e, worst, mean_all, p->n,
         share * truth_w, err_truth);
  return worst;
}

static void print_table_head(void) {
  printf("cgroup e2e: | cgroup (plugin_instance) | domain | share | points | "
         "measured W (mean) | share x total's power-<domain>-active (same "
         "times) | error | measured W, all points | share x sim truth | "
         "error |\n");
}

/* derive-<domain>: 0 first, never back */
static void check_derive(const csv_t *csv, const char *svc, const char *domain) {
  char id[256];
  snprintf(id, sizeof(id), "rapl-%s/derive-%s", svc, domain);
  const series_t *d = series(csv, id);
  ck_assert_msg(d != NULL && d->n >= 3, "no %s", id);
  ck_assert_msg(d->v[0] == 0, "%s starts at %.0f J", id, d->v[0]);
  for (size_t k = 1; k < d->n; k++)
    ck_assert_msg(d->v[k] >= d->v[k - 1], "%s went back at %.3f", id, d->t[k]);
  ck_assert_msg(d->v[d->n - 1] > 0, "%s stays at 0", id);
}

static size_t count_lines_with_both(const char *text, const char *a,
                                    const char *b) {
  size_t n = 0;
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char *l = strndup(line, len);
    n += strstr(l, a) != NULL && strstr(l, b) != NULL;
    free(l);
    line = nl ? nl + 1 : NULL;
  }
  return n;
}

START_TEST(services_share_stop_and_start) {
  e2e_t t = {0};
  start_sim_args(&t, MACHINE, 3600, "--powercap", "fuse", NULL);
  char *sysfs = path_join(t.root, "sys");
  char *extra = rapl_block(&t, "\"system.slice/*.service\"");
  char *conf = write_conf(t.dir, sysfs, extra, INTERVAL);
  double t0 = now_s(), w0 = wall_s();
  pid_t pid = start_collectd(t.dir, conf);
  /* a few reads of both, then postgresql stops for a while, and starts
   * again long before the rescan (60 s after the first read) */
  run_until(pid, t0 + 9.0);
  double removed_at = wall_s();
  sim_command(&t, "cgroup-remove system.slice/postgresql.service");
  run_until(pid, t0 + 21.0);
  double added_at = wall_s();
  sim_command(&t, "cgroup-add system.slice/postgresql.service 0.15");
  run_until(pid, t0 + 69.0);
  ck_assert_int_eq(stop_collectd(pid), 0);

  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(strstr(log, "rapl plugin: using rapl-powercap") != NULL, "%s", log);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  /* the removed cgroup: said once (one WARNING), not at every read. On
   * the simulator its kept-open cpu.stat reads 0 bytes (a regular file
   * cannot answer ENODEV as kernfs does: contrib/sim/README.md), which the
   * plugin takes as "cpu.stat cannot be read": one WARNING per episode.
   * The kernel's ENODEV ("is gone", INFO) is tested in test_cgroup.c. */
  size_t pg_lines = count_lines_with(log, "system.slice/postgresql.service");
  size_t pg_warn = count_lines_with_both(log, "system.slice/postgresql.service",
                                         "[warning]");
  ck_assert_msg(pg_warn == 1 && pg_lines == 1,
                "postgresql: %zu WARNING and %zu lines in all:\n%s", pg_warn,
                pg_lines, log);
  ck_assert_msg(count_lines_with(log, "nginx.service") == 0, "%s", log);

  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  double truth = truth_active_w(t.model, "package");
  print_table_head();
  /* nginx: the whole run */
  check_share(csv, NGINX, 0.30, "package", truth);
  check_share(csv, NGINX, 0.30, "dram", truth_active_w(t.model, "dram"));
  check_derive(csv, NGINX, "package");
  check_derive(csv, NGINX, "dram");

  /* postgresql: its share before and after; nothing between the read after
   * the removal and the rescan; the new instance from 0 J */
  char idp[256], idd[256];
  snprintf(idp, sizeof(idp), "rapl-%s/power-package", PG);
  snprintf(idd, sizeof(idd), "rapl-%s/derive-package", PG);
  const series_t *pw = series(csv, idp), *dv = series(csv, idd);
  ck_assert_ptr_nonnull(pw);
  ck_assert_ptr_nonnull(dv);
  check_share(csv, PG, 0.15, "package", truth);
  size_t reset = 0;
  double last_before = 0, first_after = 0;
  for (size_t k = 0; k < dv->n; k++) {
    double ts = dv->t[k];
    /* one read may have been under way at the command */
    ck_assert_msg(!(ts > removed_at + INTERVAL + 0.5 &&
                    ts < added_at + 0.5),
                  "%s dispatched at %.3f, removed at %.3f", idd, ts, removed_at);
    if (k > 0 && dv->v[k] < dv->v[k - 1]) {
      ck_assert_msg(reset == 0, "%s went back twice", idd);
      reset = k;
      last_before = dv->t[k - 1];
      first_after = ts;
    } else if (k > 0) {
      ck_assert_msg(dv->v[k] >= dv->v[k - 1], "%s went back at %.3f", idd, ts);
    }
  }
  ck_assert_msg(dv->v[0] == 0, "%s starts at %.0f J", idd, dv->v[0]);
  ck_assert_msg(reset > 0, "%s: no new instance after cgroup-add", idd);
  ck_assert_msg(dv->v[reset] == 0, "%s: the new instance starts at %.0f J", idd,
                dv->v[reset]);
  ck_assert_msg(dv->n - reset >= 3, "%s: %zu reads of the new instance", idd,
                dv->n - reset);
  ck_assert_msg(dv->v[dv->n - 1] > 0, "%s: the new instance stays at 0", idd);
  ck_assert_msg(last_before <= removed_at + INTERVAL + 0.5 &&
                    first_after >= added_at,
                "%s: last old read %.3f, first new %.3f", idd, last_before,
                first_after);
  /* no power at the new instance's first read (its baseline) */
  ck_assert_msg(isnan(at(pw, first_after)), "%s: power at the baseline", idp);
  printf("cgroup e2e: postgresql.service removed at +%.1f s: last read of the "
         "old instance +%.1f s; added at +%.1f s: the new instance first "
         "read at +%.1f s (the rescan), from 0 J; %zu reads of it, %.0f J at "
         "the end\n",
         removed_at - w0, last_before - w0, added_at - w0, first_after - w0,
         dv->n - reset, dv->v[dv->n - 1]);
  {
    const char *w = strstr(log, "[warning]");
    while (w && !strstr(w, "postgresql")) /* never: counted above */
      w = strstr(w + 1, "[warning]");
    const char *e = w ? strchr(w, '\n') : NULL;
    if (w)
      printf("cgroup e2e: the WARNING: %.*s\n", (int)(e ? e - w : 200), w);
  }
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(conf);
  free(extra);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

/* The parent matched too: it gets its own share, which includes its
 * services' (never sum a parent with its children). */
START_TEST(parent_and_services_overlap) {
  e2e_t t = {0};
  start_sim_args(&t, MACHINE, 3600, "--powercap", "fuse", NULL);
  char *sysfs = path_join(t.root, "sys");
  char *extra = rapl_block(&t, "\"system.slice\" \"system.slice/*.service\"");
  char *conf = write_conf(t.dir, sysfs, extra, INTERVAL);
  ck_assert_int_eq(run_collectd(t.dir, conf, 11.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  ck_assert_msg(count_lines_with(log, "[warning]") == 0, "%s", log);
  csv_t *csv = calloc(1, sizeof(*csv));
  read_csv(t.dir, csv);
  double truth = truth_active_w(t.model, "package");
  print_table_head();
  check_share(csv, SLICE, 0.50, "package", truth);
  check_share(csv, NGINX, 0.30, "package", truth);
  check_share(csv, PG, 0.15, "package", truth);
  check_derive(csv, SLICE, "package");
  /* the parent's energy is more than its two services' together */
  const series_t *s = series(csv, "rapl-" SLICE "/derive-package"),
                 *a = series(csv, "rapl-" NGINX "/derive-package"),
                 *b = series(csv, "rapl-" PG "/derive-package");
  ck_assert(s && a && b && s->n == a->n && a->n == b->n);
  ck_assert_msg(s->v[s->n - 1] > a->v[a->n - 1] + b->v[b->n - 1],
                "system.slice %.0f J <= %.0f + %.0f J", s->v[s->n - 1],
                a->v[a->n - 1], b->v[b->n - 1]);
  printf("cgroup e2e: overlap: system.slice %.0f J, nginx %.0f J + postgresql "
         "%.0f J = %.0f J (the parent includes them)\n",
         s->v[s->n - 1], a->v[a->n - 1], b->v[b->n - 1],
         a->v[a->n - 1] + b->v[b->n - 1]);
  fflush(stdout);
  free(csv);
  free(log);
  free(logf);
  free(conf);
  free(extra);
  free(sysfs);
  stop_sim(&t);
}
END_TEST

/* ---- write_graphite -> carbon-cache -> whisper ------------------------- */

static char *found[256];
static size_t n_found;
static size_t skip_len;

static int collect(const char *path, const struct stat *st, int type,
                   struct FTW *ftw) {
  (void)st;
  (void)ftw;
  size_t len = strlen(path);
  if (type == FTW_F && len > 4 && strcmp(path + len - 4, ".wsp") == 0 &&
      strstr(path + skip_len, "cgroup") != NULL) {
    ck_assert_uint_lt(n_found, 256);
    found[n_found++] = strdup(path + skip_len);
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the README's names ("Downstream names"), under LOCAL_DATA_DIR (dots are
 * directories): write_graphite's EscapeCharacter '_' for the dots of the
 * plugin_instance */
static const char *const documented[] = {
    "h1/rapl-cgroup-system_slice_nginx_service/derive-dram.wsp",
    "h1/rapl-cgroup-system_slice_nginx_service/derive-package.wsp",
    "h1/rapl-cgroup-system_slice_nginx_service/power-dram.wsp",
    "h1/rapl-cgroup-system_slice_nginx_service/power-package.wsp",
    "h1/rapl-cgroup-system_slice_postgresql_service/derive-dram.wsp",
    "h1/rapl-cgroup-system_slice_postgresql_service/derive-package.wsp",
    "h1/rapl-cgroup-system_slice_postgresql_service/power-dram.wsp",
    "h1/rapl-cgroup-system_slice_postgresql_service/power-package.wsp",
};
#define N_DOCUMENTED (sizeof(documented) / sizeof(documented[0]))

START_TEST(graphite_names) {
  e2e_t t = {0};
  t.dir = make_temp_dir("cgroup-graphite");
  int port = free_port(SOCK_STREAM);
  char *carbon_log = NULL;
  pid_t carbon = start_carbon(t.dir, port, &carbon_log);
  start_sim_args(&t, MACHINE, 3600, "--powercap", "fuse", NULL);
  wait_carbon(carbon, port, carbon_log);
  char *conf = path_join(t.dir, "collectd.conf");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "Hostname \"h1\"\nFQDNLookup false\nBaseDir \"%s\"\n"
          "PIDFile \"%s/collectd.pid\"\nInterval 1\n"
          "PluginDir \"/usr/lib/collectd\"\n"
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n"
          "  PrintSeverity true\n</Plugin>\n"
          "LoadPlugin write_graphite\n<Plugin write_graphite>\n"
          "  <Node \"defaults\">\n    Host \"127.0.0.1\"\n    Port \"%d\"\n"
          "    Protocol \"tcp\"\n  </Node>\n</Plugin>\n"
          "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n"
          "<Plugin rapl>\n  SysfsPath \"%s/sys\"\n  ProcfsPath \"%s/proc\"\n"
          "  CgroupPath \"%s/sys/fs/cgroup\"\n"
          "  Cgroups \"system.slice/*.service\"\n</Plugin>\n",
          t.dir, t.dir, t.dir, port, env("RAPL_PLUGIN_DIR"), t.root, t.root,
          t.root);
  fclose(f);
  ck_assert_int_eq(run_collectd(t.dir, conf, 5.5, NULL), 0);
  char *logf = path_join(t.dir, "collectd.log");
  char *log = slurp(logf);
  ck_assert_msg(count_lines_with(log, "[error]") == 0, "%s", log);
  usleep(500000);
  kill(carbon, SIGTERM);
  int status = wait_exit(carbon, 30);
  char *clog = slurp(carbon_log);
  ck_assert_msg(status == 0 || status == 128 + SIGTERM,
                "carbon-cache exit status %d:\n%s", status, clog);

  char *data = path_join(t.dir, "carbon/whisper");
  skip_len = strlen(data) + 1;
  n_found = 0;
  ck_assert_msg(nftw(data, collect, 16, FTW_PHYS) == 0,
                "no whisper files:\ncollectd:\n%s\ncarbon:\n%s", log, clog);
  qsort(found, n_found, sizeof(found[0]), cmp_str);
  char listed[8192] = "";
  for (size_t i = 0; i < n_found; i++) {
    strncat(listed, found[i], sizeof(listed) - strlen(listed) - 2);
    strcat(listed, "\n");
  }
  printf("cgroup graphite: %zu cgroup whisper files:\n%s", n_found, listed);
  ck_assert_msg(n_found == N_DOCUMENTED, "%zu whisper files:\n%s", n_found,
                listed);
  for (size_t i = 0; i < n_found; i++)
    ck_assert_msg(strcmp(found[i], documented[i]) == 0,
                  "%s instead of %s in:\n%s", found[i], documented[i], listed);
  /* and carbon has the values: nginx's power near its share */
  char *files[1] = {NULL};
  ck_assert_int_ge(asprintf(&files[0], "%s/%s", data, documented[3]), 0);
  char *dump = whisper_dump(t.dir, files, 1);
  size_t n = 0;
  double sum = 0;
  for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
    char name[4096];
    long ts;
    double v;
    if (sscanf(line, "%4095s %ld %lf", name, &ts, &v) == 3) {
      n++;
      sum += v;
    }
  }
  double truth = 0.30 * truth_active_w(t.model, "package");
  ck_assert_msg(n >= 2, "%s: %zu points", documented[3], n);
  ck_assert_msg(fabs(sum / (double)n - truth) <= 0.01 * truth,
                "%s: mean %.3f W, 0.30 x truth %.3f W", documented[3],
                sum / (double)n, truth);
  printf("cgroup graphite: %s: %zu points, mean %.3f W (0.30 x truth %.3f W)\n",
         documented[3], n, sum / (double)n, truth);
  fflush(stdout);
  for (size_t i = 0; i < n_found; i++)
    free(found[i]);
  free(files[0]);
  free(dump);
  free(data);
  free(clog);
  free(log);
  free(logf);
  free(conf);
  free(carbon_log);
  stop_sim(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cgroup_collectd");
  TCase *tc = tcase_create("csv");
  tcase_set_timeout(tc, 180);
  tcase_add_test(tc, services_share_stop_and_start);
  tcase_add_test(tc, parent_and_services_overlap);
  suite_add_tcase(s, tc);
  TCase *g = tcase_create("graphite");
  tcase_set_timeout(g, 90);
  tcase_add_test(g, graphite_names);
  suite_add_tcase(s, g);
  return run_suite(s);
}
