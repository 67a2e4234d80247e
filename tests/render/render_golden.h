/* Golden-image check shared by the renderer tests: compares pixels against
 * tests/render/golden/<name>.png within a per-pixel tolerance; AW_UPDATE_GOLDEN=1 rewrites the file. */
#ifndef AW_TEST_RENDER_GOLDEN_H
#define AW_TEST_RENDER_GOLDEN_H

#include "aw/render.h"

static void render_check_golden(const char *name, const uint8_t *pixels, uint32_t width, uint32_t height,
                                uint32_t tolerance) {
    char path[512], actual[512];
    snprintf(path, sizeof path, "%s/tests/render/golden/%s.png", AW_SOURCE_DIR, name);
    snprintf(actual, sizeof actual, "%s/tests/render-%s-actual.png", AW_BINARY_DIR, name);
    const char *update = getenv("AW_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        assert_int_equal(aw_image_write_png(path, width, height, pixels), AW_OK);
        print_message("golden image %s rewritten\n", path);
        return;
    }
    uint32_t w = 0, h = 0;
    uint8_t *golden = NULL;
    if (aw_image_read_png(path, NULL, &w, &h, &golden) != AW_OK) {
        aw_image_write_png(actual, width, height, pixels);
        fail_msg("cannot read golden image %s (%s); this run's image is %s", path, aw_last_error(), actual);
    }
    assert_int_equal(w, width);
    assert_int_equal(h, height);
    aw_image_diff d = aw_image_compare(golden, pixels, width, height, tolerance);
    aw_free(NULL, golden, (size_t)w * h * 4);
    if (d.pixels_over) {
        aw_image_write_png(actual, width, height, pixels);
        fail_msg("%s: %u pixels differ by more than %u (max %u, first at %u,%u); this run's image is %s", name,
                 d.pixels_over, tolerance, d.max_delta, d.first_x, d.first_y, actual);
    }
}

#endif
