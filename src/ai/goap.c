/* GOAP: A* over world states packed in 64-bit sets (preconditions, effects and costs per action),
 * with a per-thread plan cache keyed by (domain, state, goal). Fixed scratch: no allocation per plan. */
#include "ai/ai_internal.h"

#include <math.h>
#include <string.h>

#define HASH_SIZE (AI_GOAP_MAX_NODES * 2u) /* power of two */

typedef struct goap_node {
    uint64_t state;
    float g, f;
    int32_t parent;
    uint8_t action;
    uint8_t depth; /* actions from the start */
} goap_node;

typedef struct goap_slot {
    uint64_t state;
    uint32_t stamp;         /* slot is in use when stamp == the search's stamp */
    int16_t node;           /* cheapest node for this state */
    uint8_t expanded_depth; /* least depth the state was expanded at; NOT_EXPANDED: none */
} goap_slot;

#define NOT_EXPANDED UINT8_MAX
_Static_assert(AI_GOAP_MAX_NODES <= INT16_MAX, "slots hold node indices in 16 bits");
_Static_assert(AW_AI_MAX_STEPS < NOT_EXPANDED, "depths fit 8 bits below NOT_EXPANDED");

typedef struct goap_cache_entry {
    const ai_goap_domain *domain;
    uint64_t state;
    uint32_t goal;
    int16_t len; /* -1: no plan */
    uint8_t actions[AW_AI_MAX_STEPS];
    float cost;
} goap_cache_entry;

struct ai_goap_scratch {
    goap_node nodes[AI_GOAP_MAX_NODES];
    int32_t heap[AI_GOAP_MAX_NODES];
    goap_slot slots[HASH_SIZE];
    uint32_t stamp;
    uint32_t last_nodes; /* nodes the last search created */
    goap_cache_entry cache[AI_GOAP_CACHE_SIZE];
};

ai_goap_scratch *ai_goap_scratch_create(const aw_allocator *a) {
    ai_goap_scratch *s = aw_alloc(a, sizeof *s, 64);
    if (s) memset(s, 0, sizeof *s);
    return s;
}

void ai_goap_scratch_destroy(ai_goap_scratch *s, const aw_allocator *a) {
    if (s) aw_free(a, s, sizeof *s);
}

void ai_goap_cache_clear(ai_goap_scratch *s) {
    memset(s->cache, 0, sizeof s->cache);
}

void ai_goap_domain_finish(ai_goap_domain *d) {
    d->min_cost = INFINITY;
    d->max_effect_bits = 1;
    for (uint32_t f = 0; f < AI_MAX_FACTS; f++) d->achiever_cost[f][0] = d->achiever_cost[f][1] = INFINITY;
    for (uint32_t i = 0; i < d->action_count; i++) {
        const ai_goap_action *a = &d->actions[i];
        if (a->cost < d->min_cost) d->min_cost = a->cost;
        uint32_t bits = (uint32_t)__builtin_popcountll(a->effect_mask);
        if (bits > d->max_effect_bits) d->max_effect_bits = bits;
        for (uint32_t f = 0; f < AI_MAX_FACTS; f++) {
            if (!((a->effect_mask >> f) & 1u)) continue;
            uint32_t v = (uint32_t)((a->effect_value >> f) & 1u);
            if (a->cost < d->achiever_cost[f][v]) d->achiever_cost[f][v] = a->cost;
        }
    }
    if (!isfinite(d->min_cost)) d->min_cost = 0.0f;
}

uint64_t ai_goap_state(const ai_goap_domain *d, const ai_senses *senses) {
    uint64_t s = 0;
    for (uint32_t i = 0; i < d->fact_count; i++)
        if (d->fact_sense[i] >= 0 && (senses->facts >> d->fact_sense[i]) & 1u) s |= 1ull << i;
    return s;
}

/* The actions that can matter for a goal: those that set a fact to a value the goal or a
 * precondition of another action that matters asks for (a fixed point over (fact, value) pairs).
 * Any other action only sets facts to values nothing reads, so dropping it from a plan leaves
 * every later test as true as before and the plan no dearer (costs are > 0): the cheapest plan
 * uses relevant actions only. Skipping the rest keeps the search from multiplying states by every
 * combination of their bits. */
typedef struct goap_relevant {
    uint8_t actions[AI_MAX_GOAP_ACTIONS];
    uint32_t count;
    float min_cost;         /* cheapest relevant action */
    uint32_t max_goal_bits; /* most goal bits one relevant action sets to their goal values */
} goap_relevant;

