/* Renderer tests on the offscreen target with the validation layer on: golden images (committed
 * PNGs, per-pixel tolerance), batched, indirect and naive modes drawing identical pixels, equal
 * results for 1 and 2 threads, draw-call and batch counts, culling, bad input, hooks, and no heap
 * allocation in steady-state frames. Skips (exit 77) without a Vulkan device. Extraction runs on
 * two threads, so TSan runs these too. */
/* ctest-label: threads */
#include "aw/physics.h"
#include "aw/render_vulkan.h"

#include <math.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../gpu/gpu_test_env.h"
#include "render_golden.h"

#define W 192
#define H 128
/* lavapipe is deterministic; the tolerance absorbs rounding differences between drivers. */
#define GOLDEN_TOLERANCE 3u

static aw_gpu *gpu; /* one device for every test: creating lavapipe devices is slow */

typedef struct scene {
    aw_renderer *r;
    aw_world *world;
    aw_render_components rc;
    aw_component position;
    uint32_t materials[4];
} scene;

/* A small fixed scene: the five meshes in a row in four materials, plus a grid of cubes. */
static void scene_build(scene *s, uint32_t threads, aw_render_mode mode, uint32_t grid) {
    memset(s, 0, sizeof *s);
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .width = W, .height = H, .mode = mode}, &s->r), AW_OK);
    s->world = aw_world_create(&(aw_world_desc){.threads = threads});
    assert_non_null(s->world);
    s->position = aw_component_register(s->world, &(aw_component_desc){.name = "Position", .size = sizeof(aw_position), .align = 4});
    assert_int_equal(aw_render_register_components(s->world, &s->rc), AW_OK);
    const float colors[4][4] = {{0.9f, 0.2f, 0.2f, 1}, {0.2f, 0.8f, 0.3f, 1}, {0.2f, 0.4f, 0.9f, 1}, {0.9f, 0.8f, 0.2f, 1}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(aw_render_material_create(s->r, &(aw_material_desc){.base_color = {colors[i][0], colors[i][1], colors[i][2], 1},
                                                                            .roughness = 0.25f * (float)i}, &s->materials[i]), AW_OK);
    for (uint32_t m = 0; m < AW_RENDER_MESH_COUNT; m++) {
        aw_entity e = aw_entity_create(s->world);
        aw_position p = {(float)m * 1.4f - 2.8f, 0.6f, 1.5f};
        AW_SET(s->world, e, s->position, aw_position, {p.x, p.y, p.z});
        AW_SET(s->world, e, s->rc.mesh, aw_render_mesh_ref, {m});
        AW_SET(s->world, e, s->rc.material, aw_render_material_ref, {s->materials[m % 4]});
        AW_SET(s->world, e, s->rc.style, aw_render_style, {.scale = 1.0f, .yaw = 0.5f * (float)m, .color = 0xffffffffu});
    }
    for (uint32_t i = 0; i < grid * grid; i++) {
        aw_entity e = aw_entity_create(s->world);
        float x = ((float)(i % grid) - (float)grid * 0.5f) * 1.1f, z = -((float)(i / grid)) * 1.1f;
        AW_SET(s->world, e, s->position, aw_position, {x, 0.0f, z});
        /* Every other entity has no style: the optional column is absent in its table. */
        if (i % 2)
            AW_SET(s->world, e, s->rc.style, aw_render_style,
                   {.scale = 0.4f, .yaw = 0.3f * (float)i, .color = 0xff000000u | (0x40u + (i * 37u) % 0xc0u) << 8 | 0xffu});
        AW_SET(s->world, e, s->rc.mesh, aw_render_mesh_ref, {i % 3 == 0 ? AW_RENDER_MESH_SPHERE : AW_RENDER_MESH_CUBE});
        AW_SET(s->world, e, s->rc.material, aw_render_material_ref, {s->materials[(i / 3) % 4]});
    }
    assert_int_equal(aw_render_extract_register(s->r, s->world, &(aw_render_extract_desc){
        .position = s->position, .mesh = s->rc.mesh, .material = s->rc.material, .style = s->rc.style, .grain = 64}), AW_OK);
    float target[3] = {0.0f, 0.0f, -1.5f};
    assert_int_equal(aw_render_set_camera(s->r, &(aw_camera){.position = {2.5f, 5.0f, 7.0f}, .target = {target[0], target[1], target[2]},
                                                             .fov_y = 0.9f, .near_z = 0.5f, .far_z = 50.0f}), AW_OK);
}

