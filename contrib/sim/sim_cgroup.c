/*
 * sim_cgroup.c - cgroups: section: a cgroup v2 tree under ROOT/sys/fs/cgroup
 * whose cpu.stat usage_usec advances as share x the busy time of all CPUs
 * that /proc/stat (sim_stat.c) accounts, so that Δusage_usec / Δbusy is the
 * share, as collectd-rapl's energy per cgroup (SPEC 9) reads it.
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PPM 1000000ULL
#define SIM_CGROUP_PATH_MAX 255
#define SIM_CGROUP_GRAVE ".rapl-sim-removed-cgroups"

typedef struct {
  char *path;         /* relative to ROOT/sys/fs/cgroup */
  uint64_t share_ppm; /* of the busy time of all CPUs */
  uint64_t base_ns;   /* simi_stat_busy_ns when it was made */
  int removed;
  int fd; /* writer on cpu.stat, -1 when not built or removed */
  size_t line, col;
} sim_cg_t;

struct sim_cgroup_state {
  sim_cg_t *cg;
  size_t n, cap;
  unsigned graves; /* removed directories kept (their inodes stay taken) */
  char *dir;       /* ROOT/sys/fs/cgroup after build */
};

/* ---- paths -------------------------------------------------------------- */

/* NULL when `path` can be a cgroup path: relative, 1..255 bytes, no empty,
 * "." or ".." component, printable, no space (rapl-sim's commands are split
 * at spaces); else what is wrong. */
static const char *path_problem(const char *path) {
  size_t len = strlen(path);
  if (len == 0)
    return "is empty";
  if (len > SIM_CGROUP_PATH_MAX)
    return "is longer than 255 bytes";
  if (path[0] == '/')
    return "must be relative to /sys/fs/cgroup";
  for (const char *s = path; *s != '\0'; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f)
      return "has a space or control character";
  for (const char *c = path;;) {
    const char *slash = strchr(c, '/');
    size_t n = slash != NULL ? (size_t)(slash - c) : strlen(c);
    if (n == 0 || (n == 1 && c[0] == '.') ||
        (n == 2 && c[0] == '.' && c[1] == '.'))
      return "has an empty, \".\" or \"..\" component";
    if (slash == NULL)
      return NULL;
    c = slash + 1;
  }
}

static int is_ancestor(const char *anc, const char *path) {
  size_t n = strlen(anc);
  return strncmp(anc, path, n) == 0 && path[n] == '/';
}

static long find_present(const struct sim_cgroup_state *cs, const char *path) {
  for (size_t i = 0; i < cs->n; i++)
    if (!cs->cg[i].removed && strcmp(cs->cg[i].path, path) == 0)
      return (long)i;
  return -1;
}

/* The new entry, or NULL when out of memory. */
static sim_cg_t *append(struct sim_cgroup_state *cs, const char *path,
                        uint64_t share_ppm, uint64_t base_ns) {
  if (cs->n == cs->cap) {
    size_t ncap = cs->cap ? cs->cap * 2 : 8;
    sim_cg_t *ng = realloc(cs->cg, ncap * sizeof(*ng));
    if (ng == NULL)
      return NULL;
    cs->cg = ng;
    cs->cap = ncap;
  }
  char *copy = strdup(path);
  if (copy == NULL)
    return NULL;
  sim_cg_t *g = &cs->cg[cs->n++];
  *g = (sim_cg_t){.path = copy,
                  .share_ppm = share_ppm,
                  .base_ns = base_ns,
                  .removed = 0,
                  .fd = -1};
  return g;
}

/* ---- loading ------------------------------------------------------------ */

static const char *const cg_keys[] = {"path", "share", NULL};

static int cg_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  sim_cg_t *g = arg;
  if (key == 0) {
    if (simi_get_string(c, v, "cgroups: path", &g->path) != 0)
      return -1;
    const char *why = path_problem(g->path);
    if (why != NULL)
      return simi_fail(c, v, "cgroups: path \"%s\" %s", g->path, why);
    return 0;
  }
  double d;
  if (simi_get_number(c, v, "cgroups: share", 1.0, &d) != 0)
    return -1;
  g->share_ppm = (uint64_t)(d * 1e6 + 0.5);
  return 0;
}

