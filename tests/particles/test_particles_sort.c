/* ctest-label: threads */
/* The CPU path's cell sort and emission, split over the job system: after every step the slot layout (every SoA
 * array, the high-water mark, the free list) is byte-identical for 1, 2 and 3 threads and every
 * kernel; after each sort the live particles fill slots [0, live) in ascending sort-cell order and
 * every slot past them is free, also while the population shrinks. Scenes with a small grid and with one coarsened to 64 x 64 sort cells. */
#include "particles_test_util.h"

#include "../../src/particles/particles_internal.h"

/* Emission stops halfway, so the population shrinks and a sort meets stale slots to clear. */
enum { CAPACITY = 100000, STEPS = 64 };

/* The slot layout after one step: every array's bytes over [0, high_water), the free list. */
typedef struct layout {
    uint32_t high_water, live, free_count;
    uint64_t hash;
} layout;

static layout layout_of(const aw_particles *ps) {
    const particle_soa *s = &ps->soa;
    size_t n = (size_t)ps->high_water * 4u;
    const void *arrays[] = {s->px, s->py, s->pz, s->vx, s->vy, s->vz, s->age, s->life, s->id, s->emitter};
    uint64_t h = aw_hash_bytes(ps->free_slots, (size_t)ps->free_count * 4u, 1);
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) h = aw_hash_bytes(arrays[i], n, h);
    return (layout){.high_water = ps->high_water, .live = ps->live, .free_count = ps->free_count, .hash = h};
}

static bool layout_equal(const layout *a, const layout *b) {
    return a->high_water == b->high_water && a->live == b->live && a->free_count == b->free_count &&
           a->hash == b->hash;
}

/* The sort cell of a particle, computed as the sort defines it: the sphere grid's cell, coarsened
 * by halving both axes until at most SORT_BUCKETS_MAX cells remain; one past the last outside. */
static uint32_t expected_key(const sphere_grid *g, float x, float z) {
    uint32_t shift = 0, sw = (uint32_t)g->w, sh = (uint32_t)g->h;
    while (sw * sh > SORT_BUCKETS_MAX) {
        shift++;
        sw = ((uint32_t)g->w + (1u << shift) - 1u) >> shift;
        sh = ((uint32_t)g->h + (1u << shift) - 1u) >> shift;
    }
    float fx = (x - g->min_x) * g->inv_cell, fz = (z - g->min_z) * g->inv_cell;
    if (!(fx >= 0.0f) || !(fx < (float)g->w) || !(fz >= 0.0f) || !(fz < (float)g->h)) return sw * sh;
    return ((uint32_t)fx >> shift) + ((uint32_t)fz >> shift) * sw;
}

static void check_sorted(const aw_particles *ps) {
    const particle_soa *s = &ps->soa;
    assert_int_equal(ps->high_water, ps->live);
    assert_int_equal(ps->free_count, 0);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < ps->live; i++) {
        if (!(s->age[i] < s->life[i])) fail_msg("slot %u below live %u holds no particle", i, ps->live);
        uint32_t k = expected_key(&ps->grid, s->px[i], s->pz[i]);
        if (k < prev) fail_msg("slot %u: sort cell %u after %u", i, k, prev);
        prev = k;
    }
    for (uint32_t i = ps->live; i < ps->block_count * PARTICLE_BLOCK; i++)
        if (s->age[i] != 0.0f || s->life[i] != 0.0f) fail_msg("slot %u past the live ones is not free", i);
}

typedef struct scene {
    uint32_t sphere_count;
    float sphere_radius, spacing; /* spheres on a square lattice */
} scene;

