/* ECS extraction: presentation-phase systems that turn (Position, mesh, material[, style]) into
 * the frame's instance list. render_extract runs in parallel over chunks: frustum culling, instance
 * data and a 64-bit sort key per visible entity, written to the running worker's own list. */
#include "render_internal.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

aw_status aw_render_register_components(aw_world *world, aw_render_components *out) {
    if (!world || !out) return aw_error(AW_ERR_INVALID_ARG, "render: world and out are required");
    static const struct {
        const char *name;
        size_t size, align;
    } defs[3] = {
        {"RenderMesh", sizeof(aw_render_mesh_ref), _Alignof(aw_render_mesh_ref)},
        {"RenderMaterial", sizeof(aw_render_material_ref), _Alignof(aw_render_material_ref)},
        {"RenderStyle", sizeof(aw_render_style), _Alignof(aw_render_style)},
    };
    aw_component ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = aw_component_lookup(world, defs[i].name);
        if (ids[i] && aw_component_size(world, ids[i]) != defs[i].size)
            return aw_error(AW_ERR_SIZE_MISMATCH, "render: component %s exists with another size", defs[i].name);
        if (!ids[i])
            ids[i] = aw_component_register(world, &(aw_component_desc){.name = defs[i].name, .size = defs[i].size,
                                                                       .align = defs[i].align});
        if (!ids[i]) return aw_last_status();
    }
    *out = (aw_render_components){.mesh = ids[0], .material = ids[1], .style = ids[2]};
    return AW_OK;
}

/* Makes room for every entity the query matches (the most a frame can extract) and for as many
 * pieces as the scheduler can cut them into: instances in the storage buffer of the slot the next
 * frame draws from (after that slot's last frame finished), entries on the heap. Single-threaded;
 * allocates only when the world grew. */
static bool reserve_output(aw_renderer *r) {
    uint32_t entities = aw_query_count(r->extract_query);
    uint32_t grain = r->extract.grain ? r->extract.grain : 1024;
    uint64_t chunks = aw_world_get_stats(r->world).chunks_in_use;
    uint64_t pieces = chunks + entities / grain + 1;
    r->output_capacity = 0;
    r->instances = NULL;
    if (pieces > UINT32_MAX / 2) return false;
    uint32_t slot_index = (uint32_t)(r->frame % r->frames_in_flight);
    render_frame_slot *s = &r->slots[slot_index];
    uint64_t t0 = aw_time_ns();
    aw_status st = render_slot_wait(r, s);
    r->begin_wait_ms += (double)(aw_time_ns() - t0) * 1e-6;
    if (!st) st = render_slot_reserve_instances(r, s, entities);
    if (st) return false;
    if (entities > r->key_capacity) {
        uint32_t cap = r->key_capacity ? r->key_capacity : 4096;
        while (cap < entities) cap = cap + cap / 2;
        uint64_t *keys = aw_alloc(r->allocator, (size_t)cap * sizeof(uint64_t), 64);
        if (!keys) return false;
        aw_free(r->allocator, r->instance_keys, (size_t)r->key_capacity * sizeof(uint64_t));
        r->instance_keys = keys;
        r->key_capacity = cap;
    }
    r->instances = s->instances.mapped;
    r->output_capacity = s->instance_capacity < r->key_capacity ? s->instance_capacity : r->key_capacity;
    r->extract_slot = slot_index;
    if (pieces > r->piece_out_capacity) {
        uint32_t cap = (uint32_t)pieces + (uint32_t)pieces / 2 + 16;
        render_piece *p = aw_alloc(r->allocator, (size_t)cap * sizeof(render_piece), 64);
        if (!p) return false;
        aw_free(r->allocator, r->piece_out, (size_t)r->piece_out_capacity * sizeof(render_piece));
        r->piece_out = p;
        r->piece_out_capacity = cap;
    }
    return true;
}

static void render_begin(aw_system_ctx *ctx) {
    aw_renderer *r = ctx->user;
    atomic_store_explicit(&r->output_cursor, 0, memory_order_relaxed);
    atomic_store_explicit(&r->piece_cursor, 0, memory_order_relaxed);
    r->output_overflow = !reserve_output(r);
    r->extract_start_ns = aw_time_ns(); /* after the slot wait: that is the GPU's time, not ours */
    if (r->output_overflow) AW_LOGE("render: out of memory for the frame's instances; entities are skipped");
    for (uint32_t w = 0; w < r->workers; w++) r->tally[w].culled = r->tally[w].skipped = 0;
    memset(r->hist, 0, (size_t)r->workers * sizeof(render_key_hist));
}

