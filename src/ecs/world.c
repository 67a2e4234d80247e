/* The world: creation and teardown, the counting allocator every ECS allocation goes through,
 * clearing, statistics and the order-independent world hash. */
#include "ecs/ecs_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- counting allocator: forwards to the user's allocator and keeps per-world counters */

static void count_alloc(ecs_alloc_counters *c, uint64_t bytes) {
    atomic_fetch_add_explicit(&c->total_bytes, bytes, memory_order_relaxed);
    uint64_t live = atomic_fetch_add_explicit(&c->live_bytes, bytes, memory_order_relaxed) + bytes;
    uint64_t peak = atomic_load_explicit(&c->peak_bytes, memory_order_relaxed);
    while (live > peak && !atomic_compare_exchange_weak_explicit(
                              &c->peak_bytes, &peak, live, memory_order_relaxed, memory_order_relaxed)) {
    }
}

static void *world_alloc(void *user, size_t size, size_t align) {
    aw_world *w = user;
    void *p = w->user_allocator->alloc(w->user_allocator->user, size, align);
    if (!p) {
        atomic_fetch_add_explicit(&w->counters.failures, 1, memory_order_relaxed);
        return NULL;
    }
    atomic_fetch_add_explicit(&w->counters.allocs, 1, memory_order_relaxed);
    count_alloc(&w->counters, size);
    return p;
}

static void *world_realloc(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    aw_world *w = user;
    void *p = w->user_allocator->realloc(w->user_allocator->user, ptr, old_size, new_size, align);
    if (!p) {
        atomic_fetch_add_explicit(&w->counters.failures, 1, memory_order_relaxed);
        return NULL;
    }
    atomic_fetch_add_explicit(&w->counters.reallocs, 1, memory_order_relaxed);
    if (!ptr) atomic_fetch_add_explicit(&w->counters.allocs, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->counters.live_bytes, ptr ? old_size : 0, memory_order_relaxed);
    count_alloc(&w->counters, new_size);
    return p;
}

static void world_free(void *user, void *ptr, size_t size) {
    aw_world *w = user;
    if (!ptr) return;
    atomic_fetch_add_explicit(&w->counters.frees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->counters.live_bytes, size, memory_order_relaxed);
    w->user_allocator->free(w->user_allocator->user, ptr, size);
}

/* ---- small shared helpers */

aw_status ecs_grow(const aw_allocator *a, void **array, uint32_t *capacity, uint32_t needed, size_t elem) {
    if (needed <= *capacity) return AW_OK;
    uint64_t cap = *capacity ? *capacity : 8;
    while (cap < needed) cap *= 2;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    void *p = aw_realloc(a, *array, (size_t)*capacity * elem, (size_t)cap * elem, 16);
    if (!p) return aw_error(AW_ERR_OUT_OF_MEMORY, "out of memory growing an array to %u elements", needed);
    *array = p;
    *capacity = (uint32_t)cap;
    return AW_OK;
}

char *ecs_strdup(const aw_allocator *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = aw_alloc(a, n, 1);
    if (p) memcpy(p, s, n);
    return p;
}

void ecs_strfree(const aw_allocator *a, char *s) {
    if (s) aw_free(a, s, strlen(s) + 1);
}

aw_status ecs_null_world(const char *fn) {
    return aw_error(AW_ERR_INVALID_ARG, "%s: world is NULL", fn);
}

aw_status ecs_unknown_component(aw_component c, const char *fn) {
    return aw_error(AW_ERR_UNKNOWN_COMPONENT, "%s: component %u is not registered", fn, c);
}

/* ---- lifecycle */

aw_world *aw_world_create(const aw_world_desc *desc) {
    aw_world_desc d = desc ? *desc : (aw_world_desc){0};
    const aw_allocator *ua = d.allocator ? d.allocator : aw_heap_allocator();
    uint32_t chunk_size = d.chunk_size ? d.chunk_size : ECS_DEFAULT_CHUNK_SIZE;
    uint32_t large_size = d.large_chunk_size ? d.large_chunk_size : ECS_DEFAULT_LARGE_CHUNK_SIZE;
    if (large_size < chunk_size) large_size = chunk_size;
    if (!ecs_is_pow2(chunk_size) || chunk_size < ECS_MIN_CHUNK_SIZE || !ecs_is_pow2(large_size) ||
        large_size > (1u << 30)) {
        aw_error(AW_ERR_INVALID_ARG,
                 "aw_world_create: chunk sizes %u and %u must be powers of two, >= %u and <= 1 GiB",
                 chunk_size, large_size, ECS_MIN_CHUNK_SIZE);
        return NULL;
    }
    if (!ua->alloc || !ua->realloc || !ua->free) {
        aw_error(AW_ERR_INVALID_ARG, "aw_world_create: allocator lacks alloc, realloc or free");
        return NULL;
    }
    aw_world *w = ua->alloc(ua->user, sizeof *w, _Alignof(aw_world));
    if (!w) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_world_create: out of memory");
        return NULL;
    }
    memset(w, 0, sizeof *w);
    w->user_allocator = ua;
    w->allocator =
        (aw_allocator){.alloc = world_alloc, .realloc = world_realloc, .free = world_free, .user = w};
    w->chunk_size = chunk_size;
    w->threads = d.threads;
    w->jobs = d.jobs;
    w->large_chunk_size = large_size;
    w->component_count = 1;
    w->resource_count = 1;
    w->event_count = 1;
    atomic_init(&w->next_index, 1);
    atomic_init(&w->free_top, 0);
    aw_map_init(&w->component_names, &w->allocator);
    aw_map_init(&w->table_index, &w->allocator);

    aw_status s = aw_pool_init(&w->chunk_pool, &w->allocator, chunk_size, 64);
    if (s == AW_OK)
        s = aw_pool_init(&w->record_pool, &w->allocator, ECS_RECORD_PAGE_SIZE * sizeof(ecs_record), 32);
    if (s == AW_OK)
        s = aw_pool_init(&w->large_pool, &w->allocator, large_size,
                         large_size >= (2u << 20) ? 1 : (2u << 20) / large_size);
    if (s == AW_OK)
        s = ecs_grow(&w->allocator, (void **)&w->components, &w->component_capacity, 16,
                     sizeof(ecs_component_info));
    if (s == AW_OK) s = ecs_ensure_records(w, d.entity_capacity ? d.entity_capacity + 1 : 1);
    if (s == AW_OK && !ecs_table_for_type(w, NULL, 0)) s = aw_last_status();
    if (s != AW_OK) {
        aw_world_destroy(w);
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_world_create: out of memory");
        return NULL;
    }
    return w;
}

