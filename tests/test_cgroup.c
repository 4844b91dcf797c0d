/* test_cgroup.c - the cgroup reader (src/cgroup.c, SPEC 9) on hand-made
 * cgroup v2 trees, on a real cgroup2 mount where the host lets us make a
 * cgroup, and on the simulator's cgroups (contrib/sim/sim_cgroup.c).
 *
 * malloc, calloc and realloc are wrapped (-Wl,--wrap, Makefile.am) to count
 * the allocations a sample makes: none. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "e2e.h"
#include "sim_machine.h"
#include "alloc_count.h"
#include "testutil.h"


/* ---- helpers ------------------------------------------------------------ */

static char *root;

/* creates or rewrites in place (the inode kept) */
static void put_file(const char *path, const char *content) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
  size_t len = strlen(content);
  ck_assert_int_eq(pwrite(fd, content, len, 0), (ssize_t)len);
  ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
  close(fd);
}

static void setup(void) {
  root = make_temp_dir("cgroup");
  char p[4096];
  snprintf(p, sizeof(p), "%s/cgroup.controllers", root);
  put_file(p, "cpuset cpu io memory pids\n");
}

static void teardown(void) {
  rm_tree(root);
  free(root);
  root = NULL;
}

/* mkdir -p root/rel and write its cpu.stat with `usage` */
static void make_cgroup(const char *rel, uint64_t usage) {
  char p[4096];
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  for (char *s = p + strlen(root) + 1; *s != '\0'; s++)
    if (*s == '/') {
      *s = '\0';
      (void)mkdir(p, 0755);
      *s = '/';
    }
  ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p,
                strerror(errno));
  char text[256];
  snprintf(text, sizeof(text),
           "usage_usec %" PRIu64 "\nuser_usec %" PRIu64
           "\nsystem_usec %" PRIu64 "\nnr_periods 0\nnr_throttled 0\n"
           "throttled_usec 0\nnr_bursts 0\nburst_usec 0\n",
           usage, usage - usage / 4, usage / 4);
  snprintf(p, sizeof(p), "%s/%s/cpu.stat", root, rel);
  put_file(p, text);
}

static void remove_cgroup(const char *rel) {
  char p[4096];
  snprintf(p, sizeof(p), "%s/%s/cpu.stat", root, rel);
  ck_assert_int_eq(unlink(p), 0);
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  ck_assert_int_eq(rmdir(p), 0);
}

static rapl_cgroups_t *open_set(const char *const *globs, size_t n) {
  char why[1024] = "";
  rapl_cgroups_t *set =
      rapl_cgroups_open(root, (char *const *)globs, n, why, sizeof(why));
  ck_assert_msg(set != NULL, "open failed: %s", why);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  return set;
}

/* the entry with this path, or NULL */
static const rapl_cgroup_t *find(const rapl_cgroups_t *set, const char *path) {
  for (size_t i = 0; i < rapl_cgroups_count(set); i++)
    if (strcmp(rapl_cgroups_get(set, i)->path, path) == 0)
      return rapl_cgroups_get(set, i);
  return NULL;
}

/* read syscalls this process has made (/proc/self/io), or -1 */
static long long syscr(void) {
  FILE *f = fopen("/proc/self/io", "r");
  if (f == NULL)
    return -1;
  char line[128];
  long long v = -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "syscr: %lld", &v) == 1)
      break;
  fclose(f);
  return v;
}

/* ---- open: v2 detection ------------------------------------------------- */

START_TEST(open_accepts_a_v2_root) {
  char why[512] = "";
  char *globs[] = {"system.slice/*.service"};
  rapl_cgroups_t *set = rapl_cgroups_open(root, globs, 1, why, sizeof(why));
  ck_assert_msg(set != NULL, "%s", why);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 0); /* nothing matches yet */
  ck_assert_ptr_null(rapl_cgroups_get(set, 0));
  rapl_cgroups_free(set);
  rapl_cgroups_free(NULL);
}
END_TEST

