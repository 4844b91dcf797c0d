/* fuzz_cpu_list.c - libFuzzer target for rapl_parse_cpu_list()
 * (cpu_topology.h).
 *
 * The input is copied into a buffer of exactly `size` bytes (no NUL: the
 * parser takes a length, and ASan sees any read past it), and parsed into
 * a heap array of exactly MAX_CPUS bools, all false, with
 * max_cpus = MAX_CPUS: ASan reports any write past max_cpus. Checks:
 *   - the return value is a count in [0, MAX_CPUS], -EINVAL or -ERANGE;
 *   - a count equals the number of entries set to true;
 *   - against a reference parser of the kernel's list format
 *     ("N" or "N-M" items separated by ',', trailing '\n' / NUL bytes
 *     ignored, numbers of at most 9 digits as cpu_topology.c documents):
 *     same verdict, same set of CPUs on success, -ERANGE when the only fault
 *     is a CPU >= max_cpus, -EINVAL when no number is out of range.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_topology.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

#define MAX_CPUS 64

/* One number at text[*i]; false when there is no digit. Sets *range when it
 * has more than 9 digits or is >= MAX_CPUS. */
static bool ref_number(const char *text, size_t len, size_t *i, uint64_t *v,
                       bool *range) {
  size_t n = 0;
  uint64_t value = 0;
  while (*i + n < len && text[*i + n] >= '0' && text[*i + n] <= '9') {
    if (value < UINT64_C(1000000000000))
      value = value * 10 + (uint64_t)(text[*i + n] - '0');
    n++;
  }
  if (n == 0)
    return false;
  if (n > 9 || value >= MAX_CPUS)
    *range = true;
  *i += n;
  *v = value;
  return true;
}

/* Reference: fills set[] and *count when the list is valid. */
static void ref_parse(const char *text, size_t len, bool *set, int *count,
                      bool *grammar_err, bool *range_err) {
  *count = 0;
  *grammar_err = *range_err = false;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\0'))
    len--;
  if (len == 0)
    return;
  size_t i = 0;
  for (;;) {
    uint64_t first, last;
    if (!ref_number(text, len, &i, &first, range_err)) {
      *grammar_err = true;
      return;
    }
    last = first;
    if (i < len && text[i] == '-') {
      i++;
      if (!ref_number(text, len, &i, &last, range_err)) {
        *grammar_err = true;
        return;
      }
      if (last < first) {
        *grammar_err = true;
        return;
      }
    }
    if (!*range_err)
      for (uint64_t c = first; c <= last; c++)
        set[c] = true;
    if (i == len)
      break;
    if (text[i] != ',') {
      *grammar_err = true;
      return;
    }
    i++;
  }
  for (size_t c = 0; c < MAX_CPUS; c++)
    *count += set[c];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  bool *online = calloc(MAX_CPUS, sizeof(*online));
  if (text == NULL || online == NULL) {
    free(text);
    free(online);
    return 0;
  }
  if (size > 0)
    memcpy(text, data, size);

  int ret = rapl_parse_cpu_list(text, size, online, MAX_CPUS);

  CHECK((ret >= 0 && ret <= MAX_CPUS) || ret == -EINVAL || ret == -ERANGE);

  bool ref_set[MAX_CPUS] = {false};
  int ref_count;
  bool grammar_err, range_err;
  ref_parse(text, size, ref_set, &ref_count, &grammar_err, &range_err);

  if (ret >= 0) {
    int set = 0;
    for (size_t c = 0; c < MAX_CPUS; c++)
      set += online[c];
    CHECK(ret == set);
    CHECK(!grammar_err && !range_err);
    CHECK(ret == ref_count);
    for (size_t c = 0; c < MAX_CPUS; c++)
      CHECK(online[c] == ref_set[c]);
  } else {
    CHECK(grammar_err || range_err);
    if (!grammar_err)
      CHECK(ret == -ERANGE);
    if (!range_err)
      CHECK(ret == -EINVAL);
  }

  free(online);
  free(text);
  return 0;
}
