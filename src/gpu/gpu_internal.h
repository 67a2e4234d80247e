/* The aw_gpu object, shared by the device setup (gpu.c) and the resource helpers. */
#ifndef AW_GPU_INTERNAL_H
#define AW_GPU_INTERNAL_H

#include <stdatomic.h>

#include "aw/gpu_vulkan.h"

struct aw_gpu {
    const aw_allocator *allocator;
    aw_gpu_vk vk;
    aw_gpu_info info;
    VkDebugUtilsMessengerEXT messenger;
    VkCommandPool once_pool; /* for aw_gpu_submit_once */
    _Atomic uint32_t errors, warnings;
    atomic_flag first_claimed; /* the first message is copied once, by whoever claims this */
    char first_message[1024];
};

#endif /* AW_GPU_INTERNAL_H */