START_TEST(open_refuses_v1_and_missing_paths_naming_the_option) {
  char why[1024], p[4096], want[4200];
  char *globs[] = {"*"};
  /* a v1 root: a tmpfs of per-controller hierarchies, no
   * cgroup.controllers */
  snprintf(p, sizeof(p), "%s/v1", root);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/v1/cpu,cpuacct", root);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/v1", root);
  ck_assert_ptr_null(rapl_cgroups_open(p, globs, 1, why, sizeof(why)));
  snprintf(want, sizeof(want),
           "CgroupPath: %s is not a cgroup v2 hierarchy (no "
           "cgroup.controllers; cgroup v1 is not supported)",
           p);
  ck_assert_str_eq(why, want);
  /* missing */
  snprintf(p, sizeof(p), "%s/nowhere", root);
  ck_assert_ptr_null(rapl_cgroups_open(p, globs, 1, why, sizeof(why)));
  snprintf(want, sizeof(want), "CgroupPath: %s: does not exist", p);
  ck_assert_str_eq(why, want);
  /* a file */
  snprintf(p, sizeof(p), "%s/cgroup.controllers", root);
  ck_assert_ptr_null(rapl_cgroups_open(p, globs, 1, why, sizeof(why)));
  ck_assert_msg(strstr(why, "CgroupPath: ") == why &&
                    strstr(why, "is not a directory") != NULL,
                "%s", why);
  /* this host's own /sys/fs/cgroup, where it is not v2 (a hybrid or v1
   * host): the same message */
  if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0 &&
      access("/sys/fs/cgroup", F_OK) == 0) {
    ck_assert_ptr_null(
        rapl_cgroups_open("/sys/fs/cgroup", globs, 1, why, sizeof(why)));
    ck_assert_str_eq(why, "CgroupPath: /sys/fs/cgroup is not a cgroup v2 "
                          "hierarchy (no cgroup.controllers; cgroup v1 is "
                          "not supported)");
  }
}
END_TEST

/* ---- rescan: matching, order, parents, identity ------------------------- */

START_TEST(rescan_lists_matching_directories_sorted_with_parents) {
  make_cgroup("system.slice", 1000);
  make_cgroup("system.slice/c.service", 10);
  make_cgroup("system.slice/a.service", 20);
  make_cgroup("system.slice/b.socket", 30);
  make_cgroup("system.slice/a.service/worker", 5);
  make_cgroup("user.slice/user-1000.slice/session-1.scope", 40);
  /* a regular file matching a glob is not a cgroup */
  char p[4096];
  snprintf(p, sizeof(p), "%s/system.slice/d.service", root);
  put_file(p, "not a directory\n");
  const char *globs[] = {"system.slice/*.service", "system.slice",
                         "user.slice/*/*", "system.slice/a.service/*",
                         /* matched twice: listed once */
                         "system.slice/a.*", "nothing/here"};
  rapl_cgroups_t *set = open_set(globs, 6);
  static const char *const want[] = {
      "system.slice", "system.slice/a.service", "system.slice/a.service/worker",
      "system.slice/c.service", "user.slice/user-1000.slice/session-1.scope"};
  static const long want_parent[] = {-1, 0, 1, 0, -1};
  ck_assert_uint_eq(rapl_cgroups_count(set), 5);
  for (size_t i = 0; i < 5; i++) {
    const rapl_cgroup_t *c = rapl_cgroups_get(set, i);
    ck_assert_str_eq(c->path, want[i]);
    ck_assert_int_eq(c->parent, want_parent[i]);
    ck_assert_int_ge(c->fd, 0);
    ck_assert(!c->read_ok); /* not read before the first sample */
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", root, want[i]);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(c->id, (uint64_t)st.st_ino);
  }
  ck_assert_str_eq(rapl_cgroups_get(set, 1)->instance,
                   "cgroup-system.slice_a.service");
  /* the parent is the nearest matched ancestor: with system.slice/a.service
   * unmatched, worker's parent is system.slice */
  rapl_cgroups_free(set);
  const char *globs2[] = {"system.slice", "system.slice/*/worker"};
  set = open_set(globs2, 2);
  ck_assert_uint_eq(rapl_cgroups_count(set), 2);
  ck_assert_str_eq(rapl_cgroups_get(set, 1)->path,
                   "system.slice/a.service/worker");
  ck_assert_int_eq(rapl_cgroups_get(set, 1)->parent, 0);
  rapl_cgroups_free(set);
}
END_TEST

/* Tree order: a directory's descendants right after it, '/' before any
 * other byte ("x", "x/z", "x.y"; byte order would give "x", "x.y", "x/z");
 * every parent is the nearest matched ancestor, as a brute force says. */
