/* hwmon.c - the hwmon energy source (SPEC 8).
 *
 * Layout (REFERENCE.md section 3): <sysfs>/class/hwmon/hwmonN links to a
 * chip, named by its `name` file; the N is enumeration order and not
 * stable, so chips are ordered by the device they belong to and keyed by
 * name. The ACPI power_meter driver registers a nameless hwmon device and
 * puts `name` and every attribute on the ACPI device, hwmonN/device/.
 *
 * A chip gives energy counters (energyN_input, uJ), else power readings
 * (powerN_average, else powerN_input, uW), else - for board monitors named
 * in HwmonChips - voltage x current pairs (mV x mA = uW) from the table in
 * hwmon_chips.c. Power is integrated over CLOCK_BOOTTIME with the
 * trapezoid rule into a microjoule counter that read() returns as the raw
 * value: the meter's accounting and power work unchanged, and the power
 * it reports is the integral's average over its interval.
 *
 * Every channel file is opened once and re-read with pread(): no
 * open/close per read, and a chip that goes away answers ENODEV on its
 * descriptors (a gone zone, re-attached by rescan()). This file is the
 * only code that touches hwmon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strverscmp */
#endif
#include "energy_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting.h"
#include "clock.h"
#include "hwmon_chips.h"
#include "rapl_log.h"
#include "sysfs_notes.h"
#include "sysfs_parse.h"

/* Plausibility cap of a zone that is not a RAPL domain: a power_meter can
 * measure a whole multi-node chassis, so 20 kW; what it rejects are
 * sentinels that slipped through (4.29 MW, 4.29 kW-in-mW x 1e6, ...) and
 * 64-bit counters re-read as garbage. amd_energy's package and core zones
 * take RAPL's caps (2 kW). */
#define HWMON_CAP_W UINT64_C(20000)

#define FILE_LEN 32
#define CHIP_NAME_LEN RAPL_HWMON_CHIP_NAME_LEN

typedef struct {
  char file[FILE_LEN];  /* energy1_input, power1_average, in1_input */
  char file2[FILE_LEN]; /* curr1_input for a voltage x current pair; "" */
  int fd, fd2;
} channel_t;

typedef struct {
  rapl_zone_info_t info;
  char dir[PATH_MAX];        /* the chip's attribute directory */
  char chip[CHIP_NAME_LEN];  /* its name, for messages */
  bool integrated;           /* power readings, integrated here */
  bool vi;                   /* voltage x current pairs */
  channel_t *channels;
  size_t channel_count;
  rapl_hwmon_integral_t integral;
  bool gone;       /* a descriptor said the chip went away */
  bool reattached; /* back after a vanish: the next good read says so */
  /* ordering: chip, package, RAPL domain order, then discovery order */
  size_t chip_seq;
  int rank;
} hwmon_zone_t;

struct rapl_source {
  char class_dir[PATH_MAX];
  char sysfs[PATH_MAX];
  rapl_options_t options;
  hwmon_zone_t *zones;
  size_t zone_count;
  /* The entry names of the latest listing, sorted and joined: a rescan
   * that finds the same names and no zone gone costs that one listing. */
  char *listing;
};

/* hwmon words ENODATA and ERANGE its own way; the rest is shared. */
static const char *describe_errno(int err) {
  switch (err) {
  case ENODATA:
    return "no data";
  case ERANGE:
    return "out of range (an all-ones \"no reading\" value?)";
  default:
    return rapl_describe_errno(err);
  }
}

/* ---- small file helpers ------------------------------------------------ */

static bool join(char *out, size_t len, const char *a, const char *b) {
  int n = snprintf(out, len, "%s/%s", a, b);
  return n > 0 && (size_t)n < len;
}

/* One line of a small file, its newline dropped; false when unreadable or
 * empty. */
static bool read_line(const char *dir, const char *file, char *buf,
                      size_t size) {
  char path[PATH_MAX];
  if (!join(path, sizeof(path), dir, file) ||
      rapl_read_small_file(path, O_NONBLOCK, buf, size) < 0)
    return false;
  buf[strcspn(buf, "\n")] = '\0';
  return buf[0] != '\0';
}

/* ---- chips ------------------------------------------------------------- */

typedef struct {
  char entry[64];           /* hwmonN */
  char dir[PATH_MAX];       /* hwmonN, or hwmonN/device (power_meter) */
  char name[CHIP_NAME_LEN]; /* "" when it has none */
  char order[PATH_MAX];     /* the resolved path: a stable order */
  char key[RAPL_ZONE_KEY_LEN];
  bool wanted;
} chip_t;

