/* AstraWeave demo: a stress scenario's world (combat by default) simulated and drawn by the
 * renderer, windowed or headless, with per-frame statistics and a screenshot. aw-demo is a flag
 * parser over this. */
#ifndef AW_DEMO_H
#define AW_DEMO_H

#include <stdio.h>

#include "aw/render.h"
#include "aw/stress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_demo_desc {
    const char *scenario;     /* NULL: "combat" (agents, projectiles and obstacles); "seed-profile"; any
                                 other world must have "Position" and "Renderable" */
    uint32_t entities;        /* 0: 10,000 */
    uint32_t frames;          /* frames to run (fewer if the window closes); 0: 600 */
    uint32_t warmup;          /* first frames left out of the statistics (pipeline and cache warm-up);
                                 0: 10; AW_STRESS_NO_WARMUP: none */
    uint32_t threads;         /* 0: one per hardware thread */
    uint64_t seed;
    float dt;                 /* 0: 1/60 for combat, 1.0 (the seed demo's dt) otherwise */
    bool headless;            /* true: offscreen only; false: a window when a display exists */
    bool vsync;
    aw_render_mode mode;
    uint32_t width, height;   /* 0: 1280 x 720 */
    const char *screenshot;   /* PNG written after the last frame; NULL: none */
    const char *device_name;  /* aw_gpu_desc.device_name */
    bool validation;
    /* Windowed checks: at frame resize_frame (> 0) ask for a resize_width x resize_height window;
     * at frame vsync_switch_frame (> 0) switch vsync to the other setting. Ignored headless. */
    uint32_t resize_frame, resize_width, resize_height;
    uint32_t vsync_switch_frame;
} aw_demo_desc;

typedef struct aw_demo_result {
    char device[256];
    bool windowed;
    aw_render_mode mode;
    uint32_t entities, frames, warmup, threads, width, height;
    /* Over the timed frames, in ms. gpu_ms.count is 0 without timestamp support. */
    aw_stress_stats frame_ms, sim_ms, prep_ms, extract_ms, sort_ms, upload_ms, record_ms, wait_ms, gpu_ms;
    aw_render_stats last;     /* the last frame's counts */
    double allocs_per_frame;  /* engine heap allocations per timed frame */
    uint64_t world_hash;
    aw_render_window_info window; /* the swapchain's counters (zero headless) */
    uint32_t present_modes_used;  /* bit (1 << VkPresentModeKHR) for every mode a frame used */
    uint32_t validation_errors, validation_warnings; /* with validation on */
    char validation_message[512]; /* the first one, if any */
} aw_demo_result;

/* Runs the demo. AW_ERR_UNAVAILABLE without a Vulkan device; a window that cannot open (no
 * display) falls back to headless. */
aw_status aw_demo_run(const aw_demo_desc *desc, aw_demo_result *out);
/* The frame statistics table. */
void aw_demo_print(FILE *out, const aw_demo_result *result);

#ifdef __cplusplus
}
#endif

#endif /* AW_DEMO_H */
