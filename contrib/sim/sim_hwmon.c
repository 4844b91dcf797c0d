/*
 * sim_hwmon.c - hwmon chips (hwmon: section): the sysfs tree
 * (sys/class/hwmon/hwmonN -> ../../devices/<device>/hwmon/hwmonN), energy
 * counters advanced by simulated time at each channel's power, power
 * channels (constant, a linear ramp, or set at run time), board monitors'
 * voltages and currents, labels, *_enable, file modes, an all-ones
 * sentinel, and the ACPI power_meter layout whose name and attributes live
 * under hwmonN/device/ (REFERENCE.md 3).
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

enum { HW_ENERGY, HW_POWER, HW_IN, HW_CURR, HW_TEMP, HW_NTYPES };
static const char *const type_names[] = {"energy", "power", "in", "curr",
                                         "temp"};
/* What a sentinel shows by default: ACPI's UNKNOWN_POWER 0xFFFFFFFF mW in
 * uW (REFERENCE.md 3.4) for power, all-ones for the rest. */
static const uint64_t sentinel_default[] = {
    UINT64_MAX, 0xFFFFFFFFULL * 1000ULL, 0xFFFFFFFFULL, 0xFFFFFFFFULL,
    0xFFFFFFFFULL};

typedef struct {
  int fd;
  int valid;
  uint64_t written;
} hw_file_t;

typedef struct {
  size_t chip;
  int type;
  unsigned index;
  char *name;  /* "power1" */
  char *label; /* NULL: no *_label file */
  int has_input, has_average;
  int enable; /* -1: no *_enable file */
  int sentinel;
  uint64_t sentinel_value;
  unsigned mode; /* of the value files */
  /* energy and power: the power as a segment from t0 (elapsed ns) */
  uint64_t t0, nj0;         /* delivered at t0 */
  uint64_t p0, p1, ramp_ns; /* uW; ramp_ns 0: constant p0 */
  uint64_t delivered_nj;
  uint64_t start_nj; /* energy: the counter's value at the start */
  uint64_t value;    /* in, curr, temp: mV, mA, millidegree C */
  hw_file_t input, average;
} hw_chan_t;

typedef struct {
  char *name;
  char *device; /* relative to sys/devices */
  int acpi;     /* name and attributes in the device directory */
  unsigned mode;
  char **extra; /* name, content pairs */
  size_t n_extra;
  char hwmon[24]; /* "hwmon0" */
  char *attr_dir; /* absolute, after the build */
} hw_chip_t;

struct sim_hwmon_state {
  hw_chip_t *chips;
  size_t n_chips;
  hw_chan_t *ch;
  size_t n_ch;
};

/* ---- the power model ------------------------------------------------- */

/* floor(a * x / d) for a * x that may not fit: a < 2^100, x, d < 2^63. */
static unsigned __int128 mul_div(unsigned __int128 a, uint64_t x, uint64_t d) {
  return (a / d) * x + (a % d) * x / d;
}

/* Energy in uW*ns over tau ns of the channel's segment. */
static unsigned __int128 seg_energy(const hw_chan_t *c, uint64_t tau) {
  if (c->ramp_ns == 0)
    return (unsigned __int128)c->p0 * tau;
  uint64_t r = tau < c->ramp_ns ? tau : c->ramp_ns;
  uint64_t lo = c->p0 < c->p1 ? c->p0 : c->p1;
  uint64_t dp = c->p0 < c->p1 ? c->p1 - c->p0 : c->p0 - c->p1;
  /* up: lo*r + dp*r^2/(2T); down: lo*r + dp*r*(2T - r)/(2T) */
  uint64_t x = c->p0 < c->p1 ? r : 2 * c->ramp_ns - r;
  unsigned __int128 e = (unsigned __int128)lo * r +
                        mul_div((unsigned __int128)dp * r, x, 2 * c->ramp_ns);
  if (tau > c->ramp_ns)
    e += (unsigned __int128)c->p1 * (tau - c->ramp_ns);
  return e;
}

