/* test_powercap.c - zone discovery and reading on simulated sysfs trees. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "energy_source.h"
#include "options.h"
#include "testutil.h"

static const rapl_source_ops_t *ops = &rapl_powercap_source;

/* stat() is wrapped (-Wl,--wrap=stat) to count the plugin's calls: a
 * rescan that finds nothing changed costs one listing (SPEC 4). */
int __real_stat(const char *path, struct stat *st);
int __wrap_stat(const char *path, struct stat *st);
static size_t stat_calls;
int __wrap_stat(const char *path, struct stat *st) {
  stat_calls++;
  return __real_stat(path, st);
}

static rapl_options_t options_for(const char *root) {
  rapl_options_t o;
  rapl_options_set_defaults(&o);
  snprintf(o.sysfs_path, sizeof(o.sysfs_path), "%s/sys", root);
  return o;
}

/* "package-0/package package-0/dram ..." for easy comparison */
static void zone_list(const rapl_source_t *src, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < ops->zone_count(src); i++) {
    const rapl_zone_info_t *z = ops->zone_info(src, i);
    used += (size_t)snprintf(buf + used, len - used, "%s%s/%s", i ? " " : "",
                             z->key, z->domain);
  }
}

static rapl_source_t *open_ok(const char *root) {
  rapl_options_t o = options_for(root);
  rapl_source_t *src = NULL;
  char why[2048] = "";
  int rc = ops->open(&o, &src, why, sizeof(why));
  ck_assert_msg(rc == 0, "open failed: %d %s", rc, why);
  return src;
}

static void check_zones(const char *machine, const char *expected) {
  char *root;
  log_capture_start();
  sim_machine_t *m = sim_start(machine, &root);
  rapl_source_t *src = open_ok(root);
  char list[1024];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, expected);
  ops->close(src);
  sim_stop(m, root);
}

START_TEST(laptop_psys_and_mmio_duplicate) {
  /* intel-rapl-mmio:0 repeats package-0: used once; psys is its own zone */
  check_zones("laptop-psys",
              "package-0/package package-0/core package-0/uncore psys/psys");
}
END_TEST

START_TEST(xeon_subzones_all_named_dram) {
  check_zones("xeon-2s", "package-0/package package-0/dram "
                         "package-1/package package-1/dram");
}
END_TEST

START_TEST(spr_psys_between_packages) {
  /* intel-rapl:1 is psys, intel-rapl:2 is package-1: keyed by name */
  check_zones("spr-2s-psys", "package-0/package package-0/dram "
                             "package-1/package package-1/dram psys/psys");
}
END_TEST

START_TEST(epyc_core_subzones) {
  check_zones("epyc-2s", "package-0/package package-0/core "
                         "package-1/package package-1/core");
}
END_TEST

START_TEST(multi_die_package) {
  check_zones("xeon-multidie",
              "package-0-die-0/package package-0-die-0/dram "
              "package-0-die-1/package package-0-die-1/dram");
}
END_TEST

START_TEST(wrap_ranges_come_from_each_zone) {
  char *root;
  sim_machine_t *m = sim_start("xeon-2s", &root);
  rapl_source_t *src = open_ok(root);
  for (size_t i = 0; i < ops->zone_count(src); i++) {
    const rapl_zone_info_t *z = ops->zone_info(src, i);
    size_t s = sim_find(m, z->key, z->domain);
    ck_assert_uint_eq(z->wrap_range, sim_zone_max_range_uj(m, s));
    ck_assert_uint_eq(z->uj_per_unit_num, 1);
    ck_assert_uint_eq(z->uj_per_unit_den, 1);
  }
  /* REFERENCE.md 2.5: DRAM at 15.3 uJ and package at ESU 14 differ */
  ck_assert_uint_eq(ops->zone_info(src, 0)->wrap_range, UINT64_C(262143328850));
  ck_assert_uint_eq(ops->zone_info(src, 1)->wrap_range, UINT64_C(65712999613));
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

/* Twelve packages: zone directories intel-rapl:a and intel-rapl:b. */
static char *twelve_packages_yaml(void) {
  char *yaml = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&yaml, &len);
  fprintf(f, "machine: twelve\npowercap:\n");
  for (int i = 0; i < 12; i++)
    fprintf(f, "  - {id: %d, name: package-%d, esu: 14, power_w: %d}\n", i, i,
            10 + i);
  fclose(f);
  return yaml;
}

