/* Big worlds copy their entities into slot order once queries read them (phys_slot_entity): the
 * step after a query copies, the step after a quiet one does not. Contacts and every query's
 * answers must be the same either way, on 1 and 2 threads, and the k-nearest answers must match
 * brute force. */
/* ctest-label: threads */
#include "physics_test_util.h"

#include "../../src/physics/physics_internal.h" /* slot_entities: which way the step went */

#define N 40000u /* above PHYS_SMALL_SORT: the band sort, which does the copy */

_Static_assert(N > PHYS_SMALL_SORT, "the world must take the band sort");

/* 40,000 colliders on three layers over 180 x 180 m, a twentieth outside the bounds, every 997th a
 * large one, every 9th on one of a few shared spots (ties in distance, ordered by entity). */
static ptw big_world(uint32_t threads) {
    ptw t = ptw_new(
        threads,
        &(aw_physics_desc){
            .min_x = -90, .max_x = 90, .min_z = -90, .max_z = 90, .no_response = true, .no_events = true});
    aw_rng rng;
    aw_rng_seed(&rng, 77);
    for (uint32_t i = 0; i < N; i++) {
        float span = i % 20 == 0 ? 110.0f : 89.0f;
        spawn_desc s = {
            .pos = {aw_rng_float_range(&rng, -span, span), aw_rng_float_range(&rng, -2, 2),
                    aw_rng_float_range(&rng, -span, span)},
            .col = {.radius = aw_rng_float_range(&rng, 0.2f, 0.6f), .layer = 1u << aw_rng_range(&rng, 3)}};
        if (i % 997 == 0) s.col.radius = 12.0f;
        if (i % 9 == 0) s.pos = (aw_vec3){(float)(i % 4), 0, -5.0f};
        ptw_spawn(&t, &s);
    }
    return t;
}

/* What the queries answer, in one log: k-nearest sets with exclusions, k = 1 (the lean walk),
 * k-nearest, radius and box queries. Also checks the k-nearest sets against brute force. */
typedef struct answers {
    aw_physics_hit hits[4096];
    aw_entity ents[16384];
    uint32_t nh, ne;
} answers;

static void ask(ptw *t, const ref_body *b, uint32_t n, answers *a) {
    a->nh = a->ne = 0;
    aw_rng rng;
    aw_rng_seed(&rng, 5);
    aw_physics_hit *all = malloc(n * sizeof *all);
    for (int q = 0; q < 60; q++) {
        aw_vec3 c =
            q % 3 ? b[aw_rng_range(&rng, n)].p
                  : (aw_vec3){aw_rng_float_range(&rng, -100, 100), 0, aw_rng_float_range(&rng, -100, 100)};
        if (q % 10 == 0) c = (aw_vec3){1.5f, 0, -5.0f}; /* beside the shared spots */
        aw_entity ex[2] = {b[aw_rng_range(&rng, n)].e, b[q % n].e};
        aw_spatial_filter f = {.exclude = ex, .exclude_count = 1u + (uint32_t)(q % 2)};
        aw_physics_hit out[2][8];
        aw_physics_nearest_set sets[2] = {{.mask = 1, .k = 8, .out = out[0]},
                                          {.mask = 6, .k = 8, .out = out[1]}};
        ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, 12.0f, &f, sets, 2));
        for (uint32_t s = 0; s < 2; s++) {
            uint32_t m = 0;
            for (uint32_t i = 0; i < n; i++) {
                float d2;
                if ((b[i].layer & sets[s].mask) && ref_hit_within(&b[i], c, 12.0f, &f, &d2))
                    all[m++] = (aw_physics_hit){b[i].e, d2};
            }
            qsort(all, m, sizeof *all, ref_hit_cmp);
            assert_int_equal(sets[s].count, m < 8 ? m : 8);
            for (uint32_t i = 0; i < sets[s].count; i++) {
                assert_true(out[s][i].entity == all[i].entity);
                a->hits[a->nh++] = out[s][i];
            }
        }
        aw_physics_hit one;
        aw_physics_nearest_set near = {.mask = 2, .k = 1, .out = &one};
        ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, 20.0f, &f, &near, 1));
        if (near.count) a->hits[a->nh++] = one;
        aw_physics_hit k[5];
        uint32_t nk = 0, nr = 0, nb = 0;
        ASSERT_OK(aw_physics_query_nearest(t->p, c, 5, 0.0f, &f, k, &nk));
        for (uint32_t i = 0; i < nk; i++) a->hits[a->nh++] = k[i];
        ASSERT_OK(aw_physics_query_radius(t->p, c, 3.0f, &f, a->ents + a->ne, 64, &nr));
        a->ne += nr < 64 ? nr : 64;
        aw_aabb box = {{c.x - 2, -5, c.z - 2}, {c.x + 2, 5, c.z + 2}};
        ASSERT_OK(aw_physics_query_aabb(t->p, box, &f, a->ents + a->ne, 64, &nb));
        a->ne += nb < 64 ? nb : 64;
    }
    free(all);
}

static void assert_same(const answers *x, const answers *y) {
    ref_assert_same_hits(x->hits, x->nh, y->hits, y->nh);
    assert_int_equal(x->ne, y->ne);
    assert_memory_equal(x->ents, y->ents, x->ne * sizeof x->ents[0]);
}

static void test_copy_follows_queries(void **state) {
    (void)state;
    answers *first = malloc(sizeof *first), *now = malloc(sizeof *now);
    aw_contact *contacts = NULL;
    uint32_t contact_count = 0;
    for (uint32_t threads = 1; threads <= 2; threads++) {
        ptw t = big_world(threads);
        ref_body *b;
        uint32_t n = ref_bodies(&t, &b);
        ASSERT_OK(aw_physics_step(t.p, 0));
        assert_false(t.p->slot_entities); /* nothing asked yet */
        uint32_t nc;
        const aw_contact *c = aw_physics_contacts(t.p, &nc);
        assert_true(nc > 1000);
        if (threads == 1) {
            contacts = malloc(nc * sizeof *contacts);
            memcpy(contacts, c, nc * sizeof *contacts);
            contact_count = nc;
        } else {
            assert_int_equal(nc, contact_count);
            assert_memory_equal(c, contacts, nc * sizeof *c);
        }
        ask(&t, b, n, threads == 1 ? first : now);
        if (threads == 2) assert_same(first, now);
        /* Asked: this step copies. Same contacts, same answers. */
        ASSERT_OK(aw_physics_step(t.p, 0));
        assert_true(t.p->slot_entities);
        c = aw_physics_contacts(t.p, &nc);
        assert_int_equal(nc, contact_count);
        assert_memory_equal(c, contacts, nc * sizeof *c);
        ask(&t, b, n, now);
        assert_same(first, now);
        /* Asked again: still copied. Then a quiet step, and the one after it does not copy. */
        ASSERT_OK(aw_physics_step(t.p, 0));
        assert_true(t.p->slot_entities);
        ASSERT_OK(aw_physics_step(t.p, 0));
        assert_false(t.p->slot_entities);
        c = aw_physics_contacts(t.p, &nc);
        assert_memory_equal(c, contacts, nc * sizeof *c);
        ask(&t, b, n, now);
        assert_same(first, now);
        free(b);
        ptw_free(&t);
    }
    free(contacts);
    free(first);
    free(now);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_follows_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
