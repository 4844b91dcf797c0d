/* fuzz_parse_u64.c - libFuzzer target for rapl_parse_u64() (sysfs_parse.h).
 *
 * Besides "no crash, no out-of-bounds read" (the input is copied into a
 * buffer of exactly `size` bytes, not NUL-terminated, so ASan sees any read
 * past `len`), checks the documented contract against a reference built on
 * strtoull():
 *   - empty buffer: -ENODATA;
 *   - 0 only for <digits>[ '\n' <anything> ], with the value strtoull() gives
 *     for the digit prefix, which must fit 64 bits;
 *   - a digit prefix that does not fit 64 bits and is followed by nothing or
 *     a newline: -ERANGE (followed by other bytes: -ERANGE or -EINVAL, the
 *     header does not rank the two);
 *   - no digits: -EINVAL, or -ENODATA when the value is empty ("\n...");
 *   - never any other return value.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sysfs_parse.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (buf == NULL)
    return 0;
  if (size > 0)
    memcpy(buf, data, size);

  const uint64_t sentinel = UINT64_C(0xdeadbeefcafef00d);
  uint64_t value = sentinel;
  int ret = rapl_parse_u64(buf, size, &value);

  CHECK(ret == 0 || ret == -ENODATA || ret == -EINVAL || ret == -ERANGE);

  /* Reference. */
  size_t digits = 0;
  while (digits < size && buf[digits] >= '0' && buf[digits] <= '9')
    digits++;
  int suffix_ok = digits == size || buf[digits] == '\n';

  if (size == 0) {
    CHECK(ret == -ENODATA);
  } else if (digits == 0) {
    if (buf[0] == '\n')
      CHECK(ret == -ENODATA || ret == -EINVAL);
    else
      CHECK(ret == -EINVAL);
  } else {
    char *prefix = malloc(digits + 1);
    if (prefix == NULL) {
      free(buf);
      return 0;
    }
    memcpy(prefix, buf, digits);
    prefix[digits] = '\0';
    errno = 0;
    char *endp = NULL;
    unsigned long long ref = strtoull(prefix, &endp, 10);
    int overflow = errno == ERANGE;
    CHECK(endp == prefix + digits);
    free(prefix);

    if (!overflow && suffix_ok) {
      CHECK(ret == 0);
      CHECK(value == (uint64_t)ref);
    } else if (overflow && suffix_ok) {
      CHECK(ret == -ERANGE);
    } else if (overflow) {
      CHECK(ret == -ERANGE || ret == -EINVAL);
    } else {
      CHECK(ret == -EINVAL);
    }
  }
  /* 0 only if the input starts with a digit. */
  if (ret == 0)
    CHECK(size > 0 && buf[0] >= '0' && buf[0] <= '9');

  free(buf);
  return 0;
}
