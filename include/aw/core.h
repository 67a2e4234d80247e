/* AstraWeave core runtime: status codes, errors, logging, allocators, arenas, pools,
 * time, hashing, maps and a deterministic RNG. Everything else builds on this header. */
#ifndef AW_CORE_H
#define AW_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AW_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define AW_LIKELY(x)                    __builtin_expect(!!(x), 1)
#define AW_UNLIKELY(x)                  __builtin_expect(!!(x), 0)
#else
#define AW_PRINTF(fmt_index, first_arg)
#define AW_LIKELY(x)   (x)
#define AW_UNLIKELY(x) (x)
#endif

/* ---------------------------------------------------------------- status and errors */

typedef enum aw_status {
    AW_OK = 0,
    AW_ERR_INVALID_ARG,       /* NULL pointer, zero count, out-of-range value, NaN... */
    AW_ERR_OUT_OF_MEMORY,     /* the allocator returned NULL; state is unchanged */
    AW_ERR_STALE_ENTITY,      /* entity id was destroyed, never created, or is null */
    AW_ERR_UNKNOWN_COMPONENT, /* component id was never registered in this world */
    AW_ERR_SIZE_MISMATCH,     /* data size differs from the registered size */
    AW_ERR_ALREADY_PRESENT,   /* component (or name) already there */
    AW_ERR_NOT_PRESENT,       /* component not on the entity */
    AW_ERR_TOO_MANY_TERMS,    /* query has more than AW_QUERY_MAX_TERMS terms */
    AW_ERR_LOCKED,            /* structural change refused while the world is iterated */
    AW_ERR_CAPACITY,          /* a fixed limit was reached */
    AW_ERR_NOT_FOUND,         /* lookup by name or key found nothing */
    AW_ERR_IO,                /* file or stream error */
    AW_ERR_PARSE,             /* malformed input data */
    AW_ERR_UNSUPPORTED,       /* feature not available on this build or machine */
    AW_ERR_ACCESS,            /* a system touched data it did not declare (debug builds) */
    AW_ERR_CYCLE,             /* ordering constraints form a cycle */
    AW_ERR_UNAVAILABLE,       /* a driver, device, server or endpoint is not there or not answering */
    AW_ERR_TIMEOUT,           /* an operation did not finish in the time it was given */
    AW_ERR_PENDING,           /* an asynchronous result is not ready yet: poll again later */
    AW_ERR_CORRUPT,           /* stored data failed a checksum or an integrity check */
    AW_ERR_DEVICE,            /* a GPU or driver call failed (device lost, out of device memory) */
    AW_STATUS_COUNT
} aw_status;

/* Short, stable description of a status code ("invalid argument", ...). Never NULL. */
const char *aw_status_str(aw_status status);

/* The calling thread's last error message (empty string if none). Set by every failing call. */
const char *aw_last_error(void);
/* The calling thread's last failing status (AW_OK if none since aw_clear_error). */
aw_status aw_last_status(void);
void aw_clear_error(void);
/* Records status and a formatted message for this thread and returns status, so callers can
 * write `return aw_error(AW_ERR_INVALID_ARG, "count is %d", n);`. */
aw_status aw_error_set(aw_status status, const char *fmt, ...) AW_PRINTF(2, 3);
/* A macro over aw_error_set so the compiler sees `status` itself as the result: its flow analysis
 * then knows that a failing check returned. `status` is evaluated twice. */
static inline aw_status aw_error_pass_(aw_status status, aw_status recorded) {
    (void)recorded;
    return status;
}
#define aw_error(status, ...) aw_error_pass_((status), aw_error_set((status), __VA_ARGS__))

/* ---------------------------------------------------------------- logging */

typedef enum aw_log_level {
    AW_LOG_TRACE = 0,
    AW_LOG_DEBUG,
    AW_LOG_INFO,
    AW_LOG_WARN,
    AW_LOG_ERROR,
    AW_LOG_OFF
} aw_log_level;

