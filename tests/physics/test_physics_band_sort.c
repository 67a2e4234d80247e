/* What the sort leaves in cell order, checked slot by slot against the ECS: every valid collider
 * once, with its position (after integration), radius, layer, mask and entity, and each cell's
 * layer union equal to the union of its slots; and the contacts against brute force. Refused rows
 * and large colliders together: the large list must end before the first refused row. In a big
 * world the records travel from the gather as whole records (a SIMD transpose) and the band pass
 * builds the union band by band; a small world takes the counting sort. Both, on 1 and 2
 * threads and without the SIMD paths, before and after a query makes the step copy entities. */
/* ctest-label: threads */
#include "physics_test_util.h"

#include "../../src/physics/physics_internal.h" /* the slot arrays and the cell layer union */

#define BIG   40000u /* above PHYS_SMALL_SORT: the band sort */
#define SMALL 5000u

_Static_assert(BIG > PHYS_SMALL_SORT && SMALL <= PHYS_SMALL_SORT, "one world for each sort");

/* Colliders on three layers, some with masks, half of them walking (the gather's velocity path),
 * a twentieth outside the bounds, every 997th a large one, every 1001st refused (a NaN in a group
 * the SIMD gather must hand to the row-by-row path), some on three shared spots. */
static ptw world(uint32_t n, uint32_t threads, bool scalar) {
    ptw t = ptw_new(threads, &(aw_physics_desc){.min_x = -90, .max_x = 90, .min_z = -90, .max_z = 90,
                                                .no_response = true, .no_events = true, .integrate = true,
                                                .scalar_only = scalar});
    aw_rng rng;
    aw_rng_seed(&rng, 31 + n);
    for (uint32_t i = 0; i < n; i++) {
        float span = i % 20 == 0 ? 110.0f : 89.0f;
        spawn_desc s = {
            .pos = {aw_rng_float_range(&rng, -span, span), aw_rng_float_range(&rng, -2, 2),
                    aw_rng_float_range(&rng, -span, span)},
            .col = {.radius = aw_rng_float_range(&rng, 0.2f, 0.6f), .layer = 1u << aw_rng_range(&rng, 3)}};
        if (i % 7 == 0) s.col.mask = 1u | (2u << aw_rng_range(&rng, 2));
        if (i % 2 == 0) {
            s.has_vel = true;
            s.vel = (aw_vec3){aw_rng_float_range(&rng, -3, 3), 0, aw_rng_float_range(&rng, -3, 3)};
        }
        if (i % 997 == 0) s.col.radius = 12.0f;
        if (i % 401 == 0) s.pos = (aw_vec3){(float)(i % 3), 0, -5.0f};
        if (i % 1001 == 0) s.pos.y = NAN;
        ptw_spawn(&t, &s);
    }
    return t;
}

static int by_entity(const void *x, const void *y) {
    aw_entity a = ((const ref_body *)x)->e, b = ((const ref_body *)y)->e;
    return (a > b) - (a < b);
}

static int by_x(const void *x, const void *y) {
    float a = ((const ref_body *)x)->p.x, b = ((const ref_body *)y)->p.x;
    return (a > b) - (a < b);
}

static void ref_pair_add(pair_key **p, uint32_t *k, uint32_t *cap, aw_entity x, aw_entity y) {
    if (*k == *cap) *p = realloc(*p, (*cap *= 2) * sizeof **p);
    (*p)[(*k)++] = x < y ? (pair_key){x, y} : (pair_key){y, x};
}

/* Brute force's pairs in far fewer tests: each large collider (radius >= 1) against everything,
 * the small ones by a sweep along x (two small ones meet only within twice the largest small
 * radius on x). */
