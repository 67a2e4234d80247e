/* Planning's time-slicing (the ai_plan_choose system): the per-frame budget is an exact cap for any
 * piece split and thread count, an agent that keeps wanting to plan waits at most ceil(agents /
 * budget) frames, the same agents plan in the same frames on 1, 2 and 4 threads, turns come every K
 * frames staggered by entity index, and damage, a finished plan and a refused step each plan at the
 * next planning pass. A recording orchestrator stands in for the planners. ctest-label below runs
 * it under ThreadSanitizer too. */
/* ctest-label: threads */
#include "ai_test_util.h"

#define MAX_WORKERS  16u
#define LOG_CAPACITY (1u << 16)
#define MAX_AGENTS   1024u

/* What the recording orchestrator plans, by entity index. */
typedef enum behaviour {
    HOLD = 0, /* no steps: the plan never finishes, so only turns and damage plan again */
    FINISH,   /* one Wait of 0 s: done in its first action pass, seen finished in the next */
    REFUSE,   /* one Attack on nobody: refused in its first action pass */
} behaviour;

typedef struct plan_event {
    uint64_t frame;
    aw_entity agent;
    uint32_t trigger, refused;
} plan_event;

/* Each worker writes only its own log (plan() runs on several threads at once). */
typedef struct recorder {
    plan_event *log[MAX_WORKERS];
    uint32_t count[MAX_WORKERS];
    bool overflow[MAX_WORKERS];
    uint8_t behaviour[MAX_AGENTS];
} recorder;

static aw_plan_status record_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    recorder *r = ctx;
    uint32_t w = req->worker; /* below the world's thread count, which world_make keeps in range */
    if (r->count[w] < LOG_CAPACITY)
        r->log[w][r->count[w]++] = (plan_event){.frame = req->snapshot->frame,
                                                .agent = req->agent,
                                                .trigger = req->trigger,
                                                .refused = req->refused_category};
    else
        r->overflow[w] = true;
    memset(out, 0, sizeof *out);
    uint32_t x = AW_ENTITY_INDEX(req->agent);
    behaviour b = x < MAX_AGENTS ? (behaviour)r->behaviour[x] : HOLD;
    if (b == FINISH) {
        out->step_count = 1;
        out->steps[0].kind = AW_ACTION_WAIT;
    } else if (b == REFUSE) {
        out->step_count = 1;
        out->steps[0].kind = AW_ACTION_ATTACK;
        out->steps[0].target = AW_ENTITY_NULL;
    }
    return AW_PLAN_READY;
}

typedef struct sched_world {
    aw_world *world;
    aw_ai *ai;
    recorder rec;
    aw_entity agents[MAX_AGENTS];
    uint32_t agent_count;
} sched_world;

typedef struct sched_desc {
    uint32_t threads, budget, interval, grain, agents;
    behaviour behaviour;
    bool two_tables; /* a tag on every third agent: the query spans two tables */
} sched_desc;