static int compare_entry_names(const void *a, const void *b) {
  return strverscmp(*(const char *const *)a, *(const char *const *)b);
}

static int compare_chips(const void *a, const void *b) {
  const chip_t *x = a, *y = b;
  int c = strverscmp(x->order, y->order);
  return c != 0 ? c : strverscmp(x->entry, y->entry);
}

static bool chip_wanted(const rapl_options_t *options, const char *name) {
  for (size_t i = 0; i < options->hwmon_chip_count; i++)
    if (strcmp(options->hwmon_chips[i], name) == 0)
      return true;
  return false;
}

/* The entries of class/hwmon, sorted: *names (malloc'd array of malloc'd
 * strings). 0 or a negative errno with `why` filled. */
static int list_entries(const char *class_dir, char ***names, size_t *count,
                        char *why, size_t why_len) {
  *names = NULL;
  *count = 0;
  DIR *dir = opendir(class_dir);
  if (dir == NULL) {
    int err = errno;
    if (err == ENOENT)
      snprintf(why, why_len,
               "%s: not present (kernel without hwmon, or no hwmon driver "
               "loaded)",
               class_dir);
    else
      snprintf(why, why_len, "%s: %s", class_dir, describe_errno(err));
    return err > 0 ? -err : -EIO;
  }
  char **list = NULL;
  size_t n = 0, capacity = 0;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(((chip_t *)0)->entry))
      continue;
    if (n == capacity) {
      size_t grown = capacity ? 2 * capacity : 16;
      char **bigger = realloc(list, grown * sizeof(*list));
      if (bigger == NULL)
        break;
      list = bigger;
      capacity = grown;
    }
    list[n] = strdup(de->d_name);
    if (list[n] != NULL)
      n++;
  }
  closedir(dir);
  if (n > 0)
    qsort(list, n, sizeof(*list), compare_entry_names);
  *names = list;
  *count = n;
  return 0;
}

static void free_entries(char **names, size_t count) {
  for (size_t i = 0; i < count; i++)
    free(names[i]);
  free(names);
}

static const char *name_entry(const void *list, size_t i) {
  return ((char *const *)list)[i];
}

/* The listing's fingerprint (rapl_make_listing); list_entries sorted it. */
static char *make_listing(const char *class_dir, char **names, size_t count) {
  return rapl_make_listing(class_dir, name_entry, NULL, names, count);
}

/* Names the chips, orders them by device, and gives each wanted one its
 * key: its name, "-K" appended for the K-th chip of that name. */
static chip_t *identify_chips(const char *class_dir, char **names,
                              size_t count, const rapl_options_t *options) {
  chip_t *chips = calloc(count ? count : 1, sizeof(*chips));
  if (chips == NULL)
    return NULL;
  for (size_t i = 0; i < count; i++) {
    chip_t *c = &chips[i];
    snprintf(c->entry, sizeof(c->entry), "%s", names[i]);
    char path[PATH_MAX];
    if (!join(path, sizeof(path), class_dir, names[i]))
      continue;
    if (realpath(path, c->order) == NULL)
      snprintf(c->order, sizeof(c->order), "%s", path);
    if (read_line(path, "name", c->name, sizeof(c->name))) {
      snprintf(c->dir, sizeof(c->dir), "%s", path);
    } else {
      /* hwmon_device_register() without a name: ACPI power_meter keeps
       * everything on its device (REFERENCE.md 3.4) */
      char device[PATH_MAX];
      if (join(device, sizeof(device), path, "device") &&
          read_line(device, "name", c->name, sizeof(c->name)))
        snprintf(c->dir, sizeof(c->dir), "%s", device);
      else
        c->name[0] = '\0';
    }
    c->wanted = c->name[0] != '\0' && chip_wanted(options, c->name);
  }
  if (count > 0)
    qsort(chips, count, sizeof(*chips), compare_chips);
  for (size_t i = 0; i < count; i++) {
    if (!chips[i].wanted)
      continue;
    unsigned same = 1;
    for (size_t k = 0; k < i; k++)
      same += chips[k].wanted && strcmp(chips[k].name, chips[i].name) == 0;
    if (same == 1)
      snprintf(chips[i].key, sizeof(chips[i].key), "%s", chips[i].name);
    else
      snprintf(chips[i].key, sizeof(chips[i].key), "%.50s-%u", chips[i].name,
               same);
  }
  return chips;
}