START_TEST(hexadecimal_zone_ids) {
  char *root, *yaml = twelve_packages_yaml();
  sim_machine_t *m = sim_start_string(yaml, &root);
  char link[4096];
  snprintf(link, sizeof(link), "%s/sys/class/powercap/intel-rapl:b", root);
  ck_assert_int_eq(access(link, F_OK), 0);
  rapl_source_t *src = open_ok(root);
  ck_assert_uint_eq(ops->zone_count(src), 12);
  /* numeric order, not directory order: package-10 after package-9 */
  ck_assert_str_eq(ops->zone_info(src, 10)->key, "package-10");
  ck_assert_str_eq(ops->zone_info(src, 11)->key, "package-11");
  ops->close(src);
  sim_stop(m, root);
  free(yaml);
}
END_TEST

START_TEST(mmio_used_when_intel_rapl_lacks_the_package) {
  char *root;
  sim_machine_t *m = sim_start_string(
      "machine: mmio-only\n"
      "powercap:\n"
      "  - {id: 0, name: psys, esu: 14, power_w: 20}\n"
      "mmio:\n"
      "  - {id: 0, name: package-0, esu: 14, power_w: 9}\n",
      &root);
  rapl_source_t *src = open_ok(root);
  char list[256];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, "package-0/package psys/psys");
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

START_TEST(zones_filter) {
  char *root;
  sim_machine_t *m = sim_start("xeon-2s", &root);
  rapl_options_t o = options_for(root);
  const char *names[] = {"DRAM"};
  char err[256];
  ck_assert_int_eq(rapl_options_set_zones(&o, names, 1, err, sizeof(err)), 0);
  rapl_source_t *src = NULL;
  char why[1024];
  ck_assert_int_eq(ops->open(&o, &src, why, sizeof(why)), 0);
  char list[256];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, "package-0/dram package-1/dram");
  ops->close(src);
  /* a filter that matches nothing here is a clear failure */
  const char *psys[] = {"psys"};
  ck_assert_int_eq(rapl_options_set_zones(&o, psys, 1, err, sizeof(err)), 0);
  ck_assert_int_ne(ops->open(&o, &src, why, sizeof(why)), 0);
  ck_assert_msg(strstr(why, "no zone of the domains in Zones") != NULL, "%s", why);
  sim_stop(m, root);
}
END_TEST

