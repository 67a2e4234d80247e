/* Archetype tables: one per component set, rows in fixed-size chunks with one 64-byte aligned
 * column per component; cached add/remove edges make a transition a map lookup plus a row move. */
#include "ecs/ecs_internal.h"

#include <string.h>

#define TYPE_STACK_MAX 128

static uint64_t type_hash(const aw_component *type, uint32_t count) {
    return aw_hash_bytes(type, (size_t)count * sizeof *type, 0x7a61626c65ull);
}

static uint64_t table_key(uint64_t hash, uint32_t probe) {
    uint64_t k = probe ? aw_hash_u64(hash + probe) : hash;
    return k ? k : 1;
}

static bool type_equal(const ecs_table *t, const aw_component *type, uint32_t count) {
    return t->type_count == count && (count == 0 || memcmp(t->type, type, count * sizeof *type) == 0);
}

/* Bytes a chunk needs for `rows` rows: entity ids, then each column, each 64-byte aligned. */
static uint64_t chunk_bytes_for(const ecs_table *t, uint32_t rows) {
    uint64_t bytes = ecs_align_up(rows * (uint32_t)sizeof(aw_entity), ECS_COLUMN_ALIGN);
    for (uint32_t i = 0; i < t->column_count; i++) {
        bytes = (bytes + ECS_COLUMN_ALIGN - 1) & ~(uint64_t)(ECS_COLUMN_ALIGN - 1);
        bytes += (uint64_t)rows * t->columns[i].size;
    }
    return bytes;
}

static uint32_t rows_fitting(const ecs_table *t, uint64_t chunk_bytes) {
    uint64_t per_row = sizeof(aw_entity);
    for (uint32_t i = 0; i < t->column_count; i++) per_row += t->columns[i].size;
    uint64_t rows = chunk_bytes / per_row;
    while (rows > 0 && chunk_bytes_for(t, (uint32_t)rows) > chunk_bytes) rows--;
    return (uint32_t)rows;
}

static void layout_tier(ecs_table *t, uint32_t tier, uint32_t rows) {
    t->rows[tier] = rows;
    uint32_t offset = ecs_align_up(rows * (uint32_t)sizeof(aw_entity), ECS_COLUMN_ALIGN);
    for (uint32_t i = 0; i < t->column_count; i++) {
        offset = ecs_align_up(offset, ECS_COLUMN_ALIGN);
        t->columns[i].offset[tier] = offset;
        offset += rows * t->columns[i].size;
    }
}

/* Small chunks come from the world's small pool, large ones from its large pool. Rows too wide
 * for a small chunk skip that tier; rows too wide for a large one get bigger chunks of their own,
 * allocated directly, so every chunk holds at least a few rows. */
static aw_status table_layout(aw_world *w, ecs_table *t) {
    uint32_t small_rows = rows_fitting(t, w->chunk_size);
    t->small_chunks = small_rows >= ECS_MIN_ROWS_PER_CHUNK ? ECS_SMALL_CHUNKS : 0;
    uint64_t bytes = w->large_chunk_size;
    uint32_t rows = rows_fitting(t, bytes);
    while (rows < ECS_MIN_ROWS_PER_CHUNK) {
        bytes *= 2;
        if (bytes > (1ull << 31))
            return aw_error(AW_ERR_CAPACITY, "component set too large for a table chunk");
        rows = rows_fitting(t, bytes);
    }
    t->large_bytes = (uint32_t)bytes;
    t->large_pooled = bytes == w->large_chunk_size;
    layout_tier(t, 0, t->small_chunks ? small_rows : rows);
    layout_tier(t, 1, rows);
    return AW_OK;
}

void ecs_table_free(aw_world *w, ecs_table *t) {
    if (!t) return;
    ecs_table_clear(w, t);
    const aw_allocator *a = &w->allocator;
    aw_free(a, t->type, (size_t)t->type_count * sizeof *t->type);
    aw_free(a, t->columns, (size_t)t->column_count * sizeof *t->columns);
    aw_free(a, t->column_of, (size_t)t->column_of_len * sizeof *t->column_of);
    aw_free(a, t->chunks, (size_t)t->chunk_capacity * sizeof *t->chunks);
    aw_map_destroy(&t->edges);
    aw_free(a, t, sizeof *t);
}

