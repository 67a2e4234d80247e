/* The GPU back end's entry points when the build has no Vulkan particle path: every call reports
 * the device as unavailable, so AUTO falls back to the CPU path. */
#include "particles/particles_internal.h"

aw_status particles_gpu_create(aw_particles *ps, void *gpu) {
    (void)ps;
    (void)gpu;
    return aw_error(AW_ERR_UNAVAILABLE, "particles: this build has no GPU particle path");
}

void particles_gpu_destroy(aw_particles *ps) {
    (void)ps;
}

aw_status particles_gpu_step(aw_particles *ps, float dt) {
    (void)ps;
    (void)dt;
    return aw_error(AW_ERR_UNAVAILABLE, "particles: this build has no GPU particle path");
}

aw_status particles_gpu_read_back(aw_particles *ps) {
    (void)ps;
    return AW_OK;
}

void aw_particles_gpu_record_compute(aw_particles *ps, void *command_buffer) {
    (void)ps;
    (void)command_buffer;
}

void aw_particles_gpu_record_draw(aw_particles *ps, void *command_buffer, const float *view_proj) {
    (void)ps;
    (void)command_buffer;
    (void)view_proj;
}