START_TEST(rescan_orders_a_tree_and_links_every_parent) {
  static const char *const dirs[] = {
      "x", "x.y", "x/z", "x/z/w", "x/z.q", "x/z/w/v", "x-a", "x/z/w.v",
      "x/z/w/v/u", "y", "y/x", "x/a", "x/a/b"};
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
    make_cgroup(dirs[i], i);
  const char *globs[] = {"*", "x/*", "x/z/*", "x/z/w/v/*", "y/*", "x/a/*"};
  rapl_cgroups_t *set = open_set(globs, 6);
  static const char *const want[] = {"x", "x/a", "x/a/b", "x/z", "x/z/w",
                                     "x/z/w/v/u", "x/z/w.v", "x/z.q", "x-a",
                                     "x.y", "y", "y/x"};
  size_t n = rapl_cgroups_count(set);
  ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < n; i++) {
    const rapl_cgroup_t *c = rapl_cgroups_get(set, i);
    ck_assert_str_eq(c->path, want[i]);
    long brute = -1;
    size_t best = 0;
    for (size_t j = 0; j < n; j++) {
      const char *p = rapl_cgroups_get(set, j)->path;
      size_t len = strlen(p);
      if (j != i && strncmp(p, c->path, len) == 0 && c->path[len] == '/' &&
          (brute < 0 || len > best)) {
        brute = (long)j;
        best = len;
      }
    }
    ck_assert_msg(c->parent == brute, "%s: parent %ld, expected %ld",
                  c->path, c->parent, brute);
  }
  ck_assert_int_eq(find(set, "x/z/w/v/u")->parent, 4); /* x/z/w: v unmatched */
  rapl_cgroups_free(set);
}
END_TEST

START_TEST(rescan_keeps_live_cgroups_and_renews_restarted_ones) {
  make_cgroup("system.slice/a.service", 100);
  make_cgroup("system.slice/b.service", 200);
  const char *globs[] = {"system.slice/*.service"};
  rapl_cgroups_t *set = open_set(globs, 1);
  rapl_cgroups_sample(set);
  uint64_t a_id = find(set, "system.slice/a.service")->id;
  int b_fd = find(set, "system.slice/b.service")->fd;
  uint64_t b_id = find(set, "system.slice/b.service")->id;
  /* a.service restarts: a new directory at the same path. Made before the
   * old one goes, so the file system cannot give it the old inode. */
  make_cgroup("system.slice/a.service.new", 7);
  remove_cgroup("system.slice/a.service");
  char from[4096], to[4096];
  snprintf(from, sizeof(from), "%s/system.slice/a.service.new", root);
  snprintf(to, sizeof(to), "%s/system.slice/a.service", root);
  ck_assert_int_eq(rename(from, to), 0);
  make_cgroup("system.slice/c.service", 300); /* a new one */
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 3);
  const rapl_cgroup_t *a = find(set, "system.slice/a.service");
  const rapl_cgroup_t *b = find(set, "system.slice/b.service");
  const rapl_cgroup_t *c = find(set, "system.slice/c.service");
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_ne(a->id, a_id); /* a new instance */
  ck_assert(!a->read_ok);         /* baselined again at its first read */
  ck_assert_uint_eq(b->id, b_id); /* untouched: same descriptor, value */
  ck_assert_int_eq(b->fd, b_fd);
  ck_assert(b->read_ok);
  ck_assert_uint_eq(b->usage_usec, 200);
  ck_assert(!c->read_ok);
  rapl_cgroups_sample(set);
  ck_assert(a->read_ok);
  ck_assert_uint_eq(a->usage_usec, 7);
  ck_assert_uint_eq(c->usage_usec, 300);
  /* b goes: dropped at the rescan */
  remove_cgroup("system.slice/b.service");
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 2);
  ck_assert_ptr_null(find(set, "system.slice/b.service"));
  rapl_cgroups_free(set);
}
END_TEST

/* CgroupPath holding glob metacharacters is taken literally */
START_TEST(rescan_takes_the_root_literally) {
  char *old = root;
  char p[4096];
  snprintf(p, sizeof(p), "%s/we[ir]d*root", old);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  root = p;
  char f[4200];
  snprintf(f, sizeof(f), "%s/cgroup.controllers", root);
  put_file(f, "cpu\n");
  make_cgroup("a.service", 1);
  const char *globs[] = {"*.service"};
  rapl_cgroups_t *set = open_set(globs, 1);
  ck_assert_uint_eq(rapl_cgroups_count(set), 1);
  ck_assert_str_eq(rapl_cgroups_get(set, 0)->path, "a.service");
  rapl_cgroups_free(set);
  root = old;
}
END_TEST

/* ---- sample ------------------------------------------------------------- */

