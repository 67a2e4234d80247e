#version 450
// Emission: one invocation per particle emitted this step. Its run (emitter, position, sequence and
// id) is found by binary search over the runs' offsets; the particle's start comes from its
// emitter's counter-based RNG exactly as on the CPU; it takes a slot from the free list.
#include "particles_common.glsl"

void main() {
    uint g = gl_GlobalInvocationID.x;
    if (g >= pc.counts.y) return;
    uint lo = 0u, hi = pc.counts.z - 1u;
    while (lo < hi) { // last run whose offset <= g
        uint mid = (lo + hi + 1u) / 2u;
        if (runs[mid].offset <= g) lo = mid; else hi = mid - 1u;
    }
    Run r = runs[lo];
    uint k = g - r.offset;
    Emitter e = emitters[r.emitter];
    uint key = floatBitsToUint(e.life.z);
    uint sequence = r.first_sequence + k;
    float u0 = particle_random(key, sequence, 0u), u1 = particle_random(key, sequence, 1u);
    float u2 = particle_random(key, sequence, 2u), u3 = particle_random(key, sequence, 3u);
    precise float life = e.life.x + (e.life.y - e.life.x) * u3;
    if (!(life > 0.0)) return; // a zero lifetime lives no step
    float cos_t = 1.0 - u0 * (1.0 - e.dir_cos.w);
    float sin_t = sqrt(max(0.0, 1.0 - cos_t * cos_t));
    float phi = 6.28318530717958647692 * u1;
    vec3 local = vec3(sin_t * cos(phi), cos_t, sin_t * sin(phi));
    float speed = e.tangent_speed0.w + (e.bitangent_speed1.w - e.tangent_speed0.w) * u2;
    vec3 v = (e.tangent_speed0.xyz * local.x + e.dir_cos.xyz * local.y + e.bitangent_speed1.xyz * local.z) * speed;
    uint taken = atomicAdd(free_taken, 1u);
    uint slot = free_list[free_count - 1u - taken]; // the CPU never emits more than free_count
    pos_age[slot] = vec4(r.at.xyz, 0.0);
    vel_life[slot] = vec4(v, life);
    meta[slot] = uvec2(r.first_id + k, r.emitter);
}
