/* testutil.c - see testutil.h. */
#define _GNU_SOURCE
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rapl_log.h"

static char captured[64 * 1024];
static size_t captured_len;

static void capture_sink(int severity, const char *message) {
  (void)severity;
  int n = snprintf(captured + captured_len, sizeof(captured) - captured_len,
                   "%s\n", message);
  if (n > 0 && captured_len + (size_t)n < sizeof(captured))
    captured_len += (size_t)n;
}

void log_capture_start(void) {
  captured[0] = '\0';
  captured_len = 0;
  rapl_log_set_sink(capture_sink);
}

size_t log_count(const char *needle) {
  size_t count = 0;
  const char *line = captured;
  while (*line) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (needle == NULL || memmem(line, len, needle, strlen(needle)) != NULL)
      count++;
    line += len + (end ? 1 : 0);
  }
  return count;
}

const char *log_text(void) { return captured; }

char *make_temp_dir(const char *tag) {
  const char *tmp = getenv("TMPDIR");
  char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/rapl-%s-XXXXXX", tmp ? tmp : "/tmp", tag), 0);
  ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp %s: %s", path, strerror(errno));
  ck_assert_int_eq(chmod(path, 0755), 0);
  return path;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)ftw;
  if (flag == FTW_DP)
    return rmdir(path);
  return unlink(path);
}

void rm_tree(const char *path) {
  if (path != NULL)
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *machine_path(const char *name, char *buf, size_t len) {
  const char *dir = getenv("RAPL_MACHINES");
  snprintf(buf, len, "%s/%s.yaml", dir ? dir : "contrib/machines", name);
  return buf;
}

static sim_machine_t *build(sim_machine_t *m, const char *err, char **root) {
  ck_assert_msg(m != NULL, "loading the machine: %s", err);
  *root = make_temp_dir("root");
  int rc = sim_build(m, *root);
  ck_assert_msg(rc == 0, "sim_build: %s", sim_build_error(m));
  return m;
}

sim_machine_t *sim_start(const char *machine_name, char **root) {
  char path[4096], err[1024] = "";
  machine_path(machine_name, path, sizeof(path));
  return build(sim_load_file(path, err, sizeof(err)), err, root);
}

sim_machine_t *sim_start_string(const char *yaml, char **root) {
  char err[1024] = "";
  return build(sim_load_string(yaml, err, sizeof(err)), err, root);
}

size_t sim_find(const sim_machine_t *m, const char *key, const char *domain) {
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    if (sim_zone_is_mmio(m, i))
      continue;
    const char *name = sim_zone_name(m, i);
    const char *parent = sim_zone_parent_name(m, i);
    bool top = !sim_zone_is_subzone(m, i);
    const char *zone_domain =
        top ? (strncmp(name, "psys", 4) == 0 ? "psys" : "package") : name;
    if (strcmp(parent, key) == 0 && strcmp(zone_domain, domain) == 0)
      return i;
  }
  ck_abort_msg("simulated machine has no zone %s/%s", key, domain);
  return 0;
}

void write_file(const char *path, const char *content) {
  /* sysfs modes are read-only (0400/0444): lift that for the owner while
   * writing, so the tests also work when not run as root */
  struct stat st;
  ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
  chmod(path, st.st_mode | S_IWUSR);
  int fd = open(path, O_WRONLY | O_TRUNC);
  ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
  size_t len = strlen(content);
  ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
  close(fd);
  chmod(path, st.st_mode & 07777);
}

int run_as_nobody(int (*fn)(void *), void *arg) {
  if (geteuid() != 0)
    return -1;
  const struct passwd *pw = getpwnam("nobody");
  ck_assert_msg(pw != NULL, "no user nobody");
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
      _exit(111);
    _exit(fn(arg));
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int run_suite(Suite *suite) {
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void sim_stop(sim_machine_t *m, char *root) {
  sim_free(m);
  rm_tree(root);
  free(root);
}
