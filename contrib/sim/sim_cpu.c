/*
 * sim_cpu.c - the CPU view (cpu: section): topology, the
 * sys/devices/system/cpu tree, /proc/cpuinfo, CPU hotplug
 * (see sim_machine.h, README.md; the shared state is in sim_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPU vendors, as the plugin tells them apart (cpuinfo vendor_id). */
const char *const simi_vendor_ids[3] = {"GenuineIntel", "AuthenticAMD",
                                        "HygonGenuine"};

enum {
  CK_VENDOR,
  CK_FAMILY,
  CK_MODEL,
  CK_MODEL_NAME,
  CK_STEPPING,
  CK_MICROCODE,
  CK_PACKAGES,
  CK_DIES,
  CK_CORES,
  CK_THREADS,
  CK_OFFLINE,
};
static const char *const cpu_keys[] = {
    "vendor",   "family",           "model",         "model_name",
    "stepping", "microcode",        "packages",      "dies_per_package",
    "cores_per_die", "threads_per_core", "offline",  NULL};

static int get_uint_min(load_ctx_t *c, const yaml_node_t *n, const char *what,
                        uint64_t min, uint64_t max, uint64_t *out) {
  if (simi_get_uint(c, n, what, max, out) != 0)
    return -1;
  if (*out < min)
    return simi_fail(c, n, "%s must be at least %" PRIu64 ", got %s", what, min,
                simi_scalar(n));
  return 0;
}

static int cpu_pair(load_ctx_t *c, size_t key, yaml_node_t *v, void *arg) {
  sim_cpu_info_t *ci = arg;
  uint64_t u = 0;
  char *str = NULL;
  switch (key) {
  case CK_VENDOR:
    if (simi_get_string(c, v, "vendor", &str) != 0 || str == NULL)
      return -1;
    for (size_t i = 0; i < sizeof(simi_vendor_ids) / sizeof(simi_vendor_ids[0]); i++)
      if (strcmp(str, simi_vendor_ids[i]) == 0) {
        ci->vendor = (int)i;
        free(str);
        return 0;
      }
    simi_fail(c, v, "vendor must be GenuineIntel, AuthenticAMD or HygonGenuine, "
               "got \"%s\"", str);
    free(str);
    return -1;
  case CK_FAMILY: /* base + extended family: at most 0xF + 0xFF */
    if (simi_get_uint(c, v, "family", 0x10E, &u) != 0)
      return -1;
    ci->family = (unsigned)u;
    return 0;
  case CK_MODEL:
    if (simi_get_uint(c, v, "model", 0xFF, &u) != 0)
      return -1;
    ci->model = (unsigned)u;
    return 0;
  case CK_MODEL_NAME:
    if (simi_get_string(c, v, "model_name", &ci->model_name) != 0)
      return -1;
    /* the CPUID brand string: 48 bytes including the NUL */
    if (ci->model_name[0] == '\0' || strlen(ci->model_name) > 47)
      return simi_fail(c, v, "model_name must have 1 to 47 characters");
    for (const char *p = ci->model_name; *p; p++)
      if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
        return simi_fail(c, v, "model_name must be printable ASCII");
    return 0;
  case CK_STEPPING:
    if (simi_get_uint(c, v, "stepping", 0xF, &u) != 0)
      return -1;
    ci->stepping = (unsigned)u;
    return 0;
  case CK_MICROCODE:
    if (simi_get_uint(c, v, "microcode", 0xFFFFFFFFu, &u) != 0)
      return -1;
    ci->microcode = u;
    return 0;
  case CK_PACKAGES:
    if (get_uint_min(c, v, "packages", 1, 64, &u) != 0)
      return -1;
    ci->packages = (unsigned)u;
    return 0;
  case CK_DIES:
    if (get_uint_min(c, v, "dies_per_package", 1, 16, &u) != 0)
      return -1;
    ci->dies = (unsigned)u;
    return 0;
  case CK_CORES:
    if (get_uint_min(c, v, "cores_per_die", 1, 256, &u) != 0)
      return -1;
    ci->cores = (unsigned)u;
    return 0;
  case CK_THREADS:
    if (get_uint_min(c, v, "threads_per_core", 1, 4, &u) != 0)
      return -1;
    ci->threads = (unsigned)u;
    return 0;
  case CK_OFFLINE:
    if (simi_expect_type(c, v, YAML_SEQUENCE_NODE, "offline") != 0)
      return -1;
    c->offline_node = v;
    return 0;
  }
  return -1;
}

