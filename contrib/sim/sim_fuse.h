/*
 * sim_fuse.h - the simulated machine's MSR device and powercap tree as FUSE
 * file systems.  MSR: MOUNTPOINT/N/msr for every online CPU N, where
 * pread(fd, buf, 8, reg) returns register `reg` (little-endian uint64), as
 * the kernel's msr driver does (arch/x86/kernel/msr.c: reg = *ppos).
 * Powercap: the tree sim_build made under ROOT/sys/devices/virtual/powercap,
 * served over itself with sysfs semantics and the faults of sim_machine.h.
 * Read-only.
 *
 * Kept apart from sim_machine.c so that the library (linked into the unit
 * tests) does not need libfuse3; only rapl-sim links it.
 */
#ifndef SIM_FUSE_H
#define SIM_FUSE_H

#include <pthread.h>
#include <stddef.h>

#include "sim_machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_fuse sim_fuse_t;

/* Mount the device at `mountpoint` (an existing directory) and serve it
 * from a thread.  Reads call sim_msr_read(m, ...) with *lock held: hold it
 * too while changing m (sim_advance_ns).  Returns once the mount answers
 * (a stat of the first CPU's msr went through), or NULL with a message in
 * err.  Installs a no-op SIGUSR1 handler, used to wake the thread at stop;
 * call it from the main thread before other threads exist, with SIGINT and
 * SIGTERM still unblocked there (the FUSE thread blocks them). */
sim_fuse_t *sim_fuse_start(const sim_machine_t *m, pthread_mutex_t *lock,
                           const char *mountpoint, char *err, size_t err_len);

/* Mount the powercap tree at `mountpoint`, which must be the directory
 * ROOT/sys/devices/virtual/powercap that sim_build just filled (a directory
 * fd opened before mounting keeps reaching the files underneath, which give
 * every name, mode, size, link and static content).  energy_uj and
 * max_energy_range_uj are computed at each read from m under *lock
 * (sim_zone_energy_text, sim_zone_range_text), vanished zones are hidden
 * and old descriptors of removed nodes read ENODEV (sim_zone_generation).
 * Call sim_powercap_set_served(m, 1) under *lock too, so that the regular
 * files are no longer rewritten.  Same threads, signals and return as
 * sim_fuse_start; the mount answers once a child process has stat'ed the
 * first zone's energy_uj (or the mount point, without zones). */
sim_fuse_t *sim_fuse_start_powercap(const sim_machine_t *m,
                                    pthread_mutex_t *lock,
                                    const char *mountpoint, char *err,
                                    size_t err_len);

/* Stop the thread, unmount (lazily, like fusermount3 -u -z), free.  NULL
 * is accepted. */
void sim_fuse_stop(sim_fuse_t *f);

/* Calls refresh(arg), with the lock held, before every counter read, so
 * that what a reader sees is the counter at the moment of its read. */
void sim_fuse_set_refresh(sim_fuse_t *f, void (*refresh)(void *arg),
                          void *arg);

#ifdef __cplusplus
}
#endif

#endif /* SIM_FUSE_H */
