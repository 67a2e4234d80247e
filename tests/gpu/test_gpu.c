/* Tests for the shared Vulkan device layer: device choice and override, validation counting,
 * buffers in each memory kind, shader modules from bytes and files, and a compute dispatch whose
 * output is checked word by word. Skips (exit 77) when the machine has no Vulkan device. */
#include "aw/gpu_vulkan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_test_env.h"

#include "gpu_test_spirv.h"

static aw_gpu *gpu;

static void test_info(void **state) {
    (void)state;
    aw_gpu_info info = aw_gpu_get_info(gpu);
    assert_true(strlen(info.device_name) > 0);
    assert_true(info.api_version >= VK_API_VERSION_1_3);
    assert_true(info.validation);
    const aw_gpu_vk *vk = aw_gpu_vulkan(gpu);
    assert_non_null(vk->device);
    assert_non_null(vk->queue);
    assert_true(vk->limits.maxComputeWorkGroupInvocations >= 64);
    print_message("device: %s (%s), driver %s, timestamps %d\n", info.device_name,
                  aw_gpu_device_type_str(info.type), info.driver_name, info.timestamps);
}

static void test_override_by_name(void **state) {
    (void)state;
    aw_gpu_info info = aw_gpu_get_info(gpu);
    /* The chosen device's own name (any case) picks it again. */
    char upper[256];
    snprintf(upper, sizeof upper, "%s", info.device_name);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    aw_gpu *other = NULL;
    assert_int_equal(aw_gpu_create(&(aw_gpu_desc){.device_name = upper}, &other), AW_OK);
    assert_string_equal(aw_gpu_get_info(other).device_name, info.device_name);
    aw_gpu_destroy(other);

    other = (aw_gpu *)0x1;
    assert_int_equal(aw_gpu_create(&(aw_gpu_desc){.device_name = "no-such-device-xyz"}, &other), AW_ERR_NOT_FOUND);
    assert_ptr_equal(other, (aw_gpu *)0x1); /* untouched on failure */
    assert_non_null(strstr(aw_last_error(), "no-such-device-xyz"));
    assert_non_null(strstr(aw_last_error(), info.device_name)); /* lists what exists */

    /* The environment variable is the fallback override. */
    setenv("AW_GPU_DEVICE", "no-such-device-xyz", 1);
    assert_int_equal(aw_gpu_create(NULL, &other), AW_ERR_NOT_FOUND);
    unsetenv("AW_GPU_DEVICE");
}

static void test_bad_arguments(void **state) {
    (void)state;
    assert_int_equal(aw_gpu_create(NULL, NULL), AW_ERR_INVALID_ARG);
    aw_gpu *g = NULL;
    assert_int_equal(aw_gpu_create(&(aw_gpu_desc){.instance_extension_count = 2}, &g), AW_ERR_INVALID_ARG);
    const char *bogus[] = {"VK_AW_not_an_extension"};
    assert_int_equal(aw_gpu_create(&(aw_gpu_desc){.instance_extensions = bogus, .instance_extension_count = 1}, &g),
                     AW_ERR_UNSUPPORTED);
    assert_null(g);
    aw_gpu_buffer b;
    assert_int_equal(aw_gpu_buffer_create(gpu, 0, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, AW_GPU_MEMORY_DEVICE, &b),
                     AW_ERR_INVALID_ARG);
    assert_null(b.buffer);
    aw_gpu_buffer_destroy(gpu, &b); /* a zeroed buffer is ignored */
    VkShaderModule m;
    uint32_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(aw_gpu_shader_from_spirv(gpu, junk, sizeof junk, &m), AW_ERR_PARSE);
    assert_int_equal(aw_gpu_shader_from_spirv(gpu, aw_spirv_test_fill_comp, 6, &m), AW_ERR_PARSE);
    assert_int_equal(aw_gpu_shader_from_file(gpu, "/nonexistent/x.spv", &m), AW_ERR_IO);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/gpu/shaders/test_fill.comp", AW_SOURCE_DIR); /* GLSL, not SPIR-V */
    assert_int_equal(aw_gpu_shader_from_file(gpu, path, &m), AW_ERR_PARSE);
}

