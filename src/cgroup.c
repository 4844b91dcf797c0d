/* cgroup.c - the reader half of cgroup.h: which cgroup v2 directories under
 * CgroupPath match the `Cgroups` globs, and their cpu.stat usage_usec.
 *
 * Listing (rescan) allocates; sampling does not: one pread per cgroup into
 * a buffer kept in the set, and the descriptor of cpu.stat stays open while
 * the cgroup lives. A cgroup is its directory's inode: a service restarted
 * (the same path made again) is a new instance, baselined again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfs_notes.h"

/* cpu.stat is ~200 bytes (usage_usec, user_usec, system_usec, the
 * nr_periods/throttled lines, core_sched.force_idle_usec, burst); only its
 * first line matters, so a partial read of a longer one is fine. */
#define CPU_STAT_BUF 1024

struct rapl_cgroups {
  char *root; /* CgroupPath, no trailing '/' (options drop it) */
  char **globs;
  size_t glob_count;
  rapl_cgroup_t *items; /* sorted by path */
  size_t count;
  char buf[CPU_STAT_BUF];
};

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

static void item_release(rapl_cgroup_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  free(c->path);
  c->path = NULL;
}

void rapl_cgroups_free(rapl_cgroups_t *set) {
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->count; i++)
    item_release(&set->items[i]);
  free(set->items);
  for (size_t i = 0; i < set->glob_count; i++)
    free(set->globs[i]);
  free(set->globs);
  free(set->root);
  free(set);
}

rapl_cgroups_t *rapl_cgroups_open(const char *cgroup_path,
                                  char *const *globs, size_t glob_count,
                                  char *why, size_t why_len) {
  struct stat st;
  if (cgroup_path == NULL || cgroup_path[0] != '/') {
    snprintf(why, why_len, "CgroupPath: expected an absolute path");
    return NULL;
  }
  if (stat(cgroup_path, &st) != 0) {
    int err = errno;
    snprintf(why, why_len, "CgroupPath: %s: %s", cgroup_path,
             err == ENOENT ? "does not exist" : rapl_describe_errno(err));
    return NULL;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, why_len, "CgroupPath: %s is not a directory", cgroup_path);
    return NULL;
  }
  /* The root of a cgroup v2 hierarchy (and every cgroup in it) has
   * cgroup.controllers; a v1 root (a tmpfs of per-controller mounts) and
   * each v1 hierarchy have none. */
  char probe[4096];
  if ((size_t)snprintf(probe, sizeof(probe), "%s/cgroup.controllers",
                       cgroup_path) >= sizeof(probe)) {
    snprintf(why, why_len, "CgroupPath: path too long");
    return NULL;
  }
  if (stat(probe, &st) != 0) {
    int err = errno;
    if (err == ENOENT)
      snprintf(why, why_len,
               "CgroupPath: %s is not a cgroup v2 hierarchy (no "
               "cgroup.controllers; cgroup v1 is not supported)",
               cgroup_path);
    else
      snprintf(why, why_len, "CgroupPath: %s: %s", probe,
               rapl_describe_errno(err));
    return NULL;
  }
  rapl_cgroups_t *set = calloc(1, sizeof(*set));
  if (set == NULL)
    goto oom;
  set->root = dup_string(cgroup_path);
  if (set->root == NULL)
    goto oom;
  /* "/" would make "//system.slice/..." below: keep it "" then */
  if (strcmp(set->root, "/") == 0)
    set->root[0] = '\0';
  if (glob_count > 0) {
    set->globs = calloc(glob_count, sizeof(*set->globs));
    if (set->globs == NULL)
      goto oom;
    for (size_t i = 0; i < glob_count; i++) {
      set->globs[i] = dup_string(globs[i]);
      if (set->globs[i] == NULL)
        goto oom;
      set->glob_count = i + 1;
    }
  }
  return set;
oom:
  rapl_cgroups_free(set);
  snprintf(why, why_len, "CgroupPath: out of memory");
  return NULL;
}

/* ---- listing ------------------------------------------------------------ */

typedef struct {
  char *path; /* relative to the root */
  uint64_t ino;
} found_t;

/* Paths in tree order: byte order, but with '/' before every other byte,
 * so that a directory's descendants follow it as one block ("a", "a/b",
 * "a.b", where plain byte order puts "a.b" between "a" and "a/b"). */
static int cmp_path(const char *a, const char *b) {
  for (;; a++, b++) {
    unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca != cb) {
      unsigned ka = ca == '/' ? 1 : ca == 0 ? 0 : ca + 1;
      unsigned kb = cb == '/' ? 1 : cb == 0 ? 0 : cb + 1;
      return ka < kb ? -1 : 1;
    }
    if (ca == 0)
      return 0;
  }
}

static int cmp_found(const void *a, const void *b) {
  return cmp_path(((const found_t *)a)->path, ((const found_t *)b)->path);
}

