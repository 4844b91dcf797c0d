/* sysfs_parse.h - parsers for what the kernel writes in sysfs.
 *
 * Pure functions over bytes: no I/O, so each has a unit test and a fuzz target.
 */
#ifndef RAPL_SYSFS_PARSE_H
#define RAPL_SYSFS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A sysfs unsigned value, as the kernel prints it with "%llu\n".
 * Accepts one or more decimal digits, optionally followed by '\n' (anything
 * after the first newline is ignored: sysfs never has any, and it makes an
 * in-place rewrite of a simulated file safe to read). Returns 0, -ENODATA for
 * an empty buffer or a lone newline, -EINVAL for anything else that is not a
 * number, -ERANGE when the digits do not fit 64 bits. */
int rapl_parse_u64(const char *buf, size_t len, uint64_t *value);

/* A powercap zone directory name: "intel-rapl:<hex>" (top level) or
 * "intel-rapl:<hex>:<hex>" (sub-zone), also with the "intel-rapl-mmio"
 * control type. Ids are hexadecimal: the kernel names zones "%s:%x". */
typedef struct {
  bool mmio;
  unsigned depth; /* 1: top-level zone, 2: sub-zone */
  unsigned top_id;
  unsigned sub_id; /* depth 2 only */
} rapl_zone_dirname_t;

/* 0, or -EINVAL when `name` is not a zone directory (e.g. the control type
 * "intel-rapl" itself, or another control type such as "dtpm"). */
int rapl_parse_zone_dirname(const char *name, rapl_zone_dirname_t *out);

/* A top-level zone's `name` file (newline already stripped):
 * "package-N", "package-N-die-M", "psys" or "psys-N". */
typedef struct {
  bool psys;
  int package_id; /* psys: N of "psys-N", 0 for "psys" */
  int die_id;     /* -1 unless "package-N-die-M" */
} rapl_zone_name_t;

/* 0, or -EINVAL for a name the kernel does not produce. */
int rapl_parse_zone_name(const char *name, rapl_zone_name_t *out);

#endif
