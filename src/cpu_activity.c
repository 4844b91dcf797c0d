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

void rapl_cpu_set_ticks(const rapl_cpu_snapshot_t *before,
                        const rapl_cpu_snapshot_t *after,
                        const rapl_topology_t *topo, rapl_cpu_set_t set,
                        uint64_t *busy, uint64_t *total) {
  *busy = *total = 0;
  for (size_t i = 0; i < topo->count; i++) {
    const rapl_cpu_topo_t *c = &topo->cpus[i];
    if (set.package >= 0 &&
        (c->package != set.package || (set.die >= 0 && c->die != set.die)))
      continue;
    if (c->cpu >= before->count || c->cpu >= after->count)
      continue;
    const rapl_cpu_times_t *b = &before->cpus[c->cpu], *a = &after->cpus[c->cpu];
    if (!b->present || !a->present || a->busy < b->busy || a->idle < b->idle)
      continue; /* offline at either end, or counters restarted */
    *busy += a->busy - b->busy;
    *total += (a->busy - b->busy) + (a->idle - b->idle);
  }
}
