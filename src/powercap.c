/* powercap.c - the Linux powercap (intel-rapl) energy source.
 *
 * Layout (REFERENCE.md section 1): <sysfs>/class/powercap holds a flat
 * symlink per zone, "intel-rapl:<hex>" for a socket, die or psys zone and
 * "intel-rapl:<hex>:<hex>" for its sub-zones (core, uncore, dram). Zone ids
 * are registration order, not package numbers (psys can sit between two
 * packages), so everything is keyed by the `name` files, never by the id.
 * intel-rapl-mmio zones repeat intel-rapl packages on client parts; a mmio
 * package is used only where intel-rapl lacks it.
 *
 * Each zone's energy_uj is opened once here and re-read with pread(): no
 * open/close per read. This file is the only code that touches powercap.
 */
#include "energy_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting.h"
#include "rapl_log.h"
#include "sysfs_notes.h"
#include "sysfs_parse.h"

typedef struct {
  rapl_zone_info_t info;
  enum rapl_domain domain;
  bool psys;
  bool mmio;       /* an intel-rapl-mmio zone: re-attached to mmio only */
  bool reattached; /* back after a vanish: the next good read says so */
  int fd; /* energy_uj, read-only; -1 while the zone is gone */
  char entry[64]; /* its class entry ("intel-rapl:0:1") when opened */
} powercap_zone_t;

struct rapl_source {
  char class_dir[PATH_MAX];
  powercap_zone_t *zones;
  size_t zone_count;
  size_t zone_capacity;
    bool domain_wanted[RAPL_DOMAIN_COUNT];
  /* The entry names of the latest listing, sorted and joined: a rescan
   * that finds the same names and no zone gone costs that one listing. */
  char *listing;
};

/* A zone directory found under class/powercap, before it becomes a zone. */
typedef struct {
  char entry[64];
  rapl_zone_dirname_t id;
  char name[RAPL_ZONE_KEY_LEN];
  rapl_zone_name_t top; /* depth 1 only */
  bool usable;
  bool attached; /* backs a zone that is open (make_listing) */
} candidate_t;

static int read_u64_file(const char *path, uint64_t *value) {
  char buf[32];
  ssize_t n = rapl_read_small_file(path, 0, buf, sizeof(buf));
  if (n < 0)
    return (int)n;
  return rapl_parse_u64(buf, (size_t)n, value);
}

/* powercap words an empty file "empty"; the rest is shared. */
static const char *describe_errno(int err) {
  return err == ENODATA ? "empty" : rapl_describe_errno(err);
}

/* <class_dir>/<entry>[/<file>]; false when it does not fit PATH_MAX. */
static bool zone_path(char *path, size_t len, const char *class_dir,
                      const char *entry, const char *file) {
  int n = file ? snprintf(path, len, "%s/%s/%s", class_dir, entry, file)
               : snprintf(path, len, "%s/%s", class_dir, entry);
  return n > 0 && (size_t)n < len;
}

