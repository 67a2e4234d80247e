/* Windowed output through GLFW: the window, its Vulkan surface and swapchain (recreated on
 * resize), and the per-frame acquire, blit of the offscreen image into the swapchain image, and
 * present. The scene is always drawn offscreen (UNORM); the blit converts to the swapchain's
 * format, so golden images and windows share one path. */
#include "render_internal.h"

#define GLFW_INCLUDE_NONE
#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 8u

struct render_window {
    GLFWwindow *window;
    VkSwapchainKHR swapchain;
    VkImage images[MAX_IMAGES];
    VkSemaphore present_ready[MAX_IMAGES]; /* one per image: a present may still use the last one */
    uint32_t image_count, image_index;
    VkFormat format;
    bool vsync;
    bool stale; /* out of date, resized or vsync switched: recreate before the next acquire */
    VkPresentModeKHR present_mode;
    aw_render_window_info info; /* counters for aw_render_get_window_info */
};

static _Thread_local char glfw_message[256];

static void on_glfw_error(int code, const char *text) {
    snprintf(glfw_message, sizeof glfw_message, "%s (GLFW error 0x%x)", text ? text : "?", (unsigned)code);
}

/* The window system's word that the framebuffer changed size (delivered by glfwPollEvents). */
static void on_framebuffer_size(GLFWwindow *window, int width, int height) {
    (void)width, (void)height;
    render_window *w = glfwGetWindowUserPointer(window);
    if (w) {
        w->stale = true;
        w->info.resize_events++;
    }
}

static aw_status create_surface(void *instance, uint64_t *out_surface, void *user) {
    render_window *w = user;
    VkSurfaceKHR surface = VK_NULL_HANDLE;
    VkResult res = glfwCreateWindowSurface((VkInstance)instance, w->window, NULL, &surface);
    if (res != VK_SUCCESS) return aw_gpu_check(res, "render window: glfwCreateWindowSurface");
    *out_surface = (uint64_t)(uintptr_t)surface;
    return AW_OK;
}

