/* cpu_topology.c - see cpu_topology.h. */
#include "cpu_topology.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysfs_parse.h"

/* Parses a decimal unsigned of at most 9 digits at *p; advances *p. */
static int parse_uint(const char **p, const char *end, unsigned *value) {
  unsigned v = 0;
  size_t n = 0;
  while (*p + n < end && (*p)[n] >= '0' && (*p)[n] <= '9') {
    if (n == 9)
      return -ERANGE;
    v = v * 10 + (unsigned)((*p)[n] - '0');
    n++;
  }
  if (n == 0)
    return -EINVAL;
  *p += n;
  *value = v;
  return 0;
}

int rapl_parse_cpu_list(const char *text, size_t len, bool *online,
                        size_t max_cpus) {
  const char *p = text, *end = text + len;
  int listed = 0;
  while (end > p && (end[-1] == '\n' || end[-1] == '\0'))
    end--;
  if (p == end)
    return 0; /* an empty list is valid: no CPU */
  for (;;) {
    unsigned first, last;
    int err = parse_uint(&p, end, &first);
    if (err != 0)
      return err;
    last = first;
    if (p < end && *p == '-') {
      p++;
      if ((err = parse_uint(&p, end, &last)) != 0)
        return err;
      if (last < first)
        return -EINVAL;
    }
    if (last >= max_cpus)
      return -ERANGE;
    for (unsigned c = first; c <= last; c++) {
      if (!online[c])
        listed++;
      online[c] = true;
    }
    if (p == end)
      return listed;
    if (*p != ',')
      return -EINVAL;
    p++;
  }
}

/* The value after "key<tabs/spaces>:<space>" when `line` is that key. */
static const char *field(const char *line, const char *eol, const char *key) {
  size_t klen = strlen(key);
  if ((size_t)(eol - line) < klen || memcmp(line, key, klen) != 0)
    return NULL;
  const char *p = line + klen;
  while (p < eol && (*p == '\t' || *p == ' '))
    p++;
  if (p == eol || *p != ':')
    return NULL;
  p++;
  while (p < eol && *p == ' ')
    p++;
  return p;
}

int rapl_parse_cpuinfo(const char *text, size_t len, rapl_cpu_id_t *id) {
  rapl_cpu_id_t parsed = {0};
  bool have_vendor = false, have_family = false, have_model = false;
  const char *p = text, *end = text + len;
  bool in_block = false;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL)
      eol = end;
    if (eol == p) { /* blank line: the first block ends */
      if (in_block)
        break;
    } else {
      const char *v;
      in_block = true;
      if ((v = field(p, eol, "vendor_id")) != NULL) {
        size_t n = (size_t)(eol - v);
        if (n == 0 || n >= sizeof(parsed.vendor_id))
          return -EINVAL;
        memcpy(parsed.vendor_id, v, n);
        parsed.vendor_id[n] = '\0';
        have_vendor = true;
      } else if ((v = field(p, eol, "cpu family")) != NULL) {
        if (parse_uint(&v, eol, &parsed.family) != 0 || v != eol)
          return -EINVAL;
        have_family = true;
      } else if ((v = field(p, eol, "model")) != NULL) {
        if (parse_uint(&v, eol, &parsed.model) != 0 || v != eol)
          return -EINVAL;
        have_model = true;
      }
    }
    if (eol == end)
      break;
    p = eol + 1;
  }
  if (!have_vendor || !have_family || !have_model)
    return -EINVAL;
  if (strcmp(parsed.vendor_id, "GenuineIntel") == 0)
    parsed.vendor = RAPL_CPU_VENDOR_INTEL;
  else if (strcmp(parsed.vendor_id, "AuthenticAMD") == 0)
    parsed.vendor = RAPL_CPU_VENDOR_AMD;
  else if (strcmp(parsed.vendor_id, "HygonGenuine") == 0)
    parsed.vendor = RAPL_CPU_VENDOR_HYGON;
  *id = parsed;
  return 0;
}