int simi_sec_cgroups(load_ctx_t *c, yaml_node_t *v) {
  sim_machine_t *m = c->m;
  if (simi_expect_type(c, v, YAML_SEQUENCE_NODE, "cgroups") != 0)
    return -1;
  m->cg = calloc(1, sizeof(*m->cg));
  if (m->cg == NULL)
    return simi_fail(c, v, "out of memory");
  c->cgroups_node = v;
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    yaml_node_t *item = yaml_document_get_node(c->doc, *it);
    if (item == NULL)
      return simi_fail(c, v, "cgroups: bad entry");
    sim_cg_t g = {0};
    uint32_t seen = 0;
    int r = simi_walk_mapping(c, item, "a cgroups entry", cg_keys, cg_pair,
                              &g, &seen);
    if (r == 0 && seen != 3)
      r = simi_fail(c, item, "a cgroups entry needs path and share");
    if (r == 0 && find_present(m->cg, g.path) >= 0)
      r = simi_fail(c, item, "cgroups: \"%s\" is given twice", g.path);
    if (r == 0) {
      sim_cg_t *added = append(m->cg, g.path, g.share_ppm, 0);
      if (added == NULL) {
        r = simi_fail(c, item, "out of memory");
      } else {
        added->line = item->start_mark.line + 1;
        added->col = item->start_mark.column + 1;
      }
    }
    free(g.path);
    if (r != 0)
      return -1;
  }
  return 0;
}

/* As the kernel counts: a cgroup's usage includes its descendants', so a
 * listed cgroup's share is at least the sum of its nearest listed
 * descendants', and the cgroups with no listed ancestor share at most all
 * the busy time. */
int simi_cgroups_finish(load_ctx_t *c) {
  sim_machine_t *m = c->m;
  struct sim_cgroup_state *cs = m->cg;
  if (cs == NULL)
    return 0;
  if (m->st == NULL)
    return simi_fail(c, c->cgroups_node,
                     "cgroups needs a stat section (the busy time of the "
                     "CPUs that the cgroups share)");
  uint64_t top = 0;
  for (size_t i = 0; i < cs->n; i++) {
    uint64_t children = 0;
    int has_parent = 0;
    for (size_t j = 0; j < cs->n; j++) {
      if (j == i)
        continue;
      if (is_ancestor(cs->cg[j].path, cs->cg[i].path))
        has_parent = 1;
      if (!is_ancestor(cs->cg[i].path, cs->cg[j].path))
        continue;
      /* j is below i: counted when no listed cgroup sits between them */
      int nearest = 1;
      for (size_t k = 0; k < cs->n && nearest; k++)
        if (k != i && k != j && is_ancestor(cs->cg[i].path, cs->cg[k].path) &&
            is_ancestor(cs->cg[k].path, cs->cg[j].path))
          nearest = 0;
      if (nearest)
        children += cs->cg[j].share_ppm;
    }
    if (children > cs->cg[i].share_ppm)
      return simi_fail_at(c, cs->cg[i].line, cs->cg[i].col,
                          "cgroups: \"%s\" has share %.6g but its listed "
                          "children add up to %.6g (a cgroup's CPU time "
                          "includes its children's)",
                          cs->cg[i].path, (double)cs->cg[i].share_ppm / 1e6,
                          (double)children / 1e6);
    if (!has_parent)
      top += cs->cg[i].share_ppm;
  }
  if (top > PPM)
    return simi_fail(c, c->cgroups_node,
                     "cgroups: the shares of the cgroups with no listed "
                     "parent add up to %.6g, more than all the busy time (1)",
                     (double)top / 1e6);
  return 0;
}

/* ---- the tree ----------------------------------------------------------- */

static uint64_t usage_usec(const sim_machine_t *m, const sim_cg_t *g) {
  uint64_t busy = simi_stat_busy_ns(m) - g->base_ns;
  return (uint64_t)((unsigned __int128)busy * g->share_ppm / PPM / 1000u);
}

static int write_cg(const sim_machine_t *m, const sim_cg_t *g) {
  if (g->fd < 0 || g->removed)
    return 0;
  uint64_t u = usage_usec(m, g);
  char text[256];
  /* the kernel's cpu.stat with the cpu controller enabled; user/system as
   * /proc/stat splits the busy time (3/4 user) */
  int len = snprintf(text, sizeof(text),
                     "usage_usec %" PRIu64 "\nuser_usec %" PRIu64
                     "\nsystem_usec %" PRIu64
                     "\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
                     "nr_bursts 0\nburst_usec 0\n",
                     u, u - u / 4, u / 4);
  int r = simi_write_all_at(g->fd, text, (size_t)len);
  if (r == 0 && ftruncate(g->fd, len) != 0)
    r = -errno;
  return r;
}

