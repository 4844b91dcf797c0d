/* msr_device.c - see msr_device.h. */
#include "msr_device.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_topology.h"

typedef struct {
  char dir[PATH_MAX];
  int *fds; /* by cpu number, -1 when not open */
} device_ctx_t;

static int device_open_cpu(void *opaque, unsigned cpu) {
  device_ctx_t *ctx = opaque;
  if (cpu >= RAPL_MAX_CPUS)
    return -ENXIO;
  if (ctx->fds[cpu] >= 0)
    return 0;
  char path[PATH_MAX + 32];
  snprintf(path, sizeof(path), "%s/%u/msr", ctx->dir, cpu);
  /* Read-only: the plugin never writes an MSR. */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ctx->fds[cpu] = fd;
  return 0;
}

static int device_read(void *opaque, unsigned cpu, uint32_t reg,
                       uint64_t *value) {
  const device_ctx_t *ctx = opaque;
  if (cpu >= RAPL_MAX_CPUS || ctx->fds[cpu] < 0)
    return -EBADF;
  uint64_t v;
  /* The msr driver takes the file offset as the register number. */
  ssize_t n = pread(ctx->fds[cpu], &v, sizeof(v), (off_t)reg);
  if (n < 0)
    return -errno;
  if (n != (ssize_t)sizeof(v))
    return -EIO;
  *value = v; /* x86 is little-endian, as the register */
  return 0;
}

static void device_close(void *opaque) {
  device_ctx_t *ctx = opaque;
  if (ctx == NULL)
    return;
  for (unsigned cpu = 0; cpu < RAPL_MAX_CPUS; cpu++)
    if (ctx->fds[cpu] >= 0)
      close(ctx->fds[cpu]);
  free(ctx->fds);
  free(ctx);
}

int rapl_msr_device_access(const char *device_dir, rapl_msr_access_t *access) {
  device_ctx_t *ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL)
    return -ENOMEM;
  ctx->fds = malloc(RAPL_MAX_CPUS * sizeof(*ctx->fds));
  if (ctx->fds == NULL) {
    free(ctx);
    return -ENOMEM;
  }
  for (unsigned cpu = 0; cpu < RAPL_MAX_CPUS; cpu++)
    ctx->fds[cpu] = -1;
  snprintf(ctx->dir, sizeof(ctx->dir), "%s", device_dir);
  *access = (rapl_msr_access_t){.open_cpu = device_open_cpu,
                                .read = device_read,
                                .close = device_close,
                                .ctx = ctx};
  return 0;
}

bool rapl_msr_have_rawio(void) {
  FILE *f = fopen("/proc/self/status", "re");
  if (f == NULL)
    return false;
  char line[256];
  unsigned long long caps = 0;
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "CapEff: %llx", &caps) == 1)
      break;
  fclose(f);
  return (caps >> 17) & 1; /* CAP_SYS_RAWIO = 17 */
}
