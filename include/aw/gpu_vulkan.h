/* Raw Vulkan handles of an aw_gpu and small helpers (buffers with a memory-type choice, shader
 * modules, one-time command submission) for modules that record Vulkan commands themselves. */
#ifndef AW_GPU_VULKAN_H
#define AW_GPU_VULKAN_H

#include <vulkan/vulkan.h>

#include "aw/gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Valid from aw_gpu_create until aw_gpu_destroy; the gpu owns every handle. */
typedef struct aw_gpu_vk {
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family; /* graphics + compute (+ present when a surface was given) */
    VkQueue queue;         /* the one queue; submit from one thread at a time */
    VkSurfaceKHR surface;  /* VK_NULL_HANDLE when headless */
    VkPhysicalDeviceLimits limits;
    VkPhysicalDeviceMemoryProperties memory;
    float timestamp_period;        /* ns per tick (limits.timestampPeriod) */
    uint32_t timestamp_valid_bits; /* of the queue family; 0: no timestamps */
} aw_gpu_vk;

const aw_gpu_vk *aw_gpu_vulkan(const aw_gpu *gpu);

/* "VK_ERROR_DEVICE_LOST", ... */
const char *aw_vk_result_str(VkResult result);
/* AW_OK for VK_SUCCESS; otherwise records AW_ERR_DEVICE (AW_ERR_OUT_OF_MEMORY for host memory)
 * with "<what>: <result>" and returns it. */
aw_status aw_gpu_check(VkResult result, const char *what);

/* Where a buffer's memory lives. */
typedef enum aw_gpu_memory {
    AW_GPU_MEMORY_DEVICE = 0, /* device-local, not mapped: GPU-only data */
    AW_GPU_MEMORY_UPLOAD,     /* host-visible + coherent, persistently mapped: CPU writes, GPU reads */
    AW_GPU_MEMORY_READBACK    /* host-visible, cached where possible, mapped: GPU writes, CPU reads */
} aw_gpu_memory;

typedef struct aw_gpu_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    void *mapped;  /* NULL for AW_GPU_MEMORY_DEVICE */
    bool coherent; /* false: use aw_gpu_buffer_flush / _invalidate around CPU access */
} aw_gpu_buffer;

/* A buffer of `size` bytes (> 0) with its own memory allocation. On failure *out is zeroed. */
aw_status aw_gpu_buffer_create(aw_gpu *gpu, VkDeviceSize size, VkBufferUsageFlags usage, aw_gpu_memory memory,
                               aw_gpu_buffer *out);
/* Frees and zeroes the buffer; a zeroed buffer is ignored. The GPU must be done with it. */
void aw_gpu_buffer_destroy(aw_gpu *gpu, aw_gpu_buffer *buffer);
/* Make CPU writes visible to the device / device writes visible to the CPU; no-ops on coherent
 * memory. VK_WHOLE_SIZE covers the rest of the buffer. */
aw_status aw_gpu_buffer_flush(aw_gpu *gpu, const aw_gpu_buffer *buffer, VkDeviceSize offset, VkDeviceSize size);
aw_status aw_gpu_buffer_invalidate(aw_gpu *gpu, const aw_gpu_buffer *buffer, VkDeviceSize offset,
                                   VkDeviceSize size);

/* Index of a memory type allowed by type_bits with all of `required` (and, where one exists,
 * all of `preferred`), or UINT32_MAX. */
uint32_t aw_gpu_memory_type(const aw_gpu *gpu, uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred);

/* Shader module from SPIR-V words (size in bytes, a multiple of 4, starting with the SPIR-V magic
 * number) or from a .spv file. AW_ERR_PARSE for data that is not SPIR-V, AW_ERR_IO for a file that
 * cannot be read. */
aw_status aw_gpu_shader_from_spirv(aw_gpu *gpu, const void *code, size_t size, VkShaderModule *out);
aw_status aw_gpu_shader_from_file(aw_gpu *gpu, const char *path, VkShaderModule *out);

/* Records commands with `record` into a fresh primary command buffer, submits it to the queue and
 * waits for it to finish (uploads, readbacks, setup work: not for per-frame use). */
typedef void (*aw_gpu_record_fn)(VkCommandBuffer cmd, void *user);
aw_status aw_gpu_submit_once(aw_gpu *gpu, aw_gpu_record_fn record, void *user);

#ifdef __cplusplus
}
#endif

#endif /* AW_GPU_VULKAN_H */