static inline uint64_t sets_wanted(const ai_goap_action *act, uint64_t want1, uint64_t want0) {
    return act->effect_mask & ((act->effect_value & want1) | (~act->effect_value & want0));
}

static void relevant_actions(const ai_goap_domain *d, uint64_t gm, uint64_t gv, goap_relevant *r) {
    _Static_assert(AI_MAX_GOAP_ACTIONS <= 64, "relevant actions are a 64-bit set");
    uint64_t want1 = gm & gv, want0 = gm & ~gv, used = 0; /* wanted (fact, value) pairs; actions */
    for (bool more = true; more;) {
        more = false;
        for (uint32_t a = 0; a < d->action_count; a++) {
            const ai_goap_action *act = &d->actions[a];
            if (((used >> a) & 1u) || !sets_wanted(act, want1, want0)) continue;
            used |= 1ull << a;
            uint64_t p1 = act->pre_mask & act->pre_value, p0 = act->pre_mask & ~act->pre_value;
            if ((p1 & ~want1) | (p0 & ~want0)) more = true;
            want1 |= p1;
            want0 |= p0;
        }
    }
    r->count = 0;
    r->min_cost = INFINITY;
    r->max_goal_bits = 1;
    for (uint32_t a = 0; a < d->action_count; a++) {
        if (!((used >> a) & 1u)) continue;
        const ai_goap_action *act = &d->actions[a];
        r->actions[r->count++] = (uint8_t)a;
        if (act->cost < r->min_cost) r->min_cost = act->cost;
        uint32_t g = (uint32_t)__builtin_popcountll(sets_wanted(act, gm & gv, gm & ~gv));
        if (g > r->max_goal_bits) r->max_goal_bits = g;
    }
    if (!isfinite(r->min_cost)) r->min_cost = 0.0f;
}

/* Admissible and consistent: a relevant action fixes at most max_goal_bits unmet goal bits and
 * costs at least min_cost, and every unmet bit needs at least its cheapest achiever (none:
 * unreachable). (h_max, the relaxed-plan bound, was tried: on these domains it cut few nodes and
 * cost 10x more per node; see docs/performance.md.) */
static float heuristic(const ai_goap_domain *d, const goap_relevant *r, uint64_t state, uint64_t gm, uint64_t gv) {
    uint64_t unmet_bits = (state ^ gv) & gm;
    if (!unmet_bits) return 0.0f;
    uint32_t unmet = 0; /* counted here: without -mpopcnt a popcount is a library call */
    float h = 0.0f;
    while (unmet_bits) {
        uint32_t f = (uint32_t)__builtin_ctzll(unmet_bits);
        unmet_bits &= unmet_bits - 1;
        unmet++;
        float c = d->achiever_cost[f][(gv >> f) & 1u];
        if (c > h) h = c;
    }
    float count_bound = r->min_cost * (float)((unmet + r->max_goal_bits - 1) / r->max_goal_bits);
    return count_bound > h ? count_bound : h;
}

/* Heap order: lower f, then higher g (deeper first), then lower node index: a total order, so
 * the plan is the same on every run. */
static bool before(const ai_goap_scratch *s, int32_t a, int32_t b) {
    const goap_node *x = &s->nodes[a], *y = &s->nodes[b];
    if (x->f != y->f) return x->f < y->f;
    if (x->g != y->g) return x->g > y->g;
    return a < b;
}

