/* fuzz_cgroup.c - libFuzzer target for what energy per cgroup parses
 * (SPEC 9): the `Cgroups` glob check (options.c), the instance names and
 * cpu.stat's usage_usec as rapl_cgroups_sample reads it (cgroup.c).
 *
 * The input is used three ways:
 *   - as a glob: rapl_options_check_cgroup_glob returns 0 or -EINVAL; an
 *     error names Cgroups; an accepted glob is relative, shorter than
 *     RAPL_CGROUP_GLOB_LEN, and has no empty, "." or ".." component;
 *   - as a cgroup path: rapl_cgroup_instance gives at most 127 bytes,
 *     starting "cgroup-", without '/', the same twice; "cgroup-" + the path
 *     with '/' -> '_' when that fits, else ending in "-" + 8 hex digits;
 *   - as cpu.stat's content: written to a cgroup of a temporary cgroup v2
 *     tree (made once) and sampled through the real reader; read_ok exactly
 *     when the first 1024 bytes have a whole line "usage_usec N" (N decimal,
 *     fits 64 bits; the first such line), and then usage_usec is N.
 * Violations call __builtin_trap() so that libFuzzer records the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "options.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

static rapl_cgroups_t *set;
static int writer = -1;
static char root_dir[64];

/* at exit: the temporary tree goes */
static void remove_tree(void) {
  char p[128];
  rapl_cgroups_free(set);
  set = NULL;
  if (writer >= 0)
    close(writer);
  writer = -1;
  snprintf(p, sizeof(p), "%s/c/cpu.stat", root_dir);
  unlink(p);
  snprintf(p, sizeof(p), "%s/c", root_dir);
  rmdir(p);
  snprintf(p, sizeof(p), "%s/cgroup.controllers", root_dir);
  unlink(p);
  rmdir(root_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(root_dir, sizeof(root_dir), "/tmp/rapl-fuzz-cgroup.XXXXXX");
  char *root = mkdtemp(root_dir);
  char p[512];
  if (root == NULL)
    abort();
  atexit(remove_tree);
  snprintf(p, sizeof(p), "%s/cgroup.controllers", root);
  int fd = open(p, O_WRONLY | O_CREAT, 0644);
  if (fd < 0 || write(fd, "cpu\n", 4) != 4)
    abort();
  close(fd);
  snprintf(p, sizeof(p), "%s/c", root);
  if (mkdir(p, 0755) != 0)
    abort();
  snprintf(p, sizeof(p), "%s/c/cpu.stat", root);
  writer = open(p, O_WRONLY | O_CREAT, 0644);
  if (writer < 0)
    abort();
  char *globs[] = {"c"};
  char why[512];
  set = rapl_cgroups_open(root, globs, 1, why, sizeof(why));
  if (set == NULL || rapl_cgroups_rescan(set) != 0 ||
      rapl_cgroups_count(set) != 1)
    abort();
  return 0;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The reference: the first whole "usage_usec N" line of buf[0..len). */
static bool expected_usage(const char *buf, size_t len, uint64_t *out) {
  static const char key[] = "usage_usec ";
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    if (nl == NULL)
      return false;
    size_t llen = (size_t)(nl - (buf + pos));
    if (llen > 11 && memcmp(buf + pos, key, 11) == 0) {
      unsigned __int128 v = 0;
      for (size_t k = 11; k < llen; k++) {
        char c = buf[pos + k];
        if (c < '0' || c > '9')
          return false;
        v = v * 10 + (unsigned)(c - '0');
        if (v > UINT64_MAX)
          return false;
      }
      *out = (uint64_t)v;
      return true;
    }
    pos += llen + 1;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  size_t len = strlen(s); /* up to the first NUL */

  /* the glob check */
  char err[1024];
  err[0] = '\0';
  int r = rapl_options_check_cgroup_glob(s, err, sizeof(err));
  CHECK(r == 0 || r == -EINVAL);
  if (r != 0) {
    CHECK(strncmp(err, "Cgroups: ", 9) == 0);
  } else {
    CHECK(len > 0 && len < RAPL_CGROUP_GLOB_LEN && s[0] != '/');
    for (const char *c = s;;) {
      const char *slash = strchr(c, '/');
      size_t n = slash != NULL ? (size_t)(slash - c) : strlen(c);
      CHECK(n > 0);
      CHECK(!(n == 1 && c[0] == '.'));
      CHECK(!(n == 2 && c[0] == '.' && c[1] == '.'));
      if (slash == NULL)
        break;
      c = slash + 1;
    }
  }

  /* the instance name */
  char a[RAPL_CGROUP_INSTANCE_LEN], b[RAPL_CGROUP_INSTANCE_LEN];
  rapl_cgroup_instance(s, a, sizeof(a));
  rapl_cgroup_instance(s, b, sizeof(b));
  size_t alen = strlen(a);
  CHECK(strcmp(a, b) == 0);
  CHECK(alen <= RAPL_CGROUP_INSTANCE_LEN - 1);
  CHECK(strncmp(a, "cgroup-", 7) == 0);
  CHECK(strchr(a, '/') == NULL);
  if (7 + len <= RAPL_CGROUP_INSTANCE_LEN - 1) {
    CHECK(alen == 7 + len);
    for (size_t i = 0; i < len; i++)
      CHECK(a[7 + i] == (s[i] == '/' ? '_' : s[i]));
  } else {
    CHECK(alen >= 16 && a[alen - 9] == '-');
    for (size_t i = alen - 8; i < alen; i++)
      CHECK(is_hex(a[i]));
  }

  /* cpu.stat through the reader (the raw bytes, NULs included) */
  if (pwrite(writer, data, size, 0) == (ssize_t)size &&
      ftruncate(writer, (off_t)size) == 0) {
    rapl_cgroups_sample(set);
    const rapl_cgroup_t *c = rapl_cgroups_get(set, 0);
    uint64_t want = 0;
    bool ok = expected_usage((const char *)data, size < 1024 ? size : 1024,
                             &want);
    CHECK(c->read_ok == ok);
    if (ok)
      CHECK(c->usage_usec == want);
  }
  free(s);
  return 0;
}
