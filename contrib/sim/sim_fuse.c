/*
 * sim_fuse.c - the MSR device and the powercap tree of a simulated machine
 * as FUSE file systems (see sim_fuse.h).  libfuse3 high-level API; each
 * mount's loop runs in its own thread while the caller advances the
 * counters (and sets faults) under a shared mutex.
 *
 * MSR device.
 * What the kernel's msr driver does, and this copies (REFERENCE.md 2.1,
 * arch/x86/kernel/msr.c):
 *   - one device per online CPU: /dev/cpu/N/msr;
 *   - the file offset is the register number (reg = *ppos, 32 bits);
 *   - a read must be a multiple of 8 bytes (EINVAL otherwise); each 8 bytes
 *     is the register, little-endian;
 *   - a register the CPU does not implement gives EIO.
 * Unlike the driver it cannot be written: open for writing, write and
 * truncate give EPERM (the plugin must never write an MSR).  Files are
 * regular files of size 0 served with direct_io, so every read reaches
 * this process and the page cache never returns a stale counter.  And
 * read() (not pread) advances the file position as on any FUSE file,
 * where the driver leaves it: readers should use pread, as rapl-read does.
 *
 * Powercap tree.  Mounted over ROOT/sys/devices/virtual/powercap after
 * sim_build made the regular-file tree there: a directory fd opened before
 * the mount still reaches the regular files underneath, and every
 * directory, mode, size, symlink and content is served from them, so both
 * views are the same tree.  Except, from the sim_machine state under the
 * lock, at the time of each request:
 *   - energy_uj: the counter's "value\n" (sim_zone_energy_text: faults
 *     give EIO, EAGAIN, ENODATA, EACCES, "garbage\n" or nothing), st_size
 *     its length;
 *   - max_energy_range_uj: sim_zone_range_text (a value, or EIO);
 *   - vanished zones (and all their sub-zones; every control type after a
 *     vanish-all) are absent from lookup and readdir; reads on descriptors
 *     opened before the node was removed give ENODEV (kernfs:
 *     kernfs_fop_read_iter on a deactivated node), even after it came back
 *     (sim_zone_generation differs: a new node).
 * Entry, attribute and negative timeouts are 0 and every file is direct_io,
 * so nothing is answered from a kernel cache.  Mounted with
 * default_permissions (and allow_other when root), so the kernel checks
 * the modes as it does in sysfs: energy_uj 0400 is root's only.  Writing
 * is not simulated: an open for writing gives EACCES on a file without
 * write bits (kernfs) and EPERM otherwise; mkdir, unlink... EPERM.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define FUSE_USE_VERSION 31

#include "sim_fuse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sim_fuse {
  const sim_machine_t *m;
  pthread_mutex_t *lock;
  struct fuse *fuse;
  char *mountpoint;
  pthread_t thread;
  int thread_started;
  int mounted;
  time_t t0;
  int base_fd; /* powercap: the directory under the mount, else -1 */
  /* Brings the counters to the present before a counter is read (lock
   * held), so a value never lags behind a starved advancing loop. */
  void (*refresh)(void *arg);
  void *refresh_arg;
};

