/*
 * sim_yaml.c - loading the YAML machine description: the generic
 * helpers (typed scalars, mappings with known keys, file:line:column errors),
 * the table of top-level sections and the loader.  Each section's own keys
 * are parsed next to what it simulates (sim_powercap.c, sim_cpu.c,
 * sim_msr.c, ...)
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) int
simi_fail(load_ctx_t *c, const yaml_node_t *node, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->err != NULL && c->err_len > 0) {
    if (node != NULL)
      snprintf(c->err, c->err_len, "%s:%zu:%zu: %s", c->file,
               (size_t)node->start_mark.line + 1,
               (size_t)node->start_mark.column + 1, msg);
    else
      snprintf(c->err, c->err_len, "%s: %s", c->file, msg);
  }
  return -1;
}

/* The same for a place remembered as 1-based line and column. */
__attribute__((format(printf, 4, 5))) int
simi_fail_at(load_ctx_t *c, size_t line, size_t col, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->err != NULL && c->err_len > 0)
    snprintf(c->err, c->err_len, "%s:%zu:%zu: %s", c->file, line, col, msg);
  return -1;
}

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE:
    return "a scalar";
  case YAML_SEQUENCE_NODE:
    return "a sequence";
  case YAML_MAPPING_NODE:
    return "a mapping";
  default:
    return "nothing";
  }
}

int simi_expect_type(load_ctx_t *c, const yaml_node_t *n,
                       yaml_node_type_t type, const char *what) {
  static const char *names[] = {"nothing", "a scalar", "a sequence",
                                "a mapping"};
  if (n->type == type)
    return 0;
  return simi_fail(c, n, "%s must be %s, not %s", what, names[type], node_kind(n));
}

int simi_get_string(load_ctx_t *c, const yaml_node_t *n, const char *what,
                      char **out) {
  if (simi_expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  if (strlen(simi_scalar(n)) != n->data.scalar.length)
    return simi_fail(c, n, "%s contains a NUL character", what);
  char *s = strdup(simi_scalar(n));
  if (s == NULL)
    return simi_fail(c, n, "out of memory");
  free(*out);
  *out = s;
  return 0;
}

/* A zone or constraint name becomes file content and, for zones, is shown
 * by tools: keep it short and printable. */
int simi_check_name(load_ctx_t *c, const yaml_node_t *n, const char *what,
                      const char *s) {
  size_t len = strlen(s);
  if (len == 0)
    return simi_fail(c, n, "%s must not be empty", what);
  if (len > SIM_MAX_NAME)
    return simi_fail(c, n, "%s is longer than %d characters", what, SIM_MAX_NAME);
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '/' || (unsigned char)*p >= 0x7f)
      return simi_fail(c, n, "%s \"%s\" has a character that is not allowed "
                        "(space, '/', control or non-ASCII)", what, s);
  return 0;
}

/* Unsigned integer: plain scalar, decimal or 0x-hexadecimal. */
int simi_get_uint(load_ctx_t *c, const yaml_node_t *n, const char *what,
                    uint64_t max, uint64_t *out) {
  if (simi_expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  const char *s = simi_scalar(n);
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return simi_fail(c, n, "%s must be an unsigned integer, not a quoted string",
                what);
  int base = 10;
  const char *p = s;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p += 2;
  }
  if (*p == '\0')
    return simi_fail(c, n, "%s must be an unsigned integer, got \"%s\"", what, s);
  uint64_t v = 0;
  for (; *p; p++) {
    unsigned d;
    if (*p >= '0' && *p <= '9')
      d = (unsigned)(*p - '0');
    else if (base == 16 && *p >= 'a' && *p <= 'f')
      d = (unsigned)(*p - 'a' + 10);
    else if (base == 16 && *p >= 'A' && *p <= 'F')
      d = (unsigned)(*p - 'A' + 10);
    else
      return simi_fail(c, n, "%s must be an unsigned integer, got \"%s\"", what, s);
    if (v > (UINT64_MAX - d) / (uint64_t)base)
      return simi_fail(c, n, "%s is too large: %s", what, s);
    v = v * (uint64_t)base + d;
  }
  if (v > max)
    return simi_fail(c, n, "%s must be at most %" PRIu64 ", got %s", what, max, s);
  *out = v;
  return 0;
}

