/* msr.h - the raw RAPL MSR energy source (opt-in; SPEC section 6).
 *
 * rapl_msr_source (energy_source.h) reads /dev/cpu/N/msr through
 * msr_device.c; rapl_msr_source_open_with() takes any register access, so
 * tests can serve registers from memory through the same decoding.
 */
#ifndef RAPL_MSR_H
#define RAPL_MSR_H

#include "energy_source.h"
#include "msr_device.h"

/* As rapl_msr_source.open, reading registers through `access`, which the
 * source then owns (it calls access.close, also on failure). */
int rapl_msr_source_open_with(const rapl_options_t *options,
                              rapl_msr_access_t access, rapl_source_t **source,
                              char *why, size_t why_len);

#endif
