/* kepler_config.c - see kepler_config.h.
 *
 * libyaml's document API: the whole file becomes a node tree (aliases are
 * references to nodes, never copies), then the few keys we know are
 * looked up at fixed depths. Every message starts "name:line:column: ",
 * counted from 1 (libyaml's marks count from 0).
 */
#include "kepler_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "domain.h"

typedef struct {
  const char *name; /* the file, in messages */
  yaml_document_t *doc;
  rapl_options_t options; /* a copy: committed only when all is well */
  unsigned set;
  char *err;
  size_t err_len;
} reader_t;

__attribute__((format(printf, 3, 4))) static int
fail_at(reader_t *r, yaml_mark_t mark, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  /* clang-analyzer 14 misreads va_start here (valist.Uninitialized) */
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(r->err, r->err_len, "%s:%zu:%zu: %s", r->name, mark.line + 1,
           mark.column + 1, what);
  return -EINVAL;
}

/* ---- scalars ------------------------------------------------------------ */

typedef enum { PLAIN_NULL, PLAIN_BOOL, PLAIN_NUMBER, PLAIN_STRING } plain_t;

static const char *scalar(const yaml_node_t *node) {
  return (const char *)node->data.scalar.value;
}

static bool is_plain(const yaml_node_t *node) {
  return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
         node->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

static bool one_of(const char *s, const char *const *words, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, words[i]) == 0)
      return true;
  return false;
}

