/* Helpers over an aw_gpu: VkResult messages, buffers with a memory-type choice, shader modules
 * from SPIR-V and one-time command submission. */
#include "gpu_internal.h"

#include <stdio.h>
#include <string.h>

const char *aw_vk_result_str(VkResult r) {
    switch (r) {
#define R(x) case x: return #x
        R(VK_SUCCESS); R(VK_NOT_READY); R(VK_TIMEOUT); R(VK_EVENT_SET); R(VK_EVENT_RESET); R(VK_INCOMPLETE);
        R(VK_ERROR_OUT_OF_HOST_MEMORY); R(VK_ERROR_OUT_OF_DEVICE_MEMORY); R(VK_ERROR_INITIALIZATION_FAILED);
        R(VK_ERROR_DEVICE_LOST); R(VK_ERROR_MEMORY_MAP_FAILED); R(VK_ERROR_LAYER_NOT_PRESENT);
        R(VK_ERROR_EXTENSION_NOT_PRESENT); R(VK_ERROR_FEATURE_NOT_PRESENT); R(VK_ERROR_INCOMPATIBLE_DRIVER);
        R(VK_ERROR_TOO_MANY_OBJECTS); R(VK_ERROR_FORMAT_NOT_SUPPORTED); R(VK_ERROR_FRAGMENTED_POOL);
        R(VK_ERROR_UNKNOWN); R(VK_ERROR_OUT_OF_POOL_MEMORY); R(VK_ERROR_INVALID_EXTERNAL_HANDLE);
        R(VK_ERROR_FRAGMENTATION); R(VK_ERROR_SURFACE_LOST_KHR); R(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR);
        R(VK_SUBOPTIMAL_KHR); R(VK_ERROR_OUT_OF_DATE_KHR);
#undef R
    default: return "VkResult(unknown)";
    }
}

aw_status aw_gpu_check(VkResult result, const char *what) {
    if (result == VK_SUCCESS) return AW_OK;
    aw_status st = result == VK_ERROR_OUT_OF_HOST_MEMORY ? AW_ERR_OUT_OF_MEMORY : AW_ERR_DEVICE;
    return aw_error(st, "%s: %s", what ? what : "vulkan", aw_vk_result_str(result));
}

uint32_t aw_gpu_memory_type(const aw_gpu *gpu, uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred) {
    if (!gpu) return UINT32_MAX;
    const VkPhysicalDeviceMemoryProperties *m = &gpu->vk.memory;
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < m->memoryTypeCount; i++) {
        if (!(type_bits & (1u << i))) continue;
        VkMemoryPropertyFlags f = m->memoryTypes[i].propertyFlags;
        if ((f & required) != required) continue;
        if ((f & preferred) == preferred) return i;
        if (fallback == UINT32_MAX) fallback = i;
    }
    return fallback;
}