void sim_fuse_set_refresh(sim_fuse_t *f, void (*refresh)(void *arg),
                          void *arg) {
  pthread_mutex_lock(f->lock);
  f->refresh = refresh;
  f->refresh_arg = arg;
  pthread_mutex_unlock(f->lock);
}

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t len, const char *fmt, ...) {
  if (err == NULL || len == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

static struct sim_fuse *self(void) {
  return fuse_get_context()->private_data;
}

/* ---- paths: "/", "/N", "/N/msr" for online CPUs N ---------------------- */

enum { P_ROOT, P_CPU_DIR, P_MSR };

static int parse_path(const struct sim_fuse *f, const char *path,
                      unsigned *cpu) {
  if (strcmp(path, "/") == 0)
    return P_ROOT;
  if (path[0] != '/' || path[1] < '0' || path[1] > '9' ||
      (path[1] == '0' && path[2] >= '0' && path[2] <= '9'))
    return -ENOENT;
  char *end;
  errno = 0;
  unsigned long n = strtoul(path + 1, &end, 10);
  if (errno != 0 || n > UINT_MAX || !sim_cpu_online(f->m, (unsigned)n))
    return -ENOENT; /* topology is fixed: no lock needed */
  *cpu = (unsigned)n;
  if (*end == '\0')
    return P_CPU_DIR;
  if (strcmp(end, "/msr") == 0)
    return P_MSR;
  return -ENOENT;
}

static int fs_getattr(const char *path, struct stat *st,
                      struct fuse_file_info *fi) {
  (void)fi;
  struct sim_fuse *f = self();
  unsigned cpu;
  int kind = parse_path(f, path, &cpu);
  if (kind < 0)
    return kind;
  memset(st, 0, sizeof(*st));
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_atime = st->st_mtime = st->st_ctime = f->t0;
  if (kind == P_MSR) {
    st->st_mode = S_IFREG | 0600; /* the driver's crw------- root */
    st->st_nlink = 1;
  } else {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
  }
  return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
                      off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  struct sim_fuse *f = self();
  unsigned cpu;
  int kind = parse_path(f, path, &cpu);
  if (kind < 0)
    return kind;
  if (kind == P_MSR)
    return -ENOTDIR;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  if (kind == P_CPU_DIR) {
    fill(buf, "msr", NULL, 0, 0);
    return 0;
  }
  for (size_t n = 0; n < sim_cpu_count(f->m); n++) {
    if (!sim_cpu_online(f->m, (unsigned)n))
      continue;
    char name[24];
    snprintf(name, sizeof(name), "%zu", n);
    if (fill(buf, name, NULL, 0, 0) != 0)
      break;
  }
  return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
  unsigned cpu;
  int kind = parse_path(self(), path, &cpu);
  if (kind < 0)
    return kind;
  if (kind != P_MSR)
    return -EISDIR;
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    return -EPERM; /* read-only device: the plugin never writes an MSR */
  fi->direct_io = 1; /* values change every ms: no page cache */
  fi->keep_cache = 0;
  fi->fh = cpu;
  return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi) {
  (void)path;
  struct sim_fuse *f = self();
  /* msr.c msr_read(): "if (count % 8) return -EINVAL"; reg = *ppos (u32) */
  if (size % 8 != 0)
    return -EINVAL;
  uint32_t reg = (uint32_t)off;
  uint64_t v = 0;
  pthread_mutex_lock(f->lock);
  if (f->refresh != NULL)
    f->refresh(f->refresh_arg);
  int r = sim_msr_read(f->m, (unsigned)fi->fh, reg, &v);
  pthread_mutex_unlock(f->lock);
  if (r != 0)
    return r; /* -EIO: not implemented, as rdmsr_safe_on_cpu gives */
  for (size_t i = 0; i < size; i++) /* each 8 bytes: the same register */
    buf[i] = (char)(unsigned char)(v >> (8 * (i % 8)));
  return (int)size;
}

/* Everything that would change the tree. */
static int fs_write(const char *path, const char *buf, size_t size,
                    off_t off, struct fuse_file_info *fi) {
  (void)path, (void)buf, (void)size, (void)off, (void)fi;
  return -EPERM;
}
static int fs_truncate(const char *path, off_t size,
                       struct fuse_file_info *fi) {
  (void)path, (void)size, (void)fi;
  return -EPERM;
}
static int fs_create(const char *path, mode_t mode,
                     struct fuse_file_info *fi) {
  (void)path, (void)mode, (void)fi;
  return -EPERM;
}
static int fs_mknod(const char *path, mode_t mode, dev_t dev) {
  (void)path, (void)mode, (void)dev;
  return -EPERM;
}
static int fs_mkdir(const char *path, mode_t mode) {
  (void)path, (void)mode;
  return -EPERM;
}
static int fs_unlink(const char *path) {
  (void)path;
  return -EPERM;
}
static int fs_rename(const char *from, const char *to, unsigned int flags) {
  (void)from, (void)to, (void)flags;
  return -EPERM;
}
static int fs_link(const char *from, const char *to) {
  (void)from, (void)to;
  return -EPERM;
}
static int fs_chmod(const char *path, mode_t mode,
                    struct fuse_file_info *fi) {
  (void)path, (void)mode, (void)fi;
  return -EPERM;
}
static int fs_chown(const char *path, uid_t uid, gid_t gid,
                    struct fuse_file_info *fi) {
  (void)path, (void)uid, (void)gid, (void)fi;
  return -EPERM;
}
static int fs_utimens(const char *path, const struct timespec tv[2],
                      struct fuse_file_info *fi) {
  (void)path, (void)tv, (void)fi;
  return -EPERM;
}

/* Both mounts: no page cache (values change every millisecond), with
 * lookups cached for `timeout_s`. */
static void *init_uncached(struct fuse_config *cfg, double timeout_s) {
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->auto_cache = 0;
  cfg->use_ino = 0;
  cfg->entry_timeout = timeout_s;
  cfg->attr_timeout = timeout_s;
  cfg->negative_timeout = 0;
  return fuse_get_context()->private_data;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  return init_uncached(cfg, 1.0);
}

static const struct fuse_operations ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .truncate = fs_truncate,
    .create = fs_create,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_unlink,
    .rename = fs_rename,
    .link = fs_link,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .utimens = fs_utimens,
};

/* ---- the powercap tree -------------------------------------------------- */

enum { N_PLAIN, N_ENERGY, N_RANGE };

typedef struct {
  int kind;  /* N_* */
  long zone; /* the deepest zone whose directory holds the node, or -1 */
} pc_node_t;

/* An open file. */
typedef struct {
  int kind;
  long zone;
  unsigned gen; /* sim_zone_generation (zone >= 0) / sim_powercap_generation */
  int fd;       /* N_PLAIN: the regular file underneath */
} pc_handle_t;

/* "/a/b" -> "a/b", "/" -> "." (relative to base_fd) */
static const char *rel_of(const char *path) {
  return path[0] == '/' && path[1] != '\0' ? path + 1 : ".";
}

/* What `path` is and whether it is visible now: 0, or -ENOENT when it (or
 * a directory above it) has vanished.  Call with the lock held. */
static int pc_lookup(const struct sim_fuse *f, const char *path,
                     pc_node_t *n) {
  const sim_machine_t *m = f->m;
  n->kind = N_PLAIN;
  n->zone = -1;
  if (strcmp(path, "/") == 0)
    return 0;
  if (sim_powercap_all_vanished(m))
    return -ENOENT; /* the mount is an empty directory */
  size_t best_len = 0;
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    const char *zp = sim_zone_path(m, i);
    size_t l = strlen(zp);
    if (l > best_len && strncmp(path + 1, zp, l) == 0 &&
        (path[1 + l] == '\0' || path[1 + l] == '/')) {
      n->zone = (long)i;
      best_len = l;
    }
  }
  if (n->zone < 0)
    return 0;
  if (!sim_zone_present(m, (size_t)n->zone))
    return -ENOENT;
  const char *rest = path + 1 + best_len;
  if (strcmp(rest, "/energy_uj") == 0)
    n->kind = N_ENERGY;
  else if (strcmp(rest, "/max_energy_range_uj") == 0)
    n->kind = N_RANGE;
  return 0;
}

