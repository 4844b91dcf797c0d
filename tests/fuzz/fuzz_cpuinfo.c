/* fuzz_cpuinfo.c - libFuzzer target for rapl_parse_cpuinfo()
 * (cpu_topology.h).
 *
 * The input is copied into a buffer of exactly `size` bytes (no NUL: the
 * parser takes a length, and ASan sees any read past it). Checks:
 *   - returns 0 or -EINVAL only;
 *   - on 0: vendor_id is NUL-terminated within its 16 bytes, appears in the
 *     input, and the vendor enum matches it (GenuineIntel, AuthenticAMD,
 *     HygonGenuine, anything else unknown);
 *   - only the first processor block counts: parsing just that block (up to
 *     the first blank line after a non-blank one) gives the same result as
 *     parsing the whole input.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#define _GNU_SOURCE /* memmem */
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

/* Length of the first block, including its last newline, or `len` when the
 * input has no blank line after a non-blank one. */
static size_t first_block_len(const char *text, size_t len) {
  size_t i = 0;
  while (i < len && text[i] == '\n') /* blank lines before the block */
    i++;
  for (; i + 1 < len; i++)
    if (text[i] == '\n' && text[i + 1] == '\n')
      return i + 1;
  return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  if (text == NULL)
    return 0;
  if (size > 0)
    memcpy(text, data, size);

  rapl_cpu_id_t id;
  memset(&id, 0xa5, sizeof(id));
  int ret = rapl_parse_cpuinfo(text, size, &id);

  CHECK(ret == 0 || ret == -EINVAL);
  if (ret == 0) {
    const char *nul = memchr(id.vendor_id, '\0', sizeof(id.vendor_id));
    CHECK(nul != NULL);
    size_t vlen = strlen(id.vendor_id);
    CHECK(vlen < sizeof(id.vendor_id));
    if (vlen > 0)
      CHECK(memmem(text, size, id.vendor_id, vlen) != NULL);
    rapl_cpu_vendor_t expect = RAPL_CPU_VENDOR_UNKNOWN;
    if (strcmp(id.vendor_id, "GenuineIntel") == 0)
      expect = RAPL_CPU_VENDOR_INTEL;
    else if (strcmp(id.vendor_id, "AuthenticAMD") == 0)
      expect = RAPL_CPU_VENDOR_AMD;
    else if (strcmp(id.vendor_id, "HygonGenuine") == 0)
      expect = RAPL_CPU_VENDOR_HYGON;
    CHECK(id.vendor == expect);
  }

  /* Only the first block counts. */
  size_t block = first_block_len(text, size);
  if (block < size) {
    char *first = malloc(block ? block : 1);
    if (first != NULL) {
      if (block > 0)
        memcpy(first, text, block);
      rapl_cpu_id_t id2;
      memset(&id2, 0x5a, sizeof(id2));
      int ret2 = rapl_parse_cpuinfo(first, block, &id2);
      CHECK(ret2 == ret);
      if (ret == 0) {
        CHECK(id2.vendor == id.vendor);
        CHECK(id2.family == id.family);
        CHECK(id2.model == id.model);
        CHECK(strcmp(id2.vendor_id, id.vendor_id) == 0);
      }
      free(first);
    }
  }

  free(text);
  return 0;
}
