/* The GPU path: particle buffers on the device, per-step uploads (emitters, emission runs, the
 * sphere grid), the emit, simulate and compact compute kernels with atomic counters, readback for
 * tests and tools, and the billboard draw through the renderer's hooks. */
#include "particles/particles_internal.h"

#include "aw/gpu_vulkan.h"
#include "aw/particles_vulkan.h"
#include "particles_spirv.h"

#include <string.h>

#define GROUP_SIZE 256u
#define BINDINGS   11u

/* std430 mirrors of shaders/particles_common.glsl. */
typedef struct gpu_emitter {
    float dir_cos[4], tangent_speed0[4], bitangent_speed1[4], life[4], color_start[4], color_end[4], size[4];
} gpu_emitter;
typedef struct gpu_run {
    uint32_t emitter, count, first_sequence, first_id, offset, pad[3];
    float at[4];
} gpu_run;
typedef struct gpu_cell {
    uint32_t start, count;
    float min_y, max_y;
} gpu_cell;
typedef struct gpu_counters {
    uint32_t vertex_count, instance_count, first_vertex, first_instance;
    uint32_t free_count, free_taken, pad[2];
} gpu_counters;
typedef struct gpu_push {
    float gravity_dt[4], wind_drag[4], ground[4], grid[4], grid_y[4];
    uint32_t counts[4];
} gpu_push;
typedef struct camera_push {
    float view_proj[16], right[4], up[4];
} camera_push;

enum { B_POS_AGE, B_VEL_LIFE, B_META, B_FREE, B_ALIVE, B_COUNTERS, B_EMITTERS, B_RUNS, B_SPHERES, B_CELLS, B_ITEMS };

struct particles_gpu {
    aw_gpu *gpu;
    VkDevice dev;
    aw_gpu_buffer buf[BINDINGS];
    aw_gpu_buffer readback; /* made on the first aw_particles_read */
    VkDescriptorSetLayout set_layout;
    VkDescriptorPool pool;
    VkDescriptorSet set;
    VkPipelineLayout compute_layout, draw_layout;
    VkPipeline emit, simulate, compact, draw;
    VkFormat draw_color, draw_depth;
    uint32_t run_count, max_runs, emitted;
    bool synced; /* the SoA mirror holds the device's state */
};

static aw_status make_buffer(particles_gpu *g, uint32_t b, VkDeviceSize size, VkBufferUsageFlags usage, aw_gpu_memory mem) {
    return aw_gpu_buffer_create(g->gpu, size, usage | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, mem, &g->buf[b]);
}

static aw_status make_compute(particles_gpu *g, const uint32_t *code, size_t size, VkPipeline *out) {
    VkShaderModule module;
    aw_status st = aw_gpu_shader_from_spirv(g->gpu, code, size, &module);
    if (st) return st;
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main"},
        .layout = g->compute_layout,
    };
    st = aw_gpu_check(vkCreateComputePipelines(g->dev, VK_NULL_HANDLE, 1, &info, NULL, out), "particles: compute pipeline");
    vkDestroyShaderModule(g->dev, module, NULL);
    return st;
}

/* Initial device state: every slot free (the free list holds 0..capacity-1), nothing alive. */
typedef struct init_ctx {
    particles_gpu *g;
    aw_gpu_buffer *staging;
    uint32_t capacity;
} init_ctx;

static void record_init(VkCommandBuffer cmd, void *user) {
    init_ctx *c = user;
    particles_gpu *g = c->g;
    vkCmdFillBuffer(cmd, g->buf[B_POS_AGE].buffer, 0, VK_WHOLE_SIZE, 0);
    vkCmdFillBuffer(cmd, g->buf[B_VEL_LIFE].buffer, 0, VK_WHOLE_SIZE, 0);
    vkCmdFillBuffer(cmd, g->buf[B_META].buffer, 0, VK_WHOLE_SIZE, 0);
    vkCmdCopyBuffer(cmd, c->staging->buffer, g->buf[B_FREE].buffer, 1,
                    &(VkBufferCopy){.size = (VkDeviceSize)c->capacity * sizeof(uint32_t)});
}

