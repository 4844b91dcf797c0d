/* e2e.c - see e2e.h. */
#define _GNU_SOURCE
#include "e2e.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *env(const char *name) {
  const char *v = getenv(name);
  ck_assert_msg(v != NULL && v[0] != '\0',
                "%s is not set: run the end-to-end tests through `make check`",
                name);
  return v;
}

char *path_join(const char *a, const char *b) {
  char *p = NULL;
  ck_assert_int_ge(asprintf(&p, "%s/%s", a, b), 0);
  return p;
}

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fork + exec with stdout and stderr into `log` (appended). */
pid_t spawn(char *const argv[], const char *log) {
  return spawn_piped(argv, log, NULL);
}

pid_t spawn_piped(char *const argv[], const char *log, int *in) {
  int pipefd[2] = {-1, -1};
  if (in != NULL)
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    /* A test that fails (or is killed) before it stops what it started
     * takes it along: a simulator left running keeps its FUSE mounts under
     * /tmp/rapl-e2e-*, a collectd its ports. rapl-sim unmounts on SIGTERM. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(127);
    if (in != NULL)
      dup2(pipefd[0], 0);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (in != NULL) {
    close(pipefd[0]);
    *in = pipefd[1];
  }
  return pid;
}

int wait_exit(pid_t pid, double timeout_s) {
  double deadline = now_s() + timeout_s;
  int status;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (now_s() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(20000);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return strdup("");
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    fwrite(chunk, 1, n, out);
  fclose(out);
  fclose(f);
  return buf;
}

size_t count_lines_with(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* ---- a simulated machine and a collectd around it ---------------------- */


void start_sim_args(e2e_t *t, const char *machine, double wrap_in_s,
                           const char *extra1, const char *extra2,
                           const char *extra3) {
  if (t->dir == NULL) /* else: a test that prepared it (collectd first) */
    t->dir = make_temp_dir("e2e");
  if (t->root == NULL)
    t->root = path_join(t->dir, "root");
  char desc[4096], wrap[32], err[1024];
  machine_path(machine, desc, sizeof(desc));
  t->model = sim_load_file(desc, err, sizeof(err));
  ck_assert_msg(t->model != NULL, "%s", err);
  snprintf(wrap, sizeof(wrap), "%g", wrap_in_s);
  char *log = path_join(t->dir, "sim.log");
  char *argv[] = {(char *)env("RAPL_SIM"), "run", desc, t->root, "--period-ms",
                  "1", "--wrap-in", wrap, (char *)extra1, (char *)extra2,
                  (char *)extra3, NULL};
  t->sim = spawn_piped(argv, log, &t->sim_in);
  /* "ready" once the tree is built and the first values are written */
  double deadline = now_s() + 20;
  for (;;) {
    char *out = slurp(log);
    bool ready = strstr(out, "ready") != NULL;
    free(out);
    if (ready)
      break;
    ck_assert_msg(now_s() < deadline, "rapl-sim did not get ready");
    ck_assert_msg(waitpid(t->sim, NULL, WNOHANG) == 0, "rapl-sim exited");
    usleep(20000);
  }
  free(log);
}

void start_sim(e2e_t *t, const char *machine, double wrap_in_s) {
  start_sim_args(t, machine, wrap_in_s, NULL, NULL, NULL);
}

void sim_command(e2e_t *t, const char *command) {
  char line[512], ok[520];
  int n = snprintf(line, sizeof(line), "%s\n", command);
  ck_assert_int_eq(write(t->sim_in, line, (size_t)n), n);
  snprintf(ok, sizeof(ok), "ok %s\n", command);
  char *log = path_join(t->dir, "sim.log");
  double deadline = now_s() + 10;
  for (;;) {
    char *out = slurp(log);
    bool done = strstr(out, ok) != NULL;
    bool failed = strstr(out, "error ") != NULL;
    free(out);
    ck_assert_msg(!failed, "rapl-sim refused \"%s\"", command);
    if (done)
      break;
    ck_assert_msg(now_s() < deadline, "rapl-sim did not answer \"%s\"", command);
    usleep(10000);
  }
  free(log);
}

void stop_sim(e2e_t *t) {
  if (t->sim_in > 0)
    close(t->sim_in);
  if (t->sim > 0) {
    kill(t->sim, SIGTERM);
    ck_assert_int_eq(wait_exit(t->sim, 10), 0);
  }
  sim_free(t->model);
  rm_tree(t->dir);
  free(t->dir);
  free(t->root);
}

/* Writes collectd.conf: logfile and csv from Debian's plugin directory,
 * rapl from the build tree (PluginDir applies to the LoadPlugin after it). */
char *write_conf(const char *dir, const char *sysfs,
                        const char *rapl_block_extra, int interval_s) {
  char *conf = path_join(dir, "collectd.conf");
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "Hostname \"e2e\"\nFQDNLookup false\nBaseDir \"%s\"\n"
          "PIDFile \"%s/collectd.pid\"\nInterval %d\n"
          "PluginDir \"/usr/lib/collectd\"\n"
          "LoadPlugin logfile\n<Plugin logfile>\n  LogLevel \"info\"\n"
          "  File \"%s/collectd.log\"\n  Timestamp true\n"
          /* "[error]" in the tests' checks exists only with this */
          "  PrintSeverity true\n</Plugin>\n"
          "LoadPlugin csv\n<Plugin csv>\n  DataDir \"%s/csv\"\n"
          "  StoreRates false\n</Plugin>\n"
          "PluginDir \"%s\"\nLoadPlugin rapl\nPluginDir \"/usr/lib/collectd\"\n"
          "<Plugin rapl>\n",
          dir, dir, interval_s, dir, dir, env("RAPL_PLUGIN_DIR"));
  if (sysfs)
    fprintf(f, "  SysfsPath \"%s\"\n", sysfs);
  fprintf(f, "%s</Plugin>\n", rapl_block_extra ? rapl_block_extra : "");
  fclose(f);
  return conf;
}

