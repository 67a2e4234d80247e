/* Renderer benchmark (aw-bench render): N entities (100,000 by default) spread over 4 meshes x 4
 * materials in a 100 x 100 area, seen whole by the camera, 640 x 360 offscreen, 2 threads:
 *   draw_calls_batched     draw calls of a batched frame (target <= 16: one per mesh x material)
 *   draw_calls_naive       the baseline's draw calls: one per visible entity
 *   draw_calls_indirect    vkCmdDrawIndexedIndirect calls (1 where multiDrawIndirect exists)
 *   prep_100k_ms           extract + cull + sort + upload of a batched frame (target <= 1.5 ms),
 *                          taken with the device idle: every submitted frame is waited for
 *                          (outside the timed region) before the world step; per rep the median
 *                          of PREP_FRAMES frames. The extraction writes the instances into the
 *                          mapped ring itself, the upload is the draw order (4 bytes per instance)
 *   prep_100k_ms_overlapped the same with two frames in flight and no wait (after one untimed
 *                          frame): the prep runs while the device still draws the previous frame. With a software rasterizer
 *                          (lavapipe) on the same cores this measures contention with it
 *   frame_100k_ms_batched  a whole frame: extraction systems, recording, submission and the GPU
 *                          (waited for); its baseline column is the naive frame of the same reps
 *   frame_100k_ms_indirect the same through one indirect call, naive baseline
 *   frame_100k_ms_naive    one draw per entity
 *   gpu_100k_ms_batched / _naive   GPU time by timestamp queries, where the device has them
 *   sort_100k_ms           the public aw_render_sort alone on the scene's keys (material, mesh,
 *                          8-bit depth) with separate values; the frame itself sorts packed
 *                          entries (render_sort_entries), measured inside extract_sort_100k_ms
 *   record_100k_ms_batched / _naive  CPU time to record and submit the frame's command buffer:
 *                          where draw calls cost on a real driver (naive baseline)
 *   extract_sort_100k_ms   the extraction systems alone (extract + cull + sort + batches, no frame
 *                          rendered): prep without the upload, cheap enough to profile under
 *                          callgrind (`--filter extract_sort`)
 * Each rep renders one frame of each mode back to back, so noise hits all modes alike; the first
 * frames of each mode (pipeline compilation, ring growth, caches) are left out. */
#include "bench_render.h"

#include <stdio.h>
#include <string.h>

#include "aw/render.h"

#define BENCH_THREADS 2u
#define BENCH_WIDTH   640u
#define BENCH_HEIGHT  360u
#define WARMUP_FRAMES 3u
#define MODES         3u
#define PREP_FRAMES   8u /* frames per rep of the prep figures (median of their per-frame values) */

typedef struct render_bench {
    aw_bench_options opt;
    uint32_t entities;
    aw_renderer *r;
    aw_world *world;
    double *frame_ms[MODES], *gpu_ms[MODES], *prep_ms, *prep_overlapped_ms, *draws[MODES], *record_ms[MODES];
} render_bench;

static const aw_render_mode modes[MODES] = {AW_RENDER_BATCHED, AW_RENDER_INDIRECT, AW_RENDER_NAIVE};

static aw_status fail_with(const char *what) {
    aw_status st = aw_last_status();
    char msg[512];
    snprintf(msg, sizeof msg, "%s", aw_last_error());
    return aw_error(st == AW_OK ? AW_ERR_UNSUPPORTED : st, "%s: %s", what, msg[0] ? msg : "failed");
}