START_TEST(sample_reads_usage_with_one_pread_each_and_no_allocation) {
  char name[64];
  for (int i = 0; i < 8; i++) {
    snprintf(name, sizeof(name), "system.slice/s%d.service", i);
    make_cgroup(name, 1000000 + (uint64_t)i);
  }
  const char *globs[] = {"system.slice/*.service"};
  rapl_cgroups_t *set = open_set(globs, 1);
  ck_assert_uint_eq(rapl_cgroups_count(set), 8);
  rapl_cgroups_sample(set); /* warm */
  /* read syscalls of a sample: what reading /proc/self/io costs taken
   * out; the fewest of a few tries, since a tool around the test (valgrind
   * reading debug information) may read at any time too */
  long long fewest = -1;
  for (int attempt = 0; attempt < 5 && fewest != 8; attempt++) {
    long long a = syscr(), b = syscr();
    size_t before = allocations;
    rapl_cgroups_sample(set);
    size_t allocated = allocations - before;
    long long c = syscr();
    ck_assert_uint_eq(allocated, 0);
    if (a < 0) /* no CONFIG_TASK_IO_ACCOUNTING: not counted */
      break;
    long long reads = (c - b) - (b - a);
    if (fewest < 0 || reads < fewest)
      fewest = reads;
  }
  /* valgrind's own reads around each system call double the count */
  const char *preload = getenv("LD_PRELOAD");
  if (preload != NULL && strstr(preload, "vgpreload") != NULL)
    fprintf(stderr, "test_cgroup: under valgrind: %lld read syscalls for 8 "
                    "cgroups, not checked\n", fewest);
  else if (fewest >= 0)
    ck_assert_int_eq(fewest, 8);
  for (size_t i = 0; i < 8; i++) {
    const rapl_cgroup_t *cg = rapl_cgroups_get(set, i);
    ck_assert(cg->read_ok);
    ck_assert_uint_eq(cg->usage_usec, 1000000 + i);
  }
  /* written in place, as the kernel shows it: the next sample sees it */
  make_cgroup("system.slice/s3.service", UINT64_C(18446744073709551615));
  rapl_cgroups_sample(set);
  ck_assert_uint_eq(find(set, "system.slice/s3.service")->usage_usec,
                    UINT64_MAX);
  rapl_cgroups_free(set);
}
END_TEST

/* usage_usec need not be the first line, but must be a whole number */
START_TEST(sample_parses_only_a_whole_usage_line) {
  char p[4096];
  const char *globs[] = {"*"};
  make_cgroup("ok", 5);
  make_cgroup("later", 0);
  snprintf(p, sizeof(p), "%s/later/cpu.stat", root);
  put_file(p, "user_usec 1\nusage_usec 42\n");
  make_cgroup("garbage", 0);
  snprintf(p, sizeof(p), "%s/garbage/cpu.stat", root);
  put_file(p, "usage_usec 12x\n");
  make_cgroup("empty", 0);
  snprintf(p, sizeof(p), "%s/empty/cpu.stat", root);
  put_file(p, "");
  make_cgroup("overflow", 0);
  snprintf(p, sizeof(p), "%s/overflow/cpu.stat", root);
  put_file(p, "usage_usec 18446744073709551616\n");
  make_cgroup("prefix", 0);
  snprintf(p, sizeof(p), "%s/prefix/cpu.stat", root);
  put_file(p, "usage_usec_total 3\nusage_usec \n");
  rapl_cgroups_t *set = open_set(globs, 1);
  rapl_cgroups_sample(set);
  ck_assert(find(set, "ok")->read_ok);
  ck_assert(find(set, "later")->read_ok);
  ck_assert_uint_eq(find(set, "later")->usage_usec, 42);
  ck_assert(!find(set, "garbage")->read_ok);
  ck_assert(!find(set, "empty")->read_ok);
  ck_assert(!find(set, "overflow")->read_ok);
  ck_assert(!find(set, "prefix")->read_ok);
  rapl_cgroups_free(set);
}
END_TEST

/* A cgroup gone between the listing and its cpu.stat's open (a regular
 * file tree cannot say ENODEV: see the real cgroup2 test below): no
 * descriptor, not read, no crash, dropped at the next rescan. */
START_TEST(sample_skips_a_cgroup_removed_after_the_listing) {
  make_cgroup("a.service", 5);
  char p[4096];
  snprintf(p, sizeof(p), "%s/b.service", root);
  ck_assert_int_eq(mkdir(p, 0755), 0); /* listed; its cpu.stat is gone */
  const char *globs[] = {"*.service"};
  rapl_cgroups_t *set = open_set(globs, 1);
  ck_assert_uint_eq(rapl_cgroups_count(set), 2);
  ck_assert_int_eq(find(set, "b.service")->fd, -1);
  rapl_cgroups_sample(set);
  ck_assert(find(set, "a.service")->read_ok);
  ck_assert(!find(set, "b.service")->read_ok);
  ck_assert_int_eq(rmdir(p), 0);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 1);
  rapl_cgroups_free(set);
}
END_TEST

