#version 450
// Compaction: live slots go to the alive list (the instance count of the indirect draw), the rest
// to the free list for the next step's emission. Both counters start at zero.
#include "particles_common.glsl"

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.counts.x) return;
    if (pos_age[i].w < vel_life[i].w)
        alive_list[atomicAdd(instance_count, 1u)] = i;
    else
        free_list[atomicAdd(free_count, 1u)] = i;
}
