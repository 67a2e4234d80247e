/* Tests for the aw-rag command line: bad flags are refused with a clear message and exit code 2;
 * index, query (--json) and eval (--json) on a tiny set whose overlap-ranker metrics are computed by
 * hand below. Runs the aw-rag built next to this test (build/bin); skipped when tools are not built.
 * Indexing embeds with the model (scripts/rag-setup.sh). */
#include "aw/core.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../cli_test_util.h"

#include "rag_test_util.h"

static void test_bad_flags_exit_2(void **state) {
    (void)state;
    if (!cli_find_tool("aw-rag")) skip();
    static cli_result r;
    const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"frobnicate"}, "unknown command 'frobnicate'"},
        {{"query", "text"}, "query needs --db FILE"},
        {{"query", "--db", "x.awm"}, "query needs a TEXT"},
        {{"query", "--db"}, "--db needs a file"},
        {{"query", "--db", "x", "-k", "0", "t"}, "-k needs a number"},
        {{"query", "--db", "x", "-k", "ten", "t"}, "-k needs a number"},
        {{"query", "--db", "x", "--filter", "kind=gossip", "t"}, "bad filter 'kind=gossip'"},
        {{"query", "--db", "x", "--filter", "colour=red", "t"}, "bad filter"},
        {{"query", "--db", "x", "--ranker", "fancy", "t"}, "unknown ranker 'fancy'"},
        {{"query", "--db", "x", "--mmr", "2", "t"}, "--mmr needs"},
        {{"query", "--db", "x", "--bogus", "t"}, "unknown option '--bogus'"},
        {{"query", "--db", "x", "one", "two"}, "unexpected argument 'two'"},
        {{"eval", "--db", "x"}, "eval needs --queries FILE"},
        {{"eval", "--db", "x", "--queries", "q", "-k", "3"}, "unknown option '-k'"},
        {{"index", "--db", "x"}, "index needs a DOCS.jsonl file"},
        {{"index", "--db", "x", "--threads", "0", "d"}, "--threads needs"},
        {{"index", "--db", "x", "--json", "d"}, "unknown option '--json'"},
        {{"bench", "--reps", "0"}, "--reps needs"},
        {{"bench", "--fast"}, "unknown option '--fast'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_run(&r, cases[i].args);
        if (r.code != 2 || !strstr(r.err, cases[i].says) || !strstr(r.err, "try 'aw-rag --help'"))
            fail_msg("case %zu (%s %s): exit %d, stderr: %s", i, cases[i].args[0],
                     cases[i].args[1] ? cases[i].args[1] : "", r.code, r.err);
        assert_string_equal(r.out, "");
    }
    cli_run(&r, (const char *[]){NULL});
    assert_int_equal(r.code, 2);
    cli_run(&r, (const char *[]){"--help", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "--ranker"));
    /* A missing database is a run failure (1), not a usage error. */
    cli_run(&r, (const char *[]){"query", "--db", "/nonexistent/x.awm", "--ranker", "overlap", "t", NULL});
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.err, "/nonexistent/x.awm"));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) fail_msg("\"%s\" missing or not a number", key);
    return json_number_value(v);
}

