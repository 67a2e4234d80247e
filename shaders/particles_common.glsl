// Shared by the particle compute shaders: buffer layouts (std430, matching src/particles/gpu.c),
// the push constants and the counter-based RNG of src/particles/particles_internal.h.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

struct Emitter {
    vec4 dir_cos;          // emission direction, cos(spread)
    vec4 tangent_speed0;   // cone tangent, speed_min
    vec4 bitangent_speed1; // cone bitangent, speed_max
    vec4 life;             // lifetime_min, lifetime_max, seed (uint bits), unused
    vec4 color_start, color_end;
    vec4 size;             // size_start, size_end
};

struct Run {
    uint emitter, count, first_sequence, first_id, offset, pad0, pad1, pad2;
    vec4 at;
};

struct Cell {
    uint start, count;
    float min_y, max_y;
};

layout(std430, set = 0, binding = 0) buffer PosAge { vec4 pos_age[]; };     // xyz, age
layout(std430, set = 0, binding = 1) buffer VelLife { vec4 vel_life[]; };   // xyz, life
layout(std430, set = 0, binding = 2) buffer Meta { uvec2 meta[]; };         // id, emitter slot
layout(std430, set = 0, binding = 3) buffer FreeList { uint free_list[]; };
layout(std430, set = 0, binding = 4) buffer AliveList { uint alive_list[]; };
// draw: the indirect draw (vertexCount 6, instanceCount = live); free_count: slots on the free list;
// free_taken: slots taken by this step's emission.
layout(std430, set = 0, binding = 5) buffer Counters {
    uint vertex_count, instance_count, first_vertex, first_instance;
    uint free_count, free_taken, pad0, pad1;
};
layout(std430, set = 0, binding = 6) readonly buffer Emitters { Emitter emitters[]; };
layout(std430, set = 0, binding = 7) readonly buffer Runs { Run runs[]; };
layout(std430, set = 0, binding = 8) readonly buffer Spheres { vec4 spheres[]; }; // centre, radius
layout(std430, set = 0, binding = 9) readonly buffer Cells { Cell cells[]; };
layout(std430, set = 0, binding = 10) readonly buffer Items { uint items[]; };

layout(push_constant) uniform Step {
    vec4 gravity_dt;    // gravity * dt, dt
    vec4 wind_drag;     // wind, min(drag * dt, 1)
    vec4 ground;        // y, restitution, friction, 1: ground on
    vec4 grid;          // min_x, min_z, 1 / cell, unused
    vec4 grid_y;        // min_y, max_y of every sphere, w, h (as floats)
    uvec4 counts;       // capacity, emitted this step, runs, grid width (0: no spheres)
} pc;

uint particle_hash(uint v) {
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

float particle_random(uint key, uint sequence, uint k) {
    return float(particle_hash(key ^ particle_hash(sequence * 8u + k)) >> 8) * (1.0 / 16777216.0);
}
