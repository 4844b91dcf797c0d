/* test_parse.c - sysfs value, zone directory and zone name parsers; the
 * Cgroups globs and options (options.c). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "sysfs_parse.h"
#include "testutil.h"

static int parse(const char *s, uint64_t *v) {
  return rapl_parse_u64(s, strlen(s), v);
}

START_TEST(u64_accepts_what_the_kernel_prints) {
  uint64_t v = 0;
  ck_assert_int_eq(parse("262143328850\n", &v), 0);
  ck_assert_uint_eq(v, UINT64_C(262143328850));
  ck_assert_int_eq(parse("0\n", &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(parse("42", &v), 0); /* no newline */
  ck_assert_uint_eq(v, 42);
  ck_assert_int_eq(parse("18446744073709551615\n", &v), 0);
  ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(u64_ignores_bytes_after_the_newline) {
  /* What a concurrent in-place rewrite of a shorter value can show. */
  uint64_t v = 0;
  ck_assert_int_eq(parse("9\n345\n", &v), 0);
  ck_assert_uint_eq(v, 9);
}
END_TEST

START_TEST(u64_rejects_garbage_empty_and_overflow) {
  uint64_t v = 77;
  ck_assert_int_eq(parse("", &v), -ENODATA);
  ck_assert_int_eq(parse("\n", &v), -ENODATA);
  ck_assert_int_eq(parse("abc\n", &v), -EINVAL);
  ck_assert_int_eq(parse("-1\n", &v), -EINVAL);
  ck_assert_int_eq(parse(" 12\n", &v), -EINVAL);
  ck_assert_int_eq(parse("12 \n", &v), -EINVAL);
  ck_assert_int_eq(parse("12abc", &v), -EINVAL);
  ck_assert_int_eq(parse("0x10\n", &v), -EINVAL);
  ck_assert_int_eq(parse("18446744073709551616\n", &v), -ERANGE);
  ck_assert_int_eq(parse("99999999999999999999999\n", &v), -ERANGE);
  ck_assert_uint_eq(v, 77); /* untouched on error */
  /* NUL byte in the middle: not a number */
  ck_assert_int_eq(rapl_parse_u64("1\0002", 3, &v), -EINVAL);
}
END_TEST

START_TEST(zone_dirnames_are_hexadecimal) {
  rapl_zone_dirname_t d;
  ck_assert_int_eq(rapl_parse_zone_dirname("intel-rapl:0", &d), 0);
  ck_assert(!d.mmio);
  ck_assert_uint_eq(d.depth, 1);
  ck_assert_uint_eq(d.top_id, 0);
  ck_assert_int_eq(rapl_parse_zone_dirname("intel-rapl:a", &d), 0);
  ck_assert_uint_eq(d.top_id, 10); /* the 11th zone */
  ck_assert_int_eq(rapl_parse_zone_dirname("intel-rapl:1f:b", &d), 0);
  ck_assert_uint_eq(d.depth, 2);
  ck_assert_uint_eq(d.top_id, 31);
  ck_assert_uint_eq(d.sub_id, 11);
  ck_assert_int_eq(rapl_parse_zone_dirname("intel-rapl-mmio:0", &d), 0);
  ck_assert(d.mmio);
  ck_assert_uint_eq(d.depth, 1);
}
END_TEST

