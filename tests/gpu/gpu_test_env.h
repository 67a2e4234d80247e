/* Shared by the Vulkan tests: under the sanitizers, keeps the driver and layer libraries loaded
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

#endif /* AW_GPU_TEST_ENV_H */