/* Non-negative decimal number: plain scalar, digits [. digits] [e[+-]digits]. */
int simi_get_number(load_ctx_t *c, const yaml_node_t *n, const char *what,
                      double max, double *out) {
  if (simi_expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  const char *s = simi_scalar(n);
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return simi_fail(c, n, "%s must be a number, not a quoted string", what);
  const char *p = s;
  size_t digits = 0;
  if (*p == '+')
    p++;
  while (*p >= '0' && *p <= '9') {
    p++;
    digits++;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      p++;
      digits++;
    }
  }
  if (digits > 0 && (*p == 'e' || *p == 'E')) {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    size_t ed = 0;
    while (*p >= '0' && *p <= '9') {
      p++;
      ed++;
    }
    if (ed == 0)
      digits = 0;
  }
  if (digits == 0 || *p != '\0')
    return simi_fail(c, n, "%s must be a non-negative number, got \"%s\"", what, s);
  errno = 0;
  double v = strtod(s, NULL);
  if (errno != 0 || v - v != 0.0 || v > max) /* v - v: NaN for inf/NaN */
    return simi_fail(c, n, "%s is out of range (0 .. %g): %s", what, max, s);
  *out = v;
  return 0;
}

/* Walk a mapping whose keys must come from `keys` (NULL-terminated); calls
 * handler(ctx, index-of-key, value-node, arg) for each pair, rejecting
 * unknown and duplicate keys. `seen` gets bit i set for key i. */
typedef int (*pair_fn)(load_ctx_t *c, size_t key, yaml_node_t *val, void *arg);

int simi_walk_mapping(load_ctx_t *c, yaml_node_t *map, const char *what,
                        const char *const *keys, pair_fn fn, void *arg,
                        uint32_t *seen) {
  if (simi_expect_type(c, map, YAML_MAPPING_NODE, what) != 0)
    return -1;
  *seen = 0;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k == NULL || v == NULL)
      return simi_fail(c, map, "broken document");
    if (k->type != YAML_SCALAR_NODE)
      return simi_fail(c, k, "keys of %s must be scalars", what);
    size_t i;
    for (i = 0; keys[i] != NULL; i++)
      if (strcmp(keys[i], simi_scalar(k)) == 0)
        break;
    if (keys[i] == NULL) {
      char known[256] = "";
      size_t used = 0;
      for (size_t j = 0; keys[j] != NULL && used < sizeof(known); j++) {
        int r = snprintf(known + used, sizeof(known) - used, "%s%s",
                         j ? ", " : "", keys[j]);
        if (r < 0)
          break;
        used += (size_t)r;
      }
      return simi_fail(c, k, "unknown key \"%s\" in %s (known: %s)", simi_scalar(k),
                  what, known);
    }
    if (*seen & (1u << i))
      return simi_fail(c, k, "duplicate key \"%s\" in %s", keys[i], what);
    *seen |= 1u << i;
    if (fn(c, i, v, arg) != 0)
      return -1;
  }
  return 0;
}


int simi_get_bool(load_ctx_t *c, const yaml_node_t *n, const char *what,
                  int *out) {
  if (simi_expect_type(c, n, YAML_SCALAR_NODE, what) != 0)
    return -1;
  const char *s = simi_scalar(n);
  if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
      (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
    *out = s[0] == 't';
    return 0;
  }
  return simi_fail(c, n, "%s must be true or false, got \"%s\"", what, s);
}

/* --- top level: one handler per section; a new section is one more entry --- */

static int sec_machine(load_ctx_t *c, yaml_node_t *v) {
  if (simi_get_string(c, v, "machine", &c->m->name) != 0)
    return -1;
  return simi_check_name(c, v, "machine", c->m->name);
}

static int sec_description(load_ctx_t *c, yaml_node_t *v) {
  return simi_get_string(c, v, "description", &c->m->description);
}