static void scene_free(scene *s) {
    aw_world_destroy(s->world);
    aw_renderer_destroy(s->r);
}

static void render_once(scene *s, uint8_t *pixels) {
    assert_int_equal(aw_world_progress(s->world, 1.0f / 60.0f), AW_OK);
    assert_int_equal(aw_render_frame(s->r), AW_OK);
    assert_int_equal(aw_render_read_pixels(s->r, pixels, W * H * 4), AW_OK);
}

static void assert_no_validation_messages(void) {
    if (aw_gpu_validation_errors(gpu) || aw_gpu_validation_warnings(gpu))
        fail_msg("%u validation errors, %u warnings; first: %s", aw_gpu_validation_errors(gpu),
                 aw_gpu_validation_warnings(gpu), aw_gpu_validation_first_message(gpu));
}

static void test_golden_batched_equals_naive(void **state) {
    (void)state;
    static uint8_t batched[W * H * 4], naive[W * H * 4], indirect[W * H * 4];
    scene s;
    scene_build(&s, 2, AW_RENDER_BATCHED, 10);
    render_once(&s, batched);
    aw_render_stats st = aw_render_get_stats(s.r);
    assert_int_equal(st.draw_calls, st.batches);
    assert_true(st.batches <= 4 * AW_RENDER_MESH_COUNT);
    aw_render_set_mode(s.r, AW_RENDER_NAIVE);
    render_once(&s, naive);
    st = aw_render_get_stats(s.r);
    assert_int_equal(st.draw_calls, st.instances);
    aw_render_set_mode(s.r, AW_RENDER_INDIRECT);
    render_once(&s, indirect);
    st = aw_render_get_stats(s.r);
    assert_true(st.draw_calls == 1 || st.draw_calls == st.batches);
    aw_image_write_png(AW_BINARY_DIR "/tests/render-scene.png", W, H, batched);
    /* The same sorted instances in the same order: identical pixels, no tolerance. */
    assert_memory_equal(batched, naive, sizeof batched);
    assert_memory_equal(batched, indirect, sizeof batched);
    render_check_golden("scene", batched, W, H, GOLDEN_TOLERANCE);
    scene_free(&s);
    assert_no_validation_messages();
}

typedef struct hook_record {
    uint32_t before, in_pass;
    uint64_t last_frame;
    uint32_t max_slot;
    bool matrices_match, formats_match;
    aw_gpu_buffer fill; /* written by the before-pass hook with vkCmdFillBuffer */
} hook_record;

static void hook_before(const aw_render_hook_ctx *ctx, void *user) {
    hook_record *h = user;
    h->before++;
    h->last_frame = ctx->frame;
    if (ctx->frame_slot > h->max_slot) h->max_slot = ctx->frame_slot;
    vkCmdFillBuffer(ctx->cmd, h->fill.buffer, 0, VK_WHOLE_SIZE, 0xC0FFEE00u + (uint32_t)ctx->frame);
    VkMemoryBarrier2 b = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2, .srcStageMask = VK_PIPELINE_STAGE_2_CLEAR_BIT,
                          .srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT, .dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT,
                          .dstAccessMask = VK_ACCESS_2_HOST_READ_BIT};
    vkCmdPipelineBarrier2(ctx->cmd, &(VkDependencyInfo){.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO, .memoryBarrierCount = 1, .pMemoryBarriers = &b});
}

/* Inside the pass: clears a 10x10 square at the top-left corner to pure magenta. */
static void hook_in_pass(const aw_render_hook_ctx *ctx, void *user) {
    hook_record *h = user;
    h->in_pass++;
    /* right and up are the rows of the view matrix (column-major: element [col*4 + row]). */
    h->matrices_match = fabsf(ctx->camera_right[0] - ctx->view[0]) < 1e-6f && fabsf(ctx->camera_up[1] - ctx->view[5]) < 1e-6f &&
                        fabsf(ctx->camera_right[0] * ctx->camera_up[0] + ctx->camera_right[1] * ctx->camera_up[1] +
                              ctx->camera_right[2] * ctx->camera_up[2]) < 1e-5f;
    h->formats_match = ctx->color_format == VK_FORMAT_R8G8B8A8_UNORM && ctx->depth_format == VK_FORMAT_D32_SFLOAT &&
                       ctx->extent.width == W && ctx->extent.height == H;
    VkClearAttachment att = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .colorAttachment = 0,
                             .clearValue = {.color = {.float32 = {1.0f, 0.0f, 1.0f, 1.0f}}}};
    VkClearRect rect = {.rect = {.extent = {10, 10}}, .layerCount = 1};
    vkCmdClearAttachments(ctx->cmd, 1, &att, 1, &rect);
}

