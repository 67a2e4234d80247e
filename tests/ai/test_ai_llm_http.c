/* LLM orchestrator end to end over loopback HTTP against a tiny server this test starts itself:
 * a canned chat-completions reply becomes a plan, and a slow server (timeout), an HTTP 500, an
 * invalid plan, an oversized answer, a dropped connection and a port nobody listens on all answer
 * AW_PLAN_FAILED (the agent's fallback, GOAP, then plans). Also: no endpoint, busy slots, the
 * request's model, messages, API key and prompt context, and forget. No internet needed. */
/* ctest-label: threads */
#define _GNU_SOURCE /* usleep, strcasestr */
#include "aw/ai_llm.h"
#include "aw/jobs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../rag/context_test_util.h"
#include "llm_test_util.h"

/* ---------------------------------------------------------------- the test server */

typedef enum server_mode { MODE_REPLY, MODE_SLOW, MODE_STATUS_500, MODE_DROP } server_mode;

typedef struct test_server {
    int fd;
    uint16_t port;
    server_mode mode;
    const char *reply; /* body of a 200 answer */
    pthread_t thread;
    atomic_bool stop;
    atomic_int served;
    char request[65536]; /* the last request, headers and body (read after the server stops) */
    size_t request_len;
} test_server;

static void send_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads one request: headers, then Content-Length bytes of body. */
static void read_request(test_server *srv, int c) {
    size_t n = 0, need = SIZE_MAX;
    while (n < sizeof srv->request - 1 && n < need) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) {
            if (atomic_load(&srv->stop)) break;
            continue;
        }
        ssize_t r = recv(c, srv->request + n, sizeof srv->request - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        srv->request[n] = '\0';
        char *end = strstr(srv->request, "\r\n\r\n");
        if (end && need == SIZE_MAX) {
            const char *cl = strcasestr(srv->request, "Content-Length:");
            need = (size_t)(end + 4 - srv->request) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        }
    }
    srv->request_len = n;
}

