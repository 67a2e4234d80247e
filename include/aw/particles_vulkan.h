/* Hooks that draw GPU particles inside the renderer's frame (aw/render_vulkan.h): pass them to
 * aw_render_add_hooks with the aw_particles as user data. */
#ifndef AW_PARTICLES_VULKAN_H
#define AW_PARTICLES_VULKAN_H

#include "aw/particles.h"
#include "aw/render_vulkan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Before the pass: makes the last aw_particles_step's compute results visible to the draw
 * (a barrier; the step itself already ran its emit, simulate and compact dispatches). */
void aw_particles_render_before_pass(const aw_render_hook_ctx *ctx, void *particles);
/* In the pass: one vkCmdDrawIndirect of the live particles as instanced camera-facing billboards
 * (alpha blended, depth tested, no depth write), its instance count written by the compaction
 * kernel. Creates its pipeline on first use for the pass's formats. Nothing on the CPU path. */
void aw_particles_render_in_pass(const aw_render_hook_ctx *ctx, void *particles);

#ifdef __cplusplus
}
#endif

#endif /* AW_PARTICLES_VULKAN_H */
