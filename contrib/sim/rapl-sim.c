/*
 * rapl-sim - build a simulated sysfs powercap (RAPL) tree from a machine
 * description and keep its energy counters running.  See README.md.
 *
 * Exit status: 0 fine, 1 runtime error (bad machine file, I/O), 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_machine.h"
#ifdef SIM_WITH_FUSE
#include "sim_fuse.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL

static const char *prog = "rapl-sim";
static volatile sig_atomic_t stop_requested;

static void usage(FILE *f) {
  fprintf(f,
          "usage:\n"
          "  %s build MACHINE.yaml ROOT [--msr sparse|none] [--no-powercap]\n"
          "  %s run MACHINE.yaml ROOT [--period-ms N] [--duration S]\n"
          "        [--wrap-in S] [--speed X] [--truth FILE]\n"
          "        [--msr fuse|sparse|none] [--powercap files|fuse]\n"
          "        [--no-powercap]\n"
          "  %s check MACHINE.yaml\n"
          "  %s selftest\n"
          "\n"
          "build     create ROOT/sys/... (ROOT plays /) and print the zones;\n"
          "          with a cpu: section also ROOT/sys/devices/system/cpu and\n"
          "          ROOT/proc/cpuinfo\n"
          "run       build, print \"ready\", then advance the counters every\n"
          "          --period-ms (default 1) until SIGINT/SIGTERM or the end\n"
          "          of --duration seconds; --speed X simulates X seconds per\n"
          "          real second; --wrap-in S makes every 32-bit counter wrap\n"
          "          S simulated seconds after the start; --truth FILE gets\n"
          "          \"<zone> <name> <truth_nj> <elapsed_ns>\" lines once per\n"
          "          second and at exit; commands on standard input inject\n"
          "          faults (fault, vanish, return, vanish-all, return-all,\n"
          "          set, stick, range, power, sleep, truth, cgroup-add,\n"
          "          cgroup-remove: see README.md)\n"
          "--msr     ROOT/dev/cpu/N/msr for online CPUs (needs cpu: and msr:):\n"
          "          fuse: a FUSE mount at ROOT/dev/cpu where pread at offset\n"
          "          REG returns register REG (%s); sparse: sparse\n"
          "          regular files (Intel only); none (default): no device\n"
          "--powercap files (default): regular files rewritten in place;\n"
          "          fuse: ROOT/sys/devices/virtual/powercap served over FUSE\n"
          "          (%s) with sysfs semantics and every fault\n"
          "--no-powercap  no ROOT/sys/class/powercap (the counters still run)\n"
          "check     load the description and print the zones, write nothing\n"
          "selftest  check the kernel arithmetic\n",
          prog, prog, prog, prog,
#ifdef SIM_WITH_FUSE
          "libfuse3", "libfuse3"
#else
          "not in this build", "not in this build"
#endif
  );
}

__attribute__((format(printf, 1, 2))) static int
usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  usage(stderr);
  return 2;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int parse_double(const char *s, double min, double max, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  /* v - v is NaN for infinities and NaN */
  if (errno != 0 || end == s || *end != '\0' || v - v != 0.0 || v < min ||
      v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max,
                     uint64_t *out) {
  char *end;
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* "120.5" for 120500000 uW, exact, no trailing zeros. */
static void format_watts(uint64_t uw, char *buf, size_t len) {
  uint64_t frac = uw % 1000000;
  if (frac == 0) {
    snprintf(buf, len, "%" PRIu64, uw / 1000000);
    return;
  }
  int digits = 6;
  while (frac % 10 == 0) {
    frac /= 10;
    digits--;
  }
  snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64, uw / 1000000, digits, frac);
}

static void print_zones(const sim_machine_t *m) {
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    char w[48];
    format_watts(sim_zone_power_uw(m, i), w, sizeof(w));
    printf("%s %s max_energy_range_uj=%" PRIu64 " power_w=%s\n",
           sim_zone_link_name(m, i), sim_zone_name(m, i),
           sim_zone_max_range_uj(m, i), w);
  }
}

static sim_machine_t *load_or_complain(const char *path) {
  char err[512];
  sim_machine_t *m = sim_load_file(path, err, sizeof(err));
  if (m == NULL)
    fprintf(stderr, "%s: %s\n", prog, err);
  return m;
}