int simi_sec_cpu(load_ctx_t *c, yaml_node_t *v) {
  sim_cpu_info_t *ci = &c->m->cpu;
  c->cpu_node = v;
  ci->dies = 1;
  ci->threads = 1;
  ci->microcode = 0x1;
  uint32_t seen;
  if (simi_walk_mapping(c, v, "cpu", cpu_keys, cpu_pair, ci, &seen) != 0)
    return -1;
  static const int required[] = {CK_VENDOR,      CK_FAMILY,   CK_MODEL,
                                 CK_MODEL_NAME,  CK_PACKAGES, CK_CORES};
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
    if (!(seen & (1u << required[i])))
      return simi_fail(c, v, "cpu is missing required key \"%s\"",
                  cpu_keys[required[i]]);
  ci->n_cpus = (size_t)ci->packages * ci->dies * ci->cores * ci->threads;
  if (ci->n_cpus > SIM_MAX_CPUS)
    return simi_fail(c, v, "cpu describes %zu logical CPUs; at most %d are "
                      "supported (keep the machine small)",
                ci->n_cpus, SIM_MAX_CPUS);
  ci->online = malloc(ci->n_cpus);
  if (ci->online == NULL)
    return simi_fail(c, v, "out of memory");
  memset(ci->online, 1, ci->n_cpus);
  ci->present = 1;

  yaml_node_t *off = c->offline_node;
  if (off != NULL)
    for (yaml_node_item_t *it = off->data.sequence.items.start;
         it < off->data.sequence.items.top; it++) {
      yaml_node_t *n = yaml_document_get_node(c->doc, *it);
      uint64_t u = 0;
      if (n == NULL)
        return simi_fail(c, off, "broken document");
      if (simi_get_uint(c, n, "an offline CPU", UINT64_MAX, &u) != 0)
        return -1;
      if (u >= ci->n_cpus)
        return simi_fail(c, n, "offline CPU %" PRIu64 " does not exist (CPUs are "
                          "0..%zu)", u, ci->n_cpus - 1);
      if (u == 0)
        return simi_fail(c, n, "CPU 0 cannot be offline (x86 Linux has no "
                          "cpu0/online)");
      if (!ci->online[u])
        return simi_fail(c, n, "CPU %" PRIu64 " is listed twice", u);
      ci->online[u] = 0;
    }
  /* The kernel removes a RAPL package when its last CPU goes offline
   * (REFERENCE.md 2.6, rapl_cpu_down_prep): keep one per die. */
  for (unsigned p = 0; p < ci->packages; p++)
    for (unsigned d = 0; d < ci->dies; d++) {
      int any = 0;
      for (size_t cpu = 0; cpu < ci->n_cpus && !any; cpu++) {
        sim_topo_t t = cpu_topo(ci, cpu);
        any = t.pkg == p && t.die == d && ci->online[cpu];
      }
      if (!any)
        return simi_fail(c, off != NULL ? off : v,
                    "every CPU of package %u die %u is offline; the kernel "
                    "would remove its RAPL zones: keep one online", p, d);
    }
  return 0;
}

/* --- sys/devices/system/cpu and proc/cpuinfo --- */

typedef struct {
  int online;         /* 1: online CPUs only, 0: offline only, -1: all */
  long pkg, die, core; /* -1: any; core is the core_id */
} cpu_filter_t;

static int cpu_match(const sim_cpu_info_t *ci, size_t cpu,
                     const cpu_filter_t *f) {
  sim_topo_t t = cpu_topo(ci, cpu);
  return (f->online < 0 || f->online == ci->online[cpu]) &&
         (f->pkg < 0 || f->pkg == (long)t.pkg) &&
         (f->die < 0 || f->die == (long)t.die) &&
         (f->core < 0 || f->core == (long)topo_core_id(ci, t));
}