static void *serve(void *arg) {
    test_server *srv = arg;
    while (!atomic_load(&srv->stop)) {
        struct pollfd p = {srv->fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        int c = accept(srv->fd, NULL, NULL);
        if (c < 0) continue;
        read_request(srv, c);
        if (srv->mode == MODE_SLOW) { /* never answers in time: waits until the test ends */
            while (!atomic_load(&srv->stop)) usleep(5000);
        } else if (srv->mode == MODE_STATUS_500) {
            const char *r = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops!";
            send_all(c, r, strlen(r));
        } else if (srv->mode == MODE_REPLY) {
            char head[256];
            int hn = snprintf(head, sizeof head,
                              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              strlen(srv->reply));
            send_all(c, head, (size_t)hn);
            send_all(c, srv->reply, strlen(srv->reply));
        }
        close(c); /* MODE_DROP: closes without a word */
        atomic_fetch_add(&srv->served, 1);
    }
    return NULL;
}

static int listen_loopback(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static test_server *server_start(server_mode mode, const char *reply) {
    test_server *srv = calloc(1, sizeof *srv);
    srv->mode = mode;
    srv->reply = reply;
    srv->fd = listen_loopback(&srv->port);
    assert_int_equal(listen(srv->fd, 16), 0);
    assert_int_equal(pthread_create(&srv->thread, NULL, serve, srv), 0);
    return srv;
}

static void server_stop(test_server *srv) {
    atomic_store(&srv->stop, true);
    pthread_join(srv->thread, NULL);
    close(srv->fd);
}

static void endpoint_of(uint16_t port, char *buf, size_t cap) {
    snprintf(buf, cap, "http://127.0.0.1:%u/v1/chat/completions", port);
}

/* ---------------------------------------------------------------- driving the orchestrator */

typedef struct outcome {
    aw_plan_status status;
    uint32_t pending_calls; /* calls that answered PENDING before the end: the call never waited */
    aw_plan_intent plan;
} outcome;

/* Polls like the planning system does on later frames, until the answer is in. The cap only stops
 * a broken build from hanging the suite; nothing here measures time. */
static outcome plan_until_done(aw_llm *llm, const aw_world_snapshot *snap, aw_entity agent) {
    outcome o = {0};
    aw_plan_request req = {.snapshot = snap, .agent = agent, .plan_id = 17, .trigger = AW_TRIGGER_SCHEDULED};
    for (int i = 0; i < 60000; i++) {
        o.status = aw_llm_plan(llm, &req, &o.plan);
        if (o.status != AW_PLAN_PENDING) return o;
        o.pending_calls++;
        req.trigger = AW_TRIGGER_PENDING;
        usleep(500);
    }
    fail_msg("the orchestrator never finished");
    return o;
}

#define PLAN_REPLY                                                                                                     \
    "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","   \
    "\"content\":\"```json\\n{\\\"steps\\\":[{\\\"kind\\\":\\\"TakeCover\\\",\\\"position\\\":[4,0,-2]},"            \
    "{\\\"kind\\\":\\\"Attack\\\",\\\"target\\\":\\\"E1\\\"}]}\\n```\"},\"finish_reason\":\"stop\"}]}"

static void test_canned_reply_becomes_a_plan(void **state) {
    (void)state;
    test_server *srv = server_start(MODE_REPLY, PLAN_REPLY);
    char url[128];
    endpoint_of(srv->port, url, sizeof url);
    setenv("AW_TEST_LLM_KEY", "test-key-123", 1);
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url, .model = "tactician-7b", .api_key_env = "AW_TEST_LLM_KEY"});
    assert_non_null(llm);
    aw_world_snapshot snap = llm_test_snapshot();
    outcome o = plan_until_done(llm, &snap, 100);
    if (o.status != AW_PLAN_READY) fail_msg("not ready: %s", aw_llm_get_stats(llm).last_failure);
    assert_true(o.pending_calls >= 1);
    assert_int_equal(o.plan.plan_id, 17);
    assert_int_equal(o.plan.source, AW_ORCHESTRATOR_LLM);
    assert_int_equal(o.plan.fallback, 0);
    assert_int_equal(o.plan.step_count, 2);
    assert_int_equal(o.plan.steps[0].kind, AW_ACTION_TAKE_COVER);
    assert_int_equal(o.plan.steps[1].target, 201);
    aw_llm_stats st = aw_llm_get_stats(llm);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.plans, 1);
    assert_int_equal(st.in_flight, 0);
    /* A second plan asks again (a new request, the slot was released). */
    o = plan_until_done(llm, &snap, 100);
    assert_int_equal(o.status, AW_PLAN_READY);
    assert_int_equal(aw_llm_get_stats(llm).requests, 2);
    aw_llm_destroy(llm);
    server_stop(srv);
    /* What the server received: a chat-completions POST with our model, both messages, the key. */
    const char *req = srv->request;
    assert_non_null(strstr(req, "POST /v1/chat/completions HTTP/1.1"));
    assert_non_null(strstr(req, "Authorization: Bearer test-key-123"));
    assert_non_null(strstr(req, "Content-Type: application/json"));
    const char *body = strstr(req, "\r\n\r\n");
    assert_non_null(body);
    json_t *root = json_loads(body + 4, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "model")), "tactician-7b");
    json_t *messages = json_object_get(root, "messages");
    assert_int_equal(json_array_size(messages), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 0), "role")), "system");
    const char *user = json_string_value(json_object_get(json_array_get(messages, 1), "content"));
    assert_non_null(strstr(user, "E1 at (10.0, 0.0, 5.0)"));
    json_decref(root);
    free(srv);
}

/* One failure mode: FAILED after at least one PENDING, the reason in the stats, the slot freed. */
static aw_llm_stats run_failure(server_mode mode, const char *reply, uint32_t timeout_ms, uint32_t max_response) {
    test_server *srv = server_start(mode, reply);
    char url[128];
    endpoint_of(srv->port, url, sizeof url);
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url, .timeout_ms = timeout_ms, .max_response_bytes = max_response});
    assert_non_null(llm);
    aw_orchestrator plug = aw_llm_orchestrator(llm);
    assert_int_equal(plug.kind, AW_ORCHESTRATOR_LLM);
    assert_int_equal(plug.fallback, AW_ORCHESTRATOR_GOAP); /* the agent's GOAP plans instead */
    aw_world_snapshot snap = llm_test_snapshot();
    outcome o = plan_until_done(llm, &snap, 100);
    assert_int_equal(o.status, AW_PLAN_FAILED);
    assert_true(o.pending_calls >= 1);
    aw_llm_stats st = aw_llm_get_stats(llm);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.plans, 0);
    plug.destroy(plug.ctx); /* the plug-in owns the orchestrator */
    server_stop(srv);
    free(srv);
    return st;
}

