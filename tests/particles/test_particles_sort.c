/* ctest-label: threads */
/* The CPU path's cell sort and emission, split over the job system: after every step the slot layout (every SoA
 * array, the high-water mark, the free list) is byte-identical for 1, 2 and 3 threads and every
 * kernel; after each sort the live particles fill slots [0, live) in ascending sort-cell order and
 * every slot past them is free, also while the population shrinks. Scenes with a small grid and with one coarsened to 64 x 64 sort cells. */
#include "particles_test_util.h"

#include "../../src/particles/particles_internal.h"

/* Emission stops halfway, so the population shrinks and a sort meets stale slots to clear. */
enum { CAPACITY = 150000, STEPS = 64 };

typedef struct layout {
    uint32_t high_water, live, free_count;
    particle_soa soa; /* copies of [0, high_water) of every array */
    uint32_t *free_slots;
} layout;

static float *copy_f(const float *src, uint32_t n) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    assert_non_null(p);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

static uint32_t *copy_u(const uint32_t *src, uint32_t n) {
    uint32_t *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    assert_non_null(p);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

static void layout_take(layout *l, const aw_particles *ps) {
    const particle_soa *s = &ps->soa;
    uint32_t n = ps->high_water;
    *l = (layout){.high_water = n, .live = ps->live, .free_count = ps->free_count};
    l->soa = (particle_soa){copy_f(s->px, n), copy_f(s->py, n), copy_f(s->pz, n), copy_f(s->vx, n),
                            copy_f(s->vy, n), copy_f(s->vz, n), copy_f(s->age, n), copy_f(s->life, n),
                            copy_u(s->id, n), copy_u(s->emitter, n)};
    l->free_slots = copy_u(ps->free_slots, ps->free_count);
}

static void layout_free(layout *l) {
    void *p[] = {l->soa.px, l->soa.py, l->soa.pz, l->soa.vx, l->soa.vy, l->soa.vz,
                 l->soa.age, l->soa.life, l->soa.id, l->soa.emitter, l->free_slots};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

static bool layout_equal(const layout *a, const layout *b) {
    if (a->high_water != b->high_water || a->live != b->live || a->free_count != b->free_count) return false;
    size_t n = (size_t)a->high_water * 4u;
    const void *x[] = {a->soa.px, a->soa.py, a->soa.pz, a->soa.vx, a->soa.vy, a->soa.vz, a->soa.age, a->soa.life, a->soa.id, a->soa.emitter};
    const void *y[] = {b->soa.px, b->soa.py, b->soa.pz, b->soa.vx, b->soa.vy, b->soa.vz, b->soa.age, b->soa.life, b->soa.id, b->soa.emitter};
    for (size_t i = 0; i < 10; i++)
        if (memcmp(x[i], y[i], n)) return false;
    return memcmp(a->free_slots, b->free_slots, (size_t)a->free_count * 4u) == 0;
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
        aw_emitter_desc d = fountain_desc((aw_vec3){(float)i * 3 - 4.5f, 0.2f, (float)(i % 2) * 2 - 1}, 25000.0f);
        d.spread = 1.2f;
        if (i == 3) d.lifetime_min = 0.0f; /* may draw zero lifetimes: emitted on the planning thread */
        ASSERT_OK(aw_particles_emitter_create(ps, &d, &em[i]));
    }
    for (uint32_t s = 0; s < STEPS; s++) {
        if (s < STEPS / 2 && s % 5 == 0) ASSERT_OK(aw_particles_burst(ps, em[s % 4], 9000, &(aw_vec3){0, 4, 0}));
        if (s == STEPS / 2)
            for (int i = 0; i < 4; i++) ASSERT_OK(aw_particles_emitter_set_active(ps, em[i], false));
        ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
        if (ps->steps_since_sort == 0) {
            check_sorted(ps);
            if (sorts_checked) (*sorts_checked)++;
        }
        layout now;
        layout_take(&now, ps);
        if (ref) {
            if (!layout_equal(&now, &ref[s]))
                fail_msg("%s with %u threads: slot layout differs at step %u", aw_particles_simd_str(simd), threads, s);
            layout_free(&now);
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
    assert_true(ref[STEPS / 2].live > 40000);
    assert_true(ref[STEPS - 1].live < ref[STEPS / 2].live);
    const uint32_t threads[] = {1, 2, 3};
    for (aw_particles_simd simd = AW_PARTICLES_SIMD_SCALAR; simd < AW_PARTICLES_SIMD_COUNT; simd++) {
        if (aw_particles_simd_detect() < simd) continue;
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) run(sc, threads[t], simd, NULL, ref, NULL);
    }
    for (uint32_t s = 0; s < STEPS; s++) layout_free(&ref[s]);
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