/* The kernel's own behaviour where the host lets us make a cgroup: a
 * cgroup2 mount (found in /proc/self/mountinfo) with room for a child.
 * Its cpu.stat's descriptor answers ENODEV once the cgroup is removed. */
static int real_cgroup2_root(char *out, size_t len) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (f == NULL)
    return -1;
  char line[4096];
  int found = -1;
  while (found != 0 && fgets(line, sizeof(line), f) != NULL) {
    char mnt[2048], fstype[64];
    /* id parent maj:min root mountpoint options ... - fstype source ... */
    const char *dash = strstr(line, " - ");
    if (dash == NULL || sscanf(dash, " - %63s", fstype) != 1 ||
        strcmp(fstype, "cgroup2") != 0)
      continue;
    if (sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1)
      continue;
    snprintf(out, len, "%s", mnt);
    found = 0;
  }
  fclose(f);
  return found;
}

/* Where no cgroup2 is mounted, the test mounts one (the tests run as
 * root): a case that cannot run fails, it never passes unrun. */
START_TEST(sample_on_a_real_cgroup2_sees_enodev_after_rmdir) {
  char mnt[2048], dir[2200];
  char own[] = "/tmp/rapl-cgroup2.XXXXXX";
  bool mounted_here = false;
  if (real_cgroup2_root(mnt, sizeof(mnt)) != 0) {
    ck_assert_msg(mkdtemp(own) != NULL, "mkdtemp: %s", strerror(errno));
    ck_assert_msg(mount("cgroup2", own, "cgroup2", 0, NULL) == 0,
                  "no cgroup2 mount, and mounting one at %s failed: %s", own,
                  strerror(errno));
    snprintf(mnt, sizeof(mnt), "%s", own);
    mounted_here = true;
  }
  snprintf(dir, sizeof(dir), "%s/rapl-test-%ld", mnt, (long)getpid());
  ck_assert_msg(mkdir(dir, 0755) == 0, "cannot make a cgroup under %s: %s",
                mnt, strerror(errno));
  char why[1024];
  char glob[128];
  snprintf(glob, sizeof(glob), "rapl-test-%ld", (long)getpid());
  char *globs[] = {glob};
  rapl_cgroups_t *set = rapl_cgroups_open(mnt, globs, 1, why, sizeof(why));
  if (set == NULL) {
    rmdir(dir);
    ck_abort_msg("%s", why);
  }
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 1);
  rapl_cgroups_sample(set);
  bool first_ok = rapl_cgroups_get(set, 0)->read_ok;
  int rm = rmdir(dir);
  rapl_cgroups_sample(set);
  const rapl_cgroup_t *c = rapl_cgroups_get(set, 0);
  bool after_ok = c->read_ok;
  int fd_after = c->fd;
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  size_t left = rapl_cgroups_count(set);
  rapl_cgroups_free(set);
  if (mounted_here) {
    ck_assert_msg(umount(own) == 0, "umount %s: %s", own, strerror(errno));
    (void)rmdir(own);
  }
  ck_assert(first_ok);
  ck_assert_int_eq(rm, 0);
  ck_assert(!after_ok);
  ck_assert_int_eq(fd_after, -1); /* ENODEV: closed at once */
  ck_assert_uint_eq(left, 0);
}
END_TEST

/* ---- naming ------------------------------------------------------------- */

START_TEST(instance_names_follow_spec_9) {
  char out[RAPL_CGROUP_INSTANCE_LEN];
  rapl_cgroup_instance("system.slice/a.service", out, sizeof(out));
  ck_assert_str_eq(out, "cgroup-system.slice_a.service");
  rapl_cgroup_instance("x", out, sizeof(out));
  ck_assert_str_eq(out, "cgroup-x");
  /* exactly 127 bytes: not cut */
  char path[400];
  memset(path, 'a', 120);
  path[120] = '\0';
  rapl_cgroup_instance(path, out, sizeof(out));
  ck_assert_uint_eq(strlen(out), 127);
  ck_assert_str_eq(out + 7, path);
}
END_TEST