static void write_descriptors(particles_gpu *g) {
    VkDescriptorBufferInfo infos[BINDINGS];
    VkWriteDescriptorSet writes[BINDINGS];
    for (uint32_t b = 0; b < BINDINGS; b++) {
        infos[b] = (VkDescriptorBufferInfo){.buffer = g->buf[b].buffer, .range = VK_WHOLE_SIZE};
        writes[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = g->set,
                                           .dstBinding = b,
                                           .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &infos[b]};
    }
    vkUpdateDescriptorSets(g->dev, BINDINGS, writes, 0, NULL);
}

static aw_status create_layouts(particles_gpu *g) {
    VkDescriptorSetLayoutBinding bindings[BINDINGS];
    for (uint32_t b = 0; b < BINDINGS; b++)
        bindings[b] = (VkDescriptorSetLayoutBinding){.binding = b,
                                                     .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                     .descriptorCount = 1,
                                                     .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT | VK_SHADER_STAGE_VERTEX_BIT};
    aw_status st = aw_gpu_check(
        vkCreateDescriptorSetLayout(g->dev,
                                    &(VkDescriptorSetLayoutCreateInfo){.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                                       .bindingCount = BINDINGS,
                                                                       .pBindings = bindings},
                                    NULL, &g->set_layout),
        "particles: descriptor set layout");
    if (st) return st;
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = BINDINGS};
    st = aw_gpu_check(vkCreateDescriptorPool(g->dev,
                                             &(VkDescriptorPoolCreateInfo){.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                                                           .maxSets = 1,
                                                                           .poolSizeCount = 1,
                                                                           .pPoolSizes = &size},
                                             NULL, &g->pool),
                      "particles: descriptor pool");
    if (st) return st;
    st = aw_gpu_check(vkAllocateDescriptorSets(g->dev,
                                               &(VkDescriptorSetAllocateInfo){.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                                                              .descriptorPool = g->pool,
                                                                              .descriptorSetCount = 1,
                                                                              .pSetLayouts = &g->set_layout},
                                               &g->set),
                      "particles: descriptor set");
    if (st) return st;
    VkPushConstantRange compute_push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = sizeof(gpu_push)};
    st = aw_gpu_check(vkCreatePipelineLayout(g->dev,
                                             &(VkPipelineLayoutCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                                                           .setLayoutCount = 1,
                                                                           .pSetLayouts = &g->set_layout,
                                                                           .pushConstantRangeCount = 1,
                                                                           .pPushConstantRanges = &compute_push},
                                             NULL, &g->compute_layout),
                      "particles: compute pipeline layout");
    if (st) return st;
    VkPushConstantRange draw_push = {.stageFlags = VK_SHADER_STAGE_VERTEX_BIT, .size = sizeof(camera_push)};
    return aw_gpu_check(vkCreatePipelineLayout(g->dev,
                                               &(VkPipelineLayoutCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                                                             .setLayoutCount = 1,
                                                                             .pSetLayouts = &g->set_layout,
                                                                             .pushConstantRangeCount = 1,
                                                                             .pPushConstantRanges = &draw_push},
                                               NULL, &g->draw_layout),
                        "particles: draw pipeline layout");
}

