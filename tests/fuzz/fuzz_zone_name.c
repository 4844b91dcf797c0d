/* fuzz_zone_name.c - libFuzzer target for rapl_parse_zone_name()
 * (sysfs_parse.h).
 *
 * The input is copied into a malloc'd buffer with a terminating NUL (the
 * parser takes a C string). Checks:
 *   - returns 0 or -EINVAL only;
 *   - on 0: ids are not negative, die_id is -1 or a die id, a psys zone has
 *     no die, and re-formatting the result the way the kernel names zones
 *     ("package-%d", "package-%d-die-%d", "psys", "psys-%d") gives back the
 *     input exactly ("psys" and "psys-0" both parse to psys, package 0);
 *   - conversely, a name in exactly one of those forms ("%d" of an id of at
 *     most 6 digits, as sysfs_parse.c documents) is accepted.
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

/* Canonical "%d" of a non-negative id of at most 6 digits; advances *p. */
static bool canonical_dec(const char **p) {
  const char *s = *p;
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9')
    n++;
  if (n == 0 || n > 6 || (n > 1 && s[0] == '0'))
    return false;
  *p = s + n;
  return true;
}

/* Would the kernel name a top-level zone like this? */
static bool canonical_name(const char *name) {
  const char *p;
  if (strcmp(name, "psys") == 0)
    return true;
  if (strncmp(name, "psys-", 5) == 0) {
    p = name + 5;
    return canonical_dec(&p) && *p == '\0';
  }
  if (strncmp(name, "package-", 8) != 0)
    return false;
  p = name + 8;
  if (!canonical_dec(&p))
    return false;
  if (strncmp(p, "-die-", 5) == 0) {
    p += 5;
    if (!canonical_dec(&p))
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

  rapl_zone_name_t out;
  memset(&out, 0xa5, sizeof(out));
  int ret = rapl_parse_zone_name(name, &out);

  CHECK(ret == 0 || ret == -EINVAL);
  if (ret == 0) {
    CHECK(out.package_id >= 0);
    CHECK(out.die_id >= -1);
    char again[64];
    if (out.psys) {
      CHECK(out.die_id == -1);
      snprintf(again, sizeof(again), "psys-%d", out.package_id);
      CHECK(strcmp(again, name) == 0 ||
            (out.package_id == 0 && strcmp(name, "psys") == 0));
    } else {
      if (out.die_id < 0)
        snprintf(again, sizeof(again), "package-%d", out.package_id);
      else
        snprintf(again, sizeof(again), "package-%d-die-%d", out.package_id,
                 out.die_id);
      CHECK(strcmp(again, name) == 0);
    }
  }
  if (canonical_name(name))
    CHECK(ret == 0);

  free(name);
  return 0;
}