/* The computed text of an N_ENERGY / N_RANGE node (lock held): length or
 * -errno. */
static int pc_text(const struct sim_fuse *f, const pc_node_t *n, char *buf,
                   size_t len) {
  return n->kind == N_ENERGY
             ? sim_zone_energy_text(f->m, (size_t)n->zone, buf, len)
             : sim_zone_range_text(f->m, (size_t)n->zone, buf, len);
}

static int pc_getattr(const char *path, struct stat *st,
                      struct fuse_file_info *fi) {
  struct sim_fuse *f = self();
  pc_node_t n;
  char text[64];
  pthread_mutex_lock(f->lock);
  int r = pc_lookup(f, path, &n);
  if (r != 0 && fi != NULL && fi->fh != 0) { /* fstat of a removed node */
    const pc_handle_t *h = (const pc_handle_t *)(uintptr_t)fi->fh;
    n.kind = h->kind;
    n.zone = h->zone;
    r = 0;
  }
  long size = -1;
  if (r == 0 && n.kind != N_PLAIN) {
    size = pc_text(f, &n, text, sizeof(text));
    if (size < 0) /* a read error: the size of the real value */
      size = snprintf(text, sizeof(text), "%" PRIu64 "\n",
                      n.kind == N_ENERGY
                          ? sim_zone_energy_uj(f->m, (size_t)n.zone)
                          : sim_zone_max_range_uj(f->m, (size_t)n.zone));
  }
  pthread_mutex_unlock(f->lock);
  if (r != 0)
    return r;
  if (fstatat(f->base_fd, rel_of(path), st,
              AT_SYMLINK_NOFOLLOW) != 0)
    return -errno;
  if (size >= 0)
    st->st_size = (off_t)size;
  return 0;
}

