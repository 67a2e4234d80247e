/* The LLM orchestrator inside the AI context: installed in the llm slot, an agent whose LLM has no
 * endpoint, or whose endpoint is down, gets GOAP's plan (marked as a fallback); with an endpoint
 * that answers, the agent runs the fallback's plan while the request is pending and the LLM's plan
 * once the answer is in. */
/* ctest-label: threads */
#define _GNU_SOURCE /* usleep */
#include "aw/ai_llm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "llm_test_util.h"

typedef struct fixture {
    aw_world *world;
    aw_ai *ai;
} fixture;

static fixture make_world(void) {
    fixture f = {0};
    f.world = aw_world_create(&(aw_world_desc){0});
    assert_non_null(f.world);
    assert_non_null(aw_physics_create(f.world, &(aw_physics_desc){.min_x = -50, .max_x = 50, .min_z = -50, .max_z = 50}));
    f.ai = aw_ai_create(f.world, &(aw_ai_desc){0});
    if (!f.ai) fail_msg("aw_ai_create: %s", aw_last_error());
    return f;
}

static void install(fixture *f, const aw_llm_desc *desc) {
    aw_llm *llm = aw_llm_create(desc);
    assert_non_null(llm);
    aw_orchestrator o = aw_llm_orchestrator(llm);
    assert_int_equal(aw_ai_set_orchestrator(f->ai, &o), AW_OK); /* the aw_ai owns it now */
    assert_int_equal(aw_ai_get_orchestrator(f->ai, AW_ORCHESTRATOR_LLM)->fallback, AW_ORCHESTRATOR_GOAP);
}

static void expect_goap_fallback(fixture *f) {
    aw_world_snapshot snap = llm_test_snapshot();
    aw_plan_intent plan;
    plan.step_count = 0;
    aw_plan_status st = aw_ai_plan_once(f->ai, AW_ORCHESTRATOR_LLM, &snap, &plan);
    /* PENDING while the request is out (the fallback's plan runs meanwhile), READY once it failed. */
    if (st == AW_PLAN_FAILED) fail_msg("no plan: %s", aw_last_error());
    assert_int_equal(plan.fallback, 1);
    assert_int_equal(plan.source, AW_ORCHESTRATOR_GOAP);
    assert_true(plan.step_count >= 1);
    assert_true(aw_ai_get_stats(f->ai).fallbacks >= 1);
}

static void test_no_endpoint_falls_back_to_goap(void **state) {
    (void)state;
    fixture f = make_world();
    install(&f, &(aw_llm_desc){0});
    expect_goap_fallback(&f);
    aw_world_destroy(f.world);
}

static void test_server_down_falls_back_to_goap(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd); /* nobody listens on that port now */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/chat/completions", ntohs(a.sin_port));
    fixture f = make_world();
    install(&f, &(aw_llm_desc){.endpoint = url, .timeout_ms = 2000});
    /* Asked, pending or refused: either way the agent has GOAP's plan at once. */
    for (int i = 0; i < 3; i++) expect_goap_fallback(&f);
    aw_world_destroy(f.world);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_endpoint_falls_back_to_goap),
        cmocka_unit_test(test_server_down_falls_back_to_goap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
