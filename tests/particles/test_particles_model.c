/* Randomized model-based test: random forces, spheres, emitters, bursts and time steps, the engine
 * (SIMD kernels, job system, free list) against a plain per-particle reference written from the
 * documented rules. Particles are matched by id; new ones join the reference as they appear. */
#include "particles_test_util.h"

typedef struct ref_particle {
    uint32_t id;
    aw_vec3 p, v;
    float age, life;
    bool alive;
} ref_particle;

enum { CAP = 4000, ROUNDS = 12, STEPS = 40 };

static void ref_step(ref_particle *r, const aw_particle_forces *f, const aw_particle_sphere *spheres, uint32_t ns,
                     float dt) {
    if (!r->alive) return;
    float k = f->drag * dt < 1.0f ? f->drag * dt : 1.0f;
    aw_vec3 v = {r->v.x + f->gravity.x * dt + k * (f->wind.x - r->v.x),
                 r->v.y + f->gravity.y * dt + k * (f->wind.y - r->v.y),
                 r->v.z + f->gravity.z * dt + k * (f->wind.z - r->v.z)};
    aw_vec3 p = {r->p.x + v.x * dt, r->p.y + v.y * dt, r->p.z + v.z * dt};
    if (f->ground && p.y < f->ground_y) {
        p.y = f->ground_y;
        if (v.y < 0) v.y = -v.y * f->restitution;
        v.x *= f->friction;
        v.z *= f->friction;
    }
    r->age += dt;
    if (r->age >= r->life) {
        r->alive = false;
        return;
    }
    for (uint32_t s = 0; s < ns; s++) {
        aw_vec3 d = {p.x - spheres[s].center.x, p.y - spheres[s].center.y, p.z - spheres[s].center.z};
        float d2 = d.x * d.x + d.y * d.y + d.z * d.z, rad = spheres[s].radius;
        if (!(d2 < rad * rad) || !(d2 > 1e-12f)) continue;
        float len = sqrtf(d2);
        aw_vec3 n = {d.x / len, d.y / len, d.z / len};
        p = (aw_vec3){spheres[s].center.x + n.x * rad, spheres[s].center.y + n.y * rad,
                      spheres[s].center.z + n.z * rad};
        float vn = v.x * n.x + v.y * n.y + v.z * n.z;
        if (vn < 0) {
            aw_vec3 t = {v.x - vn * n.x, v.y - vn * n.y, v.z - vn * n.z};
            v = (aw_vec3){t.x * f->friction - n.x * vn * f->restitution, t.y * f->friction - n.y * vn * f->restitution,
                          t.z * f->friction - n.z * vn * f->restitution};
        }
    }
    r->p = p;
    r->v = v;
}

static float rnd(aw_rng *g, float lo, float hi) {
    return aw_rng_float_range(g, lo, hi);
}

static void close_to(float got, float want, const char *what, uint32_t id) {
    if (fabsf(got - want) > 1e-4f * (1.0f + fabsf(want)))
        fail_msg("particle %u: %s is %.9g, reference %.9g", id, what, (double)got, (double)want);
}