static uint64_t chan_power(const hw_chan_t *c, uint64_t now) {
  uint64_t tau = now - c->t0;
  if (c->ramp_ns == 0)
    return c->p0;
  if (tau >= c->ramp_ns)
    return c->p1;
  uint64_t dp = c->p0 < c->p1 ? c->p1 - c->p0 : c->p0 - c->p1;
  uint64_t step = (uint64_t)mul_div(dp, tau, c->ramp_ns);
  return c->p0 < c->p1 ? c->p0 + step : c->p0 - step;
}

static void chan_update(hw_chan_t *c, uint64_t now) {
  c->delivered_nj = c->nj0 + (uint64_t)(seg_energy(c, now - c->t0) / 1000000);
}

/* A new segment from now (the energy so far is kept). */
static void chan_rebase(hw_chan_t *c, uint64_t now) {
  chan_update(c, now);
  c->p0 = chan_power(c, now);
  c->nj0 = c->delivered_nj;
  c->t0 = now;
  c->ramp_ns = 0;
}

static int has_energy_model(const hw_chan_t *c) {
  return c->type == HW_ENERGY || c->type == HW_POWER;
}

/* What the value files show now. */
static uint64_t chan_shown(const sim_machine_t *m, const hw_chan_t *c) {
  if (c->sentinel)
    return c->sentinel_value;
  switch (c->type) {
  case HW_ENERGY:
    return (c->start_nj + c->delivered_nj) / 1000;
  case HW_POWER:
    return chan_power(c, m->elapsed_ns);
  default:
    return c->value;
  }
}

/* ---- YAML ---------------------------------------------------------------- */

static int get_mode(load_ctx_t *c, const yaml_node_t *n, unsigned *out) {
  if (simi_expect_type(c, n, YAML_SCALAR_NODE, "mode") != 0)
    return -1;
  const char *s = simi_scalar(n);
  char *end;
  unsigned long v = strtoul(s, &end, 8);
  if (s[0] == '\0' || *end != '\0' || v > 0777)
    return simi_fail(c, n, "mode must be octal digits (e.g. 0440), got "
                           "\"%s\"", s);
  *out = (unsigned)v;
  return 0;
}

enum {
  HK_TYPE, HK_INDEX, HK_LABEL, HK_POWER_W, HK_RAMP, HK_START_UJ, HK_VALUE,
  HK_INPUT, HK_AVERAGE, HK_ENABLE, HK_SENTINEL, HK_SENTINEL_VALUE, HK_MODE,
};
static const char *const chan_keys[] = {
    "type",  "index",   "label",  "power_w",  "ramp",           "start_uj",
    "value", "input",   "average", "enable",  "sentinel", "sentinel_value",
    "mode",  NULL};

static int ramp_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  double *d = arg;
  return simi_get_number(c, v, key == 0 ? "to_w" : "over_s",
                         key == 0 ? 1000000.0 : 1e6, &d[key]);
}