static ecs_table *table_create(aw_world *w, const aw_component *type, uint32_t count, uint64_t hash) {
    const aw_allocator *a = &w->allocator;
    if (ecs_grow(a, (void **)&w->tables, &w->table_capacity, w->table_count + 1, sizeof(ecs_table *)) ||
        ecs_queries_prepare(w))
        return NULL;
    ecs_table *t = aw_alloc(a, sizeof *t, _Alignof(ecs_table));
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    aw_map_init(&t->edges, a);
    t->id = w->table_count;
    t->type_hash = hash;
    t->type_count = count;
    uint32_t columns = 0;
    for (uint32_t i = 0; i < count; i++) columns += w->components[type[i]].size > 0;
    t->column_count = columns;
    t->column_of_len = count ? type[count - 1] + 1 : 0;
    if (count) {
        t->type = aw_alloc(a, count * sizeof *type, _Alignof(aw_component));
        t->column_of = aw_alloc(a, t->column_of_len * sizeof *t->column_of, _Alignof(int16_t));
        t->columns = columns ? aw_alloc(a, columns * sizeof *t->columns, _Alignof(ecs_column)) : NULL;
        if (!t->type || !t->column_of || (columns && !t->columns)) {
            ecs_table_free(w, t);
            aw_error(AW_ERR_OUT_OF_MEMORY, "out of memory creating a table");
            return NULL;
        }
        memcpy(t->type, type, count * sizeof *type);
        for (uint32_t c = 0; c < t->column_of_len; c++) t->column_of[c] = -1;
    }
    uint32_t col = 0;
    for (uint32_t i = 0; i < count; i++) {
        const ecs_component_info *info = &w->components[type[i]];
        t->has_hooks |= info->ctor || info->dtor || info->move || info->copy;
        if (info->size == 0) {
            t->column_of[type[i]] = ECS_TAG_PRESENT;
            continue;
        }
        t->columns[col] = (ecs_column){.component = type[i], .size = info->size};
        t->column_of[type[i]] = (int16_t)col++;
    }
    if (table_layout(w, t)) {
        ecs_table_free(w, t);
        return NULL;
    }
    return t;
}

ecs_table *ecs_table_for_type(aw_world *w, const aw_component *type, uint32_t count) {
    uint64_t hash = type_hash(type, count), v;
    uint32_t probe = 0;
    for (; aw_map_get(&w->table_index, table_key(hash, probe), &v); probe++) {
        if (type_equal(w->tables[v - 1], type, count)) return w->tables[v - 1];
    }
    ecs_table *t = table_create(w, type, count, hash);
    if (!t) {
        if (aw_last_status() == AW_OK) aw_error(AW_ERR_OUT_OF_MEMORY, "out of memory creating a table");
        return NULL;
    }
    if (aw_map_set(&w->table_index, table_key(hash, probe), (uint64_t)t->id + 1)) {
        ecs_table_free(w, t);
        return NULL;
    }
    w->tables[w->table_count++] = t;
    ecs_queries_match_table(w, t);
    return t;
}

