/* libFuzzer target for the PNG decoder the golden-image tests and tools read images with
 * (aw_image_decode_png): any bytes must give AW_OK with a well-formed image or a clean error. */
#include <stdint.h>
#include <string.h>

#include "aw/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t w = 0, h = 0;
    uint8_t *rgba = NULL;
    aw_status st = aw_image_decode_png(data, size, NULL, &w, &h, &rgba);
    if (st == AW_OK) {
        /* Touch every pixel so ASan checks the buffer is as large as claimed. */
        uint32_t sum = 0;
        for (size_t i = 0; i < (size_t)w * h * 4; i++) sum += rgba[i];
        sink = sum;
        aw_free(NULL, rgba, (size_t)w * h * 4);
    } else if (rgba) {
        __builtin_trap(); /* a failure must not hand out pixels */
    }
    return 0;
}
