/*
 * sim_stat.c - /proc/stat (stat: section): per-CPU time in USER_HZ (100)
 * ticks, advanced by simulated time from each CPU's busy fraction; the
 * "cpu" line sums every CPU (the kernel sums possible CPUs), a "cpuN" line
 * per online CPU (fs/proc/stat.c show_stat()).
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

#define NS_PER_TICK 10000000ULL /* USER_HZ = 100 */
#define PPM 1000000ULL

typedef struct {
  uint64_t busy_ppm;
  uint64_t carry; /* remainder of dt * busy_ppm / 1e6 */
  uint64_t user_ns, system_ns, idle_ns, iowait_ns;
} st_cpu_t;

/* busy: entries as given, applied in finish: all, then package-N, then
 * cpuN, whatever their order in the file. */
typedef struct {
  int kind; /* 0 all, 1 package, 2 cpu */
  unsigned long id;
  uint64_t ppm;
  yaml_node_t *node;
} st_spec_t;

struct sim_stat_state {
  size_t n_cpus;
  int own_cpus; /* cpus: given (no cpu: section): all online, package 0 */
  uint64_t iowait_ppm;
  uint64_t uptime_ns;
  st_cpu_t *cpu;
  st_spec_t *spec;
  size_t n_spec;
  int fd;
  char *path;
};

static uint64_t to_ppm(double d) { return (uint64_t)(d * 1e6 + 0.5); }

static int busy_all(load_ctx_t *c, struct sim_stat_state *st,
                    yaml_node_t *map) {
  if (simi_expect_type(c, map, YAML_MAPPING_NODE, "busy") != 0)
    return -1;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
      return simi_fail(c, map, "busy: keys must be all, package-N or cpuN");
    st_spec_t s = {0, 0, 0, k};
    const char *key = simi_scalar(k);
    char *end = NULL;
    if (strcmp(key, "all") == 0) {
      s.kind = 0;
    } else if (strncmp(key, "package-", 8) == 0 && key[8] >= '0' &&
               key[8] <= '9') {
      s.kind = 1;
      s.id = strtoul(key + 8, &end, 10);
    } else if (strncmp(key, "cpu", 3) == 0 && key[3] >= '0' &&
               key[3] <= '9') {
      s.kind = 2;
      s.id = strtoul(key + 3, &end, 10);
    } else {
      return simi_fail(c, k, "busy: keys must be all, package-N or cpuN, "
                             "not \"%s\"", key);
    }
    if (end != NULL && *end != '\0')
      return simi_fail(c, k, "busy: bad key \"%s\"", key);
    for (size_t i = 0; i < st->n_spec; i++)
      if (st->spec[i].kind == s.kind && st->spec[i].id == s.id)
        return simi_fail(c, k, "busy: \"%s\" is given twice", key);
    double d;
    if (simi_get_number(c, v, "a busy fraction", 1.0, &d) != 0)
      return -1;
    s.ppm = to_ppm(d);
    st_spec_t *ns = realloc(st->spec, (st->n_spec + 1) * sizeof(*ns));
    if (ns == NULL)
      return simi_fail(c, map, "out of memory");
    st->spec = ns;
    st->spec[st->n_spec++] = s;
  }
  return 0;
}

static const char *const stat_keys[] = {"busy", "iowait", "uptime_s", "cpus",
                                        NULL};

static int stat_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  struct sim_stat_state *st = arg;
  double d = 0;
  uint64_t u = 0;
  switch (key) {
  case 0:
    return busy_all(c, st, v);
  case 1:
    if (simi_get_number(c, v, "iowait", 1.0, &d) != 0)
      return -1;
    st->iowait_ppm = to_ppm(d);
    return 0;
  case 2:
    if (simi_get_number(c, v, "uptime_s", 1e9, &d) != 0)
      return -1;
    st->uptime_ns = (uint64_t)(d * 1e9 + 0.5);
    return 0;
  case 3:
    if (simi_get_uint(c, v, "cpus", SIM_MAX_CPUS, &u) != 0)
      return -1;
    if (u == 0)
      return simi_fail(c, v, "cpus must be at least 1");
    st->n_cpus = (size_t)u;
    st->own_cpus = 1;
    return 0;
  }
  return -1;
}

int simi_sec_stat(load_ctx_t *c, yaml_node_t *v) {
  sim_machine_t *m = c->m;
  m->st = calloc(1, sizeof(*m->st));
  if (m->st == NULL)
    return simi_fail(c, v, "out of memory");
  m->st->fd = -1;
  c->stat_node = v;
  uint32_t seen;
  return simi_walk_mapping(c, v, "stat", stat_keys, stat_pair, m->st, &seen);
}

