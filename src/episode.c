/* episode.c - see episode.h. */
#include "episode.h"

bool rapl_episode_seen(rapl_episode_t *episode, int code, uint64_t now_ns) {
  if (episode->active && episode->code == code)
    return false;
  bool recurrence = !episode->active && episode->code == code &&
                    episode->have_end && now_ns >= episode->end_ns &&
                    now_ns - episode->end_ns < RAPL_EPISODE_QUIET_NS;
  episode->code = code;
  episode->active = true;
  episode->quiet = recurrence;
  return !recurrence;
}

bool rapl_episode_cleared(rapl_episode_t *episode, uint64_t now_ns) {
  if (!episode->active)
    return false;
  episode->active = false;
  episode->have_end = true;
  episode->end_ns = now_ns;
  return !episode->quiet;
}