static void heap_push(ai_goap_scratch *s, uint32_t *n, int32_t node) {
    uint32_t i = (*n)++;
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!before(s, node, s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = node;
}

static int32_t heap_pop(ai_goap_scratch *s, uint32_t *n) {
    int32_t top = s->heap[0];
    int32_t last = s->heap[--(*n)];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        int32_t best = last;
        if (l < *n && before(s, s->heap[l], best)) m = l, best = s->heap[l];
        if (r < *n && before(s, s->heap[r], best)) m = r;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (*n) s->heap[i] = last;
    return top;
}

static goap_slot *slot_for(ai_goap_scratch *s, uint64_t state) {
    uint32_t i = (uint32_t)aw_hash_u64(state) & (HASH_SIZE - 1);
    for (;;) {
        goap_slot *slot = &s->slots[i];
        if (slot->stamp != s->stamp) {
            slot->stamp = s->stamp;
            slot->state = state;
            slot->node = -1;
            slot->expanded_depth = NOT_EXPANDED;
            return slot;
        }
        if (slot->state == state) return slot;
        i = (i + 1) & (HASH_SIZE - 1);
    }
}

/* A* over (state, depth): a state reached again is kept unless an earlier path there was as cheap and
 * no longer, since a dearer but shorter path may be the only one that still fits max_len. */
int ai_goap_search(const ai_goap_domain *d, uint64_t start, uint64_t gm, uint64_t gv, uint32_t max_len,
                   ai_goap_scratch *s, uint8_t *out, float *cost) {
    gv &= gm;
    if (max_len > AW_AI_MAX_STEPS) max_len = AW_AI_MAX_STEPS;
    if (++s->stamp == 0) {
        memset(s->slots, 0, sizeof s->slots);
        s->stamp = 1;
    }
    goap_relevant rel;
    relevant_actions(d, gm, gv, &rel);
    uint32_t node_count = 1, heap_n = 0;
    s->nodes[0] = (goap_node){.state = start, .g = 0.0f, .f = heuristic(d, &rel, start, gm, gv), .parent = -1};
    slot_for(s, start)->node = 0;
    heap_push(s, &heap_n, 0);
    while (heap_n) {
        s->last_nodes = node_count;
        int32_t cur = heap_pop(s, &heap_n);
        goap_node n = s->nodes[cur];
        /* A state's nodes pop in order of rising g (the heuristic is consistent): one expanded at no
         * greater depth was no dearer and had as many steps left. */
        goap_slot *here = slot_for(s, n.state);
        if (here->expanded_depth <= n.depth) continue;
        here->expanded_depth = n.depth;
        if ((n.state & gm) == gv) {
            uint32_t i = n.depth;
            for (int32_t k = cur; s->nodes[k].parent >= 0; k = s->nodes[k].parent)
                out[--i] = s->nodes[k].action;
            if (cost) *cost = n.g;
            return (int)n.depth;
        }
        if (n.depth >= max_len) continue; /* the depth limit: a plan must fit one intent */
        uint8_t depth = (uint8_t)(n.depth + 1);
        for (uint32_t i = 0; i < rel.count; i++) {
            uint32_t a = rel.actions[i];
            const ai_goap_action *act = &d->actions[a];
            if ((n.state & act->pre_mask) != act->pre_value) continue;
            uint64_t next = (n.state & ~act->effect_mask) | act->effect_value;
            if (next == n.state) continue;
            if (depth == max_len && (next & gm) != gv) continue; /* could not be expanded */
            float g = n.g + act->cost;
            goap_slot *slot = slot_for(s, next);
            if (slot->expanded_depth <= depth) continue; /* as above: this path is no cheaper */
            const goap_node *best = slot->node >= 0 ? &s->nodes[slot->node] : NULL;
            if (best && best->g <= g && best->depth <= depth) continue;
            float h = best ? best->f - best->g : heuristic(d, &rel, next, gm, gv);
            if (isinf(h)) continue; /* a goal bit nothing can set */
            if (node_count == AI_GOAP_MAX_NODES) return -1; /* search too large: no plan */
            int32_t k = (int32_t)node_count++;
            s->nodes[k] = (goap_node){.state = next, .g = g, .f = g + h, .parent = cur, .action = (uint8_t)a,
                                      .depth = depth};
            if (!best || g <= best->g) slot->node = (int16_t)k;
            heap_push(s, &heap_n, k);
        }
    }
    return -1;
}

uint32_t ai_goap_last_nodes(const ai_goap_scratch *s) {
    return s->last_nodes;
}

int ai_goap_plan_cached(const ai_goap_domain *d, uint64_t start, uint32_t goal, ai_goap_scratch *s, uint8_t *out,
                        float *cost, bool *hit) {
    uint64_t key = aw_hash_combine(aw_hash_combine((uint64_t)(uintptr_t)d, start), goal);
    goap_cache_entry *e = &s->cache[key & (AI_GOAP_CACHE_SIZE - 1)];
    if (e->domain == d && e->state == start && e->goal == goal) {
        *hit = true;
        if (e->len > 0) memcpy(out, e->actions, (size_t)e->len);
        if (cost) *cost = e->cost;
        return e->len;
    }
    *hit = false;
    const ai_goap_goal *g = &d->goals[goal];
    float c = 0.0f;
    int len = ai_goap_search(d, start, g->goal_mask, g->goal_value, AW_AI_MAX_STEPS, s, out, &c);
    e->domain = d;
    e->state = start;
    e->goal = goal;
    e->len = (int16_t)len;
    e->cost = c;
    if (len > 0) memcpy(e->actions, out, (size_t)len); /* the search's limit: len <= AW_AI_MAX_STEPS */
    if (cost) *cost = c;
    return len;
}