static void test_engine_matches_reference(void **state) {
    (void)state;
    aw_particle *out = calloc(CAP, sizeof *out);
    ref_particle *ref = calloc(CAP * 8, sizeof *ref); /* indexed by id */
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    for (uint32_t round = 0; round < ROUNDS; round++) {
        aw_rng g;
        aw_rng_seed(&g, 1000 + round);
        aw_particle_forces f = {.gravity = {rnd(&g, -1, 1), rnd(&g, -12, 0), rnd(&g, -1, 1)},
                                .wind = {rnd(&g, -4, 4), 0, rnd(&g, -4, 4)},
                                .drag = round % 3 == 0 ? 0 : rnd(&g, 0, 3),
                                .ground = round % 4 != 3,
                                .ground_y = rnd(&g, -1, 0.5f),
                                .restitution = rnd(&g, 0, 1),
                                .friction = rnd(&g, 0, 1)};
        aw_particles *ps = aw_particles_create(&(aw_particles_desc){
            .capacity = CAP, .forces = &f, .jobs = round % 2 ? jobs : NULL, .seed = round, .max_emitters = 8});
        assert_non_null(ps);
        aw_particle_sphere spheres[6];
        uint32_t ns = aw_rng_range(&g, 7);
        /* Disjoint spheres: where spheres overlap, the engine tests a particle pushed out of one against
         * the spheres near where it was before the push (documented), the reference against all. */
        for (uint32_t s = 0; s < ns; s++) {
            bool overlaps;
            do {
                spheres[s] = (aw_particle_sphere){{rnd(&g, -4, 4), rnd(&g, 0, 3), rnd(&g, -4, 4)}, rnd(&g, 0.3f, 1.5f)};
                overlaps = false;
                for (uint32_t o = 0; o < s; o++) {
                    float dx = spheres[s].center.x - spheres[o].center.x, dy = spheres[s].center.y - spheres[o].center.y,
                          dz = spheres[s].center.z - spheres[o].center.z, rr = spheres[s].radius + spheres[o].radius;
                    overlaps = overlaps || dx * dx + dy * dy + dz * dz < rr * rr;
                }
            } while (overlaps);
        }
        ASSERT_OK(aw_particles_set_spheres(ps, spheres, ns));
        aw_emitter em[4];
        uint32_t ne = 1 + aw_rng_range(&g, 4);
        for (uint32_t e = 0; e < ne; e++) {
            float lmin = rnd(&g, 0, 1);
            aw_emitter_desc d = {.position = {rnd(&g, -2, 2), rnd(&g, 0, 4), rnd(&g, -2, 2)},
                                 .direction = {rnd(&g, -1, 1), rnd(&g, 0.1f, 1), rnd(&g, -1, 1)},
                                 .spread = rnd(&g, 0, 3.14f),
                                 .speed_min = 0,
                                 .speed_max = rnd(&g, 0, 10),
                                 .lifetime_min = lmin,
                                 .lifetime_max = lmin + rnd(&g, 0, 2),
                                 .rate = rnd(&g, 0, 3000),
                                 .burst = aw_rng_range(&g, 200)};
            ASSERT_OK(aw_particles_emitter_create(ps, &d, &em[e]));
        }
        memset(ref, 0, CAP * 8 * sizeof *ref);
        uint32_t max_id = 0;
        for (uint32_t step = 0; step < STEPS; step++) {
            if (aw_rng_range(&g, 4) == 0) ASSERT_OK(aw_particles_burst(ps, em[aw_rng_range(&g, ne)], 0, NULL));
            float dt = rnd(&g, 0.001f, 0.05f);
            /* Advance the reference's particles born before this step. */
            for (uint32_t id = 0; id < max_id; id++) ref_step(&ref[id], &f, spheres, ns, dt);
            ASSERT_OK(aw_particles_step(ps, dt));
            uint32_t n;
            ASSERT_OK(aw_particles_read(ps, out, CAP, &n));
            assert_true(n <= CAP);
            uint32_t ref_live = 0;
            for (uint32_t id = 0; id < max_id; id++) ref_live += ref[id].alive;
            uint32_t matched = 0;
            for (uint32_t i = 0; i < n; i++) {
                const aw_particle *p = &out[i];
                assert_true(p->id < CAP * 8);
                if (p->id >= max_id) { /* born this step: adopt it (its first step was the engine's) */
                    ref[p->id] = (ref_particle){.id = p->id, .p = p->position, .v = p->velocity, .age = p->age,
                                                .life = p->lifetime, .alive = true};
                    continue;
                }
                const ref_particle *r = &ref[p->id];
                if (!r->alive) fail_msg("round %u step %u: particle %u alive in the engine only", round, step, p->id);
                matched++;
                close_to(p->position.x, r->p.x, "x", p->id);
                close_to(p->position.y, r->p.y, "y", p->id);
                close_to(p->position.z, r->p.z, "z", p->id);
                close_to(p->velocity.x, r->v.x, "vx", p->id);
                close_to(p->velocity.y, r->v.y, "vy", p->id);
                close_to(p->velocity.z, r->v.z, "vz", p->id);
                close_to(p->age, r->age, "age", p->id);
            }
            if (matched != ref_live)
                fail_msg("round %u step %u: %u of the reference's %u live particles found", round, step, matched,
                         ref_live);
            for (uint32_t i = 0; i < n; i++)
                if (out[i].id + 1 > max_id) max_id = out[i].id + 1;
            aw_particles_stats s = aw_particles_get_stats(ps);
            assert_int_equal(s.live, n);
            max_id = (uint32_t)s.total_emitted > max_id ? (uint32_t)s.total_emitted : max_id;
        }
        aw_particles_destroy(ps);
    }
    aw_jobs_destroy(jobs);
    free(ref);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
