/* cgroup_meter.c - see cgroup_meter.h. */
#include "cgroup_meter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "episode.h"
#include "rapl_log.h"

typedef struct {
  uint64_t id;
  char instance[RAPL_CGROUP_INSTANCE_LEN];
  bool have_prev;      /* usage_usec read once: the baseline */
  uint64_t prev_usage; /* at the latest good read */
  bool dispatch;       /* read at the latest sample */
  bool gone_logged;
  rapl_episode_t read_problem;
} cg_state_t;

struct rapl_cgroup_books {
  rapl_cgroups_t *set;
  bool broken;     /* the latest rescan ran out of memory */
  size_t count;    /* = rapl_cgroups_count(set) unless broken */
  size_t domains;  /* books per cgroup */
  cg_state_t *states;
  rapl_cgroup_energy_t *energy; /* [count * domains] */
  rapl_power_t *power;          /* [count * domains] */
  /* this sample's model inputs and shares, sized at rescan */
  uint64_t *delta;
  bool *valid;
  long *parent;
  double *share;
  uint64_t sample_ns;
};

rapl_cgroup_books_t *rapl_cgroup_books_open(const rapl_options_t *options,
                                            char *why, size_t why_len) {
  char *globs[RAPL_MAX_CGROUP_GLOBS];
  size_t n = options->cgroup_glob_count;
  if (n > RAPL_MAX_CGROUP_GLOBS)
    n = RAPL_MAX_CGROUP_GLOBS;
  for (size_t i = 0; i < n; i++)
    globs[i] = (char *)options->cgroup_globs[i];
  rapl_cgroup_books_t *books = calloc(1, sizeof(*books));
  if (books == NULL) {
    snprintf(why, why_len, "CgroupPath: out of memory");
    return NULL;
  }
  books->set = rapl_cgroups_open(options->cgroup_path, globs, n, why, why_len);
  if (books->set == NULL) {
    free(books);
    return NULL;
  }
  return books;
}

static void free_arrays(rapl_cgroup_books_t *b) {
  free(b->states);
  free(b->energy);
  free(b->power);
  free(b->delta);
  free(b->valid);
  free(b->parent);
  free(b->share);
}

void rapl_cgroup_books_free(rapl_cgroup_books_t *books) {
  if (books == NULL)
    return;
  free_arrays(books);
  rapl_cgroups_free(books->set);
  free(books);
}

static const cg_state_t *find_state(const rapl_cgroup_books_t *b,
                                    const rapl_cgroup_t *c, size_t *at) {
  for (size_t j = 0; j < b->count; j++)
    if (b->states[j].id == c->id &&
        strcmp(b->states[j].instance, c->instance) == 0) {
      *at = j;
      return &b->states[j];
    }
  return NULL;
}

int rapl_cgroup_books_rescan(rapl_cgroup_books_t *books, size_t domains) {
  int err = rapl_cgroups_rescan(books->set);
  if (err < 0)
    return err; /* the set is as it was: so are the books */
  size_t n = rapl_cgroups_count(books->set);
  size_t dc = domains > books->domains ? domains : books->domains;
  size_t cells = n * dc;
  rapl_cgroup_books_t next = {.set = books->set, .count = n, .domains = dc};
  /* calloc(0) may return NULL: ask for one at least */
  next.states = calloc(n ? n : 1, sizeof(*next.states));
  next.energy = calloc(cells ? cells : 1, sizeof(*next.energy));
  next.power = calloc(cells ? cells : 1, sizeof(*next.power));
  next.delta = calloc(n ? n : 1, sizeof(*next.delta));
  next.valid = calloc(n ? n : 1, sizeof(*next.valid));
  next.parent = calloc(n ? n : 1, sizeof(*next.parent));
  next.share = calloc(n ? n : 1, sizeof(*next.share));
  if (next.states == NULL || next.energy == NULL || next.power == NULL ||
      next.delta == NULL || next.valid == NULL || next.parent == NULL ||
      next.share == NULL) {
    free_arrays(&next);
    /* the set moved on, the books cannot follow: nothing is read until a
     * rescan succeeds (the energy meanwhile is not attributed) */
    free_arrays(books);
    *books = (rapl_cgroup_books_t){.set = books->set,
                                   .broken = true,
                                   .domains = books->domains,
                                   .sample_ns = books->sample_ns};
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const rapl_cgroup_t *c = rapl_cgroups_get(books->set, i);
    size_t j = 0;
    const cg_state_t *old = books->broken ? NULL : find_state(books, c, &j);
    if (old != NULL) {
      next.states[i] = *old;
      memcpy(&next.energy[i * dc], &books->energy[j * books->domains],
             books->domains * sizeof(*next.energy));
      memcpy(&next.power[i * dc], &books->power[j * books->domains],
             books->domains * sizeof(*next.power));
    } else {
      next.states[i].id = c->id;
      snprintf(next.states[i].instance, sizeof(next.states[i].instance), "%s",
               c->instance);
    }
  }
  next.sample_ns = books->sample_ns;
  free_arrays(books);
  *books = next;
  return 0;
}

