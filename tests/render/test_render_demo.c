/* The combat demo frame and the extraction's tag rules: aw-demo's combat world (agents by team,
 * projectiles spawned and despawned every frame, obstacles, ground) drawn headless is the
 * committed golden image, identical in batched and naive modes and for 1 and 2 threads; tag
 * rules draw entities by a game component (material picked by one of its bytes), lose to the mesh
 * component, skip unknown selector values and refuse bad rules. Skips (exit 77) without a Vulkan
 * device. */
/* ctest-label: threads */
#include "aw/demo.h"
#include "aw/physics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../gpu/gpu_test_env.h"
#include "render_golden.h"

#define W 320
#define H 180
#define GOLDEN_TOLERANCE 3u

static aw_gpu *gpu;

/* Runs the combat demo headless and reads its screenshot back. */
static uint8_t *run_combat(aw_render_mode mode, uint32_t threads, aw_demo_result *res) {
    char shot[] = "/tmp/aw_demo_shot_XXXXXX";
    int fd = mkstemp(shot);
    assert_true(fd >= 0);
    close(fd);
    aw_status st = aw_demo_run(&(aw_demo_desc){.scenario = "combat", .entities = 600, .frames = 40, .threads = threads,
                                               .seed = 7, .headless = true, .mode = mode, .width = W, .height = H,
                                               .screenshot = shot, .validation = true},
                               res);
    if (st) fail_msg("combat demo: %s: %s", aw_status_str(st), aw_last_error());
    if (res->validation_errors || res->validation_warnings)
        fail_msg("validation: %u errors, %u warnings: %s", res->validation_errors, res->validation_warnings,
                 res->validation_message);
    uint32_t w = 0, h = 0;
    uint8_t *pixels = NULL;
    assert_int_equal(aw_image_read_png(shot, NULL, &w, &h, &pixels), AW_OK);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    remove(shot);
    return pixels;
}

static void test_combat_golden_batched_equals_naive(void **state) {
    (void)state;
    aw_demo_result batched_res, naive_res;
    uint8_t *batched = run_combat(AW_RENDER_BATCHED, 2, &batched_res);
    uint8_t *naive = run_combat(AW_RENDER_NAIVE, 1, &naive_res);
    /* Same world (by seed, whatever the thread count), same pixels whatever the draw calls. */
    assert_true(batched_res.world_hash == naive_res.world_hash);
    aw_image_diff d = aw_image_compare(batched, naive, W, H, 0);
    if (d.pixels_over) fail_msg("batched and naive differ in %u pixels (first at %u,%u)", d.pixels_over, d.first_x, d.first_y);
    /* Team 0, team 1, projectiles, obstacles, ground: five batches; every drawn entity one call naive. */
    const aw_render_stats *b = &batched_res.last, *n = &naive_res.last;
    assert_int_equal(b->instances, n->instances);
    assert_true(b->batches >= 4 && b->batches <= 5);
    assert_int_equal(b->draw_calls, b->batches);
    assert_int_equal(n->draw_calls, n->instances);
    assert_true(b->instances > 500);
    assert_int_equal(b->skipped, 0);
    render_check_golden("combat", batched, W, H, GOLDEN_TOLERANCE);
    aw_free(NULL, batched, (size_t)W * H * 4);
    aw_free(NULL, naive, (size_t)W * H * 4);
}

/* A game's own component: a rule draws entities carrying it, by its team byte. */
typedef struct shot {
    float speed;
    uint8_t team, pad[3];
} shot;

