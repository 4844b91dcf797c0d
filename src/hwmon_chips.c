/* hwmon_chips.c - see hwmon_chips.h. */
#include "hwmon_chips.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {
    [RAPL_HWMON_ENERGY] = "energy",
    [RAPL_HWMON_POWER] = "power",
    [RAPL_HWMON_IN] = "in",
    [RAPL_HWMON_CURR] = "curr",
};

static const char *const item_names[] = {
    [RAPL_HWMON_INPUT] = "input",
    [RAPL_HWMON_AVERAGE] = "average",
    [RAPL_HWMON_LABEL] = "label",
    [RAPL_HWMON_ENABLE] = "enable",
};

const char *rapl_hwmon_type_name(rapl_hwmon_type_t type) {
  return (unsigned)type < sizeof(type_names) / sizeof(type_names[0])
             ? type_names[type]
             : "?";
}

bool rapl_hwmon_parse_attr(const char *name, rapl_hwmon_attr_t *attr) {
  for (unsigned t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++) {
    size_t n = strlen(type_names[t]);
    if (strncmp(name, type_names[t], n) != 0)
      continue;
    const char *p = name + n;
    if (*p < '0' || *p > '9')
      continue; /* "in" must not match "intrusion0_alarm" */
    unsigned long index = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
      index = index * 10 + (unsigned long)(*p - '0');
      if (index > 100000)
        return false;
    }
    if (*p++ != '_')
      return false;
    for (unsigned i = 0; i < sizeof(item_names) / sizeof(item_names[0]); i++) {
      if (strcmp(p, item_names[i]) == 0) {
        attr->type = (rapl_hwmon_type_t)t;
        attr->index = (unsigned)index;
        attr->item = (rapl_hwmon_item_t)i;
        return true;
      }
    }
    return false;
  }
  return false;
}

bool rapl_hwmon_domain_from_label(const char *label, char *domain, size_t len) {
  if (len == 0)
    return false;
  size_t end = strlen(label);
  while (end > 0 && (label[end - 1] == '\n' || label[end - 1] == ' ' ||
                     label[end - 1] == '\t'))
    end--;
  size_t start = 0;
  while (start < end && (label[start] == ' ' || label[start] == '\t'))
    start++;
  size_t out = 0;
  for (size_t i = start; i < end && out + 1 < len; i++) {
    char c = label[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      c = '_';
    domain[out++] = c;
  }
  domain[out] = '\0';
  return out > 0;
}

/* Which inputs are bus voltages is the driver's business: each row says
 * where it is documented. Chips that also have powerN_input (INA2xx,
 * LTC2945) are read through it; their row serves a driver version
 * without one. */
static const rapl_hwmon_chip_pairs_t pair_table[] = {
    {"ina3221", {{1, 1}, {2, 2}, {3, 3}}, 3,
     "in1..3 bus voltage, in4..6 shunt voltage, curr1..3 "
     "(Documentation/hwmon/ina3221.rst)"},
    {"ina219", {{1, 1}}, 1, "in0 shunt, in1 bus (Documentation/hwmon/ina2xx.rst)"},
    {"ina220", {{1, 1}}, 1, "in0 shunt, in1 bus (ina2xx.rst)"},
    {"ina226", {{1, 1}}, 1, "in0 shunt, in1 bus (ina2xx.rst)"},
    {"ina230", {{1, 1}}, 1, "in0 shunt, in1 bus (ina2xx.rst)"},
    {"ina231", {{1, 1}}, 1, "in0 shunt, in1 bus (ina2xx.rst)"},
    {"ina234", {{1, 1}}, 1, "in0 shunt, in1 bus (ina2xx.rst)"},
    {"ina260", {{1, 1}}, 1, "in0 shunt, in1 bus (ina2xx.rst)"},
    {"ltc2945", {{1, 1}}, 1,
     "in1 VIN (SENSE+ or VDD), in2 ADIN auxiliary (Documentation/hwmon/"
     "ltc2945.rst)"},
    {"max20730", {{2, 1}}, 1,
     "PMBus: in1 vin, in2 vout1, curr1 iout1: the output rail "
     "(Documentation/hwmon/max20730.rst)"},
};

const rapl_hwmon_chip_pairs_t *rapl_hwmon_pair_table(size_t *count) {
  *count = sizeof(pair_table) / sizeof(pair_table[0]);
  return pair_table;
}

const rapl_hwmon_chip_pairs_t *rapl_hwmon_chip_pairs(const char *chip) {
  for (size_t i = 0; i < sizeof(pair_table) / sizeof(pair_table[0]); i++)
    if (strcmp(pair_table[i].chip, chip) == 0)
      return &pair_table[i];
  return NULL;
}

bool rapl_hwmon_is_amd_energy_chip(const char *chip) {
  return strcmp(chip, "amd_energy") == 0 || strcmp(chip, "zenergy") == 0;
}

static bool parse_number(const char *p, unsigned *number) {
  if (*p < '0' || *p > '9')
    return false;
  unsigned long n = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    n = n * 10 + (unsigned long)(*p - '0');
    if (n > 1000000)
      return false;
  }
  while (*p == '\n' || *p == ' ')
    p++;
  if (*p != '\0')
    return false;
  *number = (unsigned)n;
  return true;
}

