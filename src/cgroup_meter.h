/* cgroup_meter.h - the meter's books for energy per cgroup (SPEC 9).
 *
 * Between the reader (cgroup.c) and the meter: each cgroup's previous
 * usage_usec, its share of the sample, its energy and power per domain
 * (the meter's totals, by index), its problems, logged once. Listing and
 * booking allocate (rescan); a sample and its attribution do not.
 */
#ifndef RAPL_CGROUP_METER_H
#define RAPL_CGROUP_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting.h"
#include "cgroup.h"
#include "options.h"

typedef struct rapl_cgroup_books rapl_cgroup_books_t;

/* Opens the set of options->cgroup_globs under options->cgroup_path.
 * NULL with one line in `why` (naming CgroupPath) when it cannot be. */
rapl_cgroup_books_t *rapl_cgroup_books_open(const rapl_options_t *options,
                                            char *why, size_t why_len);
void rapl_cgroup_books_free(rapl_cgroup_books_t *books);

/* Lists the cgroups again and re-books them: a cgroup keeps its books
 * while it lives (same path, same id), a new one (or a new instance of a
 * path) starts from 0, one that is gone is dropped. Room for `domains`
 * domains per cgroup (never fewer than before). 0, or -ENOMEM: then no
 * cgroup is read nor dispatched until a rescan succeeds. */
int rapl_cgroup_books_rescan(rapl_cgroup_books_t *books, size_t domains);

/* The most values rapl_cgroup_books_* can have the meter push: energy
 * and power per cgroup per domain. */
size_t rapl_cgroup_books_max_values(const rapl_cgroup_books_t *books);

/* Reads every cgroup's usage_usec, right after /proc/stat was read, and
 * computes each one's share of this sample (rapl_cgroup_shares):
 * `have_busy` false at the first /proc/stat, which only baselines. Logs a
 * cgroup's read problem once per episode and a cgroup gone once. */
void rapl_cgroup_books_sample(rapl_cgroup_books_t *books,
                              uint64_t delta_busy_usec, bool have_busy,
                              uint64_t now_ns);

/* Gives each cgroup its share of this sample's active energy of domain
 * `domain` (the index of the meter's total). */
void rapl_cgroup_books_attribute(rapl_cgroup_books_t *books, size_t domain,
                                 uint64_t delta_active_uj);

size_t rapl_cgroup_books_count(const rapl_cgroup_books_t *books);
/* Cgroup i's plugin_instance, or NULL when it is not dispatched now: not
 * read yet, or its latest read failed. Valid until the next rescan. */
const char *rapl_cgroup_books_instance(const rapl_cgroup_books_t *books,
                                       size_t i);
/* Its energy in a domain since it was first seen (0 for a domain it has
 * no books for), and the power state to dispatch it with. */
uint64_t rapl_cgroup_books_energy_uj(const rapl_cgroup_books_t *books,
                                     size_t i, size_t domain);
rapl_power_t *rapl_cgroup_books_power(rapl_cgroup_books_t *books, size_t i,
                                      size_t domain);
/* When the latest sample read the cgroups. */
uint64_t rapl_cgroup_books_sample_ns(const rapl_cgroup_books_t *books);

#endif