/* root with glob's metacharacters escaped, so that a CgroupPath holding
 * '*', '?', '[' or '\' is taken literally; malloc'd. */
static char *escape_root(const char *root) {
  size_t len = strlen(root);
  char *out = malloc(2 * len + 1);
  if (out == NULL)
    return NULL;
  char *o = out;
  for (const char *s = root; *s != '\0'; s++) {
    if (*s == '*' || *s == '?' || *s == '[' || *s == '\\')
      *o++ = '\\';
    *o++ = *s;
  }
  *o = '\0';
  return out;
}

/* Appends the directories matching one pattern to *found. 0 or -ENOMEM. */
static int list_pattern(const rapl_cgroups_t *set, const char *eroot,
                        const char *pattern, found_t **found, size_t *n,
                        size_t *cap) {
  size_t plen = strlen(eroot) + strlen(pattern) + 2;
  char *full = malloc(plen);
  if (full == NULL)
    return -ENOMEM;
  snprintf(full, plen, "%s/%s", eroot, pattern);
  glob_t g;
  memset(&g, 0, sizeof(g));
  int r = glob(full, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g);
  free(full);
  if (r == GLOB_NOSPACE) {
    globfree(&g);
    return -ENOMEM;
  }
  if (r != 0) { /* GLOB_NOMATCH, GLOB_ABORTED: nothing there now */
    globfree(&g);
    return 0;
  }
  size_t rlen = strlen(set->root);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *p = g.gl_pathv[i];
    struct stat st;
    /* GLOB_ONLYDIR is a hint: check; a match gone since is skipped */
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    if (strncmp(p, set->root, rlen) != 0 || p[rlen] != '/' ||
        p[rlen + 1] == '\0')
      continue;
    const char *rel = p + rlen + 1;
    if (*n == *cap) {
      size_t ncap = *cap ? *cap * 2 : 16;
      found_t *nf = realloc(*found, ncap * sizeof(*nf));
      if (nf == NULL) {
        globfree(&g);
        return -ENOMEM;
      }
      *found = nf;
      *cap = ncap;
    }
    char *copy = dup_string(rel);
    if (copy == NULL) {
      globfree(&g);
      return -ENOMEM;
    }
    (*found)[(*n)++] = (found_t){copy, (uint64_t)st.st_ino};
  }
  globfree(&g);
  return 0;
}

static void free_found(found_t *found, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(found[i].path);
  free(found);
}

/* The entry of the old list with this path and inode whose cpu.stat is
 * still open (not moved to the new list yet), or NULL. The old list is
 * sorted by path. */
static rapl_cgroup_t *find_old(rapl_cgroup_t *old, size_t n, const char *path,
                               uint64_t ino) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_path(old[mid].path, path);
    if (c == 0)
      return old[mid].id == ino && old[mid].fd >= 0 ? &old[mid] : NULL;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* Whether `anc` is a proper ancestor directory of `path`. */
static bool is_ancestor(const char *anc, const char *path) {
  size_t n = strlen(anc);
  return strncmp(anc, path, n) == 0 && path[n] == '/';
}

int rapl_cgroups_rescan(rapl_cgroups_t *set) {
  if (set == NULL)
    return -EINVAL;
  found_t *found = NULL;
  size_t n = 0, cap = 0;
  char *eroot = escape_root(set->root);
  if (eroot == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < set->glob_count; i++)
    if (list_pattern(set, eroot, set->globs[i], &found, &n, &cap) != 0) {
      free(eroot);
      free_found(found, n);
      return -ENOMEM;
    }
  free(eroot);
  /* a stable order whatever glob's (tree order, cmp_path); a directory
   * matched by two patterns once */
  if (n > 1)
    qsort(found, n, sizeof(*found), cmp_found);
  size_t unique = 0;
  for (size_t i = 0; i < n; i++) {
    if (unique > 0 && strcmp(found[unique - 1].path, found[i].path) == 0) {
      free(found[i].path);
      continue;
    }
    found[unique++] = found[i];
  }
  n = unique;

  rapl_cgroup_t *items = n > 0 ? calloc(n, sizeof(*items)) : NULL;
  if (n > 0 && items == NULL) {
    free_found(found, n);
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    rapl_cgroup_t *c = &items[i];
    rapl_cgroup_t *old = find_old(set->items, set->count, found[i].path,
                                  found[i].ino);
    c->path = found[i].path;
    if (old != NULL) { /* the same instance: keep its descriptor and value */
      c->id = old->id;
      c->fd = old->fd;
      old->fd = -1; /* moved: the old list is freed below */
      memcpy(c->instance, old->instance, sizeof(c->instance));
      c->read_ok = old->read_ok;
      c->usage_usec = old->usage_usec;
    } else {
      c->id = found[i].ino;
      rapl_cgroup_instance(c->path, c->instance, sizeof(c->instance));
      c->read_ok = false;
      c->usage_usec = 0;
      /* open relative to the root as listed; a cgroup removed since the
       * listing has no cpu.stat: kept with fd -1, dropped at next rescan */
      size_t plen = strlen(set->root) + strlen(c->path) + sizeof("/cpu.stat") +
                    1;
      char *file = malloc(plen);
      c->fd = -1;
      if (file != NULL) {
        snprintf(file, plen, "%s/%s/cpu.stat", set->root, c->path);
        c->fd = open(file, O_RDONLY | O_CLOEXEC);
        free(file);
      }
    }
    found[i].path = NULL;
  }
  free(found);
  /* In tree order a cgroup's matched ancestors are the chain of entries
   * still open above it: keep that chain as a stack (linked through
   * `parent`), O(n) for thousands of pods. */
  long top = -1;
  for (size_t i = 0; i < n; i++) {
    while (top >= 0 && !is_ancestor(items[top].path, items[i].path))
      top = items[top].parent;
    items[i].parent = top;
    top = (long)i;
  }
  for (size_t i = 0; i < set->count; i++) /* the ones gone */
    item_release(&set->items[i]);
  free(set->items);
  set->items = items;
  set->count = n;
  return 0;
}

