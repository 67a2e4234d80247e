/* The scheduler: orders systems (phase, before/after, registration), groups them into stages of
 * mutually non-conflicting systems that run concurrently, applies command buffers at the sync
 * point after each stage, and drives parallel query iteration. */
#include "ecs/ecs_internal.h"

#include "aw/profile.h"

#include <stdio.h>
#include <string.h>

/* A stage whose systems took less than this last frame runs on the calling thread: handing
 * microsecond systems to another thread costs more than it saves. Measured: 100 empty systems
 * in 63 stages took 30-60 us per frame when the worker stole some, about 6 us inline. */
#define INLINE_STAGE_NS 20000u

/* Ambiguity warnings need the transitive closure of the explicit order; past this many systems
 * that costs more than it is worth at every rebuild. */
#define AMBIGUITY_CHECK_MAX 512u

aw_status ecs_ensure_jobs(aw_world *w) {
    if (w->jobs) return AW_OK;
    w->jobs = aw_jobs_create(&(aw_jobs_desc){.threads = w->threads, .allocator = &w->allocator});
    if (!w->jobs) return aw_last_status();
    w->owns_jobs = true;
    return AW_OK;
}

aw_jobs *aw_world_jobs(aw_world *w) {
    if (!w || ecs_ensure_jobs(w)) return NULL;
    return w->jobs;
}

void ecs_schedule_free(aw_world *w) {
    for (uint32_t i = 0; i < w->system_count; i++) ecs_system_free(w, w->systems[i]);
    aw_free(&w->allocator, w->systems, (size_t)w->system_capacity * sizeof(aw_system *));
    aw_free(&w->allocator, w->schedule, (size_t)w->schedule_capacity * sizeof(ecs_schedule_slot));
    aw_free(&w->allocator, w->pieces, (size_t)w->piece_capacity * sizeof(ecs_piece));
    if (w->owns_jobs) aw_jobs_destroy(w->jobs);
    w->jobs = NULL;
}

/* ---- building the schedule */

typedef struct graph {
    uint32_t n;
    uint8_t *edge;  /* edge[i * n + j]: i must run before j (explicit constraints) */
    uint8_t *reach; /* transitive closure of edge, or NULL when skipped */
} graph;

static aw_status add_named_edges(aw_world *w, graph *g, aw_system *s, char **names, uint32_t count, bool after) {
    for (uint32_t k = 0; k < count; k++) {
        aw_system *o = aw_system_lookup(w, names[k]);
        if (!o)
            return aw_error(AW_ERR_NOT_FOUND, "schedule: system '%s' is ordered %s '%s', which is not registered",
                            s->name, after ? "after" : "before", names[k]);
        if (o == s) return aw_error(AW_ERR_CYCLE, "schedule: system '%s' is ordered relative to itself", s->name);
        uint32_t from = after ? o->index : s->index, to = after ? s->index : o->index;
        g->edge[from * g->n + to] = 1;
    }
    return AW_OK;
}

static bool ordered_before(const aw_system *a, const aw_system *b) {
    return a->phase != b->phase ? a->phase < b->phase : a->index < b->index;
}

/* Kahn's algorithm, always taking the ready system earliest by (phase, registration). */
static aw_status sort_systems(aw_world *w, graph *g, uint32_t *indegree) {
    uint32_t n = g->n, placed = 0;
    for (uint32_t j = 0; j < n; j++) {
        indegree[j] = 0;
        for (uint32_t i = 0; i < n; i++) indegree[j] += g->edge[i * n + j];
    }
    while (placed < n) {
        aw_system *best = NULL;
        for (uint32_t i = 0; i < n; i++) {
            aw_system *s = w->systems[i];
            if (indegree[i] == 0 && (!best || ordered_before(s, best))) best = s;
        }
        if (!best) break;
        indegree[best->index] = UINT32_MAX; /* placed */
        w->schedule[placed++].system = best;
        for (uint32_t j = 0; j < n; j++)
            if (g->edge[best->index * n + j]) indegree[j]--;
    }
    if (placed == n) return AW_OK;
    char names[256] = "";
    size_t len = 0;
    for (uint32_t i = 0; i < n && len < sizeof names - 1; i++)
        if (indegree[i] != UINT32_MAX)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s'%s'", len ? ", " : "", w->systems[i]->name);
    return aw_error(AW_ERR_CYCLE, "schedule: before/after constraints form a cycle among %s", names);
}

static aw_status check_phases(const aw_world *w, const graph *g) {
    for (uint32_t i = 0; i < g->n; i++)
        for (uint32_t j = 0; j < g->n; j++) {
            const aw_system *a = w->systems[i], *b = w->systems[j];
            if (g->edge[i * g->n + j] && a->phase > b->phase)
                return aw_error(AW_ERR_CYCLE, "schedule: '%s' (phase %u) must run before '%s', an earlier phase (%u)",
                                a->name, a->phase, b->name, b->phase);
        }
    return AW_OK;
}