aw_status particles_gpu_create(aw_particles *ps, aw_gpu *gpu) {
    if (!gpu) return aw_error(AW_ERR_UNAVAILABLE, "particles: no GPU device given");
    const aw_gpu_vk *vk = aw_gpu_vulkan(gpu);
    uint64_t groups = ((uint64_t)ps->capacity + GROUP_SIZE - 1u) / GROUP_SIZE;
    if (groups > vk->limits.maxComputeWorkGroupCount[0])
        return aw_error(AW_ERR_UNSUPPORTED, "particles: %u particles need %llu work groups; the device allows %u",
                        ps->capacity, (unsigned long long)groups, vk->limits.maxComputeWorkGroupCount[0]);
    particles_gpu *g = aw_alloc(ps->allocator, sizeof *g, _Alignof(particles_gpu));
    if (!g) return aw_error(AW_ERR_OUT_OF_MEMORY, "particles: out of memory");
    *g = (particles_gpu){.gpu = gpu, .dev = vk->device};
    ps->gpu = g;
    g->max_runs = ps->max_emitters + ps->max_bursts;
    VkDeviceSize n = ps->capacity;
    const VkBufferUsageFlags copy = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    aw_status st = make_buffer(g, B_POS_AGE, n * 16u, copy, AW_GPU_MEMORY_DEVICE);
    if (!st) st = make_buffer(g, B_VEL_LIFE, n * 16u, copy, AW_GPU_MEMORY_DEVICE);
    if (!st) st = make_buffer(g, B_META, n * 8u, copy, AW_GPU_MEMORY_DEVICE);
    if (!st) st = make_buffer(g, B_FREE, n * 4u, copy, AW_GPU_MEMORY_DEVICE);
    if (!st) st = make_buffer(g, B_ALIVE, n * 4u, copy, AW_GPU_MEMORY_DEVICE);
    if (!st)
        st = make_buffer(g, B_COUNTERS, sizeof(gpu_counters), copy | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT,
                         AW_GPU_MEMORY_READBACK);
    if (!st) st = make_buffer(g, B_EMITTERS, (VkDeviceSize)ps->max_emitters * sizeof(gpu_emitter), 0, AW_GPU_MEMORY_UPLOAD);
    if (!st) st = make_buffer(g, B_RUNS, (VkDeviceSize)g->max_runs * sizeof(gpu_run), 0, AW_GPU_MEMORY_UPLOAD);
    if (!st) st = make_buffer(g, B_SPHERES, (VkDeviceSize)ps->max_spheres * 16u, 0, AW_GPU_MEMORY_UPLOAD);
    if (!st)
        st = make_buffer(g, B_CELLS, (VkDeviceSize)SPHERE_GRID_MAX_SIDE * SPHERE_GRID_MAX_SIDE * sizeof(gpu_cell), 0,
                         AW_GPU_MEMORY_UPLOAD);
    if (!st)
        st = make_buffer(g, B_ITEMS, particles_grid_items_capacity(ps->max_spheres) * sizeof(uint32_t), 0,
                         AW_GPU_MEMORY_UPLOAD);
    if (!st) st = create_layouts(g);
    if (!st) st = make_compute(g, aw_spirv_particles_emit_comp, aw_spirv_particles_emit_comp_size, &g->emit);
    if (!st)
        st = make_compute(g, aw_spirv_particles_simulate_comp, aw_spirv_particles_simulate_comp_size, &g->simulate);
    if (!st) st = make_compute(g, aw_spirv_particles_compact_comp, aw_spirv_particles_compact_comp_size, &g->compact);
    if (st) return st;
    write_descriptors(g);

    /* Counters: a draw of 6 vertices per instance, every slot on the free list. */
    gpu_counters *c = g->buf[B_COUNTERS].mapped;
    *c = (gpu_counters){.vertex_count = 6, .free_count = ps->capacity};
    st = aw_gpu_buffer_flush(gpu, &g->buf[B_COUNTERS], 0, VK_WHOLE_SIZE);
    aw_gpu_buffer staging;
    if (!st) st = aw_gpu_buffer_create(gpu, n * 4u, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, AW_GPU_MEMORY_UPLOAD, &staging);
    if (st) return st;
    uint32_t *slots = staging.mapped;
    for (uint32_t i = 0; i < ps->capacity; i++) slots[i] = i;
    st = aw_gpu_buffer_flush(gpu, &staging, 0, VK_WHOLE_SIZE);
    init_ctx ic = {.g = g, .staging = &staging, .capacity = ps->capacity};
    if (!st) st = aw_gpu_submit_once(gpu, record_init, &ic);
    aw_gpu_buffer_destroy(gpu, &staging);
    return st;
}

void particles_gpu_destroy(aw_particles *ps) {
    particles_gpu *g = ps ? ps->gpu : NULL;
    if (!g) return;
    aw_gpu_wait_idle(g->gpu);
    VkPipeline pipes[] = {g->emit, g->simulate, g->compact, g->draw};
    for (size_t i = 0; i < 4; i++)
        if (pipes[i]) vkDestroyPipeline(g->dev, pipes[i], NULL);
    if (g->compute_layout) vkDestroyPipelineLayout(g->dev, g->compute_layout, NULL);
    if (g->draw_layout) vkDestroyPipelineLayout(g->dev, g->draw_layout, NULL);
    if (g->pool) vkDestroyDescriptorPool(g->dev, g->pool, NULL);
    if (g->set_layout) vkDestroyDescriptorSetLayout(g->dev, g->set_layout, NULL);
    for (uint32_t b = 0; b < BINDINGS; b++) aw_gpu_buffer_destroy(g->gpu, &g->buf[b]);
    aw_gpu_buffer_destroy(g->gpu, &g->readback);
    aw_free(ps->allocator, g, sizeof *g);
    ps->gpu = NULL;
}