static int chan_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  hw_chan_t *h = arg;
  uint64_t u = 0;
  double d = 0;
  char *s = NULL;
  switch (key) {
  case HK_TYPE:
    if (simi_get_string(c, v, "type", &s) != 0)
      return -1;
    for (int t = 0; t < HW_NTYPES; t++)
      if (strcmp(s, type_names[t]) == 0) {
        h->type = t;
        free(s);
        return 0;
      }
    free(s);
    return simi_fail(c, v, "type must be energy, power, in, curr or temp");
  case HK_INDEX:
    if (simi_get_uint(c, v, "index", 9999, &u) != 0)
      return -1;
    h->index = (unsigned)u;
    return 0;
  case HK_LABEL:
    if (simi_get_string(c, v, "label", &h->label) != 0)
      return -1;
    if (h->label[0] == '\0' || strlen(h->label) > 64 ||
        strchr(h->label, '\n') != NULL)
      return simi_fail(c, v, "label must have 1 to 64 characters, no "
                             "newline");
    return 0;
  case HK_POWER_W:
    if (simi_get_number(c, v, "power_w", 1000000.0, &d) != 0)
      return -1;
    h->p0 = (uint64_t)(d * 1e6 + 0.5);
    return 0;
  case HK_RAMP: {
    static const char *const ramp_keys[] = {"to_w", "over_s", NULL};
    double r[2] = {0, 0};
    uint32_t seen;
    if (simi_walk_mapping(c, v, "ramp", ramp_keys, ramp_pair, r, &seen) != 0)
      return -1;
    if (seen != 3u || r[1] <= 0)
      return simi_fail(c, v, "ramp needs to_w and over_s > 0");
    h->p1 = (uint64_t)(r[0] * 1e6 + 0.5);
    h->ramp_ns = (uint64_t)(r[1] * 1e9 + 0.5);
    return 0;
  }
  case HK_START_UJ:
    if (simi_get_uint(c, v, "start_uj", UINT64_MAX / 1000, &u) != 0)
      return -1;
    h->start_nj = u * 1000;
    return 0;
  case HK_VALUE:
    return simi_get_uint(c, v, "value", UINT64_MAX, &h->value);
  case HK_INPUT:
    return simi_get_bool(c, v, "input", &h->has_input);
  case HK_AVERAGE:
    return simi_get_bool(c, v, "average", &h->has_average);
  case HK_ENABLE:
    if (simi_get_uint(c, v, "enable", 1, &u) != 0)
      return -1;
    h->enable = (int)u;
    return 0;
  case HK_SENTINEL:
    return simi_get_bool(c, v, "sentinel", &h->sentinel);
  case HK_SENTINEL_VALUE:
    return simi_get_uint(c, v, "sentinel_value", UINT64_MAX,
                         &h->sentinel_value);
  case HK_MODE:
    return get_mode(c, v, &h->mode);
  }
  return -1;
}

enum { CHK_NAME, CHK_LAYOUT, CHK_DEVICE, CHK_MODE, CHK_FILES, CHK_CHANNELS };
static const char *const chip_keys[] = {"name", "layout", "device", "mode",
                                        "files", "channels", NULL};

typedef struct {
  sim_machine_t *m;
  hw_chip_t *chip;
  size_t chip_index;
  yaml_node_t *channels;
} chip_arg_t;

static int parse_channel(load_ctx_t *c, yaml_node_t *n, chip_arg_t *a) {
  struct sim_hwmon_state *hw = c->m->hw;
  hw_chan_t *nc = realloc(hw->ch, (hw->n_ch + 1) * sizeof(*nc));
  if (nc == NULL)
    return simi_fail(c, n, "out of memory");
  hw->ch = nc;
  hw_chan_t *h = &hw->ch[hw->n_ch++];
  memset(h, 0, sizeof(*h));
  h->chip = a->chip_index;
  h->enable = -1;
  h->has_input = -1;
  h->has_average = -1;
  h->mode = 01000; /* unset */
  h->input.fd = h->average.fd = -1;
  h->sentinel_value = UINT64_MAX;
  int64_t sv_unset = 1;
  uint32_t seen;
  if (simi_walk_mapping(c, n, "a channel", chan_keys, chan_pair, h, &seen) !=
      0)
    return -1;
  if (!(seen & (1u << HK_TYPE)) || !(seen & (1u << HK_INDEX)))
    return simi_fail(c, n, "a channel needs type and index");
  if (seen & (1u << HK_SENTINEL_VALUE))
    sv_unset = 0;
  if (sv_unset)
    h->sentinel_value = sentinel_default[h->type];
  int model = has_energy_model(h);
  if (!model && (seen & ((1u << HK_POWER_W) | (1u << HK_RAMP) |
                         (1u << HK_START_UJ))))
    return simi_fail(c, n, "power_w, ramp and start_uj are for energy and "
                           "power channels");
  if (model && !(seen & (1u << HK_POWER_W)))
    return simi_fail(c, n, "an %s channel needs power_w",
                     type_names[h->type]);
  if (model && (seen & (1u << HK_VALUE)))
    return simi_fail(c, n, "value is for in, curr and temp channels");
  if (h->type != HW_ENERGY && (seen & (1u << HK_START_UJ)))
    return simi_fail(c, n, "start_uj is for energy channels");
  if ((h->type == HW_ENERGY || h->type == HW_TEMP) &&
      (seen & (1u << HK_AVERAGE)))
    return simi_fail(c, n, "%s channels have no _average file",
                     type_names[h->type]);
  if (h->has_input < 0)
    h->has_input = h->has_average > 0 ? 0 : 1;
  if (h->has_average < 0)
    h->has_average = 0;
  if (!h->has_input && !h->has_average)
    return simi_fail(c, n, "a channel needs an _input or _average file");
  if (h->mode == 01000)
    h->mode = a->chip->mode;
  if (!(seen & (1u << HK_RAMP)))
    h->p1 = h->p0;
  if (asprintf(&h->name, "%s%u", type_names[h->type], h->index) < 0) {
    h->name = NULL;
    return simi_fail(c, n, "out of memory");
  }
  for (size_t k = 0; k + 1 < hw->n_ch; k++)
    if (hw->ch[k].chip == h->chip && strcmp(hw->ch[k].name, h->name) == 0)
      return simi_fail(c, n, "chip %s has two channels %s", a->chip->name,
                       h->name);
  chan_update(h, 0);
  return 0;
}

