/* RGBA8 images to and from PNG files through libpng, and a per-pixel comparison for golden
 * image tests. */
#include "aw/render.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

aw_status aw_image_write_png(const char *path, uint32_t width, uint32_t height, const uint8_t *rgba) {
    if (!path || !rgba || width == 0 || height == 0 || width > 65535 || height > 65535)
        return aw_error(AW_ERR_INVALID_ARG, "png write: needs a path, pixels and a size of 1..65535");
    FILE *f = fopen(path, "wb");
    if (!f) return aw_error(AW_ERR_IO, "png write: cannot create '%s'", path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "png write: out of memory");
    }
    /* libpng reports errors by longjmp; nothing here needs unwinding but the file and structs. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return aw_error(AW_ERR_IO, "png write: libpng failed writing '%s'", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgba + (size_t)y * width * 4));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) return aw_error(AW_ERR_IO, "png write: error closing '%s'", path);
    return AW_OK;
}

typedef struct png_source {
    const uint8_t *data;
    size_t size, pos;
} png_source;

static void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
    png_source *src = png_get_io_ptr(png);
    if (length > src->size - src->pos) png_error(png, "truncated");
    memcpy(out, src->data + src->pos, length);
    src->pos += length;
}

aw_status aw_image_decode_png(const void *data, size_t size, const aw_allocator *allocator, uint32_t *width,
                              uint32_t *height, uint8_t **rgba) {
    if (!width || !height || !rgba || (!data && size)) return aw_error(AW_ERR_INVALID_ARG, "png decode: NULL argument");
    *rgba = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) return aw_error(AW_ERR_PARSE, "png decode: not a PNG (bad signature)");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "png decode: out of memory");
    }
    png_source src = {.data = data, .size = size, .pos = 8};
    /* volatile: these change between setjmp and a possible longjmp back. */
    uint8_t *volatile pixels = NULL;
    volatile size_t bytes = 0;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        aw_free(allocator, pixels, bytes);
        return aw_error(AW_ERR_PARSE, "png decode: corrupt or truncated PNG");
    }
    /* libpng's warnings go to stderr by default; corrupt input is reported by status instead. */
    png_set_error_fn(png, NULL, NULL, NULL);
    png_set_read_fn(png, &src, read_from_memory);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, 16384, 16384);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int bit_depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
    /* Whatever the file holds becomes 8-bit RGBA. */
    if (bit_depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    bool trns = png_get_valid(png, info, PNG_INFO_tRNS);
    if (trns) png_set_tRNS_to_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (!(color & PNG_COLOR_MASK_ALPHA) && !trns) png_set_filler(png, 0xff, PNG_FILLER_AFTER);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (w == 0 || h == 0 || png_get_rowbytes(png, info) != (size_t)w * 4) png_error(png, "unexpected row size");
    bytes = (size_t)w * h * 4;
    pixels = aw_alloc(allocator, bytes, 16);
    if (!pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "png decode: out of memory for %ux%u", w, h);
    }
    for (int pass = 0; pass < passes; pass++)
        for (uint32_t y = 0; y < h; y++) png_read_row(png, pixels + (size_t)y * w * 4, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    *width = w;
    *height = h;
    *rgba = pixels;
    return AW_OK;
}

aw_status aw_image_read_png(const char *path, const aw_allocator *allocator, uint32_t *width, uint32_t *height,
                            uint8_t **rgba) {
    if (!path || !width || !height || !rgba) return aw_error(AW_ERR_INVALID_ARG, "png read: NULL argument");
    *rgba = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return aw_error(AW_ERR_IO, "png read: cannot open '%s'", path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || size > (256l << 20) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return aw_error(AW_ERR_IO, "png read: '%s' is unreadable or larger than 256 MiB", path);
    }
    uint8_t *data = aw_alloc(allocator, (size_t)size + 1, 16);
    if (!data) {
        fclose(f);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "png read: out of memory for '%s'", path);
    }
    size_t got = fread(data, 1, (size_t)size, f);
    fclose(f);
    aw_status st = got == (size_t)size ? aw_image_decode_png(data, got, allocator, width, height, rgba)
                                       : aw_error(AW_ERR_IO, "png read: short read of '%s'", path);
    aw_free(allocator, data, (size_t)size + 1);
    if (st == AW_ERR_PARSE) return aw_error(st, "png read: '%s': %s", path, aw_last_error());
    return st;
}

aw_image_diff aw_image_compare(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t height, uint32_t tolerance) {
    aw_image_diff d = {0};
    if (!a || !b) return d;
    for (uint32_t y = 0; y < height; y++) {
        for (uint32_t x = 0; x < width; x++) {
            const uint8_t *pa = a + ((size_t)y * width + x) * 4, *pb = b + ((size_t)y * width + x) * 4;
            uint32_t worst = 0;
            for (int c = 0; c < 4; c++) {
                uint32_t delta = pa[c] > pb[c] ? (uint32_t)(pa[c] - pb[c]) : (uint32_t)(pb[c] - pa[c]);
                if (delta > worst) worst = delta;
            }
            if (worst > d.max_delta) d.max_delta = worst;
            if (worst > tolerance) {
                if (d.pixels_over == 0) {
                    d.first_x = x;
                    d.first_y = y;
                }
                d.pixels_over++;
            }
        }
    }
    return d;
}