static int pc_readlink(const char *path, char *buf, size_t size) {
  struct sim_fuse *f = self();
  pc_node_t n;
  pthread_mutex_lock(f->lock);
  int r = pc_lookup(f, path, &n);
  pthread_mutex_unlock(f->lock);
  if (r != 0)
    return r;
  if (size == 0)
    return -EINVAL;
  ssize_t l = readlinkat(f->base_fd, rel_of(path), buf, size - 1);
  if (l < 0)
    return -errno;
  buf[l] = '\0';
  return 0;
}

static int pc_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
                      off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  struct sim_fuse *f = self();
  pc_node_t n;
  pthread_mutex_lock(f->lock);
  int r = pc_lookup(f, path, &n);
  pthread_mutex_unlock(f->lock);
  if (r != 0)
    return r;
  int fd = openat(f->base_fd, rel_of(path),
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -errno;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    r = -errno;
    close(fd);
    return r;
  }
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  size_t plen = strlen(path);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char *child;
    if (asprintf(&child, "%s/%s", plen > 1 ? path : "", e->d_name) < 0) {
      r = -ENOMEM;
      break;
    }
    pthread_mutex_lock(f->lock);
    int visible = pc_lookup(f, child, &n) == 0;
    pthread_mutex_unlock(f->lock);
    free(child);
    if (visible && fill(buf, e->d_name, NULL, 0, 0) != 0)
      break;
  }
  closedir(d);
  return r;
}

static int pc_open(const char *path, struct fuse_file_info *fi) {
  struct sim_fuse *f = self();
  pc_node_t n;
  pthread_mutex_lock(f->lock);
  int r = pc_lookup(f, path, &n);
  unsigned gen = n.zone >= 0 ? sim_zone_generation(f->m, (size_t)n.zone)
                             : sim_powercap_generation(f->m);
  pthread_mutex_unlock(f->lock);
  if (r != 0)
    return r;
  struct stat st;
  if (fstatat(f->base_fd, rel_of(path), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return -errno;
  if (S_ISDIR(st.st_mode))
    return -EISDIR;
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    /* kernfs_fop_open: EACCES without write permission in the mode; the
     * writable attributes are not simulated */
    return (st.st_mode & 0222) == 0 ? -EACCES : -EPERM;
  pc_handle_t *h = malloc(sizeof(*h));
  if (h == NULL)
    return -ENOMEM;
  h->kind = n.kind;
  h->zone = n.zone;
  h->gen = gen;
  h->fd = -1;
  if (n.kind == N_PLAIN) {
    h->fd = openat(f->base_fd, rel_of(path),
                   O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (h->fd < 0) {
      r = -errno;
      free(h);
      return r;
    }
  }
  fi->fh = (uint64_t)(uintptr_t)h;
  fi->direct_io = 1; /* energy_uj changes every ms: no page cache */
  fi->keep_cache = 0;
  return 0;
}

static int pc_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi) {
  (void)path;
  struct sim_fuse *f = self();
  const pc_handle_t *h = (const pc_handle_t *)(uintptr_t)fi->fh;
  const sim_machine_t *m = f->m;
  char text[64];
  int len = 0;
  pthread_mutex_lock(f->lock);
  int alive = h->zone >= 0
                  ? sim_zone_present(m, (size_t)h->zone) &&
                        sim_zone_generation(m, (size_t)h->zone) == h->gen
                  : !sim_powercap_all_vanished(m) &&
                        sim_powercap_generation(m) == h->gen;
  if (alive && h->kind != N_PLAIN) {
    const pc_node_t n = {h->kind, h->zone};
    if (h->kind == N_ENERGY && f->refresh != NULL)
      f->refresh(f->refresh_arg);
    len = pc_text(f, &n, text, sizeof(text));
  }
  pthread_mutex_unlock(f->lock);
  if (!alive)
    return -ENODEV; /* kernfs: the node was removed */
  if (h->kind == N_PLAIN) {
    ssize_t got = pread(h->fd, buf, size, off);
    return got < 0 ? -errno : (int)got;
  }
  if (len < 0)
    return len; /* a fault */
  if (len > (int)sizeof(text) - 1)
    len = (int)sizeof(text) - 1;
  if (off < 0 || off >= len)
    return 0;
  size_t n = (size_t)(len - off) < size ? (size_t)(len - off) : size;
  memcpy(buf, text + off, n);
  return (int)n;
}

static int pc_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  pc_handle_t *h = (pc_handle_t *)(uintptr_t)fi->fh;
  if (h != NULL) {
    if (h->fd >= 0)
      close(h->fd);
    free(h);
  }
  fi->fh = 0;
  return 0;
}

static void *pc_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  return init_uncached(cfg, 0); /* a vanish or a return shows at once */
}