/* ---- a chip's channels ------------------------------------------------- */

typedef struct {
  rapl_hwmon_type_t type;
  unsigned index;
  bool input, average, enabled;
  char label[64]; /* "" when none */
} chan_t;

typedef struct {
  chan_t *list;
  size_t count;
} chans_t;

static chan_t *find_chan(chans_t *chans, rapl_hwmon_type_t type,
                         unsigned index) {
  for (size_t i = 0; i < chans->count; i++)
    if (chans->list[i].type == type && chans->list[i].index == index)
      return &chans->list[i];
  return NULL;
}

static int compare_chans(const void *a, const void *b) {
  const chan_t *x = a, *y = b;
  if (x->type != y->type)
    return x->type < y->type ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Lists a chip's energy, power, voltage and current channels. */
static int load_chans(const char *dir, chans_t *chans) {
  chans->list = NULL;
  chans->count = 0;
  DIR *d = opendir(dir);
  if (d == NULL)
    return -errno;
  size_t capacity = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    rapl_hwmon_attr_t attr;
    if (!rapl_hwmon_parse_attr(de->d_name, &attr))
      continue;
    chan_t *c = find_chan(chans, attr.type, attr.index);
    if (c == NULL) {
      if (chans->count == capacity) {
        size_t grown = capacity ? 2 * capacity : 16;
        chan_t *bigger = realloc(chans->list, grown * sizeof(*bigger));
        if (bigger == NULL)
          break;
        chans->list = bigger;
        capacity = grown;
      }
      c = &chans->list[chans->count++];
      memset(c, 0, sizeof(*c));
      c->type = attr.type;
      c->index = attr.index;
      c->enabled = true;
    }
    if (attr.item == RAPL_HWMON_INPUT)
      c->input = true;
    else if (attr.item == RAPL_HWMON_AVERAGE)
      c->average = true;
  }
  closedir(d);
  for (size_t i = 0; i < chans->count; i++) {
    chan_t *c = &chans->list[i];
    const char *type = rapl_hwmon_type_name(c->type);
    char file[FILE_LEN], buf[32];
    snprintf(file, sizeof(file), "%s%u_label", type, c->index);
    if (!read_line(dir, file, c->label, sizeof(c->label)))
      c->label[0] = '\0';
    snprintf(file, sizeof(file), "%s%u_enable", type, c->index);
    if (read_line(dir, file, buf, sizeof(buf)) && strcmp(buf, "0") == 0)
      c->enabled = false; /* sysfs-interface: 0 disables the channel */
  }
  if (chans->count > 0)
    qsort(chans->list, chans->count, sizeof(*chans->list), compare_chans);
  return 0;
}

/* ---- zones ------------------------------------------------------------- */

typedef struct {
  hwmon_zone_t *list;
  size_t count, capacity;
} zones_t;

static void close_zone(hwmon_zone_t *z) {
  for (size_t i = 0; i < z->channel_count; i++) {
    if (z->channels[i].fd >= 0)
      close(z->channels[i].fd);
    if (z->channels[i].fd2 >= 0)
      close(z->channels[i].fd2);
    z->channels[i].fd = z->channels[i].fd2 = -1;
  }
}

static void free_zone(hwmon_zone_t *z) {
  close_zone(z);
  free(z->channels);
  z->channels = NULL;
  z->channel_count = 0;
}

static void free_zones(zones_t *zones) {
  for (size_t i = 0; i < zones->count; i++)
    free_zone(&zones->list[i]);
  free(zones->list);
  zones->list = NULL;
  zones->count = zones->capacity = 0;
}

static hwmon_zone_t *find_zone(hwmon_zone_t *list, size_t count,
                               const char *key, const char *domain) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(list[i].info.key, key) == 0 &&
        strcmp(list[i].info.domain, domain) == 0)
      return &list[i];
  return NULL;
}

static const char *permission_hint(const char *chip) {
  return rapl_hwmon_is_amd_energy_chip(chip)
             ? "amd_energy's files are 0440, readable by root only since the "
               "CVE-2020-12912 fix: run collectd as root"
             : "run collectd as a user that may read it";
}

static int open_file(const hwmon_zone_t *z, const char *file, rapl_notes_t *notes) {
  char path[PATH_MAX];
  if (!join(path, sizeof(path), z->dir, file))
    return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM)
      rapl_note(notes, "%s: permission denied (%s)", path, permission_hint(z->chip));
    else
      rapl_note(notes, "%s: %s, channel skipped", path, describe_errno(err));
  }
  return fd;
}

