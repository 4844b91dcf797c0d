/* fuzz_hwmon_names.c - libFuzzer target for the hwmon name and value
 * parsers (hwmon_chips.h): attribute file names, labels as domains, AMD
 * energy labels, signed values.
 *
 * The input is copied into a NUL-terminated buffer (the name parsers take
 * C strings, as readdir gives them) and, for the value parser, one of
 * exactly `size` bytes. Checks:
 *   - a domain is non-empty, NUL-terminated within its buffer, and only
 *     [a-z0-9_];
 *   - a parsed attribute prints back to a name that parses to the same;
 *   - the value parser answers 0, -ENODATA, -EINVAL or -ERANGE, and -ENODATA
 *     only for empty (or blank) input.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwmon_chips.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

static const char *const items[] = {"input", "average", "label", "enable"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *cstr = malloc(size + 1);
  char *raw = malloc(size ? size : 1);
  if (cstr == NULL || raw == NULL) {
    free(cstr), free(raw);
    return 0;
  }
  memcpy(cstr, data, size);
  cstr[size] = '\0';
  if (size > 0)
    memcpy(raw, data, size);

  rapl_hwmon_attr_t attr;
  if (rapl_hwmon_parse_attr(cstr, &attr)) {
    char name[64];
    snprintf(name, sizeof(name), "%s%u_%s", rapl_hwmon_type_name(attr.type),
             attr.index, items[attr.item]);
    rapl_hwmon_attr_t back;
    CHECK(rapl_hwmon_parse_attr(name, &back));
    CHECK(back.type == attr.type && back.index == attr.index &&
          back.item == attr.item);
  }

  char domain[32];
  memset(domain, 'X', sizeof(domain));
  if (rapl_hwmon_domain_from_label(cstr, domain, sizeof(domain))) {
    CHECK(memchr(domain, '\0', sizeof(domain)) != NULL);
    CHECK(domain[0] != '\0');
    for (const char *p = domain; *p; p++)
      CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
  }

  unsigned number;
  rapl_hwmon_amd_kind_t kind = rapl_hwmon_parse_amd_label(cstr, &number);
  CHECK(kind == RAPL_HWMON_AMD_NONE || kind == RAPL_HWMON_AMD_CORE ||
        kind == RAPL_HWMON_AMD_SOCKET);
  if (kind != RAPL_HWMON_AMD_NONE)
    CHECK(cstr[0] == 'E');

  int64_t value;
  int err = rapl_hwmon_parse_s64(raw, size, &value);
  CHECK(err == 0 || err == -ENODATA || err == -EINVAL || err == -ERANGE);
  if (err == -ENODATA) /* nothing before the first newline */
    CHECK(size == 0 || raw[0] == '\n');
  if (err == 0) { /* the value fits what was given */
    char back[32];
    int n = snprintf(back, sizeof(back), "%lld", (long long)value);
    size_t end = 0;
    while (end < size && raw[end] != '\n')
      end++;
    CHECK(n > 0 && (size_t)n <= end); /* never more digits than given */
    CHECK((value < 0) == (raw[0] == '-' && value != 0));
  }

  free(raw);
  free(cstr);
  return 0;
}
