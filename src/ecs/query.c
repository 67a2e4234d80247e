/* Cached queries: each keeps the list of matching tables (with the column of every term), updated
 * when a table is created, and iterates them one chunk at a time. */
#include "ecs/ecs_internal.h"

#include <string.h>

static bool query_match(const aw_query *q, const ecs_table *t, ecs_query_match *m) {
    m->table = t->id;
    for (uint32_t i = 0; i < q->term_count; i++) {
        int col = ecs_table_column(t, q->terms[i].component);
        bool present = col >= 0;
        switch (q->terms[i].oper) {
        case AW_TERM_WITH:
            if (!present) return false;
            break;
        case AW_TERM_WITHOUT:
            if (present) return false;
            break;
        case AW_TERM_OPTIONAL:
            break;
        }
        m->column[i] =
            (int16_t)(present && col != ECS_TAG_PRESENT && q->terms[i].oper != AW_TERM_WITHOUT ? col : -1);
    }
    return true;
}

aw_status ecs_queries_prepare(aw_world *w) {
    for (uint32_t i = 0; i < w->query_count; i++) {
        aw_query *q = w->queries[i];
        aw_status s = ecs_grow(&w->allocator, (void **)&q->matches, &q->match_capacity, q->match_count + 1,
                               sizeof(ecs_query_match));
        if (s) return s;
    }
    return AW_OK;
}

void ecs_queries_match_table(aw_world *w, ecs_table *t) {
    for (uint32_t i = 0; i < w->query_count; i++) {
        aw_query *q = w->queries[i];
        if (query_match(q, t, &q->matches[q->match_count])) q->match_count++;
    }
}

static aw_status check_desc(const aw_world *w, const aw_query_desc *d) {
    if (!d || !d->terms || d->term_count == 0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_query_create: a query needs at least one term");
    if (d->term_count > AW_QUERY_MAX_TERMS)
        return aw_error(AW_ERR_TOO_MANY_TERMS, "aw_query_create: %u terms, at most %d", d->term_count,
                        AW_QUERY_MAX_TERMS);
    for (uint32_t i = 0; i < d->term_count; i++) {
        const aw_term *t = &d->terms[i];
        aw_status s = ecs_check_component(w, t->component, "aw_query_create");
        if (s) return s;
        if ((unsigned)t->oper > AW_TERM_OPTIONAL || (unsigned)t->access > AW_ACCESS_NONE)
            return aw_error(AW_ERR_INVALID_ARG, "aw_query_create: term %u has an invalid operator or access",
                            i);
    }
    return AW_OK;
}

aw_query *aw_query_create(aw_world *w, const aw_query_desc *d) {
    if (ecs_check_world(w, "aw_query_create") || check_desc(w, d)) return NULL;
    if (ecs_grow(&w->allocator, (void **)&w->queries, &w->query_capacity, w->query_count + 1,
                 sizeof(aw_query *)))
        return NULL;
    aw_query *q = aw_alloc(&w->allocator, sizeof *q, _Alignof(aw_query));
    if (!q) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_query_create: out of memory");
        return NULL;
    }
    memset(q, 0, sizeof *q);
    q->world = w;
    q->term_count = d->term_count;
    memcpy(q->terms, d->terms, d->term_count * sizeof *d->terms);
    if (ecs_grow(&w->allocator, (void **)&q->matches, &q->match_capacity, w->table_count,
                 sizeof(ecs_query_match))) {
        aw_free(&w->allocator, q, sizeof *q);
        return NULL;
    }
    for (uint32_t t = 0; t < w->table_count; t++)
        if (query_match(q, w->tables[t], &q->matches[q->match_count])) q->match_count++;
    q->index = w->query_count;
    w->queries[w->query_count++] = q;
    return q;
}

void ecs_query_free(aw_query *q) {
    aw_world *w = q->world;
    aw_query *last = w->queries[--w->query_count];
    w->queries[q->index] = last;
    last->index = q->index;
    aw_free(&w->allocator, q->matches, (size_t)q->match_capacity * sizeof(ecs_query_match));
    aw_free(&w->allocator, q, sizeof *q);
}

void aw_query_destroy(aw_query *q) {
    if (q) ecs_query_free(q);
}

uint32_t aw_query_count(const aw_query *q) {
    if (!q) return 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < q->match_count; i++) n += q->world->tables[q->matches[i].table]->count;
    return n;
}

aw_iter aw_query_iter(aw_query *q) {
    return (aw_iter){.query_ = q};
}

bool aw_iter_next(aw_iter *it) {
    aw_query *q = it ? it->query_ : NULL;
    if (!q) return false;
    if (!it->active_) {
#ifdef AW_ACCESS_CHECKS
        /* Inside a system, iterating data it did not declare is refused (the fetch is the check). */
        for (uint32_t i = 0; i < q->term_count; i++) {
            const aw_term *t = &q->terms[i];
            if (t->oper == AW_TERM_WITHOUT || t->access == AW_ACCESS_NONE) continue;
            if (ecs_check_access(q->world, t->component, t->access == AW_ACCESS_WRITE, "aw_iter_next")) {
                it->query_ = NULL;
                return false;
            }
        }
#endif
        it->active_ = true;
        it->table_ = 0;
        it->chunk_ = 0;
        ecs_lock(q->world, 1);
    } else {
        it->chunk_++;
    }
    for (; it->table_ < q->match_count; it->table_++, it->chunk_ = 0) {
        const ecs_query_match *m = &q->matches[it->table_];
        const ecs_table *t = q->world->tables[m->table];
        uint32_t rows = ecs_chunk_rows(t, it->chunk_);
        if (!rows) continue;
        uint8_t *chunk = t->chunks[it->chunk_];
        uint32_t tier = ecs_chunk_tier(t, it->chunk_);
        it->count = rows;
        it->entities = (const aw_entity *)chunk;
        for (uint32_t i = 0; i < q->term_count; i++)
            it->columns[i] = m->column[i] >= 0 ? chunk + t->columns[m->column[i]].offset[tier] : NULL;
        return true;
    }
    aw_iter_fini(it);
    return false;
}

/* An iterator is single-use: once finished it stays finished (next() returns false). */
void aw_iter_fini(aw_iter *it) {
    if (!it || !it->query_) return;
    if (it->active_) ecs_lock(it->query_->world, -1);
    it->active_ = false;
    it->count = 0;
    it->query_ = NULL;
}

void aw_query_each(aw_query *q, aw_each_fn fn, void *user) {
    if (!q || !fn) return;
    uint32_t sizes[AW_QUERY_MAX_TERMS];
    for (uint32_t i = 0; i < q->term_count; i++) sizes[i] = q->world->components[q->terms[i].component].size;
    void *columns[AW_QUERY_MAX_TERMS] = {0};
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it)) {
        for (uint32_t r = 0; r < it.count; r++) {
            for (uint32_t i = 0; i < q->term_count; i++)
                columns[i] = it.columns[i] ? (uint8_t *)it.columns[i] + (size_t)r * sizes[i] : NULL;
            fn(it.entities[r], columns, user);
        }
    }
}
