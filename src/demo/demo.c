/* The demo loop: a stress scenario's world (combat by default) with the renderer's extraction in
 * place of its stand-in rendering system, a slowly orbiting camera framing it, frame statistics
 * and a screenshot. */
#include "aw/demo.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "aw/ai.h"
#include "aw/physics.h"
#include <string.h>

enum { SERIES_FRAME, SERIES_SIM, SERIES_PREP, SERIES_EXTRACT, SERIES_SORT, SERIES_UPLOAD, SERIES_RECORD, SERIES_WAIT, SERIES_GPU, SERIES_COUNT };

/* seed-profile's Renderable ids: 1 agents, 2 rigid bodies. */
static const uint32_t seed_mesh_map[3] = {AW_RENDER_MESH_CUBE, AW_RENDER_MESH_CAPSULE, AW_RENDER_MESH_SPHERE};
/* combat's Renderable ids: 1 obstacles, 2 the ground (added here); agents and projectiles are drawn
 * by their AI components through tag rules. */
static const uint32_t combat_mesh_map[3] = {UINT32_MAX, AW_RENDER_MESH_CUBE, AW_RENDER_MESH_PLANE};

/* What the camera frames: a centre and a radius on the ground plane. */
typedef struct demo_view {
    float target[3];
    float distance, pitch;
} demo_view;

static aw_status material(aw_renderer *r, float red, float green, float blue, float roughness, uint32_t *id) {
    return aw_render_material_create(r, &(aw_material_desc){.base_color = {red, green, blue, 1}, .roughness = roughness}, id);
}

/* seed-profile: agents and rigid bodies by their Renderable id; x and z fill 0..64 (wrapping
 * within +-64), y grows by layers of 1,024. */
static aw_status scene_seed_profile(const aw_demo_desc *d, aw_renderer *r, aw_world *world, aw_component position,
                                    aw_component renderable, demo_view *view) {
    uint32_t materials[3] = {0, 0, 0};
    aw_status st = material(r, 0.85f, 0.35f, 0.25f, 0.4f, &materials[1]);
    if (!st) st = material(r, 0.25f, 0.55f, 0.9f, 0.2f, &materials[2]);
    if (!st)
        st = aw_render_extract_register(r, world, &(aw_render_extract_desc){.position = position, .mesh = renderable,
                                                                           .mesh_map = seed_mesh_map, .mesh_map_count = 3,
                                                                           .material_map = materials, .material_map_count = 3});
    float top = (float)(d->entities / 1024u) * 2.0f;
    *view = (demo_view){.target = {16.0f, top * 0.5f, 16.0f}, .distance = 110.0f + top, .pitch = 0.55f};
    return st;
}

/* combat: agents as capsules in their team's colour (by the AiAgent's team byte), projectiles as
 * small bright spheres (by their AiProjectile component, so the ones spawned this frame are drawn),
 * obstacles as stone cubes, on a ground plane the size of the field. */
