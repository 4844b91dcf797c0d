/* alloc_count.h - heap allocations made by the code under test, counted by
 * linking with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
 * (tests/alloc_count.c): a read path that allocates shows here. */
#ifndef RAPL_ALLOC_COUNT_H
#define RAPL_ALLOC_COUNT_H

#include <stddef.h>

/* malloc + calloc + realloc calls since the program started */
extern size_t allocations;

#endif