typedef struct dispatch_ctx {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSet set;
    uint32_t params[3];
    VkBuffer device_buffer, readback;
    VkDeviceSize bytes;
} dispatch_ctx;

static void record_dispatch(VkCommandBuffer cmd, void *user) {
    dispatch_ctx *c = user;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->layout, 0, 1, &c->set, 0, NULL);
    vkCmdPushConstants(cmd, c->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof c->params, c->params);
    vkCmdDispatch(cmd, (c->params[0] + 63) / 64, 1, 1);
    VkBufferMemoryBarrier2 barrier = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER_2,
        .srcStageMask = VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT,
        .srcAccessMask = VK_ACCESS_2_SHADER_STORAGE_WRITE_BIT,
        .dstStageMask = VK_PIPELINE_STAGE_2_COPY_BIT,
        .dstAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = c->device_buffer,
        .size = VK_WHOLE_SIZE,
    };
    VkDependencyInfo dep = {.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .bufferMemoryBarrierCount = 1, .pBufferMemoryBarriers = &barrier};
    vkCmdPipelineBarrier2(cmd, &dep);
    vkCmdCopyBuffer(cmd, c->device_buffer, c->readback, 1, &(VkBufferCopy){.size = c->bytes});
    VkMemoryBarrier2 host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2,
        .srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT,
        .srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT,
        .dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT,
        .dstAccessMask = VK_ACCESS_2_HOST_READ_BIT,
    };
    VkDependencyInfo dep2 = {.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .memoryBarrierCount = 1, .pMemoryBarriers = &host};
    vkCmdPipelineBarrier2(cmd, &dep2);
}

/* Runs test_fill.comp from `module` over `count` words and checks every one. */
static void run_fill(VkShaderModule module, uint32_t count, uint32_t scale, uint32_t bias) {
    VkDevice dev = aw_gpu_vulkan(gpu)->device;
    dispatch_ctx c = {.params = {count, scale, bias}, .bytes = (VkDeviceSize)count * 4};
    aw_gpu_buffer out, readback;
    assert_int_equal(aw_gpu_buffer_create(gpu, c.bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                                          AW_GPU_MEMORY_DEVICE, &out), AW_OK);
    assert_null(out.mapped);
    assert_int_equal(aw_gpu_buffer_create(gpu, c.bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT, AW_GPU_MEMORY_READBACK, &readback),
                     AW_OK);
    assert_non_null(readback.mapped);
    memset(readback.mapped, 0xAB, (size_t)c.bytes);
    c.device_buffer = out.buffer;
    c.readback = readback.buffer;

    VkDescriptorSetLayoutBinding binding = {.binding = 0, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                            .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayout set_layout;
    assert_int_equal(vkCreateDescriptorSetLayout(dev, &(VkDescriptorSetLayoutCreateInfo){
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = 1, .pBindings = &binding}, NULL, &set_layout), VK_SUCCESS);
    VkPushConstantRange range = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = sizeof c.params};
    assert_int_equal(vkCreatePipelineLayout(dev, &(VkPipelineLayoutCreateInfo){
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &set_layout,
        .pushConstantRangeCount = 1, .pPushConstantRanges = &range}, NULL, &c.layout), VK_SUCCESS);
    VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module, .pName = "main"},
        .layout = c.layout,
    };
    assert_int_equal(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &pci, NULL, &c.pipeline), VK_SUCCESS);
    VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1};
    VkDescriptorPool pool;
    assert_int_equal(vkCreateDescriptorPool(dev, &(VkDescriptorPoolCreateInfo){
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1, .poolSizeCount = 1, .pPoolSizes = &ps}, NULL, &pool), VK_SUCCESS);
    assert_int_equal(vkAllocateDescriptorSets(dev, &(VkDescriptorSetAllocateInfo){
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = pool, .descriptorSetCount = 1,
        .pSetLayouts = &set_layout}, &c.set), VK_SUCCESS);
    VkDescriptorBufferInfo bi = {.buffer = out.buffer, .range = VK_WHOLE_SIZE};
    vkUpdateDescriptorSets(dev, 1, &(VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = c.set,
        .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &bi}, 0, NULL);

    assert_int_equal(aw_gpu_submit_once(gpu, record_dispatch, &c), AW_OK);
    assert_int_equal(aw_gpu_buffer_invalidate(gpu, &readback, 0, VK_WHOLE_SIZE), AW_OK);
    const uint32_t *v = readback.mapped;
    for (uint32_t i = 0; i < count; i++)
        if (v[i] != i * scale + bias) fail_msg("word %u is %u, expected %u", i, v[i], i * scale + bias);

    vkDestroyDescriptorPool(dev, pool, NULL);
    vkDestroyPipeline(dev, c.pipeline, NULL);
    vkDestroyPipelineLayout(dev, c.layout, NULL);
    vkDestroyDescriptorSetLayout(dev, set_layout, NULL);
    aw_gpu_buffer_destroy(gpu, &out);
    aw_gpu_buffer_destroy(gpu, &readback);
    assert_null(out.buffer);
}