static void world_make(sched_world *s, const sched_desc *d) {
    memset(s, 0, sizeof *s);
    assert_true(d->threads <= MAX_WORKERS && d->agents <= MAX_AGENTS);
    s->world = aw_world_create(&(aw_world_desc){.threads = d->threads});
    assert_non_null(s->world);
    aw_physics *physics = aw_physics_create(
        s->world,
        &(aw_physics_desc){.min_x = -100, .min_z = -100, .max_x = 100, .max_z = 100, .no_response = true});
    assert_non_null(physics);
    s->ai = aw_ai_create(s->world, &(aw_ai_desc){.replan_interval = d->interval,
                                                 .plan_budget = d->budget,
                                                 .grain = d->grain,
                                                 .bounds = {{-100, -100, -100}, {100, 100, 100}}});
    if (!s->ai) fail_msg("aw_ai_create: %s", aw_last_error());
    for (uint32_t w = 0; w < MAX_WORKERS; w++) {
        s->rec.log[w] = malloc(LOG_CAPACITY * sizeof(plan_event));
        assert_non_null(s->rec.log[w]);
    }
    aw_orchestrator o = {.kind = AW_ORCHESTRATOR_RULE,
                         .ctx = &s->rec,
                         .plan = record_plan,
                         .fallback = AW_ORCHESTRATOR_KIND_COUNT};
    snprintf(o.name, sizeof o.name, "recorder");
    ASSERT_OK(aw_ai_set_orchestrator(s->ai, &o));
    const char *json = "{\"types\":[{\"name\":\"dummy\",\"orchestrator\":\"rule\"}]}";
    ASSERT_OK(aw_ai_load_string(s->ai, json, strlen(json), "schedule.json"));
    ASSERT_OK(aw_ai_register_systems(s->ai));
    assert_non_null(aw_physics_register_system(physics, NULL));
    uint32_t type = type_index(s->ai, "dummy");
    aw_component tag = d->two_tables ? AW_TAG(s->world, ScheduleTag) : 0;
    for (uint32_t i = 0; i < d->agents; i++) {
        aw_vec3 at = {-60.0f + 3.0f * (float)(i % 40), 0.0f, -60.0f + 3.0f * (float)(i / 40)};
        aw_entity e = aw_ai_spawn(s->ai, type, 0, at);
        assert_true(e != AW_ENTITY_NULL);
        assert_true(AW_ENTITY_INDEX(e) < MAX_AGENTS);
        s->rec.behaviour[AW_ENTITY_INDEX(e)] = (uint8_t)d->behaviour;
        if (tag && i % 3 == 1) ASSERT_OK(aw_entity_add(s->world, e, tag));
        s->agents[s->agent_count++] = e;
    }
}

static void world_free(sched_world *s) {
    aw_world_destroy(s->world);
    for (uint32_t w = 0; w < MAX_WORKERS; w++) free(s->rec.log[w]);
}

static uint32_t logged(const recorder *r) {
    uint32_t n = 0;
    for (uint32_t w = 0; w < MAX_WORKERS; w++) {
        if (r->overflow[w]) fail_msg("worker %u: plan log full", w);
        n += r->count[w];
    }
    return n;
}

/* Runs one frame and returns how many agents planned in it (checked against the stat). */
static uint32_t step(sched_world *s) {
    uint32_t before = logged(&s->rec);
    ASSERT_OK(aw_world_progress(s->world, 1.0f / 60.0f));
    uint32_t planned = logged(&s->rec) - before;
    assert_int_equal(aw_ai_get_stats(s->ai).last_frame_plans, planned);
    return planned;
}

static int event_cmp(const void *a, const void *b) {
    const plan_event *x = a, *y = b;
    if (x->frame != y->frame) return x->frame < y->frame ? -1 : 1;
    if (x->agent != y->agent) return x->agent < y->agent ? -1 : 1;
    return 0;
}

/* Every plan so far, by (frame, agent); *count gets their number. Caller frees. */
static plan_event *events(const sched_world *s, uint32_t *count) {
    uint32_t n = logged(&s->rec);
    plan_event *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    assert_non_null(all);
    uint32_t k = 0;
    for (uint32_t w = 0; w < MAX_WORKERS; w++)
        for (uint32_t i = 0; i < s->rec.count[w]; i++) all[k++] = s->rec.log[w][i];
    qsort(all, n, sizeof *all, event_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (all[i - 1].frame == all[i].frame && all[i - 1].agent == all[i].agent)
            fail_msg("agent %u planned twice in frame %llu", AW_ENTITY_INDEX(all[i].agent),
                     (unsigned long long)all[i].frame);
    *count = n;
    return all;
}

/* The frames one agent planned in, in order; returns their number. */
static uint32_t frames_of(const plan_event *ev, uint32_t n, aw_entity agent, uint64_t *out, uint32_t room) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ev[i].agent == agent && k < room) out[k++] = ev[i].frame;
    return k;
}

/* ---- the budget */

typedef struct budget_run {
    plan_event *events;
    uint32_t count;
    uint64_t hash;
} budget_run;

/* Every agent finishes its plan at once and wants another two frames after each, so the budget
 * binds whenever it is below the agents. */