/* The kernel's bitmap list format (cpulist_read / "%*pbl"): "0-1,3-8\n";
 * an empty set gives "\n".  NULL when out of memory. */
static char *cpu_list(const sim_cpu_info_t *ci, const cpu_filter_t *f) {
  size_t cap = ci->n_cpus * 12 + 2, used = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  for (size_t cpu = 0; cpu < ci->n_cpus;) {
    if (!cpu_match(ci, cpu, f)) {
      cpu++;
      continue;
    }
    size_t last = cpu;
    while (last + 1 < ci->n_cpus && cpu_match(ci, last + 1, f))
      last++;
    int n = last == cpu ? snprintf(buf + used, cap - used, "%s%zu",
                                   used ? "," : "", cpu)
                        : snprintf(buf + used, cap - used, "%s%zu-%zu",
                                   used ? "," : "", cpu, last);
    used += (size_t)n;
    cpu = last + 1;
  }
  snprintf(buf + used, cap - used, "\n");
  return buf;
}

static int write_cpu_list(sim_machine_t *m, const char *dir, const char *name,
                          const cpu_filter_t *f) {
  char *list = cpu_list(&m->cpu, f);
  if (list == NULL)
    return simi_build_fail(m, ENOMEM, "%s/%s", dir, name);
  int r = simi_write_file(m, dir, name, list, 0444);
  free(list);
  return r;
}

static int write_int_file(sim_machine_t *m, const char *dir, const char *name,
                          long v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%ld\n", v);
  return simi_write_file(m, dir, name, buf, 0444);
}

/* cpuN/topology/ of an online CPU (offline CPUs have none: the kernel
 * removes the topology group when a CPU goes down).  The sibling masks
 * hold online CPUs only, as the kernel's do. */
static int build_topology(sim_machine_t *m, size_t cpu, const char *cpudir) {
  const sim_cpu_info_t *ci = &m->cpu;
  sim_topo_t t = cpu_topo(ci, cpu);
  long core = (long)topo_core_id(ci, t);
  char *dir;
  if (asprintf(&dir, "%s/topology", cpudir) < 0)
    return simi_build_fail(m, ENOMEM, "%s/topology", cpudir);
  const cpu_filter_t thread_f = {1, t.pkg, t.die, core};
  const cpu_filter_t die_f = {1, t.pkg, t.die, -1};
  const cpu_filter_t pkg_f = {1, t.pkg, -1, -1};
  int r = simi_make_dir(m, dir);
  if (r == 0)
    r = write_int_file(m, dir, "physical_package_id", t.pkg);
  if (r == 0)
    r = write_int_file(m, dir, "die_id", t.die);
  if (r == 0)
    r = write_int_file(m, dir, "core_id", core);
  if (r == 0)
    r = write_cpu_list(m, dir, "thread_siblings_list", &thread_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "core_cpus_list", &thread_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "die_cpus_list", &die_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "package_cpus_list", &pkg_f);
  if (r == 0)
    r = write_cpu_list(m, dir, "core_siblings_list", &pkg_f);
  free(dir);
  return r;
}

static unsigned bits_for(unsigned n) { /* ceil(log2(n)) */
  unsigned b = 0;
  while ((1u << b) < n)
    b++;
  return b;
}

/* x86 APIC id: thread, core, die, package fields, each as wide as needed. */
static unsigned apic_id(const sim_cpu_info_t *ci, sim_topo_t t) {
  unsigned smt = bits_for(ci->threads), core = bits_for(ci->cores),
           die = bits_for(ci->dies);
  return (((t.pkg << die | t.die) << core | t.core_in_die) << smt) | t.thread;
}

/* cpu MHz: the "@ 2.40GHz" of an Intel brand string, else 2000. */
static unsigned cpu_khz(const sim_cpu_info_t *ci) {
  const char *at = strstr(ci->model_name, "@ ");
  if (at != NULL) {
    char *end;
    double ghz = strtod(at + 2, &end);
    if (end != at + 2 && strncmp(end, "GHz", 3) == 0 && ghz > 0 && ghz < 10)
      return (unsigned)(ghz * 1e6 + 0.5);
  }
  return 2000000;
}