/* A sink receives each formatted message (no trailing newline). */
typedef void (*aw_log_fn)(void *user, aw_log_level level, const char *file, int line, const char *message);

/* Process-wide sink; NULL restores the default (stderr). Set it before starting threads. */
void aw_log_set_sink(aw_log_fn sink, void *user);
/* Messages below this level are dropped (default AW_LOG_INFO). Thread-safe. */
void aw_log_set_level(aw_log_level level);
aw_log_level aw_log_get_level(void);
const char *aw_log_level_str(aw_log_level level);
void aw_log_write(aw_log_level level, const char *file, int line, const char *fmt, ...) AW_PRINTF(4, 5);

#define AW_LOG(level, ...) aw_log_write((level), __FILE__, __LINE__, __VA_ARGS__)
#define AW_LOGD(...)       AW_LOG(AW_LOG_DEBUG, __VA_ARGS__)
#define AW_LOGI(...)       AW_LOG(AW_LOG_INFO, __VA_ARGS__)
#define AW_LOGW(...)       AW_LOG(AW_LOG_WARN, __VA_ARGS__)
#define AW_LOGE(...)       AW_LOG(AW_LOG_ERROR, __VA_ARGS__)

/* ---------------------------------------------------------------- allocators */

/* Every engine allocation goes through one of these. `size` is always passed back on free and
 * realloc so counting allocators need no headers. `align` is a power of two (at least 1).
 * alloc and realloc return NULL on failure, leaving `ptr` untouched. */
typedef struct aw_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void *(*realloc)(void *user, void *ptr, size_t old_size, size_t new_size, size_t align);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} aw_allocator;

typedef struct aw_alloc_stats {
    uint64_t allocs;      /* successful alloc calls */
    uint64_t reallocs;    /* successful realloc calls */
    uint64_t frees;       /* free calls with a non-NULL pointer */
    uint64_t failures;    /* alloc/realloc calls that returned NULL */
    uint64_t live_bytes;  /* bytes currently allocated */
    uint64_t peak_bytes;  /* highest live_bytes seen */
    uint64_t total_bytes; /* bytes ever requested (alloc sizes plus realloc growth) */
} aw_alloc_stats;

/* The default heap allocator (malloc/aligned_alloc), process-wide, with atomic counters. */
const aw_allocator *aw_heap_allocator(void);
aw_alloc_stats aw_heap_stats(void);

/* Difference between two snapshots (b - a), for "allocations during this frame". peak_bytes is b's. */
aw_alloc_stats aw_alloc_stats_diff(aw_alloc_stats a, aw_alloc_stats b);

/* Convenience wrappers: a NULL allocator means aw_heap_allocator(). */
void *aw_alloc(const aw_allocator *a, size_t size, size_t align);
void *aw_realloc(const aw_allocator *a, void *ptr, size_t old_size, size_t new_size, size_t align);
void aw_free(const aw_allocator *a, void *ptr, size_t size);

/* ---------------------------------------------------------------- frame arena */

/* Linear allocator, reset once per frame. Grows by chaining blocks when a frame needs more
 * than its capacity; the next reset merges them into one block, so steady-state frames
 * allocate nothing. */
typedef struct aw_arena_block aw_arena_block;
typedef struct aw_arena {
    const aw_allocator *allocator;
    aw_arena_block *head; /* current block (most recent) */
    size_t used_total;    /* bytes handed out since the last reset */
    size_t high_water;    /* largest used_total seen at a reset */
} aw_arena;

aw_status aw_arena_init(aw_arena *arena, const aw_allocator *allocator, size_t capacity);
/* Returns NULL (with AW_ERR_OUT_OF_MEMORY recorded) if the allocator fails. */
void *aw_arena_alloc(aw_arena *arena, size_t size, size_t align);
void aw_arena_reset(aw_arena *arena);
size_t aw_arena_capacity(const aw_arena *arena);
void aw_arena_destroy(aw_arena *arena);

/* ---------------------------------------------------------------- slab pool */