aw_status render_window_open(aw_renderer *r, const aw_renderer_desc *desc, aw_gpu_desc *gpu_desc) {
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    if ((!x11 || !*x11) && (!wayland || !*wayland))
        return aw_error(AW_ERR_UNAVAILABLE, "render window: no display (DISPLAY and WAYLAND_DISPLAY are unset)");
    glfw_message[0] = '\0';
    glfwSetErrorCallback(on_glfw_error);
    if (!glfwInit()) return aw_error(AW_ERR_UNAVAILABLE, "render window: GLFW cannot start: %s", glfw_message);
    if (!glfwVulkanSupported()) {
        glfwTerminate();
        return aw_error(AW_ERR_UNAVAILABLE, "render window: GLFW finds no Vulkan loader");
    }
    render_window *w = aw_alloc(r->allocator, sizeof *w, _Alignof(render_window));
    if (!w) {
        glfwTerminate();
        return aw_error(AW_ERR_OUT_OF_MEMORY, "render window: out of memory");
    }
    memset(w, 0, sizeof *w);
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    glfwWindowHint(GLFW_RESIZABLE, GLFW_TRUE);
    w->window = glfwCreateWindow((int)r->width, (int)r->height, desc->window_title ? desc->window_title : "AstraWeave", NULL, NULL);
    if (!w->window) {
        aw_free(r->allocator, w, sizeof *w);
        glfwTerminate();
        return aw_error(AW_ERR_UNAVAILABLE, "render window: cannot open a window: %s", glfw_message);
    }
    r->window = w;
    glfwSetWindowUserPointer(w->window, w);
    glfwSetFramebufferSizeCallback(w->window, on_framebuffer_size);
    uint32_t count = 0;
    const char **exts = glfwGetRequiredInstanceExtensions(&count);
    static const char *const device_exts[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    gpu_desc->instance_extensions = exts;
    gpu_desc->instance_extension_count = exts ? count : 0;
    gpu_desc->device_extensions = device_exts;
    gpu_desc->device_extension_count = 1;
    gpu_desc->create_surface = create_surface;
    gpu_desc->surface_user = w;
    return AW_OK;
}

static void destroy_swapchain(aw_renderer *r) {
    render_window *w = r->window;
    VkDevice dev = r->vk ? r->vk->device : VK_NULL_HANDLE;
    if (!w || !dev) return;
    for (uint32_t i = 0; i < MAX_IMAGES; i++) {
        if (w->present_ready[i]) vkDestroySemaphore(dev, w->present_ready[i], NULL);
        w->present_ready[i] = VK_NULL_HANDLE;
    }
    if (w->swapchain) vkDestroySwapchainKHR(dev, w->swapchain, NULL);
    w->swapchain = VK_NULL_HANDLE;
    w->image_count = 0;
}

/* (Re)creates the swapchain at the framebuffer's size; sets r->width/height to it. */
static aw_status create_swapchain(aw_renderer *r) {
    render_window *w = r->window;
    VkPhysicalDevice pd = r->vk->physical_device;
    VkSurfaceKHR surface = r->vk->surface;
    VkSurfaceCapabilitiesKHR caps;
    aw_status st = aw_gpu_check(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(pd, surface, &caps),
                                "render window: vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
    if (st) return st;
    if (!(caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_DST_BIT))
        return aw_error(AW_ERR_UNSUPPORTED, "render window: the swapchain cannot be a blit destination");
    VkSurfaceFormatKHR formats[64];
    uint32_t nf = 64;
    st = aw_gpu_check(vkGetPhysicalDeviceSurfaceFormatsKHR(pd, surface, &nf, formats), "render window: surface formats");
    if (st == AW_OK && nf == 0) st = aw_error(AW_ERR_UNSUPPORTED, "render window: the surface has no formats");
    if (st) return st;
    /* An sRGB swapchain: the blit encodes the linear offscreen image. */
    VkSurfaceFormatKHR chosen = formats[0];
    for (uint32_t i = 0; i < nf; i++)
        if (formats[i].format == VK_FORMAT_B8G8R8A8_SRGB || formats[i].format == VK_FORMAT_R8G8B8A8_SRGB) {
            chosen = formats[i];
            break;
        }
    VkPresentModeKHR modes[16];
    uint32_t nm = 16;
    vkGetPhysicalDeviceSurfacePresentModesKHR(pd, surface, &nm, modes);
    w->info.present_modes_offered = 0;
    for (uint32_t i = 0; i < nm; i++)
        if ((uint32_t)modes[i] < 32) w->info.present_modes_offered |= 1u << (uint32_t)modes[i];
    VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR; /* always available: vsync */
    if (!w->vsync) {
        for (uint32_t i = 0; i < nm; i++)
            if (modes[i] == VK_PRESENT_MODE_MAILBOX_KHR) mode = modes[i];
        if (mode == VK_PRESENT_MODE_FIFO_KHR)
            for (uint32_t i = 0; i < nm; i++)
                if (modes[i] == VK_PRESENT_MODE_IMMEDIATE_KHR) mode = modes[i];
    }
    VkExtent2D extent = caps.currentExtent;
    if (extent.width == UINT32_MAX) {
        int fw = 0, fh = 0;
        glfwGetFramebufferSize(w->window, &fw, &fh);
        extent.width = (uint32_t)(fw > 0 ? fw : 1);
        extent.height = (uint32_t)(fh > 0 ? fh : 1);
        if (extent.width < caps.minImageExtent.width) extent.width = caps.minImageExtent.width;
        if (extent.height < caps.minImageExtent.height) extent.height = caps.minImageExtent.height;
        if (extent.width > caps.maxImageExtent.width) extent.width = caps.maxImageExtent.width;
        if (extent.height > caps.maxImageExtent.height) extent.height = caps.maxImageExtent.height;
    }
    uint32_t images = caps.minImageCount + 1;
    if (caps.maxImageCount && images > caps.maxImageCount) images = caps.maxImageCount;
    if (images > MAX_IMAGES) images = MAX_IMAGES;
    VkSwapchainKHR old = w->swapchain;
    VkSwapchainCreateInfoKHR info = {
        .sType = VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR,
        .surface = surface,
        .minImageCount = images,
        .imageFormat = chosen.format,
        .imageColorSpace = chosen.colorSpace,
        .imageExtent = extent,
        .imageArrayLayers = 1,
        .imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT,
        .imageSharingMode = VK_SHARING_MODE_EXCLUSIVE,
        .preTransform = caps.currentTransform,
        .compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR,
        .presentMode = mode,
        .clipped = VK_TRUE,
        .oldSwapchain = old,
    };
    if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR))
        info.compositeAlpha = VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR;
    VkSwapchainKHR swapchain = VK_NULL_HANDLE;
    st = aw_gpu_check(vkCreateSwapchainKHR(r->vk->device, &info, NULL, &swapchain), "render window: vkCreateSwapchainKHR");
    destroy_swapchain(r); /* the old one (retired by the new one's creation) */
    if (st) return st;
    w->swapchain = swapchain;
    w->format = chosen.format;
    w->present_mode = mode;
    w->info.swapchains++;
    w->image_count = MAX_IMAGES;
    st = aw_gpu_check(vkGetSwapchainImagesKHR(r->vk->device, swapchain, &w->image_count, w->images),
                      "render window: vkGetSwapchainImagesKHR");
    for (uint32_t i = 0; i < w->image_count && !st; i++)
        st = aw_gpu_check(vkCreateSemaphore(r->vk->device, &(VkSemaphoreCreateInfo){.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO},
                                            NULL, &w->present_ready[i]), "render window: vkCreateSemaphore");
    r->width = extent.width;
    r->height = extent.height;
    w->stale = false;
    return st;
}