/* The draw-order sort alone, on keys shaped like the scene's, one sort per rep. */
static aw_status measure_sort(render_bench *b, double *out) {
    uint32_t n = b->entities;
    size_t kb = (size_t)n * sizeof(uint64_t), vb = (size_t)n * sizeof(uint32_t);
    uint64_t *k0 = aw_alloc(NULL, kb, 64), *k = aw_alloc(NULL, kb, 64), *kt = aw_alloc(NULL, kb, 64);
    uint32_t *v = aw_alloc(NULL, vb, 64), *vt = aw_alloc(NULL, vb, 64);
    aw_status st = (k0 && k && kt && v && vt) ? AW_OK : aw_error(AW_ERR_OUT_OF_MEMORY, "bench: out of memory");
    if (!st) {
        aw_rng rng;
        aw_rng_seed(&rng, b->opt.seed);
        for (uint32_t i = 0; i < n; i++)
            k0[i] = (uint64_t)(1 + (i / 4) % 4) << 16 | (uint64_t)(i % 4) << 8 | aw_rng_range(&rng, 256);
        for (uint32_t rep = 0; rep < b->opt.reps; rep++) {
            memcpy(k, k0, kb);
            for (uint32_t i = 0; i < n; i++) v[i] = i;
            uint64_t t0 = aw_time_ns();
            aw_render_sort(k, v, kt, vt, n);
            out[rep] = (double)(aw_time_ns() - t0) * 1e-6;
        }
    }
    aw_free(NULL, k0, kb);
    aw_free(NULL, k, kb);
    aw_free(NULL, kt, kb);
    aw_free(NULL, v, vb);
    aw_free(NULL, vt, vb);
    return st;
}

static aw_status build_scene(render_bench *b) {
    aw_status st = aw_renderer_create(&(aw_renderer_desc){.width = BENCH_WIDTH, .height = BENCH_HEIGHT,
                                                          .initial_instances = b->entities}, &b->r);
    if (st) return fail_with("aw_renderer_create");
    b->world = aw_world_create(&(aw_world_desc){.threads = BENCH_THREADS});
    if (!b->world) return fail_with("aw_world_create");
    aw_component position = aw_component_register(b->world, &(aw_component_desc){.name = "Position", .size = 12, .align = 4});
    aw_render_components rc;
    if (!position || aw_render_register_components(b->world, &rc)) return fail_with("component registration");
    uint32_t materials[4];
    const float colors[4][3] = {{0.9f, 0.3f, 0.2f}, {0.2f, 0.8f, 0.3f}, {0.2f, 0.4f, 0.9f}, {0.9f, 0.8f, 0.2f}};
    for (int i = 0; i < 4; i++)
        if (aw_render_material_create(b->r, &(aw_material_desc){.base_color = {colors[i][0], colors[i][1], colors[i][2], 1},
                                                                .roughness = 0.3f}, &materials[i]))
            return fail_with("aw_render_material_create");
    static const uint32_t meshes[4] = {AW_RENDER_MESH_CUBE, AW_RENDER_MESH_SPHERE, AW_RENDER_MESH_PLANE, AW_RENDER_MESH_QUAD};
    uint32_t n = b->entities;
    float *pos = aw_alloc(NULL, (size_t)n * 12, 16);
    aw_render_mesh_ref *mesh = aw_alloc(NULL, (size_t)n * 4, 16);
    aw_render_material_ref *mat = aw_alloc(NULL, (size_t)n * 4, 16);
    if (!pos || !mesh || !mat) st = aw_error(AW_ERR_OUT_OF_MEMORY, "bench: out of memory");
    if (!st) {
        aw_rng rng;
        aw_rng_seed(&rng, b->opt.seed);
        for (uint32_t i = 0; i < n; i++) {
            pos[3 * i] = aw_rng_float_range(&rng, -50.0f, 50.0f);
            pos[3 * i + 1] = aw_rng_float_range(&rng, 0.0f, 4.0f);
            pos[3 * i + 2] = aw_rng_float_range(&rng, -50.0f, 50.0f);
            mesh[i].mesh = meshes[i % 4];
            mat[i].material = materials[(i / 4) % 4];
        }
        aw_component types[3] = {position, rc.mesh, rc.material};
        const void *data[3] = {pos, mesh, mat};
        st = aw_entity_create_bulk(b->world, &(aw_bulk_desc){.count = n, .components = types, .component_count = 3, .data = data});
        if (st) st = fail_with("aw_entity_create_bulk");
    }
    aw_free(NULL, pos, (size_t)n * 12);
    aw_free(NULL, mesh, (size_t)n * 4);
    aw_free(NULL, mat, (size_t)n * 4);
    if (st) return st;
    if (aw_render_extract_register(b->r, b->world, &(aw_render_extract_desc){.position = position, .mesh = rc.mesh,
                                                                           .material = rc.material}))
        return fail_with("aw_render_extract_register");
    aw_camera cam = aw_camera_orbit((const float[3]){0, 0, 0}, 125.0f, 0.4f, 0.8f);
    cam.far_z = 500.0f;
    if (aw_render_set_camera(b->r, &cam)) return fail_with("aw_render_set_camera");
    return AW_OK;
}