static const char *const true_words[] = {"true", "True", "TRUE"};
static const char *const false_words[] = {"false", "False", "FALSE"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What a scalar is in YAML 1.2's core schema (quoted: always a string). */
static plain_t classify(const yaml_node_t *node) {
  if (!is_plain(node))
    return PLAIN_STRING;
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  const char *s = scalar(node);
  if (one_of(s, nulls, COUNT(nulls)))
    return PLAIN_NULL;
  if (one_of(s, true_words, COUNT(true_words)) ||
      one_of(s, false_words, COUNT(false_words)))
    return PLAIN_BOOL;
  /* [-+]digits[.digits][e[-+]digits], 0x..., 0o..., .inf, .nan */
  const char *p = s + (*s == '-' || *s == '+');
  if (strncmp(p, "0x", 2) == 0 || strncmp(p, "0o", 2) == 0)
    p += 2;
  if (strcasecmp(p, ".inf") == 0 || strcasecmp(p, ".nan") == 0)
    return PLAIN_NUMBER;
  size_t digits = strspn(p, "0123456789abcdefABCDEF._eE+-");
  if (p[0] >= '0' && p[0] <= '9' && p[digits] == '\0')
    return PLAIN_NUMBER;
  if (p[0] == '.' && p[1] >= '0' && p[1] <= '9' && p[digits] == '\0')
    return PLAIN_NUMBER;
  return PLAIN_STRING;
}

static bool is_null(const yaml_node_t *node) {
  return node->type == YAML_SCALAR_NODE && classify(node) == PLAIN_NULL;
}

/* "a mapping", "the number 5", "the string \"yes\"" (cut at 64 bytes) */
static const char *describe(const yaml_node_t *node, char *buf, size_t len) {
  switch (node->type) {
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_SCALAR_NODE:
    break;
  default:
    return "nothing";
  }
  const char *s = scalar(node);
  bool cut = strlen(s) > 64;
  switch (classify(node)) {
  case PLAIN_NULL:
    return "null";
  case PLAIN_BOOL:
    snprintf(buf, len, "the boolean %s", s);
    break;
  case PLAIN_NUMBER:
    snprintf(buf, len, "the number %.64s%s", s, cut ? "..." : "");
    break;
  case PLAIN_STRING:
    snprintf(buf, len, "the string \"%.64s%s\"", s, cut ? "..." : "");
    break;
  }
  return buf;
}

static int wrong_type(reader_t *r, const yaml_node_t *node, const char *key,
                      const char *expected) {
  char buf[128];
  return fail_at(r, node->start_mark, "%s: expected %s, got %s", key, expected,
                 describe(node, buf, sizeof(buf)));
}

/* A string scalar (not a boolean, number or null) without NUL bytes, or
 * NULL after an error. */
static const char *get_string(reader_t *r, const yaml_node_t *node,
                              const char *key, const char *expected) {
  if (node->type != YAML_SCALAR_NODE || classify(node) != PLAIN_STRING) {
    (void)wrong_type(r, node, key, expected);
    return NULL;
  }
  if (strlen(scalar(node)) != node->data.scalar.length) {
    (void)fail_at(r, node->start_mark, "%s: the string contains a NUL byte",
                  key);
    return NULL;
  }
  return scalar(node);
}

static int get_path(reader_t *r, const yaml_node_t *node, const char *key,
                    char *slot, unsigned field) {
  const char *value = get_string(r, node, key, "a string (an absolute path)");
  if (value == NULL)
    return -EINVAL;
  char msg[512];
  if (rapl_options_set_path(slot, key, value, msg, sizeof(msg)) != 0)
    return fail_at(r, node->start_mark, "%s", msg);
  r->set |= field;
  return 0;
}

static int get_bool(reader_t *r, const yaml_node_t *node, const char *key,
                    bool *slot, unsigned field) {
  if (node->type != YAML_SCALAR_NODE || classify(node) != PLAIN_BOOL) {
    char buf[128];
    bool quoted = node->type == YAML_SCALAR_NODE && !is_plain(node) &&
                  (one_of(scalar(node), true_words, COUNT(true_words)) ||
                   one_of(scalar(node), false_words, COUNT(false_words)));
    return fail_at(r, node->start_mark,
                   "%s: expected a boolean (true or false), got %s%s", key,
                   describe(node, buf, sizeof(buf)),
                   quoted ? " (quoted: a string, not a boolean)" : "");
  }
  *slot = one_of(scalar(node), true_words, COUNT(true_words));
  r->set |= field;
  return 0;
}

/* ---- structure ---------------------------------------------------------- */

/* The value of `key` in mapping `map`, NULL when absent or null. Keys are
 * case-sensitive, as in Kepler; a repeated key: the last one counts. */
static yaml_node_t *lookup(reader_t *r, const yaml_node_t *map,
                           const char *key) {
  yaml_node_t *found = NULL;
  for (const yaml_node_pair_t *pair = map->data.mapping.pairs.start;
       pair < map->data.mapping.pairs.top; pair++) {
    const yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
    if (k != NULL && k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
      found = yaml_document_get_node(r->doc, pair->value);
  }
  return found != NULL && !is_null(found) ? found : NULL;
}

/* The mapping `key` of `map` (NULL when absent or null; -EINVAL in *status
 * when it is something else). */
static yaml_node_t *section(reader_t *r, const yaml_node_t *map,
                            const char *key, const char *name, int *status) {
  yaml_node_t *node = lookup(r, map, key);
  if (node != NULL && node->type != YAML_MAPPING_NODE) {
    *status = wrong_type(r, node, name, "a mapping");
    return NULL;
  }
  return node;
}

static int read_zones(reader_t *r, const yaml_node_t *node) {
  static const char expected[] =
      "a list of domains (package, core, uncore, dram, psys)";
  if (node->type != YAML_SEQUENCE_NODE)
    return wrong_type(r, node, "rapl.zones", expected);
  bool wanted[RAPL_DOMAIN_COUNT] = {false};
  bool empty = true;
  for (const yaml_node_item_t *item = node->data.sequence.items.start;
       item < node->data.sequence.items.top; item++) {
    const yaml_node_t *zone = yaml_document_get_node(r->doc, *item);
    const char *name =
        zone != NULL ? get_string(r, zone, "rapl.zones", "a domain name") : NULL;
    if (name == NULL)
      return -EINVAL;
    enum rapl_domain domain;
    if (!rapl_domain_from_name(name, &domain))
      return fail_at(r, zone->start_mark,
                     "rapl.zones: unknown domain \"%.64s\" (expected package, "
                     "core, uncore, dram or psys)",
                     name);
    wanted[domain] = true;
    empty = false;
  }
  /* [] is every zone, as in Kepler */
  for (unsigned d = 0; d < RAPL_DOMAIN_COUNT; d++)
    r->options.domain_wanted[d] = empty || wanted[d];
  r->set |= RAPL_OPT_ZONES;
  return 0;
}

static int read_meters(reader_t *r, const yaml_node_t *node) {
  static const char key[] = "cpu.preferredMeters";
  if (node->type != YAML_SEQUENCE_NODE)
    return wrong_type(r, node, key,
                      "a list of meters (rapl, powercap, msr, hwmon)");
  rapl_source_kind_t order[RAPL_SOURCE_COUNT];
  size_t n = 0;
  bool named[RAPL_SOURCE_COUNT] = {false}; /* listed by name */
  bool in[RAPL_SOURCE_COUNT] = {false};    /* in order[] */
  for (const yaml_node_item_t *item = node->data.sequence.items.start;
       item < node->data.sequence.items.top; item++) {
    const yaml_node_t *meter = yaml_document_get_node(r->doc, *item);
    const char *name =
        meter != NULL ? get_string(r, meter, key, "a meter name") : NULL;
    if (name == NULL)
      return -EINVAL;
    /* rapl: powercap, then msr as its fallback (still only when enabled) */
    rapl_source_kind_t kinds[2];
    size_t nk = 0;
    if (strcasecmp(name, "rapl") == 0) {
      kinds[nk++] = RAPL_SOURCE_POWERCAP;
      kinds[nk++] = RAPL_SOURCE_MSR;
    } else {
      for (unsigned k = 0; k < RAPL_SOURCE_COUNT && nk == 0; k++)
        if (strcasecmp(name, rapl_source_kind_name((rapl_source_kind_t)k)) == 0)
          kinds[nk++] = (rapl_source_kind_t)k;
      if (nk == 0)
        return fail_at(r, meter->start_mark,
                       "%s: unknown meter \"%.64s\" (expected rapl, powercap, "
                       "msr or hwmon)",
                       key, name);
    }
    /* the first kind is named outright; rapl's msr only implied */
    for (size_t i = 0; i < nk; i++) {
      rapl_source_kind_t k = kinds[i];
      if (i == 0) {
        if (named[k])
          return fail_at(r, meter->start_mark, "%s: \"%s\" is listed twice",
                         key, rapl_source_kind_name(k));
        named[k] = true;
      }
      if (!in[k]) {
        in[k] = true;
        order[n++] = k;
      }
    }
  }
  if (n == 0) /* [] is the default order */
    return 0;
  memcpy(r->options.sources, order, n * sizeof(order[0]));
  r->options.source_count = n;
  r->set |= RAPL_OPT_SOURCES;
  return 0;
}

/* msr.devicePath: a directory of <cpu>/msr, or Kepler's "<dir>/%d/msr". */
static int read_device_path(reader_t *r, const yaml_node_t *node,
                            const char *key) {
  const char *value = get_string(r, node, key, "a string (an absolute path)");
  if (value == NULL)
    return -EINVAL;
  static const char suffix[] = "/%d/msr";
  size_t len = strlen(value), slen = sizeof(suffix) - 1;
  char dir[PATH_MAX];
  if (len >= slen && strcmp(value + len - slen, suffix) == 0) {
    if (len - slen >= sizeof(dir))
      return fail_at(r, node->start_mark, "%s: path is longer than %d bytes",
                     key, PATH_MAX - 1);
    memcpy(dir, value, len - slen);
    dir[len - slen] = '\0';
    if (dir[0] == '\0') /* "/%d/msr": the root */
      snprintf(dir, sizeof(dir), "/");
    value = dir;
  }
  if (strchr(value, '%') != NULL)
    return fail_at(r, node->start_mark,
                   "%s: expected a directory or a path ending in /%%d/msr, "
                   "got \"%.128s\"",
                   key, scalar(node));
  char msg[512];
  if (rapl_options_set_path(r->options.msr_device_path, key, value, msg,
                            sizeof(msg)) != 0)
    return fail_at(r, node->start_mark, "%s", msg);
  r->set |= RAPL_OPT_MSR_DEVICE_PATH;
  return 0;
}

/* {enabled, force, devicePath} under `prefix` ("msr", "device.msr") */
static int read_msr(reader_t *r, const yaml_node_t *msr, const char *prefix) {
  char key[64];
  const yaml_node_t *node;
  int status = 0;
  if ((node = lookup(r, msr, "enabled")) != NULL) {
    snprintf(key, sizeof(key), "%s.enabled", prefix);
    status = get_bool(r, node, key, &r->options.msr_enabled,
                      RAPL_OPT_MSR_ENABLED);
  }
  if (status == 0 && (node = lookup(r, msr, "force")) != NULL) {
    snprintf(key, sizeof(key), "%s.force", prefix);
    status = get_bool(r, node, key, &r->options.msr_force, RAPL_OPT_MSR_FORCE);
  }
  if (status == 0 && (node = lookup(r, msr, "devicePath")) != NULL) {
    snprintf(key, sizeof(key), "%s.devicePath", prefix);
    status = read_device_path(r, node, key);
  }
  return status;
}

static int read_root(reader_t *r, const yaml_node_t *root) {
  if (root->type != YAML_MAPPING_NODE) {
    char buf[128];
    return fail_at(r, root->start_mark,
                   "expected a mapping of Kepler settings (host, rapl, cpu, "
                   "msr, ...), got %s",
                   describe(root, buf, sizeof(buf)));
  }
  int status = 0;
  const yaml_node_t *sec, *node;
  if ((sec = section(r, root, "host", "host", &status)) != NULL) {
    if ((node = lookup(r, sec, "sysfs")) != NULL &&
        get_path(r, node, "host.sysfs", r->options.sysfs_path,
                 RAPL_OPT_SYSFS_PATH) != 0)
      return -EINVAL;
    if ((node = lookup(r, sec, "procfs")) != NULL &&
        get_path(r, node, "host.procfs", r->options.procfs_path,
                 RAPL_OPT_PROCFS_PATH) != 0)
      return -EINVAL;
  }
  if (status != 0)
    return status;
  if ((sec = section(r, root, "rapl", "rapl", &status)) != NULL &&
      (node = lookup(r, sec, "zones")) != NULL && read_zones(r, node) != 0)
    return -EINVAL;
  if (status != 0)
    return status;
  if ((sec = section(r, root, "cpu", "cpu", &status)) != NULL &&
      (node = lookup(r, sec, "preferredMeters")) != NULL &&
      read_meters(r, node) != 0)
    return -EINVAL;
  if (status != 0)
    return status;
  /* both forms; where a file has both, the later in the file wins */
  const yaml_node_t *device = section(r, root, "device", "device", &status);
  if (status != 0)
    return status;
  const yaml_node_t *dmsr =
      device != NULL ? section(r, device, "msr", "device.msr", &status) : NULL;
  if (status != 0)
    return status;
  const yaml_node_t *msr = section(r, root, "msr", "msr", &status);
  if (status != 0)
    return status;
  struct {
    const yaml_node_t *node;
    const char *prefix;
  } forms[2] = {{dmsr, "device.msr"}, {msr, "msr"}};
  if (dmsr != NULL && msr != NULL &&
      msr->start_mark.index < device->start_mark.index) {
    forms[0].node = msr;
    forms[0].prefix = "msr";
    forms[1].node = dmsr;
    forms[1].prefix = "device.msr";
  }
  for (size_t i = 0; i < 2; i++)
    if (forms[i].node != NULL && read_msr(r, forms[i].node, forms[i].prefix) != 0)
      return -EINVAL;
  return 0;
}

static int syntax_error(reader_t *r, const yaml_parser_t *parser) {
  const char *problem = parser->problem ? parser->problem : "unknown problem";
  if (parser->context != NULL)
    return fail_at(r, parser->problem_mark,
                   "YAML syntax error: %s (%s at %zu:%zu)", problem,
                   parser->context, parser->context_mark.line + 1,
                   parser->context_mark.column + 1);
  return fail_at(r, parser->problem_mark, "YAML syntax error: %s", problem);
}

int rapl_kepler_config_parse(const char *name, const char *text, size_t len,
                             rapl_options_t *options, unsigned *set, char *err,
                             size_t err_len) {
  reader_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    snprintf(err, err_len, "%s: out of memory", name);
    return -ENOMEM;
  }
  r->name = name;
  r->options = *options;
  r->err = err;
  r->err_len = err_len;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    snprintf(err, err_len, "%s: out of memory", name);
    free(r);
    return -ENOMEM;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  yaml_document_t doc;
  int status = 0;
  if (!yaml_parser_load(&parser, &doc)) {
    status = syntax_error(r, &parser);
  } else {
    r->doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL && !is_null(root))
      status = read_root(r, root);
    /* anything after the first document is a mistake, and its syntax
     * errors are errors too */
    yaml_document_t next;
    if (status == 0) {
      if (!yaml_parser_load(&parser, &next)) {
        status = syntax_error(r, &parser);
      } else {
        const yaml_node_t *extra = yaml_document_get_root_node(&next);
        if (extra != NULL)
          status = fail_at(r, extra->start_mark,
                           "expected one YAML document, found a second");
        yaml_document_delete(&next);
      }
    }
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  if (status == 0) {
    *options = r->options;
    *set = r->set;
  }
  free(r);
  return status;
}

int rapl_kepler_config_load(const char *path, rapl_options_t *options,
                            unsigned *set, char *err, size_t err_len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == EACCES)
      snprintf(err, err_len,
               "%s: cannot read: %s (the plugin runs as uid %u and needs "
               "read access to the file and search access to its directories)",
               path, strerror(e), (unsigned)geteuid());
    else
      snprintf(err, err_len, "%s: cannot read: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  int status = 0;
  if (fstat(fd, &st) != 0)
    status = -errno;
  else if (S_ISDIR(st.st_mode))
    status = -EISDIR;
  else if (!S_ISREG(st.st_mode))
    status = -EINVAL;
  else if (st.st_size > RAPL_KEPLER_CONFIG_MAX_BYTES)
    status = -EFBIG;
  if (status != 0) {
    if (status == -EFBIG)
      snprintf(err, err_len,
               "%s: cannot read: larger than %ld bytes (not a Kepler "
               "configuration)",
               path, RAPL_KEPLER_CONFIG_MAX_BYTES);
    else if (status == -EINVAL)
      snprintf(err, err_len, "%s: cannot read: not a regular file", path);
    else
      snprintf(err, err_len, "%s: cannot read: %s", path, strerror(-status));
    close(fd);
    return status;
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *text = malloc(cap);
  if (text == NULL) {
    close(fd);
    snprintf(err, err_len, "%s: out of memory", path);
    return -ENOMEM;
  }
  for (;;) {
    ssize_t got = read(fd, text + len, cap - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      status = -errno;
      snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
      break;
    }
    if (got == 0)
      break;
    len += (size_t)got;
    if (len == cap) { /* grew since fstat */
      status = -EFBIG;
      snprintf(err, err_len, "%s: cannot read: the file is changing", path);
      break;
    }
  }
  close(fd);
  if (status == 0)
    status = rapl_kepler_config_parse(path, text, len, options, set, err,
                                      err_len);
  free(text);
  return status;
}
