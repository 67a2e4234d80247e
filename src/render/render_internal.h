/* The renderer's private state, shared by its files: device objects and targets (renderer.c),
 * meshes (meshes.c), extraction (extract.c), sort and batches (batch.c), window (window.c). */
#ifndef AW_RENDER_INTERNAL_H
#define AW_RENDER_INTERNAL_H

#include <stdatomic.h>

#include "aw/render_vulkan.h"

#define RENDER_MAX_FRAMES   4u
#define RENDER_MAX_WORKERS  64u
#define RENDER_COLOR_FORMAT VK_FORMAT_R8G8B8A8_UNORM
#define RENDER_DEPTH_FORMAT VK_FORMAT_D32_SFLOAT

/* One vertex of a built-in mesh. */
typedef struct render_vertex {
    float position[3];
    float normal[3];
} render_vertex;

/* Per-instance data as the vertex shader reads it (the slot's storage buffer, indexed through the
 * per-instance draw-order binding): 32 bytes, std430. */
typedef struct render_instance {
    float position[3];
    float scale;
    float yaw;
    uint32_t material;
    uint32_t color;
    uint32_t pad_;
} render_instance;
_Static_assert(sizeof(render_instance) == 32, "render_instance is 32 bytes");

/* A mesh's range in the shared vertex and index buffers. */
typedef struct render_mesh {
    uint32_t first_index, index_count;
    int32_t vertex_offset;
    float radius; /* bounding sphere around the origin, for culling */
} render_mesh;

/* Geometry of every built-in mesh, generated once (meshes.c). */
typedef struct render_geometry {
    render_vertex *vertices;
    uint32_t *indices;
    uint32_t vertex_count, index_count;
    uint32_t vertex_capacity, index_capacity;
    render_mesh meshes[AW_RENDER_MESH_COUNT];
} render_geometry;
aw_status render_geometry_build(const aw_allocator *a, render_geometry *out);
void render_geometry_free(const aw_allocator *a, render_geometry *g);

/* Material as the fragment shader reads it (std140 array element). */
typedef struct render_material {
    float base_color[4];
    float params[4]; /* x: roughness */
} render_material;

/* Extraction output: every piece reserves a range of the shared arrays (one atomic add per piece)
 * and records which range holds its visible instances, so the merge can put the pieces back in
 * the world's order whatever thread ran them. */
typedef struct render_piece {
    uint32_t task;   /* the scheduler's piece index */
    uint32_t begin;  /* first instance in the shared arrays */
    uint32_t count;  /* visible instances written */
    uint32_t offset; /* where the merge puts it */
} render_piece;

/* Per-worker tallies, one cache line each. */
typedef struct render_worker_tally {
    _Alignas(64) uint32_t culled, skipped;
} render_worker_tally;

/* Camera-derived values the extraction reads (set by aw_render_set_camera). */
typedef struct render_view {
    float view[16], proj[16], view_proj[16];
    float planes[6][4]; /* normalised, inward: dot(n, p) + d >= -radius is inside */
    float position[3], right[3], up[3], forward[3];
    float near_z, far_z;
} render_view;

typedef struct render_frame_slot {
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkSemaphore acquired;    /* windowed: the swapchain image is ready */
    aw_gpu_buffer instances; /* storage buffer, persistently mapped: the extraction writes it */
    uint32_t instance_capacity;
    aw_gpu_buffer order; /* uint32 per drawn instance, in draw order (per-instance vertex binding) */
    uint32_t order_capacity;
    aw_gpu_buffer indirect;
    uint32_t indirect_capacity;
    aw_gpu_buffer materials; /* UBO, AW_RENDER_MAX_MATERIALS entries */
    uint64_t material_version;
    VkDescriptorSet set;
    VkQueryPool timestamps;
    bool submitted; /* the fence will signal (a frame used this slot) */
    uint64_t frame; /* the frame that last used the slot */
    bool timed;     /* that frame wrote timestamps */
} render_frame_slot;

typedef struct render_batch {
    uint32_t mesh, material, first, count;
} render_batch;

/* Sort key: [31..28] pipeline, [27..16] material, [15..8] mesh, [7..0] depth (near first, 256
 * steps: enough for front-to-back order within a batch, and one radix pass): 32 bits, so it packs
 * with an index into one 64-bit sort entry. The batch is the key without its depth bits. */
#define RENDER_KEY(pipeline, material, mesh, depth)                                                          \
    (((uint64_t)(pipeline) << 28) | ((uint64_t)(material) << 16) | ((uint64_t)(mesh) << 8) | (uint64_t)(depth))
/* A sort entry packs the 32-bit key above the instance's index, so the sort moves 8 bytes per
 * instance in one array; the index is payload (never a sort digit). */
