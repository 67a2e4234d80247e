/* Memory upkeep: consolidation (near-duplicates of one kind and agent merge into the earliest) and
 * forgetting (strength decays with age; protected kinds stay). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"

#define NEIGHBOURS 16 /* store neighbours examined per memory */

float aw_memory_strength(const aw_memory *m, const aw_memory_item *it, double now) {
    if (!m || !it) return 0.0f;
    double age = now > it->time ? now - it->time : 0.0;
    return it->importance * (float)exp2(-age / m->forget_half_life);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Ids in ascending order: the order both passes visit memories in, whatever the row order. */
static uint64_t *sorted_ids(aw_memory *m, uint32_t *n) {
    *n = m->count;
    uint64_t *ids = aw_alloc(m->allocator, sizeof *ids * (m->count ? m->count : 1), 64);
    if (!ids) return NULL;
    memcpy(ids, m->ids, sizeof *ids * m->count);
    qsort(ids, m->count, sizeof *ids, cmp_u64);
    return ids;
}

aw_status aw_memory_consolidate(aw_memory *m, float threshold, uint32_t *merged_out) {
    if (merged_out) *merged_out = 0;
    if (!m) return aw_error(AW_ERR_INVALID_ARG, "memory: NULL");
    if (threshold == 0) threshold = m->consolidate_threshold;
    if (!(threshold > 0 && threshold <= 1))
        return aw_error(AW_ERR_INVALID_ARG, "memory: consolidation threshold %g is not in (0, 1]", (double)threshold);
    uint32_t n = 0;
    uint64_t *ids = sorted_ids(m, &n);
    if (!ids) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory");
    aw_status st = AW_OK, store_st = AW_OK;
    uint32_t merged = 0;
    aw_store_hit *near = m->cands; /* the retrieval scratch: MEM_MAX_CANDIDATES */
    uint32_t want = mem_fetch_count(m, NEIGHBOURS);
    for (uint32_t i = 0; i < n && st == AW_OK; i++) {
        uint64_t row;
        if (!aw_map_get(&m->row_of, ids[i], &row)) continue; /* merged into an earlier one */
        const aw_store_meta keep = m->meta[row];
        aw_store_filter f = {.kinds = 1u << keep.kind, .by_agent = true, .agent = keep.agent};
        uint32_t found = 0;
        memcpy(m->query_vec, m->vec[row], sizeof m->query_vec);
        st = aw_store_query(m->store, mem_store_query_vector(m, m->query_vec, m->query_proj), want, &f, near, &found);
        for (uint32_t j = 0; j < found && st == AW_OK; j++) {
            uint64_t other;
            if (near[j].id <= ids[i] || !aw_map_get(&m->row_of, near[j].id, &other)) continue;
            /* The exact cosine decides, not the store's (which may be approximate or stale). */
            if (mem_dot(m->query_vec, m->vec[other]) < threshold) continue;
            aw_store_meta *k = &m->meta[row];
            const aw_store_meta *o = &m->meta[other];
            if (o->importance > k->importance) k->importance = o->importance;
            if (o->time > k->time) k->time = o->time;
            m->merged[row] += 1 + m->merged[other];
            if (!m->unsynced[row]) {
                m->unsynced[row] = true;
                m->unsynced_count++;
            }
            uint64_t gone = near[j].id;
            uint32_t last = m->count - 1;
            if (aw_memory_forget(m, gone) != AW_OK && store_st == AW_OK) store_st = aw_last_status();
            if (row == last) row = other; /* the kept row moved into the hole */
            merged++;
        }
    }
    aw_free(m->allocator, ids, sizeof *ids * (n ? n : 1));
    if (merged_out) *merged_out = merged;
    if (st != AW_OK) return st;
    /* Kept memories changed (importance, time): send them; a store that is down keeps them unsynced. */
    aw_status sync = aw_memory_sync(m);
    return store_st != AW_OK ? store_st : sync;
}

aw_status aw_memory_decay(aw_memory *m, double now, uint32_t *forgotten_out) {
    if (forgotten_out) *forgotten_out = 0;
    if (!m || !isfinite(now)) return aw_error(AW_ERR_INVALID_ARG, "memory: decay needs a memory and a finite time");
    uint32_t n = 0;
    uint64_t *ids = sorted_ids(m, &n);
    if (!ids) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory");
    aw_status result = AW_OK;
    uint32_t forgotten = 0;
    for (uint32_t i = 0; i < n; i++) {
        aw_memory_item it;
        if (aw_memory_get(m, ids[i], &it) != AW_OK) continue;
        if (m->protected_kinds & (1u << it.kind)) continue;
        if (aw_memory_strength(m, &it, now) >= m->forget_below) continue;
        aw_status st = aw_memory_forget(m, ids[i]);
        if (st != AW_OK && result == AW_OK) result = st; /* gone locally; the store catches up on sync */
        forgotten++;
    }
    aw_free(m->allocator, ids, sizeof *ids * (n ? n : 1));
    if (forgotten_out) *forgotten_out = forgotten;
    return result;
}