static budget_run run_budget(uint32_t threads, uint32_t budget, uint32_t agents, uint32_t grain,
                             uint32_t frames) {
    sched_world s;
    world_make(&s, &(sched_desc){.threads = threads,
                                 .budget = budget,
                                 .interval = 1000,
                                 .grain = grain,
                                 .agents = agents,
                                 .behaviour = FINISH,
                                 .two_tables = true});
    uint32_t wait = (agents + budget - 1) / budget; /* ceil(agents / budget): the longest wait */
    for (uint32_t f = 0; f < frames; f++) {
        uint32_t planned = step(&s);
        if (planned > budget)
            fail_msg("%u threads, budget %u, %u agents, grain %u: %u plans in frame %u", threads, budget,
                     agents, grain, planned, f);
    }
    budget_run r = {.hash = aw_world_hash(s.world)};
    r.events = events(&s, &r.count);
    uint64_t *when = malloc((size_t)frames * sizeof *when);
    assert_non_null(when);
    uint64_t last_frame = frames - 1;
    for (uint32_t a = 0; a < s.agent_count; a++) {
        uint32_t n = frames_of(r.events, r.count, s.agents[a], when, frames);
        /* Wanting from frame 0 (spawned), and again two frames after each plan (the Wait is done in
         * the plan's own action pass, seen finished in the next). */
        uint64_t wants = 0;
        for (uint32_t k = 0; k <= n; k++) {
            uint64_t planned = k < n ? when[k] : UINT64_MAX;
            if (planned < wants)
                fail_msg("agent %u planned at %llu before it wanted to", a, (unsigned long long)planned);
            /* Not planned by the end: it must still be within its wait. */
            uint64_t by = wants + wait - 1;
            if (k == n ? last_frame >= by : planned > by)
                fail_msg(
                    "%u threads, budget %u, %u agents, grain %u: agent %u waited from frame %llu past %llu",
                    threads, budget, agents, grain, a, (unsigned long long)wants, (unsigned long long)by);
            if (k < n) wants = planned + 2;
        }
    }
    free(when);
    world_free(&s);
    return r;
}

static void test_budget_caps_every_frame(void **state) {
    (void)state;
    static const uint32_t budgets[] = {1, 2, 7, 64};
    static const uint32_t grains[] = {1, 3, 16}; /* one row a piece up to pieces of many rows */
    static const uint32_t threads[] = {1, 2, 4};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        uint32_t budget = budgets[b];
        uint32_t counts[] = {budget > 1 ? budget - 1 : 1, budget, budget + 1, 3 * budget + 2,
                             10 * budget + 7};
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                uint32_t agents = counts[c], wait = (agents + budget - 1) / budget;
                uint32_t frames = 3 * wait + 12;
                budget_run one = run_budget(1, budget, agents, grains[g], frames);
                for (size_t t = 1; t < sizeof threads / sizeof *threads; t++) {
                    /* The same agents in the same frames, and the same world. */
                    budget_run other = run_budget(threads[t], budget, agents, grains[g], frames);
                    assert_int_equal(other.count, one.count);
                    for (uint32_t i = 0; i < one.count; i++)
                        if (event_cmp(&one.events[i], &other.events[i]) ||
                            one.events[i].trigger != other.events[i].trigger)
                            fail_msg("budget %u, %u agents, grain %u: plan %u differs on %u threads", budget,
                                     agents, grains[g], i, threads[t]);
                    assert_true(other.hash == one.hash);
                    free(other.events);
                }
                free(one.events);
            }
    }
}

/* Many agents, one row a piece, a budget of two: a share rounded up to one plan a piece would let
 * every piece plan. Also the stats: every plan counted, and the agents left waiting in deferred. */
static void test_budget_with_one_row_pieces(void **state) {
    (void)state;
    sched_world s;
    world_make(&s,
               &(sched_desc){
                   .threads = 2, .budget = 2, .interval = 16, .grain = 1, .agents = 256, .behaviour = HOLD});
    uint32_t total = 0;
    for (int f = 0; f < 40; f++) {
        uint32_t planned = step(&s);
        assert_true(planned <= 2);
        total += planned;
    }
    aw_ai_stats st = aw_ai_get_stats(s.ai);
    assert_int_equal(st.plans, total);
    assert_true(total >= 60); /* the budget is used, not just respected */
    assert_true(st.deferred > 0);
    world_free(&s);
}