static int cpu_online(const sim_machine_t *m, size_t cpu) {
  return m->st->own_cpus ? 1 : m->cpu.online[cpu];
}
static unsigned cpu_package(const sim_machine_t *m, size_t cpu) {
  return m->st->own_cpus ? 0 : cpu_topo(&m->cpu, cpu).pkg;
}

int simi_stat_finish(load_ctx_t *c) {
  sim_machine_t *m = c->m;
  struct sim_stat_state *st = m->st;
  if (st == NULL)
    return 0;
  if (m->cpu.present && st->own_cpus)
    return simi_fail(c, c->stat_node, "stat: cpus is only for machines "
                                      "without a cpu section (it has %zu)",
                     m->cpu.n_cpus);
  if (!m->cpu.present && !st->own_cpus)
    return simi_fail(c, c->stat_node, "stat needs a cpu section, or cpus: N");
  if (m->cpu.present)
    st->n_cpus = m->cpu.n_cpus;
  unsigned packages = m->cpu.present ? m->cpu.packages : 1;
  st->cpu = calloc(st->n_cpus, sizeof(*st->cpu));
  if (st->cpu == NULL)
    return simi_fail(c, c->stat_node, "out of memory");
  for (int kind = 0; kind < 3; kind++)
    for (size_t i = 0; i < st->n_spec; i++) {
      const st_spec_t *s = &st->spec[i];
      if (s->kind != kind)
        continue;
      if (kind == 1 && s->id >= packages)
        return simi_fail(c, s->node, "busy: there is no package %lu",
                         s->id);
      if (kind == 2 && s->id >= st->n_cpus)
        return simi_fail(c, s->node, "busy: there is no CPU %lu", s->id);
      for (size_t cpu = 0; cpu < st->n_cpus; cpu++)
        if (kind == 0 || (kind == 1 && cpu_package(m, cpu) == s->id) ||
            (kind == 2 && cpu == s->id))
          st->cpu[cpu].busy_ppm = s->ppm;
    }
  simi_stat_advance(m, st->uptime_ns);
  return 0;
}

void simi_stat_advance(sim_machine_t *m, uint64_t dt_ns) {
  struct sim_stat_state *st = m->st;
  if (st == NULL || st->cpu == NULL)
    return;
  for (size_t cpu = 0; cpu < st->n_cpus; cpu++) {
    if (!cpu_online(m, cpu)) /* an offline CPU's times stand still */
      continue;
    st_cpu_t *s = &st->cpu[cpu];
    unsigned __int128 b = (unsigned __int128)dt_ns * s->busy_ppm + s->carry;
    uint64_t busy = (uint64_t)(b / PPM);
    s->carry = (uint64_t)(b % PPM);
    uint64_t rest = dt_ns - busy;
    uint64_t wait = (uint64_t)((unsigned __int128)rest * st->iowait_ppm / PPM);
    s->system_ns += busy / 4;
    s->user_ns += busy - busy / 4;
    s->iowait_ns += wait;
    s->idle_ns += rest - wait;
  }
}

static void put_line(FILE *f, const char *name, uint64_t user, uint64_t sys,
                     uint64_t idle, uint64_t iowait) {
  /* user nice system idle iowait irq softirq steal guest guest_nice */
  fprintf(f, "%s %" PRIu64 " 0 %" PRIu64 " %" PRIu64 " %" PRIu64
             " 0 0 0 0 0\n",
          name, user, sys, idle, iowait);
}