static void close_transitively(graph *g) {
    uint32_t n = g->n;
    memcpy(g->reach, g->edge, (size_t)n * n);
    for (uint32_t k = 0; k < n; k++)
        for (uint32_t i = 0; i < n; i++)
            if (g->reach[i * n + k])
                for (uint32_t j = 0; j < n; j++) g->reach[i * n + j] |= g->reach[k * n + j];
}

static void warn_ambiguities(const aw_world *w, const graph *g) {
    uint32_t n = g->n;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++) {
            const aw_system *a = w->systems[i], *b = w->systems[j];
            if (a->phase != b->phase || g->reach[i * n + j] || g->reach[j * n + i] || !ecs_systems_conflict(a, b))
                continue;
            AW_LOGW("schedule: '%s' and '%s' conflict in phase %u with no before/after between them; they run "
                    "in registration order",
                    a->name, b->name, a->phase);
        }
}

static bool linked(const graph *g, const aw_system *a, const aw_system *b) {
    if (g->reach) return g->reach[a->index * g->n + b->index];
    return g->edge[a->index * g->n + b->index];
}

/* A stage ends where a system conflicts with, or is explicitly ordered after, one already in it,
 * and at every phase boundary. */
static void split_stages(aw_world *w, const graph *g) {
    ecs_schedule_slot *slot = w->schedule;
    w->stage_count = 0;
    uint32_t start = 0;
    for (uint32_t q = 0; q < g->n; q++) {
        aw_system *s = slot[q].system;
        bool cut = q > start && slot[start].system->phase != s->phase;
        for (uint32_t p = start; p < q && !cut; p++)
            cut = ecs_systems_conflict(slot[p].system, s) || linked(g, slot[p].system, s);
        if (cut) {
            slot[w->stage_count++].stage_end = q;
            start = q;
        }
    }
    if (g->n) slot[w->stage_count++].stage_end = g->n;
    for (uint32_t k = 0; k < w->stage_count; k++) slot[k].stage_ns = INLINE_STAGE_NS; /* parallel until measured */
}

static aw_status build_schedule(aw_world *w) {
    uint32_t n = w->system_count;
    const aw_allocator *a = &w->allocator;
    if (ecs_grow(a, (void **)&w->schedule, &w->schedule_capacity, n, sizeof(ecs_schedule_slot)))
        return AW_ERR_OUT_OF_MEMORY;
    size_t cells = (size_t)n * n;
    graph g = {.n = n, .edge = aw_alloc(a, cells + 1, 1)};
    uint32_t *indegree = aw_alloc(a, (size_t)n * sizeof(uint32_t) + 1, 4);
    if (n <= AMBIGUITY_CHECK_MAX) g.reach = aw_alloc(a, cells + 1, 1);
    aw_status st = AW_OK;
    if (!g.edge || !indegree || (n <= AMBIGUITY_CHECK_MAX && !g.reach)) {
        st = aw_error(AW_ERR_OUT_OF_MEMORY, "schedule: out of memory");
        goto done;
    }
    memset(g.edge, 0, cells);
    for (uint32_t i = 0; i < n && !st; i++) {
        aw_system *s = w->systems[i];
        st = add_named_edges(w, &g, s, s->after, s->after_count, true);
        if (!st) st = add_named_edges(w, &g, s, s->before, s->before_count, false);
    }
    if (!st) st = check_phases(w, &g);
    if (!st) st = sort_systems(w, &g, indegree);
    if (st) goto done;
    if (g.reach) {
        close_transitively(&g);
        warn_ambiguities(w, &g);
    }
    split_stages(w, &g);
    w->schedule_dirty = false;
done:
    aw_free(a, g.edge, cells + 1);
    aw_free(a, g.reach, cells + 1);
    aw_free(a, indegree, (size_t)n * sizeof(uint32_t) + 1);
    return st;
}

/* ---- running a frame */

typedef struct stage_job {
    aw_system *system;
    float dt;
    bool submitted;
} stage_job;

/* Every system runs inside a profiler zone named after it (category "system"): per-system
 * timings and trace tracks come from these. Compiled out with AW_PROFILE=OFF. */
static aw_status run_system_zoned(aw_system *s, uint32_t worker, float dt) {
#if AW_PROFILE_ENABLED
    /* The zone's name is interned once per system (profiler names are never removed or reused):
     * interning hashed and compared two strings per system every frame. */
    aw_profile_id zone = 0;
    if (aw_profile_enabled()) {
        if (AW_UNLIKELY(!s->zone_id)) s->zone_id = aw_profile_intern("system", s->name);
        zone = s->zone_id;
        aw_profile_begin(zone);
    }
    aw_status st = ecs_system_run(s, worker, dt);
    aw_profile_end(zone);
#else
    aw_status st = ecs_system_run(s, worker, dt);
#endif
    return st;
}

static void run_system_job(uint32_t worker, void *arg) {
    stage_job *j = arg;
    j->system->status = run_system_zoned(j->system, worker, j->dt);
}

static void run_inline(aw_world *w, aw_system *s, float dt) {
    /* An exclusive system is alone in its stage and may change the world directly. */
    if (!s->exclusive) ecs_lock(w, 1);
    s->status = run_system_zoned(s, 0, dt);
    if (!s->exclusive) ecs_lock(w, -1);
}