/* Adds one channel (file, and file2 for a pair) to the zone (key, domain)
 * of this chip, creating it. Channels with the same domain are summed. */
static void add_channel(zones_t *zones, size_t first_of_chip,
                        const chip_t *chip, size_t chip_seq, const char *key,
                        const char *domain, int package_id, int rank,
                        bool integrated, bool vi, const char *file,
                        const char *file2, rapl_notes_t *notes) {
  hwmon_zone_t *z = find_zone(zones->list + first_of_chip,
                              zones->count - first_of_chip, key, domain);
  if (z == NULL) {
    if (find_zone(zones->list, first_of_chip, key, domain) != NULL) {
      rapl_note(notes, "%s: a second %s/%s zone (chip %s), ignored", chip->dir, key,
           domain, chip->name);
      return;
    }
    if (zones->count == zones->capacity) {
      size_t grown = zones->capacity ? 2 * zones->capacity : 8;
      hwmon_zone_t *bigger = realloc(zones->list, grown * sizeof(*bigger));
      if (bigger == NULL)
        return;
      zones->list = bigger;
      zones->capacity = grown;
    }
    z = &zones->list[zones->count++];
    memset(z, 0, sizeof(*z));
    snprintf(z->info.key, sizeof(z->info.key), "%s", key);
    snprintf(z->info.domain, sizeof(z->info.domain), "%s", domain);
    z->info.package_id = package_id;
    z->info.die_id = -1;
    z->info.wrap_range = 0; /* 64-bit, never wraps: a decrease is a reset */
    z->info.wrap_energy_uj = 0;
    z->info.uj_per_unit_num = 1;
    z->info.uj_per_unit_den = 1;
    enum rapl_domain rapl;
    z->info.max_power_uw = rapl_domain_from_name(domain, &rapl) &&
                                   rapl_hwmon_is_amd_energy_chip(chip->name)
                               ? rapl_plausible_power_cap_uw(rapl)
                               : HWMON_CAP_W * 1000000;
    snprintf(z->dir, sizeof(z->dir), "%s", chip->dir);
    snprintf(z->chip, sizeof(z->chip), "%s", chip->name);
    z->integrated = integrated;
    z->vi = vi;
    z->chip_seq = chip_seq;
    z->rank = rank;
  }
  channel_t ch = {.fd = -1, .fd2 = -1};
  snprintf(ch.file, sizeof(ch.file), "%s", file);
  snprintf(ch.file2, sizeof(ch.file2), "%s", file2 ? file2 : "");
  ch.fd = open_file(z, file, notes);
  if (ch.fd < 0)
    return;
  if (file2 != NULL) {
    ch.fd2 = open_file(z, file2, notes);
    if (ch.fd2 < 0) {
      close(ch.fd);
      return;
    }
  }
  channel_t *bigger =
      realloc(z->channels, (z->channel_count + 1) * sizeof(*bigger));
  if (bigger == NULL) {
    close(ch.fd);
    if (ch.fd2 >= 0)
      close(ch.fd2);
    return;
  }
  z->channels = bigger;
  z->channels[z->channel_count++] = ch;
}

/* Domain of a channel: its label (SPEC 8), else its own name. */
static void channel_domain(const chan_t *c, char *domain, size_t len) {
  if (!rapl_hwmon_domain_from_label(c->label, domain, len))
    snprintf(domain, len, "%s%u", rapl_hwmon_type_name(c->type), c->index);
}

/* CPU c's physical_package_id, or -1. */
static int cpu_package(const char *sysfs, unsigned cpu) {
  char path[PATH_MAX], buf[32];
  int n = snprintf(path, sizeof(path),
                   "%s/devices/system/cpu/cpu%u/topology/physical_package_id",
                   sysfs, cpu);
  if (n <= 0 || (size_t)n >= sizeof(path))
    return -1;
  ssize_t len =
      rapl_read_small_file(path, O_NONBLOCK, buf, sizeof(buf));
  uint64_t id;
  if (len < 0 || rapl_parse_u64(buf, (size_t)len, &id) != 0 || id > INT_MAX)
    return -1;
  return (int)id;
}