static bool hex8_suffix(const char *s) {
  size_t n = strlen(s);
  if (n < 9 || s[n - 9] != '-')
    return false;
  for (size_t i = n - 8; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

START_TEST(long_instance_names_are_cut_with_a_stable_hash) {
  char p1[301], p2[301], o1[RAPL_CGROUP_INSTANCE_LEN],
      o2[RAPL_CGROUP_INSTANCE_LEN], again[RAPL_CGROUP_INSTANCE_LEN];
  /* a 300-byte Kubernetes-like path */
  for (int i = 0; i < 300; i++)
    p1[i] = (i % 50 == 49) ? '/' : (char)('a' + i % 26);
  p1[300] = '\0';
  memcpy(p2, p1, sizeof(p2));
  p2[299] = 'Z'; /* differs only at the very end */
  rapl_cgroup_instance(p1, o1, sizeof(o1));
  rapl_cgroup_instance(p2, o2, sizeof(o2));
  rapl_cgroup_instance(p1, again, sizeof(again));
  ck_assert_uint_le(strlen(o1), 127);
  ck_assert_uint_eq(strlen(o1), 127);
  ck_assert(hex8_suffix(o1));
  ck_assert(hex8_suffix(o2));
  ck_assert_str_ne(o1, o2);
  ck_assert_str_eq(o1, again);
  ck_assert_ptr_null(strchr(o1, '/'));
  ck_assert(strncmp(o1, "cgroup-abcdefghij", 17) == 0);
  /* the hash is FNV-1a 32 of the whole path: fixed across runs and hosts */
  rapl_cgroup_instance(
      "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0123456"
      "7_89ab_cdef_0123_456789abcdef.slice/cri-containerd-0123456789abcdef"
      "0123456789abcdef0123456789abcdef0123456789abcdef.scope",
      o1, sizeof(o1));
  ck_assert_uint_eq(strlen(o1), 127);
  ck_assert(hex8_suffix(o1));
  /* never cut inside a UTF-8 character */
  char u[301];
  memset(u, 'x', 300);
  u[300] = '\0';
  for (int i = 100; i < 130; i += 2) {
    u[i] = (char)0xC3;
    u[i + 1] = (char)0xA9; /* é */
  }
  for (int shift = 0; shift < 2; shift++) {
    rapl_cgroup_instance(u + shift, o1, sizeof(o1));
    size_t n = strlen(o1) - 9; /* the byte before the suffix */
    ck_assert(((unsigned char)o1[n - 1] & 0xC0) != 0xC0);
    ck_assert(hex8_suffix(o1));
  }
  /* a smaller buffer is honoured */
  char small[20];
  rapl_cgroup_instance(p1, small, sizeof(small));
  ck_assert_uint_eq(strlen(small), 19);
  ck_assert(hex8_suffix(small));
}
END_TEST

/* ---- the simulator's cgroups ------------------------------------------- */

/* busy usec of all CPUs as /proc/stat shows it (ticks of 10 ms) */
static uint64_t stat_busy_usec(const sim_machine_t *m) {
  uint64_t ticks = 0;
  for (unsigned cpu = 0; cpu < sim_stat_cpu_count(m); cpu++)
    ticks += sim_stat_busy_ticks(m, cpu);
  return ticks * 10000;
}

START_TEST(sim_cpu_stat_advances_with_its_share) {
  char *sroot;
  sim_machine_t *m = sim_start("xeon-2s-services", &sroot);
  ck_assert(sim_has_cgroups(m));
  ck_assert_uint_eq(sim_cgroup_count(m), 3);
  size_t nginx;
  ck_assert_int_eq(sim_cgroup_find(m, "system.slice/nginx.service", &nginx),
                   0);
  ck_assert_double_eq_tol(sim_cgroup_share(m, nginx), 0.30, 1e-9);
  char why[512];
  char *globs[] = {"system.slice", "system.slice/*.service"};
  rapl_cgroups_t *set = rapl_cgroups_open(sim_cgroup_root(m), globs, 2, why,
                                          sizeof(why));
  ck_assert_msg(set != NULL, "%s", why);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 3);
  ck_assert_str_eq(rapl_cgroups_get(set, 0)->path, "system.slice");
  ck_assert_str_eq(rapl_cgroups_get(set, 1)->path,
                   "system.slice/nginx.service");
  ck_assert_str_eq(rapl_cgroups_get(set, 2)->path,
                   "system.slice/postgresql.service");
  ck_assert_int_eq(rapl_cgroups_get(set, 1)->parent, 0);
  ck_assert_int_eq(rapl_cgroups_get(set, 2)->parent, 0);
  static const double share[] = {0.50, 0.30, 0.15};
  rapl_cgroups_sample(set);
  uint64_t u0[3], b0 = stat_busy_usec(m);
  for (size_t i = 0; i < 3; i++) {
    ck_assert(rapl_cgroups_get(set, i)->read_ok);
    u0[i] = rapl_cgroups_get(set, i)->usage_usec;
    /* the file says what the library says */
    size_t k;
    ck_assert_int_eq(sim_cgroup_find(m, rapl_cgroups_get(set, i)->path, &k),
                     0);
    ck_assert_uint_eq(u0[i], sim_cgroup_usage_usec(m, k));
  }
  for (int step = 0; step < 10; step++) {
    ck_assert_int_eq(sim_advance_ns(m, UINT64_C(1000000000)), 0);
    rapl_cgroups_sample(set);
    uint64_t db = stat_busy_usec(m) - b0;
    for (size_t i = 0; i < 3; i++) {
      const rapl_cgroup_t *c = rapl_cgroups_get(set, i);
      ck_assert(c->read_ok);
      double got = (double)(c->usage_usec - u0[i]) / (double)db;
      /* /proc/stat cuts each CPU's user and system time into 10 ms
       * ticks: at most 2 ticks per CPU line off over a sample */
      double tol = 16 * 2 * 10000.0 / (double)db;
      ck_assert_msg(got > share[i] - tol && got < share[i] + tol,
                    "%s: share %.4f, expected %.2f", c->path, got, share[i]);
    }
    /* the parent holds its children */
    ck_assert_uint_ge(rapl_cgroups_get(set, 0)->usage_usec,
                      rapl_cgroups_get(set, 1)->usage_usec +
                          rapl_cgroups_get(set, 2)->usage_usec);
  }
  /* nginx restarts: removed (its open descriptor reads nothing), made
   * again at the same path: a new inode, its usage from 0 */
  uint64_t old_id = rapl_cgroups_get(set, 1)->id;
  ck_assert_int_eq(sim_cgroup_remove(m, "system.slice"), -EBUSY);
  ck_assert_int_eq(sim_cgroup_remove(m, "system.slice/nginx.service"), 0);
  ck_assert_int_eq(sim_cgroup_remove(m, "system.slice/nginx.service"),
                   -ENOENT);
  rapl_cgroups_sample(set);
  ck_assert(!rapl_cgroups_get(set, 1)->read_ok);
  ck_assert(rapl_cgroups_get(set, 2)->read_ok);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 2);
  ck_assert_int_eq(sim_cgroup_add(m, "system.slice/nginx.service", 0.25), 0);
  ck_assert_int_eq(sim_cgroup_add(m, "system.slice/nginx.service", 0.25),
                   -EEXIST);
  ck_assert_int_eq(sim_cgroup_add(m, "../etc", 0.1), -EINVAL);
  ck_assert_int_eq(sim_advance_ns(m, UINT64_C(1000000000)), 0);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 3);
  const rapl_cgroup_t *again = rapl_cgroups_get(set, 1);
  ck_assert_str_eq(again->path, "system.slice/nginx.service");
  ck_assert_uint_ne(again->id, old_id);
  rapl_cgroups_sample(set);
  ck_assert(again->read_ok);
  size_t k;
  ck_assert_int_eq(sim_cgroup_find(m, "system.slice/nginx.service", &k), 0);
  ck_assert_uint_eq(again->usage_usec, sim_cgroup_usage_usec(m, k));
  ck_assert_uint_lt(again->usage_usec, u0[1]); /* from 0 */
  rapl_cgroups_free(set);
  sim_stop(m, sroot);
}
END_TEST