static int build_or_complain(sim_machine_t *m, const char *root,
                             const sim_build_opts_t *opts) {
  int r = sim_build_ex(m, root, opts);
  if (r != 0)
    fprintf(stderr, "%s: building the tree under %s failed: %s\n", prog, root,
            sim_build_error(m));
  return r;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int write_truth(const sim_machine_t *m, const char *path) {
  char *tmp;
  if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    fprintf(stderr, "%s: cannot write %s: %s\n", prog, tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  for (size_t i = 0; i < sim_zone_count(m); i++)
    fprintf(f, "%s %s %" PRIu64 " %" PRIu64 "\n", sim_zone_link_name(m, i),
            sim_zone_name(m, i), sim_zone_truth_nj(m, i), sim_elapsed_ns(m));
  /* AMD per-core counters (0xC001029A): "amd-core:<package>:<core_id>" */
  for (unsigned p = 0; p < sim_cpu_packages(m); p++)
    for (size_t k = 0; k < sim_amd_core_count(m, p); k++)
      fprintf(f, "amd-core:%u:%zu core %" PRIu64 " %" PRIu64 "\n", p, k,
              sim_amd_core_truth_nj(m, p, k), sim_elapsed_ns(m));
  /* hwmon energy and power channels: "hwmon:<hwmonN>:<channel>" */
  for (size_t c = 0; c < sim_hwmon_channel_count(m); c++) {
    const char *ch = sim_hwmon_channel_name(m, c);
    if (strncmp(ch, "energy", 6) != 0 && strncmp(ch, "power", 5) != 0)
      continue;
    fprintf(f, "hwmon:%s:%s %s %" PRIu64 " %" PRIu64 "\n",
            sim_hwmon_chip_hwmon(m, sim_hwmon_channel_chip(m, c)), ch,
            sim_hwmon_chip_name(m, sim_hwmon_channel_chip(m, c)),
            sim_hwmon_truth_nj(m, c), sim_elapsed_ns(m));
  }
  int bad = ferror(f);
  if (fclose(f) != 0)
    bad = 1;
  if (bad || rename(tmp, path) != 0) {
    fprintf(stderr, "%s: cannot write %s: %s\n", prog, path,
            bad ? "write error" : strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

enum msr_mode { MSR_NONE, MSR_SPARSE, MSR_FUSE };

static int parse_msr_mode(const char *s, int allow_fuse, enum msr_mode *out) {
  if (strcmp(s, "none") == 0)
    *out = MSR_NONE;
  else if (strcmp(s, "sparse") == 0)
    *out = MSR_SPARSE;
  else if (allow_fuse && strcmp(s, "fuse") == 0)
    *out = MSR_FUSE;
  else
    return -1;
  return 0;
}

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t len, const char *fmt, ...) {
  if (err == NULL || len == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

/* ---- mount point detection ------------------------------------------------ */

/* /proc/self/mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
        r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

static int is_mount_point(const char *path, char *why, size_t why_len) {
  struct stat st, parent;
  if (stat(path, &st) != 0) {
    if (errno == ENOTCONN) {
      set_err(why, why_len, "a dead FUSE mount: %s", strerror(errno));
      return 1;
    }
    return 0;
  }
  char *real = realpath(path, NULL);
  if (real == NULL)
    return 0;
  char *up;
  int found = 0;
  if (asprintf(&up, "%s/..", real) >= 0) {
    if (stat(up, &parent) == 0 && parent.st_dev != st.st_dev) {
      set_err(why, why_len, "another file system is mounted there");
      found = 1;
    }
    free(up);
  }
  FILE *mi = found ? NULL : fopen("/proc/self/mountinfo", "r");
  if (mi != NULL) {
    char *line = NULL;
    size_t cap = 0;
    while (!found && getline(&line, &cap, mi) > 0) {
      /* id parent major:minor root MOUNTPOINT options ... - fstype src */
      char *save = NULL, *field = strtok_r(line, " ", &save);
      for (int i = 0; i < 4 && field != NULL; i++)
        field = strtok_r(NULL, " ", &save);
      if (field == NULL)
        continue;
      unescape_octal(field);
      if (strcmp(field, real) == 0) {
        set_err(why, why_len, "it is listed in /proc/self/mountinfo");
        found = 1;
      }
    }
    free(line);
    fclose(mi);
  }
  free(real);
  return found;
}

/* The checks --msr needs before anything is written: the description has
 * the cpu and msr sections, and ROOT/dev/cpu is not a mount point (a FUSE
 * device left by a killed rapl-sim, or someone else's). */
static int msr_precheck(const sim_machine_t *m, const char *machine,
                        const char *root, enum msr_mode mode) {
  if (mode == MSR_NONE)
    return 0;
  if (!sim_has_cpu(m) || !sim_has_msr(m)) {
    fprintf(stderr, "%s: %s has no %s section: --msr needs cpu: and msr:\n",
            prog, machine, sim_has_cpu(m) ? "msr" : "cpu");
    return -1;
  }
  if (mode == MSR_SPARSE && strcmp(sim_cpu_vendor(m), "GenuineIntel") != 0) {
    fprintf(stderr,
            "%s: --msr sparse cannot simulate %s: its RAPL registers "
            "0xC0010299, 0xC001029A and 0xC001029B are 1 apart, so 8-byte "
            "values at those offsets of a regular file would overlap; use "
            "--msr fuse\n",
            prog, sim_cpu_vendor(m));
    return -1;
  }
  char *dev, why[512];
  if (asprintf(&dev, "%s/dev/cpu", root) < 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  int r = is_mount_point(dev, why, sizeof(why));
  if (r == 1)
    fprintf(stderr, "%s: %s is already a mount point (%s); refusing to "
            "start: is another rapl-sim running there?  If not, unmount it: "
            "umount -l %s\n", prog, dev, why, dev);
  free(dev);
  return r == 1 ? -1 : 0;
}

static int cmd_build(int argc, char **argv) {
  static const struct option longopts[] = {
      {"msr", required_argument, NULL, 'm'},
      {"no-powercap", no_argument, NULL, 'P'},
      {NULL, 0, NULL, 0}};
  sim_build_opts_t bo = {.powercap = 1, .cpu = 1, .msr_files = 0};
  enum msr_mode mode = MSR_NONE;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    switch (c) {
    case 'm':
      if (parse_msr_mode(optarg, 0, &mode) != 0)
        return usage_error("build --msr wants sparse or none, got \"%s\"",
                           optarg);
      break;
    case 'P':
      bo.powercap = 0;
      break;
    case ':':
      return usage_error("option %s needs a value", argv[optind - 1]);
    default:
      return usage_error("unknown option %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return usage_error("%s", "build needs MACHINE.yaml and ROOT");
  sim_machine_t *m = load_or_complain(argv[optind]);
  if (m == NULL)
    return 1;
  bo.msr_files = mode == MSR_SPARSE;
  int rc = 0;
  if (msr_precheck(m, argv[optind], argv[optind + 1], mode) != 0 ||
      build_or_complain(m, argv[optind + 1], &bo) != 0)
    rc = 1;
  else
    print_zones(m);
  sim_free(m);
  if (fflush(stdout) != 0)
    rc = 1;
  return rc;
}

static int cmd_check(int argc, char **argv) {
  if (argc != 1)
    return usage_error("%s", "check needs MACHINE.yaml");
  sim_machine_t *m = load_or_complain(argv[0]);
  if (m == NULL)
    return 1;
  print_zones(m);
  sim_free(m);
  return 0;
}

static int cmd_selftest(int argc, char **argv) {
  (void)argv;
  if (argc != 0)
    return usage_error("%s", "selftest takes no arguments");
  char err[256];
  if (sim_selftest(err, sizeof(err)) != 0) {
    fprintf(stderr, "%s: selftest failed: %s\n", prog, err);
    return 1;
  }
  printf("selftest ok\n");
  return 0;
}

struct run_opts {
  uint64_t period_ns;
  int has_duration;
  uint64_t duration_ns;
  int has_wrap;
  double wrap_s;
  double speed;
  const char *truth;
  pthread_mutex_t *lock; /* held while m changes or is read by other threads */
};

/* Simulated time that passed at once, by `sleep` commands: the simulation
 * is this far ahead of the real time since "ready" (times --speed). Read
 * and changed with the run's lock held. */
static uint64_t slept_ns;

/* Bring the simulation to `elapsed_real_ns` after the start; o->lock held. */
static int advance_locked(sim_machine_t *m, const struct run_opts *o,
                          uint64_t elapsed_real_ns) {
  uint64_t target =
      (o->speed == 1.0
           ? elapsed_real_ns
           : (uint64_t)((long double)elapsed_real_ns * (long double)o->speed)) +
      slept_ns;
  uint64_t applied = sim_elapsed_ns(m);
  if (target <= applied)
    return 0;
  int r = sim_advance_ns(m, target - applied);
  if (r != 0)
    fprintf(stderr, "%s: updating energy_uj failed: %s\n", prog, strerror(-r));
  return r;
}

static int catch_up(sim_machine_t *m, const struct run_opts *o,
                    uint64_t elapsed_real_ns) {
  pthread_mutex_lock(o->lock);
  int r = advance_locked(m, o, elapsed_real_ns);
  pthread_mutex_unlock(o->lock);
  return r;
}

/* FUSE reads bring the counters to the present first (sim_fuse_set_refresh):
 * on a loaded machine the advancing loop can be late by tens of
 * milliseconds, which a reader would see as a power error. */
struct refresh_ctx {
  sim_machine_t *m;
  const struct run_opts *o;
  uint64_t t0;  /* 0 until the run loop starts */
  uint64_t end; /* the end of --duration */
};
static struct refresh_ctx refresh_ctx;

static uint64_t mono_ns(void);

static void refresh_now(void *arg) { /* lock held */
  struct refresh_ctx *r = arg;
  if (r->t0 == 0)
    return;
  uint64_t now = mono_ns();
  if (now > r->end)
    now = r->end;
  (void)advance_locked(r->m, r->o, now - r->t0);
}

static int write_truth_locked(const sim_machine_t *m,
                              const struct run_opts *o) {
  pthread_mutex_lock(o->lock);
  int r = write_truth(m, o->truth);
  pthread_mutex_unlock(o->lock);
  return r;
}

enum powercap_mode { PC_NONE, PC_FILES, PC_FUSE };

/* ---- commands on standard input (fault injection) ------------------------ */

struct commands {
  sim_machine_t *m;
  const struct run_opts *o;
  enum powercap_mode pc;
  uint64_t t0, end; /* CLOCK_MONOTONIC of "ready" and of the end */
  int wake[2];      /* a byte on wake[1] ends the reader */
  pthread_t thread;
  int started;
};

#define CMD_MAX_LINE 4096
#define CMD_MAX_TOKENS 16 /* sleep <seconds> and up to 14 zones */

/* Decimal, or hexadecimal with 0x. */
static int parse_uint_any(const char *s, uint64_t max, uint64_t *out) {
  int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const char *d = hex ? s + 2 : s;
  if (!(*d >= '0' && *d <= '9') &&
      !(hex && ((*d >= 'a' && *d <= 'f') || (*d >= 'A' && *d <= 'F'))))
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(d, &end, hex ? 16 : 10);
  if (errno != 0 || *end != '\0' || v > max)
    return -1;
  *out = v;
  return 0;
}

__attribute__((format(printf, 1, 2))) static char *fmt_reply(const char *fmt,
                                                             ...) {
  va_list ap;
  char *s;
  va_start(ap, fmt);
  int r = vasprintf(&s, fmt, ap);
  va_end(ap);
  return r < 0 ? NULL : s;
}

/* `sleep <seconds> [<zone>=<watts> ...]` (arg[0..n-1] are its arguments):
 * the machine sleeps for that long at once (s2idle: the counters go on,
 * each named zone at the given power, the others at their own), then runs
 * on at its powers. Lock held, counters at the present. NULL when it was
 * done (*r: 0 or the -errno of advancing), else the error reply. */
static char *apply_sleep(sim_machine_t *m, char **arg, size_t n, int *r) {
  double seconds;
  if (parse_double(arg[0], 0, 1e8, &seconds) != 0)
    return fmt_reply("error sleep wants seconds (0 .. 1e8), got \"%s\"",
                     arg[0]);
  size_t zones = sim_zone_count(m);
  uint64_t *awake = calloc(zones + 1, sizeof(*awake));
  uint64_t *asleep = calloc(zones + 1, sizeof(*asleep));
  char *reply = NULL;
  if (awake == NULL || asleep == NULL) {
    reply = fmt_reply("error out of memory");
    goto done;
  }
  for (size_t i = 0; i < zones; i++)
    awake[i] = asleep[i] = sim_zone_power_uw(m, i);
  for (size_t k = 1; k < n; k++) {
    const char *eq = strchr(arg[k], '=');
    char name[256];
    double w;
    size_t z;
    if (eq == NULL || (size_t)(eq - arg[k]) >= sizeof(name)) {
      reply = fmt_reply("error sleep wants <zone>=<watts> after the "
                        "seconds, got \"%s\"", arg[k]);
      goto done;
    }
    memcpy(name, arg[k], (size_t)(eq - arg[k]));
    name[eq - arg[k]] = '\0';
    if (sim_zone_find(m, name, &z) != 0) {
      reply = fmt_reply("error no zone \"%s\"", name);
      goto done;
    }
    if (parse_double(eq + 1, 0, 1e6, &w) != 0) {
      reply = fmt_reply("error sleep wants watts (0 .. 1e6) for %s, got "
                        "\"%s\"", name, eq + 1);
      goto done;
    }
    asleep[z] = (uint64_t)(w * 1e6 + 0.5);
  }
  for (size_t i = 0; i < zones; i++)
    sim_zone_set_power_uw(m, i, asleep[i]);
  uint64_t before = sim_elapsed_ns(m);
  *r = sim_advance_ns(m, (uint64_t)(seconds * 1e9 + 0.5));
  slept_ns += sim_elapsed_ns(m) - before; /* nothing when it overflowed */
  for (size_t i = 0; i < zones; i++)
    sim_zone_set_power_uw(m, i, awake[i]);
done:
  free(awake);
  free(asleep);
  return reply;
}

/* The reply to one command (tokens tok[0..n-1], line = them joined by single
 * spaces); applied with the lock held, after bringing the counters to now.
 * Returns a malloc'd text of one or more lines (no final newline). */
static char *apply_command(struct commands *c, char **tok, size_t n,
                           const char *line) {
  sim_machine_t *m = c->m;
  const char *cmd = tok[0];
  /* the arguments, "" where missing (n is checked against want below) */
  const char *arg1 = n > 1 && tok[1] != NULL ? tok[1] : "";
  const char *arg2 = n > 2 && tok[2] != NULL ? tok[2] : "";
  size_t want;
  if (strcmp(cmd, "vanish-all") == 0 || strcmp(cmd, "return-all") == 0 ||
      strcmp(cmd, "truth") == 0)
    want = 1;
  else if (strcmp(cmd, "vanish") == 0 || strcmp(cmd, "return") == 0)
    want = 2;
  else if (strcmp(cmd, "fault") == 0 || strcmp(cmd, "set") == 0 ||
           strcmp(cmd, "stick") == 0 || strcmp(cmd, "range") == 0 ||
           strcmp(cmd, "power") == 0)
    want = 3;
  else if (strcmp(cmd, "sleep") == 0)
    want = n < 2 ? 2 : n; /* the seconds, then any number of zone=watts */
  else if (strcmp(cmd, "cgroup-remove") == 0)
    want = 2;
  else if (strcmp(cmd, "cgroup-add") == 0)
    want = 3;
  else
    return fmt_reply("error unknown command \"%s\" (known: fault, vanish, "
                     "return, vanish-all, return-all, set, stick, range, "
                     "power, sleep, truth, cgroup-add, cgroup-remove)", cmd);
  if (n != want)
    return fmt_reply("error %s takes %zu argument%s", cmd, want - 1,
                     want == 2 ? "" : "s");
  int touches_powercap =
      strcmp(cmd, "fault") == 0 || strcmp(cmd, "range") == 0 ||
      strcmp(cmd, "vanish") == 0 || strcmp(cmd, "return") == 0 ||
      strcmp(cmd, "vanish-all") == 0 || strcmp(cmd, "return-all") == 0;
  if (touches_powercap && c->pc == PC_NONE)
    return fmt_reply("error no powercap tree (--no-powercap)");
  int cgroup_cmd = strncmp(cmd, "cgroup-", 7) == 0;
  if (cgroup_cmd && !sim_has_cgroups(m))
    return fmt_reply("error the machine has no cgroups section");
  size_t z = 0;
  if (want > 1 && strcmp(cmd, "sleep") != 0 && !cgroup_cmd &&
      sim_zone_find(m, arg1, &z) != 0)
    return fmt_reply("error no zone \"%s\"", arg1);

  /* Faults apply from now: bring the counters to the present first. */
  uint64_t now = mono_ns();
  if (now > c->end)
    now = c->end;
  pthread_mutex_lock(c->o->lock);
  int r = advance_locked(m, c->o, now - c->t0);
  char *reply = NULL;
  if (r != 0) {
    reply = fmt_reply("error updating the counters failed: %s", strerror(-r));
    goto out;
  }
  if (strcmp(cmd, "fault") == 0) {
    sim_fault_t f;
    if (sim_fault_parse(arg2, &f) != 0) {
      reply = fmt_reply("error fault wants eio, eagain, enodata, eacces, "
                        "garbage, empty or none, got \"%s\"", arg2);
      goto out;
    }
    r = sim_zone_set_fault(m, z, f);
  } else if (strcmp(cmd, "vanish") == 0 || strcmp(cmd, "return") == 0) {
    r = sim_zone_vanish(m, z, cmd[0] == 'v');
  } else if (strcmp(cmd, "vanish-all") == 0 ||
             strcmp(cmd, "return-all") == 0) {
    r = sim_powercap_vanish_all(m, cmd[0] == 'v');
  } else if (strcmp(cmd, "set") == 0) {
    uint64_t v;
    if (parse_uint_any(arg2, 0xFFFFFFFFu, &v) != 0) {
      reply = fmt_reply("error set wants a 32-bit counter value (0 .. "
                        "4294967295 or 0x...), got \"%s\"", arg2);
      goto out;
    }
    r = sim_zone_set_raw32(m, z, (uint32_t)v);
  } else if (strcmp(cmd, "stick") == 0) {
    if (strcmp(arg2, "on") != 0 && strcmp(arg2, "off") != 0) {
      reply = fmt_reply("error stick wants on or off, got \"%s\"", arg2);
      goto out;
    }
    sim_zone_stick(m, z, strcmp(arg2, "on") == 0);
  } else if (strcmp(cmd, "range") == 0) {
    uint64_t v = 0;
    sim_range_t mode = SIM_RANGE_VALUE;
    if (strcmp(arg2, "unreadable") == 0)
      mode = SIM_RANGE_UNREADABLE;
    else if (strcmp(arg2, "restore") == 0)
      mode = SIM_RANGE_REAL;
    else if (parse_uint_any(arg2, UINT64_MAX, &v) != 0) {
      reply = fmt_reply("error range wants a value in uJ, unreadable or "
                        "restore, got \"%s\"", arg2);
      goto out;
    }
    r = sim_zone_set_range(m, z, mode, v);
  } else if (strcmp(cmd, "power") == 0) {
    double w;
    if (parse_double(arg2, 0, 1e6, &w) != 0) {
      reply = fmt_reply("error power wants watts (0 .. 1e6), got \"%s\"",
                        arg2);
      goto out;
    }
    sim_zone_set_power_uw(m, z, (uint64_t)(w * 1e6 + 0.5));
  } else if (strcmp(cmd, "sleep") == 0) {
    reply = apply_sleep(m, tok + 1, n - 1, &r);
    if (reply != NULL)
      goto out;
  } else if (strcmp(cmd, "cgroup-add") == 0) {
    double share;
    if (parse_double(arg2, 0, 1, &share) != 0) {
      reply = fmt_reply("error cgroup-add wants a share (0 .. 1), got "
                        "\"%s\"", arg2);
      goto out;
    }
    r = sim_cgroup_add(m, arg1, share);
    if (r == -EEXIST || r == -EINVAL) {
      reply = fmt_reply(r == -EEXIST ? "error cgroup \"%s\" exists"
                                     : "error bad cgroup path \"%s\" "
                                       "(relative, no . or .. component, "
                                       "no space)",
                        arg1);
      goto out;
    }
  } else if (strcmp(cmd, "cgroup-remove") == 0) {
    r = sim_cgroup_remove(m, arg1);
    if (r == -ENOENT || r == -EBUSY) {
      reply = fmt_reply(r == -ENOENT ? "error no cgroup \"%s\""
                                     : "error cgroup \"%s\" has children "
                                       "(EBUSY, as the kernel)",
                        arg1);
      goto out;
    }
  } else { /* truth */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
      reply = fmt_reply("error out of memory");
      goto out;
    }
    for (size_t i = 0; i < sim_zone_count(m); i++)
      fprintf(f, "truth %s %" PRIu64 "\n", sim_zone_link_name(m, i),
              sim_zone_truth_nj(m, i));
    fprintf(f, "ok truth");
    fclose(f);
    reply = buf;
    goto out;
  }
  if (r == -ENOTSUP)
    reply = fmt_reply("error not supported with --powercap files");
  else if (r != 0)
    reply = fmt_reply("error %s", sim_build_error(m)[0] != '\0'
                                      ? sim_build_error(m)
                                      : strerror(-r));
  else
    reply = fmt_reply("ok %s", line);
out:
  pthread_mutex_unlock(c->o->lock);
  return reply;
}

/* Write the reply and a newline to stdout with write(2), waiting for room
 * with poll so that a stop request (a byte on wake) is seen even when
 * nobody reads our stdout: the reader thread must never be stuck, and no
 * stdio buffer is left for exit() to flush into a full pipe.  A pipe with
 * room takes PIPE_BUF bytes without blocking.  Errors (EPIPE: the reader
 * went away) drop the reply. */
static void write_reply(struct commands *c, const char *text) {
  size_t len = strlen(text), done = 0;
  while (done <= len) {
    struct pollfd p[2] = {{.fd = 1, .events = POLLOUT},
                          {.fd = c->wake[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (p[1].revents != 0)
      return; /* stopping */
    if (p[0].revents & (POLLERR | POLLNVAL))
      return;
    ssize_t w;
    if (done == len) {
      w = write(1, "\n", 1);
    } else {
      size_t chunk = len - done < PIPE_BUF ? len - done : PIPE_BUF;
      w = write(1, text + done, chunk);
    }
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return;
    }
    done += (size_t)w;
    if (done > len)
      return;
  }
}

/* One line: split, apply, write the reply (outside the lock: a reader that
 * does not read our stdout must not stop the simulation). */
static void handle_line(struct commands *c, char *line) {
  char *tok[CMD_MAX_TOKENS + 1] = {NULL}, *save = NULL;
  size_t n = 0;
  for (char *t = strtok_r(line, " \t\r", &save);
       t != NULL && n <= CMD_MAX_TOKENS; t = strtok_r(NULL, " \t\r", &save))
    tok[n++] = t;
  if (n == 0 || tok[0][0] == '#')
    return; /* empty line, comment */
  char *reply;
  if (n > CMD_MAX_TOKENS) {
    reply = fmt_reply("error too many arguments");
  } else {
    char joined[CMD_MAX_LINE + 8];
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
      used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s",
                               i ? " " : "", tok[i]);
    reply = apply_command(c, tok, n, joined);
  }
  write_reply(c, reply != NULL ? reply : "error out of memory");
  free(reply);
}

static void *commands_main(void *arg) {
  struct commands *c = arg;
  char buf[CMD_MAX_LINE];
  size_t len = 0;
  int skipping = 0; /* in a line that was too long */
  for (;;) {
    struct pollfd p[2] = {{.fd = 0, .events = POLLIN},
                          {.fd = c->wake[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents != 0)
      break; /* stopping */
    if (p[0].revents == 0)
      continue;
    ssize_t got = read(0, buf + len, sizeof(buf) - 1 - len);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (got <= 0) { /* EOF (or a tty we may not read): keep running */
      if (len > 0 && !skipping) {
        buf[len] = '\0';
        handle_line(c, buf);
      }
      break;
    }
    len += (size_t)got;
    char *nl;
    while ((nl = memchr(buf, '\n', len)) != NULL) {
      *nl = '\0';
      if (!skipping)
        handle_line(c, buf);
      skipping = 0;
      size_t used = (size_t)(nl + 1 - buf);
      memmove(buf, nl + 1, len - used);
      len -= used;
    }
    if (len == sizeof(buf) - 1) { /* no newline in sight */
      if (!skipping) {
        char msg[64];
        snprintf(msg, sizeof(msg), "error line longer than %d bytes",
                 CMD_MAX_LINE - 2);
        write_reply(c, msg);
      }
      skipping = 1;
      len = 0;
    }
  }
  return NULL;
}

static int commands_start(struct commands *c) {
  if (fcntl(0, F_GETFD) < 0)
    return 0; /* no standard input at all: no commands */
  if (pipe2(c->wake, O_CLOEXEC) != 0) {
    fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
    return -1;
  }
  /* SIGINT/SIGTERM stay with the main thread (its sleep must be cut). */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int r = pthread_create(&c->thread, NULL, commands_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    fprintf(stderr, "%s: pthread_create: %s\n", prog, strerror(r));
    close(c->wake[0]);
    close(c->wake[1]);
    return -1;
  }
  c->started = 1;
  return 0;
}

static void commands_stop(struct commands *c) {
  if (!c->started)
    return;
  char b = 1;
  while (write(c->wake[1], &b, 1) < 0 && errno == EINTR)
    ;
  pthread_join(c->thread, NULL);
  close(c->wake[0]);
  close(c->wake[1]);
  c->started = 0;
}

static int run_loop(sim_machine_t *m, const struct run_opts *o,
                    enum powercap_mode pc) {
  const uint64_t t0 = mono_ns();
  const uint64_t end = o->has_duration ? t0 + o->duration_ns : UINT64_MAX;
  uint64_t next = t0 + o->period_ns;
  uint64_t last_truth = t0;
  struct commands cmds = {.m = m, .o = o, .pc = pc, .t0 = t0, .end = end};
  pthread_mutex_lock(o->lock);
  refresh_ctx = (struct refresh_ctx){.m = m, .o = o, .t0 = t0, .end = end};
  pthread_mutex_unlock(o->lock);

  printf("ready\n");
  fflush(stdout);

  int rc = 0;
  if (o->truth != NULL && write_truth_locked(m, o) != 0)
    return 1;
  if (commands_start(&cmds) != 0)
    return 1;
  while (!stop_requested) {
    uint64_t deadline = next < end ? next : end;
    struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
                          .tv_nsec = (long)(deadline % NS_PER_S)};
    int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    if (r != 0 && r != EINTR) {
      fprintf(stderr, "%s: clock_nanosleep: %s\n", prog, strerror(r));
      rc = 1;
      break;
    }
    uint64_t now = mono_ns();
    int done = now >= end;
    if (done)
      now = end; /* the run covers exactly --duration */
    if (catch_up(m, o, now - t0) != 0) {
      rc = 1;
      break;
    }
    if (done)
      break;
    if (o->truth != NULL && now - last_truth >= NS_PER_S) {
      if (write_truth_locked(m, o) != 0) {
        rc = 1;
        break;
      }
      last_truth = now;
    }
    next += o->period_ns;
    if (next <= now) /* fell behind: skip the missed periods */
      next = now + o->period_ns;
  }
  commands_stop(&cmds);
  if (rc != 0)
    return rc;
  /* final update (after a signal; a no-op at the end of --duration) */
  uint64_t now = mono_ns();
  if (now > end)
    now = end;
  if (catch_up(m, o, now - t0) != 0)
    return 1;
  if (o->truth != NULL && write_truth_locked(m, o) != 0)
    return 1;
  return 0;
}

#ifdef SIM_WITH_FUSE
/* Create ROOT/<rel> (and the directories above it up to ROOT) for a mount. */
static int make_mount_dir(const char *root, const char *rel, char **out) {
  char *path;
  if (asprintf(&path, "%s/%s", root, rel) < 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  size_t skip = strlen(root) + 1;
  for (char *s = path + skip; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    int bad = mkdir(path, 0755) != 0 && errno != EEXIST;
    *s = '/';
    if (bad)
      break;
  }
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create %s: %s\n", prog, path,
            strerror(errno));
    free(path);
    return -1;
  }
  *out = path;
  return 0;
}

/* After stopping a FUSE file system: it must be gone. */
static int check_unmounted(const char *mnt) {
  char why[512];
  if (is_mount_point(mnt, why, sizeof(why)) == 1) {
    fprintf(stderr, "%s: %s is still mounted after the unmount (%s)\n", prog,
            mnt, why);
    return 1;
  }
  return 0;
}
#endif

static int cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
      {"period-ms", required_argument, NULL, 'p'},
      {"duration", required_argument, NULL, 'd'},
      {"wrap-in", required_argument, NULL, 'w'},
      {"speed", required_argument, NULL, 's'},
      {"truth", required_argument, NULL, 't'},
      {"msr", required_argument, NULL, 'm'},
      {"powercap", required_argument, NULL, 'c'},
      {"no-powercap", no_argument, NULL, 'P'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  struct run_opts o = {.period_ns = 1000000, .speed = 1.0, .lock = &lock};
  sim_build_opts_t bo = {.powercap = 1, .cpu = 1, .msr_files = 0};
  enum msr_mode mode = MSR_NONE;
  enum powercap_mode pc = PC_FILES;
  int pc_given = 0;
  uint64_t u;
  double d;
  int c;
  /* argv[0] is "run" here, so getopt sees the usual layout. */
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'p':
      if (parse_u64(optarg, 1, 3600000, &u) != 0)
        return usage_error("--period-ms wants an integer 1..3600000, got "
                           "\"%s\"", optarg);
      o.period_ns = u * 1000000ULL;
      break;
    case 'd':
      if (parse_double(optarg, 0, 1e9, &d) != 0)
        return usage_error("--duration wants seconds >= 0, got \"%s\"",
                           optarg);
      o.has_duration = 1;
      o.duration_ns = (uint64_t)(d * 1e9 + 0.5);
      break;
    case 'w':
      if (parse_double(optarg, 0, 1e9, &d) != 0)
        return usage_error("--wrap-in wants seconds >= 0, got \"%s\"",
                           optarg);
      o.has_wrap = 1;
      o.wrap_s = d;
      break;
    case 's':
      if (parse_double(optarg, 1e-6, 1e6, &d) != 0)
        return usage_error("--speed wants a factor in 1e-6..1e6, got \"%s\"",
                           optarg);
      o.speed = d;
      break;
    case 't':
      if (optarg[0] == '\0')
        return usage_error("%s", "--truth wants a file name");
      o.truth = optarg;
      break;
    case 'm':
      if (parse_msr_mode(optarg, 1, &mode) != 0)
        return usage_error("--msr wants fuse, sparse or none, got \"%s\"",
                           optarg);
      break;
    case 'c':
      if (strcmp(optarg, "files") == 0)
        pc = PC_FILES;
      else if (strcmp(optarg, "fuse") == 0)
        pc = PC_FUSE;
      else
        return usage_error("--powercap wants files or fuse, got \"%s\"",
                           optarg);
      pc_given = 1;
      break;
    case 'P':
      bo.powercap = 0;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case ':':
      return usage_error("option %s needs a value", argv[optind - 1]);
    default:
      return usage_error("unknown option %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return usage_error("%s", "run needs MACHINE.yaml and ROOT");
  if (!bo.powercap) {
    if (pc_given)
      return usage_error("%s", "--powercap and --no-powercap exclude each "
                               "other");
    pc = PC_NONE;
  }
  const char *yaml = argv[optind], *root = argv[optind + 1];

#ifndef SIM_WITH_FUSE
  if (mode == MSR_FUSE || pc == PC_FUSE) {
    fprintf(stderr, "%s: --%s fuse: this rapl-sim was built without FUSE "
            "(compile contrib/sim/sim_fuse.c with -DSIM_WITH_FUSE and link "
            "libfuse3)\n", prog, mode == MSR_FUSE ? "msr" : "powercap");
    return 1;
  }
#endif
  sim_machine_t *m = load_or_complain(yaml);
  if (m == NULL)
    return 1;
  if (msr_precheck(m, yaml, root, mode) != 0) {
    sim_free(m);
    return 1;
  }
  if (pc == PC_FUSE) {
    char *dir, why[512];
    if (asprintf(&dir, "%s/sys/devices/virtual/powercap", root) < 0) {
      fprintf(stderr, "%s: out of memory\n", prog);
      sim_free(m);
      return 1;
    }
    int busy = is_mount_point(dir, why, sizeof(why)) == 1;
    if (busy)
      fprintf(stderr, "%s: %s is already a mount point (%s); refusing to "
              "start: is another rapl-sim running there?  If not, unmount "
              "it: umount -l %s\n", prog, dir, why, dir);
    free(dir);
    if (busy) {
      sim_free(m);
      return 1;
    }
  }
  if (o.has_wrap)
    sim_wrap_in(m, o.wrap_s);
  bo.msr_files = mode == MSR_SPARSE;
  if (build_or_complain(m, root, &bo) != 0) {
    sim_free(m);
    return 1;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: interrupt clock_nanosleep */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* Replies to a reader that went away must not kill us, and reading
   * commands from a terminal while in the background must not stop us
   * (the read fails instead). */
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  sigaction(SIGTTIN, &sa, NULL);

  int rc = 0;
#ifdef SIM_WITH_FUSE
  sim_fuse_t *fuse = NULL, *pc_fuse = NULL;
  char *mnt = NULL, *pc_mnt = NULL;
  char err[512];
  if (pc == PC_FUSE) {
    if (make_mount_dir(sim_root(m), "sys/devices/virtual/powercap",
                       &pc_mnt) != 0) {
      rc = 1;
    } else {
      pthread_mutex_lock(&lock);
      sim_powercap_set_served(m, 1); /* the files underneath stay as built */
      pthread_mutex_unlock(&lock);
      if ((pc_fuse = sim_fuse_start_powercap(m, &lock, pc_mnt, err,
                                             sizeof(err))) == NULL) {
        fprintf(stderr, "%s: --powercap fuse: %s\n", prog, err);
        rc = 1;
      } else {
        sim_fuse_set_refresh(pc_fuse, refresh_now, &refresh_ctx);
      }
    }
  }
  if (rc == 0 && mode == MSR_FUSE) {
    if (make_mount_dir(sim_root(m), "dev/cpu", &mnt) != 0) {
      rc = 1;
    } else if ((fuse = sim_fuse_start(m, &lock, mnt, err, sizeof(err))) ==
               NULL) {
      fprintf(stderr, "%s: --msr fuse: %s\n", prog, err);
      rc = 1;
    } else {
      sim_fuse_set_refresh(fuse, refresh_now, &refresh_ctx);
    }
  }
  if (rc == 0)
    rc = run_loop(m, &o, pc);
  if (fuse != NULL) {
    sim_fuse_stop(fuse);
    if (check_unmounted(mnt) != 0)
      rc = 1;
  }
  if (pc_fuse != NULL) {
    sim_fuse_stop(pc_fuse);
    if (check_unmounted(pc_mnt) != 0) {
      rc = 1;
    } else { /* leave the regular files with the final values */
      sim_powercap_set_served(m, 0);
      sim_write_all(m);
    }
  }
  free(mnt);
  free(pc_mnt);
#else
  rc = run_loop(m, &o, pc);
#endif
  sim_free(m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage_error("%s", "missing command");
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "build") == 0)
    return cmd_build(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0)
    return cmd_check(argc - 2, argv + 2);
  if (strcmp(cmd, "selftest") == 0)
    return cmd_selftest(argc - 2, argv + 2);
  return usage_error("unknown command \"%s\"", cmd);
}
