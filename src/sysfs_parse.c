/* sysfs_parse.c - see sysfs_parse.h. */
#include "sysfs_parse.h"

#include <errno.h>
#include <string.h>

int rapl_parse_u64(const char *buf, size_t len, uint64_t *value) {
  if (len == 0)
    return -ENODATA;
  uint64_t result = 0;
  size_t i = 0;
  for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
    uint64_t digit = (uint64_t)(buf[i] - '0');
    if (result > (UINT64_MAX - digit) / 10)
      return -ERANGE;
    result = result * 10 + digit;
  }
  if (i == 0)
    return buf[0] == '\n' ? -ENODATA : -EINVAL;
  if (i < len && buf[i] != '\n')
    return -EINVAL;
  *value = result;
  return 0;
}

/* Parses a lower-case hexadecimal id of at most 7 digits without leading
 * zeros (ids are small idr numbers printed with "%x"); advances *p. */
static int parse_hex_id(const char **p, unsigned *id) {
  const char *s = *p;
  unsigned value = 0;
  size_t n = 0;
  for (;; n++) {
    char c = s[n];
    unsigned digit;
    if (c >= '0' && c <= '9')
      digit = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      digit = (unsigned)(c - 'a' + 10);
    else
      break;
    if (n == 7 || (n == 1 && s[0] == '0'))
      return -EINVAL; /* too long, or "01": the kernel never writes it */
    value = value * 16 + digit;
  }
  if (n == 0)
    return -EINVAL;
  *id = value;
  *p = s + n;
  return 0;
}

int rapl_parse_zone_dirname(const char *name, rapl_zone_dirname_t *out) {
  static const char rapl[] = "intel-rapl:";
  static const char mmio[] = "intel-rapl-mmio:";
  rapl_zone_dirname_t parsed = {0};
  const char *p;
  if (strncmp(name, rapl, sizeof(rapl) - 1) == 0) {
    p = name + sizeof(rapl) - 1;
  } else if (strncmp(name, mmio, sizeof(mmio) - 1) == 0) {
    parsed.mmio = true;
    p = name + sizeof(mmio) - 1;
  } else {
    return -EINVAL;
  }
  if (parse_hex_id(&p, &parsed.top_id) != 0)
    return -EINVAL;
  parsed.depth = 1;
  if (*p == ':') {
    p++;
    if (parse_hex_id(&p, &parsed.sub_id) != 0)
      return -EINVAL;
    parsed.depth = 2;
  }
  if (*p != '\0')
    return -EINVAL;
  *out = parsed;
  return 0;
}

/* Parses a decimal id of at most 6 digits without sign or leading zeros
 * (the kernel prints topology ids with "%d"); advances *p past it. */
static int parse_dec_id(const char **p, int *id) {
  const char *s = *p;
  int value = 0;
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9') {
    if (n == 6 || (n == 1 && s[0] == '0'))
      return -EINVAL;
    value = value * 10 + (s[n] - '0');
    n++;
  }
  if (n == 0)
    return -EINVAL;
  *id = value;
  *p = s + n;
  return 0;
}

int rapl_parse_zone_name(const char *name, rapl_zone_name_t *out) {
  rapl_zone_name_t parsed = {.psys = false, .package_id = 0, .die_id = -1};
  const char *p;
  if (strcmp(name, "psys") == 0) {
    parsed.psys = true;
    *out = parsed;
    return 0;
  }
  if (strncmp(name, "psys-", 5) == 0) {
    parsed.psys = true;
    p = name + 5;
    if (parse_dec_id(&p, &parsed.package_id) != 0 || *p != '\0')
      return -EINVAL;
    *out = parsed;
    return 0;
  }
  if (strncmp(name, "package-", 8) != 0)
    return -EINVAL;
  p = name + 8;
  if (parse_dec_id(&p, &parsed.package_id) != 0)
    return -EINVAL;
  if (strncmp(p, "-die-", 5) == 0) {
    p += 5;
    if (parse_dec_id(&p, &parsed.die_id) != 0)
      return -EINVAL;
  }
  if (*p != '\0')
    return -EINVAL;
  *out = parsed;
  return 0;
}
