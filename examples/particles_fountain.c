/* Particles example: eight fountains raining onto the ground and 64 spheres, stepped on the CPU
 * path; prints the live count and the time per step, wall clock and this thread's CPU time (which
 * a loaded machine inflates far less).
 *   particles_fountain [COUNT [STEPS [WARMUP [scalar|avx2|avx512]]]]   (defaults 100000 30 10 auto)
 * A long WARMUP (300) lets recycling mix every fountain's particles into every block. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aw/aw.h"

static double thread_cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    uint32_t count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000u;
    uint32_t steps = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 30u;
    uint32_t warmup = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 10u;
    aw_particles_simd simd = AW_PARTICLES_SIMD_AUTO;
    if (argc > 4) {
        for (int s = AW_PARTICLES_SIMD_SCALAR; s < AW_PARTICLES_SIMD_COUNT; s++)
            if (strcmp(argv[4], aw_particles_simd_str((aw_particles_simd)s)) == 0) simd = (aw_particles_simd)s;
    }
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = count ? count : 1, .simd = simd, .seed = 5});
    if (!ps) {
        fprintf(stderr, "particles_fountain: %s\n", aw_last_error());
        return 1;
    }
    aw_particle_sphere spheres[64];
    for (uint32_t i = 0; i < 64; i++) {
        float a = (float)i * 0.7853982f * 0.37f, r = 2.0f + (float)(i % 8) * 1.5f;
        spheres[i] = (aw_particle_sphere){{cosf(a) * r, 0.5f + (float)(i % 3), sinf(a) * r}, 0.5f + 0.25f * (float)(i % 4)};
    }
    aw_status st = aw_particles_set_spheres(ps, spheres, 64);
    for (uint32_t f = 0; f < 8 && !st; f++) {
        float a = (float)f * 6.2831853f / 8.0f;
        aw_emitter em;
        st = aw_particles_emitter_create(ps,
                                         &(aw_emitter_desc){.position = {cosf(a) * 6.0f, 0.5f, sinf(a) * 6.0f},
                                                            .direction = {-cosf(a) * 0.3f, 1.0f, -sinf(a) * 0.3f},
                                                            .spread = 0.5f,
                                                            .speed_min = 5.0f,
                                                            .speed_max = 12.0f,
                                                            .lifetime_min = 2.0f,
                                                            .lifetime_max = 6.0f,
                                                            .rate = (float)count / 4.0f / 8.0f},
                                         &em);
        if (!st) st = aw_particles_burst(ps, em, count / 8u + 1u, NULL);
    }
    for (uint32_t i = 0; i < warmup && !st; i++) st = aw_particles_step(ps, 1.0f / 60.0f);
    uint64_t t0 = aw_time_ns();
    double c0 = thread_cpu_ms();
    for (uint32_t i = 0; i < steps && !st; i++) st = aw_particles_step(ps, 1.0f / 60.0f);
    double cpu = thread_cpu_ms() - c0, wall = (double)(aw_time_ns() - t0) * 1e-6;
    if (st) {
        fprintf(stderr, "particles_fountain: %s\n", aw_last_error());
        aw_particles_destroy(ps);
        return 1;
    }
    printf("%s kernel, %u live of %u: %.3f ms/step wall, %.3f ms/step thread CPU\n",
           aw_particles_simd_str(aw_particles_get_simd(ps)), aw_particles_get_stats(ps).live, count,
           steps ? wall / steps : 0.0, steps ? cpu / steps : 0.0);
    aw_particles_destroy(ps);
    return 0;
}