static void test_slow_server_times_out(void **state) {
    (void)state;
    aw_llm_stats st = run_failure(MODE_SLOW, NULL, 200, 0);
    assert_int_equal(st.timeouts, 1);
    assert_non_null(strstr(st.last_failure, "timeout"));
}

static void test_http_error(void **state) {
    (void)state;
    aw_llm_stats st = run_failure(MODE_STATUS_500, NULL, 5000, 0);
    assert_int_equal(st.http_errors, 1);
    assert_non_null(strstr(st.last_failure, "HTTP status 500"));
}

static void test_dropped_connection(void **state) {
    (void)state;
    aw_llm_stats st = run_failure(MODE_DROP, NULL, 5000, 0);
    assert_int_equal(st.http_errors, 1);
    assert_non_null(strstr(st.last_failure, "transport"));
}

static void test_invalid_plan(void **state) {
    (void)state;
    aw_llm_stats st = run_failure(MODE_REPLY,
                                  "{\"choices\":[{\"message\":{\"content\":\"{\\\"steps\\\":[{\\\"kind\\\":\\\"Attack\\\","
                                  "\\\"target\\\":\\\"E7\\\"}]}\"}}]}",
                                  5000, 0);
    assert_int_equal(st.invalid, 1);
    assert_non_null(strstr(st.last_failure, "\"E7\" is not a contact"));
}

static void test_oversized_answer(void **state) {
    (void)state;
    aw_llm_stats st = run_failure(MODE_REPLY, PLAN_REPLY, 5000, 64);
    assert_int_equal(st.invalid, 1);
    assert_non_null(strstr(st.last_failure, "larger than 64 bytes"));
}

static void test_server_down(void **state) {
    (void)state;
    uint16_t port;
    int fd = listen_loopback(&port); /* bound, never listening, then closed: nobody answers there */
    close(fd);
    char url[128];
    endpoint_of(port, url, sizeof url);
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url, .timeout_ms = 2000});
    aw_world_snapshot snap = llm_test_snapshot();
    outcome o = plan_until_done(llm, &snap, 100);
    assert_int_equal(o.status, AW_PLAN_FAILED);
    aw_llm_stats st = aw_llm_get_stats(llm);
    assert_int_equal(st.http_errors, 1);
    assert_non_null(strstr(st.last_failure, "transport"));
    aw_llm_destroy(llm);
}

static void test_no_endpoint_is_off(void **state) {
    (void)state;
    aw_llm *llm = aw_llm_create(NULL);
    assert_non_null(llm);
    aw_world_snapshot snap = llm_test_snapshot();
    aw_plan_intent p;
    aw_plan_request req = {.snapshot = &snap, .agent = 100};
    assert_int_equal(aw_llm_plan(llm, &req, &p), AW_PLAN_FAILED);
    aw_llm_stats st = aw_llm_get_stats(llm);
    assert_int_equal(st.no_endpoint, 1);
    assert_int_equal(st.requests, 0);
    assert_int_equal(aw_llm_orchestrator(llm).fallback, AW_ORCHESTRATOR_GOAP);
    aw_llm_destroy(llm);
    /* An explicit fallback is kept. */
    llm = aw_llm_create(&(aw_llm_desc){.fallback = AW_ORCHESTRATOR_BT});
    assert_int_equal(aw_llm_orchestrator(llm).fallback, AW_ORCHESTRATOR_BT);
    aw_llm_destroy(llm);
    assert_null(aw_llm_create(&(aw_llm_desc){.max_inflight = 1000}));
    assert_null(aw_llm_create(&(aw_llm_desc){.fewshot_lambda = 2}));
    assert_int_equal(aw_llm_plan(NULL, &req, &p), AW_PLAN_FAILED);
}

