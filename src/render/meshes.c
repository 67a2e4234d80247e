/* Built-in meshes (cube, sphere, capsule, plane, quad), generated into one vertex and one index
 * array. Winding is fixed up per triangle so every face is counter-clockwise seen from outside. */
#include "render_internal.h"

#include <math.h>
#include <string.h>

#define PI_F 3.14159265358979f

typedef struct builder {
    const aw_allocator *a;
    render_geometry *g;
    uint32_t base; /* first vertex of the mesh being built */
    bool failed;
} builder;

static bool grow(builder *b, void **ptr, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return true;
    uint32_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    void *p = aw_realloc(b->a, *ptr, (size_t)*cap * elem, (size_t)n * elem, 16);
    if (!p) return !(b->failed = true);
    *ptr = p;
    *cap = n;
    return true;
}

static uint32_t vertex(builder *b, float px, float py, float pz, float nx, float ny, float nz) {
    render_geometry *g = b->g;
    if (!grow(b, (void **)&g->vertices, &g->vertex_capacity, g->vertex_count + 1, sizeof(render_vertex))) return 0;
    g->vertices[g->vertex_count] = (render_vertex){{px, py, pz}, {nx, ny, nz}};
    return g->vertex_count++ - b->base;
}

/* Adds a triangle of mesh-local indices, swapped if needed so it faces along its normals. */
static void triangle(builder *b, uint32_t i0, uint32_t i1, uint32_t i2) {
    render_geometry *g = b->g;
    if (b->failed || !grow(b, (void **)&g->indices, &g->index_capacity, g->index_count + 3, sizeof(uint32_t))) return;
    const render_vertex *v0 = &g->vertices[b->base + i0], *v1 = &g->vertices[b->base + i1],
                        *v2 = &g->vertices[b->base + i2];
    float e1[3], e2[3], n[3];
    for (int k = 0; k < 3; k++) {
        e1[k] = v1->position[k] - v0->position[k];
        e2[k] = v2->position[k] - v0->position[k];
    }
    n[0] = e1[1] * e2[2] - e1[2] * e2[1];
    n[1] = e1[2] * e2[0] - e1[0] * e2[2];
    n[2] = e1[0] * e2[1] - e1[1] * e2[0];
    float facing = 0.0f;
    for (int k = 0; k < 3; k++) facing += n[k] * (v0->normal[k] + v1->normal[k] + v2->normal[k]);
    if (n[0] == 0.0f && n[1] == 0.0f && n[2] == 0.0f) return; /* degenerate (a pole): drop */
    g->indices[g->index_count++] = i0;
    g->indices[g->index_count++] = facing >= 0.0f ? i1 : i2;
    g->indices[g->index_count++] = facing >= 0.0f ? i2 : i1;
}

static void begin_mesh(builder *b, aw_render_mesh_id id) {
    b->base = b->g->vertex_count;
    b->g->meshes[id].first_index = b->g->index_count;
    b->g->meshes[id].vertex_offset = (int32_t)b->base;
}

static void end_mesh(builder *b, aw_render_mesh_id id) {
    render_geometry *g = b->g;
    render_mesh *m = &g->meshes[id];
    m->index_count = g->index_count - m->first_index;
    float r2 = 0.0f;
    for (uint32_t i = b->base; i < g->vertex_count; i++) {
        const float *p = g->vertices[i].position;
        float d = p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
        if (d > r2) r2 = d;
    }
    m->radius = sqrtf(r2);
}

