/* The GPU path against the CPU path: the same seed, emitters, forces and spheres for 100 steps;
 * the same live count after every step and every particle (matched by id) within a small tolerance
 * of its CPU twin; AUTO picks the GPU when given a device; no validation message. Skips (exit 77)
 * when the machine has no Vulkan device. */
#include "particles_test_util.h"

#include "../gpu/gpu_test_env.h"

#include "aw/gpu.h"
#include "aw/particles_vulkan.h"
#include "aw/render.h"

static aw_gpu *gpu;

enum { CAP = 30000, STEPS = 100 };

static aw_particles *make(aw_particles_backend backend) {
    aw_particle_forces f = aw_particles_default_forces();
    f.drag = 0.2f;
    f.wind = (aw_vec3){1.0f, 0.0f, 0.5f};
    aw_particles *ps = aw_particles_create(
        &(aw_particles_desc){.capacity = CAP, .backend = backend, .gpu = gpu, .seed = 42, .forces = &f});
    if (!ps) fail_msg("aw_particles_create(%s): %s", aw_particles_backend_str(backend), aw_last_error());
    aw_particle_sphere spheres[] = {{{0, 1, 0}, 1.0f}, {{3, 0.5f, 2}, 0.8f}, {{-3, 1.5f, -1}, 1.2f}, {{1, 4, -3}, 0.6f}};
    ASSERT_OK(aw_particles_set_spheres(ps, spheres, 4));
    aw_emitter em;
    aw_emitter_desc d = fountain_desc((aw_vec3){0.5f, 0.2f, 0.5f}, 12000);
    ASSERT_OK(aw_particles_emitter_create(ps, &d, &em));
    d = fountain_desc((aw_vec3){-2, 5, 1}, 0);
    d.direction = (aw_vec3){0.3f, -1, 0};
    d.lifetime_min = 0; /* some particles live no step */
    ASSERT_OK(aw_particles_emitter_create(ps, &d, &em));
    return ps;
}

static void test_cpu_and_gpu_agree(void **state) {
    (void)state;
    aw_particles *cpu = make(AW_PARTICLES_CPU), *gpu_ps = make(AW_PARTICLES_AUTO);
    assert_int_equal(aw_particles_get_backend(gpu_ps), AW_PARTICLES_GPU);
    aw_particle *a = calloc(CAP, sizeof *a), *b = calloc(CAP, sizeof *b);
    uint32_t checked = 0;
    double worst = 0;
    for (int step = 0; step < STEPS; step++) {
        if (step % 10 == 0) {
            aw_emitter burst = 0x00010002u; /* the second emitter (slot 1, generation 1) */
            ASSERT_OK(aw_particles_burst(cpu, burst, 800, NULL));
            ASSERT_OK(aw_particles_burst(gpu_ps, burst, 800, NULL));
        }
        ASSERT_OK(aw_particles_step(cpu, 1.0f / 60.0f));
        ASSERT_OK(aw_particles_step(gpu_ps, 1.0f / 60.0f));
        aw_particles_stats sc = aw_particles_get_stats(cpu), sg = aw_particles_get_stats(gpu_ps);
        if (sc.live != sg.live || sc.emitted != sg.emitted || sc.died != sg.died)
            fail_msg("step %d: cpu live %u emitted %u died %u, gpu live %u emitted %u died %u", step, sc.live,
                     sc.emitted, sc.died, sg.live, sg.emitted, sg.died);
        if (step % 25 != 24) continue;
        uint32_t na, nb;
        ASSERT_OK(aw_particles_read(cpu, a, CAP, &na));
        ASSERT_OK(aw_particles_read(gpu_ps, b, CAP, &nb));
        assert_int_equal(na, nb);
        for (uint32_t i = 0; i < na; i++) {
            if (a[i].id != b[i].id) fail_msg("step %d: particle %u is id %u on the CPU, %u on the GPU", step, i, a[i].id, b[i].id);
            assert_int_equal(a[i].emitter, b[i].emitter);
            float dx = a[i].position.x - b[i].position.x, dy = a[i].position.y - b[i].position.y,
                  dz = a[i].position.z - b[i].position.z;
            double d = sqrt(dx * dx + dy * dy + dz * dz);
            if (d > worst) worst = d;
            /* sin/cos/sqrt differ in the last bits between the CPU's libm and the device. */
            if (d > 1e-3)
                fail_msg("step %d: particle %u at (%g %g %g) on the CPU, (%g %g %g) on the GPU", step, a[i].id,
                         (double)a[i].position.x, (double)a[i].position.y, (double)a[i].position.z,
                         (double)b[i].position.x, (double)b[i].position.y, (double)b[i].position.z);
            assert_float_equal(a[i].age, b[i].age, 1e-5);
            assert_float_equal(a[i].color[3], b[i].color[3], 1e-4);
            checked++;
        }
    }
    print_message("compared %u particles, largest position difference %.3g\n", checked, worst);
    assert_true(checked > 10000);
    aw_particles_destroy(cpu);
    aw_particles_destroy(gpu_ps);
    free(a);
    free(b);
    assert_int_equal(aw_gpu_validation_errors(gpu), 0);
    assert_int_equal(aw_gpu_validation_warnings(gpu), 0);
}

