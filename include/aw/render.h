/* AstraWeave renderer: Vulkan 1.3 with material batching and GPU instancing. ECS extraction (a
 * presentation-phase system: parallel over chunks, frustum culling, a 64-bit key radix sort,
 * batches of equal mesh and material), a persistently mapped instance ring, one instanced draw per
 * batch (or one indirect call, or one draw per entity in naive mode), offscreen or windowed output,
 * PNG screenshots and per-frame statistics. Vulkan-level hooks are in aw/render_vulkan.h. */
#ifndef AW_RENDER_H
#define AW_RENDER_H

#include "aw/core.h"
#include "aw/ecs.h"
#include "aw/gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_renderer aw_renderer;

/* Built-in meshes, all unit-sized around the origin (cube of side 1, sphere of radius 0.5, capsule
 * 1 tall and 0.5 wide along y, plane 1x1 in x-z facing +y, quad 1x1 in x-y facing +z). */
typedef enum aw_render_mesh_id {
    AW_RENDER_MESH_CUBE = 0,
    AW_RENDER_MESH_SPHERE,
    AW_RENDER_MESH_CAPSULE,
    AW_RENDER_MESH_PLANE,
    AW_RENDER_MESH_QUAD,
    AW_RENDER_MESH_COUNT
} aw_render_mesh_id;

#define AW_RENDER_MAX_MATERIALS 256u

typedef enum aw_render_mode {
    AW_RENDER_BATCHED = 0, /* one instanced vkCmdDrawIndexed per batch (equal mesh and material) */
    AW_RENDER_INDIRECT,    /* every batch through one vkCmdDrawIndexedIndirect */
    AW_RENDER_NAIVE        /* one draw call per entity: the baseline, for comparison */
} aw_render_mode;

typedef struct aw_renderer_desc {
    const aw_allocator *allocator; /* NULL: aw_heap_allocator() */
    aw_gpu *gpu;                   /* share a device (the renderer does not own it); NULL: create one */
    const char *device_name;       /* when creating the device: aw_gpu_desc.device_name */
    bool validation;               /* when creating the device: aw_gpu_desc.validation */
    uint32_t width, height;        /* offscreen size, or the window's initial size; 0: 1280 x 720 */
    uint32_t frames_in_flight;     /* 0: 2 (1..4) */
    aw_render_mode mode;
    /* Windowed output through GLFW: a window is opened when true. Needs a display; without one
     * aw_renderer_create fails with AW_ERR_UNAVAILABLE (use headless, the default, instead). */
    bool windowed;
    bool vsync;                /* windowed: FIFO when true, else MAILBOX or IMMEDIATE */
    const char *window_title;  /* NULL: "AstraWeave" */
    float clear_color[4];      /* linear RGBA; all zero: a dark blue-grey */
    uint32_t initial_instances; /* instance ring capacity per frame before the first growth (0: 4096) */
} aw_renderer_desc;

/* AW_ERR_UNAVAILABLE (with aw_last_error() saying what is missing) when there is no Vulkan
 * driver, device or display; see aw_gpu_create. */
aw_status aw_renderer_create(const aw_renderer_desc *desc, aw_renderer **out);
/* Waits for the GPU and frees everything (the device too, unless it was shared). NULL is ignored. */
void aw_renderer_destroy(aw_renderer *renderer);
aw_gpu *aw_renderer_gpu(const aw_renderer *renderer);

void aw_render_set_mode(aw_renderer *renderer, aw_render_mode mode);
aw_render_mode aw_render_get_mode(const aw_renderer *renderer);
const char *aw_render_mode_str(aw_render_mode mode);
/* The size frames are rendered at (the window's framebuffer size when windowed). */
void aw_render_get_size(const aw_renderer *renderer, uint32_t *width, uint32_t *height);

