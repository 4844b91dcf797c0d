/* domain.c - see domain.h. */
#include "domain.h"

#include <stddef.h>
#include <strings.h>

static const char *const domain_names[RAPL_DOMAIN_COUNT] = {
    [RAPL_DOMAIN_PACKAGE] = "package", [RAPL_DOMAIN_CORE] = "core",
    [RAPL_DOMAIN_UNCORE] = "uncore",   [RAPL_DOMAIN_DRAM] = "dram",
    [RAPL_DOMAIN_PSYS] = "psys",
};

const char *rapl_domain_name(enum rapl_domain domain) {
  if ((unsigned)domain >= RAPL_DOMAIN_COUNT)
    return NULL;
  return domain_names[domain];
}

bool rapl_domain_from_name(const char *name, enum rapl_domain *domain) {
  if (name == NULL)
    return false;
  for (unsigned i = 0; i < RAPL_DOMAIN_COUNT; i++) {
    if (strcasecmp(name, domain_names[i]) == 0) {
      *domain = (enum rapl_domain)i;
      return true;
    }
  }
  return false;
}
