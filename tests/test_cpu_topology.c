/* test_cpu_topology.c - cpuinfo and CPU-list parsers, and the topology
 * loader on a simulated machine whose CPUs go offline and back. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
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

static size_t package_cpus(const rapl_topology_t *t, int package) {
  size_t n = 0;
  for (size_t i = 0; i < t->count; i++)
    n += t->cpus[i].package == package;
  return n;
}

/* Offline CPUs have no topology directory (the kernel removes it): the
 * loader lists online CPUs only, and sees them again once back. */
START_TEST(topology_follows_hotplug) {
  char *root, sysfs[4200], why[512] = "";
  sim_machine_t *m = sim_start("xeon-2s", &root); /* CPUs 2 and 9 offline */
  snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
  rapl_topology_t t;
  ck_assert_msg(rapl_topology_load(sysfs, &t, why, sizeof(why)) == 0, "%s", why);
  ck_assert_uint_eq(t.count, 14);
  ck_assert_uint_eq(t.cpus[4].cpu, 5); /* ascending, 2 skipped */
  ck_assert_int_eq(t.cpus[4].package, 1);
  ck_assert_int_eq(t.cpus[4].core, 1);
  rapl_topology_free(&t);
  static const unsigned pkg1[] = {4, 5, 6, 7, 12, 13, 14, 15};
  for (size_t k = 0; k < 8; k++)
    ck_assert_int_eq(sim_cpu_set_online(m, pkg1[k], 0), 0);
  ck_assert_int_eq(sim_cpu_set_online(m, 0, 0), -EINVAL); /* x86: never */
  ck_assert_msg(rapl_topology_load(sysfs, &t, why, sizeof(why)) == 0, "%s", why);
  ck_assert_uint_eq(t.count, 6);
  ck_assert_uint_eq(package_cpus(&t, 1), 0);
  rapl_topology_free(&t);
  char *text = NULL;
  ck_assert_int_eq(rapl_cpu_online_text(sysfs, &text), 0);
  ck_assert_str_eq(text, "0-1,3,8,10-11\n");
  free(text);
  ck_assert_int_eq(rapl_cpu_online_text("/nonexistent", &text), -ENOENT);
  ck_assert_int_eq(sim_cpu_set_online(m, 13, 1), 0);
  ck_assert_int_eq(sim_cpu_set_online(m, 2, 1), 0);
  ck_assert_msg(rapl_topology_load(sysfs, &t, why, sizeof(why)) == 0, "%s", why);
  ck_assert_uint_eq(t.count, 8);
  ck_assert_uint_eq(package_cpus(&t, 1), 1);
  ck_assert_uint_eq(t.cpus[2].cpu, 2);
  ck_assert_uint_eq(t.cpus[7].cpu, 13);
  ck_assert_int_eq(t.cpus[7].core, 1);
  rapl_topology_free(&t);
  sim_stop(m, root);
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
  TCase *load = tcase_create("load");
  tcase_add_test(load, topology_follows_hotplug);
  suite_add_tcase(s, load);
  return run_suite(s);
}
