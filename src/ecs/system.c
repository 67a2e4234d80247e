/* Systems: registration with declared access, running one system (once, or in parallel pieces
 * of its query with one command buffer per piece), and the debug-build access checks. */
#include "ecs/ecs_internal.h"

#include <string.h>

#define DEFAULT_GRAIN 1024u
#define INLINE_SYSTEM_NS 20000u

/* The system the calling thread is running, for access checks. */
static _Thread_local const aw_system *tl_current_system;

static bool id_in(const uint32_t *ids, uint32_t count, uint32_t id) {
    for (uint32_t i = 0; i < count; i++)
        if (ids[i] == id) return true;
    return false;
}

/* Appends id to a small set (duplicates skipped); the set was sized for every candidate. */
static void set_add(uint32_t *ids, uint32_t *count, uint32_t id) {
    if (!id_in(ids, *count, id)) ids[(*count)++] = id;
}

static aw_status copy_names(aw_world *w, char ***out, const char *const *names, uint32_t count,
                            const char *what) {
    if (!count) return AW_OK;
    if (!names) return aw_error(AW_ERR_INVALID_ARG, "aw_system_register: %s has a count but no names", what);
    *out = aw_alloc(&w->allocator, count * sizeof(char *), _Alignof(char *));
    if (!*out) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_system_register: out of memory");
    memset(*out, 0, count * sizeof(char *));
    for (uint32_t i = 0; i < count; i++) {
        if (!names[i]) return aw_error(AW_ERR_INVALID_ARG, "aw_system_register: %s name %u is NULL", what, i);
        if (!((*out)[i] = ecs_strdup(&w->allocator, names[i])))
            return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_system_register: out of memory");
    }
    return AW_OK;
}

void ecs_system_free(aw_world *w, aw_system *s) {
    const aw_allocator *a = &w->allocator;
    for (uint32_t i = 0; i < s->after_count; i++) ecs_strfree(a, s->after[i]);
    for (uint32_t i = 0; i < s->before_count; i++) ecs_strfree(a, s->before[i]);
    aw_free(a, s->after, s->after_count * sizeof(char *));
    aw_free(a, s->before, s->before_count * sizeof(char *));
    aw_free(a, s->reads, s->access_capacity * sizeof(uint32_t));
    aw_free(a, s->writes, s->access_capacity * sizeof(uint32_t));
    aw_free(a, s->resource_reads, s->resource_capacity * sizeof(uint32_t));
    aw_free(a, s->resource_writes, s->resource_capacity * sizeof(uint32_t));
    aw_cmd_buffer_destroy(s->commands);
    for (uint32_t i = 0; i < s->piece_buffer_count; i++) aw_cmd_buffer_destroy(s->piece_buffers[i]);
    aw_free(a, s->piece_buffers, (size_t)s->piece_buffer_capacity * sizeof(aw_cmd_buffer *));
    aw_free(a, s->pieces, (size_t)s->piece_capacity * sizeof(ecs_piece));
    if (s->query) aw_query_destroy(s->query);
    ecs_strfree(a, s->name);
    aw_free(a, s, sizeof *s);
}

static aw_status check_desc(const aw_world *w, const aw_system_desc *d) {
    if (!d || !d->name || !d->name[0])
        return aw_error(AW_ERR_INVALID_ARG, "aw_system_register: a system needs a name");
    if (!d->run == !d->each)
        return aw_error(AW_ERR_INVALID_ARG, "aw_system_register: '%s' needs exactly one of run and each",
                        d->name);
    if (d->each && !d->query.term_count)
        return aw_error(AW_ERR_INVALID_ARG, "aw_system_register: '%s' uses each but has no query", d->name);
    if (aw_system_lookup(w, d->name))
        return aw_error(AW_ERR_ALREADY_PRESENT, "aw_system_register: '%s' is already registered", d->name);
    if ((d->read_count && !d->reads) || (d->write_count && !d->writes) ||
        (d->read_resource_count && !d->read_resources) || (d->write_resource_count && !d->write_resources))
        return aw_error(AW_ERR_INVALID_ARG, "aw_system_register: '%s' has an access count without a list",
                        d->name);
    for (uint32_t i = 0; i < d->read_count; i++)
        if (ecs_check_component(w, d->reads[i], "aw_system_register")) return aw_last_status();
    for (uint32_t i = 0; i < d->write_count; i++)
        if (ecs_check_component(w, d->writes[i], "aw_system_register")) return aw_last_status();
    for (uint32_t i = 0; i < d->read_resource_count; i++)
        if (!d->read_resources[i] || d->read_resources[i] >= w->resource_count)
            return aw_error(AW_ERR_NOT_FOUND, "aw_system_register: '%s' reads an unknown resource", d->name);
    for (uint32_t i = 0; i < d->write_resource_count; i++)
        if (!d->write_resources[i] || d->write_resources[i] >= w->resource_count)
            return aw_error(AW_ERR_NOT_FOUND, "aw_system_register: '%s' writes an unknown resource", d->name);
    return AW_OK;
}

