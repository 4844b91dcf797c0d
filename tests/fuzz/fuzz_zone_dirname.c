/* fuzz_zone_dirname.c - libFuzzer target for rapl_parse_zone_dirname()
 * (sysfs_parse.h).
 *
 * The input is copied into a malloc'd buffer with a terminating NUL (the
 * parser takes a C string; bytes after an embedded NUL are not part of the
 * name). Checks:
 *   - returns 0 or -EINVAL only;
 *   - on 0: depth is 1 or 2, and re-formatting the result the way the kernel
 *     names zones ("%s:%x" for a top-level zone, "%s:%x:%x" for a sub-zone,
 *     with "intel-rapl" or "intel-rapl-mmio") gives back the input exactly;
 *   - conversely, a name in exactly that form (lower-case hex without
 *     leading zeros, at most 7 digits per id as sysfs_parse.c documents) is
 *     accepted.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysfs_parse.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

/* Canonical "%x" of an id of at most 7 digits at *p; advances *p. */
static bool canonical_hex(const char **p) {
  const char *s = *p;
  size_t n = 0;
  while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))
    n++;
  if (n == 0 || n > 7 || (n > 1 && s[0] == '0'))
    return false;
  *p = s + n;
  return true;
}

/* Would the kernel name a zone directory like this? */
static bool canonical_dirname(const char *name) {
  const char *p;
  if (strncmp(name, "intel-rapl:", 11) == 0)
    p = name + 11;
  else if (strncmp(name, "intel-rapl-mmio:", 16) == 0)
    p = name + 16;
  else
    return false;
  if (!canonical_hex(&p))
    return false;
  if (*p == ':') {
    p++;
    if (!canonical_hex(&p))
      return false;
  }
  return *p == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *name = malloc(size + 1);
  if (name == NULL)
    return 0;
  memcpy(name, data, size);
  name[size] = '\0';

  rapl_zone_dirname_t out;
  memset(&out, 0xa5, sizeof(out));
  int ret = rapl_parse_zone_dirname(name, &out);

  CHECK(ret == 0 || ret == -EINVAL);
  if (ret == 0) {
    CHECK(out.depth == 1 || out.depth == 2);
    const char *type = out.mmio ? "intel-rapl-mmio" : "intel-rapl";
    size_t cap = strlen(name) + 1;
    char *again = malloc(cap + 64);
    if (again == NULL) {
      free(name);
      return 0;
    }
    if (out.depth == 1)
      snprintf(again, cap + 64, "%s:%x", type, out.top_id);
    else
      snprintf(again, cap + 64, "%s:%x:%x", type, out.top_id, out.sub_id);
    CHECK(strcmp(again, name) == 0);
    free(again);
  }
  if (canonical_dirname(name))
    CHECK(ret == 0);

  free(name);
  return 0;
}
