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

int rapl_parse_proc_stat(const char *text, size_t len, rapl_cpu_times_t *times,
                         size_t max_cpus) {
  for (size_t i = 0; i < max_cpus; i++)
    times[i] = (rapl_cpu_times_t){0};
  const char *p = text, *end = text + len;
  int lines = 0;
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
      times[cpu].present = true;
      times[cpu].busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
      times[cpu].idle = f[3] + f[4];
      lines++;
    }
    p = eol + 1;
  }
  return lines;
}

int rapl_cpu_snapshot_load(const char *procfs, rapl_cpu_snapshot_t *snap) {
  if (snap->cpus == NULL) {
    snap->cpus = calloc(RAPL_MAX_CPUS, sizeof(*snap->cpus));
    if (snap->cpus == NULL)
      return -ENOMEM;
    snap->count = RAPL_MAX_CPUS;
  }
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof(path), "%s/stat", procfs) >= sizeof(path))
    return -ENAMETOOLONG;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  /* /proc/stat grows with the CPUs (about 100 bytes each) and interrupts */
  size_t cap = (size_t)64 * 1024, len = 0;
  char *buf = malloc(cap);
  int err = 0;
  while (buf != NULL) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) {
      err = -errno;
      break;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == cap) {
      char *bigger = cap < (size_t)64 * 1024 * 1024 ? realloc(buf, cap * 2) : NULL;
      if (bigger == NULL) {
        err = -EFBIG;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  close(fd);
  if (buf == NULL)
    return -ENOMEM;
  if (err == 0) {
    int lines = rapl_parse_proc_stat(buf, len, snap->cpus, snap->count);
    err = lines < 0 ? lines : 0;
  }
  free(buf);
  return err;
}

void rapl_cpu_snapshot_free(rapl_cpu_snapshot_t *snap) {
  free(snap->cpus);
  snap->cpus = NULL;
  snap->count = 0;
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