/* Flags as a 6.x kernel prints them; "msr" is what the plugin's MSR reader
 * relies on.  Intel: a Skylake-SP list; AMD: a Zen 3 (Milan) list. */
static const char flags_intel[] =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb "
    "rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl "
    "xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor "
    "ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 "
    "sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand "
    "lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single "
    "intel_ppin ssbd mba ibrs ibpb stibp tpr_shadow flexpriority ept vpid "
    "ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid cqm mpx "
    "rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt "
    "avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc "
    "cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts rapl "
    "pku ospke md_clear flush_l1d arch_capabilities";
static const char flags_amd[] =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp "
    "lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf "
    "rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic "
    "movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic "
    "cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce "
    "topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 "
    "cdp_l3 invpcid_single hw_pstate ssbd mba ibrs ibpb stibp vmmcall "
    "fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap "
    "clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc "
    "cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr "
    "rdpru wbnoinvd amd_ppin arat npt lbrv svm_lock nrip_save tsc_scale "
    "vmcb_clean flushbyasid decodeassists pausefilter pfthreshold "
    "v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid "
    "overflow_recov succor smca";

/* One block per online CPU in the format of arch/x86/kernel/cpu/proc.c
 * show_cpuinfo(): "siblings" counts the package's online CPUs and "cpu
 * cores" its cores with an online thread. */
static int write_cpuinfo(const sim_machine_t *m, FILE *f) {
  const sim_cpu_info_t *ci = &m->cpu;
  int amd = is_amd_like(m);
  unsigned khz = cpu_khz(ci);
  size_t per_pkg_cores = (size_t)ci->dies * ci->cores;
  size_t *siblings = calloc(ci->packages, sizeof(*siblings));
  size_t *booted_cores = calloc(ci->packages, sizeof(*booted_cores));
  unsigned char *core_seen = calloc(ci->packages, per_pkg_cores);
  if (siblings == NULL || booted_cores == NULL || core_seen == NULL) {
    free(siblings);
    free(booted_cores);
    free(core_seen);
    return -ENOMEM;
  }
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
    if (!ci->online[cpu])
      continue;
    sim_topo_t t = cpu_topo(ci, cpu);
    siblings[t.pkg]++;
    unsigned char *seen = &core_seen[t.pkg * per_pkg_cores +
                                     topo_core_id(ci, t)];
    booted_cores[t.pkg] += !*seen;
    *seen = 1;
  }
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
    if (!ci->online[cpu])
      continue;
    sim_topo_t t = cpu_topo(ci, cpu);
    unsigned apic = apic_id(ci, t);
    fprintf(f,
            "processor\t: %zu\n"
            "vendor_id\t: %s\n"
            "cpu family\t: %u\n"
            "model\t\t: %u\n"
            "model name\t: %s\n"
            "stepping\t: %u\n",
            cpu, simi_vendor_ids[ci->vendor], ci->family, ci->model,
            ci->model_name, ci->stepping);
    if (ci->microcode != 0)
      fprintf(f, "microcode\t: 0x%" PRIx64 "\n", ci->microcode);
    fprintf(f,
            "cpu MHz\t\t: %u.%03u\n"
            "cache size\t: %zu KB\n"
            "physical id\t: %u\n"
            "siblings\t: %zu\n"
            "core id\t\t: %u\n"
            "cpu cores\t: %zu\n"
            "apicid\t\t: %u\n"
            "initial apicid\t: %u\n"
            "fpu\t\t: yes\n"
            "fpu_exception\t: yes\n"
            "cpuid level\t: %d\n"
            "wp\t\t: yes\n"
            "flags\t\t: %s\n"
            "bugs\t\t: %s\n"
            "bogomips\t: %u.%02u\n",
            khz / 1000, khz % 1000,
            amd ? (size_t)512 : (size_t)1408 * per_pkg_cores, t.pkg,
            siblings[t.pkg], topo_core_id(ci, t), booted_cores[t.pkg], apic,
            apic, amd ? 16 : 22,
            amd ? flags_amd : flags_intel,
            amd ? "sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass "
                  "srso"
                : "spectre_v1 spectre_v2 spec_store_bypass swapgs taa "
                  "itlb_multihit mmio_stale_data retbleed gds",
            khz * 2 / 1000, khz * 2 % 1000 / 10);
    if (amd)
      fprintf(f, "TLB size\t: 2560 4K pages\n");
    fprintf(f,
            "clflush size\t: 64\n"
            "cache_alignment\t: 64\n"
            "address sizes\t: %s\n"
            "power management:%s\n\n",
            amd ? "48 bits physical, 48 bits virtual"
                : "46 bits physical, 48 bits virtual",
            amd ? " ts ttp tm hwpstate cpb eff_freq_ro [13] [14]" : "");
  }
  free(siblings);
  free(booted_cores);
  free(core_seen);
  return ferror(f) ? -EIO : 0;
}