static int files_pair_all(load_ctx_t *c, hw_chip_t *chip, yaml_node_t *map) {
  if (simi_expect_type(c, map, YAML_MAPPING_NODE, "files") != 0)
    return -1;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k == NULL || v == NULL)
      return simi_fail(c, map, "broken document");
    char **e = realloc(chip->extra, (chip->n_extra + 1) * 2 * sizeof(*e));
    if (e == NULL)
      return simi_fail(c, map, "out of memory");
    chip->extra = e;
    e[2 * chip->n_extra] = e[2 * chip->n_extra + 1] = NULL;
    chip->n_extra++;
    if (simi_get_string(c, k, "a file name", &e[2 * chip->n_extra - 2]) != 0 ||
        simi_check_name(c, k, "a file name", e[2 * chip->n_extra - 2]) != 0 ||
        simi_get_string(c, v, "a file's content", &e[2 * chip->n_extra - 1]) !=
            0)
      return -1;
  }
  return 0;
}

static int chip_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  chip_arg_t *a = arg;
  hw_chip_t *chip = a->chip;
  char *s = NULL;
  switch (key) {
  case CHK_NAME:
    if (simi_get_string(c, v, "name", &chip->name) != 0)
      return -1;
    return simi_check_name(c, v, "name", chip->name);
  case CHK_LAYOUT:
    if (simi_get_string(c, v, "layout", &s) != 0)
      return -1;
    chip->acpi = strcmp(s, "acpi_power_meter") == 0;
    if (!chip->acpi && strcmp(s, "standard") != 0) {
      free(s);
      return simi_fail(c, v, "layout must be standard or acpi_power_meter");
    }
    free(s);
    return 0;
  case CHK_DEVICE:
    if (simi_get_string(c, v, "device", &chip->device) != 0)
      return -1;
    if (chip->device[0] == '\0' || chip->device[0] == '/' ||
        strstr(chip->device, "..") != NULL ||
        chip->device[strlen(chip->device) - 1] == '/')
      return simi_fail(c, v, "device must be a relative path under "
                             "sys/devices, without \"..\"");
    return 0;
  case CHK_MODE:
    return get_mode(c, v, &chip->mode);
  case CHK_FILES:
    return files_pair_all(c, chip, v);
  case CHK_CHANNELS:
    if (simi_expect_type(c, v, YAML_SEQUENCE_NODE, "channels") != 0)
      return -1;
    a->channels = v;
    return 0;
  }
  return -1;
}