static const struct {
  const char *key;
  int (*parse)(load_ctx_t *c, yaml_node_t *value);
  int required;
} sections[] = {
    {"machine", sec_machine, 1},
    {"description", sec_description, 0},
    {"powercap", simi_sec_powercap, 0},
    {"mmio", simi_sec_mmio, 0},
    {"cpu", simi_sec_cpu, 0},
    {"msr", simi_sec_msr, 0},
    {"hwmon", simi_sec_hwmon, 0},
    {"stat", simi_sec_stat, 0},
    {"cgroups", simi_sec_cgroups, 0},
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

static int top_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  (void)arg;
  return sections[key].parse(c, v);
}

static int load_root(load_ctx_t *c, yaml_node_t *root) {
  const char *keys[N_SECTIONS + 1];
  for (size_t i = 0; i < N_SECTIONS; i++)
    keys[i] = sections[i].key;
  keys[N_SECTIONS] = NULL;
  uint32_t seen;
  if (simi_walk_mapping(c, root, "the machine description", keys, top_pair, NULL,
                   &seen) != 0)
    return -1;
  for (size_t i = 0; i < N_SECTIONS; i++)
    if (sections[i].required && !(seen & (1u << i)))
      return simi_fail(c, root, "missing required top-level key \"%s\"",
                  sections[i].key);
  if (simi_finish_cpu_msr(c) != 0)
    return -1;
  if (simi_stat_finish(c) != 0)
    return -1;
  return simi_cgroups_finish(c);
}

static sim_machine_t *load(yaml_parser_t *parser, const char *file, char *err,
                           size_t err_len) {
  load_ctx_t c = {.file = file, .err = err, .err_len = err_len};
  yaml_document_t doc;
  if (!yaml_parser_load(parser, &doc)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s:%zu:%zu: YAML syntax error: %s%s%s", file,
               (size_t)parser->problem_mark.line + 1,
               (size_t)parser->problem_mark.column + 1,
               parser->problem ? parser->problem : "unknown problem",
               parser->context ? " " : "",
               parser->context ? parser->context : "");
    return NULL;
  }
  c.doc = &doc;
  sim_machine_t *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    simi_fail(&c, NULL, "out of memory");
    yaml_document_delete(&doc);
    return NULL;
  }
  c.m = m;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  int rc;
  if (root == NULL)
    rc = simi_fail(&c, NULL, "the file is empty (no YAML document)");
  else
    rc = load_root(&c, root);
  yaml_document_delete(&doc);

  if (rc == 0) { /* exactly one document */
    yaml_document_t extra;
    if (!yaml_parser_load(parser, &extra)) {
      snprintf(err, err_len, "%s:%zu:%zu: YAML syntax error: %s", file,
               (size_t)parser->problem_mark.line + 1,
               (size_t)parser->problem_mark.column + 1,
               parser->problem ? parser->problem : "unknown problem");
      rc = -1;
    } else {
      yaml_node_t *r2 = yaml_document_get_root_node(&extra);
      if (r2 != NULL) {
        c.doc = &extra;
        rc = simi_fail(&c, r2, "only one YAML document is allowed");
      }
      yaml_document_delete(&extra);
    }
  }
  if (rc == 0 && m->description == NULL) {
    m->description = strdup("");
    if (m->description == NULL)
      rc = simi_fail(&c, NULL, "out of memory");
  }
  if (rc != 0) {
    sim_free(m);
    return NULL;
  }
  return m;
}

sim_machine_t *sim_load_string(const char *yaml, char *err, size_t err_len) {
  if (err != NULL && err_len > 0)
    err[0] = '\0';
  if (yaml == NULL) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "<string>: no text given");
    return NULL;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "<string>: cannot initialise the YAML parser");
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml,
                               strlen(yaml));
  sim_machine_t *m = load(&parser, "<string>", err, err_len);
  yaml_parser_delete(&parser);
  return m;
}

sim_machine_t *sim_load_file(const char *path, char *err, size_t err_len) {
  if (err != NULL && err_len > 0)
    err[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: cannot initialise the YAML parser", path);
    fclose(f);
    return NULL;
  }
  yaml_parser_set_input_file(&parser, f);
  sim_machine_t *m = load(&parser, path, err, err_len);
  yaml_parser_delete(&parser);
  if (m != NULL && ferror(f)) {
    if (err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: read error", path);
    sim_free(m);
    m = NULL;
  }
  fclose(f);
  return m;
}