rapl_hwmon_amd_kind_t rapl_hwmon_parse_amd_label(const char *label,
                                                 unsigned *number) {
  /* amd_energy.c: scnprintf(label, 10, "Ecore%03u", i) / "Esocket%u" */
  if (strncmp(label, "Ecore", 5) == 0 && parse_number(label + 5, number))
    return RAPL_HWMON_AMD_CORE;
  if (strncmp(label, "Esocket", 7) == 0 && parse_number(label + 7, number))
    return RAPL_HWMON_AMD_SOCKET;
  return RAPL_HWMON_AMD_NONE;
}

int rapl_hwmon_parse_s64(const char *buf, size_t len, int64_t *value) {
  size_t i = 0;
  bool negative = false;
  if (len > 0 && buf[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i == len || buf[i] == '\n')
    return negative ? -EINVAL : -ENODATA;
  uint64_t magnitude = 0;
  size_t digits = 0;
  for (; i < len && buf[i] != '\n'; i++) {
    if (buf[i] < '0' || buf[i] > '9')
      return -EINVAL;
    uint64_t d = (uint64_t)(buf[i] - '0');
    if (magnitude > (UINT64_C(0x7FFFFFFFFFFFFFFF) - d) / 10)
      return -ERANGE;
    magnitude = magnitude * 10 + d;
    digits++;
  }
  if (digits == 0)
    return -EINVAL;
  *value = negative ? -(int64_t)magnitude : (int64_t)magnitude;
  return 0;
}

bool rapl_hwmon_is_sentinel(uint64_t value) {
  return value == UINT64_MAX || value == UINT32_MAX ||
         value == UINT64_C(0xFFFFFFFF) * 1000 ||
         value == UINT64_C(0xFFFFFFFF) * 1000000 ||
         value == UINT64_C(0x7FFFFFFFFFFFFFFF);
}

#define TWO_NS_PER_S (UINT64_C(2) * UINT64_C(1000000000))

void rapl_hwmon_integrate(rapl_hwmon_integral_t *integral, uint64_t power_uw,
                          uint64_t now_ns) {
  if (integral->have_prev && now_ns > integral->prev_ns) {
    /* uW x ns = 1e-9 uJ; (a + b) x dt / 2 => divide by 2e9, remainder kept */
    unsigned __int128 sum =
        ((unsigned __int128)integral->prev_uw + power_uw) *
            (now_ns - integral->prev_ns) +
        integral->rem;
    unsigned __int128 uj = sum / TWO_NS_PER_S;
    integral->rem = (uint64_t)(sum % TWO_NS_PER_S);
    unsigned __int128 total = integral->energy_uj + uj;
    integral->energy_uj = total > UINT64_MAX ? UINT64_MAX : (uint64_t)total;
  }
  integral->prev_uw = power_uw;
  integral->prev_ns = now_ns;
  integral->have_prev = true;
}
