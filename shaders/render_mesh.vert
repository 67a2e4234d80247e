#version 450
// Instanced mesh vertex shader: per-vertex position and normal (binding 0), per-instance index
// (binding 1: the draw order) into the instance storage buffer, which the extraction filled in its
// own order: position, uniform scale, yaw, material and RGBA8 tint.
layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_normal;
layout(location = 2) in uint in_instance;

struct Instance {
    vec3 position;
    float scale;
    float yaw;
    uint material;
    uint color; // RGBA8, R in the low byte
    uint pad;
};
layout(std430, set = 0, binding = 1) readonly buffer Instances {
    Instance instances[];
};

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
    Instance inst = instances[in_instance];
    float c = cos(inst.yaw), s = sin(inst.yaw);
    vec3 p = in_position * inst.scale;
    vec3 rotated = vec3(c * p.x + s * p.z, p.y, -s * p.x + c * p.z);
    vec3 world = rotated + inst.position;
    out_normal = vec3(c * in_normal.x + s * in_normal.z, in_normal.y, -s * in_normal.x + c * in_normal.z);
    out_world = world;
    out_material = inst.material;
    out_color = unpackUnorm4x8(inst.color);
    gl_Position = frame.view_proj * vec4(world, 1.0);
}