static const struct fuse_operations pc_ops = {
    .init = pc_init,
    .getattr = pc_getattr,
    .readlink = pc_readlink,
    .readdir = pc_readdir,
    .open = pc_open,
    .read = pc_read,
    .release = pc_release,
    .write = fs_write,
    .truncate = fs_truncate,
    .create = fs_create,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_unlink,
    .rename = fs_rename,
    .link = fs_link,
    .symlink = fs_link,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .utimens = fs_utimens,
};

/* ---- thread -------------------------------------------------------------- */

static void on_wake(int sig) { (void)sig; }

static void *loop_main(void *arg) {
  struct sim_fuse *f = arg;
  fuse_loop(f->fuse); /* returns on fuse_exit + SIGUSR1, or unmount */
  return NULL;
}

/* NULL when, in a child process, `mountpoint` is on another device than
 * its parent directory (the mount is there and answers) and, when file is
 * not NULL, stat(file) finds a regular file.  The child reports through a
 * pipe and waits to be killed (SIGKILL from here), so that a valgrind
 * running this process neither checks the forked copy for leaks (the FUSE
 * threads are not in it) nor changes its exit status. */
static const char *probe_mount(const char *mountpoint, const char *file) {
  char *up;
  int pfd[2];
  if (asprintf(&up, "%s/..", mountpoint) < 0)
    return "out of memory";
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    free(up);
    return "pipe failed";
  }
  pid_t pid = fork();
  if (pid < 0) {
    free(up);
    close(pfd[0]);
    close(pfd[1]);
    return "fork failed";
  }
  if (pid == 0) {
    struct stat st, parent;
    char code = '0';
    if (stat(mountpoint, &st) != 0 || stat(up, &parent) != 0)
      code = '1';
    else if (st.st_dev == parent.st_dev)
      code = '2';
    else if (file != NULL && (stat(file, &st) != 0 || !S_ISREG(st.st_mode)))
      code = '3';
    if (write(pfd[1], &code, 1) == 1)
      sleep(10); /* until killed */
    _exit(1);
  }
  free(up);
  close(pfd[1]);
  const char *why = "no answer within 10 s";
  for (int i = 0; i < 1000; i++) {
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    int r = poll(&p, 1, 10);
    if (r < 0 && errno != EINTR) {
      why = "poll failed";
      break;
    }
    if (r <= 0)
      continue;
    char code = 0;
    ssize_t got = read(pfd[0], &code, 1);
    if (got < 0 && errno == EINTR)
      continue;
    why = got != 1       ? "the probe process died"
          : code == '0' ? NULL
          : code == '2' ? "nothing is mounted there"
          : code == '3' ? "no regular file there"
                        : "cannot stat it";
    break;
  }
  kill(pid, SIGKILL); /* done, or stuck: a FUSE request wait is killable */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  close(pfd[0]);
  return why;
}

static void free_fuse(struct sim_fuse *f) {
  if (f->fuse != NULL) {
    if (f->mounted)
      fuse_unmount(f->fuse);
    fuse_destroy(f->fuse);
  }
  if (f->base_fd >= 0)
    close(f->base_fd);
  free(f->mountpoint);
  free(f);
}

/* Mount ops at mountpoint with the -o options opts, serve it from a thread
 * and wait until probe_mount(mountpoint, probe) succeeds.  base_fd (or -1)
 * is owned by the result from now on. */