/* Ranks within one package: package before core, as RAPL orders them. */
static int rapl_rank(const char *domain, int seq) {
  enum rapl_domain d;
  return rapl_domain_from_name(domain, &d) ? (int)d : 100 + seq;
}

/* Appends the zones of one wanted chip (SPEC 8's tiers: energy, else
 * power, else voltage x current); *found tells whether it has a channel
 * of a usable tier at all (a disabled one counts). */
static void chip_zones(const rapl_source_t *src, const chip_t *chip,
                       size_t chip_seq, zones_t *zones, rapl_notes_t *notes,
                       bool *found) {
  chans_t chans;
  *found = false;
  int err = load_chans(chip->dir, &chans);
  if (err != 0) {
    rapl_note(notes, "%s: %s", chip->dir, describe_errno(-err));
    return;
  }
  size_t first = zones->count;
  bool any_energy = false, any_power = false;
  for (size_t i = 0; i < chans.count; i++) {
    const chan_t *c = &chans.list[i];
    any_energy = any_energy || (c->type == RAPL_HWMON_ENERGY && c->input);
    any_power = any_power ||
                (c->type == RAPL_HWMON_POWER && (c->input || c->average));
  }
  bool amd = rapl_hwmon_is_amd_energy_chip(chip->name);
  char domain[RAPL_DOMAIN_NAME_LEN], file[FILE_LEN];
  int seq = 0;
  if (any_energy || any_power) {
    rapl_hwmon_type_t type = any_energy ? RAPL_HWMON_ENERGY : RAPL_HWMON_POWER;
    for (size_t i = 0; i < chans.count; i++) {
      const chan_t *c = &chans.list[i];
      if (c->type != type || !(c->input || c->average))
        continue;
      if (type == RAPL_HWMON_ENERGY && !c->input)
        continue;
      *found = true;
      if (!c->enabled)
        continue;
      /* powerN_average where the chip has it, else powerN_input */
      snprintf(file, sizeof(file), "%s%u_%s", rapl_hwmon_type_name(type),
               c->index,
               type == RAPL_HWMON_POWER && c->average ? "average" : "input");
      unsigned number;
      rapl_hwmon_amd_kind_t kind =
          amd ? rapl_hwmon_parse_amd_label(c->label, &number)
              : RAPL_HWMON_AMD_NONE;
      if (kind != RAPL_HWMON_AMD_NONE) {
        /* Esocket<N>: package-N; Ecore<c> is read on CPU c, so it belongs
         * to CPU c's package (amd_energy.c) */
        int package = kind == RAPL_HWMON_AMD_SOCKET
                          ? (int)number
                          : cpu_package(src->sysfs, number);
        if (package < 0) {
          rapl_note(notes,
               "%s/%s (%s): CPU %u has no topology (offline?), channel "
               "skipped",
               chip->dir, file, c->label, number);
          continue;
        }
        char key[RAPL_ZONE_KEY_LEN];
        snprintf(key, sizeof(key), "package-%d", package);
        const char *d = kind == RAPL_HWMON_AMD_SOCKET ? "package" : "core";
        add_channel(zones, first, chip, chip_seq, key, d, package,
                    rapl_rank(d, 0), false, false, file, NULL, notes);
        continue;
      }
      channel_domain(c, domain, sizeof(domain));
      add_channel(zones, first, chip, chip_seq, chip->key, domain, 0,
                  rapl_rank(domain, seq++), type == RAPL_HWMON_POWER, false,
                  file, NULL, notes);
    }
  } else {
    /* voltage x current: the table's pairs, else same index and label */
    char file2[FILE_LEN];
    const rapl_hwmon_chip_pairs_t *row = rapl_hwmon_chip_pairs(chip->name);
    rapl_hwmon_pair_t generic[64];
    const rapl_hwmon_pair_t *pairs = row ? row->pairs : generic;
    size_t pair_count = row ? row->pair_count : 0;
    for (size_t i = 0; row == NULL && i < chans.count; i++) {
      const chan_t *in = &chans.list[i];
      const chan_t *curr;
      if (in->type != RAPL_HWMON_IN || in->label[0] == '\0' ||
          (curr = find_chan(&chans, RAPL_HWMON_CURR, in->index)) == NULL ||
          strcmp(curr->label, in->label) != 0 ||
          pair_count == sizeof(generic) / sizeof(generic[0]))
        continue;
      generic[pair_count].in_index = in->index;
      generic[pair_count++].curr_index = in->index;
    }
    for (size_t p = 0; p < pair_count; p++) {
      const chan_t *in = find_chan(&chans, RAPL_HWMON_IN, pairs[p].in_index);
      const chan_t *curr =
          find_chan(&chans, RAPL_HWMON_CURR, pairs[p].curr_index);
      if (in == NULL || curr == NULL)
        continue;
      /* both averages, else both inputs: never one of each */
      const char *item = in->average && curr->average ? "average"
                         : in->input && curr->input   ? "input"
                                                      : NULL;
      if (item == NULL)
        continue;
      *found = true;
      if (!in->enabled || !curr->enabled)
        continue;
      snprintf(file, sizeof(file), "in%u_%s", in->index, item);
      snprintf(file2, sizeof(file2), "curr%u_%s", curr->index, item);
      if (!rapl_hwmon_domain_from_label(in->label, domain, sizeof(domain)) &&
          !rapl_hwmon_domain_from_label(curr->label, domain, sizeof(domain)))
        snprintf(domain, sizeof(domain), "power%u", in->index);
      add_channel(zones, first, chip, chip_seq, chip->key, domain, 0,
                  rapl_rank(domain, seq++), true, true, file, file2, notes);
    }
  }
  free(chans.list);
  /* a zone whose channels could not be opened is no zone */
  size_t kept = first;
  for (size_t i = first; i < zones->count; i++) {
    if (zones->list[i].channel_count == 0) {
      free_zone(&zones->list[i]);
      continue;
    }
    zones->list[kept++] = zones->list[i];
  }
  zones->count = kept;
}