static void test_hooks(void **state) {
    (void)state;
    static uint8_t pixels[W * H * 4];
    scene s;
    scene_build(&s, 1, AW_RENDER_BATCHED, 4);
    hook_record h = {0};
    assert_int_equal(aw_gpu_buffer_create(gpu, 256, VK_BUFFER_USAGE_TRANSFER_DST_BIT, AW_GPU_MEMORY_READBACK, &h.fill), AW_OK);
    uint32_t id = 99;
    assert_int_equal(aw_render_add_hooks(s.r, &(aw_render_hooks){.before_pass = hook_before, .in_pass = hook_in_pass, .user = &h}, &id), AW_OK);
    assert_int_equal(id, 0);
    assert_int_equal(aw_render_add_hooks(s.r, &(aw_render_hooks){.user = &h}, NULL), AW_ERR_INVALID_ARG);
    for (int f = 0; f < 3; f++) {
        assert_int_equal(aw_world_progress(s.world, 0.016f), AW_OK);
        assert_int_equal(aw_render_frame(s.r), AW_OK);
    }
    assert_int_equal(aw_render_read_pixels(s.r, pixels, sizeof pixels), AW_OK);
    assert_int_equal(h.before, 3);
    assert_int_equal(h.in_pass, 3);
    assert_int_equal(h.last_frame, 2);
    assert_int_equal(h.max_slot, 1); /* two frames in flight by default */
    assert_true(h.matrices_match);
    assert_true(h.formats_match);
    assert_int_equal(aw_gpu_buffer_invalidate(gpu, &h.fill, 0, VK_WHOLE_SIZE), AW_OK);
    assert_int_equal(((const uint32_t *)h.fill.mapped)[63], 0xC0FFEE02u);
    const uint8_t magenta[4] = {255, 0, 255, 255};
    assert_memory_equal(pixels, magenta, 4);
    assert_memory_equal(pixels + (9 * W + 9) * 4, magenta, 4);
    assert_memory_not_equal(pixels + (10 * W + 10) * 4, magenta, 4);
    /* Removed hooks are not called again. */
    assert_int_equal(aw_render_remove_hooks(s.r, id), AW_OK);
    assert_int_equal(aw_render_remove_hooks(s.r, id), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_render_frame(s.r), AW_OK);
    assert_int_equal(h.before, 3);
    scene_free(&s);
    aw_gpu_buffer_destroy(gpu, &h.fill);
    assert_no_validation_messages();
}

/* Pieces run on whichever thread takes them; the merge restores one order, so 1 and 2 threads
 * (and grains that cut the tables differently) draw the same pixels. */
static void test_threads_identical(void **state) {
    (void)state;
    static uint8_t one[W * H * 4], two[W * H * 4];
    scene a, b;
    scene_build(&a, 1, AW_RENDER_BATCHED, 10);
    render_once(&a, one);
    aw_render_stats sa = aw_render_get_stats(a.r);
    scene_free(&a);
    scene_build(&b, 2, AW_RENDER_BATCHED, 10);
    render_once(&b, two);
    aw_render_stats sb = aw_render_get_stats(b.r);
    scene_free(&b);
    assert_memory_equal(one, two, sizeof one);
    assert_int_equal(sa.instances, sb.instances);
    assert_int_equal(sa.batches, sb.batches);
    assert_int_equal(sa.triangles, sb.triangles);
    assert_no_validation_messages();
}

/* Exact counts: entities behind the camera are culled, unknown meshes and materials skipped, and
 * every (mesh, material) pair in view is one batch. */
