/* Renderer parts that need no GPU: the draw-order radix sorts (public and in-frame) against qsort
 * on random keys, PNG
 * write/read round trips and corrupt or truncated files, and the image comparison. The in-frame sort
 * also runs in parallel parts on a job system, so TSan runs this too. */
/* ctest-label: threads */
#include "aw/jobs.h"
#include "aw/render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/render/render_internal.h"

typedef struct kv {
    uint64_t key;
    uint32_t value;
} kv;

/* The reference: sort by key, ties by original position (values are the positions here). */
static int kv_cmp(const void *a, const void *b) {
    const kv *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->value < y->value ? -1 : x->value > y->value;
}

static void test_sort_matches_reference(void **state) {
    (void)state;
    enum { MAX = 5000 };
    static uint64_t keys[MAX], keys_tmp[MAX];
    static uint32_t values[MAX], values_tmp[MAX];
    static kv ref[MAX];
    aw_rng rng;
    aw_rng_seed(&rng, 42);
    for (int round = 0; round < 200; round++) {
        uint32_t n = aw_rng_range(&rng, MAX + 1);
        /* Mixes of narrow and full-width keys: few distinct values (many ties, most digits shared)
         * up to random 64-bit keys (every digit varies). */
        int shape = round % 4;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t k = aw_rng_u64(&rng);
            if (shape == 0) k &= 0x3;
            else if (shape == 1) k &= 0xff00ff;
            else if (shape == 2) k = (k & 0xf) << 56 | (k >> 40 & 0xff);
            keys[i] = k;
            values[i] = i;
            ref[i] = (kv){k, i};
        }
        aw_render_sort(keys, values, keys_tmp, values_tmp, n);
        qsort(ref, n, sizeof ref[0], kv_cmp);
        for (uint32_t i = 0; i < n; i++) {
            if (keys[i] != ref[i].key || values[i] != ref[i].value)
                fail_msg("round %d (n %u, shape %d): entry %u is (%llx, %u), expected (%llx, %u)", round, n, shape, i,
                         (unsigned long long)keys[i], values[i], (unsigned long long)ref[i].key, ref[i].value);
        }
    }
    aw_render_sort(NULL, NULL, NULL, NULL, 10); /* ignored, no crash */
}

/* The in-frame sort: entries scattered over pieces with gaps between them, taken in piece order
 * (the merge), sorted by their 32-bit key, ties in merged order; histograms split over workers. */
static void test_sort_entries_matches_reference(void **state) {
    (void)state;
    enum { MAX = 4000, PIECES = 40, WORKERS = 3 };
    static uint64_t entries[2 * MAX], out[MAX], tmp[MAX];
    static kv ref[MAX];
    static render_key_hist hists[WORKERS];
    render_piece pieces[PIECES];
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    assert_non_null(jobs);
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    for (int round = 0; round < 200; round++) {
        memset(hists, 0, sizeof hists);
        uint32_t piece_count = 1 + aw_rng_range(&rng, PIECES), n = 0, at = 0;
        int shape = round % 5;
        uint32_t same = aw_rng_u32(&rng);
        for (uint32_t p = 0; p < piece_count; p++) {
            uint32_t count = aw_rng_range(&rng, MAX / PIECES + 1);
            at += aw_rng_range(&rng, MAX / PIECES); /* a gap: other pieces' unused room */
            pieces[p] = (render_piece){.task = p, .begin = at, .count = count, .offset = n};
            render_key_hist *h = &hists[aw_rng_range(&rng, WORKERS)];
            for (uint32_t i = 0; i < count; i++) {
                uint32_t key = aw_rng_u32(&rng);
                /* Scene-like (few meshes and materials, any depth), wide materials and pipelines,
                 * all equal, depth only, fully random. */
                if (shape == 0) key = RENDER_KEY(0u, key >> 28, (key >> 20) & 3u, key & 0xffu);
                else if (shape == 1) key = RENDER_KEY(key >> 30, (key >> 12) & 0xfffu, (key >> 8) & 7u, key & 0xffu);
                else if (shape == 2) key = same;
                else if (shape == 3) key = (same & ~0xffu) | (key & 0xffu);
                uint64_t e = RENDER_ENTRY(key, aw_rng_u32(&rng)); /* any index: payload only */
                entries[at + i] = e;
                for (int d = 0; d < RENDER_DIGITS; d++) h->bins[d][RENDER_ENTRY_DIGIT(e, d)]++;
                ref[n + i] = (kv){e >> 32, n + i};
            }
            n += count;
            at += count;
        }
        render_sort_entries(entries, pieces, piece_count, hists, WORKERS, n, out, tmp, NULL, 1);
        /* The parallel passes (parts counted and scattered apart, on a job system or one after
         * another) give the very same order. */
        for (uint32_t parts = 2; parts <= RENDER_SORT_MAX_PARTS + 1; parts++) {
            static uint64_t out2[MAX], tmp2[MAX];
            render_sort_entries(entries, pieces, piece_count, hists, WORKERS, n, out2, tmp2, parts == 2 ? jobs : NULL, parts);
            if (memcmp(out, out2, (size_t)n * sizeof out[0]))
                fail_msg("round %d (n %u, shape %d): the sort in %u parts differs", round, n, shape, parts);
        }
        qsort(ref, n, sizeof ref[0], kv_cmp);
        for (uint32_t i = 0; i < n; i++) {
            /* The reference's value is the merged position: find that entry's payload. */
            uint32_t pos = ref[i].value, p = 0;
            while (pos >= pieces[p].offset + pieces[p].count) p++;
            uint64_t expect = entries[pieces[p].begin + (pos - pieces[p].offset)];
            if (out[i] != expect)
                fail_msg("round %d (n %u, shape %d): entry %u is %llx, expected %llx", round, n, shape, i,
                         (unsigned long long)out[i], (unsigned long long)expect);
        }
        /* Batches from the counts and from a scan (no histograms) against a plain run-length cut;
         * a capacity that is too small only reports the count. */
        static render_batch want[MAX], from_hist[MAX], from_scan[MAX];
        uint32_t runs = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (i == 0 || (out[i] >> 40) != (out[i - 1] >> 40))
                want[runs++] = (render_batch){(uint32_t)(out[i] >> 40) & 0xffu, (uint32_t)(out[i] >> 48) & 0xfffu, i, 0};
            want[runs - 1].count++;
        }
        assert_int_equal(render_build_batches(out, n, hists, WORKERS, from_hist, MAX), runs);
        assert_int_equal(render_build_batches(out, n, NULL, 0, from_scan, MAX), runs);
        if (runs > 1) assert_int_equal(render_build_batches(out, n, NULL, 0, from_scan, runs - 1), runs);
        assert_int_equal(render_build_batches(out, n, NULL, 0, from_scan, MAX), runs);
        for (uint32_t i = 0; i < runs; i++) {
            if (memcmp(&want[i], &from_hist[i], sizeof want[i]) || memcmp(&want[i], &from_scan[i], sizeof want[i]))
                fail_msg("round %d (shape %d): batch %u differs", round, shape, i);
        }
    }
    aw_jobs_destroy(jobs);
}