static aw_status scene_combat(aw_renderer *r, aw_world *world, aw_component position, aw_component renderable,
                              demo_view *view) {
    aw_ai *ai = aw_ai_get(world);
    aw_render_components rc;
    aw_status st = ai ? aw_render_register_components(world, &rc)
                      : aw_error(AW_ERR_UNSUPPORTED, "demo: the combat world has no AI context");
    uint32_t team0 = 0, team1 = 0, shot = 0, materials[3] = {0, 0, 0};
    if (!st) st = material(r, 0.85f, 0.25f, 0.2f, 0.4f, &team0);
    if (!st) st = material(r, 0.2f, 0.45f, 0.9f, 0.4f, &team1);
    if (!st) st = material(r, 1.0f, 0.85f, 0.3f, 0.0f, &shot);
    if (!st) st = material(r, 0.55f, 0.53f, 0.5f, 0.9f, &materials[1]);
    if (!st) st = material(r, 0.32f, 0.36f, 0.28f, 1.0f, &materials[2]);
    if (st) return st;
    /* The field: the agents' extent at setup (they keep within it). */
    aw_ai_ids ids = aw_ai_get_ids(ai);
    float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    aw_query *q = aw_query_create(world, &(aw_query_desc){AW_TERMS(AW_READ(position), AW_READ(ids.agent))});
    if (!q) return aw_last_status();
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        const aw_position *p = AW_COLUMN(&it, aw_position, 0);
        for (uint32_t i = 0; i < it.count; i++) {
            lo[0] = fminf(lo[0], p[i].x), hi[0] = fmaxf(hi[0], p[i].x);
            lo[1] = fminf(lo[1], p[i].z), hi[1] = fmaxf(hi[1], p[i].z);
        }
    }
    aw_query_destroy(q);
    if (!(lo[0] <= hi[0])) lo[0] = lo[1] = -10.0f, hi[0] = hi[1] = 10.0f; /* no agents */
    float cx = (lo[0] + hi[0]) * 0.5f, cz = (lo[1] + hi[1]) * 0.5f;
    float half = fmaxf(hi[0] - lo[0], hi[1] - lo[1]) * 0.5f + 2.0f;
    /* The ground: one plane under the capsules (1 tall at scale 1.5, centred on the agents' y = 0). */
    aw_entity ground = aw_entity_create(world);
    aw_position gp = {cx, -0.75f, cz};
    uint32_t kind = 2;
    aw_render_style gs = {.scale = half * 2.0f, .color = 0xffffffffu};
    if (!ground) return aw_last_status();
    if ((st = aw_entity_set(world, ground, position, &gp, sizeof gp)) ||
        (st = aw_entity_set(world, ground, renderable, &kind, sizeof kind)) ||
        (st = aw_entity_set(world, ground, rc.style, &gs, sizeof gs)))
        return st;
    aw_render_extract_desc ed = {.position = position, .mesh = renderable, .style = rc.style,
                                 .mesh_map = combat_mesh_map, .mesh_map_count = 3,
                                 .material_map = materials, .material_map_count = 3, .rule_count = 2};
    ed.rules[0] = (aw_render_extract_rule){.tag = ids.agent, .mesh = AW_RENDER_MESH_CAPSULE, .scale = 1.5f,
                                           .select_offset = (uint32_t)offsetof(aw_ai_agent, team), .select_count = 2,
                                           .select_materials = {team0, team1}};
    ed.rules[1] = (aw_render_extract_rule){.tag = ids.projectile, .mesh = AW_RENDER_MESH_SPHERE, .material = shot, .scale = 0.7f};
    st = aw_render_extract_register(r, world, &ed);
    *view = (demo_view){.target = {cx, 0.0f, cz}, .distance = half * 2.4f + 10.0f, .pitch = 0.9f};
    return st;
}

static aw_status demo_world(const aw_demo_desc *d, const aw_stress_scenario *sc, aw_world **world, void **state) {
    *world = aw_world_create(&(aw_world_desc){.threads = d->threads});
    if (!*world) return aw_last_status();
    *state = aw_alloc(NULL, sc->state_size ? sc->state_size : 1, 64);
    if (!*state) return aw_error(AW_ERR_OUT_OF_MEMORY, "demo: out of memory");
    memset(*state, 0, sc->state_size ? sc->state_size : 1);
    aw_jobs *jobs = aw_world_jobs(*world);
    return sc->setup(*state, &(aw_stress_setup){.world = *world,
                                                .entities = d->entities,
                                                .seed = d->seed,
                                                .threads = jobs ? aw_jobs_thread_count(jobs) : 1,
                                                .external_renderer = true});
}

static aw_status demo_renderer(const aw_demo_desc *d, aw_renderer **r, bool *windowed) {
    aw_renderer_desc rd = {.width = d->width, .height = d->height, .mode = d->mode, .vsync = d->vsync,
                           .device_name = d->device_name, .validation = d->validation, .window_title = "AstraWeave demo",
                           .windowed = !d->headless};
    aw_status st = aw_renderer_create(&rd, r);
    if (st == AW_ERR_UNAVAILABLE && rd.windowed) {
        AW_LOGI("demo: no window (%s); running headless", aw_last_error());
        rd.windowed = false;
        st = aw_renderer_create(&rd, r);
    }
    *windowed = rd.windowed && st == AW_OK;
    return st;
}