/* Windowed output: what the swapchain does. Headless: all zero. */
typedef struct aw_render_window_info {
    bool windowed;
    bool vsync;             /* asked for */
    uint32_t present_mode;  /* VkPresentModeKHR in use: FIFO (2) with vsync, else MAILBOX (1) or
                               IMMEDIATE (0) where offered, FIFO otherwise */
    uint32_t present_modes_offered; /* bit (1 << VkPresentModeKHR) for each mode the surface offers */
    uint32_t image_count;   /* swapchain images */
    uint32_t swapchains;    /* swapchains created: 1 + recreations (resize, out of date, vsync) */
    uint32_t resize_events; /* framebuffer size changes reported by the window system */
    uint32_t out_of_date;   /* VK_ERROR_OUT_OF_DATE_KHR from acquire or present */
    uint32_t suboptimal;    /* VK_SUBOPTIMAL_KHR from acquire or present */
    uint32_t skipped_frames; /* frames not drawn: minimised, or the swapchain was out of date */
    uint64_t presented;     /* frames presented */
} aw_render_window_info;
aw_render_window_info aw_render_get_window_info(const aw_renderer *renderer);
/* Windowed: switches vsync (FIFO) on or off; the swapchain is recreated before the next frame.
 * AW_ERR_UNSUPPORTED headless. */
aw_status aw_render_set_vsync(aw_renderer *renderer, bool vsync);
/* Windowed: asks the window system for a new client size (frames follow once it reports the
 * change). AW_ERR_UNSUPPORTED headless, AW_ERR_INVALID_ARG outside 1..16384. */
aw_status aw_render_set_window_size(aw_renderer *renderer, uint32_t width, uint32_t height);

/* ---------------------------------------------------------------- camera and light */

typedef struct aw_camera {
    float position[3];
    float target[3];
    float up[3];   /* all zero: +y */
    float fov_y;   /* vertical field of view in radians; 0: 60 degrees */
    float near_z;  /* 0: 0.1 */
    float far_z;   /* 0: 1000 */
} aw_camera;

/* Looks at `target` from `distance` away, turned `yaw` radians around +y (0 looks along -z) and
 * raised `pitch` radians above the ground plane. */
aw_camera aw_camera_orbit(const float target[3], float distance, float yaw, float pitch);
/* Looks down on `center` from `height` above it (slightly tilted so "up" on screen is -z). */
aw_camera aw_camera_top_down(const float center[3], float height);
/* AW_ERR_INVALID_ARG for a degenerate camera (position == target, non-finite values, near >= far). */
aw_status aw_render_set_camera(aw_renderer *renderer, const aw_camera *camera);

typedef struct aw_render_light {
    float direction[3]; /* the direction light travels (towards the scene); normalised here */
    float color[3];
    float ambient[3];
} aw_render_light;
aw_status aw_render_set_light(aw_renderer *renderer, const aw_render_light *light);

/* ---------------------------------------------------------------- materials */

typedef struct aw_material_desc {
    float base_color[4]; /* linear RGBA */
    float roughness;     /* 0 (sharp highlight) .. 1 (matte, no highlight) */
} aw_material_desc;

/* Materials are small ids (0 is the default grey material, always present). AW_ERR_CAPACITY past
 * AW_RENDER_MAX_MATERIALS. Materials may be created or changed between frames. */
aw_status aw_render_material_create(aw_renderer *renderer, const aw_material_desc *desc, uint32_t *out_id);
aw_status aw_render_material_set(aw_renderer *renderer, uint32_t id, const aw_material_desc *desc);

/* ---------------------------------------------------------------- ECS extraction */

/* Components a world may use for rendering (aw_render_register_components registers them). */
typedef struct aw_render_mesh_ref {
    uint32_t mesh; /* aw_render_mesh_id */
} aw_render_mesh_ref;
typedef struct aw_render_material_ref {
    uint32_t material;
} aw_render_material_ref;
typedef struct aw_render_style {
    float scale;    /* uniform scale (entities without the component: 1) */
    float yaw;      /* rotation around +y in radians */
    uint32_t color; /* RGBA8 tint, 0xAABBGGRR (R in the low byte); entities without it: white */
} aw_render_style;

