#version 450
// Billboards: instance n draws live particle alive_list[n] as a camera-facing quad (two
// triangles, six vertices) with its emitter's colour and size over life.
struct Emitter {
    vec4 dir_cos, tangent_speed0, bitangent_speed1, life, color_start, color_end, size;
};
layout(std430, set = 0, binding = 0) readonly buffer PosAge { vec4 pos_age[]; };
layout(std430, set = 0, binding = 1) readonly buffer VelLife { vec4 vel_life[]; };
layout(std430, set = 0, binding = 2) readonly buffer Meta { uvec2 meta[]; };
layout(std430, set = 0, binding = 4) readonly buffer AliveList { uint alive_list[]; };
layout(std430, set = 0, binding = 6) readonly buffer Emitters { Emitter emitters[]; };

layout(push_constant) uniform Camera {
    mat4 view_proj;
    vec4 right, up;
} cam;

layout(location = 0) out vec4 color;
layout(location = 1) out vec2 corner;

const vec2 corners[6] = vec2[](vec2(-1, -1), vec2(1, -1), vec2(1, 1), vec2(-1, -1), vec2(1, 1), vec2(-1, 1));

void main() {
    uint i = alive_list[gl_InstanceIndex];
    vec4 pa = pos_age[i];
    Emitter e = emitters[meta[i].y];
    float t = clamp(pa.w / vel_life[i].w, 0.0, 1.0);
    float size = mix(e.size.x, e.size.y, t);
    corner = corners[gl_VertexIndex];
    vec3 world = pa.xyz + (cam.right.xyz * corner.x + cam.up.xyz * corner.y) * (0.5 * size);
    color = mix(e.color_start, e.color_end, t);
    gl_Position = cam.view_proj * vec4(world, 1.0);
}
