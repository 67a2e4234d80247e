/* Windowed output through GLFW: the window, its Vulkan surface and swapchain (recreated on
 * resize), and the per-frame acquire, blit of the offscreen image, and present. */
#include "render_internal.h"

aw_status render_window_open(aw_renderer *r, const aw_renderer_desc *desc, aw_gpu_desc *gpu_desc) {
    (void)r; (void)desc; (void)gpu_desc;
    return aw_error(AW_ERR_UNAVAILABLE, "render: windowed output is not built yet");
}
aw_status render_window_attach(aw_renderer *r, bool vsync) { (void)r; (void)vsync; return AW_OK; }
void render_window_close(aw_renderer *r) { (void)r; }
aw_status render_window_acquire(aw_renderer *r, render_frame_slot *slot, bool *skip) { (void)r; (void)slot; *skip = true; return AW_OK; }
void render_window_record_blit(aw_renderer *r, VkCommandBuffer cmd) { (void)r; (void)cmd; }
VkSemaphore render_window_present_semaphore(aw_renderer *r) { (void)r; return VK_NULL_HANDLE; }
aw_status render_window_present(aw_renderer *r) { (void)r; return AW_OK; }
bool render_window_should_close(aw_renderer *r) { (void)r; return false; }