/* Reads a whole small file into a malloc'd buffer; length in *len. */
static int slurp(const char *path, char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno > 0 ? -errno : -EIO;
  size_t cap = 4096, used = 0;
  char *data = malloc(cap);
  for (;;) {
    if (data == NULL) {
      close(fd);
      return -ENOMEM;
    }
    ssize_t n = read(fd, data + used, cap - used);
    if (n < 0) {
      int err = errno;
      free(data);
      close(fd);
      return -err;
    }
    if (n == 0)
      break;
    used += (size_t)n;
    if (used == cap) {
      if (cap >= (size_t)64 * 1024 * 1024) { /* no cpuinfo is that large */
        free(data);
        close(fd);
        return -EFBIG;
      }
      char *bigger = realloc(data, cap *= 2);
      if (bigger == NULL)
        free(data);
      data = bigger;
    }
  }
  close(fd);
  *buf = data;
  *len = used;
  return 0;
}

/* slurp(), with a failure described in `why`. */
static int slurp_or_why(const char *path, char **text, size_t *len, char *why,
                        size_t why_len) {
  int err = slurp(path, text, len);
  if (err != 0)
    snprintf(why, why_len, "%s: %s", path, strerror(-err));
  return err;
}

int rapl_cpuinfo_load(const char *procfs, rapl_cpu_id_t *id, char *why,
                      size_t why_len) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/cpuinfo", procfs);
  char *text;
  size_t len;
  int err = slurp_or_why(path, &text, &len, why, why_len);
  if (err != 0)
    return err;
  err = rapl_parse_cpuinfo(text, len, id);
  free(text);
  if (err != 0)
    snprintf(why, why_len, "%s: no vendor_id, cpu family and model found",
             path);
  return err;
}

int rapl_cpu_online_text(const char *sysfs, char **text) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/devices/system/cpu/online", sysfs);
  char *data;
  size_t len;
  int err = slurp(path, &data, &len);
  if (err != 0)
    return err;
  char *terminated = realloc(data, len + 1);
  if (terminated == NULL) {
    free(data);
    return -ENOMEM;
  }
  terminated[len] = '\0';
  *text = terminated;
  return 0;
}

static int read_int_file(const char *path, int *value) {
  char buf[32];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = read(fd, buf, sizeof(buf));
  int saved = errno;
  close(fd);
  if (n < 0)
    return -saved;
  uint64_t v;
  int err = rapl_parse_u64(buf, (size_t)n, &v);
  if (err != 0)
    return err;
  if (v > INT32_MAX)
    return -ERANGE;
  *value = (int)v;
  return 0;
}

int rapl_topology_load(const char *sysfs, rapl_topology_t *topology, char *why,
                       size_t why_len) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/devices/system/cpu/online", sysfs);
  topology->cpus = NULL;
  topology->count = 0;
  char *text;
  size_t len;
  int err = slurp_or_why(path, &text, &len, why, why_len);
  if (err != 0)
    return err;
  bool *online = calloc(RAPL_MAX_CPUS, sizeof(*online));
  int listed = online ? rapl_parse_cpu_list(text, len, online, RAPL_MAX_CPUS)
                      : -ENOMEM;
  free(text);
  if (listed <= 0) {
    snprintf(why, why_len, "%s: %s", path,
             listed == 0 ? "no CPU online" : "not a CPU list");
    free(online);
    return listed == 0 ? -ENOENT : listed;
  }
  topology->cpus = calloc((size_t)listed, sizeof(*topology->cpus));
  if (topology->cpus == NULL) {
    free(online);
    snprintf(why, why_len, "out of memory");
    return -ENOMEM;
  }
  for (unsigned cpu = 0; cpu < RAPL_MAX_CPUS; cpu++) {
    if (!online[cpu])
      continue;
    rapl_cpu_topo_t t = {.cpu = cpu, .die = 0};
    static const char *const files[] = {"physical_package_id", "core_id",
                                        "die_id"};
    int *slots[] = {&t.package, &t.core, &t.die};
    for (size_t f = 0; f < 3; f++) {
      snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%u/topology/%s",
               sysfs, cpu, files[f]);
      err = read_int_file(path, slots[f]);
      if (err == -ENOENT && f == 2)
        err = 0; /* die_id exists since Linux 5.3; before, one die */
      if (err == -ENOENT && f == 0)
        break; /* went offline since `online` was read: skip it */
      if (err != 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(-err));
        free(online);
        rapl_topology_free(topology);
        return err;
      }
    }
    if (err == -ENOENT)
      continue;
    topology->cpus[topology->count++] = t;
  }
  free(online);
  return 0;
}

void rapl_topology_free(rapl_topology_t *topology) {
  free(topology->cpus);
  topology->cpus = NULL;
  topology->count = 0;
}