/* Declared access: query terms that touch data, plus the explicit lists. Filters (access NONE)
 * and WITHOUT terms read only table membership, which changes only at sync points. */
static aw_status build_access(aw_world *w, aw_system *s, const aw_system_desc *d) {
    uint32_t cap = d->query.term_count + d->read_count + d->write_count + 1;
    uint32_t rcap = d->read_resource_count + d->write_resource_count + 1;
    s->access_capacity = cap;
    s->resource_capacity = rcap;
    s->reads = aw_alloc(&w->allocator, cap * sizeof(uint32_t), 4);
    s->writes = aw_alloc(&w->allocator, cap * sizeof(uint32_t), 4);
    s->resource_reads = aw_alloc(&w->allocator, rcap * sizeof(uint32_t), 4);
    s->resource_writes = aw_alloc(&w->allocator, rcap * sizeof(uint32_t), 4);
    if (!s->reads || !s->writes || !s->resource_reads || !s->resource_writes)
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_system_register: out of memory");
    for (uint32_t i = 0; i < d->query.term_count; i++) {
        const aw_term *t = &d->query.terms[i];
        if (t->oper == AW_TERM_WITHOUT || t->access == AW_ACCESS_NONE) continue;
        if (t->access == AW_ACCESS_WRITE)
            set_add(s->writes, &s->write_count, t->component);
        else
            set_add(s->reads, &s->read_count, t->component);
    }
    for (uint32_t i = 0; i < d->read_count; i++) set_add(s->reads, &s->read_count, d->reads[i]);
    for (uint32_t i = 0; i < d->write_count; i++) set_add(s->writes, &s->write_count, d->writes[i]);
    for (uint32_t i = 0; i < d->read_resource_count; i++)
        set_add(s->resource_reads, &s->resource_read_count, d->read_resources[i]);
    for (uint32_t i = 0; i < d->write_resource_count; i++)
        set_add(s->resource_writes, &s->resource_write_count, d->write_resources[i]);
    return AW_OK;
}

aw_system *aw_system_register(aw_world *w, const aw_system_desc *d) {
    if (ecs_check_world(w, "aw_system_register") || check_desc(w, d)) return NULL;
    if (ecs_grow(&w->allocator, (void **)&w->systems, &w->system_capacity, w->system_count + 1,
                 sizeof(aw_system *)))
        return NULL;
    aw_system *s = aw_alloc(&w->allocator, sizeof *s, _Alignof(aw_system));
    if (!s) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_system_register: out of memory");
        return NULL;
    }
    *s = (aw_system){
        .world = w,
        .index = w->system_count,
        .phase = d->phase ? d->phase : AW_PHASE_SIMULATION,
        .run = d->run,
        .each = d->each,
        .grain = d->grain ? d->grain : DEFAULT_GRAIN,
        .last_ns = INLINE_SYSTEM_NS, /* parallel until measured */
        .exclusive = d->exclusive,
        .user = d->user,
    };
    s->after_count = d->after_count;
    s->before_count = d->before_count;
    aw_status st = AW_OK;
    if (!(s->name = ecs_strdup(&w->allocator, d->name))) st = aw_error(AW_ERR_OUT_OF_MEMORY, "out of memory");
    if (!st && d->query.term_count && !(s->query = aw_query_create(w, &d->query))) st = aw_last_status();
    if (!st) st = build_access(w, s, d);
    if (!st) st = copy_names(w, &s->after, d->after, d->after_count, "after");
    if (!st) st = copy_names(w, &s->before, d->before, d->before_count, "before");
    if (!st && !(s->commands = ecs_cmd_buffer_new(w, true))) st = aw_last_status();
    if (st) {
        if (!s->after) s->after_count = 0;
        if (!s->before) s->before_count = 0;
        ecs_system_free(w, s);
        return NULL;
    }
    w->systems[w->system_count++] = s;
    w->schedule_dirty = true;
    return s;
}

