/* domain.h - the RAPL energy domains, their names and their order.
 *
 * Names are the kernel's (intel_rapl_common.c rapl_domain_names[] and the
 * top-level zone kinds): they are what operators write in `Zones` and what
 * the plugin dispatches as type_instance.
 */
#ifndef RAPL_DOMAIN_H
#define RAPL_DOMAIN_H

#include <stdbool.h>

enum rapl_domain {
  RAPL_DOMAIN_PACKAGE,
  RAPL_DOMAIN_CORE,
  RAPL_DOMAIN_UNCORE,
  RAPL_DOMAIN_DRAM,
  RAPL_DOMAIN_PSYS,
  RAPL_DOMAIN_COUNT
};

/* "package", "core", ... ; NULL for an out-of-range value. */
const char *rapl_domain_name(enum rapl_domain domain);

/* Case-insensitive lookup; false when the name is not a RAPL domain. */
bool rapl_domain_from_name(const char *name, enum rapl_domain *domain);

#endif
