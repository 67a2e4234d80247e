/* Vulkan 1.3 device setup: instance (with validation and a counting debug messenger when asked),
 * physical device choice by preference or name, one graphics+compute queue, 1.3 features. */
#include "gpu_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"
#define MAX_EXTENSIONS   32
#define MAX_DEVICES      16

const char *aw_gpu_device_type_str(aw_gpu_device_type type) {
    switch (type) {
    case AW_GPU_DEVICE_INTEGRATED: return "integrated";
    case AW_GPU_DEVICE_DISCRETE: return "discrete";
    case AW_GPU_DEVICE_VIRTUAL: return "virtual";
    case AW_GPU_DEVICE_CPU: return "cpu";
    default: return "other";
    }
}

static aw_gpu_device_type type_of(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return AW_GPU_DEVICE_INTEGRATED;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return AW_GPU_DEVICE_DISCRETE;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return AW_GPU_DEVICE_VIRTUAL;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return AW_GPU_DEVICE_CPU;
    default: return AW_GPU_DEVICE_OTHER;
    }
}

/* Higher is better: discrete > integrated > virtual > cpu > other. */
static int type_rank(aw_gpu_device_type t) {
    static const int rank[] = {[AW_GPU_DEVICE_OTHER] = 0, [AW_GPU_DEVICE_CPU] = 1, [AW_GPU_DEVICE_VIRTUAL] = 2,
                               [AW_GPU_DEVICE_INTEGRATED] = 3, [AW_GPU_DEVICE_DISCRETE] = 4};
    return rank[t];
}

static bool contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return true;
    }
    return n == 0;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT types,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                       void *user) {
    (void)types;
    aw_gpu *gpu = user;
    bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    bool warning = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
    if (!error && !warning) return VK_FALSE;
    const char *text = data && data->pMessage ? data->pMessage : "(no message)";
    if (error)
        atomic_fetch_add(&gpu->errors, 1);
    else
        atomic_fetch_add(&gpu->warnings, 1);
    if (!atomic_flag_test_and_set(&gpu->first_claimed))
        snprintf(gpu->first_message, sizeof gpu->first_message, "%s", text);
    if (error)
        AW_LOGE("vulkan debug messenger: %s", text);
    else
        AW_LOGW("vulkan debug messenger: %s", text);
    return VK_FALSE;
}

static bool layer_present(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return false;
    VkLayerProperties props[64];
    if (n > 64) n = 64;
    if (vkEnumerateInstanceLayerProperties(&n, props) < 0) return false;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(props[i].layerName, name) == 0) return true;
    return false;
}

static bool instance_extension_present(const char *layer, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties props[256];
    if (n > 256) n = 256;
    if (vkEnumerateInstanceExtensionProperties(layer, &n, props) < 0) return false;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(props[i].extensionName, name) == 0) return true;
    return false;
}

static bool device_extension_present(VkPhysicalDevice pd, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties props[512];
    if (n > 512) n = 512;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, props) < 0) return false;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(props[i].extensionName, name) == 0) return true;
    return false;
}