/* Fills c->name from <dir>/name; false (with a note) when it cannot. */
static bool read_zone_name(const char *class_dir, candidate_t *c,
                           rapl_notes_t *notes) {
  char path[PATH_MAX];
  struct stat st;
  if (!zone_path(path, sizeof(path), class_dir, c->entry, NULL)) {
    rapl_note(notes, "%s/%s: path too long, zone skipped", class_dir, c->entry);
    return false;
  }
  if (stat(path, &st) != 0) {
    struct stat lst;
    if (errno == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
      rapl_note(notes, "%s: dangling symlink, zone skipped", path);
    else
      rapl_note(notes, "%s: %s, zone skipped", path, describe_errno(errno));
    return false;
  }
  if (!zone_path(path, sizeof(path), class_dir, c->entry, "name"))
    return false;
  char buf[RAPL_ZONE_KEY_LEN];
  ssize_t n = rapl_read_small_file(path, 0, buf, sizeof(buf));
  if (n < 0) {
    rapl_note(notes, "%s: %s, zone skipped", path, describe_errno((int)-n));
    return false;
  }
  buf[strcspn(buf, "\n")] = '\0';
  if (buf[0] == '\0') {
    rapl_note(notes, "%s: empty, zone skipped", path);
    return false;
  }
  snprintf(c->name, sizeof(c->name), "%s", buf);
  return true;
}

static int compare_zones(const void *a, const void *b) {
  const powercap_zone_t *x = a, *y = b;
  if (x->psys != y->psys)
    return x->psys ? 1 : -1;
  if (x->info.package_id != y->info.package_id)
    return x->info.package_id < y->info.package_id ? -1 : 1;
  if (x->info.die_id != y->info.die_id)
    return x->info.die_id < y->info.die_id ? -1 : 1;
  if (x->domain != y->domain)
    return x->domain < y->domain ? -1 : 1;
  return 0;
}

/* Lists the zone directories of class/powercap into *out (*count of them).
 * Returns 0, or a negative errno with `why` filled and nothing listed. */
static int list_candidates(const char *class_dir, candidate_t **out,
                           size_t *out_count, char *why, size_t why_len) {
  *out = NULL;
  *out_count = 0;
  DIR *dir = opendir(class_dir);
  if (dir == NULL) {
    int err = errno;
    if (err == ENOENT)
      snprintf(why, why_len,
               "%s: not present (kernel without powercap, or the "
               "intel_rapl_msr module not loaded)",
               class_dir);
    else
      snprintf(why, why_len, "%s: %s", class_dir, describe_errno(err));
    return err > 0 ? -err : -EIO;
  }
  candidate_t *list = NULL;
  size_t count = 0, capacity = 0;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    rapl_zone_dirname_t id;
    if (strlen(de->d_name) >= sizeof(list[0].entry) ||
        rapl_parse_zone_dirname(de->d_name, &id) != 0)
      continue;
    if (count == capacity) {
      size_t grown = capacity ? capacity * 2 : 16;
      candidate_t *bigger = realloc(list, grown * sizeof(*list));
      if (bigger == NULL) {
        free(list);
        closedir(dir);
        snprintf(why, why_len, "out of memory");
        return -ENOMEM;
      }
      list = bigger;
      capacity = grown;
    }
    candidate_t *c = &list[count++];
    memset(c, 0, sizeof(*c));
    memcpy(c->entry, de->d_name, strlen(de->d_name) + 1); /* length checked */
    c->id = id;
  }
  closedir(dir);
  *out = list;
  *out_count = count;
  return 0;
}

static const candidate_t *find_top(const candidate_t *list, size_t count,
                                   bool mmio, unsigned top_id) {
  for (size_t i = 0; i < count; i++)
    if (list[i].id.depth == 1 && list[i].id.mmio == mmio &&
        list[i].id.top_id == top_id)
      return &list[i];
  return NULL;
}

/* Decides which candidates are zones (SPEC section 4). */
static void classify(candidate_t *list, size_t count, const char *class_dir,
                     rapl_notes_t *notes) {
  for (size_t i = 0; i < count; i++) {
    candidate_t *c = &list[i];
    c->usable = read_zone_name(class_dir, c, notes);
    if (c->usable && c->id.depth == 1 &&
        rapl_parse_zone_name(c->name, &c->top) != 0) {
      rapl_note(notes, "%s/%s: unexpected zone name \"%s\", zone skipped",
           class_dir, c->entry, c->name);
      c->usable = false;
    }
  }
  /* mmio duplicates: intel-rapl wins for the same package name. */
  for (size_t i = 0; i < count; i++) {
    candidate_t *m = &list[i];
    if (!m->usable || !m->id.mmio || m->id.depth != 1)
      continue;
    for (size_t j = 0; j < count; j++) {
      if (list[j].usable && !list[j].id.mmio && list[j].id.depth == 1 &&
          strcmp(list[j].name, m->name) == 0) {
        m->usable = false;
        break;
      }
    }
  }
  /* Sub-zones live and die with their parent. */
  for (size_t i = 0; i < count; i++) {
    candidate_t *c = &list[i];
    if (!c->usable || c->id.depth != 2)
      continue;
    const candidate_t *parent = find_top(list, count, c->id.mmio, c->id.top_id);
    if (parent == NULL || !parent->usable)
      c->usable = false;
  }
}

/* Which zone a usable candidate is: key (its own or its parent's name),
 * domain, package and die. False for a sub-zone name the kernel does not
 * use. Keyed by names, never by directory ids (SPEC section 4). */