static void test_counts_culling_and_skips(void **state) {
    (void)state;
    scene s;
    scene_build(&s, 2, AW_RENDER_BATCHED, 0); /* the five meshes only */
    for (int i = 0; i < 7; i++) { /* far behind the camera */
        aw_entity e = aw_entity_create(s.world);
        AW_SET(s.world, e, s.position, aw_position, {0.0f, 0.0f, 60.0f + (float)i});
        AW_SET(s.world, e, s.rc.mesh, aw_render_mesh_ref, {AW_RENDER_MESH_CUBE});
        AW_SET(s.world, e, s.rc.material, aw_render_material_ref, {0});
    }
    aw_entity bad_mesh = aw_entity_create(s.world);
    AW_SET(s.world, bad_mesh, s.position, aw_position, {0, 0, 0});
    AW_SET(s.world, bad_mesh, s.rc.mesh, aw_render_mesh_ref, {AW_RENDER_MESH_COUNT});
    AW_SET(s.world, bad_mesh, s.rc.material, aw_render_material_ref, {0});
    aw_entity bad_material = aw_entity_create(s.world);
    AW_SET(s.world, bad_material, s.position, aw_position, {0, 0, 0});
    AW_SET(s.world, bad_material, s.rc.mesh, aw_render_mesh_ref, {0});
    AW_SET(s.world, bad_material, s.rc.material, aw_render_material_ref, {999});
    aw_entity nan_pos = aw_entity_create(s.world);
    AW_SET(s.world, nan_pos, s.position, aw_position, {NAN, 0, 0});
    AW_SET(s.world, nan_pos, s.rc.mesh, aw_render_mesh_ref, {0});
    AW_SET(s.world, nan_pos, s.rc.material, aw_render_material_ref, {0});
    assert_int_equal(aw_world_progress(s.world, 0.016f), AW_OK);
    assert_int_equal(aw_render_frame(s.r), AW_OK);
    aw_render_stats st = aw_render_get_stats(s.r);
    assert_int_equal(st.instances, AW_RENDER_MESH_COUNT);
    assert_int_equal(st.culled, 7 + 1);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.batches, AW_RENDER_MESH_COUNT);
    assert_int_equal(st.draw_calls, AW_RENDER_MESH_COUNT);
    assert_true(st.triangles > 0);
    assert_true(st.bytes_uploaded >= AW_RENDER_MESH_COUNT * 32u);
    assert_true(st.prep_ms >= 0.0);
    assert_int_equal(st.frame, 1);
    /* Naive: one draw per drawn entity. */
    aw_render_set_mode(s.r, AW_RENDER_NAIVE);
    assert_int_equal(aw_render_get_mode(s.r), AW_RENDER_NAIVE);
    assert_int_equal(aw_render_frame(s.r), AW_OK); /* redraws the prepared list */
    assert_int_equal(aw_render_get_stats(s.r).draw_calls, AW_RENDER_MESH_COUNT);
    /* GPU timestamps arrive once the frame finished. */
    assert_int_equal(aw_render_wait_idle(s.r), AW_OK);
    if (aw_gpu_get_info(gpu).timestamps) {
        assert_true(aw_render_get_stats(s.r).gpu_ms >= 0.0);
        assert_int_equal(aw_render_get_stats(s.r).gpu_frame, 1);
    }
    scene_free(&s);
    assert_no_validation_messages();
}

