/*
 * sim_machine.c - simulated RAPL machine (see sim_machine.h, README.md).
 *
 * Model, per zone (follows drivers/powercap/intel_rapl_common.c and
 * powercap_sys.c, as summarised in shared/REFERENCE.md sections 2.2-2.6):
 *   unit_nj             = 1000000000 / (1 << esu)  (truncated), or given
 *   max_energy_range_uj = 0xFFFFFFFF * unit_nj / 1000
 *   total_nj            = start_nj + delivered_nj   (exact, integer)
 *   ticks               = total_nj / unit_nj
 *   energy_uj           = (ticks & 0xFFFFFFFF) * unit_nj / 1000
 * delivered_nj advances by power_uw * dt_ns / 1e6 with the remainder carried,
 * so any sequence of advances delivers exactly floor(power * time).
 *
 * The optional cpu: and msr: sections add a CPU topology (sysfs topology,
 * /proc/cpuinfo) and MSRs whose energy status registers return the zones'
 * own 32-bit counters (REFERENCE.md 2.1, 2.7), plus one extra counter per
 * AMD core for 0xC001029A.  sim_fuse.c serves them as a device.
 *
 * Where things are:
 *   sim_internal.h  the shared state (struct sim_machine) and helpers
 *   sim_machine.c   this file: building, freeing, machine-wide accessors,
 *                   the self-test
 *   sim_yaml.c      loading the YAML description (the sections[] table)
 *   sim_counter.c   the counters and simulated time (sim_advance_ns)
 *   sim_powercap.c  powercap zones: YAML, sysfs tree, faults, accessors
 *   sim_cpu.c       cpu: topology, sys/devices/system/cpu, /proc/cpuinfo
 *   sim_msr.c       msr: registers, sparse msr files, AMD per-core counters
 *   sim_hwmon.c     hwmon: chips, channels, sys/class/hwmon
 *   sim_stat.c      stat: /proc/stat from per-CPU busy fractions
 *   sim_cgroup.c    cgroups: a cgroup v2 tree, usage_usec = share x busy
 *   sim_fs.c        writing files, directories and links
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Freeing                                                                   */

static void zone_free(sim_zone_t *z) {
  if (z->fd >= 0)
    close(z->fd);
  z->fd = -1;
  free(z->name);
  for (size_t i = 0; i < z->n_constraints; i++)
    free(z->constraints[i].name);
  free(z->constraints);
  free(z->link_name);
  free(z->rel_path);
  free(z->dir);
}

