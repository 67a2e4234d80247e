#version 450
// Instanced mesh vertex shader: per-vertex position and normal (binding 0), per-instance position,
// uniform scale, yaw, material and RGBA8 tint (binding 1).
layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_normal;
layout(location = 2) in vec4 in_position_scale;
layout(location = 3) in float in_yaw;
layout(location = 4) in uint in_material;
layout(location = 5) in vec4 in_color;

layout(push_constant) uniform Frame {
    mat4 view_proj;
    vec4 light_dir;   // xyz: direction the light travels
    vec4 light_color;
    vec4 ambient;
    vec4 camera_pos;
} frame;

layout(location = 0) out vec3 out_normal;
layout(location = 1) out vec3 out_world;
layout(location = 2) flat out uint out_material;
layout(location = 3) out vec4 out_color;

void main() {
    float c = cos(in_yaw), s = sin(in_yaw);
    vec3 p = in_position * in_position_scale.w;
    vec3 rotated = vec3(c * p.x + s * p.z, p.y, -s * p.x + c * p.z);
    vec3 world = rotated + in_position_scale.xyz;
    out_normal = vec3(c * in_normal.x + s * in_normal.z, in_normal.y, -s * in_normal.x + c * in_normal.z);
    out_world = world;
    out_material = in_material;
    out_color = in_color;
    gl_Position = frame.view_proj * vec4(world, 1.0);
}