static void test_gpu_edge_cases(void **state) {
    (void)state;
    /* Zero emitters, a full system, zero lifetimes: the same counts as the CPU rules. */
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 500, .backend = AW_PARTICLES_GPU, .gpu = gpu});
    assert_non_null(ps);
    ASSERT_OK(aw_particles_step(ps, 0.01f));
    assert_int_equal(aw_particles_get_stats(ps).live, 0);
    aw_emitter em, zero;
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.lifetime_min = 1, .lifetime_max = 1, .speed_max = 1}, &em));
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.rate = 1000}, &zero));
    ASSERT_OK(aw_particles_burst(ps, em, 800, NULL));
    ASSERT_OK(aw_particles_step(ps, 0.01f));
    aw_particles_stats s = aw_particles_get_stats(ps);
    assert_int_equal(s.live, 500);
    /* Continuous emission comes first: the zero-lifetime ones (9 or 10 of them: 1000 * 0.01 in
     * floats) died at birth and took no slot, so the burst found all 500. */
    assert_int_equal(s.refused, 300);
    assert_true(s.died >= 9 && s.died <= 10);
    assert_int_equal(s.emitted, 500 + s.died);
    for (int i = 0; i < 120; i++) ASSERT_OK(aw_particles_step(ps, 0.01f));
    s = aw_particles_get_stats(ps);
    assert_int_equal(s.live, 0); /* all died after 1 s, every slot back on the free list */
    ASSERT_OK(aw_particles_burst(ps, em, 500, NULL));
    ASSERT_OK(aw_particles_step(ps, 0.01f));
    assert_int_equal(aw_particles_get_stats(ps).live, 500);
    aw_particles_destroy(ps);
    assert_int_equal(aw_gpu_validation_errors(gpu), 0);
}

/* Through the renderer's hooks: particles in front of the camera change pixels of the frame (an
 * indirect draw whose instance count the compaction wrote), and leave them alone once all died. */
static uint32_t differing_pixels(const uint8_t *a, const uint8_t *b, size_t size) {
    uint32_t n = 0;
    for (size_t i = 0; i < size; i += 4) n += memcmp(a + i, b + i, 4) != 0;
    return n;
}

static void test_billboards_drawn_through_renderer(void **state) {
    (void)state;
    enum { W = 64, H = 64 };
    aw_renderer *r;
    ASSERT_OK(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .width = W, .height = H}, &r));
    aw_camera cam = {.position = {0, 2, 8}, .target = {0, 2, 0}};
    ASSERT_OK(aw_render_set_camera(r, &cam));
    aw_particle_forces f = {0}; /* no gravity: they stay in view */
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){
        .capacity = 4096, .backend = AW_PARTICLES_GPU, .gpu = aw_renderer_gpu(r), .forces = &f, .seed = 1});
    assert_non_null(ps);
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(ps,
                                          &(aw_emitter_desc){.position = {0, 2, 0},
                                                             .spread = 3.14f,
                                                             .speed_min = 5.0f,
                                                             .speed_max = 10.0f,
                                                             .lifetime_min = 0.5f,
                                                             .lifetime_max = 0.5f,
                                                             .color_start = {1, 1, 0, 1},
                                                             .color_end = {1, 0, 0, 1},
                                                             .size_start = 0.4f,
                                                             .size_end = 0.4f},
                                          &em));
    uint32_t id;
    ASSERT_OK(aw_render_add_hooks(
        r, &(aw_render_hooks){.before_pass = aw_particles_render_before_pass, .in_pass = aw_particles_render_in_pass, .user = ps},
        &id));
    static uint8_t empty[W * H * 4], full[W * H * 4], after[W * H * 4];
    ASSERT_OK(aw_render_frame(r));
    ASSERT_OK(aw_render_read_pixels(r, empty, sizeof empty));
    ASSERT_OK(aw_particles_burst(ps, em, 2000, NULL));
    ASSERT_OK(aw_particles_step(ps, 0.1f));
    ASSERT_OK(aw_render_frame(r));
    ASSERT_OK(aw_render_read_pixels(r, full, sizeof full));
    uint32_t changed = differing_pixels(empty, full, sizeof full);
    print_message("billboards changed %u of %u pixels\n", changed, W * H);
    assert_true(changed > 50);
    for (int i = 0; i < 6; i++) ASSERT_OK(aw_particles_step(ps, 0.1f)); /* all dead after 0.5 s */
    assert_int_equal(aw_particles_get_stats(ps).live, 0);
    ASSERT_OK(aw_render_frame(r));
    ASSERT_OK(aw_render_read_pixels(r, after, sizeof after));
    assert_int_equal(differing_pixels(empty, after, sizeof after), 0);
    ASSERT_OK(aw_render_remove_hooks(r, id));
    ASSERT_OK(aw_render_wait_idle(r));
    aw_particles_destroy(ps);
    aw_renderer_destroy(r);
    assert_int_equal(aw_gpu_validation_errors(gpu), 0);
    assert_int_equal(aw_gpu_validation_warnings(gpu), 0);
}

int main(void) {
    gpu_test_keep_driver_libraries();
    if (aw_gpu_create(&(aw_gpu_desc){0}, &gpu) != AW_OK) {
        printf("SKIP: no usable Vulkan device: %s\n", aw_last_error());
        return AW_GPU_TEST_SKIP;
    }
    aw_gpu_info info = aw_gpu_get_info(gpu);
    printf("device: %s (%s)\n", info.device_name, info.driver_name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_and_gpu_agree),
        cmocka_unit_test(test_gpu_edge_cases),
        cmocka_unit_test(test_billboards_drawn_through_renderer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    aw_gpu_destroy(gpu);
    return rc;
}