static void test_bad_input(void **state) {
    (void)state;
    aw_renderer *r = NULL;
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .frames_in_flight = 9}, &r), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .mode = (aw_render_mode)7}, &r), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .width = 100000}, &r), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu}, NULL), AW_ERR_INVALID_ARG);
    assert_null(r);
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    if ((!x11 || !*x11) && (!wayland || !*wayland)) {
        /* No display: a window is refused with a clear status, not a crash. */
        assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.windowed = true}, &r), AW_ERR_UNAVAILABLE);
        assert_non_null(strstr(aw_last_error(), "display"));
        assert_null(r);
    }
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .width = 32, .height = 32}, &r), AW_OK);

    uint8_t px[32 * 32 * 4];
    assert_int_equal(aw_render_read_pixels(r, px, sizeof px), AW_ERR_INVALID_ARG); /* no frame yet */
    assert_int_equal(aw_render_frame(r), AW_OK); /* nothing extracted: an empty frame */
    assert_int_equal(aw_render_get_stats(r).draw_calls, 0);
    assert_int_equal(aw_render_read_pixels(r, px, sizeof px - 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_render_read_pixels(r, px, sizeof px), AW_OK);
    assert_int_equal(aw_render_screenshot(r, "/nonexistent/dir/shot.png"), AW_ERR_IO);

    aw_camera cam = {.position = {1, 2, 3}, .target = {1, 2, 3}};
    assert_int_equal(aw_render_set_camera(r, &cam), AW_ERR_INVALID_ARG);
    cam = (aw_camera){.position = {0, 5, 0}, .target = {0, 0, 0}}; /* looks straight down +y up */
    assert_int_equal(aw_render_set_camera(r, &cam), AW_ERR_INVALID_ARG);
    cam = (aw_camera){.position = {0, 0, 5}, .target = {0, 0, 0}, .near_z = 10, .far_z = 5};
    assert_int_equal(aw_render_set_camera(r, &cam), AW_ERR_INVALID_ARG);
    cam = (aw_camera){.position = {NAN, 0, 5}};
    assert_int_equal(aw_render_set_camera(r, &cam), AW_ERR_INVALID_ARG);
    cam = aw_camera_top_down((const float[3]){0, 0, 0}, 20.0f);
    assert_int_equal(aw_render_set_camera(r, &cam), AW_OK);
    assert_int_equal(aw_render_set_light(r, &(aw_render_light){.direction = {0, 0, 0}}), AW_ERR_INVALID_ARG);

    uint32_t id = 0;
    assert_int_equal(aw_render_material_create(r, &(aw_material_desc){.base_color = {NAN, 0, 0, 1}}, &id), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_render_material_create(r, NULL, &id), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_render_material_set(r, 77, &(aw_material_desc){.roughness = 1}), AW_ERR_NOT_FOUND);
    for (uint32_t i = 1; i < AW_RENDER_MAX_MATERIALS; i++)
        assert_int_equal(aw_render_material_create(r, &(aw_material_desc){.base_color = {1, 1, 1, 1}}, &id), AW_OK);
    assert_int_equal(id, AW_RENDER_MAX_MATERIALS - 1);
    assert_int_equal(aw_render_material_create(r, &(aw_material_desc){.base_color = {1, 1, 1, 1}}, &id), AW_ERR_CAPACITY);

    for (uint32_t i = 0; i < AW_RENDER_MAX_HOOKS; i++)
        assert_int_equal(aw_render_add_hooks(r, &(aw_render_hooks){.in_pass = (aw_render_hook_fn)0x1}, NULL), AW_OK);
    assert_int_equal(aw_render_add_hooks(r, &(aw_render_hooks){.in_pass = (aw_render_hook_fn)0x1}, NULL), AW_ERR_CAPACITY);
    for (uint32_t i = 0; i < AW_RENDER_MAX_HOOKS; i++) assert_int_equal(aw_render_remove_hooks(r, i), AW_OK);

    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 1});
    aw_component pos = aw_component_register(w, &(aw_component_desc){.name = "Position", .size = 12, .align = 4});
    aw_component wide = aw_component_register(w, &(aw_component_desc){.name = "Wide", .size = 8, .align = 4});
    aw_render_components rc;
    assert_int_equal(aw_render_register_components(w, &rc), AW_OK);
    aw_render_components again;
    assert_int_equal(aw_render_register_components(w, &again), AW_OK); /* looks them up */
    assert_memory_equal(&rc, &again, sizeof rc);
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.mesh = rc.mesh}), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = rc.mesh, .mesh = rc.mesh}),
                     AW_ERR_SIZE_MISMATCH);
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = pos, .mesh = wide}),
                     AW_ERR_SIZE_MISMATCH);
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = pos, .mesh = rc.mesh, .style = rc.mesh}),
                     AW_ERR_SIZE_MISMATCH);
    uint32_t map[1] = {0};
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = pos, .mesh = rc.mesh, .mesh_map = map}),
                     AW_ERR_INVALID_ARG);
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = pos, .mesh = rc.mesh}), AW_OK);
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = pos, .mesh = rc.mesh}),
                     AW_ERR_ALREADY_PRESENT);
    aw_world_destroy(w);
    aw_renderer_destroy(r);
    aw_renderer_destroy(NULL);
    assert_no_validation_messages();
}

