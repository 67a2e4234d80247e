/* Shared by the Vulkan tests: opening the device, and under the sanitizers, keeps the driver and layer libraries loaded
 * to the end of the process. The loader unloads them at vkDestroyInstance, and allocations they
 * keep for the process's life would otherwise reach LeakSanitizer from an unnamed module that no
 * suppression (tests/lsan-vulkan.supp) can match. */
#ifndef AW_GPU_TEST_ENV_H
#define AW_GPU_TEST_ENV_H

#if defined(AW_SANITIZED)
#include <dlfcn.h>
static inline void gpu_test_keep_driver_libraries(void) {
    static const char *const libs[] = {"libvulkan_lvp.so", "libVkLayer_khronos_validation.so"};
    for (unsigned i = 0; i < sizeof libs / sizeof libs[0]; i++) (void)dlopen(libs[i], RTLD_NOW | RTLD_NODELETE);
}
#else
static inline void gpu_test_keep_driver_libraries(void) {}
#endif

#include <stdio.h>

#include "aw/gpu.h"

/* Creates the tests' device with validation on. Returns -1 to go on, or the exit code for main:
 * AW_GPU_TEST_SKIP (with a SKIP line) where no Vulkan device exists, 1 on any other failure. */
static inline int gpu_test_open(const char *app_name, aw_gpu **gpu) {
    gpu_test_keep_driver_libraries();
    aw_status st = aw_gpu_create(&(aw_gpu_desc){.validation = true, .app_name = app_name}, gpu);
    if (st == AW_ERR_UNAVAILABLE) {
        printf("SKIP: no usable Vulkan device: %s\n", aw_last_error());
        return AW_GPU_TEST_SKIP;
    }
    if (st != AW_OK) {
        fprintf(stderr, "aw_gpu_create: %s: %s\n", aw_status_str(st), aw_last_error());
        return 1;
    }
    return -1;
}

#endif /* AW_GPU_TEST_ENV_H */