static bool identify(const candidate_t *list, size_t count,
                     const candidate_t *c, powercap_zone_t *z) {
  if (c->id.depth == 1) {
    z->domain = c->top.psys ? RAPL_DOMAIN_PSYS : RAPL_DOMAIN_PACKAGE;
    z->psys = c->top.psys;
    z->info.package_id = c->top.package_id;
    z->info.die_id = c->top.die_id;
    snprintf(z->info.key, sizeof(z->info.key), "%s", c->name);
  } else {
    const candidate_t *parent = find_top(list, count, c->id.mmio, c->id.top_id);
    if (parent == NULL || !rapl_domain_from_name(c->name, &z->domain) ||
        z->domain == RAPL_DOMAIN_PACKAGE || z->domain == RAPL_DOMAIN_PSYS)
      return false;
    z->psys = parent->top.psys;
    z->info.package_id = parent->top.package_id;
    z->info.die_id = parent->top.die_id;
    snprintf(z->info.key, sizeof(z->info.key), "%s", parent->name);
  }
  z->mmio = c->id.mmio;
  snprintf(z->info.domain, sizeof(z->info.domain), "%s",
           rapl_domain_name(z->domain));
  return true;
}

static void close_zones(powercap_zone_t *zones, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (zones[i].fd >= 0)
      close(zones[i].fd);
}

/* Opens one zone's files; false (with a note) when energy_uj cannot be. */
static bool open_zone(const char *class_dir, const candidate_t *c,
                      powercap_zone_t *z, rapl_notes_t *notes) {
  char path[PATH_MAX];
  if (!zone_path(path, sizeof(path), class_dir, c->entry, "energy_uj"))
    return false;
  z->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  memcpy(z->entry, c->entry, sizeof(z->entry));
  if (z->fd < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM)
      rapl_note(notes,
           "%s: permission denied (energy_uj is readable by root only since "
           "the CVE-2020-8694 fix, Linux 5.10): run collectd as root",
           path);
    else
      rapl_note(notes, "%s: %s, zone skipped", path, describe_errno(err));
    return false;
  }
  uint64_t range = 0;
  int err = zone_path(path, sizeof(path), class_dir, c->entry,
                      "max_energy_range_uj")
                ? read_u64_file(path, &range)
                : -ENAMETOOLONG;
  if (err != 0 || range == 0) {
    /* Old systems report 0 here (REFERENCE.md 2.5): then a decrease cannot
     * be sized and is taken as a reset instead of a wrap. */
    rapl_note(notes,
         "%s: %s; a decreasing counter will be treated as a reset, not a wrap",
         path, err != 0 ? describe_errno(-err) : "0");
    range = 0;
  }
  z->info.wrap_range = range;
  z->info.wrap_energy_uj = range;
  z->info.uj_per_unit_num = 1;
  z->info.uj_per_unit_den = 1;
  z->info.max_power_uw = rapl_plausible_power_cap_uw(z->domain);
  return true;
}

static int compare_entries(const void *a, const void *b) {
  return strcmp(((const candidate_t *)a)->entry, ((const candidate_t *)b)->entry);
}

static const char *candidate_entry(const void *list, size_t i) {
  return ((const candidate_t *)list)[i].entry;
}

static int compare_entry_key(const void *key, const void *candidate) {
  return strcmp(key, ((const candidate_t *)candidate)->entry);
}

static bool candidate_attached(const void *list, size_t i) {
  return ((const candidate_t *)list)[i].attached;
}

/* The listing's fingerprint (rapl_make_listing), its entries sorted. The
 * entries of source's open zones (source NULL: none) are not stat'ed. */
static char *make_listing(const rapl_source_t *source, const char *class_dir,
                          candidate_t *list, size_t count) {
  if (count == 0) /* an empty listing has no array at all */
    return rapl_make_listing(class_dir, candidate_entry, NULL, list, 0);
  qsort(list, count, sizeof(*list), compare_entries);
  for (size_t i = 0; source != NULL && i < source->zone_count; i++) {
    const powercap_zone_t *z = &source->zones[i];
    candidate_t *c = z->fd >= 0 ? bsearch(z->entry, list, count, sizeof(*list),
                                          compare_entry_key)
                                : NULL;
    if (c != NULL)
      c->attached = true;
  }
  return rapl_make_listing(class_dir, candidate_entry, candidate_attached, list,
                           count);
}

