#version 450
// Test kernel for tests/gpu: out[i] = i * scale + bias, for i < count.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) buffer Out { uint values[]; };
layout(push_constant) uniform Params { uint count; uint scale; uint bias; } params;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < params.count) values[i] = i * params.scale + params.bias;
}