/* rapl-sim run's commands: cgroup-remove and cgroup-add, read through the
 * reader while the simulation runs (it needs RAPL_SIM, which `make check`
 * sets; without it the case fails). */
START_TEST(rapl_sim_removes_and_adds_cgroups_at_run_time) {
  const char *bin = getenv("RAPL_SIM");
  if (bin == NULL || access(bin, X_OK) != 0) {
    ck_abort_msg("RAPL_SIM is not an executable rapl-sim (make check sets "
                 "it): the rapl-sim case cannot run");
  }
  e2e_t t = {0};
  start_sim(&t, "xeon-2s-services", 3600);
  char *cg = path_join(t.root, "sys/fs/cgroup");
  char why[512];
  char *globs[] = {"system.slice/*.service"};
  rapl_cgroups_t *set = rapl_cgroups_open(cg, globs, 1, why, sizeof(why));
  ck_assert_msg(set != NULL, "%s", why);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 2);
  rapl_cgroups_sample(set);
  uint64_t before = rapl_cgroups_get(set, 0)->usage_usec;
  uint64_t old_id = rapl_cgroups_get(set, 0)->id;
  ck_assert(rapl_cgroups_get(set, 0)->read_ok);
  usleep(100000); /* 0.1 s of 14 CPUs partly busy: ~100 ms of usage */
  rapl_cgroups_sample(set);
  ck_assert_uint_gt(rapl_cgroups_get(set, 0)->usage_usec, before);

  sim_command(&t, "cgroup-remove system.slice/nginx.service");
  rapl_cgroups_sample(set);
  ck_assert(!rapl_cgroups_get(set, 0)->read_ok); /* emptied: no usage */
  ck_assert(rapl_cgroups_get(set, 1)->read_ok);
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 1);
  ck_assert_str_eq(rapl_cgroups_get(set, 0)->path,
                   "system.slice/postgresql.service");

  sim_command(&t, "cgroup-add system.slice/nginx.service 0.3");
  ck_assert_int_eq(rapl_cgroups_rescan(set), 0);
  ck_assert_uint_eq(rapl_cgroups_count(set), 2);
  const rapl_cgroup_t *again = rapl_cgroups_get(set, 0);
  ck_assert_str_eq(again->path, "system.slice/nginx.service");
  ck_assert_uint_ne(again->id, old_id); /* a new instance */
  rapl_cgroups_sample(set);
  ck_assert(again->read_ok);
  ck_assert_uint_lt(again->usage_usec, before); /* from 0 */
  rapl_cgroups_free(set);
  free(cg);
  stop_sim(&t);
}
END_TEST