static int build_cpuinfo(sim_machine_t *m) {
  static const char *const dirs[] = {"proc"};
  int r = simi_make_dirs(m, dirs, 1);
  if (r != 0)
    return r;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return simi_build_fail(m, errno, "proc/cpuinfo");
  r = write_cpuinfo(m, f);
  if (fclose(f) != 0 && r == 0)
    r = -errno;
  if (r != 0) {
    free(text);
    return simi_build_fail(m, -r, "proc/cpuinfo");
  }
  char *dir;
  if (asprintf(&dir, "%s/proc", m->root) < 0) {
    free(text);
    return simi_build_fail(m, ENOMEM, "proc/cpuinfo");
  }
  r = simi_write_file(m, dir, "cpuinfo", text, 0444);
  free(dir);
  free(text);
  return r;
}

int simi_build_cpu(sim_machine_t *m) {
  static const char *const dirs[] = {"sys", "sys/devices",
                                     "sys/devices/system",
                                     "sys/devices/system/cpu"};
  int r = simi_make_dirs(m, dirs, sizeof(dirs) / sizeof(dirs[0]));
  if (r != 0)
    return r;
  const sim_cpu_info_t *ci = &m->cpu;
  char *base;
  if (asprintf(&base, "%s/sys/devices/system/cpu", m->root) < 0)
    return simi_build_fail(m, ENOMEM, "sys/devices/system/cpu");
  const cpu_filter_t all = {-1, -1, -1, -1}, on = {1, -1, -1, -1},
                     off = {0, -1, -1, -1};
  r = write_cpu_list(m, base, "online", &on);
  if (r == 0)
    r = write_cpu_list(m, base, "possible", &all);
  if (r == 0)
    r = write_cpu_list(m, base, "present", &all);
  if (r == 0)
    r = write_cpu_list(m, base, "offline", &off);
  for (size_t cpu = 0; cpu < ci->n_cpus && r == 0; cpu++) {
    char *dir;
    if (asprintf(&dir, "%s/cpu%zu", base, cpu) < 0) {
      r = simi_build_fail(m, ENOMEM, "cpu%zu", cpu);
      break;
    }
    r = simi_make_dir(m, dir);
    /* x86 has no cpu0/online (CPU 0 cannot be unplugged) */
    if (r == 0 && cpu > 0)
      r = simi_write_file(m, dir, "online", ci->online[cpu] ? "1\n" : "0\n",
                     0644);
    if (r == 0 && ci->online[cpu])
      r = build_topology(m, cpu, dir);
    free(dir);
  }
  free(base);
  if (r == 0)
    r = build_cpuinfo(m);
  return r;
}

int sim_has_cpu(const sim_machine_t *m) { return m->cpu.present; }
size_t sim_cpu_count(const sim_machine_t *m) { return m->cpu.n_cpus; }
int sim_cpu_online(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? m->cpu.online[cpu] : 0;
}

/* AMD/Hygon: which cores still have an online thread (a core without one
 * draws no power).  The lead core stays the one chosen at load. */
