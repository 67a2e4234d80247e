#version 450
// Compaction: live slots go to the alive list (the instance count of the indirect draw), the rest
// to the free list for the next step's emission. Both counters start at zero. Each work group
// counts in shared memory and makes one global atomic per list, not one per particle: millions of
// atomics on one address would serialize.
#include "particles_common.glsl"

shared uint group_alive, group_free, alive_base, free_base;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (gl_LocalInvocationIndex == 0u) {
        group_alive = 0u;
        group_free = 0u;
    }
    barrier();
    bool valid = i < pc.counts.x;
    bool alive = valid && pos_age[i].w < vel_life[i].w;
    uint local = 0u;
    if (valid) local = alive ? atomicAdd(group_alive, 1u) : atomicAdd(group_free, 1u);
    barrier();
    if (gl_LocalInvocationIndex == 0u) {
        alive_base = atomicAdd(instance_count, group_alive);
        free_base = atomicAdd(free_count, group_free);
    }
    barrier();
    if (!valid) return;
    if (alive)
        alive_list[alive_base + local] = i;
    else
        free_list[free_base + local] = i;
}