ecs_table *ecs_table_traverse_slow(aw_world *w, ecs_table *from, aw_component c, bool removing) {
    uint64_t key = ((uint64_t)c << 1) | removing, v;
    if (c < ECS_LOW_EDGES) {
        if (from->low_edges[c][removing]) return w->tables[from->low_edges[c][removing] - 1];
    } else if (aw_map_get(&from->edges, key, &v)) {
        return w->tables[v - 1];
    }

    aw_component stack[TYPE_STACK_MAX] = {0};
    uint32_t n = from->type_count + (removing ? 0 : 1);
    aw_component *type = stack;
    if (n > TYPE_STACK_MAX) {
        type = aw_alloc(&w->allocator, n * sizeof *type, _Alignof(aw_component));
        if (!type) return NULL;
    }
    uint32_t k = 0;
    bool placed = removing;
    for (uint32_t i = 0; i < from->type_count; i++) {
        if (!placed && c < from->type[i]) {
            type[k++] = c;
            placed = true;
        }
        if (removing && from->type[i] == c) continue;
        type[k++] = from->type[i];
    }
    if (!placed) type[k++] = c;
    ecs_table *to = ecs_table_for_type(w, type, k);
    if (type != stack) aw_free(&w->allocator, type, n * sizeof *type);
    if (!to) return NULL;
    /* Edges are a cache: if recording them fails the transition still works, only slower. */
    if (c < ECS_LOW_EDGES) {
        from->low_edges[c][removing] = to->id + 1;
        to->low_edges[c][!removing] = from->id + 1;
    } else if (aw_map_set(&from->edges, key, (uint64_t)to->id + 1) == AW_OK) {
        aw_map_set(&to->edges, ((uint64_t)c << 1) | !removing, (uint64_t)from->id + 1);
    }
    return to;
}

static void *chunk_acquire(aw_world *w, ecs_table *t, uint32_t k) {
    if (k < t->small_chunks) return aw_pool_acquire(&w->chunk_pool);
    return t->large_pooled ? aw_pool_acquire(&w->large_pool) : aw_alloc(&w->allocator, t->large_bytes, 64);
}

static uint32_t chunk_rows_capacity(const ecs_table *t, uint32_t k) {
    return t->rows[ecs_chunk_tier(t, k)];
}

static void chunk_release(aw_world *w, ecs_table *t) {
    uint32_t k = --t->chunk_count;
    t->row_capacity -= chunk_rows_capacity(t, k);
    if (k < t->small_chunks)
        aw_pool_release(&w->chunk_pool, t->chunks[k]);
    else if (t->large_pooled)
        aw_pool_release(&w->large_pool, t->chunks[k]);
    else
        aw_free(&w->allocator, t->chunks[k], t->large_bytes);
}

/* Number of chunks needed to hold `rows` rows. */
static uint32_t chunks_for(const ecs_table *t, uint64_t rows) {
    uint64_t small_total = (uint64_t)t->small_chunks * t->rows[0];
    if (rows <= small_total) return (uint32_t)((rows + t->rows[0] - 1) / t->rows[0]);
    return t->small_chunks + (uint32_t)((rows - small_total + t->rows[1] - 1) / t->rows[1]);
}

uint64_t ecs_table_chunk_bytes(const aw_world *w, const ecs_table *t) {
    uint32_t small = t->chunk_count < t->small_chunks ? t->chunk_count : t->small_chunks;
    return (uint64_t)small * w->chunk_size + (uint64_t)(t->chunk_count - small) * t->large_bytes;
}

aw_status ecs_table_grow(aw_world *w, ecs_table *t, uint32_t rows) {
    uint64_t total = (uint64_t)t->count + rows;
    if (total > UINT32_MAX) return aw_error(AW_ERR_CAPACITY, "table row count would exceed 2^32");
    uint32_t needed = chunks_for(t, total);
    if (needed <= t->chunk_count) return AW_OK;
    if (ecs_grow(&w->allocator, (void **)&t->chunks, &t->chunk_capacity, needed, sizeof(void *)))
        return AW_ERR_OUT_OF_MEMORY;
    uint32_t before = t->chunk_count;
    while (t->chunk_count < needed) {
        void *chunk = chunk_acquire(w, t, t->chunk_count);
        if (!chunk) {
            while (t->chunk_count > before) chunk_release(w, t);
            return aw_error(AW_ERR_OUT_OF_MEMORY, "out of memory allocating a table chunk");
        }
        t->row_capacity += chunk_rows_capacity(t, t->chunk_count);
        t->chunks[t->chunk_count++] = chunk;
    }
    return AW_OK;
}