/* ---- turns */

/* With no trigger and a budget that does not bind, an agent plans at its first frame and then
 * exactly in the frames where (entity index + frame) % K == 0. A budget of half the agents binds in
 * the first frames only (everyone's first plan), so its check starts once nobody waits. */
static void test_turns_are_staggered_by_index(void **state) {
    (void)state;
    static const uint32_t intervals[] = {3, 8};
    static const uint32_t threads[] = {1, 4};
    const uint32_t agents = 100;
    uint32_t budgets[] = {0, agents, agents / 2};
    for (size_t k = 0; k < sizeof intervals / sizeof *intervals; k++)
        for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++)
            for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
                uint32_t interval = intervals[k], frames = 4 * interval + 6;
                sched_world s;
                world_make(&s, &(sched_desc){.threads = threads[t],
                                             .budget = budgets[b],
                                             .interval = interval,
                                             .grain = 5,
                                             .agents = agents,
                                             .behaviour = HOLD});
                /* From the frame after the first one that left nobody waiting. */
                uint64_t from = 0, deferred = 0;
                for (uint32_t f = 0; f < frames; f++) {
                    step(&s);
                    uint64_t now = aw_ai_get_stats(s.ai).deferred;
                    if (from)
                        assert_true(now == deferred); /* nobody waits again */
                    else if (now == deferred)
                        from = f + 1;
                    deferred = now;
                }
                assert_true(from > 0 && from + 2 * interval < frames);
                if (budgets[b] == 0 || budgets[b] >= agents) assert_int_equal(from, 1);
                uint32_t n;
                plan_event *ev = events(&s, &n);
                for (uint32_t a = 0; a < agents; a++) {
                    uint32_t x = AW_ENTITY_INDEX(s.agents[a]);
                    for (uint64_t f = from; f < frames; f++) {
                        plan_event key = {.frame = f, .agent = s.agents[a]};
                        const plan_event *hit = bsearch(&key, ev, n, sizeof *ev, event_cmp);
                        bool turn = (x + f) % interval == 0;
                        if (!hit != !turn)
                            fail_msg("K %u budget %u, %u threads: agent index %u %s in frame %llu", interval,
                                     budgets[b], threads[t], x, hit ? "planned" : "did not plan",
                                     (unsigned long long)f);
                        if (hit) assert_int_equal(hit->trigger, AW_TRIGGER_SCHEDULED);
                    }
                }
                free(ev);
                world_free(&s);
            }
}

/* ---- triggers */