static void temp_path(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/tests/render-cpu-%s", AW_BINARY_DIR, name);
}

static void test_png_round_trip(void **state) {
    (void)state;
    enum { W = 37, H = 23 };
    static uint8_t img[W * H * 4];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 7 + i / 13);
    char path[512];
    temp_path(path, sizeof path, "round.png");
    assert_int_equal(aw_image_write_png(path, W, H, img), AW_OK);
    uint32_t w = 0, h = 0;
    uint8_t *back = NULL;
    assert_int_equal(aw_image_read_png(path, NULL, &w, &h, &back), AW_OK);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    assert_memory_equal(back, img, sizeof img);
    aw_image_diff d = aw_image_compare(back, img, W, H, 0);
    assert_int_equal(d.pixels_over, 0);
    assert_int_equal(d.max_delta, 0);
    back[(5 * W + 6) * 4 + 2] ^= 0x10;
    back[(9 * W + 1) * 4 + 0] ^= 0x01;
    d = aw_image_compare(img, back, W, H, 1);
    assert_int_equal(d.pixels_over, 1);
    assert_int_equal(d.max_delta, 16);
    assert_int_equal(d.first_x, 6);
    assert_int_equal(d.first_y, 5);
    aw_free(NULL, back, (size_t)W * H * 4);
}

static void test_png_bad_input(void **state) {
    (void)state;
    uint32_t w, h;
    uint8_t *px = (uint8_t *)0x1;
    assert_int_equal(aw_image_read_png("/nonexistent/x.png", NULL, &w, &h, &px), AW_ERR_IO);
    assert_null(px);
    assert_int_equal(aw_image_decode_png("not a png at all", 16, NULL, &w, &h, &px), AW_ERR_PARSE);
    assert_int_equal(aw_image_decode_png(NULL, 0, NULL, &w, &h, &px), AW_ERR_PARSE);
    assert_int_equal(aw_image_write_png("/nonexistent/dir/x.png", 1, 1, (const uint8_t[4]){0}), AW_ERR_IO);
    assert_int_equal(aw_image_write_png(NULL, 1, 1, (const uint8_t[4]){0}), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_image_write_png("x.png", 0, 1, (const uint8_t[4]){0}), AW_ERR_INVALID_ARG);

    /* Every truncation and a few corruptions of a real file fail cleanly (or decode, for
     * corruptions that libpng tolerates), never crash. */
    enum { W = 16, H = 16 };
    static uint8_t img[W * H * 4];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 31);
    char path[512];
    temp_path(path, sizeof path, "trunc.png");
    assert_int_equal(aw_image_write_png(path, W, H, img), AW_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t file[65536];
    size_t size = fread(file, 1, sizeof file, f);
    fclose(f);
    assert_true(size > 50);
    for (size_t cut = 0; cut < size; cut++) {
        px = NULL;
        aw_status st = aw_image_decode_png(file, cut, NULL, &w, &h, &px);
        if (st == AW_OK) fail_msg("a PNG cut to %zu of %zu bytes decoded", cut, size);
        assert_null(px);
    }
    static uint8_t bad[65536];
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    for (int k = 0; k < 300; k++) {
        memcpy(bad, file, size);
        for (int flips = 0; flips < 3; flips++) bad[8 + aw_rng_range(&rng, (uint32_t)size - 8)] ^= (uint8_t)(1u << aw_rng_range(&rng, 8));
        px = NULL;
        if (aw_image_decode_png(bad, size, NULL, &w, &h, &px) == AW_OK) aw_free(NULL, px, (size_t)w * h * 4);
        else assert_null(px);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_matches_reference),
        cmocka_unit_test(test_sort_entries_matches_reference),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_png_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