static int powercap_read(rapl_source_t *source, size_t zone, uint64_t *raw);

static int powercap_open(const rapl_options_t *options, rapl_source_t **out,
                         char *why, size_t why_len) {
  char class_dir[PATH_MAX];
  if ((size_t)snprintf(class_dir, sizeof(class_dir), "%s/class/powercap",
                       options->sysfs_path) >= sizeof(class_dir)) {
    snprintf(why, why_len, "SysfsPath is too long");
    return -ENAMETOOLONG;
  }
  candidate_t *list;
  size_t count;
  int listed = list_candidates(class_dir, &list, &count, why, why_len);
  if (listed != 0)
    return listed;

  rapl_notes_t *notes = calloc(1, sizeof(*notes));
  powercap_zone_t *zones = calloc(count ? count : 1, sizeof(*zones));
  rapl_source_t *source = calloc(1, sizeof(*source));
  if (notes == NULL || zones == NULL || source == NULL) {
    free(list), free(notes), free(zones), free(source);
    snprintf(why, why_len, "out of memory");
    return -ENOMEM;
  }
  classify(list, count, class_dir, notes);

  size_t kept = 0, filtered = 0;
  for (size_t i = 0; i < count; i++) {
    const candidate_t *c = &list[i];
    if (!c->usable)
      continue;
    powercap_zone_t z = {.fd = -1};
    if (!identify(list, count, c, &z)) {
      rapl_note(notes, "%s/%s: unexpected sub-zone name \"%s\", zone skipped",
           class_dir, c->entry, c->name);
      continue;
    }
    if (!options->domain_wanted[z.domain]) {
      filtered++;
      continue;
    }
    bool duplicate = false;
    for (size_t k = 0; k < kept; k++)
      if (zones[k].domain == z.domain && strcmp(zones[k].info.key, z.info.key) == 0)
        duplicate = true;
    if (duplicate) {
      rapl_note(notes, "%s/%s: a second %s zone for %s, ignored", class_dir,
           c->entry, z.info.domain, z.info.key);
      continue;
    }
    if (open_zone(class_dir, c, &z, notes))
      zones[kept++] = z;
  }
  source->listing = make_listing(NULL, class_dir, list, count);
  free(list);
  qsort(zones, kept, sizeof(*zones), compare_zones);
  snprintf(source->class_dir, sizeof(source->class_dir), "%s", class_dir);
  source->zones = zones;
  source->zone_count = kept;
  source->zone_capacity = count ? count : 1;
  memcpy(source->domain_wanted, options->domain_wanted,
         sizeof(source->domain_wanted));

  size_t readable = 0;
  for (size_t i = 0; i < kept; i++) {
    uint64_t raw;
    int err = powercap_read(source, i, &raw);
    if (err >= 0)
      readable++;
    else
      rapl_note(notes, "%s/energy_uj of %s: %s", zones[i].info.key,
           zones[i].info.domain, describe_errno(-err));
  }

  if (readable == 0) {
    int len = snprintf(why, why_len, "%s: %s", class_dir,
                       kept ? "no zone could be read"
                       : filtered ? "no zone of the domains in Zones"
                                  : "no usable RAPL zone");
    rapl_notes_append(notes, why, why_len, len);
    close_zones(zones, kept);
    free(source->listing);
    free(zones), free(source), free(notes);
    return kept ? -EIO : -ENOENT;
  }
  rapl_notes_log(notes, "powercap");
  free(notes);
  *out = source;
  return 0;
}

static size_t powercap_zone_count(const rapl_source_t *source) {
  return source->zone_count;
}

static const rapl_zone_info_t *powercap_zone_info(const rapl_source_t *source,
                                                  size_t zone) {
  return zone < source->zone_count ? &source->zones[zone].info : NULL;
}

