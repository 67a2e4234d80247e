/* Asynchronous retrieval for the game loop: a request's embedding and store search run as a job on
 * a worker; the game thread polls on later frames and re-ranks once the worker is done. The slot's
 * state is the only thing both sides touch (atomics, no lock). */
#include <stdio.h>
#include <string.h>

#include "memory_internal.h"

static void run_request(uint32_t worker, void *ctx) {
    (void)worker;
    mem_request *r = ctx;
    aw_memory *m = r->mem;
    aw_status st = AW_OK;
    r->cand_count = 0;
    if (!r->has_vec) st = mem_query_vector(m, &r->query, r->vec);
    /* A basis is read-only while it serves: the switch and a refit wait for requests in flight. */
    if (st == AW_OK && r->project) mem_project_one(&m->proj, r->vec, r->projected);
    if (st == AW_OK)
        st = aw_store_query(m->store, r->project ? r->projected : r->vec, r->cand_want, &r->query.filter, r->cands,
                            &r->cand_count);
    r->status = st;
    if (st != AW_OK) snprintf(r->error, sizeof r->error, "%s", aw_last_error());
    int expected = REQ_RUNNING;
    /* Abandoned while running (cancel, timeout): nobody wants the result, the slot is free again. */
    if (!atomic_compare_exchange_strong_explicit(&r->state, &expected, REQ_DONE, memory_order_acq_rel,
                                                 memory_order_acquire))
        atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
}

aw_status aw_memory_submit(aw_memory *m, const aw_memory_query *q, aw_memory_request *out) {
    if (out) *out = (aw_memory_request){UINT32_MAX, 0};
    if (!m || !q || !out) return aw_error(AW_ERR_INVALID_ARG, "memory: submit needs a memory, a query and an output");
    aw_status st = mem_check_query(q);
    if (st != AW_OK) return st;
    if (q->ranker == AW_RANKER_OVERLAP)
        return aw_error(AW_ERR_UNSUPPORTED, "memory: the overlap ranker runs synchronously (aw_memory_retrieve)");
    if (!q->embedding && !q->text) return aw_error(AW_ERR_INVALID_ARG, "memory: the query has neither text nor embedding");
    if (!q->embedding && !m->encoder) return aw_error(AW_ERR_INVALID_ARG, "memory: a text query needs an encoder");
    mem_request *r = NULL;
    uint32_t slot = 0;
    for (; slot < m->request_count; slot++)
        if (atomic_load_explicit(&m->requests[slot].state, memory_order_acquire) == REQ_FREE) {
            r = &m->requests[slot];
            break;
        }
    if (!r) return aw_error(AW_ERR_CAPACITY, "memory: %u requests are in flight (max_requests)", m->request_count);
    if (!r->cands) {
        r->cands = aw_alloc(m->allocator, sizeof *r->cands * MEM_MAX_CANDIDATES, 64);
        if (!r->cands) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory for a request");
    }
    r->has_vec = false;
    if (q->embedding) {
        aw_memory_query probe = {.embedding = q->embedding};
        if ((st = mem_query_vector(m, &probe, r->vec)) != AW_OK) return st;
        r->has_vec = true;
    } else {
        size_t len = strlen(q->text);
        if (len + 1 > r->text_cap) {
            char *t = aw_realloc(m->allocator, r->text, r->text_cap, len + 1, 1);
            if (!t) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory for the query text");
            r->text = t;
            r->text_cap = len + 1;
        }
        memcpy(r->text, q->text, len + 1);
    }
    r->mem = m;
    r->query = *q;
    r->query.text = r->has_vec ? NULL : r->text;
    r->query.embedding = NULL;
    /* The worker must not read the memory's changing parts: what it needs is settled here. */
    r->keep = mem_candidate_count(q, m->count);
    r->cand_want = mem_fetch_count(m, r->keep);
    r->project = m->projected;
    r->status = AW_OK;
    r->error[0] = '\0';
    r->deadline_ns = q->timeout_ms ? aw_time_ns() + (uint64_t)q->timeout_ms * 1000000u : 0;
    r->generation++;
    atomic_store_explicit(&r->state, REQ_RUNNING, memory_order_release);
    *out = (aw_memory_request){slot, r->generation};
    if (!m->jobs) {
        run_request(0, r);
        return AW_OK;
    }
    st = aw_jobs_submit(m->jobs, run_request, r, NULL, 0, &r->job);
    if (st != AW_OK) {
        atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
        *out = (aw_memory_request){UINT32_MAX, 0};
    }
    return st;
}

