/*
 * sim_fs.c - writing the regular-file trees: directories, files,
 * symlinks, in-place rewrites, and the build error text
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) int
simi_build_fail(sim_machine_t *m, int err, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(m->build_err, sizeof(m->build_err), "%s: %s", what, strerror(err));
  return -err;
}

int simi_make_dir(sim_machine_t *m, const char *path) {
  if (mkdir(path, 0755) != 0) {
    int e = errno;
    struct stat st;
    if (e != EEXIST)
      return simi_build_fail(m, e, "cannot create directory %s", path);
    if (stat(path, &st) != 0)
      return simi_build_fail(m, errno, "cannot stat %s", path);
    if (!S_ISDIR(st.st_mode))
      return simi_build_fail(m, ENOTDIR, "%s exists", path);
  }
  if (chmod(path, 0755) != 0)
    return simi_build_fail(m, errno, "cannot chmod %s", path);
  return 0;
}

int simi_make_dir_p(sim_machine_t *m, const char *path) {
  char *p = strdup(path);
  if (p == NULL)
    return simi_build_fail(m, ENOMEM, "%s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      int r = simi_build_fail(m, errno, "cannot create directory %s", p);
      free(p);
      return r;
    }
    *s = '/';
  }
  free(p);
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return simi_build_fail(m, errno, "cannot create directory %s", path);
  return 0;
}

/* Open for writing even when a previous build left the file 0400/0444. */
int simi_open_for_write(const char *path, int flags) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags,
                0600);
  if (fd < 0 && errno == EACCES && chmod(path, 0600) == 0)
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0600);
  return fd;
}

int simi_write_all_at(int fd, const char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(fd, buf + done, len - done, (off_t)done);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (w == 0)
      return -EIO;
    done += (size_t)w;
  }
  return 0;
}

int simi_write_file(sim_machine_t *m, const char *dir, const char *name,
                      const char *content, mode_t mode) {
  char *path;
  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return simi_build_fail(m, ENOMEM, "%s/%s", dir, name);
  int fd = simi_open_for_write(path, O_TRUNC);
  int r = 0;
  if (fd < 0) {
    r = simi_build_fail(m, errno, "cannot create %s", path);
  } else {
    int w = simi_write_all_at(fd, content, strlen(content));
    if (w != 0)
      r = simi_build_fail(m, -w, "cannot write %s", path);
    else if (fchmod(fd, mode) != 0)
      r = simi_build_fail(m, errno, "cannot chmod %s", path);
    if (close(fd) != 0 && r == 0)
      r = simi_build_fail(m, errno, "cannot write %s", path);
  }
  free(path);
  return r;
}

int simi_write_u64_file(sim_machine_t *m, const char *dir, const char *name,
                          uint64_t v, mode_t mode) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
  return simi_write_file(m, dir, name, buf, mode);
}

/* Create (or keep, if it already says the same) a symlink. */
int simi_make_link(sim_machine_t *m, const char *target, const char *path) {
  if (symlink(target, path) == 0)
    return 0;
  if (errno != EEXIST)
    return simi_build_fail(m, errno, "cannot create symlink %s", path);
  struct stat st;
  if (lstat(path, &st) != 0)
    return simi_build_fail(m, errno, "cannot stat %s", path);
  if (S_ISLNK(st.st_mode)) {
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n >= 0) {
      buf[n] = '\0';
      if (strcmp(buf, target) == 0)
        return 0;
    }
  } else if (S_ISDIR(st.st_mode)) {
    return simi_build_fail(m, EEXIST, "%s is a directory, expected a symlink",
                      path);
  }
  if (unlink(path) != 0)
    return simi_build_fail(m, errno, "cannot replace %s", path);
  if (symlink(target, path) != 0)
    return simi_build_fail(m, errno, "cannot create symlink %s", path);
  return 0;
}

/* Link `name` inside `dir` pointing at `target`. */
int simi_link_in(sim_machine_t *m, const char *dir, const char *name,
                   const char *target) {
  char *path;
  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return simi_build_fail(m, ENOMEM, "%s/%s", dir, name);
  int r = simi_make_link(m, target, path);
  free(path);
  return r;
}

/* "../" repeated n times followed by tail. */
char *simi_updirs(size_t n, const char *tail) {
  size_t tl = strlen(tail);
  char *s = malloc(3 * n + tl + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    memcpy(s + 3 * i, "../", 3);
  memcpy(s + 3 * n, tail, tl + 1);
  return s;
}

size_t simi_path_depth(const char *rel) {
  size_t d = 1;
  for (const char *p = rel; *p; p++)
    d += (*p == '/');
  return d;
}

/* Create each of the directories root/rel[i], in order. */
int simi_make_dirs(sim_machine_t *m, const char *const *rel, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *p;
    if (asprintf(&p, "%s/%s", m->root, rel[i]) < 0)
      return simi_build_fail(m, ENOMEM, "%s", rel[i]);
    int r = simi_make_dir(m, p);
    free(p);
    if (r != 0)
      return r;
  }
  return 0;
}

