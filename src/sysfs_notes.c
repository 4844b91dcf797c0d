/* sysfs_notes.c - what the sysfs-discovering sources share (see the header:
 * one copy for powercap.c and hwmon.c, which had one each). */
#include "sysfs_notes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rapl_log.h"

void rapl_note(rapl_notes_t *notes, const char *format, ...) {
  if (notes == NULL)
    return;
  if (notes->count == RAPL_MAX_NOTES) {
    notes->dropped++;
    return;
  }
  va_list ap;
  va_start(ap, format);
  /* clang-analyzer 14 misreads va_start here (valist.Uninitialized) */
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
  vsnprintf(notes->text[notes->count++], sizeof(notes->text[0]), format, ap);
  va_end(ap);
}

void rapl_notes_log(const rapl_notes_t *notes, const char *prefix) {
  for (size_t i = 0; i < notes->count; i++)
    rapl_log(RAPL_LOG_WARNING, "%s: %s", prefix, notes->text[i]);
  if (notes->dropped)
    rapl_log(RAPL_LOG_WARNING, "%s: %zu more problems not shown", prefix,
             notes->dropped);
}

void rapl_notes_append(const rapl_notes_t *notes, char *why, size_t why_len,
                       int len) {
  for (size_t i = 0; i < notes->count && len > 0 && (size_t)len < why_len;
       i++)
    len += snprintf(why + len, why_len - (size_t)len, "; %s", notes->text[i]);
}

const char *rapl_describe_errno(int err) {
  switch (err) {
  case ENOENT:
    return "not present";
  case EACCES:
  case EPERM:
    return "permission denied";
  case EINVAL:
    return "not a number";
  default:
    return strerror(err);
  }
}

bool rapl_errno_gone(int err) {
  /* kernfs answers ENODEV on a descriptor of a removed node */
  return err == ENODEV || err == ENOENT || err == ESTALE || err == ENXIO;
}

ssize_t rapl_read_small_file(const char *path, int flags, char *buf,
                             size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0)
    return -errno;
  ssize_t n = pread(fd, buf, size - 1, 0);
  int saved = errno;
  close(fd);
  if (n < 0)
    return -saved;
  buf[n] = '\0';
  return n;
}

char *rapl_make_listing(const char *dir, const char *(*entry)(const void *list,
                                                               size_t i),
                        bool (*attached)(const void *list, size_t i),
                        const void *list, size_t count) {
  size_t len = 1;
  for (size_t i = 0; i < count; i++)
    len += strlen(entry(list, i)) + 3;
  char *text = malloc(len), *p = text;
  if (text == NULL)
    return NULL;
  for (size_t i = 0; i < count; i++) {
    const char *name = entry(list, i);
    bool there = attached != NULL && attached(list, i);
    if (!there) {
      char path[PATH_MAX];
      struct stat st;
      int w = snprintf(path, sizeof(path), "%s/%s", dir, name);
      there = w > 0 && (size_t)w < sizeof(path) && stat(path, &st) == 0;
    }
    size_t n = strlen(name);
    memcpy(p, name, n);
    p[n] = ' ';
    p[n + 1] = there ? '+' : '-';
    p[n + 2] = '\n';
    p += n + 3;
  }
  *p = '\0';
  return text;
}

bool rapl_listing_replace(char **stored, char *fresh) {
  bool same = fresh != NULL && *stored != NULL && strcmp(fresh, *stored) == 0;
  free(*stored);
  *stored = fresh;
  return same;
}
