/* The renderer's device side: creation (targets, meshes, pipeline, frame slots), materials,
 * camera and light, hooks, and the frame itself: upload into the instance ring, record, submit. */
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "render_spirv.h"

/* Push constants shared by both shader stages: 128 bytes, the minimum every device offers. */
typedef struct render_push {
    float view_proj[16];
    float light_dir[4];
    float light_color[4];
    float ambient[4];
    float camera_pos[4];
} render_push;
_Static_assert(sizeof(render_push) == 128, "push constants fit the guaranteed 128 bytes");

static aw_status vk_ok(VkResult r, const char *what) {
    return aw_gpu_check(r, what);
}

/* ---------------------------------------------------------------- targets */

static aw_status create_image(aw_renderer *r, VkFormat format, VkImageUsageFlags usage, VkImageAspectFlags aspect,
                              VkImage *image, VkDeviceMemory *memory, VkImageView *view) {
    VkDevice dev = r->vk->device;
    VkImageCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
        .imageType = VK_IMAGE_TYPE_2D,
        .format = format,
        .extent = {r->width, r->height, 1},
        .mipLevels = 1,
        .arrayLayers = 1,
        .samples = VK_SAMPLE_COUNT_1_BIT,
        .tiling = VK_IMAGE_TILING_OPTIMAL,
        .usage = usage,
        .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
    };
    aw_status st = vk_ok(vkCreateImage(dev, &info, NULL, image), "render: vkCreateImage");
    if (st) return st;
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(dev, *image, &req);
    uint32_t type = aw_gpu_memory_type(r->gpu, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type == UINT32_MAX) return aw_error(AW_ERR_UNSUPPORTED, "render: no memory type for a render target");
    VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = type};
    st = vk_ok(vkAllocateMemory(dev, &alloc, NULL, memory), "render: vkAllocateMemory (target)");
    if (!st) st = vk_ok(vkBindImageMemory(dev, *image, *memory, 0), "render: vkBindImageMemory");
    if (st) return st;
    VkImageViewCreateInfo vi = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO,
        .image = *image,
        .viewType = VK_IMAGE_VIEW_TYPE_2D,
        .format = format,
        .subresourceRange = {.aspectMask = aspect, .levelCount = 1, .layerCount = 1},
    };
    return vk_ok(vkCreateImageView(dev, &vi, NULL, view), "render: vkCreateImageView");
}

aw_status render_targets_create(aw_renderer *r) {
    aw_status st = create_image(r, RENDER_COLOR_FORMAT, VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                VK_IMAGE_ASPECT_COLOR_BIT, &r->color_image, &r->color_memory, &r->color_view);
    if (!st)
        st = create_image(r, RENDER_DEPTH_FORMAT, VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT, VK_IMAGE_ASPECT_DEPTH_BIT,
                          &r->depth_image, &r->depth_memory, &r->depth_view);
    r->has_frame = false;
    return st;
}

void render_targets_destroy(aw_renderer *r) {
    VkDevice dev = r->vk->device;
    if (r->color_view) vkDestroyImageView(dev, r->color_view, NULL);
    if (r->color_image) vkDestroyImage(dev, r->color_image, NULL);
    if (r->color_memory) vkFreeMemory(dev, r->color_memory, NULL);
    if (r->depth_view) vkDestroyImageView(dev, r->depth_view, NULL);
    if (r->depth_image) vkDestroyImage(dev, r->depth_image, NULL);
    if (r->depth_memory) vkFreeMemory(dev, r->depth_memory, NULL);
    r->color_view = r->depth_view = VK_NULL_HANDLE;
    r->color_image = r->depth_image = VK_NULL_HANDLE;
    r->color_memory = r->depth_memory = VK_NULL_HANDLE;
    aw_gpu_buffer_destroy(r->gpu, &r->readback); /* its size follows the targets' */
    r->has_frame = false;
}

/* ---------------------------------------------------------------- meshes */

typedef struct geometry_upload {
    aw_gpu_buffer *staging, *vertices, *indices;
    VkDeviceSize vertex_bytes, index_bytes;
} geometry_upload;

static void record_geometry_copy(VkCommandBuffer cmd, void *user) {
    geometry_upload *u = user;
    vkCmdCopyBuffer(cmd, u->staging->buffer, u->vertices->buffer, 1, &(VkBufferCopy){.size = u->vertex_bytes});
    vkCmdCopyBuffer(cmd, u->staging->buffer, u->indices->buffer, 1,
                    &(VkBufferCopy){.srcOffset = u->vertex_bytes, .size = u->index_bytes});
    VkMemoryBarrier2 b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2,
        .srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT,
        .srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT,
        .dstStageMask = VK_PIPELINE_STAGE_2_VERTEX_INPUT_BIT,
        .dstAccessMask = VK_ACCESS_2_VERTEX_ATTRIBUTE_READ_BIT | VK_ACCESS_2_INDEX_READ_BIT,
    };
    vkCmdPipelineBarrier2(cmd, &(VkDependencyInfo){.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .memoryBarrierCount = 1, .pMemoryBarriers = &b});
}

static aw_status upload_geometry(aw_renderer *r) {
    aw_status st = render_geometry_build(r->allocator, &r->geometry);
    if (st) return st;
    geometry_upload u = {
        .vertex_bytes = (VkDeviceSize)r->geometry.vertex_count * sizeof(render_vertex),
        .index_bytes = (VkDeviceSize)r->geometry.index_count * sizeof(uint32_t),
        .vertices = &r->vertex_buffer,
        .indices = &r->index_buffer,
    };
    aw_gpu_buffer staging;
    st = aw_gpu_buffer_create(r->gpu, u.vertex_bytes + u.index_bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, AW_GPU_MEMORY_UPLOAD,
                              &staging);
    if (st) return st;
    memcpy(staging.mapped, r->geometry.vertices, (size_t)u.vertex_bytes);
    memcpy((uint8_t *)staging.mapped + u.vertex_bytes, r->geometry.indices, (size_t)u.index_bytes);
    u.staging = &staging;
    st = aw_gpu_buffer_create(r->gpu, u.vertex_bytes, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              AW_GPU_MEMORY_DEVICE, &r->vertex_buffer);
    if (!st)
        st = aw_gpu_buffer_create(r->gpu, u.index_bytes, VK_BUFFER_USAGE_INDEX_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                  AW_GPU_MEMORY_DEVICE, &r->index_buffer);
    if (!st) st = aw_gpu_submit_once(r->gpu, record_geometry_copy, &u);
    aw_gpu_buffer_destroy(r->gpu, &staging);
    return st;
}