void ecs_table_trim(aw_world *w, ecs_table *t) {
    /* One spare chunk stays so a table oscillating around a chunk boundary does not churn:
     * release only while the last two chunks are both empty. Oversized large chunks (not from
     * a pool) are kept until the table is cleared, so they never cost a heap call per frame. */
    while (t->chunk_count >= 2 && t->count <= ecs_chunk_start(t, t->chunk_count - 2)) {
        if (t->chunk_count - 1 >= t->small_chunks && !t->large_pooled) break;
        chunk_release(w, t);
    }
}

void ecs_table_append_row(ecs_table *t, aw_entity e, uint32_t *chunk, uint32_t *row) {
    *chunk = t->tail_chunk;
    *row = t->tail_row;
    ecs_chunk_entities(t, *chunk)[*row] = e;
    t->count++;
    if (++t->tail_row == t->rows[ecs_chunk_tier(t, t->tail_chunk)]) {
        t->tail_chunk++;
        t->tail_row = 0;
    }
}

/* Steps the tail back by one row; returns the location of the (old) last row. */
static void retreat_tail(ecs_table *t, uint32_t *chunk, uint32_t *row) {
    if (t->tail_row == 0) {
        t->tail_chunk--;
        t->tail_row = t->rows[ecs_chunk_tier(t, t->tail_chunk)];
    }
    *chunk = t->tail_chunk;
    *row = --t->tail_row;
    t->count--;
}

void ecs_table_destruct_row(aw_world *w, ecs_table *t, uint32_t chunk, uint32_t row) {
    if (!t->has_hooks) return;
    for (uint32_t i = 0; i < t->column_count; i++) {
        const ecs_component_info *info = &w->components[t->columns[i].component];
        if (info->dtor) info->dtor(ecs_column_ptr(t, i, chunk, row), 1, info->hook_user);
    }
}

void ecs_table_delete_row(aw_world *w, ecs_table *t, uint32_t chunk, uint32_t row) {
    uint32_t lk, lr;
    retreat_tail(t, &lk, &lr);
    if (lk != chunk || lr != row) {
        uint8_t *hole = t->chunks[chunk], *last = t->chunks[lk];
        uint32_t hole_tier = ecs_chunk_tier(t, chunk), last_tier = ecs_chunk_tier(t, lk);
        aw_entity moved = ((aw_entity *)last)[lr];
        ((aw_entity *)hole)[row] = moved;
        for (uint32_t i = 0; i < t->column_count; i++) {
            const ecs_column *c = &t->columns[i];
            void *dst = hole + c->offset[hole_tier] + (size_t)row * c->size;
            void *src = last + c->offset[last_tier] + (size_t)lr * c->size;
            const ecs_component_info *info = t->has_hooks ? &w->components[c->component] : NULL;
            if (info && info->move)
                info->move(dst, src, 1, info->hook_user);
            else
                ecs_copy(dst, src, c->size);
        }
        ecs_record *rec = ecs_record_at(w, AW_ENTITY_INDEX(moved));
        rec->chunk = chunk;
        rec->row = row;
    }
    if (AW_UNLIKELY(t->chunk_count >= 2 && t->count <= ecs_chunk_start(t, t->chunk_count - 2)))
        ecs_table_trim(w, t);
}

void ecs_table_clear(aw_world *w, ecs_table *t) {
    if (t->has_hooks) {
        for (uint32_t k = 0; k < t->chunk_count; k++) {
            uint32_t rows = ecs_chunk_rows(t, k);
            if (!rows) continue;
            for (uint32_t i = 0; i < t->column_count; i++) {
                const ecs_component_info *info = &w->components[t->columns[i].component];
                if (info->dtor) info->dtor(ecs_column_ptr(t, i, k, 0), rows, info->hook_user);
            }
        }
    }
    t->count = 0;
    t->tail_chunk = t->tail_row = 0;
    while (t->chunk_count) chunk_release(w, t);
}