void aw_world_destroy(aw_world *w) {
    if (!w) return;
    ecs_schedule_free(w);
    for (uint32_t i = 0; i < w->table_count; i++) ecs_table_free(w, w->tables[i]);
    while (w->query_count) ecs_query_free(w->queries[w->query_count - 1]);
    ecs_resources_free(w);
    ecs_events_free(w);
    for (uint32_t c = 1; c < w->component_count; c++) ecs_strfree(&w->allocator, w->components[c].name);
    aw_free(&w->allocator, w->components, (size_t)w->component_capacity * sizeof(ecs_component_info));
    aw_free(&w->allocator, w->tables, (size_t)w->table_capacity * sizeof(ecs_table *));
    aw_free(&w->allocator, w->queries, (size_t)w->query_capacity * sizeof(aw_query *));
    aw_free(&w->allocator, w->record_pages, (size_t)w->record_page_capacity * sizeof(ecs_record *));
    aw_free(&w->allocator, w->free_pages, (size_t)w->free_page_capacity * sizeof(uint32_t *));
    aw_map_destroy(&w->component_names);
    aw_map_destroy(&w->table_index);
    aw_pool_destroy(&w->chunk_pool);
    aw_pool_destroy(&w->large_pool);
    aw_pool_destroy(&w->record_pool);
    const aw_allocator *ua = w->user_allocator;
    ua->free(ua->user, w, sizeof *w);
}

aw_status aw_world_clear(aw_world *w) {
    aw_status s = ecs_check_world(w, "aw_world_clear");
    if (s) return s;
    if (ecs_locked(w)) return aw_error(AW_ERR_LOCKED, "aw_world_clear: a query is iterating");
    for (uint32_t t = 0; t < w->table_count; t++) {
        ecs_table *table = w->tables[t];
        for (uint32_t k = 0; k < table->chunk_count; k++) {
            uint32_t rows = ecs_chunk_rows(table, k);
            const aw_entity *ids = ecs_chunk_entities(table, k);
            for (uint32_t r = 0; r < rows; r++) ecs_free_entity(w, AW_ENTITY_INDEX(ids[r]));
        }
        ecs_table_clear(w, table);
    }
    w->alive_count = 0;
    return AW_OK;
}

uint32_t aw_world_entity_count(const aw_world *w) {
    return w ? w->alive_count : 0;
}

aw_alloc_stats aw_world_alloc_stats(const aw_world *w) {
    if (!w) return (aw_alloc_stats){0};
    const ecs_alloc_counters *c = &w->counters;
    return (aw_alloc_stats){
        .allocs = atomic_load_explicit(&c->allocs, memory_order_relaxed),
        .reallocs = atomic_load_explicit(&c->reallocs, memory_order_relaxed),
        .frees = atomic_load_explicit(&c->frees, memory_order_relaxed),
        .failures = atomic_load_explicit(&c->failures, memory_order_relaxed),
        .live_bytes = atomic_load_explicit(&c->live_bytes, memory_order_relaxed),
        .peak_bytes = atomic_load_explicit(&c->peak_bytes, memory_order_relaxed),
        .total_bytes = atomic_load_explicit(&c->total_bytes, memory_order_relaxed),
    };
}

aw_world_stats aw_world_get_stats(const aw_world *w) {
    aw_world_stats s = {0};
    if (!w) return s;
    s.entities = w->alive_count;
    s.tables = w->table_count;
    s.components = w->component_count - 1;
    s.queries = w->query_count;
    for (uint32_t t = 0; t < w->table_count; t++) {
        s.chunks_in_use += w->tables[t]->chunk_count;
        s.chunk_bytes += ecs_table_chunk_bytes(w, w->tables[t]);
    }
    return s;
}

/* Each entity hashes to a value from its id and its components (id + bytes); the world hash is
 * the sum of those, so table layout, row order and creation order do not matter. */
uint64_t aw_world_hash(const aw_world *w) {
    if (!w) return 0;
    uint64_t sum = 0;
    for (uint32_t t = 0; t < w->table_count; t++) {
        const ecs_table *table = w->tables[t];
        for (uint32_t k = 0; k < table->chunk_count; k++) {
            uint32_t rows = ecs_chunk_rows(table, k);
            const aw_entity *ids = ecs_chunk_entities(table, k);
            for (uint32_t r = 0; r < rows; r++) {
                uint64_t h = aw_hash_u64(ids[r]);
                uint32_t col = 0;
                for (uint32_t i = 0; i < table->type_count; i++) {
                    aw_component c = table->type[i];
                    h = aw_hash_combine(h, c);
                    if (col < table->column_count && table->columns[col].component == c) {
                        h = aw_hash_combine(
                            h, aw_hash_bytes(ecs_column_ptr(table, col, k, r), table->columns[col].size, c));
                        col++;
                    }
                }
                sum += aw_hash_u64(h);
            }
        }
    }
    return sum;
}