START_TEST(sim_refuses_inconsistent_cgroups) {
  static const struct {
    const char *yaml, *says;
  } bad[] = {
      {"machine: t\ncgroups:\n  - {path: a, share: 0.5}\n",
       "cgroups needs a stat section"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a, share: 0.2}\n"
       "  - {path: a/b, share: 0.3}\n",
       "\"a\" has share 0.2 but its listed children add up to 0.3"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a, share: 0.6}\n"
       "  - {path: b, share: 0.6}\n",
       "add up to 1.2, more than all the busy time"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: /a, share: 0.1}\n",
       "must be relative"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a/../b, share: "
       "0.1}\n",
       "component"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a, share: 1.5}\n",
       "share"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a}\n",
       "needs path and share"},
      {"machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a, share: 0.1}\n"
       "  - {path: a, share: 0.1}\n",
       "given twice"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[512] = "";
    sim_machine_t *m = sim_load_string(bad[i].yaml, err, sizeof(err));
    ck_assert_msg(m == NULL, "accepted %s", bad[i].yaml);
    ck_assert_msg(strstr(err, bad[i].says) != NULL, "%s: %s", bad[i].says,
                  err);
  }
  /* a grandchild counts in its nearest listed ancestor only */
  char err[512] = "";
  sim_machine_t *m = sim_load_string(
      "machine: t\nstat: {cpus: 2}\ncgroups:\n  - {path: a, share: 0.5}\n"
      "  - {path: a/b, share: 0.4}\n  - {path: a/b/c, share: 0.4}\n",
      err, sizeof(err));
  ck_assert_msg(m != NULL, "%s", err);
  sim_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cgroup");
  TCase *tc = tcase_create("reader");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, open_accepts_a_v2_root);
  tcase_add_test(tc, open_refuses_v1_and_missing_paths_naming_the_option);
  tcase_add_test(tc, rescan_lists_matching_directories_sorted_with_parents);
  tcase_add_test(tc, rescan_orders_a_tree_and_links_every_parent);
  tcase_add_test(tc, rescan_keeps_live_cgroups_and_renews_restarted_ones);
  tcase_add_test(tc, rescan_takes_the_root_literally);
  tcase_add_test(tc, sample_reads_usage_with_one_pread_each_and_no_allocation);
  tcase_add_test(tc, sample_parses_only_a_whole_usage_line);
  tcase_add_test(tc, sample_skips_a_cgroup_removed_after_the_listing);
  tcase_add_test(tc, sample_on_a_real_cgroup2_sees_enodev_after_rmdir);
  tcase_add_test(tc, instance_names_follow_spec_9);
  tcase_add_test(tc, long_instance_names_are_cut_with_a_stable_hash);
  tcase_add_test(tc, sim_cpu_stat_advances_with_its_share);
  tcase_add_test(tc, sim_refuses_inconsistent_cgroups);
  tcase_add_test(tc, rapl_sim_removes_and_adds_cgroups_at_run_time);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