static bool env_on(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static aw_status create_instance(aw_gpu *gpu, const aw_gpu_desc *desc, bool validation) {
    uint32_t loader_version = 0;
    if (vkEnumerateInstanceVersion(&loader_version) != VK_SUCCESS || loader_version < VK_API_VERSION_1_3)
        return aw_error(AW_ERR_UNAVAILABLE, "gpu: the Vulkan loader supports %u.%u, 1.3 is needed",
                        VK_API_VERSION_MAJOR(loader_version), VK_API_VERSION_MINOR(loader_version));
    const char *exts[MAX_EXTENSIONS];
    uint32_t ext_count = 0;
    if (desc->instance_extension_count > MAX_EXTENSIONS - 1)
        return aw_error(AW_ERR_INVALID_ARG, "gpu: at most %d instance extensions", MAX_EXTENSIONS - 1);
    for (uint32_t i = 0; i < desc->instance_extension_count; i++) {
        if (!desc->instance_extensions || !desc->instance_extensions[i])
            return aw_error(AW_ERR_INVALID_ARG, "gpu: instance extension %u is NULL", i);
        if (!instance_extension_present(NULL, desc->instance_extensions[i]))
            return aw_error(AW_ERR_UNSUPPORTED, "gpu: instance extension %s is not available",
                            desc->instance_extensions[i]);
        exts[ext_count++] = desc->instance_extensions[i];
    }
    const char *layers[1] = {VALIDATION_LAYER};
    if (validation) {
        if (!layer_present(VALIDATION_LAYER))
            return aw_error(AW_ERR_UNAVAILABLE,
                            "gpu: validation was asked for but " VALIDATION_LAYER
                            " is not installed (Debian: vulkan-validationlayers; or set VK_ADD_LAYER_PATH)");
        if (!instance_extension_present(NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) &&
            !instance_extension_present(VALIDATION_LAYER, VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
            return aw_error(AW_ERR_UNAVAILABLE, "gpu: " VK_EXT_DEBUG_UTILS_EXTENSION_NAME " is not available");
        exts[ext_count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
        .pUserData = gpu,
    };
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = desc->app_name ? desc->app_name : "astraweave",
        .pEngineName = "AstraWeave-C",
        .apiVersion = VK_API_VERSION_1_3,
    };
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &messenger_info : NULL, /* also covers instance creation itself */
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1u : 0u,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = ext_count,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateInstance(&info, NULL, &gpu->vk.instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
        return aw_error(AW_ERR_UNAVAILABLE,
                        "gpu: no Vulkan driver (vkCreateInstance: %s); install one (Debian: mesa-vulkan-drivers "
                        "for lavapipe) or check VK_DRIVER_FILES / VK_ICD_FILENAMES",
                        aw_vk_result_str(r));
    if (r == VK_ERROR_LAYER_NOT_PRESENT || r == VK_ERROR_EXTENSION_NOT_PRESENT)
        return aw_error(AW_ERR_UNAVAILABLE, "gpu: vkCreateInstance: %s", aw_vk_result_str(r));
    if (r != VK_SUCCESS) return aw_gpu_check(r, "gpu: vkCreateInstance");
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create_messenger =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(gpu->vk.instance, "vkCreateDebugUtilsMessengerEXT");
        if (!create_messenger) return aw_error(AW_ERR_UNAVAILABLE, "gpu: vkCreateDebugUtilsMessengerEXT missing");
        aw_status st = aw_gpu_check(create_messenger(gpu->vk.instance, &messenger_info, NULL, &gpu->messenger),
                                    "gpu: vkCreateDebugUtilsMessengerEXT");
        if (st != AW_OK) return st;
        gpu->info.validation = true;
    }
    return AW_OK;
}

typedef struct candidate {
    VkPhysicalDevice pd;
    VkPhysicalDeviceProperties props;
    uint32_t family;
    const char *why_not; /* NULL when usable */
} candidate;

/* Checks Vulkan 1.3, the three features, the extensions and a graphics+compute(+present) queue. */
static void examine(aw_gpu *gpu, const aw_gpu_desc *desc, candidate *c) {
    vkGetPhysicalDeviceProperties(c->pd, &c->props);
    c->why_not = NULL;
    c->family = UINT32_MAX;
    if (c->props.apiVersion < VK_API_VERSION_1_3) {
        c->why_not = "Vulkan 1.3 not supported";
        return;
    }
    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f13};
    vkGetPhysicalDeviceFeatures2(c->pd, &f2);
    if (!f13.dynamicRendering || !f13.synchronization2 || !f13.maintenance4) {
        c->why_not = "lacks dynamicRendering, synchronization2 or maintenance4";
        return;
    }
    for (uint32_t i = 0; i < desc->device_extension_count; i++) {
        if (!desc->device_extensions || !desc->device_extensions[i] ||
            !device_extension_present(c->pd, desc->device_extensions[i])) {
            c->why_not = "lacks a requested device extension";
            return;
        }
    }
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(c->pd, &n, NULL);
    VkQueueFamilyProperties fams[32];
    if (n > 32) n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(c->pd, &n, fams);
    for (uint32_t i = 0; i < n; i++) {
        VkQueueFlags need = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
        if ((fams[i].queueFlags & need) != need || fams[i].queueCount == 0) continue;
        if (gpu->vk.surface != VK_NULL_HANDLE) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(c->pd, i, gpu->vk.surface, &present);
            if (!present) continue;
        }
        c->family = i;
        gpu->vk.timestamp_valid_bits = fams[i].timestampValidBits;
        return;
    }
    c->why_not = gpu->vk.surface ? "no graphics+compute queue that can present" : "no graphics+compute queue";
}

static aw_status choose_device(aw_gpu *gpu, const aw_gpu_desc *desc) {
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(gpu->vk.instance, &n, NULL);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return aw_gpu_check(r, "gpu: vkEnumeratePhysicalDevices");
    if (n == 0)
        return aw_error(AW_ERR_UNAVAILABLE, "gpu: the Vulkan driver reports no device (check VK_DRIVER_FILES / "
                                            "VK_ICD_FILENAMES and the driver installation)");
    VkPhysicalDevice pds[MAX_DEVICES];
    if (n > MAX_DEVICES) n = MAX_DEVICES;
    r = vkEnumeratePhysicalDevices(gpu->vk.instance, &n, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return aw_gpu_check(r, "gpu: vkEnumeratePhysicalDevices");
    const char *want = desc->device_name;
    if (!want || !*want) want = getenv("AW_GPU_DEVICE");
    if (want && !*want) want = NULL;

    candidate cands[MAX_DEVICES];
    int best = -1;
    char list[512] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        cands[i].pd = pds[i];
        examine(gpu, desc, &cands[i]);
        int w = snprintf(list + used, sizeof list - used, "%s'%s' (%s%s%s)", i ? ", " : "", cands[i].props.deviceName,
                         aw_gpu_device_type_str(type_of(cands[i].props.deviceType)), cands[i].why_not ? ": " : "",
                         cands[i].why_not ? cands[i].why_not : "");
        if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
        if (cands[i].why_not) continue;
        if (want && !contains_nocase(cands[i].props.deviceName, want)) continue;
        if (best < 0 || type_rank(type_of(cands[i].props.deviceType)) >
                            type_rank(type_of(cands[best].props.deviceType)))
            best = (int)i;
    }
    if (best < 0) {
        if (want) return aw_error(AW_ERR_NOT_FOUND, "gpu: no usable device matches '%s'; devices: %s", want, list);
        return aw_error(AW_ERR_UNAVAILABLE, "gpu: no usable Vulkan 1.3 device; devices: %s", list);
    }
    /* Examine again: it recorded the last device's timestamp bits. */
    examine(gpu, desc, &cands[best]);
    gpu->vk.physical_device = cands[best].pd;
    gpu->vk.queue_family = cands[best].family;
    const VkPhysicalDeviceProperties *p = &cands[best].props;
    gpu->vk.limits = p->limits;
    gpu->vk.timestamp_period = p->limits.timestampPeriod;
    vkGetPhysicalDeviceMemoryProperties(gpu->vk.physical_device, &gpu->vk.memory);
    snprintf(gpu->info.device_name, sizeof gpu->info.device_name, "%s", p->deviceName);
    gpu->info.type = type_of(p->deviceType);
    gpu->info.api_version = p->apiVersion;
    gpu->info.vendor_id = p->vendorID;
    gpu->info.device_id = p->deviceID;
    gpu->info.timestamps = gpu->vk.timestamp_valid_bits > 0 && p->limits.timestampPeriod > 0.0f;
    gpu->info.timestamp_period = p->limits.timestampPeriod;
    VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &driver};
    vkGetPhysicalDeviceProperties2(gpu->vk.physical_device, &p2);
    snprintf(gpu->info.driver_name, sizeof gpu->info.driver_name, "%.120s %.120s", driver.driverName, driver.driverInfo);
    return AW_OK;
}

