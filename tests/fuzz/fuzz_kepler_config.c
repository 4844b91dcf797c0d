/* fuzz_kepler_config.c - libFuzzer target for rapl_kepler_config_parse()
 * (kepler_config.h), the reader of `ConfigFile`.
 *
 * The input is copied into a buffer of exactly `size` bytes (no NUL: the
 * reader takes a length, and ASan sees any read past it). Checks:
 *   - returns 0 or -EINVAL only;
 *   - on -EINVAL: the options and the set bits are untouched, and the
 *     message is NUL-terminated and starts "fuzz.yaml:<line>:<column>: "
 *     with line and column counted from 1;
 *   - on 0: only the RAPL_OPT_* bits the file can set are set; paths are
 *     absolute and NUL-terminated; at least one source, none twice; MSR is
 *     enabled only when the file says so (its bit is set);
 *   - parsing the same input again gives the same result (no hidden state).
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kepler_config.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

static const unsigned file_bits =
    RAPL_OPT_SYSFS_PATH | RAPL_OPT_PROCFS_PATH | RAPL_OPT_ZONES |
    RAPL_OPT_SOURCES | RAPL_OPT_MSR_ENABLED | RAPL_OPT_MSR_FORCE |
    RAPL_OPT_MSR_DEVICE_PATH;

static void check_path(const char *path, size_t len) {
  CHECK(memchr(path, '\0', len) != NULL);
  CHECK(path[0] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024) /* configurations are small; keep runs fast */
    return 0;
  char *text = malloc(size ? size : 1);
  if (text == NULL)
    return 0;
  if (size > 0)
    memcpy(text, data, size);

  static rapl_options_t defaults, opts, again;
  rapl_options_set_defaults(&defaults);
  opts = defaults;
  unsigned set = 0xdeadbeefu;
  char err[512];
  memset(err, 'x', sizeof(err));
  int ret = rapl_kepler_config_parse("fuzz.yaml", text, size, &opts, &set, err,
                                     sizeof(err));
  CHECK(ret == 0 || ret == -EINVAL);
  if (ret != 0) {
    CHECK(memcmp(&opts, &defaults, sizeof(opts)) == 0);
    CHECK(set == 0xdeadbeefu);
    CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    unsigned long line = 0, column = 0;
    int used = 0;
    CHECK(sscanf(err, "fuzz.yaml:%lu:%lu: %n", &line, &column, &used) == 2);
    CHECK(used > 0 && line >= 1 && column >= 1);
  } else {
    CHECK((set & ~file_bits) == 0);
    check_path(opts.sysfs_path, sizeof(opts.sysfs_path));
    check_path(opts.procfs_path, sizeof(opts.procfs_path));
    check_path(opts.msr_device_path, sizeof(opts.msr_device_path));
    CHECK(opts.source_count >= 1 && opts.source_count <= RAPL_SOURCE_COUNT);
    for (size_t i = 0; i < opts.source_count; i++) {
      CHECK((unsigned)opts.sources[i] < RAPL_SOURCE_COUNT);
      for (size_t k = 0; k < i; k++)
        CHECK(opts.sources[k] != opts.sources[i]);
    }
    if (opts.msr_enabled)
      CHECK(set & RAPL_OPT_MSR_ENABLED);
    /* what the file cannot set is as it was */
    CHECK(opts.per_socket == defaults.per_socket);
    CHECK(opts.total == defaults.total);
    CHECK(opts.active_idle == defaults.active_idle);
    CHECK(opts.hwmon_chip_count == defaults.hwmon_chip_count);
  }

  again = defaults;
  unsigned set2 = 0xdeadbeefu;
  char err2[512];
  int ret2 = rapl_kepler_config_parse("fuzz.yaml", text, size, &again, &set2,
                                      err2, sizeof(err2));
  CHECK(ret2 == ret);
  if (ret == 0) {
    CHECK(set2 == set);
    CHECK(memcmp(&again, &opts, sizeof(opts)) == 0);
  } else {
    CHECK(strcmp(err2, err) == 0);
  }
  free(text);
  return 0;
}