/* One whole frame: extraction systems, record + submit, and the GPU's work waited for. */
static aw_status one_frame(render_bench *b, double *ms) {
    uint64_t t0 = aw_time_ns();
    if (aw_world_progress(b->world, 1.0f / 60.0f)) return fail_with("aw_world_progress");
    if (aw_render_frame(b->r)) return fail_with("aw_render_frame");
    if (aw_render_wait_idle(b->r)) return fail_with("aw_render_wait_idle");
    *ms = (double)(aw_time_ns() - t0) * 1e-6;
    return AW_OK;
}

/* The extraction systems alone, one world step per rep, after warm-up steps. */
static aw_status measure_extract_sort(render_bench *b, double *out) {
    for (uint32_t rep = 0; rep < WARMUP_FRAMES + b->opt.reps; rep++) {
        uint64_t t0 = aw_time_ns();
        if (aw_world_progress(b->world, 1.0f / 60.0f)) return fail_with("aw_world_progress");
        if (rep >= WARMUP_FRAMES) out[rep - WARMUP_FRAMES] = (double)(aw_time_ns() - t0) * 1e-6;
    }
    return AW_OK;
}

/* One rep of a prep figure: PREP_FRAMES batched frames; `idle` waits for every submitted frame
 * before each world step (untimed), otherwise two frames stay in flight. The per-frame value is
 * the renderer's own prep_ms (extract + sort + upload, fence waits excluded); the rep's value is
 * their median. Leaves the device idle. */
static aw_status measure_prep(render_bench *b, uint32_t rep, bool idle, double *out) {
    double frame_prep[PREP_FRAMES], extract[PREP_FRAMES], sort[PREP_FRAMES], upload[PREP_FRAMES];
    uint32_t prime = idle ? 0u : 1u; /* overlapped: one untimed frame first puts a frame in flight */
    aw_render_set_mode(b->r, AW_RENDER_BATCHED);
    for (uint32_t f = 0; f < prime + PREP_FRAMES; f++) {
        if (idle && aw_render_wait_idle(b->r)) return fail_with("aw_render_wait_idle");
        if (aw_world_progress(b->world, 1.0f / 60.0f)) return fail_with("aw_world_progress");
        if (aw_render_frame(b->r)) return fail_with("aw_render_frame");
        if (f < prime) continue;
        aw_render_stats s = aw_render_get_stats(b->r);
        frame_prep[f - prime] = s.prep_ms;
        extract[f - prime] = s.extract_ms;
        sort[f - prime] = s.sort_ms;
        upload[f - prime] = s.upload_ms;
    }
    if (aw_render_wait_idle(b->r)) return fail_with("aw_render_wait_idle");
    *out = aw_bench_median(frame_prep, PREP_FRAMES);
    if (b->opt.verbose) {
        double lo = frame_prep[0], hi = frame_prep[PREP_FRAMES - 1]; /* sorted by the median */
        fprintf(stderr, "render: rep %u prep %s: median %.3f ms of %u frames (%.3f-%.3f), stage medians extract %.3f, sort %.3f, upload %.3f\n",
                rep, idle ? "idle device" : "overlapped", *out, PREP_FRAMES, lo, hi, aw_bench_median(extract, PREP_FRAMES),
                aw_bench_median(sort, PREP_FRAMES), aw_bench_median(upload, PREP_FRAMES));
    }
    return AW_OK;
}

