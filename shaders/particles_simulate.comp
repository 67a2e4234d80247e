#version 450
// Simulation: one invocation per slot. Forces, integration, ground, ageing, then the spheres of
// the particle's grid cell in sphere order: the CPU kernel's rules (src/particles/simulate_kernel.h).
// A particle that dies gets life 0 and is left for the compaction pass.
#include "particles_common.glsl"

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.counts.x) return;
    vec4 pa = pos_age[i], vl = vel_life[i];
    if (!(pa.w < vl.w)) return;
    float dt = pc.gravity_dt.w, k = pc.wind_drag.w;
    precise vec3 v = vl.xyz + pc.gravity_dt.xyz + k * (pc.wind_drag.xyz - vl.xyz);
    precise vec3 p = pa.xyz + v * dt;
    if (pc.ground.w != 0.0 && p.y < pc.ground.x) {
        p.y = pc.ground.x;
        if (v.y < 0.0) v.y = -v.y * pc.ground.y;
        v.x *= pc.ground.z;
        v.z *= pc.ground.z;
    }
    precise float age = pa.w + dt;
    if (age >= vl.w) {
        pos_age[i] = vec4(p, 0.0);
        vel_life[i] = vec4(v, 0.0);
        return;
    }
    uint w = pc.counts.w;
    if (w != 0u) {
        float fx = (p.x - pc.grid.x) * pc.grid.z, fz = (p.z - pc.grid.y) * pc.grid.z;
        if (fx >= 0.0 && fx < pc.grid_y.z && fz >= 0.0 && fz < pc.grid_y.w && p.y >= pc.grid_y.x && p.y <= pc.grid_y.y) {
            Cell c = cells[uint(fx) + uint(fz) * w];
            if (c.count != 0u && p.y >= c.min_y && p.y <= c.max_y) {
                for (uint n = 0u; n < c.count; n++) {
                    vec4 s = spheres[items[c.start + n]];
                    vec3 d = p - s.xyz;
                    float d2 = dot(d, d);
                    if (!(d2 < s.w * s.w) || !(d2 > 1e-12)) continue;
                    vec3 nrm = d * (1.0 / sqrt(d2));
                    p = s.xyz + nrm * s.w;
                    float vn = dot(v, nrm);
                    if (vn < 0.0) v = (v - vn * nrm) * pc.ground.z - nrm * (vn * pc.ground.y);
                }
            }
        }
    }
    pos_age[i] = vec4(p, age);
    vel_life[i] = vec4(v, vl.w);
}
