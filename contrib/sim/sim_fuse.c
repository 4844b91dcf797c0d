/*
 * sim_fuse.c - the MSR device of a simulated machine as a FUSE file system
 * (see sim_fuse.h).  libfuse3 high-level API; the loop runs in its own
 * thread while the caller advances the counters under a shared mutex.
 *
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
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define FUSE_USE_VERSION 31

#include "sim_fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
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
};

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

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->auto_cache = 0;
  cfg->use_ino = 0;
  cfg->entry_timeout = 1.0;
  cfg->attr_timeout = 1.0;
  cfg->negative_timeout = 0;
  return fuse_get_context()->private_data;
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

/* ---- thread -------------------------------------------------------------- */

static void on_wake(int sig) { (void)sig; }

static void *loop_main(void *arg) {
  struct sim_fuse *f = arg;
  fuse_loop(f->fuse); /* returns on fuse_exit + SIGUSR1, or unmount */
  return NULL;
}

/* NULL when stat(path) in a child process finds a regular file. */
static const char *probe_mount(const char *path) {
  pid_t pid = fork();
  if (pid < 0)
    return "fork failed";
  if (pid == 0) {
    struct stat st;
    _exit(stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 0 : 1);
  }
  for (int i = 0; i < 1000; i++) {
    int status;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      return WIFEXITED(status) && WEXITSTATUS(status) == 0
                 ? NULL
                 : "no regular file there";
    if (w < 0 && errno != EINTR)
      return "waitpid failed";
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL); /* a FUSE request wait is killable */
  waitpid(pid, NULL, 0);
  return "no answer within 10 s";
}

static void free_fuse(struct sim_fuse *f) {
  if (f->fuse != NULL) {
    if (f->mounted)
      fuse_unmount(f->fuse);
    fuse_destroy(f->fuse);
  }
  free(f->mountpoint);
  free(f);
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
  struct sim_fuse *f = calloc(1, sizeof(*f));
  if (f == NULL || (f->mountpoint = strdup(mountpoint)) == NULL) {
    free(f);
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  f->m = m;
  f->lock = lock;
  f->t0 = time(NULL);

  char a0[] = "rapl-sim", a1[] = "-o",
       a2[] = "fsname=rapl-sim,subtype=rapl-sim-msr";
  char *argv[] = {a0, a1, a2, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, argv);
  f->fuse = fuse_new(&args, &ops, sizeof(ops), f);
  fuse_opt_free_args(&args);
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

  /* Live only when a request goes through: stat the first CPU's msr from
   * a child, so that nothing in this process (a debugger, valgrind's
   * scheduler lock) can keep the FUSE thread from answering; give up after
   * 10 s. */
  char *probe;
  if (asprintf(&probe, "%s/%zu/msr", mountpoint, first) < 0) {
    set_err(err, err_len, "out of memory");
    sim_fuse_stop(f);
    return NULL;
  }
  const char *why = probe_mount(probe);
  free(probe);
  if (why != NULL) {
    set_err(err, err_len, "the FUSE mount at %s does not answer: %s",
            mountpoint, why);
    sim_fuse_stop(f);
    return NULL;
  }
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
