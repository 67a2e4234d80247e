/* ctest-label: threads */
/* Concurrent callers on one encoder: independent threads embedding text by text and in batches, and
 * outside threads sharing an encoder that spreads its batches over a job system. Every result must
 * equal what one thread computes alone (bit for bit where the call shape is the same). */
#include "aw/rag.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rag_test_util.h"

#define TEXTS   48
#define THREADS 4

static const char *texts[TEXTS];
static char storage[TEXTS][160];
static float expected[TEXTS][AW_EMBED_DIM];       /* aw_embed, one thread */
static float expected_batch[TEXTS][AW_EMBED_DIM]; /* aw_embed_batch of all, one thread */

typedef struct worker {
    aw_encoder *enc;
    uint32_t seed;
    bool batch;
    int errors;
    char message[256];
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    if (w->batch) {
        static _Thread_local float out[TEXTS][AW_EMBED_DIM];
        for (int round = 0; round < 2; round++) {
            if (aw_embed_batch(w->enc, texts, TEXTS, &out[0][0]) != AW_OK) {
                snprintf(w->message, sizeof w->message, "batch: %s", aw_last_error());
                w->errors++;
                return NULL;
            }
            if (memcmp(out, expected_batch, sizeof out) != 0) {
                snprintf(w->message, sizeof w->message, "a concurrent batch differs from the lone one");
                w->errors++;
            }
        }
        return NULL;
    }
    float out[AW_EMBED_DIM];
    for (uint32_t k = 0; k < 2 * TEXTS; k++) {
        uint32_t i = (k * 7 + w->seed * 13) % TEXTS; /* each thread in its own order */
        if (aw_embed(w->enc, texts[i], out) != AW_OK) {
            snprintf(w->message, sizeof w->message, "embed: %s", aw_last_error());
            w->errors++;
            return NULL;
        }
        if (memcmp(out, expected[i], sizeof out) != 0) {
            snprintf(w->message, sizeof w->message, "text %u differs from the lone result", i);
            w->errors++;
        }
    }
    return NULL;
}

static void run_threads(aw_encoder *enc, bool mix_batches) {
    pthread_t th[THREADS];
    worker w[THREADS];
    for (uint32_t i = 0; i < THREADS; i++) {
        w[i] = (worker){.enc = enc, .seed = i, .batch = mix_batches && (i % 2 == 1)};
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (uint32_t i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].errors) fail_msg("thread %u: %s", i, w[i].message);
    }
}

static int setup(void **state) {
    (void)state;
    static const char *words[] = {"guard", "river", "bridge", "wolf", "merchant", "tower",
                                  "storm", "gold",  "ナイト", "día",  "42",       "!"};
    for (uint32_t i = 0; i < TEXTS; i++) {
        size_t at = 0;
        for (uint32_t k = 0; k < 3 + i % 17; k++)
            at +=
                (size_t)snprintf(storage[i] + at, sizeof storage[i] - at, "%s ", words[(i * 5 + k * 3) % 12]);
        texts[i] = storage[i];
    }
    return 0;
}

static void test_concurrent_callers(void **state) {
    (void)state;
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = rag_test_model_dir()});
    if (!enc) fail_msg("%s", aw_last_error());
    for (uint32_t i = 0; i < TEXTS; i++) assert_int_equal(aw_embed(enc, texts[i], expected[i]), AW_OK);
    assert_int_equal(aw_embed_batch(enc, texts, TEXTS, &expected_batch[0][0]), AW_OK);
    for (uint32_t i = 0; i < TEXTS; i++)
        assert_true(aw_embed_cosine(expected[i], expected_batch[i], AW_EMBED_DIM) > 0.99999f);

    run_threads(enc, false);
    run_threads(enc, true);
    /* One scratch per caller that was ever inside at once, never more than the threads. */
    aw_encoder_stats st = aw_encoder_get_stats(enc);
    assert_true(st.scratch_slots >= 1 && st.scratch_slots <= THREADS + 1);
    aw_encoder_destroy(enc);
}

typedef struct jobs_worker {
    aw_encoder *enc;
    int errors;
    char message[256];
} jobs_worker;

static void *run_jobs_worker(void *arg) {
    jobs_worker *w = arg;
    static _Thread_local float out[TEXTS][AW_EMBED_DIM];
    for (int round = 0; round < 2; round++) {
        if (aw_embed_batch(w->enc, texts, TEXTS, &out[0][0]) != AW_OK) {
            snprintf(w->message, sizeof w->message, "%s", aw_last_error());
            w->errors++;
            return NULL;
        }
        for (uint32_t i = 0; i < TEXTS; i++)
            if (aw_embed_cosine(out[i], expected_batch[i], AW_EMBED_DIM) < 0.99999f) {
                snprintf(w->message, sizeof w->message, "text %u differs: cosine %.7f", i,
                         aw_embed_cosine(out[i], expected_batch[i], AW_EMBED_DIM));
                w->errors++;
            }
    }
    return NULL;
}

static void test_outside_threads_share_a_job_system(void **state) {
    (void)state;
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    assert_non_null(jobs);
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = rag_test_model_dir(), .jobs = jobs});
    if (!enc) fail_msg("%s", aw_last_error());
    pthread_t th[3];
    jobs_worker w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (jobs_worker){.enc = enc};
        assert_int_equal(pthread_create(&th[i], NULL, run_jobs_worker, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        if (w[i].errors) fail_msg("thread %d: %s", i, w[i].message);
    }
    aw_encoder_destroy(enc);
    aw_jobs_destroy(jobs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_outside_threads_share_a_job_system),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