void particles_gpu_add_run(aw_particles *ps, uint32_t emitter, aw_vec3 at, uint32_t count, uint32_t first_sequence,
                           uint32_t first_id) {
    particles_gpu *g = ps->gpu;
    if (g->run_count == g->max_runs) return; /* cannot happen: one run per emitter and per burst */
    gpu_run *r = (gpu_run *)g->buf[B_RUNS].mapped + g->run_count++;
    *r = (gpu_run){.emitter = emitter,
                   .count = count,
                   .first_sequence = first_sequence,
                   .first_id = first_id,
                   .offset = g->emitted,
                   .at = {at.x, at.y, at.z, 0.0f}};
    g->emitted += count;
}

static void upload_emitters(aw_particles *ps) {
    gpu_emitter *out = ps->gpu->buf[B_EMITTERS].mapped;
    for (uint32_t i = 0; i < ps->max_emitters; i++) {
        const emitter_slot *e = &ps->emitters[i];
        if (!e->used && e->generation == 0) continue; /* never used: no particle refers to it */
        const aw_emitter_desc *d = &e->desc;
        gpu_emitter *o = &out[i];
        *o = (gpu_emitter){.dir_cos = {e->dir.x, e->dir.y, e->dir.z, e->cos_spread},
                           .tangent_speed0 = {e->tangent.x, e->tangent.y, e->tangent.z, d->speed_min},
                           .bitangent_speed1 = {e->bitangent.x, e->bitangent.y, e->bitangent.z, d->speed_max},
                           .life = {d->lifetime_min, d->lifetime_max, 0.0f, 0.0f},
                           .size = {d->size_start, d->size_end, 0.0f, 0.0f}};
        memcpy(&o->life[2], &e->seed32, sizeof(uint32_t));
        memcpy(o->color_start, d->color_start, sizeof o->color_start);
        memcpy(o->color_end, d->color_end, sizeof o->color_end);
    }
}

static void upload_grid(aw_particles *ps) {
    particles_gpu *g = ps->gpu;
    const sphere_grid *grid = &ps->grid;
    if (!grid->w) return;
    float *spheres = g->buf[B_SPHERES].mapped;
    for (uint32_t i = 0; i < ps->sphere_count; i++) {
        const aw_particle_sphere *s = &ps->spheres[i];
        spheres[4 * i] = s->center.x, spheres[4 * i + 1] = s->center.y, spheres[4 * i + 2] = s->center.z;
        spheres[4 * i + 3] = s->radius;
    }
    gpu_cell *cells = g->buf[B_CELLS].mapped;
    size_t count = (size_t)grid->w * (size_t)grid->h, items = 0;
    for (size_t c = 0; c < count; c++) {
        cells[c] = (gpu_cell){grid->cell_start[c], grid->cell_count[c], grid->cell_min_y[c], grid->cell_max_y[c]};
        items += grid->cell_count[c];
    }
    memcpy(g->buf[B_ITEMS].mapped, grid->items, items * sizeof(uint32_t));
}

typedef struct step_ctx {
    particles_gpu *g;
    gpu_push push;
    uint32_t capacity;
} step_ctx;

static void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
                    VkAccessFlags dst_access) {
    VkMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &b, 0, NULL, 0, NULL);
}

#define COMPUTE VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
#define TRANSFER VK_PIPELINE_STAGE_TRANSFER_BIT
#define RW (VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT)