static void test_busy_slots_and_forget(void **state) {
    (void)state;
    test_server *srv = server_start(MODE_SLOW, NULL);
    char url[128];
    endpoint_of(srv->port, url, sizeof url);
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url, .max_inflight = 2, .timeout_ms = 60000});
    aw_world_snapshot snap = llm_test_snapshot();
    aw_plan_intent p;
    for (aw_entity agent = 1; agent <= 2; agent++)
        assert_int_equal(aw_llm_plan(llm, &(aw_plan_request){.snapshot = &snap, .agent = agent}, &p), AW_PLAN_PENDING);
    /* A third agent finds both slots taken: it fails over to its fallback at once. */
    assert_int_equal(aw_llm_plan(llm, &(aw_plan_request){.snapshot = &snap, .agent = 3}, &p), AW_PLAN_FAILED);
    assert_int_equal(aw_llm_get_stats(llm).busy, 1);
    /* The first agent is still waiting; forgetting it frees its slot for the third. */
    assert_int_equal(aw_llm_plan(llm, &(aw_plan_request){.snapshot = &snap, .agent = 1}, &p), AW_PLAN_PENDING);
    aw_llm_forget(llm, 1);
    assert_int_equal(aw_llm_get_stats(llm).in_flight, 1);
    assert_int_equal(aw_llm_plan(llm, &(aw_plan_request){.snapshot = &snap, .agent = 3}, &p), AW_PLAN_PENDING);
    aw_llm_update(llm);
    aw_llm_destroy(llm); /* cancels both requests in flight */
    server_stop(srv);
    free(srv);
}

/* Memories from the retrieve hook, the system prompt, and the budget reach the request. */
static uint32_t retrieve_two(void *user, const aw_plan_request *request, const char *situation, aw_context_memory *out,
                             uint32_t cap) {
    (void)request;
    assert_non_null(strstr(situation, "Me: hp"));
    __atomic_fetch_add((int *)user, 1, __ATOMIC_RELAXED);
    assert_true(cap >= 2);
    out[0] = (aw_context_memory){"The bridge to the north is mined.", 0.91f, "lore"};
    out[1] = (aw_context_memory){"E1 hides behind the well.", 0.42f, "episodic"};
    return 2;
}

static void test_prompt_context_reaches_the_request(void **state) {
    (void)state;
    test_server *srv = server_start(MODE_REPLY, PLAN_REPLY);
    char url[128];
    endpoint_of(srv->port, url, sizeof url);
    aw_tokenizer *tok = context_test_tokenizer();
    int calls = 0;
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url,
                                               .tokenizer = tok,
                                               .prompt_budget = 4000,
                                               .retrieve = retrieve_two,
                                               .retrieve_user = &calls,
                                               .system_prompt = "Answer in JSON."});
    aw_world_snapshot snap = llm_test_snapshot();
    outcome o = plan_until_done(llm, &snap, 100);
    assert_int_equal(o.status, AW_PLAN_READY);
    assert_int_equal(calls, 1);
    aw_llm_destroy(llm);
    server_stop(srv);
    const char *body = strstr(srv->request, "\r\n\r\n");
    json_t *root = json_loads(body + 4, 0, NULL);
    json_t *messages = json_object_get(root, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 0), "content")), "Answer in JSON.");
    const char *user = json_string_value(json_object_get(json_array_get(messages, 1), "content"));
    assert_non_null(strstr(user, "Relevant memories:\n- [0.91] The bridge to the north is mined. (lore)\n"));
    assert_non_null(strstr(user, "Current situation:\nTime 12.5 s."));
    json_decref(root);
    free(srv);
    aw_tokenizer_destroy(tok);
}

/* Plan calls from several job-system workers at once, as the planning system makes them: every
 * agent ends READY or, when all slots were taken, FAILED (busy); the counts add up. */
typedef struct concurrent_ctx {
    aw_llm *llm;
    const aw_world_snapshot *snap;
    aw_plan_status result[16];
} concurrent_ctx;

static void plan_range(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    concurrent_ctx *c = arg;
    for (uint32_t i = begin; i < end; i++) c->result[i] = plan_until_done(c->llm, c->snap, 1000 + i).status;
}