/* Runs collectd in the foreground for `seconds`, then stops it. Returns its
 * exit status. `wrapper` (e.g. valgrind) may be NULL. */
int run_collectd(const char *dir, const char *conf, double seconds,
                        char *const *wrapper) {
  char *log = path_join(dir, "collectd.stderr");
  char *argv[32];
  int n = 0;
  for (; wrapper && wrapper[n]; n++)
    argv[n] = wrapper[n];
  argv[n++] = (char *)env("COLLECTD");
  argv[n++] = "-f";
  argv[n++] = "-C";
  argv[n++] = (char *)conf;
  argv[n] = NULL;
  pid_t pid = spawn(argv, log);
  double end = now_s() + seconds;
  while (now_s() < end) {
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "collectd exited early");
    usleep(50000);
  }
  kill(pid, SIGTERM);
  int status = wait_exit(pid, 60);
  free(log);
  return status;
}

/* ---- reading what csv wrote ------------------------------------------- */


void read_csv(const char *dir, csv_t *out) { read_csv_plugin(dir, "", out); }

const series_t *series(const csv_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->s[i].id, id) == 0)
      return &c->s[i];
  return NULL;
}


uint64_t read_u64(const char *path) {
  char *s = slurp(path);
  uint64_t v = strtoull(s, NULL, 10);
  free(s);
  return v;
}


/* read_csv for the plugin directories whose name starts with `prefix` only
 * (e.g. "rapl": rapl and rapl-<zone>), where other plugins write more
 * series than a csv_t holds; "" reads them all. */
void read_csv_plugin(const char *dir, const char *prefix, csv_t *out) {
  memset(out, 0, sizeof(*out));
  char *host = path_join(dir, "csv/e2e");
  DIR *d = opendir(host);
  ck_assert_msg(d != NULL, "collectd wrote no csv data under %s", host);
  struct dirent *pe;
  while ((pe = readdir(d)) != NULL) {
    if (pe->d_name[0] == '.' || strncmp(pe->d_name, prefix, strlen(prefix)) != 0)
      continue;
    char *pdir = path_join(host, pe->d_name);
    DIR *pd = opendir(pdir);
    struct dirent *fe;
    while (pd && (fe = readdir(pd)) != NULL) {
      if (fe->d_name[0] == '.')
        continue;
      ck_assert_uint_lt(out->n, MAX_SERIES);
      series_t *s = &out->s[out->n++];
      char name[512];
      snprintf(name, sizeof(name), "%s", fe->d_name);
      size_t len = strlen(name);
      ck_assert_uint_gt(len, 11);
      name[len - 11] = '\0';
      snprintf(s->id, sizeof(s->id), "%s/%s", pe->d_name, name);
      char *file = path_join(pdir, fe->d_name);
      FILE *f = fopen(file, "r");
      char line[256];
      while (f && fgets(line, sizeof(line), f)) {
        double t, v;
        if (sscanf(line, "%lf,%lf", &t, &v) == 2 && s->n < MAX_POINTS) {
          s->t[s->n] = t;
          s->v[s->n++] = v;
        }
      }
      if (f)
        fclose(f);
      free(file);
    }
    if (pd)
      closedir(pd);
    free(pdir);
  }
  closedir(d);
  free(host);
}

size_t expected_zones(const sim_machine_t *m, expect_t *e, size_t max,
                      bool amd_core_sum) {
  size_t n = 0;
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    const char *parent = sim_zone_parent_name(m, i);
    const char *name = sim_zone_name(m, i);
    const char *domain = sim_zone_is_subzone(m, i) ? name
                         : strncmp(name, "psys", 4) == 0 ? "psys"
                                                          : "package";
    bool dup = false;
    for (size_t k = 0; k < n; k++)
      dup = dup || (strcmp(e[k].zone, parent) == 0 && strcmp(e[k].domain, domain) == 0);
    if (dup) /* mmio duplicate of an intel-rapl package */
      continue;
    ck_assert_uint_lt(n, max);
    snprintf(e[n].zone, sizeof(e[n].zone), "%s", parent);
    snprintf(e[n].domain, sizeof(e[n].domain), "%s", domain);
    e[n].watts = (double)sim_zone_power_uw(m, i) / 1e6;
    int pkg;
    if (amd_core_sum && strcmp(domain, "core") == 0 &&
        sscanf(parent, "package-%d", &pkg) == 1)
      e[n].watts *= (double)sim_amd_core_count(m, (size_t)pkg);
    n++;
  }
  /* totals, per domain */
  size_t zones = n;
  for (size_t i = 0; i < zones; i++) {
    expect_t *t = NULL;
    for (size_t k = zones; k < n; k++)
      if (strcmp(e[k].domain, e[i].domain) == 0)
        t = &e[k];
    if (t == NULL) {
      ck_assert_uint_lt(n, max);
      t = &e[n++];
      snprintf(t->zone, sizeof(t->zone), "total");
      snprintf(t->domain, sizeof(t->domain), "%s", e[i].domain);
      t->watts = 0;
    }
    t->watts += e[i].watts;
  }
  return n;
}