static int compare_zones(const void *a, const void *b) {
  const hwmon_zone_t *x = a, *y = b;
  if (x->chip_seq != y->chip_seq)
    return x->chip_seq < y->chip_seq ? -1 : 1;
  if (x->info.package_id != y->info.package_id)
    return x->info.package_id < y->info.package_id ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Zones filter (SPEC 2): it names RAPL domains, so it applies to zones
 * whose domain is one (amd_energy's package and core, a label that reads
 * "package"...); a chip's own labels (cpu_power, io_power) are chosen by
 * HwmonChips and always kept. */
static bool domain_wanted(const rapl_options_t *options, const char *domain) {
  enum rapl_domain d;
  return !rapl_domain_from_name(domain, &d) || options->domain_wanted[d];
}

typedef struct {
  size_t chips;       /* chips with a name */
  size_t wanted;      /* of those, in HwmonChips */
  size_t with_chans;  /* of those, with a usable channel */
  size_t filtered;    /* zones the Zones filter dropped */
  char found[256];    /* names of the chips not wanted */
} census_t;

/* Every zone of every wanted chip, opened and ordered. */
static void discover(const rapl_source_t *src, char **names, size_t count,
                     zones_t *zones, rapl_notes_t *notes, census_t *census) {
  memset(census, 0, sizeof(*census));
  memset(zones, 0, sizeof(*zones));
  chip_t *chips = identify_chips(src->class_dir, names, count, &src->options);
  if (chips == NULL)
    return;
  size_t found_len = 0;
  for (size_t i = 0; i < count; i++) {
    const chip_t *chip = &chips[i];
    if (chip->name[0] == '\0')
      continue;
    census->chips++;
    if (!chip->wanted) {
      bool listed = strstr(census->found, chip->name) != NULL;
      if (!listed && found_len < sizeof(census->found))
        found_len += (size_t)snprintf(census->found + found_len,
                                      sizeof(census->found) - found_len,
                                      "%s%s", found_len ? ", " : "",
                                      chip->name);
      continue;
    }
    census->wanted++;
    bool usable;
    size_t before = zones->count;
    chip_zones(src, chip, i, zones, notes, &usable);
    if (usable)
      census->with_chans++;
    else
      rapl_note(notes,
           "%s (%s): no energy, power or voltage x current channel, chip "
           "skipped",
           chip->dir, chip->name);
    size_t kept = before;
    for (size_t z = before; z < zones->count; z++) {
      if (!domain_wanted(&src->options, zones->list[z].info.domain)) {
        census->filtered++;
        free_zone(&zones->list[z]);
        continue;
      }
      zones->list[kept++] = zones->list[z];
    }
    zones->count = kept;
  }
  free(chips);
  if (zones->count > 0)
    qsort(zones->list, zones->count, sizeof(*zones->list), compare_zones);
}

/* ---- reading ----------------------------------------------------------- */

/* One value of one descriptor, signed (currents can be negative). */
static int read_fd(int fd, int64_t *value) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n < 0)
    return errno > 0 ? -errno : -EIO;
  uint64_t u;
  int err = rapl_parse_u64(buf, (size_t)n, &u);
  if (err == 0) {
    if (rapl_hwmon_is_sentinel(u) || u > INT64_MAX)
      return -ERANGE; /* all-ones: no reading (SPEC 7) */
    *value = (int64_t)u;
    return 0;
  }
  if (err != -EINVAL)
    return err;
  return rapl_hwmon_parse_s64(buf, (size_t)n, value);
}

