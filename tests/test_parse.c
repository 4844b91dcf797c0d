/* test_parse.c - sysfs value, zone directory and zone name parsers. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
  suite_add_tcase(s, tc);
  return run_suite(s);
}
