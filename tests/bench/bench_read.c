/* bench_read.c - what one read of the plugin costs (issue 10): `make bench`.
 *
 * Not a test: it prints figures and asserts none of them. For each source
 * (powercap regular-file tree, MSR sparse-file devices, hwmon amd_energy
 * chip) on simulated machines of 1, 2, 8 and 32 sockets with 4 energy
 * counters per socket, it drives the plugin's real read path - rapl.c's
 * read callback as registered with the fake collectd (tests/fake_collectd.c)
 * after the plugin's config and init callbacks, its plugin_dispatch_values
 * only counting - with ActiveIdle false and true, and beside it, on the
 * same counter files:
 *   bare  - one pread per counter on descriptors opened once (the floor);
 *   naive - open, read, close per counter per read (Kepler's and
 *           node_exporter's readers);
 *   bare+stat - bare plus one pread of a kept-open <ProcfsPath>/stat (the
 *           floor of ActiveIdle true).
 * Per read it reports CPU time (CLOCK_THREAD_CPUTIME_ID around each read,
 * the cost of the clock calls themselves subtracted; median = a read
 * without the once-a-minute rescan, mean = with it amortized), system
 * calls counted exactly by name (a forked child traced with
 * PTRACE_SYSCALL; marker syscalls bracket each read), heap allocations
 * (malloc/calloc/realloc interposed in this binary) and values dispatched.
 *
 * Between two reads (outside what is timed, traced or counted) the
 * simulated machine advances by the collectd interval, 10 s, and so does
 * the fake clock: every read sees counters that moved as on a real box,
 * and the plugin rescans as it does in production: often enough to find
 * a new zone within 60 s, which at 10 s is every 5th read.
 *
 * Energy per cgroup (issue 11, SPEC 9): a row per number of cgroups N
 * (BENCH_CGROUPS, default "10 100 1000"; "none" leaves the rows out): the
 * powercap machine of 2 sockets with N simulated services
 * (bench.slice/svc-NNNN.service, the simulator's cgroups: section, each
 * cpu.stat rewritten at every advance), `Cgroups "bench.slice/ *.service"`
 * (without the space) matching all N, ActiveIdle on; beside it the same
 * machine without Cgroups (N = 0). Per read: CPU, system calls (pread64
 * per cgroup over the N = 0 row's), allocations, values; and the rescan
 * (once a minute: the glob, an open per cgroup) as its extra over a steady
 * read, (mean - steady) / the share of reads that rescanned.
 *
 * Usage: bench_read [READS [TRACED_READS]] (defaults 2000 and 300);
 * BENCH_SOCKETS="1 2" and BENCH_SOURCES="powercap msr hwmon" narrow it;
 * BENCH_DIR is where the machines are built (default /dev/shm).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_collectd.h"
#include "sim_machine.h"

void module_register(void); /* src/rapl.c */

#define SEC UINT64_C(1000000000)
#define STEP_NS (10 * SEC) /* collectd's default Interval */
#define MAX_FILES 1024
#define MAX_SYSCALL 1024
#define MARK_MAGIC 0x62656e63UL /* "benc" */

/* ---- heap allocations, counted by interposition -------------------------- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static volatile int alloc_counting;
static unsigned long alloc_count;

void *malloc(size_t size) {
  if (alloc_counting)
    alloc_count++;
  return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
  if (alloc_counting)
    alloc_count++;
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
  if (alloc_counting)
    alloc_count++;
  return __libc_realloc(p, size);
}

void free(void *p) { __libc_free(p); }

/* ---- system call names ---------------------------------------------------- */

#define NAME(n) {SYS_##n, #n}
static const struct {
  long nr;
  const char *name;
} syscall_names[] = {
    NAME(read),       NAME(pread64),   NAME(openat),    NAME(close),
    NAME(getdents64), NAME(newfstatat), NAME(fstat),    NAME(statx),
    NAME(lseek),      NAME(mmap),      NAME(munmap),    NAME(brk),
    NAME(write),      NAME(pwrite64),  NAME(ftruncate), NAME(clock_gettime),
    NAME(getppid),    NAME(readlinkat), NAME(faccessat), NAME(fcntl),
    NAME(ioctl),      NAME(mprotect),  NAME(getpid),    NAME(futex),
    NAME(madvise),    NAME(exit_group),
#ifdef SYS_open
    NAME(open),       NAME(stat),      NAME(lstat),     NAME(readlink),
    NAME(access),
#endif
};

static const char *syscall_name(long nr, char *buf, size_t len) {
  for (size_t i = 0; i < sizeof(syscall_names) / sizeof(syscall_names[0]); i++)
    if (syscall_names[i].nr == nr)
      return syscall_names[i].name;
  snprintf(buf, len, "syscall_%ld", nr);
  return buf;
}

/* Brackets one measured operation in a traced child. */
static void mark(int open_window) {
  syscall(SYS_getppid, MARK_MAGIC, (unsigned long)open_window);
}

/* ---- the simulated machine and the counter files ------------------------- */

typedef enum { SRC_POWERCAP, SRC_MSR, SRC_HWMON, SRC_COUNT } source_t;
static const char *const source_names[] = {"powercap", "msr", "hwmon"};

typedef struct {
  char path[512];
  off_t offset;
  size_t len; /* bytes one read asks for */
} counter_file_t;

typedef struct {
  source_t source;
  unsigned sockets;
  sim_machine_t *sim;
  char root[256];
  counter_file_t files[MAX_FILES];
  size_t file_count;
  int fds[MAX_FILES];
  int stat_fd;
} bench_t;

#define INTEL_CORES 2 /* per package; 2 threads each */
#define AMD_CORES 3   /* per package, 1 thread: Ecore x3 + Esocket = 4 */