static int zone_gone(hwmon_zone_t *z) {
  close_zone(z);
  z->gone = true;
  return -ENODEV;
}

static int hwmon_read(rapl_source_t *source, size_t zone, uint64_t *raw) {
  if (zone >= source->zone_count)
    return -EINVAL;
  hwmon_zone_t *z = &source->zones[zone];
  if (z->gone)
    return -ENODEV; /* rescan() looks for it */
  uint64_t sum = 0;
  for (size_t i = 0; i < z->channel_count; i++) {
    const channel_t *ch = &z->channels[i];
    int64_t value = 0, curr = 1;
    int err = read_fd(ch->fd, &value);
    if (err == 0 && ch->fd2 >= 0)
      err = read_fd(ch->fd2, &curr);
    if (err != 0)
      return rapl_errno_gone(-err) ? zone_gone(z) : err;
    /* mV x mA = uW; a current below zero (a rail fed backwards, or the
     * sensor's offset at no load) is no energy used */
    unsigned __int128 v =
        value <= 0 || curr <= 0
            ? 0
            : (unsigned __int128)(uint64_t)value * (uint64_t)curr;
    if (!z->vi && value < 0)
      return -EINVAL; /* energy and power are never negative */
    if (v > UINT64_MAX - sum)
      return -ERANGE;
    sum += (uint64_t)v;
  }
  if (z->integrated) {
    if (sum > z->info.max_power_uw)
      return -ERANGE; /* not a power this zone can draw: not integrated */
    if (z->reattached)
      rapl_hwmon_integral_forget(&z->integral);
    rapl_hwmon_integrate(&z->integral, sum, rapl_clock_ns());
    sum = z->integral.energy_uj;
  }
  *raw = sum;
  if (z->reattached) {
    z->reattached = false;
    return RAPL_READ_REOPENED;
  }
  return 0;
}

/* ---- the source -------------------------------------------------------- */

static void hwmon_close(rapl_source_t *source) {
  if (source == NULL)
    return;
  zones_t zones = {source->zones, source->zone_count, source->zone_count};
  free_zones(&zones);
  free(source->listing);
  free(source);
}

static int hwmon_open(const rapl_options_t *options, rapl_source_t **out,
                      char *why, size_t why_len) {
  rapl_source_t *src = calloc(1, sizeof(*src));
  rapl_notes_t *notes = calloc(1, sizeof(*notes));
  if (src == NULL || notes == NULL) {
    free(src), free(notes);
    snprintf(why, why_len, "out of memory");
    return -ENOMEM;
  }
  src->options = *options;
  snprintf(src->sysfs, sizeof(src->sysfs), "%s", options->sysfs_path);
  if ((size_t)snprintf(src->class_dir, sizeof(src->class_dir), "%s/class/hwmon",
                       options->sysfs_path) >= sizeof(src->class_dir)) {
    free(src), free(notes);
    snprintf(why, why_len, "SysfsPath is too long");
    return -ENAMETOOLONG;
  }
  char **names;
  size_t count;
  int err = list_entries(src->class_dir, &names, &count, why, why_len);
  if (err != 0) {
    free(src), free(notes);
    return err;
  }
  zones_t zones;
  census_t census;
  discover(src, names, count, &zones, notes, &census);
  src->listing = make_listing(src->class_dir, names, count);
  free_entries(names, count);
  src->zones = zones.list;
  src->zone_count = zones.count;

  size_t readable = 0;
  for (size_t i = 0; i < src->zone_count; i++) {
    uint64_t raw;
    int rc = hwmon_read(src, i, &raw);
    if (rc >= 0)
      readable++;
    else
      rapl_note(notes, "%s/%s: %s", src->zones[i].info.key,
           src->zones[i].info.domain, describe_errno(-rc));
  }
  if (readable == 0) {
    int len;
    if (census.chips == 0)
      len = snprintf(why, why_len, "%s: no hwmon chip", src->class_dir);
    else if (census.wanted == 0)
      len = snprintf(why, why_len,
                     "%s: no chip of HwmonChips (found: %s; GPUs, drives and "
                     "batteries are never CPU meters unless named)",
                     src->class_dir, census.found);
    else
      len = snprintf(why, why_len, "%s: %s", src->class_dir,
                     src->zone_count    ? "no zone could be read"
                     : census.filtered ? "no zone of the domains in Zones"
                                       : "no usable channel");
    rapl_notes_append(notes, why, why_len, len);
    err = src->zone_count ? -EIO : census.wanted ? -ENOENT : -ENODEV;
    /* permission denied is its own failure (SPEC 7) */
    for (size_t i = 0; i < notes->count; i++)
      if (strstr(notes->text[i], "permission denied") != NULL)
        err = -EACCES;
    hwmon_close(src);
    free(notes);
    return err;
  }
  rapl_notes_log(notes, "hwmon");
  free(notes);
  *out = src;
  return 0;
}