/* Frustum test and depth of four entities (positions xyz xyz xyz xyz): bit l of the result is
 * set when entity l's bounding sphere (radius[l]) touches the frustum; depth[l] is its distance
 * along the view, 0..255 between near and far. NaN positions fail every test (culled). The SSE2
 * and scalar bodies compute the same operations in the same order (no fused multiply-add). */
static inline uint32_t cull4(const render_view *v, const float *xyz, const float radius[4], float depth_scale,
                             uint32_t depth[4]) {
#if defined(__SSE2__)
    __m128 a = _mm_loadu_ps(xyz), b = _mm_loadu_ps(xyz + 4), c = _mm_loadu_ps(xyz + 8);
    /* a = x0 y0 z0 x1, b = y1 z1 x2 y2, c = z2 x3 y3 z3 -> x, y, z of the four */
    __m128 x = _mm_shuffle_ps(_mm_shuffle_ps(a, a, _MM_SHUFFLE(3, 0, 3, 0)), _mm_shuffle_ps(b, c, _MM_SHUFFLE(1, 1, 2, 2)),
                              _MM_SHUFFLE(2, 0, 1, 0));
    __m128 y = _mm_shuffle_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(0, 0, 1, 1)), _mm_shuffle_ps(b, c, _MM_SHUFFLE(2, 2, 3, 3)),
                              _MM_SHUFFLE(2, 0, 2, 0));
    __m128 z = _mm_shuffle_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(1, 1, 2, 2)), _mm_shuffle_ps(c, c, _MM_SHUFFLE(3, 3, 0, 0)),
                              _MM_SHUFFLE(2, 0, 2, 0));
    __m128 neg_r = _mm_sub_ps(_mm_setzero_ps(), _mm_loadu_ps(radius));
    __m128 inside = _mm_castsi128_ps(_mm_set1_epi32(-1));
    for (int p = 0; p < 6; p++) {
        const float *pl = v->planes[p];
        __m128 d = _mm_add_ps(_mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_set1_ps(pl[0]), x), _mm_mul_ps(_mm_set1_ps(pl[1]), y)),
                                         _mm_mul_ps(_mm_set1_ps(pl[2]), z)),
                              _mm_set1_ps(pl[3]));
        inside = _mm_and_ps(inside, _mm_cmpge_ps(d, neg_r));
    }
    __m128 dz = _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_sub_ps(x, _mm_set1_ps(v->position[0])), _mm_set1_ps(v->forward[0])),
                                      _mm_mul_ps(_mm_sub_ps(y, _mm_set1_ps(v->position[1])), _mm_set1_ps(v->forward[1]))),
                           _mm_mul_ps(_mm_sub_ps(z, _mm_set1_ps(v->position[2])), _mm_set1_ps(v->forward[2])));
    __m128 q = _mm_mul_ps(_mm_sub_ps(dz, _mm_set1_ps(v->near_z)), _mm_set1_ps(depth_scale));
    q = _mm_min_ps(_mm_max_ps(q, _mm_setzero_ps()), _mm_set1_ps(255.0f)); /* NaN (culled anyway): 255 */
    _mm_storeu_si128((__m128i *)(void *)depth, _mm_cvttps_epi32(q));
    return (uint32_t)_mm_movemask_ps(inside);
#else
    uint32_t mask = 0;
    for (int l = 0; l < 4; l++) {
        float x = xyz[3 * l], y = xyz[3 * l + 1], z = xyz[3 * l + 2];
        bool inside = true;
        for (int p = 0; p < 6; p++) {
            const float *pl = v->planes[p];
            float d = pl[0] * x + pl[1] * y;
            d = d + pl[2] * z;
            d = d + pl[3];
            inside = inside && d >= -radius[l];
        }
        float dz = (x - v->position[0]) * v->forward[0] + (y - v->position[1]) * v->forward[1];
        dz = dz + (z - v->position[2]) * v->forward[2];
        float q = (dz - v->near_z) * depth_scale;
        depth[l] = q > 0.0f ? q < 255.0f ? (uint32_t)q : 255u : 0u;
        mask |= (uint32_t)inside << l;
    }
    return mask;
#endif
}

