#version 450
// A soft round particle: alpha falls off toward the quad's edge.
layout(location = 0) in vec4 color;
layout(location = 1) in vec2 corner;
layout(location = 0) out vec4 out_color;

void main() {
    float r2 = dot(corner, corner);
    if (r2 > 1.0) discard;
    out_color = vec4(color.rgb, color.a * (1.0 - r2));
}