/* ---------------------------------------------------------------- pipeline */

static aw_status create_pipeline(aw_renderer *r) {
    VkDevice dev = r->vk->device;
    /* 0: materials (fragment), 1: the instances (vertex, read through the draw-order index). */
    VkDescriptorSetLayoutBinding binding[2] = {
        {.binding = 0, .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, .descriptorCount = 1,
         .stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT},
        {.binding = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1,
         .stageFlags = VK_SHADER_STAGE_VERTEX_BIT},
    };
    aw_status st = vk_ok(vkCreateDescriptorSetLayout(dev, &(VkDescriptorSetLayoutCreateInfo){
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = 2, .pBindings = binding},
        NULL, &r->set_layout), "render: vkCreateDescriptorSetLayout");
    if (st) return st;
    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, .size = sizeof(render_push)};
    st = vk_ok(vkCreatePipelineLayout(dev, &(VkPipelineLayoutCreateInfo){
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &r->set_layout,
        .pushConstantRangeCount = 1, .pPushConstantRanges = &push}, NULL, &r->pipeline_layout),
        "render: vkCreatePipelineLayout");
    if (st) return st;

    VkShaderModule vs = VK_NULL_HANDLE, fs = VK_NULL_HANDLE;
    st = aw_gpu_shader_from_spirv(r->gpu, aw_spirv_render_mesh_vert, aw_spirv_render_mesh_vert_size, &vs);
    if (!st) st = aw_gpu_shader_from_spirv(r->gpu, aw_spirv_render_mesh_frag, aw_spirv_render_mesh_frag_size, &fs);
    if (st) {
        if (vs) vkDestroyShaderModule(dev, vs, NULL);
        return st;
    }
    VkPipelineShaderStageCreateInfo stages[2] = {
        {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_VERTEX_BIT, .module = vs, .pName = "main"},
        {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_FRAGMENT_BIT, .module = fs, .pName = "main"},
    };
    VkVertexInputBindingDescription bindings[2] = {
        {.binding = 0, .stride = sizeof(render_vertex), .inputRate = VK_VERTEX_INPUT_RATE_VERTEX},
        {.binding = 1, .stride = sizeof(uint32_t), .inputRate = VK_VERTEX_INPUT_RATE_INSTANCE},
    };
    VkVertexInputAttributeDescription attrs[3] = {
        {.location = 0, .binding = 0, .format = VK_FORMAT_R32G32B32_SFLOAT, .offset = offsetof(render_vertex, position)},
        {.location = 1, .binding = 0, .format = VK_FORMAT_R32G32B32_SFLOAT, .offset = offsetof(render_vertex, normal)},
        {.location = 2, .binding = 1, .format = VK_FORMAT_R32_UINT, .offset = 0},
    };
    VkPipelineVertexInputStateCreateInfo vertex_input = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO,
        .vertexBindingDescriptionCount = 2, .pVertexBindingDescriptions = bindings,
        .vertexAttributeDescriptionCount = 3, .pVertexAttributeDescriptions = attrs,
    };
    VkPipelineInputAssemblyStateCreateInfo ia = {.sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
                                                 .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST};
    VkPipelineViewportStateCreateInfo viewport = {.sType = VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO,
                                                  .viewportCount = 1, .scissorCount = 1};
    VkPipelineRasterizationStateCreateInfo raster = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
        .polygonMode = VK_POLYGON_MODE_FILL,
        .cullMode = VK_CULL_MODE_BACK_BIT,
        .frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE,
        .lineWidth = 1.0f,
    };
    VkPipelineMultisampleStateCreateInfo ms = {.sType = VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
                                               .rasterizationSamples = VK_SAMPLE_COUNT_1_BIT};
    VkPipelineDepthStencilStateCreateInfo depth = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO,
        .depthTestEnable = VK_TRUE,
        .depthWriteEnable = VK_TRUE,
        .depthCompareOp = VK_COMPARE_OP_LESS,
    };
    VkPipelineColorBlendAttachmentState blend_att = {.colorWriteMask = 0xf};
    VkPipelineColorBlendStateCreateInfo blend = {.sType = VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO,
                                                 .attachmentCount = 1, .pAttachments = &blend_att};
    VkDynamicState dyn_states[2] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo dyn = {.sType = VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO,
                                            .dynamicStateCount = 2, .pDynamicStates = dyn_states};
    VkFormat color_format = RENDER_COLOR_FORMAT;
    VkPipelineRenderingCreateInfo rendering = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_RENDERING_CREATE_INFO,
        .colorAttachmentCount = 1,
        .pColorAttachmentFormats = &color_format,
        .depthAttachmentFormat = RENDER_DEPTH_FORMAT,
    };
    VkGraphicsPipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO,
        .pNext = &rendering,
        .stageCount = 2, .pStages = stages,
        .pVertexInputState = &vertex_input,
        .pInputAssemblyState = &ia,
        .pViewportState = &viewport,
        .pRasterizationState = &raster,
        .pMultisampleState = &ms,
        .pDepthStencilState = &depth,
        .pColorBlendState = &blend,
        .pDynamicState = &dyn,
        .layout = r->pipeline_layout,
    };
    st = vk_ok(vkCreateGraphicsPipelines(dev, VK_NULL_HANDLE, 1, &info, NULL, &r->pipeline), "render: vkCreateGraphicsPipelines");
    vkDestroyShaderModule(dev, vs, NULL);
    vkDestroyShaderModule(dev, fs, NULL);
    return st;
}

/* ---------------------------------------------------------------- frame slots */

static void write_instance_descriptor(aw_renderer *r, render_frame_slot *s) {
    VkDescriptorBufferInfo bi = {.buffer = s->instances.buffer, .range = VK_WHOLE_SIZE};
    vkUpdateDescriptorSets(r->vk->device, 1, &(VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = s->set, .dstBinding = 1, .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &bi}, 0, NULL);
}