/* Counts the renderer's own allocations (from any thread: extraction grows lists on workers). The
 * process-wide heap counters would also see the job system's and profiler's lazy per-thread
 * setup, which happens whenever a worker first takes a piece, not on a fixed frame. */
static _Atomic uint64_t renderer_allocs;

static void *counting_alloc(void *user, size_t size, size_t align) {
    (void)user;
    atomic_fetch_add(&renderer_allocs, 1);
    return aw_heap_allocator()->alloc(aw_heap_allocator()->user, size, align);
}

static void *counting_realloc(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    (void)user;
    atomic_fetch_add(&renderer_allocs, 1);
    return aw_heap_allocator()->realloc(aw_heap_allocator()->user, ptr, old_size, new_size, align);
}

static void counting_free(void *user, void *ptr, size_t size) {
    (void)user;
    aw_heap_allocator()->free(aw_heap_allocator()->user, ptr, size);
}

static const aw_allocator counting = {.alloc = counting_alloc, .realloc = counting_realloc, .free = counting_free};

/* The instance ring starts tiny and grows; once the scene fits, frames allocate nothing. Three
 * frames in flight, maps from a game's own ids, and entities spawned between frames. */
static void test_ring_growth_and_steady_state(void **state) {
    (void)state;
    aw_renderer *r = NULL;
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.allocator = &counting, .gpu = gpu, .width = 64, .height = 48,
                                                            .frames_in_flight = 3, .initial_instances = 16}, &r), AW_OK);
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 2});
    aw_component pos = aw_component_register(w, &(aw_component_desc){.name = "Position", .size = 12, .align = 4});
    aw_component kind = aw_component_register(w, &(aw_component_desc){.name = "Kind", .size = 4, .align = 4});
    uint32_t red = 0;
    assert_int_equal(aw_render_material_create(r, &(aw_material_desc){.base_color = {1, 0, 0, 1}}, &red), AW_OK);
    const uint32_t mesh_map[3] = {AW_RENDER_MESH_CUBE, AW_RENDER_MESH_SPHERE, AW_RENDER_MESH_QUAD};
    const uint32_t material_map[3] = {0, red, red};
    assert_int_equal(aw_render_extract_register(r, w, &(aw_render_extract_desc){.position = pos, .mesh = kind, .mesh_map = mesh_map,
        .mesh_map_count = 3, .material_map = material_map, .material_map_count = 3, .grain = 100}), AW_OK);
    assert_int_equal(aw_render_set_camera(r, &(aw_camera){.position = {0, 30, 40}, .target = {0, 0, 0}}), AW_OK);
    uint32_t total = 0;
    for (int frame = 0; frame < 12; frame++) {
        if (frame < 4) { /* grow the scene for a few frames */
            for (uint32_t i = 0; i < 700; i++, total++) {
                aw_entity e = aw_entity_create(w);
                AW_SET(w, e, pos, aw_position, {(float)(total % 40) - 20.0f, 0.0f, (float)(total / 40) * -0.8f});
                AW_SET(w, e, kind, uint32_t, {total % 4}); /* kind 3 is outside the maps: skipped */
            }
        }
        uint64_t before = atomic_load(&renderer_allocs);
        assert_int_equal(aw_world_progress(w, 0.016f), AW_OK);
        assert_int_equal(aw_render_frame(r), AW_OK);
        uint64_t after = atomic_load(&renderer_allocs);
        aw_render_stats st = aw_render_get_stats(r);
        assert_int_equal(st.instances + st.culled + st.skipped, total);
        assert_int_equal(st.skipped, total / 4);
        assert_true(st.batches <= 3);
        if (frame < 4) assert_true(after >= before); /* growth frames may allocate */
        if (frame >= 5 && after != before)
            fail_msg("steady frame %d: the renderer allocated %llu times", frame, (unsigned long long)(after - before));
    }
    aw_world_destroy(w);
    aw_renderer_destroy(r);
    assert_no_validation_messages();
}

int main(void) {
    int code = gpu_test_open("test_render", &gpu);
    if (code >= 0) return code;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_batched_equals_naive),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_counts_culling_and_skips),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_ring_growth_and_steady_state),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    aw_gpu_destroy(gpu);
    return failed;
}