/* 4 counters per socket on both vendors. Intel: package, core, uncore,
 * dram - a client-style core/uncore pair (as laptop-psys.yaml) with the
 * server DRAM domain (fixed 15.3 uJ), so powercap and MSR read the same 4
 * counters (0x611, 0x639, 0x641, 0x619). AMD: amd_energy's Esocket<N> and
 * one Ecore<c> per core - the plugin makes zones package (Esocket) and
 * core (the sum of the package's Ecore channels). */
static unsigned bench_cgroups; /* cgroups of the machine built next */
#define CGROUP_GLOB "bench.slice/*.service"

static char *machine_yaml(source_t source, unsigned sockets) {
  size_t cap = 4096 + (size_t)sockets * 1024 + (size_t)bench_cgroups * 80,
         len = 0;
  char *y = malloc(cap);
  if (y == NULL)
    abort();
#define ADD(...) len += (size_t)snprintf(y + len, cap - len, __VA_ARGS__)
  if (source == SRC_HWMON) {
    ADD("machine: bench-amd-%us\ncpu:\n  vendor: AuthenticAMD\n"
        "  family: 0x17\n  model: 0x31\n"
        "  model_name: \"AMD EPYC 7702 64-Core Processor\"\n"
        "  packages: %u\n  cores_per_die: %u\n  threads_per_core: 1\n"
        "hwmon:\n  - name: amd_energy\n    device: platform/amd_energy.0\n"
        "    channels:\n",
        sockets, sockets, AMD_CORES);
    unsigned index = 1;
    for (unsigned c = 0; c < sockets * AMD_CORES; c++)
      ADD("      - {type: energy, index: %u, label: Ecore%03u, power_w: 5.5, "
          "start_uj: %u}\n",
          index++, c, 1000000 + c);
    for (unsigned p = 0; p < sockets; p++)
      ADD("      - {type: energy, index: %u, label: Esocket%u, power_w: 95.0, "
          "start_uj: %u}\n",
          index++, p, 123456789 + p);
  } else {
    ADD("machine: bench-intel-%us\ncpu:\n  vendor: GenuineIntel\n"
        "  family: 6\n  model: 0x55\n"
        "  model_name: \"Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\"\n"
        "  packages: %u\n  cores_per_die: %u\n  threads_per_core: 2\n"
        "msr:\n  unit: 0xA0E03\npowercap:\n",
        sockets, sockets, INTEL_CORES);
    for (unsigned p = 0; p < sockets; p++)
      ADD("  - id: %u\n    name: package-%u\n    esu: 14\n    power_w: 120.0\n"
          "    start_uj: %u\n    zones:\n"
          "      - {id: 0, name: core, esu: 14, power_w: 70.0, start_uj: %u}\n"
          "      - {id: 1, name: uncore, esu: 14, power_w: 8.0, start_uj: %u}\n"
          "      - {id: 2, name: dram, unit_nj: 15300, power_w: 15.0, "
          "start_uj: %u}\n",
          p, p, 90000000 + p, 50000000 + p, 3000000 + p, 40000000 + p);
  }
  ADD("stat:\n  busy: {all: 0.5}\n");
  if (bench_cgroups > 0) {
    /* the services share 0.9 of the busy time, the slice 0.95 */
    ADD("cgroups:\n  - {path: bench.slice, share: 0.95}\n");
    for (unsigned i = 0; i < bench_cgroups; i++)
      ADD("  - {path: bench.slice/svc-%04u.service, share: %.9f}\n", i,
          0.9 / bench_cgroups);
  }
#undef ADD
  return y;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_read: %s: %s\n", what, detail);
  exit(1);
}

static void add_file(bench_t *b, const char *path, off_t offset, size_t len) {
  if (b->file_count == MAX_FILES)
    die("too many counter files", path);
  counter_file_t *f = &b->files[b->file_count++];
  snprintf(f->path, sizeof(f->path), "%s", path);
  f->offset = offset;
  f->len = len;
}

/* Where the simulated machines are built: BENCH_DIR, else /dev/shm. On a
 * disk file system (ext4 /tmp) the first read of a file the simulator has
 * just written updates its atime through the journal, a cost the kernel's
 * sysfs does not have and that would fall on whichever reader comes first;
 * tmpfs keeps it in memory. */
static const char *bench_dir(void) {
  const char *dir = getenv("BENCH_DIR");
  if (dir != NULL && *dir)
    return dir;
  return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void bench_setup(bench_t *b, source_t source, unsigned sockets) {
  memset(b, 0, sizeof(*b));
  b->source = source;
  b->sockets = sockets;
  snprintf(b->root, sizeof(b->root), "%s/rapl-bench-XXXXXX", bench_dir());
  if (mkdtemp(b->root) == NULL)
    die("mkdtemp", strerror(errno));
  char err[512];
  char *yaml = machine_yaml(source, sockets);
  b->sim = sim_load_string(yaml, err, sizeof(err));
  free(yaml);
  if (b->sim == NULL)
    die("machine", err);
  sim_build_opts_t opts = {.powercap = 1, .cpu = 1,
                           .msr_files = source == SRC_MSR};
  if (sim_build_ex(b->sim, b->root, &opts) != 0)
    die("building the machine", sim_build_error(b->sim));
  char path[512];
  switch (source) {
  case SRC_POWERCAP:
    for (size_t i = 0; i < sim_zone_count(b->sim); i++) {
      snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(b->sim, i));
      add_file(b, path, 0, 32);
    }
    break;
  case SRC_MSR: {
    /* the registers the plugin reads: each package's on its first CPU */
    static const unsigned regs[] = {0x611, 0x639, 0x641, 0x619};
    for (unsigned p = 0; p < sockets; p++)
      for (size_t r = 0; r < 4; r++) {
        snprintf(path, sizeof(path), "%s/dev/cpu/%u/msr", b->root,
                 p * INTEL_CORES);
        add_file(b, path, (off_t)regs[r], 8);
      }
    break;
  }
  case SRC_HWMON:
    for (size_t ch = 0; ch < sim_hwmon_channel_count(b->sim); ch++) {
      snprintf(path, sizeof(path), "%s/%s_input",
               sim_hwmon_chip_attr_dir(b->sim, sim_hwmon_channel_chip(b->sim, ch)),
               sim_hwmon_channel_name(b->sim, ch));
      add_file(b, path, 0, 32);
    }
    break;
  default:
    break;
  }
  for (size_t i = 0; i < b->file_count; i++)
    b->fds[i] = -1;
  b->stat_fd = -1;
}