static aw_status create_slots(aw_renderer *r, uint32_t initial_instances) {
    VkDevice dev = r->vk->device;
    VkDescriptorPoolSize size[2] = {{.type = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, .descriptorCount = r->frames_in_flight},
                                    {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = r->frames_in_flight}};
    aw_status st = vk_ok(vkCreateDescriptorPool(dev, &(VkDescriptorPoolCreateInfo){
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = r->frames_in_flight, .poolSizeCount = 2,
        .pPoolSizes = size}, NULL, &r->descriptor_pool), "render: vkCreateDescriptorPool");
    for (uint32_t i = 0; i < r->frames_in_flight && !st; i++) {
        render_frame_slot *s = &r->slots[i];
        st = vk_ok(vkCreateCommandPool(dev, &(VkCommandPoolCreateInfo){.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT, .queueFamilyIndex = r->vk->queue_family}, NULL, &s->pool),
            "render: vkCreateCommandPool");
        if (!st) st = vk_ok(vkAllocateCommandBuffers(dev, &(VkCommandBufferAllocateInfo){
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = s->pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1}, &s->cmd), "render: vkAllocateCommandBuffers");
        if (!st) st = vk_ok(vkCreateFence(dev, &(VkFenceCreateInfo){.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO}, NULL, &s->fence),
                            "render: vkCreateFence");
        if (!st) st = vk_ok(vkCreateSemaphore(dev, &(VkSemaphoreCreateInfo){.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO},
                                              NULL, &s->acquired), "render: vkCreateSemaphore");
        if (!st) st = aw_gpu_buffer_create(r->gpu, (VkDeviceSize)initial_instances * sizeof(render_instance),
                                           VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, AW_GPU_MEMORY_UPLOAD, &s->instances);
        if (!st) s->instance_capacity = initial_instances;
        if (!st) st = aw_gpu_buffer_create(r->gpu, (VkDeviceSize)initial_instances * sizeof(uint32_t),
                                           VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, AW_GPU_MEMORY_UPLOAD, &s->order);
        if (!st) s->order_capacity = initial_instances;
        if (!st) st = aw_gpu_buffer_create(r->gpu, sizeof r->materials, VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT, AW_GPU_MEMORY_UPLOAD,
                                           &s->materials);
        if (!st) st = vk_ok(vkAllocateDescriptorSets(dev, &(VkDescriptorSetAllocateInfo){
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = r->descriptor_pool,
            .descriptorSetCount = 1, .pSetLayouts = &r->set_layout}, &s->set), "render: vkAllocateDescriptorSets");
        if (!st) {
            VkDescriptorBufferInfo bi = {.buffer = s->materials.buffer, .range = VK_WHOLE_SIZE};
            vkUpdateDescriptorSets(dev, 1, &(VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = s->set, .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, .pBufferInfo = &bi},
                0, NULL);
            write_instance_descriptor(r, s);
            s->material_version = UINT64_MAX;
        }
        if (!st && r->info.timestamps)
            st = vk_ok(vkCreateQueryPool(dev, &(VkQueryPoolCreateInfo){.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2}, NULL, &s->timestamps), "render: vkCreateQueryPool");
    }
    return st;
}

static void destroy_slots(aw_renderer *r) {
    VkDevice dev = r->vk->device;
    for (uint32_t i = 0; i < RENDER_MAX_FRAMES; i++) {
        render_frame_slot *s = &r->slots[i];
        if (s->pool) vkDestroyCommandPool(dev, s->pool, NULL);
        if (s->fence) vkDestroyFence(dev, s->fence, NULL);
        if (s->acquired) vkDestroySemaphore(dev, s->acquired, NULL);
        if (s->timestamps) vkDestroyQueryPool(dev, s->timestamps, NULL);
        aw_gpu_buffer_destroy(r->gpu, &s->instances);
        aw_gpu_buffer_destroy(r->gpu, &s->order);
        aw_gpu_buffer_destroy(r->gpu, &s->indirect);
        aw_gpu_buffer_destroy(r->gpu, &s->materials);
        memset(s, 0, sizeof *s);
    }
    if (r->descriptor_pool) vkDestroyDescriptorPool(dev, r->descriptor_pool, NULL);
    r->descriptor_pool = VK_NULL_HANDLE;
}

/* ---------------------------------------------------------------- create / destroy */

void render_update_view(aw_renderer *r) {
    render_view_compute(&r->camera, (float)r->width / (float)(r->height ? r->height : 1), &r->view);
}

aw_status aw_renderer_create(const aw_renderer_desc *desc_in, aw_renderer **out) {
    if (!out) return aw_error(AW_ERR_INVALID_ARG, "render: out is NULL");
    aw_renderer_desc desc = desc_in ? *desc_in : (aw_renderer_desc){0};
    if (desc.frames_in_flight > RENDER_MAX_FRAMES)
        return aw_error(AW_ERR_INVALID_ARG, "render: frames_in_flight %u (1..%u)", desc.frames_in_flight, RENDER_MAX_FRAMES);
    if (desc.mode > AW_RENDER_NAIVE) return aw_error(AW_ERR_INVALID_ARG, "render: unknown mode %d", (int)desc.mode);
    if (desc.width > 16384 || desc.height > 16384)
        return aw_error(AW_ERR_INVALID_ARG, "render: size %ux%u too large", desc.width, desc.height);
    const aw_allocator *a = desc.allocator ? desc.allocator : aw_heap_allocator();
    aw_renderer *r = aw_alloc(a, sizeof *r, _Alignof(aw_renderer));
    if (!r) return aw_error(AW_ERR_OUT_OF_MEMORY, "render: out of memory");
    memset(r, 0, sizeof *r);
    r->allocator = a;
    r->mode = desc.mode;
    r->width = desc.width ? desc.width : 1280;
    r->height = desc.height ? desc.height : 720;
    r->frames_in_flight = desc.frames_in_flight ? desc.frames_in_flight : 2;
    bool clear_given = desc.clear_color[0] || desc.clear_color[1] || desc.clear_color[2] || desc.clear_color[3];
    const float default_clear[4] = {0.10f, 0.12f, 0.16f, 1.0f};
    memcpy(r->clear_color, clear_given ? desc.clear_color : default_clear, sizeof r->clear_color);

    aw_status st = AW_OK;
    aw_gpu_desc gpu_desc = {.allocator = a, .device_name = desc.device_name, .validation = desc.validation, .app_name = "astraweave-render"};
    if (desc.windowed) st = render_window_open(r, &desc, &gpu_desc);
    if (!st) {
        if (desc.gpu) {
            if (desc.windowed) st = aw_error(AW_ERR_INVALID_ARG, "render: a windowed renderer creates its own device");
            r->gpu = desc.gpu;
        } else {
            st = aw_gpu_create(&gpu_desc, &r->gpu);
            r->owns_gpu = st == AW_OK;
        }
    }
    if (!st) {
        r->vk = aw_gpu_vulkan(r->gpu);
        r->info = aw_gpu_get_info(r->gpu);
        if (desc.windowed) st = render_window_attach(r, desc.vsync);
    }
    if (!st) st = render_targets_create(r);
    if (!st) st = upload_geometry(r);
    if (!st) st = create_pipeline(r);
    if (!st) st = create_slots(r, desc.initial_instances ? desc.initial_instances : 4096);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        aw_renderer_destroy(r);
        return aw_error(st, "%s", msg);
    }
    r->stats.gpu_ms = -1.0;
    r->materials[0] = (render_material){{0.7f, 0.7f, 0.7f, 1.0f}, {0.5f, 0, 0, 0}};
    r->material_count = 1;
    r->material_version = 1;
    float zero[3] = {0, 0, 0};
    r->camera = aw_camera_orbit(zero, 10.0f, 0.6f, 0.5f);
    render_update_view(r);
    aw_render_set_light(r, &(aw_render_light){.direction = {-0.4f, -1.0f, -0.3f}, .color = {1.0f, 1.0f, 1.0f},
                                              .ambient = {0.15f, 0.15f, 0.18f}});
    *out = r;
    return AW_OK;
}

