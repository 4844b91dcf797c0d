/* msr_device.h - the seam between the MSR source and /dev/cpu/N/msr.
 *
 * As raplcap's msr-sys layer: the decoding (msr.c, msr_model.c) talks to
 * this small interface only, so tests can serve registers from memory (AMD
 * registers are adjacent, which no plain file can imitate). msr_device.c
 * is the only code that opens an MSR device; it opens read-only and has no
 * write path at all.
 */
#ifndef RAPL_MSR_DEVICE_H
#define RAPL_MSR_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  /* Prepares reading `cpu` (opens its device once). 0 or -errno:
   * -ENOENT no device, -EACCES/-EPERM not permitted, -ENXIO no such CPU. */
  int (*open_cpu)(void *ctx, unsigned cpu);
  /* Reads one 64-bit register of an opened CPU. 0 or -errno (-EIO: the
   * register is not implemented). */
  int (*read)(void *ctx, unsigned cpu, uint32_t reg, uint64_t *value);
  /* Closes everything and frees ctx. */
  void (*close)(void *ctx);
  void *ctx;
} rapl_msr_access_t;

/* The Linux msr driver under `device_dir` ("/dev/cpu"): pread() of 8 bytes
 * at offset = register number on <device_dir>/<cpu>/msr. 0 or -ENOMEM. */
int rapl_msr_device_access(const char *device_dir, rapl_msr_access_t *access);

/* Whether this process holds CAP_SYS_RAWIO (effective), which the msr
 * driver requires besides file permissions; from /proc/self/status. */
bool rapl_msr_have_rawio(void);

#endif