static void bench_teardown(bench_t *b) {
  sim_free(b->sim);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->root);
  if (system(cmd) != 0)
    fprintf(stderr, "bench_read: could not remove %s\n", b->root);
}

/* The machine and the fake clock move on by one collectd interval. */
static void advance(bench_t *b) {
  if (sim_advance_ns(b->sim, STEP_NS) != 0)
    die("advancing the machine", sim_build_error(b->sim));
  fake_now_ns += STEP_NS;
}

/* ---- the operations compared --------------------------------------------- */

static volatile uint64_t sink; /* what was read, so nothing is elided */
static char stat_buf[256 * 1024];

static uint64_t parse(const char *buf, ssize_t n, size_t len) {
  if (n <= 0)
    return 0;
  if (len == 8) { /* an MSR: 8 bytes little-endian */
    uint64_t v;
    memcpy(&v, buf, sizeof(v));
    return v;
  }
  uint64_t v = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
    v = v * 10 + (uint64_t)(buf[i] - '0');
  return v;
}

static void op_bare(bench_t *b) {
  char buf[32];
  uint64_t sum = 0;
  for (size_t i = 0; i < b->file_count; i++) {
    ssize_t n = pread(b->fds[i], buf, b->files[i].len, b->files[i].offset);
    sum += parse(buf, n, b->files[i].len);
  }
  sink = sum;
}

static void op_bare_stat(bench_t *b) {
  op_bare(b);
  ssize_t n = pread(b->stat_fd, stat_buf, sizeof(stat_buf), 0);
  sink += (uint64_t)n;
}

static void op_naive(bench_t *b) {
  char buf[32];
  uint64_t sum = 0;
  for (size_t i = 0; i < b->file_count; i++) {
    int fd = open(b->files[i].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t n = b->files[i].len == 8
                    ? pread(fd, buf, 8, b->files[i].offset)
                    : read(fd, buf, b->files[i].len);
    close(fd);
    sum += parse(buf, n, b->files[i].len);
  }
  sink = sum;
}

static int read_status;
static void op_plugin(bench_t *b) {
  (void)b;
  read_status |= fake_read_cb(&fake_read_ud);
}

typedef void (*op_t)(bench_t *b);

/* ---- measuring ------------------------------------------------------------ */

static uint64_t thread_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t clock_overhead_ns; /* median of an empty pair of clock calls */

static void calibrate_clock(void) {
  enum { N = 20001 };
  static uint64_t t[N];
  for (size_t i = 0; i < N; i++) {
    uint64_t t0 = thread_ns();
    t[i] = thread_ns() - t0;
  }
  qsort(t, N, sizeof(t[0]), cmp_u64);
  clock_overhead_ns = t[N / 2];
}

typedef struct {
  double median_us, mean_us; /* CPU per operation */
  double allocs;             /* heap allocations per operation, mean */
  unsigned long allocs_steady; /* the most common count per operation */
  double whole_loop_us;      /* one clock pair around n operations, no
                                advance between them (bare, naive only) */
  double dispatched;         /* values dispatched per operation */
  /* traced: */
  size_t traced;
  double syscalls_mean;      /* per operation, all */
  unsigned syscalls_steady;  /* the most common count per operation */
  double mean_by_nr[MAX_SYSCALL];
  unsigned steady_by_nr[MAX_SYSCALL]; /* of one operation with that count */
  double rescan_share;       /* operations with more than the steady count */
} figures_t;

/* One operation's samples: CPU ns (clock cost subtracted) and heap
 * allocations per call, and the values it dispatched. */
typedef struct {
  uint64_t *ns, *allocs;
  size_t n, dispatched;
} samples_t;

static void samples_init(samples_t *s, size_t n) {
  s->ns = malloc(n * sizeof(*s->ns));
  s->allocs = malloc(n * sizeof(*s->allocs));
  if (s->ns == NULL || s->allocs == NULL)
    abort();
  s->n = 0;
  s->dispatched = 0;
}

static void sample(bench_t *b, op_t op, samples_t *s) {
  size_t d0 = fake_dispatch_count;
  alloc_count = 0;
  alloc_counting = 1;
  uint64_t t0 = thread_ns();
  op(b);
  uint64_t t1 = thread_ns();
  alloc_counting = 0;
  s->allocs[s->n] = alloc_count;
  s->dispatched += fake_dispatch_count - d0;
  uint64_t d = t1 - t0;
  s->ns[s->n++] = d > clock_overhead_ns ? d - clock_overhead_ns : 0;
}

/* median, mean and the most common allocation count; frees the samples */
static void summarize(samples_t *s, figures_t *f) {
  size_t n = s->n;
  double sum = 0, allocs = 0;
  for (size_t i = 0; i < n; i++) {
    sum += (double)s->ns[i];
    allocs += (double)s->allocs[i];
  }
  qsort(s->ns, n, sizeof(s->ns[0]), cmp_u64);
  f->median_us = (double)s->ns[n / 2] / 1e3;
  f->mean_us = sum / (double)n / 1e3;
  f->allocs = allocs / (double)n;
  f->dispatched = (double)s->dispatched / (double)n;
  uint64_t *a = s->allocs;
  qsort(a, n, sizeof(a[0]), cmp_u64);
  size_t best = 0, run = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = i;
    while (k < n && a[k] == a[i])
      k++;
    if (k - i > run)
      run = k - i, best = i;
    i = k - 1;
  }
  f->allocs_steady = (unsigned long)a[best];
  free(s->allocs);
  free(s->ns);
}