static int powercap_read(rapl_source_t *source, size_t zone, uint64_t *raw) {
  if (zone >= source->zone_count)
    return -EINVAL;
  powercap_zone_t *z = &source->zones[zone];
  if (z->fd < 0)
    return -ENODEV; /* gone: rescan() looks for it */
  char buf[32];
  ssize_t n = pread(z->fd, buf, sizeof(buf), 0);
  if (n < 0) {
    int err = errno;
    if (!rapl_errno_gone(err))
      return -err;
    close(z->fd);
    z->fd = -1;
    return -ENODEV;
  }
  uint64_t value;
  int err = rapl_parse_u64(buf, (size_t)n, &value);
  if (err != 0)
    return err;
  if (z->info.wrap_range != 0 && value > z->info.wrap_range)
    return -ERANGE;
  *raw = value;
  /* Only a good read ends the re-attachment: a returning zone whose first
   * reads fail is still re-baselined at its first good one (SPEC 4). */
  if (z->reattached) {
    z->reattached = false;
    return RAPL_READ_REOPENED;
  }
  return 0;
}

static powercap_zone_t *find_zone(rapl_source_t *source,
                                  const powercap_zone_t *like) {
  for (size_t i = 0; i < source->zone_count; i++)
    if (source->zones[i].domain == like->domain &&
        strcmp(source->zones[i].info.key, like->info.key) == 0)
      return &source->zones[i];
  return NULL;
}

/* One listing of class/powercap. When it shows the same entries as the
 * last one and no zone is gone, that is all. Otherwise, one
 * classification: gone zones are re-attached by key and domain (their
 * directory id may differ now) within their own control type, never to an
 * intel-rapl-mmio twin; zones not seen before are opened and appended. */
static int powercap_rescan(rapl_source_t *source) {
  candidate_t *list;
  size_t count;
  char why[256];
  if (list_candidates(source->class_dir, &list, &count, why, sizeof(why)) != 0)
    return 0; /* the root is gone: everything stays as it is */
  bool any_gone = false;
  for (size_t i = 0; i < source->zone_count; i++)
    any_gone = any_gone || source->zones[i].fd < 0;
  bool same = rapl_listing_replace(
      &source->listing, make_listing(source, source->class_dir, list, count));
  if (same && !any_gone) {
    free(list);
    return 0;
  }
  rapl_notes_t *notes = calloc(1, sizeof(*notes));
  if (notes == NULL) {
    free(list);
    return -ENOMEM;
  }
  classify(list, count, source->class_dir, notes);
  int added = 0;
  for (size_t i = 0; i < count; i++) {
    powercap_zone_t found = {.fd = -1};
    if (!list[i].usable || !identify(list, count, &list[i], &found) ||
        !source->domain_wanted[found.domain])
      continue;
    powercap_zone_t *known = find_zone(source, &found);
    if (known != NULL) {
      char path[PATH_MAX];
      if (known->fd >= 0 || known->mmio != found.mmio ||
          !zone_path(path, sizeof(path), source->class_dir, list[i].entry,
                     "energy_uj"))
        continue;
      known->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      known->reattached = known->fd >= 0;
      memcpy(known->entry, list[i].entry, sizeof(known->entry));
      continue;
    }
    if (source->zone_count == source->zone_capacity) {
      size_t grown = source->zone_capacity ? 2 * source->zone_capacity : 4;
      powercap_zone_t *bigger =
          realloc(source->zones, grown * sizeof(*source->zones));
      if (bigger == NULL)
        break;
      source->zones = bigger;
      source->zone_capacity = grown;
    }
    if (!open_zone(source->class_dir, &list[i], &found, notes))
      continue;
    source->zones[source->zone_count++] = found;
    rapl_log(RAPL_LOG_INFO, "powercap: new zone %s/%s (%s/%s)", found.info.key,
             found.info.domain, source->class_dir, list[i].entry);
    added++;
  }
  /* the notes were said at open; while a zone is gone this runs at every
   * read, and repeating them would flood the log */
  free(notes);
  free(list);
  return added;
}

static void powercap_close(rapl_source_t *source) {
  if (source == NULL)
    return;
  close_zones(source->zones, source->zone_count);
  free(source->zones);
  free(source->listing);
  free(source);
}

const rapl_source_ops_t rapl_powercap_source = {
    .name = "rapl-powercap",
    .open = powercap_open,
    .zone_count = powercap_zone_count,
    .zone_info = powercap_zone_info,
    .read = powercap_read,
    .rescan = powercap_rescan,
    .close = powercap_close,
};