static aw_status measure(render_bench *b) {
    double ms;
    for (uint32_t m = 0; m < MODES; m++) {
        aw_render_set_mode(b->r, modes[m]);
        for (uint32_t w = 0; w < WARMUP_FRAMES; w++)
            if (one_frame(b, &ms)) return aw_last_status();
    }
    for (uint32_t rep = 0; rep < b->opt.reps; rep++) {
        for (uint32_t m = 0; m < MODES; m++) {
            aw_render_set_mode(b->r, modes[m]);
            if (one_frame(b, &b->frame_ms[m][rep])) return aw_last_status();
            aw_render_stats s = aw_render_get_stats(b->r);
            b->draws[m][rep] = s.draw_calls;
            if (b->opt.verbose)
                fprintf(stderr, "render: rep %u %s: %.2f ms, %u draws, %u batches, %u instances, %u culled, prep %.3f ms (extract %.3f, sort %.3f, upload %.3f), record %.3f ms\n", rep,
                        aw_render_mode_str(modes[m]), b->frame_ms[m][rep], s.draw_calls, s.batches, s.instances, s.culled,
                        s.prep_ms, s.extract_ms, s.sort_ms, s.upload_ms, s.record_ms);
            b->gpu_ms[m][rep] = s.gpu_ms;
            b->record_ms[m][rep] = s.record_ms;
        }
        if (measure_prep(b, rep, true, &b->prep_ms[rep]) || measure_prep(b, rep, false, &b->prep_overlapped_ms[rep]))
            return aw_last_status();
    }
    return AW_OK;
}