START_TEST(zone_dirnames_reject_other_entries) {
  rapl_zone_dirname_t d;
  const char *bad[] = {"intel-rapl", "intel-rapl-mmio", "intel-rapl:",
                       "intel-rapl::0", "intel-rapl:0:", "intel-rapl:0:0:0",
                       "intel-rapl:A", "intel-rapl:g", "intel-rapl:-1",
                       /* found by fuzz_zone_dirname: "01" would alias "1" */
                       "intel-rapl:01", "intel-rapl:0:00", "intel-rapl-mmio:000a",
                       "dtpm", "dtpm:0", "intel-rapl:0 ", "intel-rapl:12345678",
                       ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(rapl_parse_zone_dirname(bad[i], &d) == -EINVAL,
                  "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(zone_names_follow_the_kernel) {
  rapl_zone_name_t n;
  ck_assert_int_eq(rapl_parse_zone_name("package-0", &n), 0);
  ck_assert(!n.psys);
  ck_assert_int_eq(n.package_id, 0);
  ck_assert_int_eq(n.die_id, -1);
  ck_assert_int_eq(rapl_parse_zone_name("package-7", &n), 0);
  ck_assert_int_eq(n.package_id, 7);
  ck_assert_int_eq(rapl_parse_zone_name("package-1-die-3", &n), 0);
  ck_assert_int_eq(n.package_id, 1);
  ck_assert_int_eq(n.die_id, 3);
  ck_assert_int_eq(rapl_parse_zone_name("psys", &n), 0);
  ck_assert(n.psys);
  ck_assert_int_eq(n.package_id, 0);
  ck_assert_int_eq(rapl_parse_zone_name("psys-1", &n), 0);
  ck_assert(n.psys);
  ck_assert_int_eq(n.package_id, 1);
}
END_TEST

START_TEST(zone_names_reject_the_unexpected) {
  rapl_zone_name_t n;
  const char *bad[] = {"package", "package-", "package-x", "package-01",
                       "package-0-die", "package-0-die-", "package-0-", "psys-",
                       "psys0", "dram", "core", "package-1234567",
                       "package-0 ", "PSYS", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(rapl_parse_zone_name(bad[i], &n) == -EINVAL,
                  "accepted \"%s\"", bad[i]);
}
END_TEST

/* Cgroups globs (SPEC 9): relative to CgroupPath, nothing outside it */
START_TEST(cgroup_globs_accept_relative_patterns) {
  const char *good[] = {"system.slice/*.service", "system.slice",
                        "kubepods.slice/*/*", "user.slice/user-[0-9]*.slice",
                        "a/[!.]*", "a/[]x]", "a\\[literal", "..x/x..",
                        ".hidden", "*"};
  char err[512];
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    ck_assert_msg(rapl_options_check_cgroup_glob(good[i], err,
                                                 sizeof(err)) == 0,
                  "refused \"%s\": %s", good[i], err);
}
END_TEST

START_TEST(cgroup_globs_refuse_what_leaves_cgroup_path) {
  static const struct {
    const char *glob, *says;
  } bad[] = {
      {"", "Cgroups: expected a glob relative to CgroupPath, e.g. "
           "\"system.slice/*.service\", got an empty string"},
      {"/sys/fs/cgroup/system.slice",
       "Cgroups: \"/sys/fs/cgroup/system.slice\": expected a glob relative "
       "to CgroupPath, e.g. \"system.slice/*.service\", got an absolute "
       "path"},
      {"..", "got a \"..\" component"},
      {"system.slice/../../etc", "\"system.slice/../../etc\""},
      {"a/..", "got a \"..\" component"},
      {"./a", "got a \".\" component"},
      {"a//b", "got an empty component"},
      {"a/", "got an empty component"},
      {"user-[0-9.slice", "Cgroups: \"user-[0-9.slice\": unbalanced '[' "
                          "at byte 6"},
      {"a[/]b", "unbalanced '['"},
      {"a[", "unbalanced '['"},
      {"[]", "unbalanced '['"},
  };
  char err[512];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    ck_assert_msg(rapl_options_check_cgroup_glob(bad[i].glob, err,
                                                 sizeof(err)) == -EINVAL,
                  "accepted \"%s\"", bad[i].glob);
    ck_assert_msg(strstr(err, bad[i].says) != NULL &&
                      strncmp(err, "Cgroups: ", 9) == 0,
                  "\"%s\": %s", bad[i].glob, err);
  }
  char long_glob[RAPL_CGROUP_GLOB_LEN + 1];
  memset(long_glob, 'a', RAPL_CGROUP_GLOB_LEN);
  long_glob[RAPL_CGROUP_GLOB_LEN] = '\0';
  ck_assert_int_eq(rapl_options_check_cgroup_glob(long_glob, err, sizeof(err)),
                   -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "is longer than 511 bytes"));
}
END_TEST

START_TEST(cgroup_options_default_off_and_set_whole_lists) {
  rapl_options_t o, copy;
  char err[512];
  rapl_options_set_defaults(&o);
  ck_assert_str_eq(o.cgroup_path, "/sys/fs/cgroup");
  ck_assert_uint_eq(o.cgroup_glob_count, 0); /* off */
  const char *two[] = {"system.slice/*.service", "user.slice"};
  ck_assert_int_eq(rapl_options_set_cgroups(&o, two, 2, err, sizeof(err)), 0);
  ck_assert_uint_eq(o.cgroup_glob_count, 2);
  ck_assert_str_eq(o.cgroup_globs[1], "user.slice");
  /* a bad glob anywhere changes nothing */
  const char *mixed[] = {"a.slice", "/abs"};
  ck_assert_int_eq(rapl_options_set_cgroups(&o, mixed, 2, err, sizeof(err)),
                   -EINVAL);
  ck_assert_uint_eq(o.cgroup_glob_count, 2);
  ck_assert_str_eq(o.cgroup_globs[0], "system.slice/*.service");
  ck_assert_int_eq(rapl_options_set_cgroups(&o, two, 0, err, sizeof(err)),
                   -EINVAL);
  ck_assert_str_eq(err, "Cgroups: expected 1 to 32 globs relative to "
                        "CgroupPath, got 0 values");
  ck_assert_int_eq(rapl_options_set_path(o.cgroup_path, "CgroupPath",
                                         "/host/sys/fs/cgroup/", err,
                                         sizeof(err)),
                   0);
  ck_assert_str_eq(o.cgroup_path, "/host/sys/fs/cgroup");
  rapl_options_set_defaults(&copy);
  rapl_options_copy(&copy, &o, RAPL_OPT_CGROUPS | RAPL_OPT_CGROUP_PATH);
  ck_assert_str_eq(copy.cgroup_path, "/host/sys/fs/cgroup");
  ck_assert_uint_eq(copy.cgroup_glob_count, 2);
  ck_assert_str_eq(copy.cgroup_globs[0], "system.slice/*.service");
}
END_TEST

int main(void) {
  Suite *s = suite_create("parse");
  TCase *tc = tcase_create("parse");
  tcase_add_test(tc, u64_accepts_what_the_kernel_prints);
  tcase_add_test(tc, u64_ignores_bytes_after_the_newline);
  tcase_add_test(tc, u64_rejects_garbage_empty_and_overflow);
  tcase_add_test(tc, zone_dirnames_are_hexadecimal);
  tcase_add_test(tc, zone_dirnames_reject_other_entries);
  tcase_add_test(tc, zone_names_follow_the_kernel);
  tcase_add_test(tc, zone_names_reject_the_unexpected);
  tcase_add_test(tc, cgroup_globs_accept_relative_patterns);
  tcase_add_test(tc, cgroup_globs_refuse_what_leaves_cgroup_path);
  tcase_add_test(tc, cgroup_options_default_off_and_set_whole_lists);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