/* ---- sampling ----------------------------------------------------------- */

/* usage_usec from cpu.stat's text: the line "usage_usec N". 0 or -EINVAL. */
static int parse_usage(const char *buf, size_t len, uint64_t *out) {
  static const char key[] = "usage_usec ";
  const size_t klen = sizeof(key) - 1;
  size_t pos = 0;
  while (pos < len) {
    const char *line = buf + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
    if (llen > klen && memcmp(line, key, klen) == 0) {
      uint64_t v = 0;
      size_t k = klen;
      for (; k < llen; k++) {
        unsigned d = (unsigned)(unsigned char)line[k] - '0';
        if (d > 9)
          return -EINVAL;
        if (v > (UINT64_MAX - d) / 10)
          return -EINVAL;
        v = v * 10 + d;
      }
      /* a line cut by the buffer's end is not a number we can trust */
      if (nl == NULL)
        return -EINVAL;
      *out = v;
      return 0;
    }
    if (nl == NULL)
      break;
    pos += llen + 1;
  }
  return -EINVAL;
}

void rapl_cgroups_sample(rapl_cgroups_t *set) {
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->count; i++) {
    rapl_cgroup_t *c = &set->items[i];
    c->read_ok = false;
    if (c->fd < 0)
      continue;
    ssize_t r = pread(c->fd, set->buf, sizeof(set->buf), 0);
    if (r < 0) {
      /* kernfs: ENODEV once the cgroup is removed; it never comes back on
       * this descriptor (a new cgroup is a new inode) */
      if (rapl_errno_gone(errno)) {
        close(c->fd);
        c->fd = -1;
      }
      continue;
    }
    uint64_t v;
    if (parse_usage(set->buf, (size_t)r, &v) == 0) {
      c->usage_usec = v;
      c->read_ok = true;
    }
  }
}

size_t rapl_cgroups_count(const rapl_cgroups_t *set) {
  return set != NULL ? set->count : 0;
}

const rapl_cgroup_t *rapl_cgroups_get(const rapl_cgroups_t *set, size_t i) {
  return set != NULL && i < set->count ? &set->items[i] : NULL;
}

/* ---- naming ------------------------------------------------------------- */

/* FNV-1a, 32 bits (offset basis 2166136261, prime 16777619): small, no
 * table, the same on every machine and run. */
static uint32_t fnv1a32(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s != '\0'; s++) {
    h ^= (uint32_t)(unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

void rapl_cgroup_instance(const char *path, char *out, size_t out_len) {
  static const char prefix[] = "cgroup-";
  const size_t plen = sizeof(prefix) - 1;
  if (out == NULL || out_len == 0)
    return;
  /* the bytes that fit before the NUL: at most 127 (collectd's limit) */
  size_t room = RAPL_CGROUP_INSTANCE_LEN - 1;
  if (out_len < RAPL_CGROUP_INSTANCE_LEN)
    room = out_len - 1;
  size_t len = strlen(path);
  if (plen + len <= room) {
    snprintf(out, out_len, "%s%s", prefix, path);
  } else {
    char suffix[10]; /* "-" + 8 hex digits */
    snprintf(suffix, sizeof(suffix), "-%08x", fnv1a32(path));
    size_t keep = room > plen + 9 ? room - plen - 9 : 0;
    /* never cut inside a UTF-8 sequence: step back over continuation bytes */
    while (keep > 0 && ((unsigned char)path[keep] & 0xC0) == 0x80)
      keep--;
    snprintf(out, out_len, "%s%.*s%s", prefix, (int)keep, path, suffix);
  }
  for (char *p = out; *p != '\0'; p++)
    if (*p == '/')
      *p = '_';
}