static void timed(bench_t *b, op_t op, size_t n, figures_t *f) {
  samples_t s;
  samples_init(&s, n);
  for (size_t i = 0; i < n; i++) {
    advance(b);
    sample(b, op, &s);
  }
  summarize(&s, f);
}

/* op and its floor in turns on the same state of the machine: after each
 * advance both read the same counters, in alternating order, so that what
 * else this machine does meanwhile, and the colder caches of whichever
 * reads first, fall on both alike. Their ratio is then not the drift
 * between two runs taken minutes apart (10-30 % on this kind of machine). */
static void timed_pair(bench_t *b, op_t op, op_t floor_op, size_t n,
                       figures_t *f, figures_t *floor_f) {
  samples_t s, fs;
  samples_init(&s, n);
  samples_init(&fs, n);
  for (size_t i = 0; i < n; i++) {
    advance(b);
    if (i % 2 == 0) {
      sample(b, op, &s);
      sample(b, floor_op, &fs);
    } else {
      sample(b, floor_op, &fs);
      sample(b, op, &s);
    }
  }
  summarize(&s, f);
  summarize(&fs, floor_f);
}

/* The same operations timed as one loop (nothing between them): a check
 * of the per-operation timing and its subtracted clock cost. */
static void whole_loop(bench_t *b, op_t op, size_t n, figures_t *f) {
  uint64_t t0 = thread_ns();
  for (size_t i = 0; i < n; i++)
    op(b);
  f->whole_loop_us = (double)(thread_ns() - t0) / (double)n / 1e3;
}

/* n operations in a traced child, each between two marks; the child's
 * copy of the machine and the plugin then go with it. Call it last for a
 * plugin instance: the child's advances are not the parent's. */
static void traced(bench_t *b, op_t op, size_t n, figures_t *f) {
  unsigned *per_op = calloc(n * MAX_SYSCALL, sizeof(*per_op));
  if (per_op == NULL)
    abort();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    die("fork", strerror(errno));
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
      _exit(2);
    raise(SIGSTOP);
    for (size_t i = 0; i < n; i++) {
      advance(b);
      mark(1);
      op(b);
      mark(0);
    }
    _exit(0);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
    die("tracing", "the child did not stop");
  if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
             (void *)(uintptr_t)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) != 0)
    die("PTRACE_SETOPTIONS", strerror(errno));
  bool in_window = false;
  size_t op_index = 0;
  int sig = 0;
  for (;;) {
    if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(uintptr_t)sig) != 0)
      die("PTRACE_SYSCALL", strerror(errno));
    sig = 0;
    if (waitpid(pid, &st, 0) != pid)
      die("waitpid", strerror(errno));
    if (WIFEXITED(st) || WIFSIGNALED(st))
      break;
    if (!WIFSTOPPED(st))
      continue;
    if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
      sig = WSTOPSIG(st);
      continue;
    }
    struct __ptrace_syscall_info info;
    if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) <= 0)
      die("PTRACE_GET_SYSCALL_INFO", strerror(errno));
    if (info.op != PTRACE_SYSCALL_INFO_ENTRY)
      continue;
    long nr = (long)info.entry.nr;
    if (nr == SYS_getppid && info.entry.args[0] == MARK_MAGIC) {
      if (info.entry.args[1] == 1) {
        in_window = true;
      } else {
        in_window = false;
        op_index++;
      }
      continue;
    }
    if (in_window && op_index < n && nr >= 0 && nr < MAX_SYSCALL)
      per_op[op_index * MAX_SYSCALL + (size_t)nr]++;
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || op_index != n)
    die("tracing", "the traced child failed");
  /* totals per operation; the steady count is the most common one */
  unsigned *totals = calloc(n, sizeof(*totals));
  if (totals == NULL)
    abort();
  double all = 0;
  memset(f->mean_by_nr, 0, sizeof(f->mean_by_nr));
  for (size_t i = 0; i < n; i++)
    for (size_t s = 0; s < MAX_SYSCALL; s++) {
      totals[i] += per_op[i * MAX_SYSCALL + s];
      f->mean_by_nr[s] += per_op[i * MAX_SYSCALL + s] / (double)n;
    }
  size_t best = 0, best_count = 0;
  for (size_t i = 0; i < n; i++) {
    size_t same = 0;
    for (size_t k = 0; k < n; k++)
      same += totals[k] == totals[i];
    if (same > best_count) {
      best_count = same;
      best = i;
    }
    all += totals[i];
  }
  size_t above = 0;
  for (size_t i = 0; i < n; i++)
    above += totals[i] > totals[best];
  f->traced = n;
  f->syscalls_mean = all / (double)n;
  f->syscalls_steady = totals[best];
  f->rescan_share = (double)above / (double)n;
  memcpy(f->steady_by_nr, &per_op[best * MAX_SYSCALL], sizeof(f->steady_by_nr));
  free(totals);
  free(per_op);
}