static aw_status create_device(aw_gpu *gpu, const aw_gpu_desc *desc) {
    VkPhysicalDeviceFeatures supported;
    vkGetPhysicalDeviceFeatures(gpu->vk.physical_device, &supported);
    VkPhysicalDeviceVulkan12Features s12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 s2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s12};
    vkGetPhysicalDeviceFeatures2(gpu->vk.physical_device, &s2);

    /* Required 1.3 features, plus cheap optional ones the renderer and particles use when present. */
    VkPhysicalDeviceVulkan13Features f13 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
        .dynamicRendering = VK_TRUE,
        .synchronization2 = VK_TRUE,
        .maintenance4 = VK_TRUE,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .pNext = &f13,
        .hostQueryReset = s12.hostQueryReset,
        .scalarBlockLayout = s12.scalarBlockLayout,
        .timelineSemaphore = s12.timelineSemaphore,
    };
    VkPhysicalDeviceFeatures2 f2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f12,
        .features = {.multiDrawIndirect = supported.multiDrawIndirect,
                     .drawIndirectFirstInstance = supported.drawIndirectFirstInstance,
                     .shaderInt64 = supported.shaderInt64},
    };
    gpu->info.multi_draw_indirect = supported.multiDrawIndirect;
    gpu->info.draw_indirect_first_instance = supported.drawIndirectFirstInstance;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = gpu->vk.queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
        .enabledExtensionCount = desc->device_extension_count,
        .ppEnabledExtensionNames = desc->device_extensions,
    };
    aw_status st = aw_gpu_check(vkCreateDevice(gpu->vk.physical_device, &info, NULL, &gpu->vk.device), "gpu: vkCreateDevice");
    if (st != AW_OK) return st;
    vkGetDeviceQueue(gpu->vk.device, gpu->vk.queue_family, 0, &gpu->vk.queue);
    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = gpu->vk.queue_family,
    };
    return aw_gpu_check(vkCreateCommandPool(gpu->vk.device, &pool, NULL, &gpu->once_pool), "gpu: vkCreateCommandPool");
}