void aw_renderer_destroy(aw_renderer *r) {
    if (!r) return;
    if (r->vk && r->vk->device) {
        vkDeviceWaitIdle(r->vk->device);
        destroy_slots(r);
        VkDevice dev = r->vk->device;
        if (r->pipeline) vkDestroyPipeline(dev, r->pipeline, NULL);
        if (r->pipeline_layout) vkDestroyPipelineLayout(dev, r->pipeline_layout, NULL);
        if (r->set_layout) vkDestroyDescriptorSetLayout(dev, r->set_layout, NULL);
        aw_gpu_buffer_destroy(r->gpu, &r->vertex_buffer);
        aw_gpu_buffer_destroy(r->gpu, &r->index_buffer);
        render_targets_destroy(r);
    }
    render_window_close(r); /* the swapchain, before the device and surface go */
    if (r->owns_gpu) aw_gpu_destroy(r->gpu);
    render_window_free(r);
    render_geometry_free(r->allocator, &r->geometry);
    const aw_allocator *a = r->allocator;
    aw_free(a, r->instance_keys, (size_t)r->key_capacity * sizeof(uint64_t));
    aw_free(a, r->piece_out, (size_t)r->piece_out_capacity * sizeof(render_piece));
    aw_free(a, r->keys, (size_t)r->sort_capacity * 8);
    aw_free(a, r->keys_tmp, (size_t)r->sort_capacity * 8);
    aw_free(a, r->hist, (size_t)r->workers * sizeof(render_key_hist));
    aw_free(a, r->pieces, (size_t)r->piece_capacity * sizeof(render_piece));
    aw_free(a, r->batches, (size_t)r->batch_capacity * sizeof(render_batch));
    aw_free(a, r, sizeof *r);
}

aw_gpu *aw_renderer_gpu(const aw_renderer *r) {
    return r ? r->gpu : NULL;
}

void aw_render_set_mode(aw_renderer *r, aw_render_mode mode) {
    if (r && mode <= AW_RENDER_NAIVE) r->mode = mode;
}

aw_render_mode aw_render_get_mode(const aw_renderer *r) {
    return r ? r->mode : AW_RENDER_BATCHED;
}

const char *aw_render_mode_str(aw_render_mode mode) {
    switch (mode) {
    case AW_RENDER_BATCHED: return "batched";
    case AW_RENDER_INDIRECT: return "indirect";
    case AW_RENDER_NAIVE: return "naive";
    default: return "unknown";
    }
}

void aw_render_get_size(const aw_renderer *r, uint32_t *width, uint32_t *height) {
    if (width) *width = r ? r->width : 0;
    if (height) *height = r ? r->height : 0;
}

/* ---------------------------------------------------------------- camera, light, materials */

static bool finite3(const float v[3]) {
    return isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]);
}

aw_status aw_render_set_camera(aw_renderer *r, const aw_camera *c) {
    if (!r || !c) return aw_error(AW_ERR_INVALID_ARG, "render camera: NULL argument");
    float d[3] = {c->target[0] - c->position[0], c->target[1] - c->position[1], c->target[2] - c->position[2]};
    float near_z = c->near_z > 0.0f ? c->near_z : 0.1f, far_z = c->far_z > 0.0f ? c->far_z : 1000.0f;
    if (!finite3(c->position) || !finite3(c->target) || !finite3(c->up) || !isfinite(c->fov_y) || !isfinite(near_z) ||
        !isfinite(far_z) || d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < 1e-12f || near_z >= far_z || c->fov_y < 0.0f ||
        c->fov_y >= 3.1f)
        return aw_error(AW_ERR_INVALID_ARG, "render camera: degenerate (position == target, non-finite, near >= far or bad fov)");
    /* An up vector along the view direction has no defined right vector. */
    float up[3] = {c->up[0], c->up[1], c->up[2]};
    if (up[0] == 0.0f && up[1] == 0.0f && up[2] == 0.0f) up[1] = 1.0f;
    float cx = d[1] * up[2] - d[2] * up[1], cy = d[2] * up[0] - d[0] * up[2], cz = d[0] * up[1] - d[1] * up[0];
    if (cx * cx + cy * cy + cz * cz < 1e-12f) return aw_error(AW_ERR_INVALID_ARG, "render camera: up is parallel to the view");
    r->camera = *c;
    render_update_view(r);
    return AW_OK;
}

aw_status aw_render_set_light(aw_renderer *r, const aw_render_light *l) {
    if (!r || !l) return aw_error(AW_ERR_INVALID_ARG, "render light: NULL argument");
    float len = sqrtf(l->direction[0] * l->direction[0] + l->direction[1] * l->direction[1] + l->direction[2] * l->direction[2]);
    if (!finite3(l->direction) || !finite3(l->color) || !finite3(l->ambient) || !(len > 1e-6f))
        return aw_error(AW_ERR_INVALID_ARG, "render light: direction must be finite and non-zero");
    for (int k = 0; k < 3; k++) {
        r->light_dir[k] = l->direction[k] / len;
        r->light_color[k] = l->color[k];
        r->ambient[k] = l->ambient[k];
    }
    return AW_OK;
}

static aw_status check_material(const aw_material_desc *m) {
    if (!m) return aw_error(AW_ERR_INVALID_ARG, "render material: NULL desc");
    for (int k = 0; k < 4; k++)
        if (!isfinite(m->base_color[k])) return aw_error(AW_ERR_INVALID_ARG, "render material: non-finite colour");
    if (!isfinite(m->roughness)) return aw_error(AW_ERR_INVALID_ARG, "render material: non-finite roughness");
    return AW_OK;
}