/* "pread64 8, read 1, openat 1" from per-name counts. */
static void by_name(char *out, size_t len, const unsigned *steady,
                    const double *mean) {
  size_t used = 0;
  out[0] = '\0';
  char tmp[32];
  for (long s = 0; s < MAX_SYSCALL; s++) {
    if (steady != NULL ? steady[s] == 0 : mean[s] < 0.0005)
      continue;
    int k = steady != NULL
                ? snprintf(out + used, len - used, "%s%s %u", used ? ", " : "",
                           syscall_name(s, tmp, sizeof(tmp)), steady[s])
                : snprintf(out + used, len - used, "%s%s %.3g", used ? ", " : "",
                           syscall_name(s, tmp, sizeof(tmp)), mean[s]);
    if (k < 0 || (size_t)k >= len - used)
      break;
    used += (size_t)k;
  }
}

static double count_of(const figures_t *f, long nr) {
  return nr >= 0 && nr < MAX_SYSCALL ? f->mean_by_nr[nr] : 0;
}

/* ---- the plugin ------------------------------------------------------------ */

typedef struct {
  oconfig_item_t block;
  oconfig_item_t children[8];
  oconfig_item_t msr_children[2];
  oconfig_value_t values[10];
} conf_t;

static oconfig_item_t *item(oconfig_item_t *it, const char *key,
                            oconfig_value_t *v) {
  memset(it, 0, sizeof(*it));
  it->key = (char *)key;
  if (v != NULL) {
    it->values = v;
    it->values_num = 1;
  }
  return it;
}

static oconfig_value_t *str_value(oconfig_value_t *v, const char *s) {
  v->type = OCONFIG_TYPE_STRING;
  v->value.string = (char *)s;
  return v;
}

static oconfig_value_t *bool_value(oconfig_value_t *v, bool on) {
  v->type = OCONFIG_TYPE_BOOLEAN;
  v->value.boolean = on;
  return v;
}

/* module_register, config, init as the daemon does; the zone count from
 * the plugin's "using <source>, N zones" line. */
static size_t plugin_start(bench_t *b, bool active_idle) {
  static char sysfs[300], procfs[300], dev[300], cgroupfs[300];
  snprintf(sysfs, sizeof(sysfs), "%s/sys", b->root);
  snprintf(procfs, sizeof(procfs), "%s/proc", b->root);
  snprintf(dev, sizeof(dev), "%s/dev/cpu", b->root);
  conf_t c;
  memset(&c, 0, sizeof(c));
  c.block.key = "Plugin";
  c.block.children = c.children;
  item(&c.children[0], "SysfsPath", str_value(&c.values[0], sysfs));
  item(&c.children[1], "ProcfsPath", str_value(&c.values[1], procfs));
  item(&c.children[2], "Sources",
       str_value(&c.values[2], source_names[b->source]));
  item(&c.children[3], "ActiveIdle", bool_value(&c.values[3], active_idle));
  c.block.children_num = 4;
  if (b->source == SRC_MSR) {
    oconfig_item_t *msr = item(&c.children[4], "MSR", NULL);
    msr->children = c.msr_children;
    msr->children_num = 2;
    item(&c.msr_children[0], "Enabled", bool_value(&c.values[4], true));
    item(&c.msr_children[1], "DevicePath", str_value(&c.values[5], dev));
    c.block.children_num = 5;
  }
  if (bench_cgroups > 0) {
    snprintf(cgroupfs, sizeof(cgroupfs), "%s/sys/fs/cgroup", b->root);
    item(&c.children[c.block.children_num++], "CgroupPath",
         str_value(&c.values[6], cgroupfs));
    item(&c.children[c.block.children_num++], "Cgroups",
         str_value(&c.values[7], CGROUP_GLOB));
  }
  fake_reset();
  fake_dispatch_count_only = 1;
  fake_interval = TIME_T_TO_CDTIME_T(10);
  fake_read_registrations = 0;
  module_register();
  if (fake_config_cb(&c.block) != 0 || fake_init_cb() != 0 ||
      fake_read_registrations != 1)
    die("starting the plugin", fake_log_text());
  const char *using = strstr(fake_log_text(), "using ");
  size_t zones = 0;
  char name[64];
  if (using == NULL || sscanf(using, "using %63[^,], %zu zones", name, &zones) != 2)
    die("the plugin found no source", fake_log_text());
  char want[64];
  snprintf(want, sizeof(want), "%s%s", b->source == SRC_HWMON ? "" : "rapl-",
           source_names[b->source]);
  if (strcmp(name, want) != 0)
    die("the plugin uses another source", name);
  return zones;
}

static void plugin_stop(void) {
  fake_free_read();
  fake_shutdown_cb();
}

/* ---- the run --------------------------------------------------------------- */

typedef struct {
  source_t source;
  unsigned sockets;
  size_t zones, files;
  figures_t bare, bare_stat, naive; /* each timed alone */
  figures_t plugin[2];              /* [active_idle] */
  figures_t floor[2]; /* bare ([0]) or bare+stat ([1]) timed in turns with
                         plugin[] (timed_pair) */
  unsigned warnings[2];
} row_t;

static size_t reads = 2000, traced_reads = 300;

