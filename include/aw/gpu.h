/* AstraWeave GPU device: one Vulkan 1.3 instance, physical device, logical device and queue,
 * shared by the renderer and GPU particles. Raw Vulkan handles live in aw/gpu_vulkan.h. */
#ifndef AW_GPU_H
#define AW_GPU_H

#include "aw/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_gpu aw_gpu;

typedef enum aw_gpu_device_type {
    AW_GPU_DEVICE_OTHER = 0,
    AW_GPU_DEVICE_INTEGRATED,
    AW_GPU_DEVICE_DISCRETE,
    AW_GPU_DEVICE_VIRTUAL,
    AW_GPU_DEVICE_CPU /* lavapipe, SwiftShader */
} aw_gpu_device_type;

/* Zero means default for every field. */
typedef struct aw_gpu_desc {
    const aw_allocator *allocator; /* NULL: aw_heap_allocator() */
    const char *app_name;          /* NULL: "astraweave" */
    /* Physical device choice: the first device whose name contains this substring
     * (case-insensitive). NULL: the AW_GPU_DEVICE environment variable if set, else by type,
     * discrete > integrated > virtual > cpu > other, then enumeration order. */
    const char *device_name;
    /* VK_LAYER_KHRONOS_validation and a debug messenger that counts errors and warnings and
     * logs each one. Also on when the environment sets AW_VK_VALIDATION=1. Missing layer:
     * AW_ERR_UNAVAILABLE. */
    bool validation;
    /* Extra extensions (a windowed target passes GLFW's surface extensions and
     * VK_KHR_swapchain). A missing one: AW_ERR_UNSUPPORTED. */
    const char *const *instance_extensions;
    uint32_t instance_extension_count;
    const char *const *device_extensions;
    uint32_t device_extension_count;
    /* Windowed targets: called once the instance exists (vk_instance is a VkInstance) to create
     * the VkSurfaceKHR (written to *out_surface); the device and queue family are then chosen so
     * the queue can present to it. aw_gpu_destroy destroys the surface. NULL: headless. */
    aw_status (*create_surface)(void *vk_instance, uint64_t *out_surface, void *user);
    void *surface_user;
} aw_gpu_desc;

/* Creates the device. AW_ERR_UNAVAILABLE with a message naming what is missing when there is no
 * Vulkan loader or driver, no Vulkan 1.3 device with dynamicRendering, synchronization2 and
 * maintenance4 and a graphics+compute queue, or no validation layer when validation was asked
 * for; AW_ERR_NOT_FOUND when the name override matches no device (the message lists them);
 * AW_ERR_DEVICE when a Vulkan call fails. *out is set only on success. */
aw_status aw_gpu_create(const aw_gpu_desc *desc, aw_gpu **out);
/* Waits for the device to go idle and frees everything. NULL is ignored. */
void aw_gpu_destroy(aw_gpu *gpu);

typedef struct aw_gpu_info {
    char device_name[256];
    char driver_name[256];  /* "llvmpipe", "NVIDIA", ... plus the driver's version text */
    aw_gpu_device_type type;
    uint32_t api_version;   /* VK_MAKE_API_VERSION packing */
    uint32_t vendor_id, device_id;
    bool timestamps;        /* the queue supports timestamp queries */
    float timestamp_period; /* nanoseconds per timestamp tick */
    bool draw_indirect_first_instance; /* indirect draws may use firstInstance != 0 */
    bool multi_draw_indirect;          /* one indirect call may issue many draws */
    bool validation;                   /* the validation layer is on */
} aw_gpu_info;

aw_gpu_info aw_gpu_get_info(const aw_gpu *gpu);
const char *aw_gpu_device_type_str(aw_gpu_device_type type);

/* Validation messages seen so far (0 without validation). Tests assert both stay 0. */
uint32_t aw_gpu_validation_errors(const aw_gpu *gpu);
uint32_t aw_gpu_validation_warnings(const aw_gpu *gpu);
/* The first error or warning message received ("" if none), for a test's failure output. */
const char *aw_gpu_validation_first_message(const aw_gpu *gpu);

/* Waits until the device has finished all submitted work. */
aw_status aw_gpu_wait_idle(aw_gpu *gpu);

/* Exit code for tests that cannot run here (no driver or device): CTest's SKIP_RETURN_CODE. */
#define AW_GPU_TEST_SKIP 77

#ifdef __cplusplus
}
#endif

#endif /* AW_GPU_H */