typedef struct aw_render_components {
    aw_component mesh;     /* "RenderMesh": aw_render_mesh_ref */
    aw_component material; /* "RenderMaterial": aw_render_material_ref */
    aw_component style;    /* "RenderStyle": aw_render_style */
} aw_render_components;
/* Registers (or looks up, when already registered) the three components. */
aw_status aw_render_register_components(aw_world *world, aw_render_components *out);

/* Entities that carry no mesh component but a game's own component (a tag, say "AiProjectile")
 * drawn with a fixed mesh and material: entities spawned by systems that know nothing of rendering
 * are drawn from the frame they appear in, with no render component added to them. */
typedef struct aw_render_extract_rule {
    aw_component tag;  /* entities with the position and this component (one with data, not a
                        * zero-size tag), but no mesh component */
    uint32_t mesh;     /* aw_render_mesh_id */
    uint32_t material; /* a material id (when select_count is 0) */
    /* Material chosen per entity by one byte of the tag component (a team, a kind): the byte at
     * select_offset picks select_materials[byte]; bytes >= select_count are skipped. 0: off. */
    uint32_t select_offset;
    uint32_t select_count; /* 0..AW_RENDER_RULE_MAX_SELECT */
    uint32_t select_materials[8];
    float scale;       /* uniform scale where the entity has no style; 0: 1 */
    uint32_t color;    /* RGBA8 tint where the entity has no style; 0: white */
} aw_render_extract_rule;
#define AW_RENDER_RULE_MAX_SELECT 8u
#define AW_RENDER_MAX_RULES 4u

typedef struct aw_render_extract_desc {
    aw_component position; /* required: 3 floats (aw_position) */
    aw_component mesh;     /* required: a uint32 per entity (aw_render_mesh_ref, or any uint32 id) */
    aw_component material; /* optional: a uint32 per entity; 0: the mesh component's value is used */
    aw_component style;    /* optional: aw_render_style */
    /* Optional tables from the components' values to mesh and material ids (a game's own
     * "Renderable{kind}" can drive rendering without new components). NULL: values are ids.
     * Entities whose values fall outside a table or name no mesh or material are skipped. */
    const uint32_t *mesh_map;
    uint32_t mesh_map_count;
    const uint32_t *material_map;
    uint32_t material_map_count;
    /* Tag rules, tried in order for entities without the mesh component (the first whose tag the
     * entity has wins); the mesh component wins over every rule. */
    aw_render_extract_rule rules[AW_RENDER_MAX_RULES];
    uint32_t rule_count;
    uint32_t phase; /* 0: AW_PHASE_PRESENTATION */
    uint32_t grain; /* rows per parallel piece; 0: 1024 */
} aw_render_extract_desc;

/* Registers the extraction systems on `world` (one world per renderer): "render_begin" (waits
 * for the GPU to finish the frame that last used the next frame's slot: the extraction writes
 * that slot's mapped instance buffer), "render_extract" (parallel over chunks: frustum culling,
 * instance data and sort keys, reading only the declared components) and "render_prepare" (radix
 * sort in a fixed order, batches). Each
 * aw_world_progress then prepares the instance list that the next aw_render_frame draws. The
 * renderer must outlive the world's use of these systems. */
aw_status aw_render_extract_register(aw_renderer *renderer, aw_world *world, const aw_render_extract_desc *desc);

/* ---------------------------------------------------------------- frames */

/* Uploads the prepared draw order into this frame's slot (the instances are already there, or are
 * copied from the slot the extraction wrote when two frames follow one world step), records and
 * submits the frame (and presents it when windowed). Waits only for the frame that last used this
 * frame-in-flight slot. AW_ERR_DEVICE on a Vulkan failure. Draws what the last extraction
 * prepared (nothing before the first). */
aw_status aw_render_frame(aw_renderer *renderer);
/* Waits until the GPU has finished every submitted frame, and collects their timestamps: the
 * stats' gpu_ms is then the last frame's. */