aw_status aw_demo_run(const aw_demo_desc *desc_in, aw_demo_result *out) {
    if (!out) return aw_error(AW_ERR_INVALID_ARG, "demo: out is NULL");
    memset(out, 0, sizeof *out);
    aw_demo_desc d = desc_in ? *desc_in : (aw_demo_desc){0};
    if (!d.scenario) d.scenario = "combat";
    if (!d.entities) d.entities = 10000;
    if (!d.frames) d.frames = 600;
    if (d.warmup == AW_STRESS_NO_WARMUP) d.warmup = 0;
    else if (!d.warmup) d.warmup = 10;
    if (!d.dt) d.dt = strcmp(d.scenario, "combat") == 0 ? 1.0f / 60.0f : 1.0f; /* each scenario's own step */
    const aw_stress_scenario *sc = aw_stress_scenario_find(d.scenario);
    if (!sc) return aw_error(AW_ERR_NOT_FOUND, "demo: unknown scenario '%s'", d.scenario);

    aw_world *world = NULL;
    void *state = NULL;
    aw_renderer *r = NULL;
    double *samples = NULL;
    uint32_t timed = d.frames > d.warmup ? d.frames - d.warmup : 0;
    size_t samples_size = (size_t)(timed ? timed : 1) * SERIES_COUNT * sizeof(double);
    bool windowed = false;
    aw_status st = demo_renderer(&d, &r, &windowed);
    if (!st) st = demo_world(&d, sc, &world, &state);
    aw_component position = world ? aw_component_lookup(world, "Position") : 0;
    aw_component renderable = world ? aw_component_lookup(world, "Renderable") : 0;
    if (!st && (!position || !renderable))
        st = aw_error(AW_ERR_UNSUPPORTED, "demo: scenario '%s' has no Position and Renderable components", d.scenario);
    demo_view view = {0};
    if (!st) {
        if (strcmp(sc->name, "combat") == 0) st = scene_combat(r, world, position, renderable, &view);
        else st = scene_seed_profile(&d, r, world, position, renderable, &view);
    }
    if (!st) {
        samples = aw_alloc(NULL, samples_size, 64);
        if (!samples) st = aw_error(AW_ERR_OUT_OF_MEMORY, "demo: out of memory");
    }
    aw_alloc_stats heap0 = aw_heap_stats();
    uint32_t frame = 0;
    for (; !st && frame < d.frames && !aw_render_should_close(r); frame++) {
        if (frame == d.warmup) heap0 = aw_heap_stats();
        /* A slow orbit that depends only on the frame number, so screenshots are reproducible. */
        aw_camera cam = aw_camera_orbit(view.target, view.distance, 0.7f + 0.002f * (float)frame, view.pitch);
        cam.far_z = 2000.0f;
        st = aw_render_set_camera(r, &cam);
        uint64_t t0 = aw_time_ns();
        if (!st) st = aw_world_progress(world, d.dt);
        uint64_t t1 = aw_time_ns();
        if (!st) st = aw_render_frame(r);
        uint64_t t2 = aw_time_ns();
        if (!st && windowed) {
            aw_render_window_info wi = aw_render_get_window_info(r);
            if (wi.present_mode < 32) out->present_modes_used |= 1u << wi.present_mode;
            if (frame + 1 == d.resize_frame) st = aw_render_set_window_size(r, d.resize_width, d.resize_height);
            if (!st && frame + 1 == d.vsync_switch_frame) st = aw_render_set_vsync(r, !wi.vsync);
        }
        if (st || frame < d.warmup) continue;
        aw_render_stats rs = aw_render_get_stats(r);
        double *row = samples + (size_t)(frame - d.warmup) * SERIES_COUNT;
        row[SERIES_FRAME] = (double)(t2 - t0) * 1e-6;
        row[SERIES_SIM] = (double)(t1 - t0) * 1e-6 - rs.extract_ms - rs.sort_ms - rs.begin_wait_ms;
        row[SERIES_PREP] = rs.prep_ms;
        row[SERIES_EXTRACT] = rs.extract_ms;
        row[SERIES_SORT] = rs.sort_ms;
        row[SERIES_UPLOAD] = rs.upload_ms;
        row[SERIES_RECORD] = rs.record_ms;
        row[SERIES_WAIT] = rs.wait_ms;
        row[SERIES_GPU] = rs.gpu_ms;
    }
    aw_alloc_stats heap1 = aw_heap_stats();
    if (!st) st = aw_gpu_wait_idle(aw_renderer_gpu(r));
    if (!st && d.screenshot) st = aw_render_screenshot(r, d.screenshot);
    if (!st) {
        uint32_t n = frame > d.warmup ? frame - d.warmup : 0;
        aw_gpu_info info = aw_gpu_get_info(aw_renderer_gpu(r));
        snprintf(out->device, sizeof out->device, "%s", info.device_name);
        out->windowed = windowed;
        out->mode = d.mode;
        out->entities = d.entities;
        out->frames = n;
        out->warmup = d.warmup;
        aw_jobs *jobs = aw_world_jobs(world);
        out->threads = jobs ? aw_jobs_thread_count(jobs) : 1;
        aw_render_get_size(r, &out->width, &out->height);
        /* Columns are strided: copy each into a scratch column (the samples' tail is free). */
        aw_stress_stats *dst[SERIES_COUNT] = {&out->frame_ms, &out->sim_ms, &out->prep_ms, &out->extract_ms, &out->sort_ms,
                                              &out->upload_ms, &out->record_ms, &out->wait_ms, &out->gpu_ms};
        double *column = aw_alloc(NULL, (size_t)(n ? n : 1) * sizeof(double), 16);
        if (!column) st = aw_error(AW_ERR_OUT_OF_MEMORY, "demo: out of memory");
        for (uint32_t s = 0; s < SERIES_COUNT && column; s++) {
            uint32_t m = 0;
            for (uint32_t i = 0; i < n; i++) {
                double v = samples[(size_t)i * SERIES_COUNT + s];
                if (v >= 0.0) column[m++] = v; /* gpu_ms is negative while no frame has finished */
            }
            *dst[s] = aw_stress_stats_compute(column, m, column);
        }
        aw_free(NULL, column, (size_t)(n ? n : 1) * sizeof(double));
        out->last = aw_render_get_stats(r);
        out->allocs_per_frame = n ? (double)(heap1.allocs + heap1.reallocs - heap0.allocs - heap0.reallocs) / n : 0.0;
        out->world_hash = aw_world_hash(world);
        out->window = aw_render_get_window_info(r);
    }
    if (r) {
        aw_gpu *gpu = aw_renderer_gpu(r);
        out->validation_errors = aw_gpu_validation_errors(gpu);
        out->validation_warnings = aw_gpu_validation_warnings(gpu);
        snprintf(out->validation_message, sizeof out->validation_message, "%s", aw_gpu_validation_first_message(gpu));
    }
    aw_free(NULL, samples, samples_size);
    if (world) {
        if (sc->teardown && state) sc->teardown(state, world);
        aw_world_destroy(world);
    }
    aw_free(NULL, state, sc->state_size ? sc->state_size : 1);
    aw_renderer_destroy(r);
    return st;
}