static void render_extract(aw_system_ctx *ctx, const aw_iter *it) {
    aw_renderer *r = ctx->user;
    uint32_t worker = ctx->worker < r->workers ? ctx->worker : 0;
    render_worker_tally *tally = &r->tally[worker];
    render_key_hist *hist = &r->hist[worker];
    uint32_t begin = atomic_fetch_add_explicit(&r->output_cursor, it->count, memory_order_relaxed);
    uint32_t piece = atomic_fetch_add_explicit(&r->piece_cursor, 1, memory_order_relaxed);
    if (begin + (uint64_t)it->count > r->output_capacity || piece >= r->piece_out_capacity) {
        tally->skipped += it->count; /* only after render_begin failed to reserve */
        if (piece < r->piece_out_capacity) r->piece_out[piece] = (render_piece){.task = ctx->task, .begin = 0, .count = 0};
        return;
    }
    const aw_render_extract_desc *d = &r->extract;
    const float *pos = it->columns[0];
    const uint32_t *mesh_values = it->columns[1];
    const uint32_t *material_values = r->material_term >= 0 ? it->columns[r->material_term] : mesh_values;
    const aw_render_style *styles = r->style_term >= 0 ? it->columns[r->style_term] : NULL;
    /* With tag rules the mesh term is optional: a chunk without it takes the first rule whose tag
     * it has (one mesh and material for the whole chunk), or draws nothing. */
    const aw_render_extract_rule *rule = NULL;
    const uint8_t *select = NULL; /* the rule's selector bytes, select_stride apart */
    size_t select_stride = 0;
    if (!mesh_values) {
        for (uint32_t k = 0; k < d->rule_count && !rule; k++) {
            if (!it->columns[r->rule_term + (int)k]) continue;
            rule = &d->rules[k];
            if (rule->select_count) {
                select = (const uint8_t *)it->columns[r->rule_term + (int)k] + rule->select_offset;
                select_stride = r->rule_size[k];
            }
        }
        if (!rule) {
            r->piece_out[piece] = (render_piece){.task = ctx->task, .begin = begin, .count = 0};
            return;
        }
    } else if (!material_values) {
        tally->skipped += it->count; /* has a mesh but not the declared material component */
        r->piece_out[piece] = (render_piece){.task = ctx->task, .begin = begin, .count = 0};
        return;
    }
    float default_scale = rule && rule->scale != 0.0f ? rule->scale : 1.0f;
    uint32_t default_color = rule && rule->color ? rule->color : 0xffffffffu;
    const render_view *v = &r->view;
    const render_mesh *meshes = r->geometry.meshes;
    render_instance *out = r->instances;
    uint64_t *keys = r->instance_keys;
    float depth_scale = 255.0f / (v->far_z - v->near_z);
    uint32_t n = begin, culled = 0, skipped = 0;
    /* Four entities at a time: their ids resolved one by one, then culled and given a depth
     * together (cull4), then the visible ones written out in order. */
    for (uint32_t base = 0; base < it->count; base += 4) {
        uint32_t lanes = it->count - base < 4 ? it->count - base : 4;
        uint32_t mesh[4], material[4], valid = 0;
        float scale[4], radius[4] = {0, 0, 0, 0}, xyz[12];
        for (uint32_t l = 0; l < lanes; l++) {
            uint32_t i = base + l;
            if (rule) {
                mesh[l] = rule->mesh;
                material[l] = rule->material;
                if (select) {
                    uint32_t which = select[i * select_stride];
                    material[l] = which < rule->select_count ? rule->select_materials[which] : UINT32_MAX;
                }
            } else {
                mesh[l] = mesh_values[i], material[l] = material_values[i];
                if (d->mesh_map) mesh[l] = mesh[l] < d->mesh_map_count ? r->mesh_map[mesh[l]] : UINT32_MAX;
                if (d->material_map)
                    material[l] = material[l] < d->material_map_count ? r->material_map[material[l]] : UINT32_MAX;
            }
            scale[l] = styles ? styles[i].scale : default_scale;
            if (mesh[l] < AW_RENDER_MESH_COUNT && material[l] < r->material_count) {
                valid |= 1u << l;
                radius[l] = meshes[mesh[l]].radius * fabsf(scale[l]);
            }
        }
        const float *p = pos + 3 * (size_t)base;
        if (lanes < 4) { /* the chunk's tail: pad with lanes that are never written out */
            memset(xyz, 0, sizeof xyz);
            memcpy(xyz, p, (size_t)lanes * 3 * sizeof(float));
            p = xyz;
        }
        uint32_t depth[4];
        uint32_t visible = cull4(v, p, radius, depth_scale, depth) & valid;
        skipped += lanes - (uint32_t)__builtin_popcount(valid);
        culled += (uint32_t)__builtin_popcount(valid) - (uint32_t)__builtin_popcount(visible);
        for (; visible; visible &= visible - 1) {
            uint32_t l = (uint32_t)__builtin_ctz(visible), i = base + l;
            out[n] = (render_instance){
                .position = {p[3 * l], p[3 * l + 1], p[3 * l + 2]},
                .scale = scale[l],
                .yaw = styles ? styles[i].yaw : 0.0f,
                .material = material[l],
                .color = styles ? styles[i].color : default_color,
            };
            uint64_t entry = RENDER_ENTRY(RENDER_KEY(0u, material[l], mesh[l], depth[l]), n);
            keys[n] = entry;
            /* The sort's histograms, counted here while the entry is in a register. */
            for (int g = 0; g < RENDER_DIGITS; g++) hist->bins[g][RENDER_ENTRY_DIGIT(entry, g)]++;
            n++;
        }
    }
    tally->culled += culled;
    tally->skipped += skipped;
    r->piece_out[piece] = (render_piece){.task = ctx->task, .begin = begin, .count = n - begin};
}