/* Fixed-size blocks aligned to 64 bytes, carved from slabs of many blocks. Released blocks go on
 * a free list and are reused before any new slab is allocated. Not thread-safe. */
typedef struct aw_pool {
    const aw_allocator *allocator;
    size_t block_size; /* rounded up to a multiple of 64 */
    uint32_t blocks_per_slab;
    void *free_list; /* singly linked through the first word of each free block */
    void **slabs;
    uint32_t slab_count, slab_capacity;
    uint64_t blocks_in_use;
} aw_pool;

/* block_size > 0; blocks_per_slab 0 means 64. */
aw_status aw_pool_init(aw_pool *pool, const aw_allocator *allocator, size_t block_size,
                       uint32_t blocks_per_slab);
/* Returns a 64-byte aligned block of block_size bytes (contents undefined), or NULL on OOM. */
void *aw_pool_acquire(aw_pool *pool);
void aw_pool_release(aw_pool *pool, void *block);
/* Pre-allocates slabs so that at least `blocks` blocks are free. */
aw_status aw_pool_reserve(aw_pool *pool, uint64_t blocks);
uint64_t aw_pool_free_blocks(const aw_pool *pool);
void aw_pool_destroy(aw_pool *pool);

/* ---------------------------------------------------------------- time */

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t aw_time_ns(void);
double aw_time_seconds(void);

/* ---------------------------------------------------------------- hashing */

/* Fast 64-bit hash of bytes; stable across runs, machines and builds (little-endian). */
uint64_t aw_hash_bytes(const void *data, size_t size, uint64_t seed);
uint64_t aw_hash_str(const char *str);
/* Strong 64-bit mix (bijective), for integer keys. */
uint64_t aw_hash_u64(uint64_t x);
uint64_t aw_hash_combine(uint64_t h, uint64_t v);

/* ---------------------------------------------------------------- map */

/* Open-addressing hash map from non-zero 64-bit keys to 64-bit values (key 0 is reserved).
 * Grows by doubling; never shrinks, so a map reused every frame stops allocating. */
typedef struct aw_map {
    const aw_allocator *allocator;
    uint64_t *keys;
    uint64_t *values;
    uint32_t capacity; /* power of two, or 0 */
    uint32_t count;
    uint32_t tombstones;
} aw_map;

void aw_map_init(aw_map *map, const aw_allocator *allocator);
void aw_map_destroy(aw_map *map);
/* Inserts or overwrites. AW_ERR_INVALID_ARG for key 0, AW_ERR_OUT_OF_MEMORY if growth fails
 * (the map is unchanged). */
aw_status aw_map_set(aw_map *map, uint64_t key, uint64_t value);
/* Returns true and writes *value if present (value may be NULL). */
bool aw_map_get(const aw_map *map, uint64_t key, uint64_t *value);
bool aw_map_remove(aw_map *map, uint64_t key);
void aw_map_clear(aw_map *map);
/* Makes sure `count` entries fit without growing. */
aw_status aw_map_reserve(aw_map *map, uint32_t count);

/* ---------------------------------------------------------------- deterministic RNG */

/* xoshiro256** seeded through splitmix64: same seed, same sequence, on every platform. */
typedef struct aw_rng {
    uint64_t s[4];
} aw_rng;

void aw_rng_seed(aw_rng *rng, uint64_t seed);
uint64_t aw_rng_u64(aw_rng *rng);
uint32_t aw_rng_u32(aw_rng *rng);
/* Uniform in [0, bound) without modulo bias; bound 0 returns 0. */
uint32_t aw_rng_range(aw_rng *rng, uint32_t bound);
/* Uniform float in [0, 1) and [lo, hi). */
float aw_rng_float(aw_rng *rng);
float aw_rng_float_range(aw_rng *rng, float lo, float hi);
double aw_rng_double(aw_rng *rng);
/* An independent stream derived from this one (for per-thread or per-emitter RNGs). */
aw_rng aw_rng_fork(aw_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* AW_CORE_H */