static uint32_t ref_pairs_swept(ref_body *b, uint32_t n, pair_key **out) {
    uint32_t cap = 1024, k = 0, small = 0;
    pair_key *p = malloc(cap * sizeof *p);
    float small_max = 0.0f;
    for (uint32_t i = 0; i < n; i++) /* small ones first, then the large */
        if (b[i].r < 1.0f) {
            ref_body t = b[small];
            b[small++] = b[i];
            b[i] = t;
        }
    for (uint32_t i = 0; i < small; i++) small_max = b[i].r > small_max ? b[i].r : small_max;
    qsort(b, small, sizeof *b, by_x);
    for (uint32_t i = 0; i < small; i++)
        for (uint32_t j = i + 1; j < small && b[j].p.x - b[i].p.x <= 2.0f * small_max; j++)
            if (ref_overlap(&b[i], &b[j])) ref_pair_add(&p, &k, &cap, b[i].e, b[j].e);
    for (uint32_t i = small; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            if ((j < small || j > i) && ref_overlap(&b[i], &b[j])) ref_pair_add(&p, &k, &cap, b[i].e, b[j].e);
    qsort(p, k, sizeof *p, pair_cmp);
    *out = p;
    return k;
}

static void assert_contacts_match_brute_force(ptw *t, const char *what) {
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    pair_key *ref, *got;
    uint32_t nr = ref_pairs_swept(b, n, &ref);
    uint32_t ng = engine_pairs(t->p, &got);
    assert_true(nr > 100);
    assert_same_pairs(got, ng, ref, nr, what);
    free(b);
    free(ref);
    free(got);
}

static void assert_slots_match_ecs(ptw *t) {
    const aw_physics *p = t->p;
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    qsort(b, n, sizeof *b, by_entity);
    assert_int_equal(p->n_valid, n);
    bool *seen = calloc(n, sizeof *seen);
    for (uint32_t s = 0; s < p->n_valid; s++) {
        ref_body key = {.e = phys_slot_entity(p, s)};
        const ref_body *r = bsearch(&key, b, n, sizeof *b, by_entity);
        if (!r)
            fail_msg("slot %u of %u: entity %llx is no valid collider (entities copied: %d)", s, p->n_valid,
                     (unsigned long long)key.e, p->slot_entities);
        assert_false(seen[r - b]);
        seen[r - b] = true;
        assert_memory_equal(&p->bx[s], &r->p.x, sizeof(float));
        assert_memory_equal(&p->by[s], &r->p.y, sizeof(float));
        assert_memory_equal(&p->bz[s], &r->p.z, sizeof(float));
        assert_memory_equal(&p->br[s], &r->r, sizeof(float));
        assert_int_equal(p->blayer[s], r->layer);
        if (!p->all_default_layers) assert_int_equal(p->bmask[s], r->mask);
    }
    free(seen);
    free(b);
    assert_true(p->has_cell_layers);
    for (uint32_t c = 0; c < p->cells; c++) {
        uint32_t m = 0;
        for (uint32_t s = p->cell_start[c]; s < p->cell_start[c + 1]; s++) m |= p->blayer[s];
        assert_int_equal(p->cell_layers[c], m);
    }
}

/* On 1 and 2 threads with the SIMD paths (the gather's transpose, the one-load copy), then on 1
 * thread without them (every row through the scalar gather and copy). */
static void check_world(uint32_t n) {
    for (uint32_t run = 0; run < 3; run++) {
        uint32_t threads = run == 1 ? 2 : 1;
        ptw t = world(n, threads, run == 2);
        for (int step = 0; step < 4; step++) {
            /* The refused rows are reported; the step goes on without them. */
            assert_int_equal(aw_physics_step(t.p, 1.0f / 30.0f), AW_ERR_INVALID_ARG);
            assert_int_equal(t.p->stats.skipped, (n + 1000) / 1001);
            assert_false(t.p->all_default_layers);
            assert_slots_match_ecs(&t);
            assert_contacts_match_brute_force(&t, n > PHYS_SMALL_SORT ? "band sort" : "counting sort");
            if (step == 1) { /* a query: the next steps of the big world copy entities */
                aw_physics_hit hit;
                uint32_t count;
                ASSERT_OK(aw_physics_query_nearest(t.p, (aw_vec3){0, 0, 0}, 1, 5.0f, NULL, &hit, &count));
            }
            if (n > PHYS_SMALL_SORT) assert_true(t.p->slot_entities == (step == 2));
        }
        ptw_free(&t);
    }
}

static void test_band_sort_records(void **state) {
    (void)state;
    check_world(BIG);
}

static void test_counting_sort_records(void **state) {
    (void)state;
    check_world(SMALL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_band_sort_records),
        cmocka_unit_test(test_counting_sort_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