size_t rapl_cgroup_books_max_values(const rapl_cgroup_books_t *books) {
  return books->broken ? 0 : 2 * books->count * books->domains;
}

void rapl_cgroup_books_sample(rapl_cgroup_books_t *books,
                              uint64_t delta_busy_usec, bool have_busy,
                              uint64_t now_ns) {
  if (books->broken)
    return;
  books->sample_ns = now_ns;
  rapl_cgroups_sample(books->set);
  for (size_t i = 0; i < books->count; i++) {
    const rapl_cgroup_t *c = rapl_cgroups_get(books->set, i);
    cg_state_t *s = &books->states[i];
    books->valid[i] = false;
    books->delta[i] = 0;
    books->parent[i] = c->parent;
    if (!c->read_ok) {
      s->dispatch = false;
      if (c->fd < 0) {
        /* removed (a service stopped): routine, said once; the next
         * rescan drops it, a new instance starts from 0 */
        if (!s->gone_logged)
          rapl_log(RAPL_LOG_INFO,
                   "cgroup %s is gone (its cpu.stat cannot be read): no "
                   "longer dispatched",
                   c->path);
        s->gone_logged = true;
      } else if (rapl_episode_seen(&s->read_problem, 1, now_ns)) {
        rapl_log(RAPL_LOG_WARNING,
                 "cgroup %s: reading usage_usec from cpu.stat failed; the "
                 "cgroup is skipped until it reads again, its CPU time is "
                 "counted then",
                 c->path);
      }
      continue; /* prev_usage kept: the next good read takes it all */
    }
    if (rapl_episode_cleared(&s->read_problem, now_ns))
      rapl_log(RAPL_LOG_INFO, "cgroup %s: cpu.stat reads again", c->path);
    s->dispatch = true;
    if (s->have_prev && c->usage_usec >= s->prev_usage) {
      books->delta[i] = c->usage_usec - s->prev_usage;
      books->valid[i] = have_busy;
    }
    /* a first read, or usage that went back (cannot happen for one
     * cgroup instance): a baseline */
    s->prev_usage = c->usage_usec;
    s->have_prev = true;
  }
  rapl_cgroup_shares(books->delta, books->valid, books->parent, books->count,
                     have_busy ? delta_busy_usec : 0, books->share);
}

void rapl_cgroup_books_attribute(rapl_cgroup_books_t *books, size_t domain,
                                 uint64_t delta_active_uj) {
  if (books->broken || domain >= books->domains || delta_active_uj == 0)
    return;
  for (size_t i = 0; i < books->count; i++)
    if (books->share[i] > 0.0)
      (void)rapl_cgroup_energy_add(&books->energy[i * books->domains + domain],
                                   books->share[i], delta_active_uj);
}

size_t rapl_cgroup_books_count(const rapl_cgroup_books_t *books) {
  return books->broken ? 0 : books->count;
}

const char *rapl_cgroup_books_instance(const rapl_cgroup_books_t *books,
                                       size_t i) {
  if (books->broken || i >= books->count || !books->states[i].dispatch)
    return NULL;
  return books->states[i].instance;
}

uint64_t rapl_cgroup_books_energy_uj(const rapl_cgroup_books_t *books,
                                     size_t i, size_t domain) {
  if (books->broken || i >= books->count || domain >= books->domains)
    return 0;
  return books->energy[i * books->domains + domain].energy_uj;
}

rapl_power_t *rapl_cgroup_books_power(rapl_cgroup_books_t *books, size_t i,
                                      size_t domain) {
  if (books->broken || i >= books->count || domain >= books->domains)
    return NULL;
  return &books->power[i * books->domains + domain];
}

uint64_t rapl_cgroup_books_sample_ns(const rapl_cgroup_books_t *books) {
  return books->sample_ns;
}