aw_status aw_gpu_buffer_create(aw_gpu *gpu, VkDeviceSize size, VkBufferUsageFlags usage, aw_gpu_memory memory,
                               aw_gpu_buffer *out) {
    if (!out) return aw_error(AW_ERR_INVALID_ARG, "gpu buffer: out is NULL");
    memset(out, 0, sizeof *out);
    if (!gpu || size == 0 || usage == 0)
        return aw_error(AW_ERR_INVALID_ARG, "gpu buffer: needs a gpu, a size and a usage");
    if (memory > AW_GPU_MEMORY_READBACK) return aw_error(AW_ERR_INVALID_ARG, "gpu buffer: bad memory kind %d", memory);
    VkDevice dev = gpu->vk.device;
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    aw_gpu_buffer b = {.size = size};
    aw_status st = aw_gpu_check(vkCreateBuffer(dev, &info, NULL, &b.buffer), "gpu buffer: vkCreateBuffer");
    if (st != AW_OK) return st;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev, b.buffer, &req);
    VkMemoryPropertyFlags required = 0, preferred = 0;
    switch (memory) {
    case AW_GPU_MEMORY_DEVICE: preferred = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT; break;
    case AW_GPU_MEMORY_UPLOAD:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        break;
    case AW_GPU_MEMORY_READBACK:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
        preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        break;
    }
    uint32_t type = aw_gpu_memory_type(gpu, req.memoryTypeBits, required, preferred);
    if (type == UINT32_MAX) {
        vkDestroyBuffer(dev, b.buffer, NULL);
        return aw_error(AW_ERR_UNSUPPORTED, "gpu buffer: no memory type fits (bits 0x%x)", req.memoryTypeBits);
    }
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    st = aw_gpu_check(vkAllocateMemory(dev, &alloc, NULL, &b.memory), "gpu buffer: vkAllocateMemory");
    if (st == AW_OK) st = aw_gpu_check(vkBindBufferMemory(dev, b.buffer, b.memory, 0), "gpu buffer: vkBindBufferMemory");
    if (st == AW_OK && memory != AW_GPU_MEMORY_DEVICE)
        st = aw_gpu_check(vkMapMemory(dev, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "gpu buffer: vkMapMemory");
    if (st != AW_OK) {
        aw_gpu_buffer_destroy(gpu, &b);
        return st;
    }
    b.coherent = gpu->vk.memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    *out = b;
    return AW_OK;
}

void aw_gpu_buffer_destroy(aw_gpu *gpu, aw_gpu_buffer *buffer) {
    if (!gpu || !buffer) return;
    if (buffer->buffer) vkDestroyBuffer(gpu->vk.device, buffer->buffer, NULL);
    if (buffer->memory) vkFreeMemory(gpu->vk.device, buffer->memory, NULL); /* unmaps too */
    memset(buffer, 0, sizeof *buffer);
}

/* Non-coherent ranges must be aligned to nonCoherentAtomSize. */
static VkMappedMemoryRange atom_range(const aw_gpu *gpu, const aw_gpu_buffer *b, VkDeviceSize offset, VkDeviceSize size) {
    VkDeviceSize atom = gpu->vk.limits.nonCoherentAtomSize ? gpu->vk.limits.nonCoherentAtomSize : 1;
    VkDeviceSize begin = offset / atom * atom;
    VkDeviceSize end = size == VK_WHOLE_SIZE ? VK_WHOLE_SIZE : offset + size;
    VkDeviceSize len = VK_WHOLE_SIZE;
    if (end != VK_WHOLE_SIZE) {
        end = (end + atom - 1) / atom * atom;
        len = end >= b->size ? VK_WHOLE_SIZE : end - begin;
    }
    return (VkMappedMemoryRange){.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->memory, .offset = begin, .size = len};
}

aw_status aw_gpu_buffer_flush(aw_gpu *gpu, const aw_gpu_buffer *buffer, VkDeviceSize offset, VkDeviceSize size) {
    if (!gpu || !buffer || !buffer->mapped) return aw_error(AW_ERR_INVALID_ARG, "gpu buffer flush: not a mapped buffer");
    if (buffer->coherent) return AW_OK;
    VkMappedMemoryRange r = atom_range(gpu, buffer, offset, size);
    return aw_gpu_check(vkFlushMappedMemoryRanges(gpu->vk.device, 1, &r), "gpu buffer: vkFlushMappedMemoryRanges");
}

aw_status aw_gpu_buffer_invalidate(aw_gpu *gpu, const aw_gpu_buffer *buffer, VkDeviceSize offset,
                                   VkDeviceSize size) {
    if (!gpu || !buffer || !buffer->mapped)
        return aw_error(AW_ERR_INVALID_ARG, "gpu buffer invalidate: not a mapped buffer");
    if (buffer->coherent) return AW_OK;
    VkMappedMemoryRange r = atom_range(gpu, buffer, offset, size);
    return aw_gpu_check(vkInvalidateMappedMemoryRanges(gpu->vk.device, 1, &r),
                        "gpu buffer: vkInvalidateMappedMemoryRanges");
}