aw_status aw_render_wait_idle(aw_renderer *renderer);
/* Windowed: true once the user asked to close the window (always false headless). Polls events. */
bool aw_render_should_close(aw_renderer *renderer);

typedef struct aw_render_stats {
    uint64_t frame;           /* frames submitted so far */
    uint32_t draw_calls;      /* vkCmdDraw* calls for the scene */
    uint32_t batches;         /* runs of equal (mesh, material) */
    uint32_t instances;       /* entities drawn */
    uint32_t culled;          /* entities outside the frustum */
    uint32_t skipped;         /* entities with an unknown mesh or material */
    uint64_t triangles;       /* triangles submitted */
    uint64_t bytes_uploaded;  /* instance (and indirect) bytes written this frame */
    double extract_ms;        /* extraction: cull, instance data and keys (parallel) */
    double sort_ms;           /* merge, radix sort and batches */
    double upload_ms;         /* copy into the mapped instance ring */
    double prep_ms;           /* extract + sort + upload */
    double record_ms;         /* command recording and submission */
    double wait_ms;           /* waiting for the frame slot's fence (and, windowed, a swapchain image) */
    double begin_wait_ms;     /* the part of wait_ms spent in the extraction's render_begin, inside
                                 aw_world_progress (the slot's fence, before writing its instances) */
    double gpu_ms;            /* GPU time by timestamp queries of the latest finished frame; < 0: none */
    uint64_t gpu_frame;       /* which frame gpu_ms measured */
} aw_render_stats;

aw_render_stats aw_render_get_stats(const aw_renderer *renderer);

/* Waits for the GPU and reads the latest frame back as tightly packed RGBA8 (width * height * 4
 * bytes into `rgba`, `size` bytes available). AW_ERR_INVALID_ARG before the first frame. */
aw_status aw_render_read_pixels(aw_renderer *renderer, uint8_t *rgba, size_t size);
/* aw_render_read_pixels written to a PNG file. */
aw_status aw_render_screenshot(aw_renderer *renderer, const char *path);

/* ---------------------------------------------------------------- images */

/* RGBA8 images to and from PNG (libpng). aw_image_read_png allocates *rgba with `allocator`
 * (NULL: heap; free with aw_free(allocator, *rgba, w * h * 4)) and converts any PNG to RGBA8.
 * AW_ERR_IO for unreadable files, AW_ERR_PARSE for data that is not a PNG. */
aw_status aw_image_write_png(const char *path, uint32_t width, uint32_t height, const uint8_t *rgba);
aw_status aw_image_read_png(const char *path, const aw_allocator *allocator, uint32_t *width, uint32_t *height,
                            uint8_t **rgba);
/* The same from bytes in memory (at most 16384 x 16384 pixels). */
aw_status aw_image_decode_png(const void *data, size_t size, const aw_allocator *allocator, uint32_t *width,
                              uint32_t *height, uint8_t **rgba);

typedef struct aw_image_diff {
    uint32_t pixels_over;  /* pixels with some channel differing by more than the tolerance */
    uint32_t max_delta;    /* largest channel difference */
    uint32_t first_x, first_y; /* first pixel over the tolerance */
} aw_image_diff;
/* Compares two RGBA8 images of the same size channel by channel. */
aw_image_diff aw_image_compare(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t height,
                               uint32_t tolerance);

/* ---------------------------------------------------------------- utilities */

/* The renderer's draw-order sort: a stable LSD radix sort of 64-bit keys carrying 32-bit values,
 * 11 bits per pass, skipping the digits every key shares. keys_tmp / values_tmp hold `count` each;
 * the sorted result is in keys / values. */
void aw_render_sort(uint64_t *keys, uint32_t *values, uint64_t *keys_tmp, uint32_t *values_tmp, uint32_t count);

#ifdef __cplusplus
}
#endif

#endif /* AW_RENDER_H */
