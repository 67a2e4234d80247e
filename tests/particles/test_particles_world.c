/* Links to the world: colliders read as spheres through an ECS query (sensors, disabled and bad
 * radii left out, overflow counted), emitters following entities and bursting on their death,
 * bursts at physics contacts. */
#include "particles_test_util.h"

static aw_entity spawn(aw_world *w, aw_physics_ids ids, aw_vec3 p, aw_collider c) {
    aw_entity e = aw_entity_create(w);
    ASSERT_OK(aw_entity_set(w, e, ids.position, &p, sizeof p));
    ASSERT_OK(aw_entity_set(w, e, ids.collider, &c, sizeof c));
    return e;
}

static void test_colliders_become_spheres(void **state) {
    (void)state;
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 1});
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 100, .max_spheres = 2});
    ASSERT_OK(aw_particles_gather_colliders(ps, w)); /* no physics components yet: no spheres */
    assert_int_equal(aw_particles_get_stats(ps).spheres, 0);
    aw_physics *phys = aw_physics_create(w, NULL);
    aw_physics_ids ids = aw_physics_get_ids(phys);
    spawn(w, ids, (aw_vec3){0, 1, 0}, (aw_collider){.radius = 1});
    spawn(w, ids, (aw_vec3){5, 1, 0}, (aw_collider){.radius = 1, .flags = AW_COLLIDER_SENSOR});
    spawn(w, ids, (aw_vec3){5, 1, 5}, (aw_collider){.radius = 1, .flags = AW_COLLIDER_DISABLED});
    spawn(w, ids, (aw_vec3){0, 1, 5}, (aw_collider){.radius = NAN});
    spawn(w, ids, (aw_vec3){-5, 1, 0}, (aw_collider){.radius = 2});
    ASSERT_OK(aw_particles_gather_colliders(ps, w));
    aw_particles_stats s = aw_particles_get_stats(ps);
    assert_int_equal(s.spheres, 2);
    assert_int_equal(s.spheres_dropped, 0);
    spawn(w, ids, (aw_vec3){-5, 1, 5}, (aw_collider){.radius = 3});
    ASSERT_OK(aw_particles_gather_colliders(ps, w));
    s = aw_particles_get_stats(ps);
    assert_int_equal(s.spheres, 2);
    assert_int_equal(s.spheres_dropped, 1);
    /* A particle dropped onto the first collider rests on it, not inside it. */
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.position = {0, 4, 0}, .lifetime_min = 5, .lifetime_max = 5}, &em));
    ASSERT_OK(aw_particles_burst(ps, em, 1, NULL));
    for (int i = 0; i < 120; i++) ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
    aw_particle p;
    uint32_t n;
    ASSERT_OK(aw_particles_read(ps, &p, 1, &n));
    assert_int_equal(n, 1);
    assert_true(p.position.y >= 2.0f - 1e-4f);
    aw_particles_destroy(ps);
    aw_world_destroy(w);
}

static void test_follow_and_burst_on_death(void **state) {
    (void)state;
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 1});
    aw_physics_ids ids = aw_physics_get_ids(aw_physics_create(w, NULL));
    aw_entity carrier = spawn(w, ids, (aw_vec3){3, 0, 4}, (aw_collider){.radius = 0.5f});
    aw_particle_forces f = {0};
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 1000, .forces = &f});
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(ps,
                                          &(aw_emitter_desc){.entity = carrier,
                                                             .offset = {0, 1, 0},
                                                             .lifetime_min = 10,
                                                             .lifetime_max = 10,
                                                             .burst = 40,
                                                             .burst_on_death = true,
                                                             .rate = 60},
                                          &em));
    ASSERT_OK(aw_particles_follow(ps, w));
    ASSERT_OK(aw_particles_step(ps, 0.5f)); /* 30 particles at (3, 1, 4), at rest */
    aw_vec3 *pos = aw_entity_get(w, carrier, ids.position);
    *pos = (aw_vec3){-2, 0, 7};
    ASSERT_OK(aw_particles_follow(ps, w));
    ASSERT_OK(aw_entity_destroy(w, carrier));
    ASSERT_OK(aw_particles_follow(ps, w)); /* the death: a burst at the last position, then silence */
    ASSERT_OK(aw_particles_step(ps, 0.5f));
    aw_particles_stats s = aw_particles_get_stats(ps);
    assert_int_equal(s.emitted, 40);
    assert_int_equal(s.live, 70);
    aw_particle *out = calloc(1000, sizeof *out);
    uint32_t n;
    ASSERT_OK(aw_particles_read(ps, out, 1000, &n));
    uint32_t at_first = 0, at_last = 0;
    for (uint32_t i = 0; i < n; i++) {
        at_first += fabsf(out[i].position.x - 3) < 1e-5f && fabsf(out[i].position.y - 1) < 1e-5f;
        at_last += fabsf(out[i].position.x + 2) < 1e-5f && fabsf(out[i].position.z - 7) < 1e-5f;
    }
    assert_int_equal(at_first, 30);
    assert_int_equal(at_last, 40);
    ASSERT_OK(aw_particles_step(ps, 0.5f));
    assert_int_equal(aw_particles_get_stats(ps).emitted, 0); /* stopped */
    free(out);
    aw_particles_destroy(ps);
    aw_world_destroy(w);
}

static void test_bursts_on_contacts(void **state) {
    (void)state;
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 1});
    aw_physics *phys = aw_physics_create(w, &(aw_physics_desc){.no_response = true});
    aw_physics_ids ids = aw_physics_get_ids(phys);
    spawn(w, ids, (aw_vec3){0, 0, 0}, (aw_collider){.radius = 1});
    spawn(w, ids, (aw_vec3){1.5f, 0, 0}, (aw_collider){.radius = 1});
    spawn(w, ids, (aw_vec3){10, 0, 0}, (aw_collider){.radius = 1});
    aw_particle_forces f = {0};
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 100, .forces = &f});
    aw_emitter sparks;
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.lifetime_min = 1, .lifetime_max = 1, .burst = 7}, &sparks));
    aw_event_cursor cursor = {0};
    uint32_t bursts = 99;
    ASSERT_OK(aw_particles_burst_on_contacts(ps, w, sparks, &cursor, &bursts));
    assert_int_equal(bursts, 0);
    ASSERT_OK(aw_physics_step(phys, 0.016f));
    ASSERT_OK(aw_particles_burst_on_contacts(ps, w, sparks, &cursor, &bursts));
    assert_int_equal(bursts, 1);
    ASSERT_OK(aw_particles_burst_on_contacts(ps, w, sparks, &cursor, &bursts)); /* read once */
    assert_int_equal(bursts, 0);
    ASSERT_OK(aw_particles_step(ps, 0.1f));
    aw_particle out[16];
    uint32_t n;
    ASSERT_OK(aw_particles_read(ps, out, 16, &n));
    assert_int_equal(n, 7);
    for (uint32_t i = 0; i < n; i++) assert_float_equal(out[i].position.x, 0.75, 1e-5);
    aw_world *bare = aw_world_create(&(aw_world_desc){.threads = 1});
    assert_int_equal(aw_particles_burst_on_contacts(ps, bare, sparks, &cursor, NULL), AW_ERR_NOT_FOUND);
    aw_world_destroy(bare);
    aw_particles_destroy(ps);
    aw_world_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colliders_become_spheres),
        cmocka_unit_test(test_follow_and_burst_on_death),
        cmocka_unit_test(test_bursts_on_contacts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