aw_status aw_render_material_create(aw_renderer *r, const aw_material_desc *desc, uint32_t *out_id) {
    if (!r || !out_id) return aw_error(AW_ERR_INVALID_ARG, "render material: NULL argument");
    aw_status st = check_material(desc);
    if (st) return st;
    if (r->material_count >= AW_RENDER_MAX_MATERIALS)
        return aw_error(AW_ERR_CAPACITY, "render material: at most %u materials", AW_RENDER_MAX_MATERIALS);
    *out_id = r->material_count++;
    return aw_render_material_set(r, *out_id, desc);
}

aw_status aw_render_material_set(aw_renderer *r, uint32_t id, const aw_material_desc *desc) {
    if (!r) return aw_error(AW_ERR_INVALID_ARG, "render material: NULL renderer");
    aw_status st = check_material(desc);
    if (st) return st;
    if (id >= r->material_count) return aw_error(AW_ERR_NOT_FOUND, "render material: no material %u", id);
    render_material *m = &r->materials[id];
    memcpy(m->base_color, desc->base_color, sizeof m->base_color);
    m->params[0] = desc->roughness < 0.0f ? 0.0f : desc->roughness > 1.0f ? 1.0f : desc->roughness;
    r->material_version++;
    return AW_OK;
}

/* ---------------------------------------------------------------- hooks */

aw_status aw_render_add_hooks(aw_renderer *r, const aw_render_hooks *hooks, uint32_t *out_id) {
    if (!r || !hooks || (!hooks->before_pass && !hooks->in_pass))
        return aw_error(AW_ERR_INVALID_ARG, "render hooks: need a renderer and at least one callback");
    for (uint32_t i = 0; i < AW_RENDER_MAX_HOOKS; i++) {
        if (r->hook_used[i]) continue;
        r->hooks[i] = *hooks;
        r->hook_used[i] = true;
        if (out_id) *out_id = i;
        return AW_OK;
    }
    return aw_error(AW_ERR_CAPACITY, "render hooks: at most %u", AW_RENDER_MAX_HOOKS);
}

aw_status aw_render_remove_hooks(aw_renderer *r, uint32_t id) {
    if (!r || id >= AW_RENDER_MAX_HOOKS || !r->hook_used[id]) return aw_error(AW_ERR_NOT_FOUND, "render hooks: no hooks %u", id);
    r->hook_used[id] = false;
    memset(&r->hooks[id], 0, sizeof r->hooks[id]);
    return AW_OK;
}

static void call_hooks(aw_renderer *r, const aw_render_hook_ctx *ctx, bool in_pass) {
    for (uint32_t i = 0; i < AW_RENDER_MAX_HOOKS; i++) {
        if (!r->hook_used[i]) continue;
        aw_render_hook_fn fn = in_pass ? r->hooks[i].in_pass : r->hooks[i].before_pass;
        if (fn) fn(ctx, r->hooks[i].user);
    }
}

/* ---------------------------------------------------------------- the frame */

static void read_timestamps(aw_renderer *r, render_frame_slot *s);

aw_status render_slot_wait(aw_renderer *r, render_frame_slot *s) {
    if (!s->submitted) return AW_OK;
    aw_status st = vk_ok(vkWaitForFences(r->vk->device, 1, &s->fence, VK_TRUE, UINT64_MAX), "render: vkWaitForFences");
    if (st) return st;
    read_timestamps(r, s);
    s->submitted = false;
    return AW_OK;
}

/* A slot's upload buffer replaced by one of cap elements (the slot's fence was waited: the old one
 * is unused). */
static aw_status replace_upload_buffer(aw_renderer *r, aw_gpu_buffer *buffer, uint32_t *capacity, uint32_t cap,
                                       size_t elem, VkBufferUsageFlags usage) {
    aw_gpu_buffer b;
    aw_status st = aw_gpu_buffer_create(r->gpu, (VkDeviceSize)cap * elem, usage, AW_GPU_MEMORY_UPLOAD, &b);
    if (st) return st;
    aw_gpu_buffer_destroy(r->gpu, buffer);
    *buffer = b;
    *capacity = cap;
    return AW_OK;
}

/* Capacity for `needed` entries: from 4096, in steps of 1.5x. */
static uint32_t grown_capacity(uint32_t capacity, uint32_t needed) {
    uint32_t cap = capacity ? capacity : 4096;
    while (cap < needed) cap = cap + cap / 2;
    return cap;
}

