/* episode.h - when to log a zone's problem (SPEC section 4).
 *
 * Each distinct problem is logged once when it starts and once when it
 * ends; a recurrence within RAPL_EPISODE_QUIET_NS of its end continues the
 * same episode and logs nothing (an error at every other read must not
 * flood the log). Pure: no clock, no I/O; the caller passes the time.
 */
#ifndef RAPL_EPISODE_H
#define RAPL_EPISODE_H

#include <stdbool.h>
#include <stdint.h>

#define RAPL_EPISODE_QUIET_NS (UINT64_C(600) * 1000000000)

typedef struct {
  int code;        /* the problem of the latest episode; 0: none yet */
  bool active;     /* it is going on */
  bool quiet;      /* a recurrence: its end is not logged either */
  bool have_end;
  uint64_t end_ns; /* when it last ended */
} rapl_episode_t;

/* Problem `code` (non-zero) is seen at now_ns. True when this starts an
 * episode to log: not while the same problem goes on, nor when it recurs
 * within the quiet time of its end. A different problem is a new one. */
bool rapl_episode_seen(rapl_episode_t *episode, int code, uint64_t now_ns);

/* No problem at now_ns. True when an episode ends whose start was logged. */
bool rapl_episode_cleared(rapl_episode_t *episode, uint64_t now_ns);

#endif
