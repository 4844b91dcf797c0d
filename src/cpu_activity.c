/* cpu_activity.c - see cpu_activity.h. */
#include "cpu_activity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A decimal u64 at *p; advances *p. -EINVAL when there is no digit or it
 * does not fit. */
static int parse_digits(const char **p, const char *end, uint64_t *value) {
  uint64_t v = 0;
  size_t n = 0;
  while (*p < end && **p >= '0' && **p <= '9') {
    unsigned digit = (unsigned)(**p - '0');
    if (v > (UINT64_MAX - digit) / 10)
      return -EINVAL;
    v = v * 10 + digit;
    (*p)++;
    n++;
  }
  if (n == 0)
    return -EINVAL;
  *value = v;
  return 0;
}

/* rapl_parse_proc_stat() for times[] whose entries from clear_below on
 * are already clear; *high (if not NULL) receives the end of what it
 * wrote: times[*high..max_cpus) are clear on return, whatever it returns. */
static int parse_stat(const char *text, size_t len, rapl_cpu_times_t *times,
                      size_t max_cpus, size_t clear_below, size_t *high) {
  if (clear_below > max_cpus)
    clear_below = max_cpus;
  memset(times, 0, clear_below * sizeof(*times));
  size_t written = 0;
  int lines = 0;
  const char *p = text, *end = text + len;
  if (high != NULL)
    *high = 0;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL)
      eol = end;
    /* "cpuN ..." only: "cpu ..." is the aggregate */
    if (eol - p > 3 && memcmp(p, "cpu", 3) == 0 && p[3] >= '0' && p[3] <= '9') {
      const char *q = p + 3;
      uint64_t cpu, f[8] = {0};
      size_t fields = 0;
      const char *number = q;
      if (parse_digits(&q, eol, &cpu) != 0)
        return -EINVAL;
      if (*number == '0' && q - number > 1)
        return -EINVAL; /* the kernel prints none: "cpu01" is not cpu1 */
      while (q < eol) {
        if (*q != ' ')
          return -EINVAL;
        while (q < eol && *q == ' ')
          q++;
        if (q == eol)
          break;
        uint64_t v;
        if (parse_digits(&q, eol, &v) != 0)
          return -EINVAL;
        if (fields < 8)
          f[fields] = v;
        fields++;
      }
      if (fields < 4)
        return -EINVAL;
      if (cpu >= max_cpus)
        return -ERANGE;
      if (times[cpu].present)
        return -EINVAL; /* the same CPU twice */
      /* user nice system idle iowait irq softirq steal */
      if (cpu + 1 > written && high != NULL)
        *high = written = (size_t)cpu + 1;
      times[cpu].present = true;
      times[cpu].busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
      times[cpu].idle = f[3] + f[4];
      lines++;
    }
    p = eol + 1;
  }
  return lines;
}

int rapl_parse_proc_stat(const char *text, size_t len, rapl_cpu_times_t *times,
                         size_t max_cpus) {
  return parse_stat(text, len, times, max_cpus, max_cpus, NULL);
}

/* The whole file at fd into snap->buf from offset 0 (growing it); its
 * length in *len. A short read is the end: /proc/stat is one seq_file
 * record (single_open), returned whole by one read that has room for it,
 * and a regular file is at its end. 0 or a negative errno. */
static int read_at_zero(int fd, rapl_cpu_snapshot_t *snap, size_t *len) {
  size_t cap = snap->buf_cap, done = 0;
  for (;;) {
    ssize_t n = pread(fd, snap->buf + done, cap - done, (off_t)done);
    if (n < 0)
      return -errno;
    done += (size_t)n;
    if (done < cap) {
      *len = done;
      return 0;
    }
    char *bigger = cap < (size_t)64 * 1024 * 1024 ? realloc(snap->buf, cap * 2)
                                                 : NULL;
    if (bigger == NULL)
      return -EFBIG;
    snap->buf = bigger;
    cap = snap->buf_cap = cap * 2;
  }
}

static void close_stat(rapl_cpu_snapshot_t *snap) {
  if (snap->fd_open)
    close(snap->fd);
  snap->fd_open = false;
  snap->fd = -1;
}

static int open_stat(const char *procfs, rapl_cpu_snapshot_t *snap) {
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof(path), "%s/stat", procfs) >= sizeof(path))
    return -ENAMETOOLONG;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  snap->fd = fd;
  snap->fd_open = true;
  return 0;
}

int rapl_cpu_snapshot_load(const char *procfs, rapl_cpu_snapshot_t *snap) {
  if (snap->cpus == NULL) {
    snap->cpus = calloc(RAPL_MAX_CPUS, sizeof(*snap->cpus));
    if (snap->cpus == NULL)
      return -ENOMEM;
    snap->count = RAPL_MAX_CPUS;
    snap->used = 0;
  }
  /* /proc/stat grows with the CPUs (about 100 bytes each) and interrupts;
   * the buffer stays for the next load at the size it grew to */
  if (snap->buf == NULL) {
    snap->buf = malloc((size_t)64 * 1024);
    if (snap->buf == NULL)
      return -ENOMEM;
    snap->buf_cap = (size_t)64 * 1024;
  }
  bool fresh = !snap->fd_open;
  int err = fresh ? open_stat(procfs, snap) : 0;
  size_t len = 0;
  if (err == 0)
    err = read_at_zero(snap->fd, snap, &len);
  if (err != 0 && err != -EFBIG && !fresh) {
    /* the kept descriptor failed: the file may have gone and come back */
    close_stat(snap);
    err = open_stat(procfs, snap);
    if (err == 0)
      err = read_at_zero(snap->fd, snap, &len);
  }
  if (err == 0) {
    int lines = parse_stat(snap->buf, len, snap->cpus, snap->count,
                           snap->used, &snap->used);
    err = lines < 0 ? lines : 0;
  }
  if (err != 0)
    close_stat(snap); /* the next load starts from a fresh open */
  return err;
}