static void record_step(VkCommandBuffer cmd, void *user) {
    step_ctx *c = user;
    particles_gpu *g = c->g;
    VkBuffer counters = g->buf[B_COUNTERS].buffer;
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, g->compute_layout, 0, 1, &g->set, 0, NULL);
    vkCmdPushConstants(cmd, g->compute_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof c->push, &c->push);
    /* The previous frame's draw read these buffers; emission starts with no slot taken. */
    barrier(cmd, COMPUTE | VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT | VK_PIPELINE_STAGE_VERTEX_SHADER_BIT,
            RW | VK_ACCESS_INDIRECT_COMMAND_READ_BIT, TRANSFER, VK_ACCESS_TRANSFER_WRITE_BIT);
    vkCmdFillBuffer(cmd, counters, offsetof(gpu_counters, free_taken), 4, 0);
    barrier(cmd, TRANSFER, VK_ACCESS_TRANSFER_WRITE_BIT, COMPUTE, RW);
    if (c->push.counts[1]) {
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, g->emit);
        vkCmdDispatch(cmd, (c->push.counts[1] + GROUP_SIZE - 1u) / GROUP_SIZE, 1, 1);
        barrier(cmd, COMPUTE, RW, COMPUTE, RW);
    }
    uint32_t groups = (c->capacity + GROUP_SIZE - 1u) / GROUP_SIZE;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, g->simulate);
    vkCmdDispatch(cmd, groups, 1, 1);
    /* Compaction rebuilds both lists from zero. */
    barrier(cmd, COMPUTE, RW, TRANSFER, VK_ACCESS_TRANSFER_WRITE_BIT);
    vkCmdFillBuffer(cmd, counters, offsetof(gpu_counters, instance_count), 4, 0);
    vkCmdFillBuffer(cmd, counters, offsetof(gpu_counters, free_count), 4, 0);
    barrier(cmd, TRANSFER, VK_ACCESS_TRANSFER_WRITE_BIT, COMPUTE, RW);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, g->compact);
    vkCmdDispatch(cmd, groups, 1, 1);
    barrier(cmd, COMPUTE, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT | VK_PIPELINE_STAGE_VERTEX_SHADER_BIT,
            VK_ACCESS_HOST_READ_BIT | VK_ACCESS_INDIRECT_COMMAND_READ_BIT | VK_ACCESS_SHADER_READ_BIT);
}

aw_status particles_gpu_step(aw_particles *ps, float dt) {
    particles_gpu *g = ps->gpu;
    uint64_t t0 = aw_time_ns();
    g->run_count = 0;
    g->emitted = 0;
    uint32_t live_before = ps->live;
    aw_status st = particles_emit(ps, dt); /* plans runs, counts who takes a slot */
    if (st) return st;
    uint32_t stored = ps->live - live_before;
    upload_emitters(ps);
    particles_grid_build(ps);
    upload_grid(ps);
    sim_params p = particles_sim_params(ps, dt);
    const sphere_grid *grid = &ps->grid;
    step_ctx c = {.g = g,
                  .capacity = ps->capacity,
                  .push = {.gravity_dt = {p.gx, p.gy, p.gz, p.dt},
                           .wind_drag = {p.wx, p.wy, p.wz, p.drag_k},
                           .ground = {p.ground_y, p.restitution, p.friction, p.ground ? 1.0f : 0.0f},
                           .grid = {grid->min_x, grid->min_z, grid->inv_cell, 0.0f},
                           .grid_y = {grid->min_y, grid->max_y, (float)grid->w, (float)grid->h},
                           .counts = {ps->capacity, g->emitted, g->run_count, (uint32_t)grid->w}}};
    st = aw_gpu_buffer_flush(g->gpu, &g->buf[B_EMITTERS], 0, VK_WHOLE_SIZE);
    if (!st) st = aw_gpu_buffer_flush(g->gpu, &g->buf[B_RUNS], 0, VK_WHOLE_SIZE);
    if (!st && grid->w) {
        st = aw_gpu_buffer_flush(g->gpu, &g->buf[B_SPHERES], 0, VK_WHOLE_SIZE);
        if (!st) st = aw_gpu_buffer_flush(g->gpu, &g->buf[B_CELLS], 0, VK_WHOLE_SIZE);
        if (!st) st = aw_gpu_buffer_flush(g->gpu, &g->buf[B_ITEMS], 0, VK_WHOLE_SIZE);
    }
    ps->stats.emit_ns = aw_time_ns() - t0;
    if (!st) st = aw_gpu_submit_once(g->gpu, record_step, &c);
    if (!st) st = aw_gpu_buffer_invalidate(g->gpu, &g->buf[B_COUNTERS], 0, VK_WHOLE_SIZE);
    if (st) return st;
    const gpu_counters *counters = g->buf[B_COUNTERS].mapped;
    uint32_t live_after = counters->instance_count;
    ps->stats.died += live_before + stored - live_after;
    ps->live = live_after;
    ps->high_water = ps->capacity;
    g->synced = false;
    ps->stats.simulate_ns = aw_time_ns() - t0 - ps->stats.emit_ns;
    return AW_OK;
}