aw_system *aw_system_lookup(const aw_world *w, const char *name) {
    if (!w || !name) return NULL;
    for (uint32_t i = 0; i < w->system_count; i++)
        if (strcmp(w->systems[i]->name, name) == 0) return w->systems[i];
    return NULL;
}

const char *aw_system_name(const aw_system *s) {
    return s ? s->name : NULL;
}

bool ecs_systems_conflict(const aw_system *a, const aw_system *b) {
    if (a->exclusive || b->exclusive) return true;
    for (uint32_t i = 0; i < a->write_count; i++)
        if (id_in(b->writes, b->write_count, a->writes[i]) || id_in(b->reads, b->read_count, a->writes[i]))
            return true;
    for (uint32_t i = 0; i < b->write_count; i++)
        if (id_in(a->reads, a->read_count, b->writes[i])) return true;
    for (uint32_t i = 0; i < a->resource_write_count; i++)
        if (id_in(b->resource_writes, b->resource_write_count, a->resource_writes[i]) ||
            id_in(b->resource_reads, b->resource_read_count, a->resource_writes[i]))
            return true;
    for (uint32_t i = 0; i < b->resource_write_count; i++)
        if (id_in(a->resource_reads, a->resource_read_count, b->resource_writes[i])) return true;
    return false;
}

/* ---- access checks (debug builds) */

aw_status ecs_check_access(const aw_world *w, aw_component c, bool write, const char *fn) {
    const aw_system *s = tl_current_system;
    if (!s || s->world != w || s->exclusive) return AW_OK;
    if (id_in(s->writes, s->write_count, c) || (!write && id_in(s->reads, s->read_count, c))) return AW_OK;
    aw_status st = aw_error(AW_ERR_ACCESS, "%s: system '%s' %s '%s' without declaring it", fn, s->name,
                            write ? "writes" : "reads", w->components[c].name);
    AW_LOGE("%s", aw_last_error());
    return st;
}

aw_status ecs_check_resource_access(const aw_world *w, aw_resource r, const char *fn) {
    const aw_system *s = tl_current_system;
    if (!s || s->world != w || s->exclusive) return AW_OK;
    if (id_in(s->resource_writes, s->resource_write_count, r) ||
        id_in(s->resource_reads, s->resource_read_count, r))
        return AW_OK;
    aw_status st = aw_error(AW_ERR_ACCESS, "%s: system '%s' uses resource '%s' without declaring it", fn,
                            s->name, w->resources[r].name);
    AW_LOGE("%s", aw_last_error());
    return st;
}

/* ---- running */

/* Splits a query into pieces of at most `grain` rows, never crossing a chunk. The split depends
 * only on the world's contents, so piece k (and its command buffer, and its first row) is the same
 * for any thread count. */
aw_status ecs_build_pieces(aw_world *w, const aw_query *q, uint32_t grain, ecs_piece **pieces,
                           uint32_t *count, uint32_t *capacity) {
    *count = 0;
    uint32_t row = 0;
    for (uint32_t m = 0; m < q->match_count; m++) {
        const ecs_table *t = w->tables[q->matches[m].table];
        for (uint32_t k = 0; k < t->chunk_count; k++) {
            uint32_t rows = ecs_chunk_rows(t, k);
            for (uint32_t begin = 0; begin < rows; begin += grain) {
                if (*count == *capacity &&
                    ecs_grow(&w->allocator, (void **)pieces, capacity, *count + 1, sizeof(ecs_piece)))
                    return AW_ERR_OUT_OF_MEMORY;
                uint32_t n = rows - begin < grain ? rows - begin : grain;
                (*pieces)[(*count)++] =
                    (ecs_piece){.match = m, .chunk = k, .begin = begin, .count = n, .row = row};
                row += n;
            }
        }
    }
    return AW_OK;
}