aw_status aw_gpu_shader_from_spirv(aw_gpu *gpu, const void *code, size_t size, VkShaderModule *out) {
    if (!gpu || !code || !out) return aw_error(AW_ERR_INVALID_ARG, "gpu shader: NULL argument");
    uint32_t magic = 0;
    if (size >= 4) memcpy(&magic, code, 4);
    if (size < 20 || size % 4 != 0 || magic != 0x07230203u)
        return aw_error(AW_ERR_PARSE, "gpu shader: %zu bytes are not SPIR-V (bad size or magic number)", size);
    VkShaderModuleCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = size,
        .pCode = code, /* callers pass 4-byte aligned words (embedded arrays are aligned) */
    };
    return aw_gpu_check(vkCreateShaderModule(gpu->vk.device, &info, NULL, out), "gpu shader: vkCreateShaderModule");
}

aw_status aw_gpu_shader_from_file(aw_gpu *gpu, const char *path, VkShaderModule *out) {
    if (!gpu || !path || !out) return aw_error(AW_ERR_INVALID_ARG, "gpu shader: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return aw_error(AW_ERR_IO, "gpu shader: cannot open '%s'", path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size <= 0 || size > (64l << 20) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return aw_error(size <= 0 ? AW_ERR_PARSE : AW_ERR_IO, "gpu shader: '%s' is empty, too large or unreadable", path);
    }
    uint32_t *words = aw_alloc(gpu->allocator, (size_t)size, 4);
    if (!words) {
        fclose(f);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "gpu shader: out of memory reading '%s'", path);
    }
    size_t got = fread(words, 1, (size_t)size, f);
    fclose(f);
    aw_status st = got == (size_t)size ? aw_gpu_shader_from_spirv(gpu, words, (size_t)size, out)
                                       : aw_error(AW_ERR_IO, "gpu shader: short read of '%s'", path);
    aw_free(gpu->allocator, words, (size_t)size);
    if (st == AW_ERR_PARSE) return aw_error(st, "gpu shader: '%s' is not SPIR-V", path);
    return st;
}

aw_status aw_gpu_submit_once(aw_gpu *gpu, aw_gpu_record_fn record, void *user) {
    if (!gpu || !record) return aw_error(AW_ERR_INVALID_ARG, "gpu submit: NULL argument");
    VkDevice dev = gpu->vk.device;
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = gpu->once_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    aw_status st = aw_gpu_check(vkAllocateCommandBuffers(dev, &ai, &cmd), "gpu submit: vkAllocateCommandBuffers");
    if (st != AW_OK) return st;
    VkFence fence = VK_NULL_HANDLE;
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    st = aw_gpu_check(vkCreateFence(dev, &fi, NULL, &fence), "gpu submit: vkCreateFence");
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    if (st == AW_OK) st = aw_gpu_check(vkBeginCommandBuffer(cmd, &bi), "gpu submit: vkBeginCommandBuffer");
    if (st == AW_OK) {
        record(cmd, user);
        st = aw_gpu_check(vkEndCommandBuffer(cmd), "gpu submit: vkEndCommandBuffer");
    }
    if (st == AW_OK) {
        VkCommandBufferSubmitInfo cbi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, .commandBuffer = cmd};
        VkSubmitInfo2 si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2, .commandBufferInfoCount = 1, .pCommandBufferInfos = &cbi};
        st = aw_gpu_check(vkQueueSubmit2(gpu->vk.queue, 1, &si, fence), "gpu submit: vkQueueSubmit2");
    }
    if (st == AW_OK) st = aw_gpu_check(vkWaitForFences(dev, 1, &fence, VK_TRUE, UINT64_MAX), "gpu submit: vkWaitForFences");
    if (fence) vkDestroyFence(dev, fence, NULL);
    vkFreeCommandBuffers(dev, gpu->once_pool, 1, &cmd);
    return st;
}