aw_status render_slot_reserve_instances(aw_renderer *r, render_frame_slot *s, uint32_t instances) {
    if (instances <= s->instance_capacity) return AW_OK;
    aw_status st = replace_upload_buffer(r, &s->instances, &s->instance_capacity,
                                         grown_capacity(s->instance_capacity, instances), sizeof(render_instance),
                                         VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    if (st) return st;
    write_instance_descriptor(r, s);
    return AW_OK;
}

static aw_status ensure_slot_capacity(aw_renderer *r, render_frame_slot *s, uint32_t instances, uint32_t batches) {
    aw_status st = AW_OK;
    if (instances > s->order_capacity)
        st = replace_upload_buffer(r, &s->order, &s->order_capacity, grown_capacity(s->order_capacity, instances),
                                   sizeof(uint32_t), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT);
    if (!st && r->mode == AW_RENDER_INDIRECT && batches > s->indirect_capacity)
        st = replace_upload_buffer(r, &s->indirect, &s->indirect_capacity, batches < 64 ? 64 : batches + batches / 2,
                                   sizeof(VkDrawIndexedIndirectCommand), VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT);
    return st;
}

typedef struct upload_ctx {
    aw_renderer *r;
    uint32_t *dst;
} upload_ctx;

static void upload_range(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const upload_ctx *c = arg;
    const uint64_t *entries = c->r->keys;
    for (uint32_t i = begin; i < end; i++) c->dst[i] = RENDER_ENTRY_INDEX(entries[i]);
}

/* The instances are already in the slot's storage buffer (the extraction wrote them there): the
 * upload is their draw order, one uint32 index per instance, written into the slot's mapped
 * order buffer (in parallel on the world's job system when there are many). A frame drawn from
 * another slot than the extraction wrote (a second frame without a new extraction) first copies
 * the instances across. */
static uint64_t upload_instances(aw_renderer *r, render_frame_slot *s, uint32_t slot_index) {
    uint32_t n = r->prepared_count;
    uint64_t bytes = (uint64_t)n * sizeof(uint32_t);
    if (n && slot_index != r->extract_slot) {
        const render_frame_slot *from = &r->slots[r->extract_slot];
        memcpy(s->instances.mapped, from->instances.mapped, (size_t)r->extract_extent * sizeof(render_instance));
        bytes += (uint64_t)r->extract_extent * sizeof(render_instance);
    }
    upload_ctx ctx = {r, s->order.mapped};
    if (r->jobs && n >= 32768)
        aw_jobs_parallel_for(r->jobs, n, 16384, upload_range, &ctx);
    else
        upload_range(0, n, 0, &ctx);
    if (!s->order.coherent) aw_gpu_buffer_flush(r->gpu, &s->order, 0, (VkDeviceSize)n * sizeof(uint32_t));
    if (r->mode == AW_RENDER_INDIRECT) {
        VkDrawIndexedIndirectCommand *cmds = s->indirect.mapped;
        for (uint32_t b = 0; b < r->batch_count; b++) {
            const render_batch *bt = &r->batches[b];
            const render_mesh *m = &r->geometry.meshes[bt->mesh];
            cmds[b] = (VkDrawIndexedIndirectCommand){.indexCount = m->index_count, .instanceCount = bt->count,
                                                     .firstIndex = m->first_index, .vertexOffset = m->vertex_offset,
                                                     .firstInstance = bt->first};
        }
        bytes += (uint64_t)r->batch_count * sizeof(VkDrawIndexedIndirectCommand);
        aw_gpu_buffer_flush(r->gpu, &s->indirect, 0, VK_WHOLE_SIZE);
    }
    if (!s->instances.coherent)
        aw_gpu_buffer_flush(r->gpu, &s->instances, 0, (VkDeviceSize)r->extract_extent * sizeof(render_instance));
    if (s->material_version != r->material_version) {
        memcpy(s->materials.mapped, r->materials, sizeof r->materials);
        aw_gpu_buffer_flush(r->gpu, &s->materials, 0, VK_WHOLE_SIZE);
        s->material_version = r->material_version;
        bytes += sizeof r->materials;
    }
    return bytes;
}

static void image_barrier(VkCommandBuffer cmd, VkImage image, VkImageAspectFlags aspect, VkPipelineStageFlags2 src_stage,
                          VkAccessFlags2 src_access, VkPipelineStageFlags2 dst_stage, VkAccessFlags2 dst_access,
                          VkImageLayout old_layout, VkImageLayout new_layout) {
    VkImageMemoryBarrier2 b = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2,
        .srcStageMask = src_stage,
        .srcAccessMask = src_access,
        .dstStageMask = dst_stage,
        .dstAccessMask = dst_access,
        .oldLayout = old_layout,
        .newLayout = new_layout,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .image = image,
        .subresourceRange = {.aspectMask = aspect, .levelCount = 1, .layerCount = 1},
    };
    vkCmdPipelineBarrier2(cmd, &(VkDependencyInfo){.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .imageMemoryBarrierCount = 1,
                                                   .pImageMemoryBarriers = &b});
}

static uint32_t record_draws(aw_renderer *r, render_frame_slot *s, VkCommandBuffer cmd) {
    uint32_t n = r->prepared_count;
    if (n == 0) return 0;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, r->pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, r->pipeline_layout, 0, 1, &s->set, 0, NULL);
    render_push push;
    memcpy(push.view_proj, r->view.view_proj, sizeof push.view_proj);
    memcpy(push.light_dir, r->light_dir, sizeof push.light_dir);
    memcpy(push.light_color, r->light_color, sizeof push.light_color);
    memcpy(push.ambient, r->ambient, sizeof push.ambient);
    memcpy(push.camera_pos, r->view.position, sizeof r->view.position);
    push.camera_pos[3] = 1.0f;
    vkCmdPushConstants(cmd, r->pipeline_layout, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof push, &push);
    VkBuffer vbs[2] = {r->vertex_buffer.buffer, s->order.buffer};
    VkDeviceSize offsets[2] = {0, 0};
    vkCmdBindVertexBuffers(cmd, 0, 2, vbs, offsets);
    vkCmdBindIndexBuffer(cmd, r->index_buffer.buffer, 0, VK_INDEX_TYPE_UINT32);
    uint32_t draws = 0;
    const render_mesh *meshes = r->geometry.meshes;
    switch (r->mode) {
    case AW_RENDER_NAIVE:
        /* The baseline: one draw per entity, as if nothing were instanced. */
        for (uint32_t b = 0; b < r->batch_count; b++) {
            const render_batch *bt = &r->batches[b];
            const render_mesh *m = &meshes[bt->mesh];
            for (uint32_t i = 0; i < bt->count; i++)
                vkCmdDrawIndexed(cmd, m->index_count, 1, m->first_index, m->vertex_offset, bt->first + i);
            draws += bt->count;
        }
        break;
    case AW_RENDER_INDIRECT:
        if (r->info.multi_draw_indirect && r->info.draw_indirect_first_instance) {
            vkCmdDrawIndexedIndirect(cmd, s->indirect.buffer, 0, r->batch_count, sizeof(VkDrawIndexedIndirectCommand));
            draws = 1;
            break;
        }
        if (r->info.draw_indirect_first_instance) {
            for (uint32_t b = 0; b < r->batch_count; b++)
                vkCmdDrawIndexedIndirect(cmd, s->indirect.buffer, (VkDeviceSize)b * sizeof(VkDrawIndexedIndirectCommand), 1,
                                         sizeof(VkDrawIndexedIndirectCommand));
            draws = r->batch_count;
            break;
        }
        /* No firstInstance in indirect draws on this device: fall through to direct batches. */
        /* fallthrough */
    case AW_RENDER_BATCHED:
        for (uint32_t b = 0; b < r->batch_count; b++) {
            const render_batch *bt = &r->batches[b];
            const render_mesh *m = &meshes[bt->mesh];
            vkCmdDrawIndexed(cmd, m->index_count, bt->count, m->first_index, m->vertex_offset, bt->first);
        }
        draws = r->batch_count;
        break;
    }
    return draws;
}

static void fill_hook_ctx(aw_renderer *r, render_frame_slot *s, uint32_t slot_index, aw_render_hook_ctx *h) {
    memset(h, 0, sizeof *h);
    h->cmd = s->cmd;
    h->frame_slot = slot_index;
    h->frames_in_flight = r->frames_in_flight;
    h->frame = r->frame;
    memcpy(h->view, r->view.view, sizeof h->view);
    memcpy(h->proj, r->view.proj, sizeof h->proj);
    memcpy(h->view_proj, r->view.view_proj, sizeof h->view_proj);
    memcpy(h->camera_position, r->view.position, sizeof h->camera_position);
    memcpy(h->camera_right, r->view.right, sizeof h->camera_right);
    memcpy(h->camera_up, r->view.up, sizeof h->camera_up);
    memcpy(h->camera_forward, r->view.forward, sizeof h->camera_forward);
    h->color_format = RENDER_COLOR_FORMAT;
    h->depth_format = RENDER_DEPTH_FORMAT;
    h->extent = (VkExtent2D){r->width, r->height};
}