static void test_tag_rules(void **state) {
    (void)state;
    aw_renderer *r = NULL;
    assert_int_equal(aw_renderer_create(&(aw_renderer_desc){.gpu = gpu, .width = 64, .height = 64}, &r), AW_OK);
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 2});
    assert_non_null(w);
    aw_component pos = aw_component_register(w, &(aw_component_desc){.name = "Position", .size = sizeof(aw_position), .align = 4});
    aw_component sc = AW_COMPONENT(w, shot);
    aw_component tag = AW_TAG(w, Marker);
    aw_render_components rc;
    assert_int_equal(aw_render_register_components(w, &rc), AW_OK);
    uint32_t red = 0, blue = 0;
    assert_int_equal(aw_render_material_create(r, &(aw_material_desc){.base_color = {1, 0, 0, 1}}, &red), AW_OK);
    assert_int_equal(aw_render_material_create(r, &(aw_material_desc){.base_color = {0, 0, 1, 1}}, &blue), AW_OK);
    /* Shots of team 0, 1 and 5 (no material: skipped), one with a mesh too (the mesh wins), and a
     * position alone (not drawn, not counted). */
    const uint8_t teams[5] = {0, 1, 1, 5, 0};
    for (uint32_t i = 0; i < 5; i++) {
        aw_entity e = aw_entity_create(w);
        AW_SET(w, e, pos, aw_position, {(float)i * 0.2f - 0.4f, 0.0f, 0.0f});
        AW_SET(w, e, sc, shot, {.speed = 1.0f, .team = teams[i]});
        if (i == 4) {
            AW_SET(w, e, rc.mesh, aw_render_mesh_ref, {AW_RENDER_MESH_CUBE});
            AW_SET(w, e, rc.material, aw_render_material_ref, {0});
        }
    }
    aw_entity lone = aw_entity_create(w);
    AW_SET(w, lone, pos, aw_position, {0, 0, 0});

    aw_render_extract_desc bad = {.position = pos, .mesh = rc.mesh, .material = rc.material, .rule_count = 1};
    bad.rules[0] = (aw_render_extract_rule){.tag = tag, .mesh = AW_RENDER_MESH_SPHERE};
    assert_int_equal(aw_render_extract_register(r, w, &bad), AW_ERR_INVALID_ARG); /* no data: no column */
    bad.rules[0] = (aw_render_extract_rule){.tag = pos, .mesh = AW_RENDER_MESH_SPHERE};
    assert_int_equal(aw_render_extract_register(r, w, &bad), AW_ERR_INVALID_ARG);
    bad.rules[0] = (aw_render_extract_rule){.tag = sc, .mesh = AW_RENDER_MESH_COUNT};
    assert_int_equal(aw_render_extract_register(r, w, &bad), AW_ERR_INVALID_ARG);
    bad.rules[0] = (aw_render_extract_rule){.tag = sc, .select_offset = sizeof(shot), .select_count = 2};
    assert_int_equal(aw_render_extract_register(r, w, &bad), AW_ERR_INVALID_ARG);
    bad.rules[0] = (aw_render_extract_rule){.tag = sc, .select_count = AW_RENDER_RULE_MAX_SELECT + 1};
    assert_int_equal(aw_render_extract_register(r, w, &bad), AW_ERR_INVALID_ARG);
    bad.rule_count = AW_RENDER_MAX_RULES + 1;
    assert_int_equal(aw_render_extract_register(r, w, &bad), AW_ERR_INVALID_ARG);

    aw_render_extract_desc ok = {.position = pos, .mesh = rc.mesh, .material = rc.material, .rule_count = 1};
    ok.rules[0] = (aw_render_extract_rule){.tag = sc, .mesh = AW_RENDER_MESH_SPHERE, .scale = 0.2f,
                                           .select_offset = (uint32_t)offsetof(shot, team), .select_count = 2,
                                           .select_materials = {red, blue}};
    assert_int_equal(aw_render_extract_register(r, w, &ok), AW_OK);
    assert_int_equal(aw_render_set_camera(r, &(aw_camera){.position = {0, 0, 3}, .target = {0, 0, 0}}), AW_OK);
    for (int frame = 0; frame < 3; frame++) {
        assert_int_equal(aw_world_progress(w, 1.0f), AW_OK);
        assert_int_equal(aw_render_frame(r), AW_OK);
        /* A shot spawned between frames is drawn from the next frame on. */
        if (frame == 0) {
            aw_entity e = aw_entity_create(w);
            AW_SET(w, e, pos, aw_position, {0.0f, 0.3f, 0.0f});
            AW_SET(w, e, sc, shot, {.speed = 2.0f, .team = 0});
        }
    }
    aw_render_stats s = aw_render_get_stats(r);
    assert_int_equal(s.instances, 5); /* 3 drawn shots + the new one + the mesh entity */
    assert_int_equal(s.skipped, 1);   /* team 5 */
    assert_int_equal(s.batches, 3);   /* red spheres, blue spheres, the grey cube */
    /* Frames without a world step between them draw the same list: the next slot copies the
     * instances from the slot the extraction wrote. */
    static uint8_t first[64 * 64 * 4], again[64 * 64 * 4];
    assert_int_equal(aw_render_read_pixels(r, first, sizeof first), AW_OK);
    for (int frame = 0; frame < 3; frame++) {
        assert_int_equal(aw_render_frame(r), AW_OK);
        assert_int_equal(aw_render_read_pixels(r, again, sizeof again), AW_OK);
        assert_memory_equal(first, again, sizeof first);
        assert_int_equal(aw_render_get_stats(r).instances, 5);
    }
    uint32_t lit = 0;
    for (uint32_t i = 0; i < 64 * 64; i++) lit += first[4 * i] > 150 || first[4 * i + 2] > 150;
    assert_true(lit > 0); /* the red and blue shots are on screen */
    assert_int_equal(aw_gpu_validation_errors(gpu) + aw_gpu_validation_warnings(gpu), 0);
    aw_world_destroy(w);
    aw_renderer_destroy(r);
}

int main(void) {
    int code = gpu_test_open("test_render_demo", &gpu);
    if (code >= 0) return code;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag_rules),
        cmocka_unit_test(test_combat_golden_batched_equals_naive),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    aw_gpu_destroy(gpu);
    return failed;
}