static size_t hwmon_zone_count(const rapl_source_t *source) {
  return source->zone_count;
}

static const rapl_zone_info_t *hwmon_zone_info(const rapl_source_t *source,
                                               size_t zone) {
  return zone < source->zone_count ? &source->zones[zone].info : NULL;
}

/* One listing of class/hwmon. When it shows the same entries as the last
 * one and no zone is gone, that is all. Otherwise one discovery: gone
 * zones are re-attached by key and domain (the chip's name and the
 * channel's label; its hwmonN may differ now), zones not seen before are
 * appended. */
static int hwmon_rescan(rapl_source_t *source) {
  char **names;
  size_t count;
  char why[256];
  if (list_entries(source->class_dir, &names, &count, why, sizeof(why)) != 0)
    return 0; /* the root is gone: everything stays as it is */
  bool any_gone = false;
  for (size_t i = 0; i < source->zone_count; i++)
    any_gone = any_gone || source->zones[i].gone;
  bool same = rapl_listing_replace(
      &source->listing, make_listing(source->class_dir, names, count));
  if (same && !any_gone) {
    free_entries(names, count);
    return 0;
  }
  zones_t found;
  census_t census;
  /* the notes were said at open; while a zone is gone this runs at every
   * read, and repeating them would flood the log */
  discover(source, names, count, &found, NULL, &census);
  free_entries(names, count);
  size_t new_count = 0;
  for (size_t i = 0; i < found.count; i++) {
    hwmon_zone_t *f = &found.list[i];
    hwmon_zone_t *known = find_zone(source->zones, source->zone_count,
                                    f->info.key, f->info.domain);
    if (known == NULL) {
      new_count++;
      continue;
    }
    if (known->gone) {
      /* take the fresh descriptors; keep the books (the integral) */
      free_zone(known);
      known->channels = f->channels;
      known->channel_count = f->channel_count;
      snprintf(known->dir, sizeof(known->dir), "%s", f->dir);
      f->channels = NULL;
      f->channel_count = 0;
      known->gone = false;
      known->reattached = true;
    }
    free_zone(f);
    f->info.key[0] = '\0'; /* taken care of */
  }
  int added = 0;
  if (new_count > 0) {
    hwmon_zone_t *bigger = realloc(
        source->zones, (source->zone_count + new_count) * sizeof(*bigger));
    if (bigger != NULL) {
      source->zones = bigger;
      for (size_t i = 0; i < found.count; i++) {
        hwmon_zone_t *f = &found.list[i];
        if (f->info.key[0] == '\0')
          continue;
        source->zones[source->zone_count++] = *f;
        f->channels = NULL;
        f->channel_count = 0;
        f->info.key[0] = '\0';
        const hwmon_zone_t *z = &source->zones[source->zone_count - 1];
        rapl_log(RAPL_LOG_INFO, "hwmon: new zone %s/%s (%s)", z->info.key,
                 z->info.domain, z->dir);
        added++;
      }
    }
  }
  for (size_t i = 0; i < found.count; i++)
    free_zone(&found.list[i]);
  free(found.list);
  return added;
}

const rapl_source_ops_t rapl_hwmon_source = {
    .name = "hwmon",
    .open = hwmon_open,
    .zone_count = hwmon_zone_count,
    .zone_info = hwmon_zone_info,
    .read = hwmon_read,
    .rescan = hwmon_rescan,
    .close = hwmon_close,
};