static void amd_update_online(sim_machine_t *m) {
  if (m->amd == NULL)
    return;
  const sim_cpu_info_t *ci = &m->cpu;
  size_t per_pkg = (size_t)ci->dies * ci->cores;
  for (unsigned p = 0; p < ci->packages; p++)
    if (m->amd[p].cores != NULL)
      for (size_t k = 0; k < per_pkg; k++)
        m->amd[p].cores[k].has_online = 0;
  for (size_t cpu = 0; cpu < ci->n_cpus; cpu++) {
    sim_topo_t t = cpu_topo(ci, cpu);
    if (ci->online[cpu] && m->amd[t.pkg].cores != NULL)
      m->amd[t.pkg].cores[topo_core_id(ci, t)].has_online = 1;
  }
}

/* The kernel removes cpuN/topology when the CPU goes offline. */
static int remove_topology(sim_machine_t *m, unsigned cpu) {
  static const char *const files[] = {
      "physical_package_id", "die_id",          "core_id",
      "thread_siblings_list", "core_cpus_list", "die_cpus_list",
      "package_cpus_list",   "core_siblings_list"};
  char *dir;
  if (asprintf(&dir, "%s/sys/devices/system/cpu/cpu%u/topology", m->root,
               cpu) < 0)
    return simi_build_fail(m, ENOMEM, "cpu%u/topology", cpu);
  int r = 0;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && r == 0; i++) {
    char *path;
    if (asprintf(&path, "%s/%s", dir, files[i]) < 0) {
      r = simi_build_fail(m, ENOMEM, "%s", dir);
      break;
    }
    if (unlink(path) != 0 && errno != ENOENT)
      r = simi_build_fail(m, errno, "cannot remove %s", path);
    free(path);
  }
  if (r == 0 && rmdir(dir) != 0 && errno != ENOENT)
    r = simi_build_fail(m, errno, "cannot remove %s", dir);
  free(dir);
  return r;
}

int sim_cpu_set_online(sim_machine_t *m, unsigned cpu, int on) {
  if (m == NULL || !m->cpu.present || cpu >= m->cpu.n_cpus ||
      (cpu == 0 && !on))
    return -EINVAL;
  on = on != 0;
  if (m->cpu.online[cpu] == on)
    return 0;
  m->cpu.online[cpu] = (unsigned char)on;
  amd_update_online(m);
  int r = 0;
  if (m->root != NULL && m->cpu_built) {
    if (!on)
      r = remove_topology(m, cpu);
    if (r == 0)
      r = simi_build_cpu(m); /* lists, cpuN/online, sibling masks, cpuinfo */
    if (r == 0 && (r = simi_stat_write(m, 1)) != 0) /* no line offline */
      r = simi_build_fail(m, -r, "cannot rewrite proc/stat");
  }
  if (r == 0 && m->root != NULL && m->msr_files != NULL)
    r = on ? simi_msr_file_create(m, cpu) : simi_msr_file_remove(m, cpu);
  return r;
}

int sim_cpu_package(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? (int)cpu_topo(&m->cpu, cpu).pkg : -1;
}
int sim_cpu_die(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? (int)cpu_topo(&m->cpu, cpu).die : -1;
}
int sim_cpu_core(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus
             ? (int)topo_core_id(&m->cpu, cpu_topo(&m->cpu, cpu))
             : -1;
}
int sim_cpu_thread(const sim_machine_t *m, unsigned cpu) {
  return cpu < m->cpu.n_cpus ? (int)cpu_topo(&m->cpu, cpu).thread : -1;
}
const char *sim_cpu_vendor(const sim_machine_t *m) {
  return m->cpu.present ? simi_vendor_ids[m->cpu.vendor] : NULL;
}
unsigned sim_cpu_family(const sim_machine_t *m) { return m->cpu.family; }
unsigned sim_cpu_model(const sim_machine_t *m) { return m->cpu.model; }
unsigned sim_cpu_packages(const sim_machine_t *m) { return m->cpu.packages; }
unsigned sim_cpu_dies_per_package(const sim_machine_t *m) {
  return m->cpu.dies;
}