int simi_sec_hwmon(load_ctx_t *c, yaml_node_t *v) {
  sim_machine_t *m = c->m;
  if (simi_expect_type(c, v, YAML_SEQUENCE_NODE, "hwmon") != 0)
    return -1;
  m->hw = calloc(1, sizeof(*m->hw));
  if (m->hw == NULL)
    return simi_fail(c, v, "out of memory");
  struct sim_hwmon_state *hw = m->hw;
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    yaml_node_t *n = yaml_document_get_node(c->doc, *it);
    if (n == NULL)
      return simi_fail(c, v, "broken document");
    hw_chip_t *nc = realloc(hw->chips, (hw->n_chips + 1) * sizeof(*nc));
    if (nc == NULL)
      return simi_fail(c, n, "out of memory");
    hw->chips = nc;
    hw_chip_t *chip = &hw->chips[hw->n_chips];
    memset(chip, 0, sizeof(*chip));
    chip->mode = 0444;
    snprintf(chip->hwmon, sizeof(chip->hwmon), "hwmon%zu", hw->n_chips);
    hw->n_chips++;
    chip_arg_t a = {m, chip, hw->n_chips - 1, NULL};
    uint32_t seen;
    if (simi_walk_mapping(c, n, "a hwmon chip", chip_keys, chip_pair, &a,
                          &seen) != 0)
      return -1;
    if (!(seen & (1u << CHK_NAME)))
      return simi_fail(c, n, "a hwmon chip needs a name");
    if (chip->device == NULL &&
        (chip->acpi ? asprintf(&chip->device, "LNXSYSTM:00/LNXSYBUS:00/"
                                              "ACPI000D:%02zu",
                               hw->n_chips - 1)
                    : asprintf(&chip->device, "platform/sim-hwmon.%zu",
                               hw->n_chips - 1)) < 0) {
      chip->device = NULL;
      return simi_fail(c, n, "out of memory");
    }
    if (a.channels != NULL)
      for (yaml_node_item_t *ci = a.channels->data.sequence.items.start;
           ci < a.channels->data.sequence.items.top; ci++) {
        yaml_node_t *cn = yaml_document_get_node(c->doc, *ci);
        if (cn == NULL)
          return simi_fail(c, a.channels, "broken document");
        if (parse_channel(c, cn, &a) != 0)
          return -1;
      }
  }
  return 0;
}

/* ---- the tree ------------------------------------------------------------ */

static int file_write(hw_file_t *f, uint64_t v, int force) {
  if (f->fd < 0 || (!force && f->valid && f->written == v))
    return 0;
  char buf[32];
  int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
  int r = simi_write_all_at(f->fd, buf, (size_t)len);
  if (r != 0)
    return r;
  if (ftruncate(f->fd, (off_t)len) != 0)
    return -errno;
  f->written = v;
  f->valid = 1;
  return 0;
}

static int open_value(sim_machine_t *m, const char *dir, const char *name,
                      const char *suffix, hw_file_t *f, uint64_t v,
                      unsigned mode) {
  char *path;
  if (asprintf(&path, "%s/%s_%s", dir, name, suffix) < 0)
    return simi_build_fail(m, ENOMEM, "%s/%s_%s", dir, name, suffix);
  int r = 0;
  f->fd = simi_open_for_write(path, O_TRUNC);
  f->valid = 0;
  if (f->fd < 0)
    r = simi_build_fail(m, errno, "cannot create %s", path);
  else if ((r = file_write(f, v, 1)) != 0)
    r = simi_build_fail(m, -r, "cannot write %s", path);
  else if (fchmod(f->fd, (mode_t)mode) != 0)
    r = simi_build_fail(m, errno, "cannot chmod %s", path);
  free(path);
  return r;
}

static int write_enable(sim_machine_t *m, const hw_chip_t *chip,
                        const hw_chan_t *h) {
  char fname[48];
  snprintf(fname, sizeof(fname), "%s_enable", h->name);
  return simi_write_file(m, chip->attr_dir, fname, h->enable ? "1\n" : "0\n",
                         0644);
}