static void open_files(bench_t *b) {
  for (size_t i = 0; i < b->file_count; i++)
    if ((b->fds[i] = open(b->files[i].path, O_RDONLY | O_CLOEXEC)) < 0)
      die(b->files[i].path, strerror(errno));
  char path[600];
  snprintf(path, sizeof(path), "%s/proc/stat", b->root);
  if ((b->stat_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    die(path, strerror(errno));
}

static void close_files(bench_t *b) {
  for (size_t i = 0; i < b->file_count; i++)
    close(b->fds[i]);
  close(b->stat_fd);
}

static void measure(bench_t *b, op_t op, figures_t *f) {
  for (size_t i = 0; i < 50; i++) { /* warm */
    advance(b);
    op(b);
  }
  timed(b, op, reads, f);
  traced(b, op, traced_reads, f);
}

/* the plugin, timed in turns with its floor (timed_pair), then traced */
static void measure_pair(bench_t *b, op_t op, op_t floor_op, figures_t *f,
                         figures_t *floor_f) {
  for (size_t i = 0; i < 50; i++) { /* warm */
    advance(b);
    op(b);
    floor_op(b);
  }
  timed_pair(b, op, floor_op, reads, f, floor_f);
  traced(b, op, traced_reads, f);
}

static void run_one(row_t *r, source_t source, unsigned sockets) {
  bench_t *b = malloc(sizeof(*b));
  if (b == NULL)
    abort();
  bench_setup(b, source, sockets);
  r->source = source;
  r->sockets = sockets;
  r->files = b->file_count;
  open_files(b);
  measure(b, op_bare, &r->bare);
  measure(b, op_bare_stat, &r->bare_stat);
  measure(b, op_naive, &r->naive);
  whole_loop(b, op_bare, reads, &r->bare);
  whole_loop(b, op_naive, reads, &r->naive);
  for (int ai = 0; ai < 2; ai++) {
    r->zones = plugin_start(b, ai == 1);
    read_status = 0;
    measure_pair(b, op_plugin, ai ? op_bare_stat : op_bare, &r->plugin[ai],
                 &r->floor[ai]);
    if (read_status != 0)
      die("the read callback failed", fake_log_text());
    /* [3] ERR, [4] WARNING: none is expected but MSR's opt-in warning */
    r->warnings[ai] = (unsigned)(fake_log_count("[3] ") + fake_log_count("[4] ") -
                                 fake_log_count("[4] rapl plugin: reading RAPL "
                                                "energy MSRs directly"));
    if (r->warnings[ai] != 0)
      fprintf(stderr, "bench_read: %s %u sockets ActiveIdle %d logged:\n%s\n",
              source_names[source], sockets, ai, fake_log_text());
    plugin_stop();
  }
  close_files(b);
  bench_teardown(b);
  free(b);
}

/* Energy per cgroup: the plugin on powercap, 2 sockets, ActiveIdle on,
 * with n cgroups matched (0: no Cgroups). */
typedef struct {
  unsigned n;
  size_t zones;
  figures_t plugin;
  unsigned warnings;
} cg_row_t;

static void run_cgroups(cg_row_t *r, unsigned n) {
  bench_t *b = malloc(sizeof(*b));
  if (b == NULL)
    abort();
  bench_cgroups = n;
  bench_setup(b, SRC_POWERCAP, 2);
  r->n = n;
  r->zones = plugin_start(b, true);
  read_status = 0;
  measure(b, op_plugin, &r->plugin);
  if (read_status != 0)
    die("the read callback failed", fake_log_text());
  r->warnings = (unsigned)(fake_log_count("[3] ") + fake_log_count("[4] "));
  if (r->warnings != 0)
    fprintf(stderr, "bench_read: %u cgroups logged:\n%s\n", n,
            fake_log_text());
  plugin_stop();
  bench_teardown(b);
  bench_cgroups = 0;
  free(b);
}

/* the extra of a rescan read over a steady one: (mean - steady) / share */
static double per_rescan(double mean, double steady, double share) {
  return share > 0 ? (mean - steady) / share : 0;
}

static void print_cgroups(const cg_row_t *rows, size_t count) {
  printf("\nEnergy per cgroup (SPEC 9): powercap, 2 sockets, ActiveIdle on, "
         "N services matched by Cgroups \"%s\" (N = 0: no Cgroups);\n"
         "per read; 'rescan' = the extra of a rescan read over a steady read "
         "((mean - steady) / share of reads that rescanned).\n",
         CGROUP_GLOB);
  printf("%5s | %8s %8s %8s | %6s %8s %8s %8s | %6s %6s | %6s | %9s %8s %7s "
         "| %4s\n",
         "N", "CPU us", "CPU us", "us/cg", "calls", "pread64", "pread64/",
         "calls/", "allocs", "allocs", "values", "rescan", "rescan", "rescan",
         "warn");
  printf("%5s | %8s %8s %8s | %6s %8s %8s %8s | %6s %6s | %6s | %9s %8s %7s "
         "| %4s\n",
         "", "median", "mean", "median", "steady", "steady", "cgroup", "cgroup",
         "steady", "mean", "/read", "CPU us", "calls", "allocs", "");
  const cg_row_t *base = NULL;
  for (size_t i = 0; i < count; i++)
    if (rows[i].n == 0)
      base = &rows[i];
  char text[4096];
  for (size_t i = 0; i < count; i++) {
    const cg_row_t *r = &rows[i];
    const figures_t *p = &r->plugin;
    double n = r->n ? (double)r->n : 1;
    double pread = p->steady_by_nr[SYS_pread64];
    double pread_cg = base && r->n
                          ? (pread - base->plugin.steady_by_nr[SYS_pread64]) / n
                          : 0;
    double calls_cg = base && r->n
                          ? ((double)p->syscalls_steady -
                             (double)base->plugin.syscalls_steady) / n
                          : 0;
    double us_cg = base && r->n
                       ? (p->median_us - base->plugin.median_us) / n : 0;
    printf("%5u | %8.2f %8.2f %8.3f | %6u %8.0f %8.3f %8.3f | %6lu %6.2f | "
           "%6.1f | %9.1f %8.1f %7.1f | %4u\n",
           r->n, p->median_us, p->mean_us, us_cg, p->syscalls_steady, pread,
           pread_cg, calls_cg, p->allocs_steady, p->allocs, p->dispatched,
           per_rescan(p->mean_us, p->median_us, p->rescan_share),
           per_rescan(p->syscalls_mean, p->syscalls_steady, p->rescan_share),
           per_rescan(p->allocs, (double)p->allocs_steady, p->rescan_share),
           r->warnings);
  }
  for (size_t i = 0; i < count; i++) {
    by_name(text, sizeof(text), rows[i].plugin.steady_by_nr, NULL);
    printf("cgroups %4u steady: %s\n", rows[i].n, text);
    by_name(text, sizeof(text), NULL, rows[i].plugin.mean_by_nr);
    printf("cgroups %4u mean:   %s\n", rows[i].n, text);
  }
}

/* least squares y = a + s x */
static void fit(const double *x, const double *y, size_t n, double *a,
                double *s) {
  double mx = 0, my = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; i++)
    mx += x[i] / (double)n, my += y[i] / (double)n;
  for (size_t i = 0; i < n; i++)
    sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  *s = sxx > 0 ? sxy / sxx : 0;
  *a = my - *s * mx;
}

int main(int argc, char **argv) {
  if (argc > 1)
    reads = strtoul(argv[1], NULL, 10);
  if (argc > 2)
    traced_reads = strtoul(argv[2], NULL, 10);
  if (reads < 10 || traced_reads < 10)
    die("usage", "bench_read [READS >= 10 [TRACED_READS >= 10]]");
  unsigned sizes[8] = {1, 2, 8, 32};
  size_t size_count = 4;
  const char *env = getenv("BENCH_SOCKETS");
  if (env != NULL && *env) {
    size_count = 0;
    for (char *p = (char *)env, *end; size_count < 8; p = end) {
      unsigned long v = strtoul(p, &end, 10);
      if (end == p)
        break;
      if (v >= 1 && v <= 64)
        sizes[size_count++] = (unsigned)v;
    }
  }
  bool wanted[SRC_COUNT] = {true, true, true};
  env = getenv("BENCH_SOURCES");
  if (env != NULL && *env)
    for (int s = 0; s < SRC_COUNT; s++)
      wanted[s] = strstr(env, source_names[s]) != NULL;
  unsigned cg_sizes[8] = {0, 10, 100, 1000};
  size_t cg_count = 4;
  env = getenv("BENCH_CGROUPS");
  if (env != NULL && *env) {
    cg_count = 1; /* the N = 0 row first */
    for (char *p = (char *)env, *end; cg_count < 8; p = end) {
      unsigned long v = strtoul(p, &end, 10);
      if (end == p)
        break;
      if (v >= 1 && v <= 10000)
        cg_sizes[cg_count++] = (unsigned)v;
    }
    if (cg_count == 1)
      cg_count = 0; /* "none" */
  }
  calibrate_clock();
  static cg_row_t cg_rows[8];
  for (size_t k = 0; k < cg_count; k++) {
    fprintf(stderr, "bench_read: powercap, 2 sockets, %u cgroups...\n",
            cg_sizes[k]);
    run_cgroups(&cg_rows[k], cg_sizes[k]);
  }
  row_t rows[SRC_COUNT * 8];
  size_t row_count = 0;
  for (int s = 0; s < SRC_COUNT; s++)
    for (size_t k = 0; s < SRC_COUNT && wanted[s] && k < size_count; k++) {
      fprintf(stderr, "bench_read: %s, %u sockets...\n", source_names[s],
              sizes[k]);
      run_one(&rows[row_count++], (source_t)s, sizes[k]);
    }

  printf("\nbench_read: the plugin's read callback (rapl.c, via the fake "
         "collectd) vs a bare pread loop and a naive open/read/close reader\n"
         "on the same counter files; %zu timed reads per row (CPU: "
         "CLOCK_THREAD_CPUTIME_ID per read, %" PRIu64 " ns clock cost "
         "subtracted),\n%zu traced reads (system calls, exact), Interval "
         "10 s (the machine and the clock advance 10 s between reads; the "
         "plugin\nrescans every 5th read, to find a new zone within 60 s). median = a read without "
         "rescan; mean = rescans amortized. AI = ActiveIdle.\n"
         "Machines: powercap/msr: Intel 0x55, N x 2 cores x 2 threads, per "
         "socket package+core+uncore+dram; hwmon: amd_energy, N x 3 cores,\n"
         "per socket Esocket + 3 Ecore channels (the plugin's zones: package "
         "and core = sum of Ecore). 'files' = counter files read per read.\n"
         "warn lines: WARNING/ERROR lines the plugin logged (besides MSR's "
         "opt-in warning). Machines built under %s (BENCH_DIR).\n\n",
         reads, clock_overhead_ns, traced_reads, bench_dir());

  printf("CPU time per read (us). plugin and floor are timed in turns on the "
         "same counters (after each advance both read, in alternating\n"
         "order); floor = bare for AI -, bare+stat for AI on. bare, +stat and "
         "naive are also timed alone, one after the other.\n");
  printf("%-8s %4s %5s %5s %2s | %8s %8s %7s %8s | %7s %7s %7s | %10s %8s %8s\n",
         "source", "sock", "zones", "files", "AI", "plugin", "plugin", "us/zone",
         "floor", "bare", "+stat", "naive", "plugin/", "plugin/", "naive/");
  printf("%-8s %4s %5s %5s %2s | %8s %8s %7s %8s | %7s %7s %7s | %10s %8s %8s\n",
         "", "", "", "", "", "median", "mean", "median", "median", "alone",
         "alone", "alone", "floor med", "flr mean", "bare");
  for (size_t i = 0; i < row_count; i++)
    for (int ai = 0; ai < 2; ai++) {
      const row_t *r = &rows[i];
      const figures_t *p = &r->plugin[ai];
      const figures_t *floor = &r->floor[ai];
      printf("%-8s %4u %5zu %5zu %2s | %8.2f %8.2f %7.3f %8.2f | %7.2f %7.2f "
             "%7.2f | %9.2fx %7.2fx %7.2fx\n",
             source_names[r->source], r->sockets, r->zones, r->files,
             ai ? "on" : "-", p->median_us, p->mean_us,
             p->median_us / (double)r->zones, floor->median_us,
             r->bare.median_us, r->bare_stat.median_us, r->naive.median_us,
             p->median_us / floor->median_us, p->mean_us / floor->median_us,
             r->naive.median_us / r->bare.median_us);
    }
  printf("(Check of the per-read timing, one clock pair around %zu reads in a "
         "row, no advance between them:\n",
         reads);
  for (size_t i = 0; i < row_count; i++)
    printf(" %s/%u bare %.2f naive %.2f;%s", source_names[rows[i].source],
           rows[i].sockets, rows[i].bare.whole_loop_us,
           rows[i].naive.whole_loop_us, i % 4 == 3 ? "\n" : "");
  printf(")\n");

  printf("\nSystem calls, heap allocations and values per read\n");
  printf("%-8s %4s %5s %5s %2s | %7s %8s %8s %8s %7s | %6s %6s %7s | %6s %6s | %5s\n",
         "source", "sock", "zones", "files", "AI", "calls", "calls", "pread64/",
         "pread64/", "rescan", "allocs", "allocs", "values", "bare", "naive",
         "warn");
  printf("%-8s %4s %5s %5s %2s | %7s %8s %8s %8s %7s | %6s %6s %7s | %6s %6s | %5s\n",
         "", "", "", "", "", "steady", "mean", "zone", "file", "reads",
         "steady", "mean", "/read", "calls", "calls", "lines");
  for (size_t i = 0; i < row_count; i++)
    for (int ai = 0; ai < 2; ai++) {
      const row_t *r = &rows[i];
      const figures_t *p = &r->plugin[ai];
      printf("%-8s %4u %5zu %5zu %2s | %7u %8.2f %8.3f %8.3f %6.1f%% | %6lu %6.2f "
             "%7.2f | %6u %6u | %5u\n",
             source_names[r->source], r->sockets, r->zones, r->files,
             ai ? "on" : "-", p->syscalls_steady, p->syscalls_mean,
             count_of(p, SYS_pread64) / (double)r->zones,
             count_of(p, SYS_pread64) / (double)r->files,
             100 * p->rescan_share, p->allocs_steady, p->allocs, p->dispatched,
             r->bare.syscalls_steady, r->naive.syscalls_steady, r->warnings[ai]);
    }

  printf("\nSystem calls by name, per read: the steady read (no rescan) and "
         "the mean over all traced reads\n");
  char text[2048];
  for (size_t i = 0; i < row_count; i++) {
    const row_t *r = &rows[i];
    for (int ai = 0; ai < 2; ai++) {
      const figures_t *p = &r->plugin[ai];
      by_name(text, sizeof(text), p->steady_by_nr, NULL);
      printf("%-8s %2u sock AI %-2s plugin steady: %s\n", source_names[r->source],
             r->sockets, ai ? "on" : "-", text);
      by_name(text, sizeof(text), NULL, p->mean_by_nr);
      printf("%-8s %2u sock AI %-2s plugin mean:   %s\n", source_names[r->source],
             r->sockets, ai ? "on" : "-", text);
    }
    by_name(text, sizeof(text), r->bare.steady_by_nr, NULL);
    printf("%-8s %2u sock       bare:          %s\n", source_names[r->source],
           r->sockets, text);
    by_name(text, sizeof(text), r->naive.steady_by_nr, NULL);
    printf("%-8s %2u sock       naive:         %s\n", source_names[r->source],
           r->sockets, text);
  }

  if (cg_count > 0)
    print_cgroups(cg_rows, cg_count);

  printf("\nGrowth with the number of zones (least squares over the sizes "
         "above): CPU us per read = a + s x zones\n");
  for (int s = 0; s < SRC_COUNT; s++) {
    double x[8], y[8], yb[8], yn[8], ys[8];
    for (int ai = 0; ai < 2; ai++) {
      size_t n = 0;
      for (size_t i = 0; i < row_count; i++)
        if (rows[i].source == (source_t)s) {
          x[n] = (double)rows[i].zones;
          y[n] = rows[i].plugin[ai].median_us;
          ys[n] = rows[i].plugin[ai].syscalls_steady;
          yb[n] = rows[i].floor[ai].median_us;
          yn[n++] = rows[i].naive.median_us;
        }
      if (n < 2)
        continue;
      double a, sl, ab, sb, an, sn, asys, ssys;
      fit(x, y, n, &a, &sl);
      fit(x, ys, n, &asys, &ssys);
      fit(x, yb, n, &ab, &sb);
      fit(x, yn, n, &an, &sn);
      printf("%-8s AI %-2s plugin %6.2f + %.3f/zone us, %5.1f + %.2f/zone "
             "syscalls (steady);  floor %5.2f + %.3f/zone;  naive %5.2f + "
             "%.3f/zone\n",
             source_names[s], ai ? "on" : "-", a, sl, asys, ssys, ab, sb, an,
             sn);
    }
  }
  return 0;
}
