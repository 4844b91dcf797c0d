/* fuzz_proc_stat.c - libFuzzer target for rapl_parse_proc_stat()
 * (cpu_activity.h).
 *
 * The input is copied into a buffer of exactly `size` bytes (no NUL: the
 * parser takes a length, and ASan sees any read past it) and parsed into a
 * heap array of exactly MAX_CPUS entries. Checks:
 *   - the result is a count in [0, MAX_CPUS], -EINVAL or -ERANGE;
 *   - a count equals the entries marked present;
 *   - every present CPU has a line "cpu<N> " in the input;
 *   - parsing the same bytes again gives the same answer.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_activity.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

#define MAX_CPUS 64

/* Whether "cpu<n> " (no leading zero, as the kernel prints) starts a line
 * of text. */
static int has_line(const char *text, size_t len, unsigned n) {
  char head[16];
  int hl = snprintf(head, sizeof(head), "cpu%u ", n);
  for (size_t i = 0; i + (size_t)hl <= len; i++)
    if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, head, (size_t)hl) == 0)
      return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  rapl_cpu_times_t *t = calloc(MAX_CPUS, sizeof(*t));
  rapl_cpu_times_t *again = calloc(MAX_CPUS, sizeof(*again));
  if (text == NULL || t == NULL || again == NULL) {
    free(text), free(t), free(again);
    return 0;
  }
  if (size > 0)
    memcpy(text, data, size);
  int ret = rapl_parse_proc_stat(text, size, t, MAX_CPUS);
  CHECK((ret >= 0 && ret <= MAX_CPUS) || ret == -EINVAL || ret == -ERANGE);
  if (ret >= 0) {
    int present = 0;
    for (unsigned c = 0; c < MAX_CPUS; c++) {
      present += t[c].present;
      if (t[c].present)
        CHECK(has_line(text, size, c));
    }
    CHECK(present == ret);
  }
  CHECK(rapl_parse_proc_stat(text, size, again, MAX_CPUS) == ret);
  if (ret >= 0)
    CHECK(memcmp(t, again, MAX_CPUS * sizeof(*t)) == 0);
  free(again);
  free(t);
  free(text);
  return 0;
}