static void test_compute_embedded(void **state) {
    (void)state;
    VkShaderModule m;
    assert_int_equal(aw_gpu_shader_from_spirv(gpu, aw_spirv_test_fill_comp, aw_spirv_test_fill_comp_size, &m), AW_OK);
    run_fill(m, 1000, 3, 7); /* not a multiple of the group size: the bound check matters */
    vkDestroyShaderModule(aw_gpu_vulkan(gpu)->device, m, NULL);
}

static void test_compute_from_file(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/shaders/test_fill.comp.spv", AW_BINARY_DIR);
    VkShaderModule m;
    assert_int_equal(aw_gpu_shader_from_file(gpu, path, &m), AW_OK);
    run_fill(m, 1u << 16, 5, 1);
    vkDestroyShaderModule(aw_gpu_vulkan(gpu)->device, m, NULL);
}

static void test_upload_memory_is_mapped(void **state) {
    (void)state;
    aw_gpu_buffer b;
    assert_int_equal(aw_gpu_buffer_create(gpu, 4096, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, AW_GPU_MEMORY_UPLOAD, &b), AW_OK);
    assert_non_null(b.mapped);
    assert_true(b.coherent);
    memset(b.mapped, 1, 4096);
    assert_int_equal(aw_gpu_buffer_flush(gpu, &b, 10, 100), AW_OK);
    aw_gpu_buffer_destroy(gpu, &b);
}

/* The messenger counts what the layer reports: a deliberately invalid call on a separate device. */
static void test_validation_counts_errors(void **state) {
    (void)state;
    aw_gpu *g = NULL;
    assert_int_equal(aw_gpu_create(&(aw_gpu_desc){.validation = true}, &g), AW_OK);
    assert_int_equal(aw_gpu_validation_errors(g), 0);
    aw_log_set_level(AW_LOG_OFF); /* the expected error would read like a failure in the log */
    VkBufferCreateInfo bad = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 0,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT}; /* size 0 is invalid */
    VkBuffer buf = VK_NULL_HANDLE;
    VkResult r = vkCreateBuffer(aw_gpu_vulkan(g)->device, &bad, NULL, &buf);
    aw_log_set_level(AW_LOG_INFO);
    if (r == VK_SUCCESS && buf) vkDestroyBuffer(aw_gpu_vulkan(g)->device, buf, NULL);
    assert_true(aw_gpu_validation_errors(g) >= 1);
    assert_non_null(strstr(aw_gpu_validation_first_message(g), "size"));
    aw_gpu_destroy(g);
}

static void test_no_validation_messages(void **state) {
    (void)state;
    if (aw_gpu_validation_errors(gpu) || aw_gpu_validation_warnings(gpu))
        fail_msg("%u validation errors, %u warnings; first: %s", aw_gpu_validation_errors(gpu),
                 aw_gpu_validation_warnings(gpu), aw_gpu_validation_first_message(gpu));
}

int main(void) {
    int code = gpu_test_open("test_gpu", &gpu);
    if (code >= 0) return code;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_override_by_name),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_compute_embedded),
        cmocka_unit_test(test_compute_from_file),
        cmocka_unit_test(test_upload_memory_is_mapped),
        cmocka_unit_test(test_validation_counts_errors),
        cmocka_unit_test(test_no_validation_messages), /* last: covers everything above */
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    aw_gpu_destroy(gpu);
    return failed;
}