#define RENDER_ENTRY(key, index)   (((uint64_t)(key) << 32) | (uint64_t)(uint32_t)(index))
#define RENDER_ENTRY_INDEX(entry)  ((uint32_t)(entry))
#define RENDER_ENTRY_BATCH(entry)  ((entry) >> 40)
#define RENDER_ENTRY_MESH(entry)   ((uint32_t)((entry) >> 40) & 0xffu)
#define RENDER_ENTRY_MATERIAL(entry) ((uint32_t)((entry) >> 48) & 0xfffu)

/* The sort's digits over the 32 key bits: 8 (depth) + 12 (mesh, material's low 4 bits) + 12
 * (material's high 8 bits, pipeline). Depth alone in the first digit scatters to at most 256
 * places, and a scene with up to 16 materials needs just the first two passes. Histograms are
 * counted during the extraction (per worker), so the sort never reads its input just to count. */
#define RENDER_DIGITS      3
#define RENDER_DIGIT_BINS  4096u
#define RENDER_DIGIT_SHIFT(d) (32 + ((d) == 0 ? 0 : (d) == 1 ? 8 : 20))
#define RENDER_DIGIT_MASK(d)  ((d) == 0 ? 0xffu : 0xfffu)
#define RENDER_ENTRY_DIGIT(entry, d) ((uint32_t)((entry) >> RENDER_DIGIT_SHIFT(d)) & RENDER_DIGIT_MASK(d))
typedef struct render_key_hist {
    _Alignas(64) uint32_t bins[RENDER_DIGITS][RENDER_DIGIT_BINS];
} render_key_hist;

typedef struct render_window render_window;

struct aw_renderer {
    const aw_allocator *allocator;
    aw_gpu *gpu;
    bool owns_gpu;
    const aw_gpu_vk *vk;
    aw_gpu_info info;
    aw_render_mode mode;
    uint32_t width, height;
    uint32_t frames_in_flight;
    float clear_color[4];

    /* Offscreen targets: one colour and one depth image; frames in flight share them (the queue
     * orders the frames, barriers order their accesses). */
    VkImage color_image, depth_image;
    VkDeviceMemory color_memory, depth_memory;
    VkImageView color_view, depth_view;
    bool has_frame; /* the colour image holds a finished frame (TRANSFER_SRC layout) */
    aw_gpu_buffer readback;

    /* Meshes */
    render_geometry geometry;
    aw_gpu_buffer vertex_buffer, index_buffer;

    /* Pipeline */
    VkDescriptorSetLayout set_layout;
    VkDescriptorPool descriptor_pool;
    VkPipelineLayout pipeline_layout;
    VkPipeline pipeline;

    render_frame_slot slots[RENDER_MAX_FRAMES];
    uint64_t frame;

    /* Materials */
    render_material materials[AW_RENDER_MAX_MATERIALS];
    uint32_t material_count;
    uint64_t material_version;

    /* Camera and light */
    aw_camera camera;
    render_view view;
    float light_dir[4], light_color[4], ambient[4];

    /* Extraction */
    aw_world *world;
    aw_render_extract_desc extract;
    uint32_t mesh_map[256], material_map[4096]; /* copies of the desc's tables */
    int material_term, style_term; /* query term of each optional column, or -1 */
    int rule_term;                 /* query term of the first rule's tag (the others follow), or -1 */
    uint32_t rule_size[AW_RENDER_MAX_RULES]; /* each rule's tag component size (the select stride) */
    uint32_t workers;
    aw_query *extract_query; /* the extraction's terms, for the entity count in render_begin */
    render_worker_tally tally[RENDER_MAX_WORKERS];
    render_key_hist *hist; /* one per worker, filled by the extraction, summed by the sort */
    /* Shared extraction output: instances go straight into the mapped storage buffer of the frame
     * slot the next frame uses (`extract_slot`), entries into instance_keys. */
    render_instance *instances;
    uint64_t *instance_keys; /* sort entries: RENDER_ENTRY(key, index into instances) */
    uint32_t output_capacity; /* room in both for this extraction */
    uint32_t key_capacity;    /* instance_keys' size */
    uint32_t extract_slot;    /* the slot whose buffer holds the prepared instances */
    uint32_t extract_extent;  /* instances written there (culled ones leave gaps) */
    double begin_wait_ms;     /* render_begin's wait for that slot's last frame */
    _Atomic uint32_t output_cursor;
    render_piece *piece_out; /* pieces as they finish, `piece_out_capacity` */
    uint32_t piece_out_capacity;
    _Atomic uint32_t piece_cursor;
    bool output_overflow; /* a piece found no room (cannot happen after render_begin's reserve) */
    uint64_t extract_start_ns;
    /* Merged and sorted entries (key in the high half, index into `instances` in the low half). */
    uint64_t *keys, *keys_tmp;
    uint32_t sort_capacity;
    render_piece *pieces;
    uint32_t piece_capacity;
    render_batch *batches;
    uint32_t batch_count, batch_capacity;
    uint32_t prepared_count; /* entries in keys */
    aw_jobs *jobs;           /* the world's, for the parallel merge and upload */
    aw_render_stats prepared; /* extraction and sort figures of the prepared list */