static void test_concurrent_plan_calls(void **state) {
    (void)state;
    test_server *srv = server_start(MODE_REPLY, PLAN_REPLY);
    char url[128];
    endpoint_of(srv->port, url, sizeof url);
    aw_tokenizer *tok = context_test_tokenizer();
    int calls = 0;
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url, .max_inflight = 4, .tokenizer = tok,
                                               .retrieve = retrieve_two, .retrieve_user = &calls});
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 4});
    assert_non_null(jobs);
    aw_world_snapshot snap = llm_test_snapshot();
    concurrent_ctx c = {.llm = llm, .snap = &snap};
    assert_int_equal(aw_jobs_parallel_for(jobs, 16, 1, plan_range, &c), AW_OK);
    aw_llm_stats st = aw_llm_get_stats(llm);
    uint32_t ready = 0, failed = 0;
    for (int i = 0; i < 16; i++) {
        assert_true(c.result[i] == AW_PLAN_READY || c.result[i] == AW_PLAN_FAILED);
        ready += c.result[i] == AW_PLAN_READY;
        failed += c.result[i] == AW_PLAN_FAILED;
    }
    assert_true(ready >= 1);
    assert_int_equal(st.plans, ready);
    assert_int_equal(st.busy, failed);
    assert_int_equal(st.requests, ready);
    assert_int_equal(st.in_flight, 0);
    aw_jobs_destroy(jobs);
    aw_llm_destroy(llm);
    server_stop(srv);
    free(srv);
    aw_tokenizer_destroy(tok);
}

/* Few-shot examples picked by similarity need the sentence encoder. */
static void test_fewshot_examples_in_the_prompt(void **state) {
    (void)state;
    const char *dir = context_test_model_dir_or_null();
    if (!dir) skip();
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = dir});
    assert_non_null(enc);
    char path[1024];
    context_test_repo_path(path, sizeof path, "data/ai/llm_fewshot.jsonl");
    aw_fewshot_bank *bank = aw_fewshot_bank_create(NULL);
    assert_int_equal(aw_fewshot_bank_load(bank, path), AW_OK);
    assert_int_equal(aw_fewshot_bank_embed(bank, enc), AW_OK);
    test_server *srv = server_start(MODE_REPLY, PLAN_REPLY);
    char url[128];
    endpoint_of(srv->port, url, sizeof url);
    aw_llm *llm = aw_llm_create(&(aw_llm_desc){.endpoint = url,
                                               .tokenizer = aw_encoder_tokenizer(enc),
                                               .prompt_budget = 1500,
                                               .fewshot = bank,
                                               .encoder = enc,
                                               .fewshot_k = 3});
    assert_non_null(llm);
    aw_world_snapshot snap = llm_test_snapshot();
    assert_int_equal(plan_until_done(llm, &snap, 100).status, AW_PLAN_READY);
    /* The same kind of situation again: the query embedding comes from the cache. */
    snap.self.hp -= 1;
    assert_int_equal(plan_until_done(llm, &snap, 100).status, AW_PLAN_READY);
    aw_llm_stats st = aw_llm_get_stats(llm);
    assert_int_equal(st.query_embeds, 1);
    assert_int_equal(st.query_cache_hits, 1);
    aw_llm_destroy(llm);
    server_stop(srv);
    const char *body = strstr(srv->request, "\r\n\r\n");
    json_t *root = json_loads(body + 4, 0, NULL);
    const char *user = json_string_value(json_object_get(json_array_get(json_object_get(root, "messages"), 1), "content"));
    assert_non_null(strstr(user, "Examples:\nSituation: "));
    assert_non_null(strstr(user, "Plan: {\"steps\":"));
    json_decref(root);
    free(srv);
    aw_fewshot_bank_destroy(bank);
    aw_encoder_destroy(enc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canned_reply_becomes_a_plan),
        cmocka_unit_test(test_slow_server_times_out),
        cmocka_unit_test(test_http_error),
        cmocka_unit_test(test_dropped_connection),
        cmocka_unit_test(test_invalid_plan),
        cmocka_unit_test(test_oversized_answer),
        cmocka_unit_test(test_server_down),
        cmocka_unit_test(test_no_endpoint_is_off),
        cmocka_unit_test(test_busy_slots_and_forget),
        cmocka_unit_test(test_prompt_context_reaches_the_request),
        cmocka_unit_test(test_concurrent_plan_calls),
        cmocka_unit_test(test_fewshot_examples_in_the_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