static int build_chip(sim_machine_t *m, size_t k) {
  struct sim_hwmon_state *hw = m->hw;
  hw_chip_t *chip = &hw->chips[k];
  char *devdir = NULL, *hwdir = NULL, *t = NULL, *link = NULL;
  int r;
  if (asprintf(&devdir, "%s/sys/devices/%s", m->root, chip->device) < 0)
    return simi_build_fail(m, ENOMEM, "%s", chip->device);
  if ((r = simi_make_dir_p(m, devdir)) != 0)
    goto out;
  if (asprintf(&hwdir, "%s/hwmon/%s", devdir, chip->hwmon) < 0) {
    hwdir = NULL;
    r = simi_build_fail(m, ENOMEM, "%s", chip->hwmon);
    goto out;
  }
  if ((r = simi_make_dir_p(m, hwdir)) != 0)
    goto out;
  /* hwmonN/device -> ../../../<device's last component>, as sysfs writes */
  const char *base = strrchr(chip->device, '/');
  base = base != NULL ? base + 1 : chip->device;
  if ((t = simi_updirs(3, base)) == NULL ||
      (r = simi_link_in(m, hwdir, "device", t)) != 0) {
    if (t == NULL)
      r = simi_build_fail(m, ENOMEM, "%s/device", hwdir);
    goto out;
  }
  free(t);
  /* hwmonN/subsystem -> ../(devices + device + hwmon + hwmonN)class/hwmon */
  if ((t = simi_updirs(3 + simi_path_depth(chip->device), "class/hwmon")) ==
          NULL ||
      (r = simi_link_in(m, hwdir, "subsystem", t)) != 0) {
    if (t == NULL)
      r = simi_build_fail(m, ENOMEM, "%s/subsystem", hwdir);
    goto out;
  }
  free(t);
  t = NULL;
  if (asprintf(&t, "../../devices/%s/hwmon/%s", chip->device, chip->hwmon) <
          0 ||
      asprintf(&link, "%s/sys/class/hwmon/%s", m->root, chip->hwmon) < 0) {
    r = simi_build_fail(m, ENOMEM, "%s", chip->hwmon);
    goto out;
  }
  if ((r = simi_make_link(m, t, link)) != 0)
    goto out;
  free(chip->attr_dir);
  chip->attr_dir = strdup(chip->acpi ? devdir : hwdir);
  if (chip->attr_dir == NULL) {
    r = simi_build_fail(m, ENOMEM, "%s", chip->hwmon);
    goto out;
  }
  char *content;
  if (asprintf(&content, "%s\n", chip->name) < 0) {
    r = simi_build_fail(m, ENOMEM, "%s/name", chip->attr_dir);
    goto out;
  }
  r = simi_write_file(m, chip->attr_dir, "name", content, 0444);
  free(content);
  for (size_t i = 0; i < chip->n_extra && r == 0; i++) {
    if (asprintf(&content, "%s\n", chip->extra[2 * i + 1]) < 0) {
      r = simi_build_fail(m, ENOMEM, "%s", chip->extra[2 * i]);
      break;
    }
    r = simi_write_file(m, chip->attr_dir, chip->extra[2 * i], content, 0444);
    free(content);
  }
  for (size_t i = 0; i < hw->n_ch && r == 0; i++) {
    hw_chan_t *h = &hw->ch[i];
    if (h->chip != k)
      continue;
    uint64_t v = chan_shown(m, h);
    if (h->has_input)
      r = open_value(m, chip->attr_dir, h->name, "input", &h->input, v,
                     h->mode);
    if (r == 0 && h->has_average)
      r = open_value(m, chip->attr_dir, h->name, "average", &h->average, v,
                     h->mode);
    if (r == 0 && h->label != NULL) {
      char fname[48];
      snprintf(fname, sizeof(fname), "%s_label", h->name);
      if (asprintf(&content, "%s\n", h->label) < 0) {
        r = simi_build_fail(m, ENOMEM, "%s", fname);
        break;
      }
      r = simi_write_file(m, chip->attr_dir, fname, content, 0444);
      free(content);
    }
    if (r == 0 && h->enable >= 0)
      r = write_enable(m, chip, h);
  }
out:
  free(devdir);
  free(hwdir);
  free(t);
  free(link);
  return r;
}