aw_status render_window_attach(aw_renderer *r, bool vsync) {
    r->window->vsync = vsync;
    return create_swapchain(r);
}

/* Recreates the swapchain and the offscreen targets at the window's new size. */
static aw_status recreate(aw_renderer *r) {
    aw_status st = aw_gpu_wait_idle(r->gpu);
    if (!st) st = create_swapchain(r);
    if (!st) {
        render_targets_destroy(r);
        st = render_targets_create(r);
    }
    if (!st) render_update_view(r);
    return st;
}

aw_status render_window_acquire(aw_renderer *r, render_frame_slot *slot, bool *skip) {
    render_window *w = r->window;
    *skip = false;
    glfwPollEvents();
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(w->window, &fw, &fh);
    if (fw <= 0 || fh <= 0) { /* minimised */
        w->info.skipped_frames++;
        *skip = true;
        return AW_OK;
    }
    /* Size changes come from the framebuffer-size callback or from the swapchain's own results
     * (out of date, suboptimal), whichever the window system reports first. */
    if (w->stale) {
        aw_status st = recreate(r);
        if (st) return st;
    }
    VkResult res = vkAcquireNextImageKHR(r->vk->device, w->swapchain, UINT64_MAX, slot->acquired, VK_NULL_HANDLE, &w->image_index);
    if (res == VK_ERROR_OUT_OF_DATE_KHR) {
        w->info.out_of_date++;
        w->info.skipped_frames++;
        w->stale = true;
        *skip = true; /* the semaphore was not signalled: no frame this time, recreate on the next */
        return AW_OK;
    }
    if (res == VK_SUBOPTIMAL_KHR) {
        w->info.suboptimal++;
        w->stale = true; /* still presentable: use it, recreate next frame */
        return AW_OK;
    }
    return aw_gpu_check(res, "render window: vkAcquireNextImageKHR");
}