START_TEST(reads_the_same_descriptor_again) {
  char *root;
  sim_machine_t *m = sim_start("xeon-2s", &root);
  rapl_source_t *src = open_ok(root);
  size_t s = sim_find(m, "package-0", "package");
  uint64_t a, b;
  ck_assert_int_eq(ops->read(src, 0, &a), 0);
  ck_assert_uint_eq(a, sim_zone_energy_uj(m, s));
  ck_assert_int_eq(sim_advance_ns(m, 1000000000), 0);
  ck_assert_int_eq(ops->read(src, 0, &b), 0);
  ck_assert_uint_eq(b, sim_zone_energy_uj(m, s));
  ck_assert_uint_ne(a, b);
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

/* SPEC 4: "about one directory listing a minute when nothing changes".
 * A zone that is open and reading needs no look at its link: were its
 * device gone, its reads would fail and bring the full look. xeon-2s's
 * class entries are its 4 zones and the control type "intel-rapl", which
 * is no zone candidate: nothing to stat. */
START_TEST(rescan_of_an_unchanged_tree_looks_at_no_attached_zone) {
  char *root;
  sim_machine_t *m = sim_start("xeon-2s", &root);
  rapl_source_t *src = open_ok(root);
  ck_assert_uint_eq(ops->zone_count(src), 4);
  for (int k = 0; k < 3; k++) {
    stat_calls = 0;
    ck_assert_int_eq(ops->rescan(src), 0);
    ck_assert_msg(stat_calls == 0, "rescan %d: %zu stat calls", k, stat_calls);
  }
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

/* ---- broken machines ---------------------------------------------------- */

START_TEST(no_powercap_at_all) {
  char *root = make_temp_dir("empty");
  rapl_options_t o = options_for(root);
  rapl_source_t *src = NULL;
  char why[1024] = "";
  ck_assert_int_eq(ops->open(&o, &src, why, sizeof(why)), -ENOENT);
  ck_assert_msg(strstr(why, "class/powercap: not present") != NULL, "%s", why);
  rm_tree(root);
  free(root);
}
END_TEST

static const char *perm_root;
static int open_as_unprivileged(void *arg) {
  (void)arg;
  rapl_options_t o = options_for(perm_root);
  rapl_source_t *src = NULL;
  char why[4096] = "";
  int rc = ops->open(&o, &src, why, sizeof(why));
  if (rc == 0)
    return 1;
  if (strstr(why, "permission denied") == NULL ||
      strstr(why, "CVE-2020-8694") == NULL) {
    fprintf(stderr, "why: %s\n", why);
    return 2;
  }
  return 0;
}

START_TEST(energy_uj_root_only) {
  /* Since the CVE-2020-8694 fix energy_uj is 0400 root: a non-root collectd
   * gets "permission denied", not "not present". */
  char *root;
  sim_machine_t *m = sim_start("xeon-2s", &root);
  perm_root = root;
  int status = run_as_nobody(open_as_unprivileged, NULL);
  if (status == -1) { /* not root: make the files unreadable for us */
    for (size_t i = 0; i < sim_zone_count(m); i++) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(m, i));
      chmod(path, 0);
    }
    status = open_as_unprivileged(NULL);
  }
  ck_assert_int_eq(status, 0);
  sim_stop(m, root);
}
END_TEST

START_TEST(garbage_in_one_zone) {
  char *root;
  log_capture_start();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  size_t s = sim_find(m, "package-1", "dram");
  char path[4096];
  snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(m, s));
  write_file(path, "not a number\n");
  rapl_source_t *src = open_ok(root); /* the other zones still read */
  ck_assert_uint_eq(ops->zone_count(src), 4);
  ck_assert_uint_eq(log_count("package-1/energy_uj of dram: not a number"), 1);
  uint64_t v;
  ck_assert_int_eq(ops->read(src, 3, &v), -EINVAL);
  write_file(path, "");
  ck_assert_int_eq(ops->read(src, 3, &v), -ENODATA);
  write_file(path, "123\n");
  ck_assert_int_eq(ops->read(src, 3, &v), 0);
  ck_assert_uint_eq(v, 123);
  write_file(path, "99999999999999\n"); /* above max_energy_range_uj */
  ck_assert_int_eq(ops->read(src, 3, &v), -ERANGE);
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

START_TEST(garbage_everywhere_fails_with_reasons) {
  char *root;
  sim_machine_t *m = sim_start("laptop-psys", &root);
  for (size_t i = 0; i < sim_zone_count(m); i++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/energy_uj", sim_zone_dir(m, i));
    write_file(path, "garbage");
  }
  rapl_options_t o = options_for(root);
  rapl_source_t *src = NULL;
  char why[4096] = "";
  ck_assert_int_eq(ops->open(&o, &src, why, sizeof(why)), -EIO);
  ck_assert_msg(strstr(why, "no zone could be read") != NULL, "%s", why);
  ck_assert_msg(strstr(why, "not a number") != NULL, "%s", why);
  sim_stop(m, root);
}
END_TEST

START_TEST(dangling_link_is_skipped) {
  char *root;
  log_capture_start();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  /* package-1 and its dram vanish behind their links */
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'",
           sim_zone_dir(m, sim_find(m, "package-1", "package")));
  ck_assert_int_eq(system(cmd), 0);
  rapl_source_t *src = open_ok(root);
  char list[256];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, "package-0/package package-0/dram");
  ck_assert_msg(log_count("dangling symlink") == 2, "%s", log_text());
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