static char *stat_text(const sim_machine_t *m, size_t *len) {
  const struct sim_stat_state *st = m->st;
  char *text = NULL;
  FILE *f = open_memstream(&text, len);
  if (f == NULL)
    return NULL;
  uint64_t u = 0, s = 0, i = 0, w = 0;
  for (size_t cpu = 0; cpu < st->n_cpus; cpu++) {
    const st_cpu_t *c = &st->cpu[cpu];
    u += c->user_ns / NS_PER_TICK;
    s += c->system_ns / NS_PER_TICK;
    i += c->idle_ns / NS_PER_TICK;
    w += c->iowait_ns / NS_PER_TICK;
  }
  put_line(f, "cpu ", u, s, i, w);
  for (size_t cpu = 0; cpu < st->n_cpus; cpu++) {
    if (!cpu_online(m, cpu))
      continue;
    const st_cpu_t *c = &st->cpu[cpu];
    char name[24];
    snprintf(name, sizeof(name), "cpu%zu", cpu);
    put_line(f, name, c->user_ns / NS_PER_TICK, c->system_ns / NS_PER_TICK,
             c->idle_ns / NS_PER_TICK, c->iowait_ns / NS_PER_TICK);
  }
  fprintf(f, "intr 0\nctxt 0\nbtime 1700000000\nprocesses 1\n"
             "procs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 "
             "0\n");
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

int simi_stat_write(sim_machine_t *m, int force) {
  (void)force; /* the text is small: always rewritten */
  if (m->st == NULL || m->st->fd < 0)
    return 0;
  size_t len = 0;
  char *text = stat_text(m, &len);
  if (text == NULL)
    return -ENOMEM;
  int r = simi_write_all_at(m->st->fd, text, len);
  if (r == 0 && ftruncate(m->st->fd, (off_t)len) != 0)
    r = -errno;
  free(text);
  return r;
}

int simi_build_stat(sim_machine_t *m) {
  static const char *const dirs[] = {"proc"};
  if (m->st == NULL)
    return 0;
  int r = simi_make_dirs(m, dirs, 1);
  if (r != 0)
    return r;
  simi_stat_close(m);
  if (asprintf(&m->st->path, "%s/proc/stat", m->root) < 0) {
    m->st->path = NULL;
    return simi_build_fail(m, ENOMEM, "proc/stat");
  }
  m->st->fd = simi_open_for_write(m->st->path, O_TRUNC);
  if (m->st->fd < 0)
    return simi_build_fail(m, errno, "cannot create %s", m->st->path);
  if ((r = simi_stat_write(m, 1)) != 0)
    return simi_build_fail(m, -r, "cannot write %s", m->st->path);
  if (fchmod(m->st->fd, 0444) != 0)
    return simi_build_fail(m, errno, "cannot chmod %s", m->st->path);
  return 0;
}

void simi_stat_close(sim_machine_t *m) {
  if (m->st == NULL)
    return;
  if (m->st->fd >= 0)
    close(m->st->fd);
  m->st->fd = -1;
  free(m->st->path);
  m->st->path = NULL;
}

void simi_stat_free(sim_machine_t *m) {
  if (m->st == NULL)
    return;
  simi_stat_close(m);
  free(m->st->cpu);
  free(m->st->spec);
  free(m->st);
  m->st = NULL;
}

uint64_t simi_stat_busy_ns(const sim_machine_t *m) {
  if (m->st == NULL || m->st->cpu == NULL)
    return 0;
  uint64_t busy = 0;
  for (size_t cpu = 0; cpu < m->st->n_cpus; cpu++)
    busy += m->st->cpu[cpu].user_ns + m->st->cpu[cpu].system_ns;
  return busy;
}

/* ---- the public interface ------------------------------------------------ */

int sim_has_stat(const sim_machine_t *m) {
  return m != NULL && m->st != NULL && m->st->cpu != NULL;
}

int sim_cpu_set_busy(sim_machine_t *m, unsigned cpu, double fraction) {
  if (!sim_has_stat(m) || cpu >= m->st->n_cpus || !(fraction >= 0.0) ||
      fraction > 1.0)
    return -EINVAL;
  m->st->cpu[cpu].busy_ppm = to_ppm(fraction);
  return 0;
}

double sim_cpu_busy(const sim_machine_t *m, unsigned cpu) {
  if (!sim_has_stat(m) || cpu >= m->st->n_cpus)
    return 0.0;
  return (double)m->st->cpu[cpu].busy_ppm / 1e6;
}

size_t sim_stat_cpu_count(const sim_machine_t *m) {
  return sim_has_stat(m) ? m->st->n_cpus : 0;
}

uint64_t sim_stat_busy_ticks(const sim_machine_t *m, unsigned cpu) {
  if (!sim_has_stat(m) || cpu >= m->st->n_cpus)
    return 0;
  const st_cpu_t *c = &m->st->cpu[cpu];
  return c->user_ns / NS_PER_TICK + c->system_ns / NS_PER_TICK;
}

uint64_t sim_stat_total_ticks(const sim_machine_t *m, unsigned cpu) {
  if (!sim_has_stat(m) || cpu >= m->st->n_cpus)
    return 0;
  const st_cpu_t *c = &m->st->cpu[cpu];
  return sim_stat_busy_ticks(m, cpu) + c->idle_ns / NS_PER_TICK +
         c->iowait_ns / NS_PER_TICK;
}