void rapl_cpu_snapshot_swap_times(rapl_cpu_snapshot_t *a,
                                  rapl_cpu_snapshot_t *b) {
  rapl_cpu_times_t *cpus = a->cpus;
  size_t count = a->count, used = a->used;
  a->cpus = b->cpus;
  a->count = b->count;
  a->used = b->used;
  b->cpus = cpus;
  b->count = count;
  b->used = used;
}

void rapl_cpu_snapshot_free(rapl_cpu_snapshot_t *snap) {
  close_stat(snap);
  free(snap->cpus);
  free(snap->buf);
  *snap = (rapl_cpu_snapshot_t){0};
}

static int compare_dies(int package_a, int die_a, int package_b, int die_b) {
  if (package_a != package_b)
    return package_a < package_b ? -1 : 1;
  return die_a < die_b ? -1 : die_a > die_b;
}

static int compare_die_entries(const void *a, const void *b) {
  const rapl_die_ticks_t *x = a, *y = b;
  return compare_dies(x->package, x->die, y->package, y->die);
}

/* The first entry at or after (package, die) in the sorted dies. */
static size_t lower_bound(const rapl_cpu_ticks_t *t, int package, int die) {
  size_t lo = 0, hi = t->die_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (compare_dies(t->dies[mid].package, t->dies[mid].die, package, die) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void rapl_cpu_ticks_free(rapl_cpu_ticks_t *t) {
  free(t->dies);
  free(t->die_of);
  *t = (rapl_cpu_ticks_t){0};
}

int rapl_cpu_ticks_index(rapl_cpu_ticks_t *t, const rapl_topology_t *topo) {
  rapl_cpu_ticks_free(t);
  if (topo->count == 0)
    return 0;
  t->dies = calloc(topo->count, sizeof(*t->dies));
  t->die_of = calloc(topo->count, sizeof(*t->die_of));
  if (t->dies == NULL || t->die_of == NULL) {
    rapl_cpu_ticks_free(t);
    return -ENOMEM;
  }
  for (size_t i = 0; i < topo->count; i++)
    t->dies[i] = (rapl_die_ticks_t){.package = topo->cpus[i].package,
                                    .die = topo->cpus[i].die};
  qsort(t->dies, topo->count, sizeof(*t->dies), compare_die_entries);
  size_t unique = 0;
  for (size_t i = 0; i < topo->count; i++)
    if (unique == 0 || compare_die_entries(&t->dies[unique - 1], &t->dies[i]))
      t->dies[unique++] = t->dies[i];
  t->die_count = unique;
  for (size_t i = 0; i < topo->count; i++)
    t->die_of[i] = lower_bound(t, topo->cpus[i].package, topo->cpus[i].die);
  t->cpu_count = topo->count;
  return 0;
}

void rapl_cpu_ticks_sum(rapl_cpu_ticks_t *t, const rapl_cpu_snapshot_t *before,
                        const rapl_cpu_snapshot_t *after,
                        const rapl_topology_t *topo) {
  t->busy = t->total = 0;
  for (size_t d = 0; d < t->die_count; d++)
    t->dies[d].busy = t->dies[d].total = 0;
  size_t count = topo->count < t->cpu_count ? topo->count : t->cpu_count;
  for (size_t i = 0; i < count; i++) {
    unsigned cpu = topo->cpus[i].cpu;
    if (cpu >= before->count || cpu >= after->count)
      continue;
    const rapl_cpu_times_t *b = &before->cpus[cpu], *a = &after->cpus[cpu];
    if (!b->present || !a->present || a->busy < b->busy || a->idle < b->idle)
      continue; /* offline at either end, or counters restarted */
    uint64_t busy = a->busy - b->busy, total = busy + (a->idle - b->idle);
    rapl_die_ticks_t *die = &t->dies[t->die_of[i]];
    die->busy += busy;
    die->total += total;
    t->busy += busy;
    t->total += total;
  }
}

void rapl_cpu_ticks_of(const rapl_cpu_ticks_t *t, rapl_cpu_set_t set,
                       uint64_t *busy, uint64_t *total) {
  if (set.package < 0) {
    *busy = t->busy;
    *total = t->total;
    return;
  }
  *busy = *total = 0;
  /* a package's dies are consecutive, from its lowest die on */
  for (size_t d = lower_bound(t, set.package, set.die < 0 ? INT_MIN : set.die);
       d < t->die_count && t->dies[d].package == set.package &&
       (set.die < 0 || t->dies[d].die == set.die);
       d++) {
    *busy += t->dies[d].busy;
    *total += t->dies[d].total;
  }
}