/* Reads the slot's timestamps of the frame that finished (its fence was waited). */
static void read_timestamps(aw_renderer *r, render_frame_slot *s) {
    if (!s->timed) return;
    uint64_t ts[2];
    VkResult res = vkGetQueryPoolResults(r->vk->device, s->timestamps, 0, 2, sizeof ts, ts, sizeof ts[0], VK_QUERY_RESULT_64_BIT);
    if (res != VK_SUCCESS) return;
    uint32_t bits = r->vk->timestamp_valid_bits;
    uint64_t mask = bits >= 64 ? UINT64_MAX : ((1ull << bits) - 1ull);
    uint64_t ticks = ((ts[1] & mask) - (ts[0] & mask)) & mask;
    s->timed = false;
    if (r->stats.gpu_frame > s->frame && r->stats.gpu_ms >= 0.0) return; /* a later frame's is known */
    r->stats.gpu_ms = (double)ticks * (double)r->info.timestamp_period * 1e-6;
    r->stats.gpu_frame = s->frame;
}

aw_status aw_render_frame(aw_renderer *r) {
    if (!r) return aw_error(AW_ERR_INVALID_ARG, "render frame: NULL renderer");
    uint32_t slot_index = (uint32_t)(r->frame % r->frames_in_flight);
    render_frame_slot *s = &r->slots[slot_index];
    VkDevice dev = r->vk->device;
    uint64_t t0 = aw_time_ns();
    aw_status st = render_slot_wait(r, s);
    if (st) return st;
    bool skip = false;
    if (r->window) { /* waiting for a swapchain image counts as waiting, not as upload */
        st = render_window_acquire(r, s, &skip);
        if (st) return st;
        if (skip) return AW_OK; /* minimised or out of date: nothing to present */
    }
    uint64_t t1 = aw_time_ns();
    st = ensure_slot_capacity(r, s, r->prepared_count, r->batch_count);
    if (!st && r->prepared_count && slot_index != r->extract_slot)
        st = render_slot_reserve_instances(r, s, r->extract_extent);
    if (st) return st;
    uint64_t bytes = upload_instances(r, s, slot_index);
    uint64_t t2 = aw_time_ns();

    VkCommandBuffer cmd = s->cmd;
    st = vk_ok(vkResetCommandPool(dev, s->pool, 0), "render: vkResetCommandPool");
    if (!st) st = vk_ok(vkBeginCommandBuffer(cmd, &(VkCommandBufferBeginInfo){.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                                                            .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT}),
                        "render: vkBeginCommandBuffer");
    if (st) return st;
    if (s->timestamps) {
        vkCmdResetQueryPool(cmd, s->timestamps, 0, 2);
        vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, s->timestamps, 0);
    }
    aw_render_hook_ctx hook;
    fill_hook_ctx(r, s, slot_index, &hook);
    call_hooks(r, &hook, false);

    /* Both targets' old contents are discarded (cleared); the barriers wait for the previous
     * frame's reads (copy, blit) and depth writes. */
    image_barrier(cmd, r->color_image, VK_IMAGE_ASPECT_COLOR_BIT,
                  VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, 0,
                  VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT, VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT,
                  VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL);
    image_barrier(cmd, r->depth_image, VK_IMAGE_ASPECT_DEPTH_BIT,
                  VK_PIPELINE_STAGE_2_EARLY_FRAGMENT_TESTS_BIT | VK_PIPELINE_STAGE_2_LATE_FRAGMENT_TESTS_BIT,
                  VK_ACCESS_2_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
                  VK_PIPELINE_STAGE_2_EARLY_FRAGMENT_TESTS_BIT | VK_PIPELINE_STAGE_2_LATE_FRAGMENT_TESTS_BIT,
                  VK_ACCESS_2_DEPTH_STENCIL_ATTACHMENT_READ_BIT | VK_ACCESS_2_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
                  VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_DEPTH_ATTACHMENT_OPTIMAL);
    VkRenderingAttachmentInfo color = {
        .sType = VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO,
        .imageView = r->color_view,
        .imageLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
        .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
        .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
        .clearValue = {.color = {.float32 = {r->clear_color[0], r->clear_color[1], r->clear_color[2], r->clear_color[3]}}},
    };
    VkRenderingAttachmentInfo depth = {
        .sType = VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO,
        .imageView = r->depth_view,
        .imageLayout = VK_IMAGE_LAYOUT_DEPTH_ATTACHMENT_OPTIMAL,
        .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
        .storeOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
        .clearValue = {.depthStencil = {.depth = 1.0f}},
    };
    vkCmdBeginRendering(cmd, &(VkRenderingInfo){.sType = VK_STRUCTURE_TYPE_RENDERING_INFO,
                                                .renderArea = {.extent = {r->width, r->height}},
                                                .layerCount = 1,
                                                .colorAttachmentCount = 1,
                                                .pColorAttachments = &color,
                                                .pDepthAttachment = &depth});
    vkCmdSetViewport(cmd, 0, 1, &(VkViewport){.width = (float)r->width, .height = (float)r->height, .maxDepth = 1.0f});
    vkCmdSetScissor(cmd, 0, 1, &(VkRect2D){.extent = {r->width, r->height}});
    uint32_t draws = record_draws(r, s, cmd);
    call_hooks(r, &hook, true);
    vkCmdEndRendering(cmd);
    image_barrier(cmd, r->color_image, VK_IMAGE_ASPECT_COLOR_BIT, VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT,
                  VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT, VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, VK_ACCESS_2_TRANSFER_READ_BIT,
                  VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    if (r->window) render_window_record_blit(r, cmd);
    if (s->timestamps) vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, s->timestamps, 1);
    st = vk_ok(vkEndCommandBuffer(cmd), "render: vkEndCommandBuffer");
    if (st) return st;

    VkCommandBufferSubmitInfo cbi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, .commandBuffer = cmd};
    VkSemaphoreSubmitInfo wait = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, .semaphore = s->acquired,
                                  .stageMask = VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT};
    VkSemaphoreSubmitInfo signal = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO,
                                    .semaphore = r->window ? render_window_present_semaphore(r) : VK_NULL_HANDLE,
                                    .stageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT};
    VkSubmitInfo2 submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2,
        .waitSemaphoreInfoCount = r->window ? 1u : 0u,
        .pWaitSemaphoreInfos = &wait,
        .commandBufferInfoCount = 1,
        .pCommandBufferInfos = &cbi,
        .signalSemaphoreInfoCount = r->window ? 1u : 0u,
        .pSignalSemaphoreInfos = &signal,
    };
    st = vk_ok(vkResetFences(dev, 1, &s->fence), "render: vkResetFences");
    if (!st) st = vk_ok(vkQueueSubmit2(r->vk->queue, 1, &submit, s->fence), "render: vkQueueSubmit2");
    if (st) return st;
    s->submitted = true;
    s->frame = r->frame;
    s->timed = s->timestamps != VK_NULL_HANDLE;
    r->has_frame = true;
    if (r->window) {
        st = render_window_present(r);
        if (st) return st;
    }
    uint64_t t3 = aw_time_ns();

    aw_render_stats *out = &r->stats;
    double gpu_ms = out->gpu_ms;
    uint64_t gpu_frame = out->gpu_frame;
    *out = r->prepared;
    out->frame = r->frame + 1;
    out->draw_calls = draws;
    if (r->prepared_count == 0) out->batches = out->instances = 0;
    out->bytes_uploaded = bytes;
    out->upload_ms = (double)(t2 - t1) * 1e-6;
    out->prep_ms = out->extract_ms + out->sort_ms + out->upload_ms;
    out->record_ms = (double)(t3 - t2) * 1e-6;
    out->wait_ms = (double)(t1 - t0) * 1e-6 + r->begin_wait_ms; /* this frame's and the extraction's */
    out->begin_wait_ms = r->begin_wait_ms;
    r->begin_wait_ms = 0.0;
    out->gpu_ms = r->info.timestamps ? gpu_ms : -1.0;
    out->gpu_frame = gpu_frame;
    r->frame++;
    return AW_OK;
}