aw_status aw_gpu_create(const aw_gpu_desc *desc_in, aw_gpu **out) {
    if (!out) return aw_error(AW_ERR_INVALID_ARG, "gpu: out is NULL");
    aw_gpu_desc desc = desc_in ? *desc_in : (aw_gpu_desc){0};
    if ((desc.instance_extension_count && !desc.instance_extensions) ||
        (desc.device_extension_count && !desc.device_extensions))
        return aw_error(AW_ERR_INVALID_ARG, "gpu: extension count without a list");
    const aw_allocator *a = desc.allocator ? desc.allocator : aw_heap_allocator();
    aw_gpu *gpu = aw_alloc(a, sizeof *gpu, _Alignof(aw_gpu));
    if (!gpu) return aw_error(AW_ERR_OUT_OF_MEMORY, "gpu: out of memory");
    memset(gpu, 0, sizeof *gpu);
    gpu->allocator = a;
    atomic_init(&gpu->errors, 0);
    atomic_init(&gpu->warnings, 0);
    atomic_flag_clear(&gpu->first_claimed);

    bool validation = desc.validation || env_on("AW_VK_VALIDATION");
    aw_status st = create_instance(gpu, &desc, validation);
    if (st == AW_OK && desc.create_surface) {
        uint64_t surface = 0;
        st = desc.create_surface((void *)gpu->vk.instance, &surface, desc.surface_user);
        gpu->vk.surface = (VkSurfaceKHR)(uintptr_t)surface;
        if (st == AW_OK && gpu->vk.surface == VK_NULL_HANDLE)
            st = aw_error(AW_ERR_DEVICE, "gpu: create_surface returned no surface");
    }
    if (st == AW_OK) st = choose_device(gpu, &desc);
    if (st == AW_OK) st = create_device(gpu, &desc);
    if (st != AW_OK) {
        /* Keep the message: teardown calls must not replace it. */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        aw_gpu_destroy(gpu);
        return aw_error(st, "%s", msg);
    }
    *out = gpu;
    return AW_OK;
}

void aw_gpu_destroy(aw_gpu *gpu) {
    if (!gpu) return;
    if (gpu->vk.device) {
        vkDeviceWaitIdle(gpu->vk.device);
        if (gpu->once_pool) vkDestroyCommandPool(gpu->vk.device, gpu->once_pool, NULL);
        vkDestroyDevice(gpu->vk.device, NULL);
    }
    if (gpu->vk.instance) {
        if (gpu->vk.surface) vkDestroySurfaceKHR(gpu->vk.instance, gpu->vk.surface, NULL);
        if (gpu->messenger) {
            PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
                gpu->vk.instance, "vkDestroyDebugUtilsMessengerEXT");
            if (destroy) destroy(gpu->vk.instance, gpu->messenger, NULL);
        }
        vkDestroyInstance(gpu->vk.instance, NULL);
    }
    aw_free(gpu->allocator, gpu, sizeof *gpu);
}

aw_gpu_info aw_gpu_get_info(const aw_gpu *gpu) {
    return gpu ? gpu->info : (aw_gpu_info){0};
}

const aw_gpu_vk *aw_gpu_vulkan(const aw_gpu *gpu) {
    return gpu ? &gpu->vk : NULL;
}

uint32_t aw_gpu_validation_errors(const aw_gpu *gpu) {
    return gpu ? atomic_load(&((aw_gpu *)gpu)->errors) : 0;
}

uint32_t aw_gpu_validation_warnings(const aw_gpu *gpu) {
    return gpu ? atomic_load(&((aw_gpu *)gpu)->warnings) : 0;
}

const char *aw_gpu_validation_first_message(const aw_gpu *gpu) {
    return gpu ? gpu->first_message : "";
}

aw_status aw_gpu_wait_idle(aw_gpu *gpu) {
    if (!gpu) return aw_error(AW_ERR_INVALID_ARG, "gpu: NULL");
    return aw_gpu_check(vkDeviceWaitIdle(gpu->vk.device), "gpu: vkDeviceWaitIdle");
}