static void test_index_query_eval(void **state) {
    (void)state;
    if (!cli_find_tool("aw-rag")) skip();
    rag_test_model_dir();
    static cli_result r;
    char docs[] = "/tmp/aw_rag_cli_docs_XXXXXX", queries[] = "/tmp/aw_rag_cli_q_XXXXXX", db[] = "/tmp/aw_rag_cli_db_XXXXXX";
    close(mkstemp(docs));
    close(mkstemp(queries));
    close(mkstemp(db));
    write_file(docs, "{\"id\":1,\"text\":\"Wolves circled the north gate at dawn.\",\"kind\":\"episodic\",\"agent\":3}\n"
                     "{\"id\":2,\"text\":\"A merchant sold wool at the market.\"}\n"
                     "{\"id\":3,\"text\":\"Wolves hunted in the dark forest.\",\"importance\":0.9}\n"
                     "{\"id\":4,\"text\":\"The castle gate is made of oak.\",\"kind\":\"lore\"}\n");
    /* Overlap scores (share of the query's content words found): by hand,
     *   "wolves gate"   -> 1: 2/2, 3: 1/2, 4: 1/2   ranking [1,3,4], relevant {1}: r@1 1, MRR 1, nDCG 1
     *   "oak gate"      -> 4: 2/2, 1: 1/2           ranking [4,1],   relevant {4}: r@1 1, MRR 1, nDCG 1
     *   "forest market" -> 2: 1/2, 3: 1/2 (tie: lower id first) [2,3], relevant {3}:
     *                      r@1 0, r@5 1, MRR 1/2, nDCG 1/log2(3)
     *   "dragon"        -> nothing, relevant {1}: all 0
     * means: r@1 0.5, r@5 = r@10 0.75, MRR 0.625, nDCG (2 + 1/log2 3) / 4 */
    write_file(queries, "{\"query\":\"wolves gate\",\"relevant\":[1]}\n"
                        "{\"query\":\"oak gate\",\"relevant\":[4]}\n"
                        "{\"query\":\"forest market\",\"relevant\":[3]}\n"
                        "{\"query\":\"dragon\",\"relevant\":[1]}\n");
    cli_run(&r, (const char *[]){"index", "--db", db, docs, NULL});
    if (r.code != 0) fail_msg("index: exit %d: %s", r.code, r.err);
    assert_non_null(strstr(r.err, "indexed 4 documents"));

    cli_run(&r, (const char *[]){"eval", "--db", db, "--queries", queries, "--ranker", "overlap", "--json", NULL});
    if (r.code != 0) fail_msg("eval: exit %d: %s", r.code, r.err);
    json_error_t err;
    json_t *o = json_loads(r.out, 0, &err);
    if (!o) fail_msg("eval output is not JSON: %s", r.out);
    assert_int_equal(json_integer_value(json_object_get(o, "queries")), 4);
    assert_float_equal(num(o, "recall@1"), 0.5, 1e-6);
    assert_float_equal(num(o, "recall@5"), 0.75, 1e-6);
    assert_float_equal(num(o, "recall@10"), 0.75, 1e-6);
    assert_float_equal(num(o, "mrr"), 0.625, 1e-6);
    assert_float_equal(num(o, "ndcg@10"), (2 + 1 / log2(3.0)) / 4, 1e-6);
    assert_int_equal(json_object_size(o), 6);
    json_decref(o);

    cli_run(&r, (const char *[]){"query", "--db", db, "--ranker", "overlap", "-k", "2", "--json", "wolves gate", NULL});
    if (r.code != 0) fail_msg("query: exit %d: %s", r.code, r.err);
    o = json_loads(r.out, 0, &err);
    if (!o) fail_msg("query output is not JSON: %s", r.out);
    assert_string_equal(json_string_value(json_object_get(o, "query")), "wolves gate");
    json_t *hits = json_object_get(o, "hits");
    assert_int_equal(json_array_size(hits), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hits, 0), "id")), 1);
    assert_float_equal(num(json_array_get(hits, 0), "score"), 1.0, 1e-6);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hits, 1), "id")), 3);
    json_decref(o);

    /* Filters: only episodic (document 1), then only agent 0 (all but document 1). */
    cli_run(&r, (const char *[]){"query", "--db", db, "--ranker", "overlap", "--filter", "kind=episodic", "--json", "wolves gate", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\"hits\":[{\"id\":1,\"score\":1.000000}]}"));
    cli_run(&r, (const char *[]){"query", "--db", db, "--ranker", "overlap", "--filter", "agent=0", "--json", "gate", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\"hits\":[{\"id\":4,\"score\":1.000000}]}"));
    /* The embedding ranker answers paraphrases the overlap ranker cannot. */
    cli_run(&r, (const char *[]){"query", "--db", db, "-k", "1", "--json", "a trader selling fleece", NULL});
    if (r.code != 0) fail_msg("query: exit %d: %s", r.code, r.err);
    assert_non_null(strstr(r.out, "\"hits\":[{\"id\":2,"));
    cli_run(&r, (const char *[]){"query", "--db", db, "wolves", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "Wolves"));

    write_file(docs, "{\"id\":1,\"text\":\"ok\"}\n{\"id\":\"two\",\"text\":\"bad\"}\n");
    cli_run(&r, (const char *[]){"index", "--db", db, docs, NULL});
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.err, ":2:"));
    unlink(docs);
    unlink(queries);
    unlink(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags_exit_2),
        cmocka_unit_test(test_index_query_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