static mem_request *find(aw_memory *m, aw_memory_request req) {
    if (!m || req.slot >= m->request_count) return NULL;
    mem_request *r = &m->requests[req.slot];
    int state = atomic_load_explicit(&r->state, memory_order_acquire);
    if (r->generation != req.generation || state == REQ_FREE || state == REQ_ABANDONED) return NULL;
    return r;
}

/* Lets go of a request: a finished one is free at once, a running one when its worker ends. */
static void release(mem_request *r) {
    int expected = REQ_RUNNING;
    if (!atomic_compare_exchange_strong_explicit(&r->state, &expected, REQ_ABANDONED, memory_order_acq_rel,
                                                 memory_order_acquire))
        atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
}

aw_status aw_memory_poll(aw_memory *m, aw_memory_request req, aw_memory_hit *hits, uint32_t cap, uint32_t *found) {
    if (found) *found = 0;
    if (!m || !found || (cap && !hits)) return aw_error(AW_ERR_INVALID_ARG, "memory: poll needs a memory, hits and found");
    mem_request *r = find(m, req);
    if (!r) return aw_error(AW_ERR_NOT_FOUND, "memory: request %u/%u is not in flight", req.slot, req.generation);
    if (atomic_load_explicit(&r->state, memory_order_acquire) == REQ_RUNNING) {
        if (r->deadline_ns && aw_time_ns() >= r->deadline_ns) {
            release(r);
            return aw_error(AW_ERR_TIMEOUT, "memory: request %u took longer than %u ms", req.slot, r->query.timeout_ms);
        }
        return AW_ERR_PENDING; /* not an error: no message recorded */
    }
    aw_status st = r->status;
    if (st != AW_OK) {
        aw_error(st, "%s", r->error);
    } else {
        /* Results keep the memory's current state: rows forgotten since the search drop out. */
        if (cap && m->count) {
            uint32_t n = r->cand_count < MEM_MAX_CANDIDATES ? r->cand_count : MEM_MAX_CANDIDATES;
            *found = mem_rank(m, &r->query, r->vec, r->cands, n, r->keep, hits, cap);
        }
    }
    atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
    return st;
}

void aw_memory_cancel(aw_memory *m, aw_memory_request req) {
    mem_request *r = find(m, req);
    if (r) release(r);
}

void mem_requests_quiesce(aw_memory *m) {
    for (uint32_t i = 0; i < m->request_count; i++) {
        mem_request *r = &m->requests[i];
        for (;;) {
            int state = atomic_load_explicit(&r->state, memory_order_acquire);
            if (!m->jobs || (state != REQ_RUNNING && state != REQ_ABANDONED)) break;
            aw_jobs_wait(m->jobs, r->job);
        }
    }
}

void mem_requests_destroy(aw_memory *m) {
    for (uint32_t i = 0; i < m->request_count; i++) {
        mem_request *r = &m->requests[i];
        /* A job still running reads the memory: wait for it (aw_jobs_wait helps with other work). */
        while (m->jobs && atomic_load_explicit(&r->state, memory_order_acquire) != REQ_FREE &&
               atomic_load_explicit(&r->state, memory_order_acquire) != REQ_DONE)
            aw_jobs_wait(m->jobs, r->job);
        if (r->cands) aw_free(m->allocator, r->cands, sizeof *r->cands * MEM_MAX_CANDIDATES);
        if (r->text) aw_free(m->allocator, r->text, r->text_cap);
    }
    aw_free(m->allocator, m->requests, sizeof *m->requests * m->request_count);
    m->requests = NULL;
}