static aw_status build_pieces(aw_world *w, aw_system *s) {
    aw_status st = ecs_build_pieces(w, s->query, s->grain, &s->pieces, &s->piece_count, &s->piece_capacity);
    if (st || s->piece_count <= s->piece_buffer_count) return st;
    if (ecs_grow(&w->allocator, (void **)&s->piece_buffers, &s->piece_buffer_capacity, s->piece_count,
                 sizeof(aw_cmd_buffer *)))
        return AW_ERR_OUT_OF_MEMORY;
    while (s->piece_buffer_count < s->piece_count) {
        aw_cmd_buffer *b = ecs_cmd_buffer_new(w, true);
        if (!b) return AW_ERR_OUT_OF_MEMORY;
        s->piece_buffers[s->piece_buffer_count++] = b;
    }
    return AW_OK;
}

void ecs_piece_iter(const aw_query *q, const ecs_piece *p, aw_iter *it) {
    const ecs_query_match *m = &q->matches[p->match];
    const ecs_table *t = q->world->tables[m->table];
    uint8_t *chunk = t->chunks[p->chunk];
    uint32_t tier = ecs_chunk_tier(t, p->chunk);
    it->count = p->count;
    it->entities = (const aw_entity *)chunk + p->begin;
    for (uint32_t i = 0; i < q->term_count; i++) {
        if (m->column[i] < 0) {
            it->columns[i] = NULL;
            continue;
        }
        const ecs_column *c = &t->columns[m->column[i]];
        it->columns[i] = chunk + c->offset[tier] + (size_t)p->begin * c->size;
    }
}

typedef struct piece_run {
    aw_system *system;
    float dt;
} piece_run;

static void run_pieces(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    const piece_run *pr = arg;
    aw_system *s = pr->system;
    const aw_system *saved = tl_current_system;
    tl_current_system = s;
    for (uint32_t k = begin; k < end; k++) {
        aw_iter it = {0};
        ecs_piece_iter(s->query, &s->pieces[k], &it);
        aw_system_ctx ctx = {.world = s->world,
                             .system = s,
                             .query = s->query,
                             .commands = s->piece_buffers[k],
                             .worker = worker,
                             .task = k,
                             .row = s->pieces[k].row,
                             .dt = pr->dt,
                             .frame = s->world->frame,
                             .user = s->user};
        s->each(&ctx, &it);
    }
    tl_current_system = saved;
}

aw_status ecs_system_run(aw_system *s, uint32_t worker, float dt) {
    aw_world *w = s->world;
    if (s->run) {
        const aw_system *saved = tl_current_system;
        tl_current_system = s;
        aw_system_ctx ctx = {.world = w,
                             .system = s,
                             .query = s->query,
                             .commands = s->commands,
                             .worker = worker,
                             .dt = dt,
                             .frame = w->frame,
                             .user = s->user};
        s->run(&ctx);
        tl_current_system = saved;
        return AW_OK;
    }
    aw_status st = build_pieces(w, s);
    if (st) return st;
    piece_run pr = {.system = s, .dt = dt};
    ecs_lock(w, 1);
    /* Pieces of a system that took under INLINE_SYSTEM_NS last frame stay on this thread: a
     * worker that takes one piece of a 10 us system and is then descheduled stalls the frame
     * for far longer than the piece. The piece split (and so the result) is the same. */
    uint64_t t0 = aw_time_ns();
    if (s->last_ns < INLINE_SYSTEM_NS)
        run_pieces(0, s->piece_count, worker, &pr);
    else
        st = aw_jobs_parallel_for(w->jobs, s->piece_count, 1, run_pieces, &pr);
    uint64_t took = aw_time_ns() - t0;
    s->last_ns = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
    ecs_lock(w, -1);
    return st;
}

/* Applies the system's buffers in a fixed order: its own, then piece by piece. */
aw_status ecs_system_apply(aw_system *s) {
    aw_status first = aw_cmd_buffer_count(s->commands) ? aw_cmd_buffer_apply(s->commands) : AW_OK;
    for (uint32_t k = 0; k < s->piece_buffer_count; k++) {
        if (!aw_cmd_buffer_count(s->piece_buffers[k])) continue;
        aw_status st = aw_cmd_buffer_apply(s->piece_buffers[k]);
        if (st && !first) first = st;
    }
    return first;
}
