/* Vulkan-level hooks into the renderer's frame, for modules that record their own GPU work into
 * it (GPU particles): compute before the rendering pass, extra draws inside it. */
#ifndef AW_RENDER_VULKAN_H
#define AW_RENDER_VULKAN_H

#include "aw/gpu_vulkan.h"
#include "aw/render.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a hook sees. Matrices are column-major (cglm and GLSL layout), right-handed, y up, with
 * Vulkan's clip space (depth 0..1, y down in framebuffer space): gl_Position = view_proj * world. */
typedef struct aw_render_hook_ctx {
    VkCommandBuffer cmd;       /* the frame's primary command buffer, recording */
    uint32_t frame_slot;       /* frame-in-flight index, 0 .. frames_in_flight-1: resources indexed
                                  by it are free to overwrite (the slot's previous frame finished) */
    uint32_t frames_in_flight;
    uint64_t frame;            /* frame number, from 0 */
    float view[16], proj[16], view_proj[16];
    float camera_position[3];
    float camera_right[3];     /* world-space unit vectors of the view: billboards span right/up */
    float camera_up[3];
    float camera_forward[3];
    VkFormat color_format;     /* the pass's one colour attachment (VK_FORMAT_R8G8B8A8_UNORM) */
    VkFormat depth_format;     /* its depth attachment (VK_FORMAT_D32_SFLOAT) */
    VkExtent2D extent;
} aw_render_hook_ctx;

typedef void (*aw_render_hook_fn)(const aw_render_hook_ctx *ctx, void *user);

typedef struct aw_render_hooks {
    /* Called after the slot's fence wait and before the rendering pass begins, outside any
     * rendering: record compute dispatches, copies and the barriers that make their results
     * visible to the pass (for example COMPUTE_SHADER writes -> VERTEX_INPUT / VERTEX_SHADER
     * reads, with vkCmdPipelineBarrier2). Optional. */
    aw_render_hook_fn before_pass;
    /* Called inside the dynamic-rendering pass (vkCmdBeginRendering done, colour and depth
     * attachments bound, after the renderer's opaque draws): record extra draws. Pipelines must
     * be created for dynamic rendering (VkPipelineRenderingCreateInfo with color_format and
     * depth_format, one sample) with dynamic viewport and scissor; both are already set to the
     * full extent. The hook binds its own pipeline, descriptors and push constants (the renderer's
     * bindings are not preserved). Optional. */
    aw_render_hook_fn in_pass;
    void *user;
} aw_render_hooks;

#define AW_RENDER_MAX_HOOKS 8u

/* Adds a hook pair and writes its id (for aw_render_remove_hooks) to out_id (may be NULL). Pairs
 * are called in id order and ids are handed out lowest free first, so without removals that is
 * the order they were added. AW_ERR_CAPACITY past AW_RENDER_MAX_HOOKS. Hooks are called on the
 * thread that calls aw_render_frame. */
aw_status aw_render_add_hooks(aw_renderer *renderer, const aw_render_hooks *hooks, uint32_t *out_id);
aw_status aw_render_remove_hooks(aw_renderer *renderer, uint32_t id);

#ifdef __cplusplus
}
#endif

#endif /* AW_RENDER_VULKAN_H */
