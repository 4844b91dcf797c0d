/* sysfs_notes.h - what the sysfs-discovering sources (powercap.c, hwmon.c)
 * share.
 *
 * Both find their zones by listing a class directory under sysfs, both
 * collect the problems met on the way as notes told once (at open, or in
 * the failure reason), both read small attribute files whole and know the
 * errnos of a removed node, and both fingerprint the listing so that a
 * rescan that finds nothing changed costs one readdir. These were two
 * copies of the same code; one copy here keeps the two sources from
 * drifting apart. What differs between them (their errno wording for
 * ENODATA and ERANGE, the O_NONBLOCK of hwmon's reads) stays a parameter
 * or stays in the source.
 */
#ifndef RAPL_SYSFS_NOTES_H
#define RAPL_SYSFS_NOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Problems met during discovery that are worth telling the operator. They
 * are logged once when the source opens, or folded into the failure reason,
 * so that retrying discovery at every read does not repeat them. */
#define RAPL_MAX_NOTES 8
typedef struct {
  char text[RAPL_MAX_NOTES][320];
  size_t count;
  size_t dropped;
} rapl_notes_t;

/* Adds one note, printf-style; counted as dropped once RAPL_MAX_NOTES are
 * kept. A NULL `notes` takes nothing (a rescan's discovery: said at open). */
void rapl_note(rapl_notes_t *notes, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs each note as a warning, "<prefix>: <note>", then how many were
 * dropped. */
void rapl_notes_log(const rapl_notes_t *notes, const char *prefix);

/* Appends "; <note>" for each note to the failure reason `why`, whose
 * first `len` bytes are written; stops when it is full. */
void rapl_notes_append(const rapl_notes_t *notes, char *why, size_t why_len,
                       int len);

/* The wording both sources use for ENOENT, EACCES/EPERM and EINVAL;
 * strerror() for anything else. Each source words ENODATA (and hwmon
 * ERANGE) itself before asking this. */
const char *rapl_describe_errno(int err);

/* Whether a read's errno says the file's node was removed (its zone is
 * gone, to be re-attached by a rescan). */
bool rapl_errno_gone(int err);

/* Reads a small sysfs file whole, NUL-terminated; `flags` are added to
 * O_RDONLY | O_CLOEXEC. Returns its length or a negative errno. */
ssize_t rapl_read_small_file(const char *path, int flags, char *buf,
                             size_t size);

/* The fingerprint of a directory listing: each of `count` entries (in the
 * order given: sort them first), one per line, each followed by whether
 * <dir>/<entry> resolves (a class link dangles while its device is gone).
 * `attached` (NULL: none) names the entries that back a zone open and
 * reading: they count as resolving without a stat, since a gone device
 * fails their reads, which brings the full look anyway; so a rescan that
 * finds nothing changed is the listing and no more (SPEC 4). malloc'd;
 * NULL when out of memory, which only makes the next rescan look at
 * everything. */
char *rapl_make_listing(const char *dir, const char *(*entry)(const void *list,
                                                               size_t i),
                        bool (*attached)(const void *list, size_t i),
                        const void *list, size_t count);

/* Stores `fresh` (from rapl_make_listing) in *stored, freeing the old one.
 * True when both were there and are the same: nothing was added, removed,
 * or came back or went away. */
bool rapl_listing_replace(char **stored, char *fresh);

#endif