static sim_fuse_t *start_fs(const sim_machine_t *m, pthread_mutex_t *lock,
                            const char *mountpoint,
                            const struct fuse_operations *o,
                            const char *opts, int base_fd, const char *probe,
                            char *err, size_t err_len) {
  struct sim_fuse *f = calloc(1, sizeof(*f));
  if (f == NULL || (f->mountpoint = strdup(mountpoint)) == NULL) {
    free(f);
    if (base_fd >= 0)
      close(base_fd);
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  f->m = m;
  f->lock = lock;
  f->t0 = time(NULL);
  f->base_fd = base_fd;

  char a0[] = "rapl-sim", a1[] = "-o", *a2 = strdup(opts);
  if (a2 == NULL) {
    set_err(err, err_len, "out of memory");
    free_fuse(f);
    return NULL;
  }
  char *argv[] = {a0, a1, a2, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, argv);
  f->fuse = fuse_new(&args, o, sizeof(*o), f);
  fuse_opt_free_args(&args);
  free(a2);
  if (f->fuse == NULL) {
    set_err(err, err_len, "fuse_new failed");
    free_fuse(f);
    return NULL;
  }
  if (fuse_mount(f->fuse, mountpoint) != 0) {
    set_err(err, err_len, "cannot mount FUSE at %s (needs /dev/fuse and "
            "root or fusermount3)", mountpoint);
    free_fuse(f);
    return NULL;
  }
  f->mounted = 1;

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_wake;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: interrupt the read of /dev/fuse */
  sigaction(SIGUSR1, &sa, NULL);
  /* SIGINT/SIGTERM go to the main thread only; SIGUSR1 to this one. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int r = pthread_create(&f->thread, NULL, loop_main, f);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    set_err(err, err_len, "pthread_create: %s", strerror(r));
    free_fuse(f);
    return NULL;
  }
  f->thread_started = 1;

  /* Live only when a request goes through: stat from a child, so that
   * nothing in this process (a debugger, valgrind's scheduler lock) can
   * keep the FUSE thread from answering; give up after 10 s. */
  const char *why = probe_mount(mountpoint, probe);
  if (why != NULL) {
    set_err(err, err_len, "the FUSE mount at %s does not answer: %s",
            mountpoint, why);
    sim_fuse_stop(f);
    return NULL;
  }
  return f;
}

sim_fuse_t *sim_fuse_start(const sim_machine_t *m, pthread_mutex_t *lock,
                           const char *mountpoint, char *err,
                           size_t err_len) {
  if (sim_cpu_count(m) == 0 || !sim_has_msr(m)) {
    set_err(err, err_len, "the machine has no cpu and msr sections");
    return NULL;
  }
  size_t first = 0;
  while (!sim_cpu_online(m, (unsigned)first))
    first++;
  char *probe;
  if (asprintf(&probe, "%s/%zu/msr", mountpoint, first) < 0) {
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  sim_fuse_t *f = start_fs(m, lock, mountpoint, &ops,
                           "fsname=rapl-sim,subtype=rapl-sim-msr", -1, probe,
                           err, err_len);
  free(probe);
  return f;
}

sim_fuse_t *sim_fuse_start_powercap(const sim_machine_t *m,
                                    pthread_mutex_t *lock,
                                    const char *mountpoint, char *err,
                                    size_t err_len) {
  int base = open(mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (base < 0) {
    set_err(err, err_len, "cannot open %s: %s", mountpoint, strerror(errno));
    return NULL;
  }
  char *probe = NULL; /* the first zone's energy_uj, if there is a zone */
  if (sim_zone_count(m) > 0 &&
      asprintf(&probe, "%s/%s/energy_uj", mountpoint, sim_zone_path(m, 0)) <
          0) {
    close(base);
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  /* default_permissions: the kernel checks the modes (energy_uj 0400);
   * allow_other: others may read what the modes allow, as in sysfs (only
   * root may give it without user_allow_other in /etc/fuse.conf). */
  sim_fuse_t *f = start_fs(
      m, lock, mountpoint, &pc_ops,
      geteuid() == 0 ? "fsname=rapl-sim,subtype=rapl-sim-powercap,"
                       "default_permissions,allow_other"
                     : "fsname=rapl-sim,subtype=rapl-sim-powercap,"
                       "default_permissions",
      base, probe, err, err_len);
  free(probe);
  return f;
}

void sim_fuse_stop(sim_fuse_t *f) {
  if (f == NULL)
    return;
  if (f->thread_started) {
    /* fuse_exit sets the flag; SIGUSR1 makes the blocked read of
     * /dev/fuse return EINTR so the loop sees it.  Repeat in case the
     * signal came just before the read. */
    fuse_exit(f->fuse);
    int joined = 0;
    for (int i = 0; i < 50 && !joined; i++) {
      pthread_kill(f->thread, SIGUSR1);
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 20000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      joined = pthread_timedjoin_np(f->thread, NULL, &ts) == 0;
    }
    if (!joined) { /* unmounting ends the connection: the read gives ENODEV */
      fuse_unmount(f->fuse);
      f->mounted = 0;
      pthread_join(f->thread, NULL);
    }
    f->thread_started = 0;
  }
  free_fuse(f); /* fuse_unmount + fuse_destroy */
}