void render_window_record_blit(aw_renderer *r, VkCommandBuffer cmd) {
    render_window *w = r->window;
    VkImage image = w->images[w->image_index];
    VkImageMemoryBarrier2 to_dst = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2,
        .srcStageMask = VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, /* the acquire semaphore waits here */
        .dstStageMask = VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT,
        .dstAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT,
        .oldLayout = VK_IMAGE_LAYOUT_UNDEFINED,
        .newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .image = image,
        .subresourceRange = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .levelCount = 1, .layerCount = 1},
    };
    vkCmdPipelineBarrier2(cmd, &(VkDependencyInfo){.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .imageMemoryBarrierCount = 1,
                                                   .pImageMemoryBarriers = &to_dst});
    VkImageBlit region = {
        .srcSubresource = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .layerCount = 1},
        .srcOffsets = {{0, 0, 0}, {(int32_t)r->width, (int32_t)r->height, 1}},
        .dstSubresource = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .layerCount = 1},
        .dstOffsets = {{0, 0, 0}, {(int32_t)r->width, (int32_t)r->height, 1}},
    };
    vkCmdBlitImage(cmd, r->color_image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1,
                   &region, VK_FILTER_NEAREST);
    VkImageMemoryBarrier2 to_present = to_dst;
    to_present.srcStageMask = VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT;
    to_present.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
    to_present.dstStageMask = VK_PIPELINE_STAGE_2_NONE;
    to_present.dstAccessMask = 0;
    to_present.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
    to_present.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    vkCmdPipelineBarrier2(cmd, &(VkDependencyInfo){.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .imageMemoryBarrierCount = 1,
                                                   .pImageMemoryBarriers = &to_present});
}

VkSemaphore render_window_present_semaphore(aw_renderer *r) {
    return r->window->present_ready[r->window->image_index];
}

aw_status render_window_present(aw_renderer *r) {
    render_window *w = r->window;
    VkPresentInfoKHR info = {
        .sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR,
        .waitSemaphoreCount = 1,
        .pWaitSemaphores = &w->present_ready[w->image_index],
        .swapchainCount = 1,
        .pSwapchains = &w->swapchain,
        .pImageIndices = &w->image_index,
    };
    VkResult res = vkQueuePresentKHR(r->vk->queue, &info);
    if (res == VK_ERROR_OUT_OF_DATE_KHR || res == VK_SUBOPTIMAL_KHR) {
        if (res == VK_ERROR_OUT_OF_DATE_KHR) w->info.out_of_date++;
        else w->info.suboptimal++;
        w->stale = true;
        return AW_OK;
    }
    w->info.presented++;
    return aw_gpu_check(res, "render window: vkQueuePresentKHR");
}

void render_window_set_vsync(aw_renderer *r, bool vsync) {
    if (r->window->vsync == vsync) return;
    r->window->vsync = vsync;
    r->window->stale = true;
}

void render_window_set_size(aw_renderer *r, uint32_t width, uint32_t height) {
    glfwSetWindowSize(r->window->window, (int)width, (int)height);
}

aw_render_window_info render_window_info(const aw_renderer *r) {
    aw_render_window_info info = r->window->info;
    info.windowed = true;
    info.vsync = r->window->vsync;
    info.present_mode = (uint32_t)r->window->present_mode;
    info.image_count = r->window->image_count;
    return info;
}

bool render_window_should_close(aw_renderer *r) {
    glfwPollEvents();
    return glfwWindowShouldClose(r->window->window);
}

void render_window_close(aw_renderer *r) {
    if (r->window) destroy_swapchain(r);
}

void render_window_free(aw_renderer *r) {
    render_window *w = r->window;
    if (!w) return;
    if (w->window) glfwDestroyWindow(w->window);
    glfwTerminate();
    aw_free(r->allocator, w, sizeof *w);
    r->window = NULL;
}
