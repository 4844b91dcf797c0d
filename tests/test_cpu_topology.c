/* test_cpu_topology.c - cpuinfo and CPU-list parsers. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_topology.h"
#include "testutil.h"

static const char xeon_cpuinfo[] =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "cpu family\t: 6\n"
    "model\t\t: 85\n"
    "model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n"
    "stepping\t: 4\n"
    "physical id\t: 0\n"
    "\n"
    "processor\t: 1\n"
    "vendor_id\t: AuthenticAMD\n"
    "cpu family\t: 25\n"
    "model\t\t: 1\n"
    "\n";

START_TEST(cpuinfo_first_block) {
  rapl_cpu_id_t id;
  ck_assert_int_eq(rapl_parse_cpuinfo(xeon_cpuinfo, strlen(xeon_cpuinfo), &id), 0);
  ck_assert_int_eq(id.vendor, RAPL_CPU_VENDOR_INTEL);
  ck_assert_str_eq(id.vendor_id, "GenuineIntel");
  ck_assert_uint_eq(id.family, 6);
  ck_assert_uint_eq(id.model, 0x55); /* "model name" is not "model" */
}
END_TEST

START_TEST(cpuinfo_vendors) {
  const char *amd = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"
                    "model\t\t: 1\n";
  const char *hygon = "vendor_id : HygonGenuine\ncpu family : 24\nmodel : 0\n";
  const char *via = "vendor_id\t: CentaurHauls\ncpu family\t: 6\nmodel\t\t: 15\n";
  rapl_cpu_id_t id;
  ck_assert_int_eq(rapl_parse_cpuinfo(amd, strlen(amd), &id), 0);
  ck_assert_int_eq(id.vendor, RAPL_CPU_VENDOR_AMD);
  ck_assert_uint_eq(id.family, 0x19);
  ck_assert_int_eq(rapl_parse_cpuinfo(hygon, strlen(hygon), &id), 0);
  ck_assert_int_eq(id.vendor, RAPL_CPU_VENDOR_HYGON);
  ck_assert_uint_eq(id.family, 0x18);
  ck_assert_int_eq(rapl_parse_cpuinfo(via, strlen(via), &id), 0);
  ck_assert_int_eq(id.vendor, RAPL_CPU_VENDOR_UNKNOWN);
  ck_assert_str_eq(id.vendor_id, "CentaurHauls");
}
END_TEST

START_TEST(cpuinfo_rejects_incomplete_or_garbage) {
  const char *bad[] = {
      "",
      "processor\t: 0\n",
      "vendor_id\t: GenuineIntel\ncpu family\t: 6\n", /* no model */
      "vendor_id\t: GenuineIntel\ncpu family\t: six\nmodel\t\t: 85\n",
      "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85x\n",
      "vendor_id\t: \ncpu family\t: 6\nmodel\t\t: 85\n",
      "vendor_id\t: AVeryLongVendorIdentifier\ncpu family\t: 6\nmodel\t\t: 85\n",
      "vendor_id\t: GenuineIntel\ncpu family\t: 99999999999\nmodel\t\t: 85\n",
      /* the model is in the second block only */
      "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\nmodel\t\t: 85\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rapl_cpu_id_t id;
    ck_assert_msg(rapl_parse_cpuinfo(bad[i], strlen(bad[i]), &id) == -EINVAL,
                  "accepted case %zu", i);
  }
}
END_TEST

static int list(const char *s, bool *cpus, size_t max) {
  memset(cpus, 0, max * sizeof(*cpus));
  return rapl_parse_cpu_list(s, strlen(s), cpus, max);
}

START_TEST(cpu_lists) {
  bool c[64];
  ck_assert_int_eq(list("0-1,3-8,10-15\n", c, 64), 14);
  ck_assert(c[0] && c[1] && !c[2] && c[3] && c[8] && !c[9] && c[10] && c[15]);
  ck_assert(!c[16]);
  ck_assert_int_eq(list("0\n", c, 64), 1);
  ck_assert_int_eq(list("5", c, 64), 1);
  ck_assert(c[5]);
  ck_assert_int_eq(list("\n", c, 64), 0);
  ck_assert_int_eq(list("0-3,2-5\n", c, 64), 6); /* overlaps count once */
}
END_TEST

START_TEST(cpu_lists_reject_garbage) {
  bool c[64];
  const char *bad[] = {"a", "0-", "-1", "3-1", "0,,1", "0-1,", "1 2", "0x1", "1-2-3"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(list(bad[i], c, 64) == -EINVAL, "accepted \"%s\"", bad[i]);
  ck_assert_int_eq(list("0-64", c, 64), -ERANGE);
  ck_assert_int_eq(list("9999999999", c, 64), -ERANGE);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cpu_topology");
  TCase *tc = tcase_create("parse");
  tcase_add_test(tc, cpuinfo_first_block);
  tcase_add_test(tc, cpuinfo_vendors);
  tcase_add_test(tc, cpuinfo_rejects_incomplete_or_garbage);
  tcase_add_test(tc, cpu_lists);
  tcase_add_test(tc, cpu_lists_reject_garbage);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