static void cube(builder *b) {
    static const float axes[6][3][3] = {
        /* normal, u, v */
        {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}},  {{-1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, {{0, 1, 0}, {1, 0, 0}, {0, 0, 1}},
        {{0, -1, 0}, {1, 0, 0}, {0, 0, 1}}, {{0, 0, 1}, {1, 0, 0}, {0, 1, 0}},  {{0, 0, -1}, {1, 0, 0}, {0, 1, 0}},
    };
    for (int f = 0; f < 6; f++) {
        const float *n = axes[f][0], *u = axes[f][1], *v = axes[f][2];
        uint32_t first = 0;
        for (int c = 0; c < 4; c++) {
            float su = (c == 1 || c == 2) ? 0.5f : -0.5f, sv = c >= 2 ? 0.5f : -0.5f;
            float p[3];
            for (int k = 0; k < 3; k++) p[k] = 0.5f * n[k] + su * u[k] + sv * v[k];
            uint32_t i = vertex(b, p[0], p[1], p[2], n[0], n[1], n[2]);
            if (c == 0) first = i;
        }
        triangle(b, first, first + 1, first + 2);
        triangle(b, first, first + 2, first + 3);
    }
}

/* A sphere of `radius` split at its equator by `half_gap` (0: a sphere; > 0: a capsule whose
 * cylinder is 2 * half_gap tall). `stacks` is even so the equator is a ring. */
static void rounded(builder *b, float radius, float half_gap, uint32_t slices, uint32_t stacks) {
    uint32_t rings = 0;
    for (uint32_t i = 0; i <= stacks; i++) {
        /* The equator ring is emitted twice when there is a gap: once per hemisphere. */
        uint32_t copies = (half_gap > 0.0f && i == stacks / 2) ? 2 : 1;
        for (uint32_t c = 0; c < copies; c++) {
            float theta = PI_F * (float)i / (float)stacks;
            float offset = (i < stacks / 2 || (i == stacks / 2 && c == 0)) ? half_gap : -half_gap;
            for (uint32_t j = 0; j <= slices; j++) {
                float phi = 2.0f * PI_F * (float)j / (float)slices;
                float nx = sinf(theta) * cosf(phi), ny = cosf(theta), nz = sinf(theta) * sinf(phi);
                vertex(b, nx * radius, ny * radius + offset, nz * radius, nx, ny, nz);
            }
            rings++;
        }
    }
    uint32_t row = slices + 1;
    for (uint32_t i = 0; i + 1 < rings; i++) {
        for (uint32_t j = 0; j < slices; j++) {
            uint32_t a = i * row + j, bb = (i + 1) * row + j, c = (i + 1) * row + j + 1, d = i * row + j + 1;
            triangle(b, a, bb, c);
            triangle(b, a, c, d);
        }
    }
}

static void flat(builder *b, const float n[3], const float u[3], const float v[3]) {
    uint32_t first = 0;
    for (int c = 0; c < 4; c++) {
        float su = (c == 1 || c == 2) ? 0.5f : -0.5f, sv = c >= 2 ? 0.5f : -0.5f;
        uint32_t i = vertex(b, su * u[0] + sv * v[0], su * u[1] + sv * v[1], su * u[2] + sv * v[2], n[0], n[1], n[2]);
        if (c == 0) first = i;
    }
    triangle(b, first, first + 1, first + 2);
    triangle(b, first, first + 2, first + 3);
}

aw_status render_geometry_build(const aw_allocator *a, render_geometry *g) {
    memset(g, 0, sizeof *g);
    builder b = {.a = a, .g = g};
    begin_mesh(&b, AW_RENDER_MESH_CUBE);
    cube(&b);
    end_mesh(&b, AW_RENDER_MESH_CUBE);
    begin_mesh(&b, AW_RENDER_MESH_SPHERE);
    rounded(&b, 0.5f, 0.0f, 12, 8);
    end_mesh(&b, AW_RENDER_MESH_SPHERE);
    begin_mesh(&b, AW_RENDER_MESH_CAPSULE);
    rounded(&b, 0.25f, 0.25f, 10, 6);
    end_mesh(&b, AW_RENDER_MESH_CAPSULE);
    begin_mesh(&b, AW_RENDER_MESH_PLANE);
    flat(&b, (const float[]){0, 1, 0}, (const float[]){1, 0, 0}, (const float[]){0, 0, 1});
    end_mesh(&b, AW_RENDER_MESH_PLANE);
    begin_mesh(&b, AW_RENDER_MESH_QUAD);
    flat(&b, (const float[]){0, 0, 1}, (const float[]){1, 0, 0}, (const float[]){0, 1, 0});
    end_mesh(&b, AW_RENDER_MESH_QUAD);
    if (b.failed) {
        render_geometry_free(a, g);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "render: out of memory building meshes");
    }
    return AW_OK;
}

void render_geometry_free(const aw_allocator *a, render_geometry *g) {
    aw_free(a, g->vertices, (size_t)g->vertex_capacity * sizeof(render_vertex));
    aw_free(a, g->indices, (size_t)g->index_capacity * sizeof(uint32_t));
    memset(g, 0, sizeof *g);
}