static void test_triggers_plan_at_the_next_pass(void **state) {
    (void)state;
    sched_world s;
    /* Turns far apart (K 1000), no budget: only triggers plan after the first frame. */
    world_make(&s, &(sched_desc){.threads = 2, .interval = 1000, .agents = 8, .behaviour = HOLD});
    aw_entity quiet = s.agents[1], finisher = s.agents[2], refuser = s.agents[3], victim = s.agents[4];
    s.rec.behaviour[AW_ENTITY_INDEX(finisher)] = FINISH;
    s.rec.behaviour[AW_ENTITY_INDEX(refuser)] = REFUSE;
    aw_ai_ids ids = aw_ai_get_ids(s.ai);
    const uint64_t hit_frame = 9, frames = 16;
    for (uint64_t f = 0; f < frames; f++) {
        if (f == hit_frame) {
            /* A round at the victim, from another team: it hits in this frame's projectile pass. */
            const aw_position *at = aw_entity_get_const(s.world, victim, ids.position);
            assert_non_null(at);
            aw_position where = *at;
            aw_entity round = aw_entity_create(s.world);
            ASSERT_OK(aw_entity_set(s.world, round, ids.position, &where, sizeof where));
            ASSERT_OK(
                aw_entity_set(s.world, round, ids.velocity, &(aw_velocity){0, 0, 0}, sizeof(aw_velocity)));
            aw_ai_projectile pr;
            memset(&pr, 0, sizeof pr);
            pr.damage = 5.0f, pr.life = 1.0f, pr.team = 1;
            ASSERT_OK(aw_entity_set(s.world, round, ids.projectile, &pr, sizeof pr));
        }
        step(&s);
    }
    uint32_t n;
    plan_event *ev = events(&s, &n);
    uint64_t when[64] = {0};
    /* Nothing after the first frame's plan. */
    assert_int_equal(frames_of(ev, n, quiet, when, 64), 1);
    assert_int_equal(when[0], 0);
    /* Planned in frame f, its Wait done in f's action pass, seen finished in f + 1's: plans in f + 2. */
    uint32_t k = frames_of(ev, n, finisher, when, 64);
    assert_int_equal(k, frames / 2);
    for (uint32_t i = 0; i < k; i++) assert_int_equal(when[i], 2 * i);
    /* Refused in the action pass of the frame it planned in: plans in the next. */
    k = frames_of(ev, n, refuser, when, 64);
    assert_int_equal(k, frames);
    for (uint32_t i = 0; i < k; i++) assert_int_equal(when[i], i);
    /* Hit in hit_frame's projectile pass: plans in the next. */
    k = frames_of(ev, n, victim, when, 64);
    assert_int_equal(k, 2);
    assert_int_equal(when[0], 0);
    assert_int_equal(when[1], hit_frame + 1);
    const aw_ai_agent *hurt = aw_entity_get_const(s.world, victim, ids.agent);
    assert_true(hurt->hp < hurt->max_hp);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t want = AW_TRIGGER_SCHEDULED;
        if (ev[i].frame > 0 && ev[i].agent == finisher) want = AW_TRIGGER_PLAN_FINISHED;
        if (ev[i].frame > 0 && ev[i].agent == refuser) {
            want = AW_TRIGGER_STEP_REFUSED;
            assert_int_equal(ev[i].refused, AW_INVALID_TARGET);
        }
        if (ev[i].frame > 0 && ev[i].agent == victim) want = AW_TRIGGER_DAMAGED;
        if (ev[i].trigger != want)
            fail_msg("agent index %u, frame %llu: trigger %u, expected %u", AW_ENTITY_INDEX(ev[i].agent),
                     (unsigned long long)ev[i].frame, ev[i].trigger, want);
    }
    free(ev);
    world_free(&s);
}

/* ---- the pieces' first rows, which the budget's slots are laid on */

typedef struct piece_rows {
    uint32_t row[256], count[256];
    bool task_out_of_range;
} piece_rows;

static void note_piece(aw_system_ctx *ctx, const aw_iter *it) {
    piece_rows *p = ctx->user;
    if (ctx->task >= 256) {
        p->task_out_of_range = true; /* only ever written true: the test fails either way */
        return;
    }
    p->row[ctx->task] = ctx->row;
    p->count[ctx->task] = it->count;
}

static void test_piece_rows_follow_query_order(void **state) {
    (void)state;
    sched_world s;
    world_make(&s, &(sched_desc){.threads = 4, .agents = 200, .behaviour = HOLD, .two_tables = true});
    aw_ai_ids ids = aw_ai_get_ids(s.ai);
    piece_rows p;
    memset(&p, 0, sizeof p);
    assert_non_null(aw_system_register(s.world, &(aw_system_desc){.name = "note_pieces",
                                                                  .phase = AW_PHASE_PRESENTATION,
                                                                  .query = {AW_TERMS(AW_READ(ids.agent))},
                                                                  .each = note_piece,
                                                                  .grain = 7,
                                                                  .user = &p}));
    step(&s);
    assert_false(p.task_out_of_range);
    uint32_t row = 0, k = 0;
    for (; k < 256 && p.count[k]; k++) {
        assert_int_equal(p.row[k], row);
        assert_true(p.count[k] <= 7);
        row += p.count[k];
    }
    assert_true(k > 200 / 7); /* two tables, so more than the rows alone would make */
    assert_int_equal(row, 200);
    world_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_caps_every_frame),
        cmocka_unit_test(test_budget_with_one_row_pieces),
        cmocka_unit_test(test_turns_are_staggered_by_index),
        cmocka_unit_test(test_triggers_plan_at_the_next_pass),
        cmocka_unit_test(test_piece_rows_follow_query_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