void sim_free(sim_machine_t *m) {
  if (m == NULL)
    return;
  simi_close_msr_files(m);
  simi_hwmon_close(m);
  simi_stat_close(m);
  simi_cgroups_close(m);
  for (size_t i = 0; i < m->n_zones; i++)
    zone_free(&m->zones[i]);
  free(m->zones);
  free(m->cpu.model_name);
  free(m->cpu.online);
  free(m->groups);
  if (m->amd != NULL)
    for (unsigned p = 0; p < m->cpu.packages; p++)
      free(m->amd[p].cores);
  free(m->amd);
  free(m->name);
  free(m->description);
  simi_hwmon_free(m);
  simi_stat_free(m);
  simi_cgroups_free(m);
  free(m->root);
  free(m);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                  */

static void close_fds(sim_machine_t *m) {
  for (size_t i = 0; i < m->n_zones; i++) {
    sim_zone_t *z = &m->zones[i];
    if (z->fd >= 0)
      close(z->fd);
    z->fd = -1;
    z->written_valid = 0;
    free(z->dir);
    z->dir = NULL;
  }
  simi_close_msr_files(m);
  simi_hwmon_close(m);
  simi_stat_close(m);
  simi_cgroups_close(m);
}

int sim_build(sim_machine_t *m, const char *root) {
  const sim_build_opts_t opts = {.powercap = 1, .cpu = 1, .msr_files = 0};
  return sim_build_ex(m, root, &opts);
}

int sim_build_ex(sim_machine_t *m, const char *root,
                 const sim_build_opts_t *opts) {
  if (m == NULL)
    return -EINVAL;
  const sim_build_opts_t defaults = {.powercap = 1, .cpu = 1, .msr_files = 0};
  const sim_build_opts_t *o = opts != NULL ? opts : &defaults;
  m->build_err[0] = '\0';
  close_fds(m);
  free(m->root);
  m->root = NULL;
  /* A new tree is whole: nothing has vanished from it. */
  m->powercap_built = 0;
  m->cpu_built = 0;
  m->all_vanished = 0;
  for (size_t i = 0; i < m->n_zones; i++)
    m->zones[i].vanished = 0;
  if (o->msr_files) {
    if (!m->cpu.present || !m->msr.present)
      return simi_build_fail(m, EINVAL, "msr files need the cpu and msr sections "
                                   "in the machine description");
    if (is_amd_like(m))
      return simi_build_fail(m, EINVAL,
                        "msr files: %s registers 0xC0010299, 0xC001029A and "
                        "0xC001029B are 1 apart, so 8-byte values at those "
                        "offsets of a plain file would overlap; use the FUSE "
                        "device (rapl-sim run --msr fuse)",
                        simi_vendor_ids[m->cpu.vendor]);
  }
  if (root == NULL || root[0] == '\0')
    return simi_build_fail(m, EINVAL, "empty root directory");

  int r = simi_make_dir_p(m, root);
  if (r != 0)
    return r;
  m->root = realpath(root, NULL);
  if (m->root == NULL)
    return simi_build_fail(m, errno, "cannot resolve %s", root);
  if (strcmp(m->root, "/") == 0) {
    free(m->root);
    m->root = NULL;
    return simi_build_fail(m, EINVAL, "refusing to build under /");
  }
  if ((r = simi_make_dir(m, m->root)) != 0) /* chmod 0755 */
    return r;
  if (o->powercap && (r = simi_build_powercap(m)) != 0)
    return r;
  m->powercap_built = o->powercap != 0;
  if (o->cpu && m->cpu.present && (r = simi_build_cpu(m)) != 0)
    return r;
  m->cpu_built = o->cpu && m->cpu.present;
  if (o->msr_files && (r = simi_build_msr_files(m)) != 0)
    return r;
  if ((r = simi_build_hwmon(m)) != 0)
    return r;
  if (o->cpu && (r = simi_build_stat(m)) != 0)
    return r;
  if ((r = simi_build_cgroups(m)) != 0)
    return r;
  return 0;
}

const char *sim_build_error(const sim_machine_t *m) {
  return m != NULL ? m->build_err : "";
}

/* ------------------------------------------------------------------------ */
/* Machine-wide accessors                                                    */

const char *sim_machine_name(const sim_machine_t *m) { return m->name; }
const char *sim_machine_description(const sim_machine_t *m) {
  return m->description;
}
const char *sim_root(const sim_machine_t *m) { return m->root; }
uint64_t sim_elapsed_ns(const sim_machine_t *m) { return m->elapsed_ns; }

/* ------------------------------------------------------------------------ */
/* Self-test of the arithmetic                                               */

__attribute__((format(printf, 3, 4))) static int
st_fail(char *err, size_t len, const char *fmt, ...) {
  if (err != NULL && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The MSR model on a tiny AMD machine: unit, offline CPU, unimplemented
 * register, the lead core being the powercap core zone, one counter per
 * core shared by its threads, and 1 s at 2 W advancing each core. */
static int selftest_msr(char *err, size_t err_len) {
  char lerr[256];
  sim_machine_t *m = sim_load_string(
      "machine: selftest-msr\n"
      "cpu: {vendor: AuthenticAMD, family: 0x19, model: 1, model_name: x,\n"
      "      packages: 1, cores_per_die: 2, threads_per_core: 2,\n"
      "      offline: [2]}\n"
      "msr: {unit: 0xA1003}\n"
      "powercap:\n"
      "  - {id: 0, name: package-0, esu: 16, power_w: 100,\n"
      "     zones: [{id: 0, name: core, esu: 16, power_w: 2}]}\n",
      lerr, sizeof(lerr));
  if (m == NULL)
    return st_fail(err, err_len, "loading the built-in MSR machine: %s",
                   lerr);
  int rc = 0;
  uint64_t unit = 0, c0 = 0, c1 = 0, c3 = 0, x = 0, c1b = 0;
  if (sim_msr_read(m, 0, SIM_MSR_AMD_RAPL_POWER_UNIT, &unit) != 0 ||
      unit != 0xA1003)
    rc = st_fail(err, err_len, "AMD unit register: 0x%" PRIx64, unit);
  else if (sim_msr_read(m, 2, SIM_MSR_AMD_RAPL_POWER_UNIT, &x) != -ENXIO)
    rc = st_fail(err, err_len, "offline CPU 2 does not give ENXIO");
  else if (sim_msr_read(m, 0, SIM_MSR_RAPL_POWER_UNIT, &x) != -EIO)
    rc = st_fail(err, err_len, "Intel 0x606 on AMD does not give EIO");
  else if (sim_msr_read(m, 0, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c0) != 0 ||
           sim_msr_read(m, 1, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c1) != 0 ||
           sim_msr_read(m, 3, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c3) != 0 ||
           c0 != sim_zone_raw32(m, 1) || c1 == c0 || c3 != c1)
    rc = st_fail(err, err_len, "per-core counters: cpu0 0x%" PRIx64
                 " (zone 0x%" PRIx32 "), cpu1 0x%" PRIx64 ", cpu3 0x%" PRIx64,
                 c0, sim_zone_raw32(m, 1), c1, c3);
  if (rc == 0) {
    sim_advance_ns(m, 1000000000ULL);
    sim_msr_read(m, 3, SIM_MSR_AMD_CORE_ENERGY_STATUS, &c1b);
    uint32_t ticks = (uint32_t)(c1b - c1); /* 2 J / 15258 nJ = 131078.8 */
    if (ticks != 131078 && ticks != 131079)
      rc = st_fail(err, err_len, "core 1 advanced %" PRIu32 " ticks in 1 s "
                   "at 2 W, want 131078..131079", ticks);
    else if (sim_amd_core_truth_nj(m, 0, 1) != 2000000000ULL)
      rc = st_fail(err, err_len, "core 1 truth %" PRIu64 " nJ, want 2 J",
                   sim_amd_core_truth_nj(m, 0, 1));
  }
  sim_free(m);
  return rc;
}

int sim_selftest(char *err, size_t err_len) {
  static const struct {
    uint64_t unit_nj;
    uint64_t range_uj;
  } known[] = {
      {61035, 262143328850ULL},        /* ESU 14, seen on real machines */
      {15300, 65712999613ULL},         /* fixed DRAM unit, seen */
      {15258, 65532610987ULL},         /* ESU 16 */
      {1000000000, 4294967295000000ULL}, /* SPR psys, 1 J */
  };
  if (sim_unit_nj_from_esu(14) != 61035)
    return st_fail(err, err_len, "esu 14 gives %" PRIu64 " nJ, want 61035",
                   sim_unit_nj_from_esu(14));
  if (sim_unit_nj_from_esu(16) != 15258)
    return st_fail(err, err_len, "esu 16 gives %" PRIu64 " nJ, want 15258",
                   sim_unit_nj_from_esu(16));
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    uint64_t got = sim_max_range_uj_for_unit(known[i].unit_nj);
    if (got != known[i].range_uj)
      return st_fail(err, err_len,
                     "unit %" PRIu64 " nJ: max_energy_range_uj %" PRIu64
                     ", want %" PRIu64,
                     known[i].unit_nj, got, known[i].range_uj);
  }

  /* Counter behaviour: 1/3 W for 3 s in 3000 steps of 1 ms = exactly 1 J,
   * and a wrap 2 s after sim_wrap_in(2). */
  char lerr[256];
  sim_machine_t *m = sim_load_string(
      "machine: selftest\n"
      "powercap:\n"
      "  - {id: 0, name: package-0, esu: 14, power_w: 0.333333}\n"
      "  - {id: 1, name: psys, unit_nj: 1000000000, power_w: 10}\n",
      lerr, sizeof(lerr));
  if (m == NULL)
    return st_fail(err, err_len, "loading the built-in machine: %s", lerr);
  int rc = 0;
  for (int s = 0; s < 3000; s++)
    sim_advance_ns(m, 1000000);
  if (sim_zone_truth_nj(m, 0) != 999999000ULL) /* 0.333333 W * 3 s */
    rc = st_fail(err, err_len, "3000 x 1 ms at 0.333333 W gave %" PRIu64
                 " nJ, want 999999000", sim_zone_truth_nj(m, 0));
  else if (sim_zone_energy_uj(m, 1) != 30000000ULL)
    rc = st_fail(err, err_len, "psys after 3 s at 10 W reads %" PRIu64
                 " uJ, want 30000000", sim_zone_energy_uj(m, 1));
  if (rc == 0) {
    sim_wrap_in(m, 2.0);
    uint64_t before = sim_zone_energy_uj(m, 0);
    sim_advance_ns(m, 1999000000ULL);
    uint64_t mid = sim_zone_energy_uj(m, 0);
    sim_advance_ns(m, 2000000ULL);
    uint64_t after = sim_zone_energy_uj(m, 0);
    if (!(mid > before && after < mid))
      rc = st_fail(err, err_len, "no wrap 2 s after sim_wrap_in(2): %" PRIu64
                   " -> %" PRIu64 " -> %" PRIu64, before, mid, after);
  }
  sim_free(m);
  if (rc != 0)
    return rc;
  return selftest_msr(err, err_len);
}