typedef struct read_ctx {
    particles_gpu *g;
    VkDeviceSize n;
} read_ctx;

static void record_read(VkCommandBuffer cmd, void *user) {
    read_ctx *c = user;
    particles_gpu *g = c->g;
    VkBuffer dst = g->readback.buffer;
    vkCmdCopyBuffer(cmd, g->buf[B_POS_AGE].buffer, dst, 1, &(VkBufferCopy){.size = c->n * 16u});
    vkCmdCopyBuffer(cmd, g->buf[B_VEL_LIFE].buffer, dst, 1, &(VkBufferCopy){.dstOffset = c->n * 16u, .size = c->n * 16u});
    vkCmdCopyBuffer(cmd, g->buf[B_META].buffer, dst, 1, &(VkBufferCopy){.dstOffset = c->n * 32u, .size = c->n * 8u});
    barrier(cmd, TRANSFER, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
}

/* Copies the device's particles into the SoA mirror (the read-out and hash work on it). */
aw_status particles_gpu_read_back(aw_particles *ps) {
    particles_gpu *g = ps->gpu;
    if (!g || g->synced) return AW_OK;
    VkDeviceSize n = ps->capacity;
    aw_status st = AW_OK;
    if (!g->readback.buffer)
        st = aw_gpu_buffer_create(g->gpu, n * 40u, VK_BUFFER_USAGE_TRANSFER_DST_BIT, AW_GPU_MEMORY_READBACK, &g->readback);
    read_ctx c = {.g = g, .n = n};
    if (!st) st = aw_gpu_submit_once(g->gpu, record_read, &c);
    if (!st) st = aw_gpu_buffer_invalidate(g->gpu, &g->readback, 0, VK_WHOLE_SIZE);
    if (st) return st;
    const float *pa = g->readback.mapped, *vl = pa + 4u * n;
    const uint32_t *meta = (const uint32_t *)(vl + 4u * n);
    particle_soa *s = &ps->soa;
    for (size_t i = 0; i < n; i++) {
        s->px[i] = pa[4 * i], s->py[i] = pa[4 * i + 1], s->pz[i] = pa[4 * i + 2], s->age[i] = pa[4 * i + 3];
        s->vx[i] = vl[4 * i], s->vy[i] = vl[4 * i + 1], s->vz[i] = vl[4 * i + 2], s->life[i] = vl[4 * i + 3];
        s->id[i] = meta[2 * i], s->emitter[i] = meta[2 * i + 1];
    }
    g->synced = true;
    return AW_OK;
}

/* ---------------------------------------------------------------- renderer hooks */

static aw_status create_draw_pipeline(particles_gpu *g, VkFormat color, VkFormat depth) {
    VkShaderModule vs, fs;
    aw_status st = aw_gpu_shader_from_spirv(g->gpu, aw_spirv_particles_billboard_vert,
                                            aw_spirv_particles_billboard_vert_size, &vs);
    if (st) return st;
    st = aw_gpu_shader_from_spirv(g->gpu, aw_spirv_particles_billboard_frag, aw_spirv_particles_billboard_frag_size, &fs);
    if (st) {
        vkDestroyShaderModule(g->dev, vs, NULL);
        return st;
    }
    VkPipelineShaderStageCreateInfo stages[2] = {
        {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_VERTEX_BIT, .module = vs, .pName = "main"},
        {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_FRAGMENT_BIT, .module = fs, .pName = "main"},
    };
    VkPipelineColorBlendAttachmentState blend = {
        .blendEnable = VK_TRUE,
        .srcColorBlendFactor = VK_BLEND_FACTOR_SRC_ALPHA,
        .dstColorBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA,
        .colorBlendOp = VK_BLEND_OP_ADD,
        .srcAlphaBlendFactor = VK_BLEND_FACTOR_ONE,
        .dstAlphaBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA,
        .alphaBlendOp = VK_BLEND_OP_ADD,
        .colorWriteMask = 0xf,
    };
    VkDynamicState dynamic[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineRenderingCreateInfo rendering = {.sType = VK_STRUCTURE_TYPE_PIPELINE_RENDERING_CREATE_INFO,
                                               .colorAttachmentCount = 1,
                                               .pColorAttachmentFormats = &color,
                                               .depthAttachmentFormat = depth};
    VkGraphicsPipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO,
        .pNext = &rendering,
        .stageCount = 2,
        .pStages = stages,
        .pVertexInputState = &(VkPipelineVertexInputStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO},
        .pInputAssemblyState = &(VkPipelineInputAssemblyStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
                                                                          .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST},
        .pViewportState = &(VkPipelineViewportStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO,
                                                                .viewportCount = 1,
                                                                .scissorCount = 1},
        .pRasterizationState = &(VkPipelineRasterizationStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
                                                                          .polygonMode = VK_POLYGON_MODE_FILL,
                                                                          .cullMode = VK_CULL_MODE_NONE,
                                                                          .lineWidth = 1.0f},
        .pMultisampleState = &(VkPipelineMultisampleStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
                                                                      .rasterizationSamples = VK_SAMPLE_COUNT_1_BIT},
        .pDepthStencilState = &(VkPipelineDepthStencilStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO,
                                                                        .depthTestEnable = depth != VK_FORMAT_UNDEFINED,
                                                                        .depthWriteEnable = VK_FALSE,
                                                                        .depthCompareOp = VK_COMPARE_OP_LESS_OR_EQUAL},
        .pColorBlendState = &(VkPipelineColorBlendStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO,
                                                                    .attachmentCount = 1,
                                                                    .pAttachments = &blend},
        .pDynamicState = &(VkPipelineDynamicStateCreateInfo){.sType = VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO,
                                                              .dynamicStateCount = 2,
                                                              .pDynamicStates = dynamic},
        .layout = g->draw_layout,
    };
    st = aw_gpu_check(vkCreateGraphicsPipelines(g->dev, VK_NULL_HANDLE, 1, &info, NULL, &g->draw),
                      "particles: billboard pipeline");
    vkDestroyShaderModule(g->dev, vs, NULL);
    vkDestroyShaderModule(g->dev, fs, NULL);
    if (!st) g->draw_color = color, g->draw_depth = depth;
    return st;
}

void aw_particles_render_before_pass(const aw_render_hook_ctx *ctx, void *particles) {
    aw_particles *ps = particles;
    if (!ctx || !ps || !ps->gpu) return;
    barrier(ctx->cmd, COMPUTE, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT | VK_PIPELINE_STAGE_VERTEX_SHADER_BIT,
            VK_ACCESS_INDIRECT_COMMAND_READ_BIT | VK_ACCESS_SHADER_READ_BIT);
}

void aw_particles_render_in_pass(const aw_render_hook_ctx *ctx, void *particles) {
    aw_particles *ps = particles;
    if (!ctx || !ps || !ps->gpu) return;
    particles_gpu *g = ps->gpu;
    if (g->draw && (g->draw_color != ctx->color_format || g->draw_depth != ctx->depth_format)) {
        vkDestroyPipeline(g->dev, g->draw, NULL);
        g->draw = VK_NULL_HANDLE;
    }
    if (!g->draw && create_draw_pipeline(g, ctx->color_format, ctx->depth_format)) {
        AW_LOGE("particles: %s", aw_last_error());
        return;
    }
    camera_push cam = {.right = {ctx->camera_right[0], ctx->camera_right[1], ctx->camera_right[2], 0.0f},
                       .up = {ctx->camera_up[0], ctx->camera_up[1], ctx->camera_up[2], 0.0f}};
    memcpy(cam.view_proj, ctx->view_proj, sizeof cam.view_proj);
    vkCmdBindPipeline(ctx->cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, g->draw);
    vkCmdBindDescriptorSets(ctx->cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, g->draw_layout, 0, 1, &g->set, 0, NULL);
    vkCmdPushConstants(ctx->cmd, g->draw_layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof cam, &cam);
    vkCmdDrawIndirect(ctx->cmd, g->buf[B_COUNTERS].buffer, 0, 1, sizeof(VkDrawIndirectCommand));
}
