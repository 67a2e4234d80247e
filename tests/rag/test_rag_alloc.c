/* Memory discipline of the encoder: after warm-up (each concurrent caller's scratch made, the longest
 * text seen) embedding allocates nothing, alone, in batches or spread over a job system; and when
 * any allocation of creation fails, creation reports it and leaves nothing behind. */
#include "aw/rag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rag_test_util.h"

#define TEXTS 64

static const char *texts[TEXTS];
static char storage[TEXTS][600];
static float out[TEXTS][AW_EMBED_DIM];

static int setup(void **state) {
    (void)state;
    for (uint32_t i = 0; i < TEXTS; i++) {
        size_t at = 0;
        /* Lengths from 1 to ~300 bytes (past 128 tokens for some), a few with invalid bytes. */
        for (uint32_t k = 0; k <= i % 40; k++)
            at += (size_t)snprintf(storage[i] + at, sizeof storage[i] - at, "%s ",
                                   k % 7 == 3    ? "r\xc3\xa9sum\xc3\xa9"
                                   : k % 11 == 5 ? "bad\xff"
                                                 : "word");
        texts[i] = storage[i];
    }
    return 0;
}

typedef struct counts {
    uint64_t allocs, reallocs, frees;
} counts;

static counts snapshot(rag_test_alloc *a) {
    return (counts){atomic_load(&a->allocs), atomic_load(&a->reallocs), atomic_load(&a->frees)};
}

static void run_calls(aw_encoder *e) {
    for (uint32_t i = 0; i < TEXTS; i++) assert_int_equal(aw_embed(e, texts[i], out[i]), AW_OK);
    assert_int_equal(aw_embed_batch(e, texts, TEXTS, &out[0][0]), AW_OK);
    assert_int_equal(aw_embed_batch(e, texts + 5, 7, &out[0][0]), AW_OK);
}

static void check_steady(aw_jobs *jobs) {
    rag_test_alloc a;
    rag_test_alloc_init(&a, -1);
    aw_encoder *e = aw_encoder_create(
        &(aw_encoder_desc){.model_dir = rag_test_model_dir(), .allocator = &a.base, .jobs = jobs});
    if (!e) fail_msg("%s", aw_last_error());
    run_calls(e); /* warm-up */
    counts before = snapshot(&a);
    for (int round = 0; round < 3; round++) run_calls(e);
    counts after = snapshot(&a);
    if (after.allocs != before.allocs || after.reallocs != before.reallocs || after.frees != before.frees)
        fail_msg("after warm-up: %llu allocs, %llu reallocs, %llu frees",
                 (unsigned long long)(after.allocs - before.allocs),
                 (unsigned long long)(after.reallocs - before.reallocs),
                 (unsigned long long)(after.frees - before.frees));
    aw_encoder_destroy(e);
    assert_int_equal(atomic_load(&a.live_bytes), 0);
}

static void test_no_allocation_after_warm_up(void **state) {
    (void)state;
    check_steady(NULL);
}

static void test_no_allocation_after_warm_up_jobs(void **state) {
    (void)state;
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    assert_non_null(jobs);
    check_steady(jobs);
    aw_jobs_destroy(jobs);
}

static void test_create_out_of_memory(void **state) {
    (void)state;
    const char *dir = rag_test_model_dir();
    int64_t k = 0;
    for (;; k++) {
        rag_test_alloc a;
        rag_test_alloc_init(&a, k);
        aw_encoder *e = aw_encoder_create(&(aw_encoder_desc){.model_dir = dir, .allocator = &a.base});
        if (e) {
            float v[AW_EMBED_DIM];
            atomic_store(&a.fail_after, -1);
            assert_int_equal(aw_embed(e, "it works after all", v), AW_OK);
            aw_encoder_destroy(e);
            assert_int_equal(atomic_load(&a.live_bytes), 0);
            break;
        }
        if (aw_last_status() != AW_ERR_OUT_OF_MEMORY)
            fail_msg("allocation %lld failing gave %s: %s", (long long)k, aw_status_str(aw_last_status()),
                     aw_last_error());
        if (atomic_load(&a.live_bytes) != 0)
            fail_msg("allocation %lld failing leaked %lld bytes", (long long)k,
                     (long long)atomic_load(&a.live_bytes));
        assert_true(k < 100000);
    }
    print_message("creation makes %lld allocations; each failure was reported and cleaned up\n",
                  (long long)k);

    /* The first call of a new caller allocates its scratch; when that fails, the call says so. */
    rag_test_alloc a;
    rag_test_alloc_init(&a, -1);
    aw_encoder *e =
        aw_encoder_create(&(aw_encoder_desc){.model_dir = dir, .allocator = &a.base, .scratch_slots = 1});
    assert_non_null(e);
    atomic_store(&a.fail_after, 0);
    float v[AW_EMBED_DIM];
    assert_int_equal(aw_embed(e, texts[TEXTS - 1], v), AW_ERR_OUT_OF_MEMORY); /* needs a longer text buffer */
    atomic_store(&a.fail_after, -1);
    assert_int_equal(aw_embed(e, texts[TEXTS - 1], v), AW_OK);
    aw_encoder_destroy(e);
    assert_int_equal(atomic_load(&a.live_bytes), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_allocation_after_warm_up),
        cmocka_unit_test(test_no_allocation_after_warm_up_jobs),
        cmocka_unit_test(test_create_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