aw_status aw_render_wait_idle(aw_renderer *r) {
    if (!r) return aw_error(AW_ERR_INVALID_ARG, "render wait: NULL renderer");
    for (uint32_t i = 0; i < r->frames_in_flight; i++) {
        render_frame_slot *s = &r->slots[i];
        if (!s->submitted) continue;
        aw_status st = vk_ok(vkWaitForFences(r->vk->device, 1, &s->fence, VK_TRUE, UINT64_MAX), "render: vkWaitForFences");
        if (st) return st;
        read_timestamps(r, s);
        s->submitted = false;
    }
    return AW_OK;
}

aw_render_stats aw_render_get_stats(const aw_renderer *r) {
    return r ? r->stats : (aw_render_stats){0};
}

aw_render_window_info aw_render_get_window_info(const aw_renderer *r) {
    return r && r->window ? render_window_info(r) : (aw_render_window_info){0};
}

aw_status aw_render_set_vsync(aw_renderer *r, bool vsync) {
    if (!r) return aw_error(AW_ERR_INVALID_ARG, "render: NULL renderer");
    if (!r->window) return aw_error(AW_ERR_UNSUPPORTED, "render: vsync needs a window (this renderer is headless)");
    render_window_set_vsync(r, vsync);
    return AW_OK;
}

aw_status aw_render_set_window_size(aw_renderer *r, uint32_t width, uint32_t height) {
    if (!r) return aw_error(AW_ERR_INVALID_ARG, "render: NULL renderer");
    if (!r->window) return aw_error(AW_ERR_UNSUPPORTED, "render: no window to resize (this renderer is headless)");
    if (width == 0 || height == 0 || width > 16384 || height > 16384)
        return aw_error(AW_ERR_INVALID_ARG, "render: window size %ux%u is outside 1..16384", width, height);
    render_window_set_size(r, width, height);
    return AW_OK;
}

bool aw_render_should_close(aw_renderer *r) {
    return r && r->window && render_window_should_close(r);
}

/* ---------------------------------------------------------------- read back */

typedef struct readback_ctx {
    aw_renderer *r;
} readback_ctx;

static void record_readback(VkCommandBuffer cmd, void *user) {
    aw_renderer *r = ((readback_ctx *)user)->r;
    VkBufferImageCopy region = {
        .imageSubresource = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .layerCount = 1},
        .imageExtent = {r->width, r->height, 1},
    };
    vkCmdCopyImageToBuffer(cmd, r->color_image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, r->readback.buffer, 1, &region);
    VkMemoryBarrier2 b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2,
        .srcStageMask = VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT,
        .srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT,
        .dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT,
        .dstAccessMask = VK_ACCESS_2_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier2(cmd, &(VkDependencyInfo){.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .memoryBarrierCount = 1, .pMemoryBarriers = &b});
}

aw_status aw_render_read_pixels(aw_renderer *r, uint8_t *rgba, size_t size) {
    if (!r || !rgba) return aw_error(AW_ERR_INVALID_ARG, "render read pixels: NULL argument");
    size_t need = (size_t)r->width * r->height * 4;
    if (size < need) return aw_error(AW_ERR_INVALID_ARG, "render read pixels: %zu bytes given, %zu needed", size, need);
    if (!r->has_frame) return aw_error(AW_ERR_INVALID_ARG, "render read pixels: no frame rendered yet");
    aw_status st = aw_gpu_wait_idle(r->gpu);
    if (st) return st;
    if (!r->readback.buffer) {
        st = aw_gpu_buffer_create(r->gpu, need, VK_BUFFER_USAGE_TRANSFER_DST_BIT, AW_GPU_MEMORY_READBACK, &r->readback);
        if (st) return st;
    }
    readback_ctx ctx = {r};
    st = aw_gpu_submit_once(r->gpu, record_readback, &ctx);
    if (!st) st = aw_gpu_buffer_invalidate(r->gpu, &r->readback, 0, VK_WHOLE_SIZE);
    if (st) return st;
    memcpy(rgba, r->readback.mapped, need);
    return AW_OK;
}

aw_status aw_render_screenshot(aw_renderer *r, const char *path) {
    if (!r || !path) return aw_error(AW_ERR_INVALID_ARG, "render screenshot: NULL argument");
    size_t size = (size_t)r->width * r->height * 4;
    uint8_t *pixels = aw_alloc(r->allocator, size, 64);
    if (!pixels) return aw_error(AW_ERR_OUT_OF_MEMORY, "render screenshot: out of memory");
    aw_status st = aw_render_read_pixels(r, pixels, size);
    if (!st) st = aw_image_write_png(path, r->width, r->height, pixels);
    aw_free(r->allocator, pixels, size);
    return st;
}