void aw_demo_print(FILE *f, const aw_demo_result *r) {
    fprintf(f, "aw-demo: %u entities, %u timed frames (+%u warm-up), %u threads, %ux%u %s on %s, %s mode\n", r->entities,
            r->frames, r->warmup, r->threads, r->width, r->height, r->windowed ? "window" : "offscreen", r->device,
            aw_render_mode_str(r->mode));
    fprintf(f, "%-22s %10s %10s %10s %10s\n", "ms per frame", "p50", "p95", "mean", "max");
    const struct {
        const char *name;
        const aw_stress_stats *s;
    } rows[] = {
        {"frame (sim + render)", &r->frame_ms}, {"  simulation", &r->sim_ms},   {"  render prep", &r->prep_ms},
        {"    extract + cull", &r->extract_ms},  {"    sort + batch", &r->sort_ms}, {"    upload", &r->upload_ms},
        {"  record + submit", &r->record_ms},    {"  wait for GPU", &r->wait_ms}, {"GPU (timestamps)", &r->gpu_ms},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].s->count == 0) {
            fprintf(f, "%-22s %10s\n", rows[i].name, "n/a");
            continue;
        }
        fprintf(f, "%-22s %10.3f %10.3f %10.3f %10.3f\n", rows[i].name, rows[i].s->p50, rows[i].s->p95, rows[i].s->mean,
                rows[i].s->max);
    }
    const aw_render_stats *l = &r->last;
    fprintf(f, "last frame: %u draw calls, %u batches, %u instances drawn, %u culled, %llu triangles, %llu bytes uploaded\n",
            l->draw_calls, l->batches, l->instances, l->culled, (unsigned long long)l->triangles,
            (unsigned long long)l->bytes_uploaded);
    fprintf(f, "heap allocations per frame: %.2f   world hash: %016llx\n", r->allocs_per_frame, (unsigned long long)r->world_hash);
    if (r->windowed) {
        const aw_render_window_info *w = &r->window;
        static const char *const modes[4] = {"immediate", "mailbox", "fifo", "fifo-relaxed"};
        fprintf(f, "window: %ux%u, present modes offered:", r->width, r->height);
        for (uint32_t m = 0; m < 4; m++)
            if (w->present_modes_offered & (1u << m)) fprintf(f, " %s", modes[m]);
        fprintf(f, "; used:");
        for (uint32_t m = 0; m < 4; m++)
            if (r->present_modes_used & (1u << m)) fprintf(f, " %s", modes[m]);
        fprintf(f, "; %u swapchains, %u resize events, %u out of date, %u suboptimal, %u frames skipped, %llu presented\n",
                w->swapchains, w->resize_events, w->out_of_date, w->suboptimal, w->skipped_frames,
                (unsigned long long)w->presented);
    }
    fprintf(f, "validation: %u errors, %u warnings\n", r->validation_errors, r->validation_warnings);
}