static void render_prepare_system(aw_system_ctx *ctx) {
    aw_renderer *r = ctx->user;
    if (render_prepare(r) != AW_OK) AW_LOGE("render: %s", aw_last_error());
}

aw_status aw_render_extract_register(aw_renderer *r, aw_world *world, const aw_render_extract_desc *desc) {
    if (!r || !world || !desc) return aw_error(AW_ERR_INVALID_ARG, "render extract: NULL argument");
    if (r->world) return aw_error(AW_ERR_ALREADY_PRESENT, "render extract: already registered on a world");
    if (!desc->position || !desc->mesh) return aw_error(AW_ERR_INVALID_ARG, "render extract: position and mesh are required");
    if (aw_component_size(world, desc->position) != 3 * sizeof(float))
        return aw_error(AW_ERR_SIZE_MISMATCH, "render extract: position must be 3 floats");
    if (aw_component_size(world, desc->mesh) < sizeof(uint32_t) ||
        (desc->material && aw_component_size(world, desc->material) < sizeof(uint32_t)))
        return aw_error(AW_ERR_SIZE_MISMATCH, "render extract: mesh and material components start with a uint32");
    if (desc->style && aw_component_size(world, desc->style) != sizeof(aw_render_style))
        return aw_error(AW_ERR_SIZE_MISMATCH, "render extract: style must be an aw_render_style");
    if ((desc->mesh_map && (desc->mesh_map_count == 0 || desc->mesh_map_count > 256)) ||
        (desc->material_map && (desc->material_map_count == 0 || desc->material_map_count > 4096)))
        return aw_error(AW_ERR_INVALID_ARG, "render extract: maps hold 1..256 meshes and 1..4096 materials");
    if (aw_component_size(world, desc->mesh) != sizeof(uint32_t) ||
        (desc->material && aw_component_size(world, desc->material) != sizeof(uint32_t)))
        return aw_error(AW_ERR_SIZE_MISMATCH, "render extract: mesh and material components are one uint32");
    if (desc->rule_count > AW_RENDER_MAX_RULES)
        return aw_error(AW_ERR_INVALID_ARG, "render extract: at most %u tag rules, got %u", AW_RENDER_MAX_RULES,
                        desc->rule_count);
    for (uint32_t k = 0; k < desc->rule_count; k++) {
        const aw_render_extract_rule *rule = &desc->rules[k];
        if (!rule->tag || !aw_component_size(world, rule->tag)) /* a tag without data has no column to find */
            return aw_error(AW_ERR_INVALID_ARG, "render extract: rule %u names no registered component with data", k);
        if (rule->tag == desc->position || rule->tag == desc->mesh || rule->tag == desc->material || rule->tag == desc->style)
            return aw_error(AW_ERR_INVALID_ARG, "render extract: rule %u's tag is one of the render components", k);
        if (rule->select_count > AW_RENDER_RULE_MAX_SELECT ||
            (rule->select_count && rule->select_offset >= aw_component_size(world, rule->tag)))
            return aw_error(AW_ERR_INVALID_ARG, "render extract: rule %u selects by byte %u of a %zu-byte component "
                            "among %u materials (at most %u)", k, rule->select_offset, aw_component_size(world, rule->tag),
                            rule->select_count, AW_RENDER_RULE_MAX_SELECT);
        if (rule->mesh >= AW_RENDER_MESH_COUNT || !isfinite(rule->scale))
            return aw_error(AW_ERR_INVALID_ARG, "render extract: rule %u has mesh %u (of %u) and scale %g", k, rule->mesh,
                            (unsigned)AW_RENDER_MESH_COUNT, (double)rule->scale);
    }
    aw_jobs *jobs = aw_world_jobs(world);
    uint32_t threads = jobs ? aw_jobs_thread_count(jobs) : 1;
    if (threads > RENDER_MAX_WORKERS)
        return aw_error(AW_ERR_CAPACITY, "render extract: at most %u threads", RENDER_MAX_WORKERS);

    r->extract = *desc;
    for (uint32_t k = 0; k < desc->rule_count; k++) r->rule_size[k] = (uint32_t)aw_component_size(world, desc->rules[k].tag);
    if (desc->mesh_map) memcpy(r->mesh_map, desc->mesh_map, desc->mesh_map_count * sizeof(uint32_t));
    if (desc->material_map) memcpy(r->material_map, desc->material_map, desc->material_map_count * sizeof(uint32_t));
    aw_free(r->allocator, r->hist, (size_t)r->workers * sizeof(render_key_hist)); /* an earlier failed try */
    r->workers = 0;
    r->hist = aw_alloc(r->allocator, (size_t)threads * sizeof(render_key_hist), 64);
    if (!r->hist) return aw_error(AW_ERR_OUT_OF_MEMORY, "render extract: out of memory for %u histograms", threads);
    r->workers = threads;
    r->jobs = jobs;
    uint32_t phase = desc->phase ? desc->phase : AW_PHASE_PRESENTATION;

    /* With tag rules the mesh and material terms become optional and each rule's tag is an optional
     * term: the query then matches every entity with a position, and render_extract passes over
     * chunks that carry neither a mesh nor a tag. */
    bool rules = desc->rule_count > 0;
    aw_term terms[4 + AW_RENDER_MAX_RULES];
    uint32_t term_count = 0;
    terms[term_count++] = (aw_term)AW_READ(desc->position);
    terms[term_count++] = rules ? (aw_term)AW_OPTIONAL(desc->mesh, AW_ACCESS_READ) : (aw_term)AW_READ(desc->mesh);
    r->material_term = r->style_term = r->rule_term = -1;
    if (desc->material) {
        r->material_term = (int)term_count;
        terms[term_count++] = rules ? (aw_term)AW_OPTIONAL(desc->material, AW_ACCESS_READ) : (aw_term)AW_READ(desc->material);
    }
    if (desc->style) {
        r->style_term = (int)term_count;
        terms[term_count++] = (aw_term){.component = desc->style, .oper = AW_TERM_OPTIONAL, .access = AW_ACCESS_READ};
    }
    if (rules) {
        r->rule_term = (int)term_count;
        for (uint32_t k = 0; k < desc->rule_count; k++) terms[term_count++] = (aw_term)AW_OPTIONAL(desc->rules[k].tag, AW_ACCESS_READ);
    }
    r->extract_query = aw_query_create(world, &(aw_query_desc){.terms = terms, .term_count = term_count});
    if (!r->extract_query) return aw_last_status();
    static const char *const after_begin[] = {"render_begin"};
    static const char *const after_extract[] = {"render_extract"};
    if (!aw_system_register(world, &(aw_system_desc){.name = "render_begin", .phase = phase, .run = render_begin, .user = r}))
        return aw_last_status();
    if (!aw_system_register(world, &(aw_system_desc){.name = "render_extract",
                                                     .phase = phase,
                                                     .query = {.terms = terms, .term_count = term_count},
                                                     .each = render_extract,
                                                     .grain = desc->grain,
                                                     .after = after_begin,
                                                     .after_count = 1,
                                                     .user = r}))
        return aw_last_status();
    if (!aw_system_register(world, &(aw_system_desc){.name = "render_prepare",
                                                     .phase = phase,
                                                     .run = render_prepare_system,
                                                     .after = after_extract,
                                                     .after_count = 1,
                                                     .user = r}))
        return aw_last_status();
    r->world = world;
    return AW_OK;
}