aw_status aw_bench_render_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    render_bench b;
    memset(&b, 0, sizeof b);
    b.opt = aw_bench_options_resolve(options);
    b.entities = b.opt.entities == AW_BENCH_DEFAULT_ENTITIES ? 100000u : b.opt.entities;
    uint32_t reps = b.opt.reps;
    size_t bytes = (size_t)reps * sizeof(double) * (4 * MODES + 4);
    double *pool = aw_alloc(NULL, bytes, 16);
    if (!pool) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: out of memory");
    for (uint32_t m = 0; m < MODES; m++) {
        b.frame_ms[m] = pool + (size_t)reps * (4 * m);
        b.gpu_ms[m] = pool + (size_t)reps * (4 * m + 1);
        b.draws[m] = pool + (size_t)reps * (4 * m + 2);
        b.record_ms[m] = pool + (size_t)reps * (4 * m + 3);
    }
    b.prep_ms = pool + (size_t)reps * 4 * MODES;
    double *sort_ms = pool + (size_t)reps * (4 * MODES + 1);
    double *extract_sort_ms = pool + (size_t)reps * (4 * MODES + 2);
    b.prep_overlapped_ms = pool + (size_t)reps * (4 * MODES + 3);

    char k[16];
    snprintf(k, sizeof k, "%u%s", b.entities % 1000 ? b.entities : b.entities / 1000, b.entities % 1000 ? "" : "k");
    enum { NAMES = 14 };
    char names[NAMES][AW_BENCH_NAME_MAX];
    snprintf(names[0], sizeof names[0], "draw_calls_batched");
    snprintf(names[1], sizeof names[1], "draw_calls_indirect");
    snprintf(names[2], sizeof names[2], "draw_calls_naive");
    snprintf(names[3], sizeof names[3], "prep_%s_ms", k);
    snprintf(names[4], sizeof names[4], "frame_%s_ms_batched", k);
    snprintf(names[5], sizeof names[5], "frame_%s_ms_indirect", k);
    snprintf(names[6], sizeof names[6], "frame_%s_ms_naive", k);
    snprintf(names[7], sizeof names[7], "gpu_%s_ms_batched", k);
    snprintf(names[8], sizeof names[8], "gpu_%s_ms_naive", k);
    snprintf(names[9], sizeof names[9], "record_%s_ms_batched", k);
    snprintf(names[10], sizeof names[10], "record_%s_ms_naive", k);
    snprintf(names[11], sizeof names[11], "sort_%s_ms", k);
    snprintf(names[12], sizeof names[12], "extract_sort_%s_ms", k);
    snprintf(names[13], sizeof names[13], "prep_%s_ms_overlapped", k);
    bool any = aw_bench_selected(&b.opt, names[13]);
    for (int i = 0; i < 11; i++) any = any || aw_bench_selected(&b.opt, names[i]);
    bool cpu_only = aw_bench_selected(&b.opt, names[12]);
    aw_status result = AW_OK;
    if (aw_bench_selected(&b.opt, names[11])) {
        if (measure_sort(&b, sort_ms)) {
            fprintf(stderr, "aw-bench: render/%s failed: %s\n", names[11], aw_last_error());
            aw_bench_report_fail(report);
        } else {
            result = aw_bench_report_add(report, &(aw_bench_entry){.suite = "render", .name = names[11], .unit = "ms",
                                                                    .samples = sort_ms, .sample_count = reps});
        }
    }
    if ((any || cpu_only) && !result) {
        aw_clear_error();
        aw_status st = build_scene(&b);
        if (!st && cpu_only) st = measure_extract_sort(&b, extract_sort_ms);
        if (!st && any) st = measure(&b);
        if (st) {
            fprintf(stderr, "aw-bench: render failed: %s (%s)\n", aw_last_error(), aw_status_str(st));
            aw_bench_report_fail(report);
        } else {
            bool gpu = aw_gpu_get_info(aw_renderer_gpu(b.r)).timestamps;
            const aw_bench_entry entries[NAMES] = {
                {.name = names[0], .unit = "calls", .samples = b.draws[0], .sample_count = reps, .target = 16},
                {.name = names[1], .unit = "calls", .samples = b.draws[1], .sample_count = reps},
                {.name = names[2], .unit = "calls", .samples = b.draws[2], .sample_count = reps},
                {.name = names[3], .unit = "ms", .samples = b.prep_ms, .sample_count = reps, .target = 1.5},
                {.name = names[4], .unit = "ms", .samples = b.frame_ms[0], .sample_count = reps,
                 .baseline_samples = b.frame_ms[2], .baseline_count = reps},
                {.name = names[5], .unit = "ms", .samples = b.frame_ms[1], .sample_count = reps,
                 .baseline_samples = b.frame_ms[2], .baseline_count = reps},
                {.name = names[6], .unit = "ms", .samples = b.frame_ms[2], .sample_count = reps},
                {.name = names[7], .unit = "ms", .samples = b.gpu_ms[0], .sample_count = reps,
                 .baseline_samples = b.gpu_ms[2], .baseline_count = reps},
                {.name = names[8], .unit = "ms", .samples = b.gpu_ms[2], .sample_count = reps},
                {.name = names[9], .unit = "ms", .samples = b.record_ms[0], .sample_count = reps,
                 .baseline_samples = b.record_ms[2], .baseline_count = reps},
                {.name = names[10], .unit = "ms", .samples = b.record_ms[2], .sample_count = reps},
                {0}, /* sort_100k_ms, reported above */
                {.name = names[12], .unit = "ms", .samples = extract_sort_ms, .sample_count = reps},
                {.name = names[13], .unit = "ms", .samples = b.prep_overlapped_ms, .sample_count = reps,
                 .baseline_samples = b.prep_ms, .baseline_count = reps},
            };
            for (int i = 0; i < NAMES && !result; i++) {
                if (i == 11) continue;
                if (!aw_bench_selected(&b.opt, names[i]) || ((i == 7 || i == 8) && !gpu)) continue;
                aw_bench_entry e = entries[i];
                e.suite = "render";
                result = aw_bench_report_add(report, &e);
            }
        }
    }
    aw_world_destroy(b.world);
    aw_renderer_destroy(b.r);
    aw_free(NULL, pool, bytes);
    return result;
}