int simi_cgroups_write_all(sim_machine_t *m) {
  if (m->cg == NULL)
    return 0;
  int first = 0;
  for (size_t i = 0; i < m->cg->n; i++) {
    int r = write_cg(m, &m->cg->cg[i]);
    if (r != 0 && first == 0)
      first = r;
  }
  return first;
}

static int make_cg_dir(sim_machine_t *m, sim_cg_t *g) {
  struct sim_cgroup_state *cs = m->cg;
  char *dir = NULL;
  if (asprintf(&dir, "%s/%s", cs->dir, g->path) < 0)
    return simi_build_fail(m, ENOMEM, "cgroup %s", g->path);
  /* parents first: each a cgroup too (cgroup.controllers; an unlisted one
   * has no cpu.stat of its own here) */
  int r = 0;
  for (char *s = dir + strlen(cs->dir) + 1; r == 0 && *s != '\0'; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (access(dir, F_OK) != 0 && (r = simi_make_dir(m, dir)) == 0)
      r = simi_write_file(m, dir, "cgroup.controllers",
                          "cpuset cpu io memory pids\n", 0444);
    *s = '/';
  }
  if (r == 0)
    r = simi_make_dir(m, dir);
  if (r == 0)
    r = simi_write_file(m, dir, "cgroup.controllers",
                        "cpuset cpu io memory pids\n", 0444);
  char *file = NULL;
  if (r == 0 && asprintf(&file, "%s/cpu.stat", dir) < 0) {
    file = NULL;
    r = simi_build_fail(m, ENOMEM, "cgroup %s", g->path);
  }
  if (r == 0) {
    if (g->fd >= 0)
      close(g->fd);
    g->fd = simi_open_for_write(file, O_TRUNC);
    if (g->fd < 0)
      r = simi_build_fail(m, errno, "cannot create %s", file);
    else if (fchmod(g->fd, 0444) != 0)
      r = simi_build_fail(m, errno, "cannot chmod %s", file);
    else if ((r = write_cg(m, g)) != 0)
      r = simi_build_fail(m, -r, "cannot write %s", file);
  }
  free(file);
  free(dir);
  return r;
}

int simi_build_cgroups(sim_machine_t *m) {
  struct sim_cgroup_state *cs = m->cg;
  if (cs == NULL)
    return 0;
  static const char *const dirs[] = {"sys", "sys/fs", "sys/fs/cgroup"};
  int r = simi_make_dirs(m, dirs, 3);
  if (r != 0)
    return r;
  simi_cgroups_close(m);
  if (asprintf(&cs->dir, "%s/sys/fs/cgroup", m->root) < 0) {
    cs->dir = NULL;
    return simi_build_fail(m, ENOMEM, "sys/fs/cgroup");
  }
  if ((r = simi_write_file(m, cs->dir, "cgroup.controllers",
                           "cpuset cpu io memory pids\n", 0444)) != 0)
    return r;
  for (size_t i = 0; i < cs->n; i++)
    if (!cs->cg[i].removed && (r = make_cg_dir(m, &cs->cg[i])) != 0)
      return r;
  return 0;
}

void simi_cgroups_close(sim_machine_t *m) {
  if (m->cg == NULL)
    return;
  for (size_t i = 0; i < m->cg->n; i++) {
    if (m->cg->cg[i].fd >= 0)
      close(m->cg->cg[i].fd);
    m->cg->cg[i].fd = -1;
  }
  free(m->cg->dir);
  m->cg->dir = NULL;
}

void simi_cgroups_free(sim_machine_t *m) {
  if (m->cg == NULL)
    return;
  simi_cgroups_close(m);
  for (size_t i = 0; i < m->cg->n; i++)
    free(m->cg->cg[i].path);
  free(m->cg->cg);
  free(m->cg);
  m->cg = NULL;
}

/* ---- the public interface ------------------------------------------------ */

int sim_has_cgroups(const sim_machine_t *m) {
  return m != NULL && m->cg != NULL;
}