/* A link that dangled at open and resolves later is still looked at by
 * every rescan, and its zones are added once it resolves. */
START_TEST(dangling_link_that_resolves_later_is_added) {
  char *root;
  log_capture_start();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  const char *dir = sim_zone_dir(m, sim_find(m, "package-1", "package"));
  char away[4096];
  snprintf(away, sizeof(away), "%s.away", dir);
  ck_assert_int_eq(rename(dir, away), 0);
  rapl_source_t *src = open_ok(root);
  ck_assert_uint_eq(ops->zone_count(src), 2);
  ck_assert_int_eq(ops->rescan(src), 0);
  ck_assert_uint_eq(ops->zone_count(src), 2);
  ck_assert_int_eq(rename(away, dir), 0);
  ck_assert_int_eq(ops->rescan(src), 2);
  char list[256];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, "package-0/package package-0/dram package-1/package "
                         "package-1/dram");
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

START_TEST(zero_max_energy_range) {
  char *root;
  log_capture_start();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  char path[4096];
  snprintf(path, sizeof(path), "%s/max_energy_range_uj",
           sim_zone_dir(m, sim_find(m, "package-0", "package")));
  chmod(path, 0644);
  write_file(path, "0\n");
  rapl_source_t *src = open_ok(root);
  ck_assert_uint_eq(ops->zone_info(src, 0)->wrap_range, 0);
  ck_assert_uint_eq(ops->zone_info(src, 1)->wrap_range, UINT64_C(65712999613));
  ck_assert_msg(log_count("treated as a reset, not a wrap") == 1, "%s", log_text());
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

START_TEST(unexpected_names_are_skipped) {
  char *root;
  log_capture_start();
  sim_machine_t *m = sim_start("xeon-2s", &root);
  char path[4096];
  snprintf(path, sizeof(path), "%s/name",
           sim_zone_dir(m, sim_find(m, "package-1", "package")));
  chmod(path, 0644);
  write_file(path, "socket-1\n");
  rapl_source_t *src = open_ok(root);
  char list[256];
  zone_list(src, list, sizeof(list));
  ck_assert_str_eq(list, "package-0/package package-0/dram");
  ck_assert_msg(log_count("unexpected zone name \"socket-1\"") == 1, "%s",
                log_text());
  ops->close(src);
  sim_stop(m, root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("powercap");
  TCase *tc = tcase_create("discovery");
  tcase_add_test(tc, laptop_psys_and_mmio_duplicate);
  tcase_add_test(tc, xeon_subzones_all_named_dram);
  tcase_add_test(tc, spr_psys_between_packages);
  tcase_add_test(tc, epyc_core_subzones);
  tcase_add_test(tc, multi_die_package);
  tcase_add_test(tc, wrap_ranges_come_from_each_zone);
  tcase_add_test(tc, hexadecimal_zone_ids);
  tcase_add_test(tc, mmio_used_when_intel_rapl_lacks_the_package);
  tcase_add_test(tc, zones_filter);
  tcase_add_test(tc, reads_the_same_descriptor_again);
  tcase_add_test(tc, rescan_of_an_unchanged_tree_looks_at_no_attached_zone);
  suite_add_tcase(s, tc);
  TCase *broken = tcase_create("broken");
  tcase_add_test(broken, no_powercap_at_all);
  tcase_add_test(broken, energy_uj_root_only);
  tcase_add_test(broken, garbage_in_one_zone);
  tcase_add_test(broken, garbage_everywhere_fails_with_reasons);
  tcase_add_test(broken, dangling_link_is_skipped);
  tcase_add_test(broken, dangling_link_that_resolves_later_is_added);
  tcase_add_test(broken, zero_max_energy_range);
  tcase_add_test(broken, unexpected_names_are_skipped);
  suite_add_tcase(s, broken);
  return run_suite(s);
}