static void run_stage(aw_world *w, ecs_schedule_slot *slots, uint32_t count, ecs_schedule_slot *stage, float dt) {
    uint64_t t0 = aw_time_ns();
    if (count == 1 || stage->stage_ns < INLINE_STAGE_NS) {
        for (uint32_t i = 0; i < count; i++) run_inline(w, slots[i].system, dt);
    } else {
        enum { STACK_JOBS = 64 };
        stage_job jobs[STACK_JOBS];
        ecs_lock(w, 1);
        for (uint32_t first = 0; first < count; first += STACK_JOBS) {
            uint32_t n = count - first < STACK_JOBS ? count - first : STACK_JOBS;
            for (uint32_t i = 0; i < n; i++) {
                aw_system *s = slots[first + i].system;
                jobs[i] = (stage_job){.system = s, .dt = dt};
                jobs[i].submitted = aw_jobs_submit(w->jobs, run_system_job, &jobs[i], NULL, 0, &s->job) == AW_OK;
                if (!jobs[i].submitted) run_system_job(0, &jobs[i]); /* job pool exhausted: run it here */
            }
            for (uint32_t i = 0; i < n; i++)
                if (jobs[i].submitted) aw_jobs_wait(w->jobs, slots[first + i].system->job);
        }
        ecs_lock(w, -1);
    }
    uint64_t took = aw_time_ns() - t0;
    stage->stage_ns = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
}

aw_status aw_world_progress(aw_world *w, float dt) {
    aw_status st = ecs_check_world(w, "aw_world_progress");
    if (st) return st;
    if (ecs_locked(w)) return aw_error(AW_ERR_LOCKED, "aw_world_progress: a query is iterating");
    if ((st = ecs_ensure_jobs(w))) return st;
    if (w->schedule_dirty && (st = build_schedule(w))) return st;
    AW_PROFILE_ZONE_BEGIN_CAT(frame_zone, "ecs", "aw_world_progress");
    aw_status first = AW_OK;
    char message[256] = "";
    uint32_t start = 0;
    for (uint32_t k = 0; k < w->stage_count; k++) {
        uint32_t end = w->schedule[k].stage_end;
        run_stage(w, w->schedule + start, end - start, &w->schedule[k], dt);
        AW_PROFILE_ZONE_BEGIN_CAT(sync_zone, "ecs", "sync");
        for (uint32_t i = start; i < end; i++) {
            aw_system *s = w->schedule[i].system;
            aw_status applied = ecs_system_apply(s);
            aw_status failed = s->status ? s->status : applied;
            if (failed && !first) {
                first = failed;
                snprintf(message, sizeof message, "system '%s': %s", s->name, aw_last_error());
            }
        }
        AW_PROFILE_ZONE_END(sync_zone);
        start = end;
    }
    aw_world_end_frame(w);
    w->frame++;
    AW_PROFILE_ZONE_END(frame_zone);
    return first ? aw_error(first, "aw_world_progress: %s", message) : AW_OK;
}

size_t aw_world_describe_schedule(aw_world *w, char *out, size_t size) {
    if (!w) return 0;
    if (w->schedule_dirty && build_schedule(w)) return 0;
    size_t len = 0;
    uint32_t start = 0;
    for (uint32_t k = 0; k < w->stage_count; k++) {
        for (uint32_t i = start; i < w->schedule[k].stage_end; i++) {
            const aw_system *s = w->schedule[i].system;
            char line[320];
            int n = snprintf(line, sizeof line, "stage %u: %s (phase %u%s%s)\n", k, s->name, s->phase,
                             s->each ? ", parallel" : "", s->exclusive ? ", exclusive" : "");
            if (n <= 0) continue;
            if (out && len < size) snprintf(out + len, size - len, "%s", line);
            len += (size_t)n;
        }
        start = w->schedule[k].stage_end;
    }
    return len;
}

/* ---- parallel iteration outside systems */

typedef struct parallel_run {
    aw_query *query;
    const ecs_piece *pieces;
    aw_piece_fn fn;
    void *ctx;
} parallel_run;

static void run_query_pieces(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    const parallel_run *pr = arg;
    for (uint32_t k = begin; k < end; k++) {
        aw_iter it = {0};
        ecs_piece_iter(pr->query, &pr->pieces[k], &it);
        pr->fn(&it, worker, pr->ctx);
    }
}

aw_status aw_query_parallel(aw_query *q, uint32_t grain, aw_piece_fn fn, void *ctx) {
    if (!q || !fn) return aw_error(AW_ERR_INVALID_ARG, "aw_query_parallel: query and fn are required");
    aw_world *w = q->world;
    aw_status st = ecs_ensure_jobs(w);
    if (!st) st = ecs_build_pieces(w, q, grain ? grain : 1024, &w->pieces, &w->piece_count, &w->piece_capacity);
    if (st) return st;
    parallel_run pr = {.query = q, .pieces = w->pieces, .fn = fn, .ctx = ctx};
    ecs_lock(w, 1);
    st = aw_jobs_parallel_for(w->jobs, w->piece_count, 1, run_query_pieces, &pr);
    ecs_lock(w, -1);
    return st;
}