size_t sim_cgroup_count(const sim_machine_t *m) {
  return sim_has_cgroups(m) ? m->cg->n : 0;
}

const char *sim_cgroup_path(const sim_machine_t *m, size_t i) {
  return i < sim_cgroup_count(m) ? m->cg->cg[i].path : NULL;
}

double sim_cgroup_share(const sim_machine_t *m, size_t i) {
  return i < sim_cgroup_count(m) ? (double)m->cg->cg[i].share_ppm / 1e6 : 0.0;
}

int sim_cgroup_present(const sim_machine_t *m, size_t i) {
  return i < sim_cgroup_count(m) && !m->cg->cg[i].removed;
}

uint64_t sim_cgroup_usage_usec(const sim_machine_t *m, size_t i) {
  return i < sim_cgroup_count(m) ? usage_usec(m, &m->cg->cg[i]) : 0;
}

int sim_cgroup_find(const sim_machine_t *m, const char *path, size_t *i) {
  if (!sim_has_cgroups(m) || path == NULL)
    return -ENOENT;
  long k = find_present(m->cg, path);
  if (k < 0)
    return -ENOENT;
  if (i != NULL)
    *i = (size_t)k;
  return 0;
}

const char *sim_cgroup_root(const sim_machine_t *m) {
  return sim_has_cgroups(m) ? m->cg->dir : NULL;
}

int sim_cgroup_add(sim_machine_t *m, const char *path, double share) {
  if (!sim_has_cgroups(m) || path == NULL || path_problem(path) != NULL ||
      !(share >= 0.0) || share > 1.0)
    return -EINVAL;
  if (find_present(m->cg, path) >= 0)
    return -EEXIST;
  sim_cg_t *g = append(m->cg, path, (uint64_t)(share * 1e6 + 0.5),
                       simi_stat_busy_ns(m));
  if (g == NULL)
    return -ENOMEM;
  if (m->cg->dir == NULL) /* not built: the state only */
    return 0;
  return make_cg_dir(m, g);
}

int sim_cgroup_remove(sim_machine_t *m, const char *path) {
  if (!sim_has_cgroups(m) || path == NULL)
    return -EINVAL;
  long k = find_present(m->cg, path);
  if (k < 0)
    return -ENOENT;
  sim_cg_t *g = &m->cg->cg[k];
  /* the kernel refuses to remove a cgroup that has children: EBUSY */
  for (size_t i = 0; i < m->cg->n; i++)
    if (!m->cg->cg[i].removed && is_ancestor(g->path, m->cg->cg[i].path))
      return -EBUSY;
  g->removed = 1;
  if (m->cg->dir == NULL) {
    if (g->fd >= 0)
      close(g->fd);
    g->fd = -1;
    return 0;
  }
  /* A regular file cannot answer ENODEV as kernfs does on a removed
   * cgroup's descriptor: cpu.stat is emptied, so a descriptor kept open
   * reads 0 bytes (no usage_usec: not read, the same outcome for a reader),
   * and the directory is moved out of the tree, not deleted, so that its
   * inode stays taken and a cgroup made again at the same path is a new
   * inode, as in cgroupfs. */
  int r = 0;
  if (g->fd >= 0 && ftruncate(g->fd, 0) != 0)
    r = simi_build_fail(m, errno, "cannot empty %s/cpu.stat", g->path);
  if (g->fd >= 0)
    close(g->fd);
  g->fd = -1;
  char *from = NULL, *grave = NULL, *to = NULL;
  if (asprintf(&from, "%s/%s", m->cg->dir, g->path) < 0)
    from = NULL;
  if (asprintf(&grave, "%s/" SIM_CGROUP_GRAVE, m->root) < 0)
    grave = NULL;
  if (grave != NULL &&
      asprintf(&to, "%s/%u", grave, m->cg->graves++) < 0)
    to = NULL;
  if (from == NULL || grave == NULL || to == NULL) {
    if (r == 0)
      r = simi_build_fail(m, ENOMEM, "cgroup %s", g->path);
  } else if (r == 0) {
    if (access(grave, F_OK) != 0)
      r = simi_make_dir(m, grave);
    if (r == 0 && rename(from, to) != 0)
      r = simi_build_fail(m, errno, "cannot move %s out of the tree", from);
  }
  free(from);
  free(grave);
  free(to);
  return r;
}