int simi_build_hwmon(sim_machine_t *m) {
  static const char *const dirs[] = {"sys", "sys/class", "sys/class/hwmon",
                                     "sys/devices"};
  if (m->hw == NULL)
    return 0;
  int r = simi_make_dirs(m, dirs, sizeof(dirs) / sizeof(dirs[0]));
  for (size_t k = 0; k < m->hw->n_chips && r == 0; k++)
    r = build_chip(m, k);
  return r;
}

void simi_hwmon_advance(sim_machine_t *m) {
  if (m->hw == NULL)
    return;
  for (size_t i = 0; i < m->hw->n_ch; i++)
    if (has_energy_model(&m->hw->ch[i]))
      chan_update(&m->hw->ch[i], m->elapsed_ns);
}

int simi_hwmon_write_all(sim_machine_t *m, int force) {
  if (m->hw == NULL)
    return 0;
  int first = 0;
  for (size_t i = 0; i < m->hw->n_ch; i++) {
    hw_chan_t *h = &m->hw->ch[i];
    uint64_t v = chan_shown(m, h);
    int r = file_write(&h->input, v, force);
    if (r == 0)
      r = file_write(&h->average, v, force);
    if (r != 0 && first == 0)
      first = r;
  }
  return first;
}

void simi_hwmon_close(sim_machine_t *m) {
  if (m->hw == NULL)
    return;
  for (size_t i = 0; i < m->hw->n_ch; i++) {
    hw_chan_t *h = &m->hw->ch[i];
    hw_file_t *f[2] = {&h->input, &h->average};
    for (int j = 0; j < 2; j++) {
      if (f[j]->fd >= 0)
        close(f[j]->fd);
      f[j]->fd = -1;
      f[j]->valid = 0;
    }
  }
  for (size_t k = 0; k < m->hw->n_chips; k++) {
    free(m->hw->chips[k].attr_dir);
    m->hw->chips[k].attr_dir = NULL;
  }
}

void simi_hwmon_free(sim_machine_t *m) {
  if (m->hw == NULL)
    return;
  simi_hwmon_close(m);
  for (size_t i = 0; i < m->hw->n_ch; i++) {
    free(m->hw->ch[i].name);
    free(m->hw->ch[i].label);
  }
  for (size_t k = 0; k < m->hw->n_chips; k++) {
    hw_chip_t *chip = &m->hw->chips[k];
    free(chip->name);
    free(chip->device);
    for (size_t i = 0; i < 2 * chip->n_extra; i++)
      free(chip->extra[i]);
    free(chip->extra);
  }
  free(m->hw->ch);
  free(m->hw->chips);
  free(m->hw);
  m->hw = NULL;
}

/* ---- the public interface ------------------------------------------------ */

static hw_chan_t *chan(const sim_machine_t *m, size_t ch) {
  return m != NULL && m->hw != NULL && ch < m->hw->n_ch ? &m->hw->ch[ch]
                                                         : NULL;
}
static const hw_chip_t *chip_at(const sim_machine_t *m, size_t chip) {
  return m != NULL && m->hw != NULL && chip < m->hw->n_chips
             ? &m->hw->chips[chip]
             : NULL;
}