/* Runs the scene; with `ref` compares every step's layout to it, else records into `out`. */
static void run(const scene *sc, uint32_t threads, aw_particles_simd simd, layout *out, const layout *ref,
                uint32_t *sorts_checked) {
    aw_jobs *jobs = threads > 1 ? aw_jobs_create(&(aw_jobs_desc){.threads = threads}) : NULL;
    aw_particle_forces f = aw_particles_default_forces();
    f.wind = (aw_vec3){0.8f, 0, 0.3f};
    aw_particles *ps = aw_particles_create(
        &(aw_particles_desc){.capacity = CAPACITY, .jobs = jobs, .simd = simd, .seed = 7, .forces = &f});
    assert_non_null(ps);
    aw_particle_sphere spheres[1024];
    uint32_t side = (uint32_t)ceilf(sqrtf((float)sc->sphere_count));
    for (uint32_t i = 0; i < sc->sphere_count; i++)
        spheres[i] = (aw_particle_sphere){{((float)(i % side) - (float)side * 0.5f) * sc->spacing, 0.3f,
                                           ((float)(i / side) - (float)side * 0.5f) * sc->spacing},
                                          sc->sphere_radius};
    ASSERT_OK(aw_particles_set_spheres(ps, spheres, sc->sphere_count));
    aw_emitter em[4];
    for (int i = 0; i < 4; i++) {
        aw_emitter_desc d = fountain_desc((aw_vec3){(float)i * 3 - 4.5f, 0.2f, (float)(i % 2) * 2 - 1}, 16000.0f);
        d.spread = 1.2f;
        if (i == 3) d.lifetime_min = 0.0f; /* may draw zero lifetimes: emitted on the planning thread */
        ASSERT_OK(aw_particles_emitter_create(ps, &d, &em[i]));
    }
    for (uint32_t s = 0; s < STEPS; s++) {
        if (s < STEPS / 2 && s % 5 == 0) ASSERT_OK(aw_particles_burst(ps, em[s % 4], 6000, &(aw_vec3){0, 4, 0}));
        if (s == STEPS / 2)
            for (int i = 0; i < 4; i++) ASSERT_OK(aw_particles_emitter_set_active(ps, em[i], false));
        ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
        if (ps->steps_since_sort == 0) {
            check_sorted(ps);
            if (sorts_checked) (*sorts_checked)++;
        }
        layout now = layout_of(ps);
        if (ref) {
            if (!layout_equal(&now, &ref[s]))
                fail_msg("%s with %u threads: slot layout differs at step %u", aw_particles_simd_str(simd), threads, s);
        } else {
            out[s] = now;
        }
    }
    aw_particles_destroy(ps);
    aw_jobs_destroy(jobs);
}

static void check_scene(const scene *sc) {
    static layout ref[STEPS];
    uint32_t sorts = 0;
    run(sc, 1, AW_PARTICLES_SIMD_SCALAR, ref, NULL, &sorts);
    assert_int_equal(sorts, STEPS / PARTICLE_SORT_EVERY);
    assert_true(ref[STEPS / 2].live > 30000);
    assert_true(ref[STEPS - 1].live < ref[STEPS / 2].live);
    const uint32_t threads[] = {1, 2, 3};
    for (aw_particles_simd simd = AW_PARTICLES_SIMD_SCALAR; simd < AW_PARTICLES_SIMD_COUNT; simd++) {
        if (aw_particles_simd_detect() < simd) continue;
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) run(sc, threads[t], simd, NULL, ref, NULL);
    }
}

static void test_small_grid_same_layout_any_thread_count(void **state) {
    (void)state;
    check_scene(&(scene){.sphere_count = 36, .sphere_radius = 0.6f, .spacing = 1.7f});
}

/* 1024 spheres of radius 0.05 over 32 m: a 256 x 256 grid, sorted by 64 x 64 coarser cells. */
static void test_coarsened_grid_same_layout_any_thread_count(void **state) {
    (void)state;
    check_scene(&(scene){.sphere_count = 1024, .sphere_radius = 0.05f, .spacing = 1.0f});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_grid_same_layout_any_thread_count),
        cmocka_unit_test(test_coarsened_grid_same_layout_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
