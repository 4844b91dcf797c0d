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

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL

static const char *prog = "rapl-sim";
static volatile sig_atomic_t stop_requested;

static void usage(FILE *f) {
  fprintf(f,
          "usage:\n"
          "  %s build MACHINE.yaml ROOT\n"
          "  %s run MACHINE.yaml ROOT [--period-ms N] [--duration S]\n"
          "        [--wrap-in S] [--speed X] [--truth FILE]\n"
          "  %s check MACHINE.yaml\n"
          "  %s selftest\n"
          "\n"
          "build     create ROOT/sys/... (ROOT plays /) and print the zones\n"
          "run       build, print \"ready\", then advance the counters every\n"
          "          --period-ms (default 1) until SIGINT/SIGTERM or the end\n"
          "          of --duration seconds; --speed X simulates X seconds per\n"
          "          real second; --wrap-in S makes every 32-bit counter wrap\n"
          "          S simulated seconds after the start; --truth FILE gets\n"
          "          \"<zone> <name> <truth_nj> <elapsed_ns>\" lines once per\n"
          "          second and at exit\n"
          "check     load the description and print the zones, write nothing\n"
          "selftest  check the kernel arithmetic\n",
          prog, prog, prog, prog);
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

static int build_or_complain(sim_machine_t *m, const char *root) {
  int r = sim_build(m, root);
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

static int cmd_build(int argc, char **argv) {
  if (argc != 2)
    return usage_error("%s", "build needs MACHINE.yaml and ROOT");
  sim_machine_t *m = load_or_complain(argv[0]);
  if (m == NULL)
    return 1;
  int rc = 0;
  if (build_or_complain(m, argv[1]) != 0)
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
};

/* Bring the simulation to `elapsed_real_ns` after the start. */
static int catch_up(sim_machine_t *m, const struct run_opts *o,
                    uint64_t elapsed_real_ns) {
  uint64_t target =
      o->speed == 1.0
          ? elapsed_real_ns
          : (uint64_t)((long double)elapsed_real_ns * (long double)o->speed);
  uint64_t applied = sim_elapsed_ns(m);
  if (target <= applied)
    return 0;
  int r = sim_advance_ns(m, target - applied);
  if (r != 0)
    fprintf(stderr, "%s: updating energy_uj failed: %s\n", prog, strerror(-r));
  return r;
}

static int run_loop(sim_machine_t *m, const struct run_opts *o) {
  const uint64_t t0 = mono_ns();
  const uint64_t end = o->has_duration ? t0 + o->duration_ns : UINT64_MAX;
  uint64_t next = t0 + o->period_ns;
  uint64_t last_truth = t0;

  printf("ready\n");
  fflush(stdout);

  if (o->truth != NULL && write_truth(m, o->truth) != 0)
    return 1;
  while (!stop_requested) {
    uint64_t deadline = next < end ? next : end;
    struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
                          .tv_nsec = (long)(deadline % NS_PER_S)};
    int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    if (r != 0 && r != EINTR) {
      fprintf(stderr, "%s: clock_nanosleep: %s\n", prog, strerror(r));
      return 1;
    }
    uint64_t now = mono_ns();
    int done = now >= end;
    if (done)
      now = end; /* the run covers exactly --duration */
    if (catch_up(m, o, now - t0) != 0)
      return 1;
    if (done)
      break;
    if (o->truth != NULL && now - last_truth >= NS_PER_S) {
      if (write_truth(m, o->truth) != 0)
        return 1;
      last_truth = now;
    }
    next += o->period_ns;
    if (next <= now) /* fell behind: skip the missed periods */
      next = now + o->period_ns;
  }
  /* final update (after a signal; a no-op at the end of --duration) */
  uint64_t now = mono_ns();
  if (now > end)
    now = end;
  if (catch_up(m, o, now - t0) != 0)
    return 1;
  if (o->truth != NULL && write_truth(m, o->truth) != 0)
    return 1;
  return 0;
}

static int cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
      {"period-ms", required_argument, NULL, 'p'},
      {"duration", required_argument, NULL, 'd'},
      {"wrap-in", required_argument, NULL, 'w'},
      {"speed", required_argument, NULL, 's'},
      {"truth", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct run_opts o = {.period_ns = 1000000, .speed = 1.0};
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
  const char *yaml = argv[optind], *root = argv[optind + 1];

  sim_machine_t *m = load_or_complain(yaml);
  if (m == NULL)
    return 1;
  if (o.has_wrap)
    sim_wrap_in(m, o.wrap_s);
  if (build_or_complain(m, root) != 0) {
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

  int rc = run_loop(m, &o);
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
    return cmd_build(argc - 2, argv + 2);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0)
    return cmd_check(argc - 2, argv + 2);
  if (strcmp(cmd, "selftest") == 0)
    return cmd_selftest(argc - 2, argv + 2);
  return usage_error("unknown command \"%s\"", cmd);
}