size_t sim_hwmon_chip_count(const sim_machine_t *m) {
  return m != NULL && m->hw != NULL ? m->hw->n_chips : 0;
}
const char *sim_hwmon_chip_name(const sim_machine_t *m, size_t chip) {
  const hw_chip_t *c = chip_at(m, chip);
  return c != NULL ? c->name : NULL;
}
const char *sim_hwmon_chip_hwmon(const sim_machine_t *m, size_t chip) {
  const hw_chip_t *c = chip_at(m, chip);
  return c != NULL ? c->hwmon : NULL;
}
const char *sim_hwmon_chip_attr_dir(const sim_machine_t *m, size_t chip) {
  const hw_chip_t *c = chip_at(m, chip);
  return c != NULL ? c->attr_dir : NULL;
}
size_t sim_hwmon_channel_count(const sim_machine_t *m) {
  return m != NULL && m->hw != NULL ? m->hw->n_ch : 0;
}
int sim_hwmon_find(const sim_machine_t *m, const char *hwmon,
                   const char *channel, size_t *ch) {
  for (size_t i = 0; hwmon != NULL && channel != NULL &&
                     i < sim_hwmon_channel_count(m); i++)
    if (strcmp(m->hw->chips[m->hw->ch[i].chip].hwmon, hwmon) == 0 &&
        strcmp(m->hw->ch[i].name, channel) == 0) {
      if (ch != NULL)
        *ch = i;
      return 0;
    }
  return -ENOENT;
}
size_t sim_hwmon_channel_chip(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL ? h->chip : (size_t)-1;
}
const char *sim_hwmon_channel_name(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL ? h->name : NULL;
}
const char *sim_hwmon_channel_label(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL ? h->label : NULL;
}
uint64_t sim_hwmon_power_uw(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL && has_energy_model(h) ? chan_power(h, m->elapsed_ns) : 0;
}
uint64_t sim_hwmon_truth_nj(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL ? h->delivered_nj : 0;
}
uint64_t sim_hwmon_energy_uj(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL && h->type == HW_ENERGY
             ? (h->start_nj + h->delivered_nj) / 1000
             : 0;
}
uint64_t sim_hwmon_value(const sim_machine_t *m, size_t ch) {
  const hw_chan_t *h = chan(m, ch);
  return h != NULL ? chan_shown(m, h) : 0;
}

/* Rewrite the channel's value files after a change. */
static int rewrite(sim_machine_t *m, hw_chan_t *h) {
  m->build_err[0] = '\0';
  uint64_t v = chan_shown(m, h);
  int r = file_write(&h->input, v, 0);
  if (r == 0)
    r = file_write(&h->average, v, 0);
  return r != 0 ? simi_build_fail(m, -r, "cannot rewrite %s", h->name) : 0;
}

int sim_hwmon_set_power_uw(sim_machine_t *m, size_t ch, uint64_t power_uw) {
  hw_chan_t *h = chan(m, ch);
  if (h == NULL || !has_energy_model(h))
    return -EINVAL;
  chan_rebase(h, m->elapsed_ns);
  h->p0 = h->p1 = power_uw;
  return rewrite(m, h);
}
int sim_hwmon_ramp(sim_machine_t *m, size_t ch, uint64_t to_uw,
                   uint64_t over_ns) {
  hw_chan_t *h = chan(m, ch);
  if (h == NULL || !has_energy_model(h) || over_ns == 0)
    return -EINVAL;
  chan_rebase(h, m->elapsed_ns);
  h->p1 = to_uw;
  h->ramp_ns = over_ns;
  return rewrite(m, h);
}
int sim_hwmon_set_value(sim_machine_t *m, size_t ch, uint64_t value) {
  hw_chan_t *h = chan(m, ch);
  if (h == NULL || has_energy_model(h))
    return -EINVAL;
  h->value = value;
  return rewrite(m, h);
}
int sim_hwmon_set_sentinel(sim_machine_t *m, size_t ch, int on) {
  hw_chan_t *h = chan(m, ch);
  if (h == NULL)
    return -EINVAL;
  h->sentinel = on != 0;
  return rewrite(m, h);
}
int sim_hwmon_set_enable(sim_machine_t *m, size_t ch, int on) {
  hw_chan_t *h = chan(m, ch);
  if (h == NULL)
    return -EINVAL;
  h->enable = on != 0;
  const hw_chip_t *chip = &m->hw->chips[h->chip];
  m->build_err[0] = '\0';
  return chip->attr_dir != NULL ? write_enable(m, chip, h) : 0;
}