    aw_render_hooks hooks[AW_RENDER_MAX_HOOKS];
    bool hook_used[AW_RENDER_MAX_HOOKS];

    render_window *window;
    aw_render_stats stats;
};


/* batch.c: merges the workers' output in piece order, sorts by key, builds batches. */
aw_status render_prepare(aw_renderer *r);
/* Sorts the entries of `pieces` (ranges of `entries`, taken in array order: the merge is the sort's
 * first pass) by key into out[0..n): stable LSD radix over the key digits that differ, counted in
 * `hists` (summed; their total is n). Each piece's `offset` must be its prefix sum of counts.
 * tmp holds n entries. With parts > 1 the passes run in parallel (below). */
void render_sort_entries(const uint64_t *entries, const render_piece *pieces, uint32_t piece_count,
                         const render_key_hist *hists, uint32_t hist_count, uint32_t n, uint64_t *out, uint64_t *tmp,
                         aw_jobs *jobs, uint32_t parts);
/* parts > 1: each pass counts and scatters `parts` equal ranges of its input, on `jobs` when given
 * (else one after another); the result is the same for any part count. */
#define RENDER_SORT_MAX_PARTS    4u
#define RENDER_PARALLEL_SORT_MIN 32768u
/* Cuts sorted entries into batches of equal (pipeline, material, mesh) into out (up to capacity);
 * returns how many there are (more than capacity: call again with room). With the entries'
 * histograms (NULL: none), batches come from the counts without reading the entries when the
 * key's top digit is shared. */
uint32_t render_build_batches(const uint64_t *sorted, uint32_t n, const render_key_hist *hists, uint32_t hist_count,
                              render_batch *out, uint32_t capacity);
/* Sorts keys with their values (stable LSD radix, 11-bit digits, skipping digits every key shares).
 * Ping-pongs between the arrays and swaps the pointers so the result is in *keys / *values. */
void render_radix_sort(uint64_t **keys, uint32_t **values, uint64_t **keys_tmp, uint32_t **values_tmp,
                       uint32_t count);

/* camera.c */
void render_view_compute(const aw_camera *camera, float aspect, render_view *out);

/* window.c: GLFW window and swapchain. */
aw_status render_window_open(aw_renderer *r, const aw_renderer_desc *desc, aw_gpu_desc *gpu_desc);
aw_status render_window_attach(aw_renderer *r, bool vsync);
/* Destroys the swapchain (before the device goes); render_window_free closes the window (after
 * the surface went with the device). */
void render_window_close(aw_renderer *r);
void render_window_free(aw_renderer *r);
/* Acquires the next swapchain image, recreating the swapchain (and the offscreen targets) after a
 * resize; *skip when nothing can be presented this frame (minimised). */
aw_status render_window_acquire(aw_renderer *r, render_frame_slot *slot, bool *skip);
/* Records the copy of the colour image into the acquired image and its move to present layout. */
void render_window_record_blit(aw_renderer *r, VkCommandBuffer cmd);
VkSemaphore render_window_present_semaphore(aw_renderer *r);
aw_status render_window_present(aw_renderer *r);
bool render_window_should_close(aw_renderer *r);
/* Switches the present mode (recreated before the next acquire); asks for a new window size. */
void render_window_set_vsync(aw_renderer *r, bool vsync);
void render_window_set_size(aw_renderer *r, uint32_t width, uint32_t height);
aw_render_window_info render_window_info(const aw_renderer *r);

/* renderer.c: waits for the slot's last frame (if it is still on the GPU) and collects its
 * timestamps; makes its instance storage hold `instances` (replacing the buffer; allocates). */
aw_status render_slot_wait(aw_renderer *r, render_frame_slot *s);
aw_status render_slot_reserve_instances(aw_renderer *r, render_frame_slot *s, uint32_t instances);

/* renderer.c: recomputes the view after a camera or size change. */
void render_update_view(aw_renderer *r);
/* renderer.c: (re)creates the offscreen targets at the current size. */
aw_status render_targets_create(aw_renderer *r);
void render_targets_destroy(aw_renderer *r);

#endif /* AW_RENDER_INTERNAL_H */
