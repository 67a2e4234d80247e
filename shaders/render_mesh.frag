#version 450
// Mesh fragment shader: material base colour times the instance tint, one directional light
// (Lambert plus a Blinn-Phong highlight that roughness widens and dims) and an ambient term.
layout(location = 0) in vec3 in_normal;
layout(location = 1) in vec3 in_world;
layout(location = 2) flat in uint in_material;
layout(location = 3) in vec4 in_color;

struct Material {
    vec4 base_color;
    vec4 params; // x: roughness
};
layout(std140, set = 0, binding = 0) uniform Materials { Material materials[256]; };

layout(push_constant) uniform Frame {
    mat4 view_proj;
    vec4 light_dir;
    vec4 light_color;
    vec4 ambient;
    vec4 camera_pos;
} frame;

layout(location = 0) out vec4 out_color;

void main() {
    Material m = materials[in_material];
    vec3 n = normalize(in_normal);
    vec3 l = -frame.light_dir.xyz;
    vec3 v = normalize(frame.camera_pos.xyz - in_world);
    vec3 h = normalize(l + v);
    float roughness = clamp(m.params.x, 0.0, 1.0);
    float diffuse = max(dot(n, l), 0.0);
    float shininess = mix(64.0, 2.0, roughness);
    float specular = (1.0 - roughness) * pow(max(dot(n, h), 0.0), shininess) * step(0.0, dot(n, l));
    vec3 base = m.base_color.rgb * in_color.rgb;
    vec3 lit = base * (frame.ambient.rgb + diffuse * frame.light_color.rgb) + specular * frame.light_color.rgb * 0.5;
    out_color = vec4(clamp(lit, 0.0, 1.0), m.base_color.a * in_color.a);
}
