/* aw-rag: embeddings and semantic memory from the command line (src/rag, bench/). Only flag parsing
 * and printing live here. Exit codes: 0 ok, 1 the model, a file or a call failed, 2 bad usage.
 *
 *   aw-rag embed [--model DIR] [--json] [--threads N] TEXT...    (TEXT "-": one text per stdin line)
 *   aw-rag index --db FILE [--model DIR] [--threads N] DOCS.jsonl
 *   aw-rag query --db FILE [-k N] [--filter kind=K|agent=N]... [--ranker R] [--mmr L] [--now T] [--json] TEXT
 *   aw-rag eval  --db FILE --queries Q.jsonl [--ranker R] [--json]
 *   aw-rag bench [--reps N] [--json]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/jobs.h"
#include "aw/rag.h"
#include "bench.h"
#include "tool_args.h"

#define CHUNK 256 /* stdin lines embedded per batch */

static void usage(FILE *out) {
    fprintf(out, "usage: aw-rag embed [--model DIR] [--json] [--threads N] TEXT...\n"
                 "       aw-rag index --db FILE [--model DIR] [--threads N] DOCS.jsonl\n"
                 "       aw-rag query --db FILE [-k N] [--filter kind=K|agent=N]... [--ranker R] [--mmr L]\n"
                 "                    [--now T] [--model DIR] [--json] TEXT\n"
                 "       aw-rag eval --db FILE --queries Q.jsonl [--ranker R] [--model DIR] [--json]\n"
                 "       aw-rag bench [--reps N] [--json]\n"
                 "\n"
                 "index   embeds the documents (JSON lines {\"id\":N, \"text\":..., \"kind\":..., \"agent\":N,\n"
                 "        \"importance\":x, \"time\":t}) and writes them to the memory file FILE (replaced)\n"
                 "query   the k best memories for TEXT (default 10)\n"
                 "eval    recall@1/5/10, MRR and nDCG@10 over JSON lines {\"query\":..., \"relevant\":[ids]}\n"
                 "bench   the semantic-memory benchmark (aw-bench memory)\n"
                 "\n"
                 "  --ranker R    embedding (cosine, default), memory (cosine + recency + importance) or\n"
                 "                overlap (word overlap, the baseline; needs no model)\n"
                 "  --filter F    kind=episodic|semantic|procedural|lore|example (repeat for several) or agent=N\n"
                 "  --mmr L       MMR diversity, 0 < L < 1 (1: none)\n"
                 "  --now T       the time recency is measured from (memory ranker)\n"
                 "\n"
                 "embed:\n"
                 "Embeds each TEXT with Universal Sentence Encoder lite (512 floats, L2 norm 1).\n"
                 "A TEXT of '-' reads one text per line from standard input.\n"
                 "\n"
                 "  --model DIR   model directory (default: $" AW_RAG_MODEL_ENV
                 ", else ~/.cache/" AW_RAG_MODEL_SUBDIR ";\n"
                 "                scripts/rag-setup.sh fetches it)\n"
                 "  --json        one line per text: {\"text\": ..., \"embedding\": [512 floats]}\n"
                 "  --threads N   threads for batches (default 1)\n"
                 "  --help, -h    show this help\n"
                 "\n"
                 "Without --json each text prints as: norm, token count, first 8 values, text.\n");
}

static int usage_error(const char *fmt, const char *arg) { return tool_usage_error("aw-rag", fmt, arg); }

typedef struct out_ctx {
    aw_encoder *enc;
    aw_token_scratch *scratch;
    bool json;
    char *repair; /* UTF-8-repaired copy of a text, for printing */
    size_t repair_cap;
} out_ctx;

static void print_json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static int print_one(out_ctx *o, const char *text, const float *v) {
    size_t len = strlen(text);
    if (3 * len + 1 > o->repair_cap) {
        char *p = realloc(o->repair, 3 * len + 1);
        if (!p) return 1;
        o->repair = p;
        o->repair_cap = 3 * len + 1;
    }
    size_t n = aw_rag_utf8_repair(text, len, o->repair, o->repair_cap);
    if (o->json) {
        fputs("{\"text\":", stdout);
        print_json_string(o->repair, n);
        fputs(",\"embedding\":[", stdout);
        for (int i = 0; i < AW_EMBED_DIM; i++) printf(i ? ",%.9g" : "%.9g", (double)v[i]);
        fputs("]}\n", stdout);
        return 0;
    }
    double norm = 0.0;
    for (int i = 0; i < AW_EMBED_DIM; i++) norm += (double)v[i] * v[i];
    uint32_t tokens = 0;
    aw_tokenizer_count(aw_encoder_tokenizer(o->enc), o->scratch, text, len, &tokens);
    printf("%.6f  %3u tok  [", sqrt(norm), tokens);
    for (int i = 0; i < 8; i++) printf(i ? ", %+.4f" : "%+.4f", (double)v[i]);
    printf(", ...]  %.*s\n", (int)(n > 200 ? 200 : n), o->repair);
    return 0;
}

static int embed_and_print(out_ctx *o, const char *const *texts, uint32_t n, float *out) {
    if (aw_embed_batch(o->enc, texts, n, out) != AW_OK) {
        fprintf(stderr, "aw-rag: %s\n", aw_last_error());
        return 1;
    }
    for (uint32_t i = 0; i < n; i++)
        if (print_one(o, texts[i], out + (size_t)i * AW_EMBED_DIM) != 0) return 1;
    return 0;
}

static int embed_stdin(out_ctx *o, float *out) {
    char *lines[CHUNK] = {0};
    size_t caps[CHUNK] = {0};
    int rc = 0;
    bool eof = false;
    while (!eof && rc == 0) {
        uint32_t n = 0;
        while (n < CHUNK) {
            ssize_t got = getline(&lines[n], &caps[n], stdin);
            if (got < 0) {
                eof = true;
                break;
            }
            while (got > 0 && (lines[n][got - 1] == '\n' || lines[n][got - 1] == '\r'))
                lines[n][--got] = '\0';
            n++;
        }
        if (n) rc = embed_and_print(o, (const char *const *)lines, n, out);
    }
    for (int i = 0; i < CHUNK; i++) free(lines[i]);
    return rc;
}

static int cmd_embed(int argc, char **argv) {
    const char *model = NULL;
    bool json = false;
    unsigned long threads = 1;
    int first_text = argc;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            first_text = i + 1;
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--model") == 0 || strncmp(a, "--model=", 8) == 0) {
            model = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!model || !*model) return usage_error("%s needs a directory", "--model");
        } else if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            errno = 0;
            threads = v && *v >= '1' && *v <= '9' ? strtoul(v, &end, 10) : 0;
            if (!v || errno || !end || *end || threads < 1 || threads > 256)
                return usage_error("--threads needs a number from 1 to 256, not '%s'", v ? v : "");
        } else if (a[0] == '-' && a[1] == '-') {
            return usage_error("unknown option '%s'", a);
        } else {
            first_text = i;
            break;
        }
    }
    if (first_text >= argc) return usage_error("%s", "no TEXT given (use '-' to read lines from stdin)");

    aw_jobs *jobs = threads > 1 ? aw_jobs_create(&(aw_jobs_desc){.threads = (uint32_t)threads}) : NULL;
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = model, .jobs = jobs});
    if (!enc) {
        fprintf(stderr, "aw-rag: %s\n", aw_last_error());
        aw_jobs_destroy(jobs);
        return 1;
    }
    out_ctx o = {.enc = enc, .json = json, .scratch = aw_token_scratch_create(NULL)};
    float *out = malloc((size_t)CHUNK * AW_EMBED_DIM * sizeof *out);
    int rc = out && o.scratch ? 0 : 1;
    /* Arguments in runs between '-'s, so texts and stdin keep their order. */
    for (int i = first_text; i < argc && rc == 0;) {
        if (strcmp(argv[i], "-") == 0) {
            rc = embed_stdin(&o, out);
            i++;
            continue;
        }
        uint32_t n = 0;
        while (i + (int)n < argc && n < CHUNK && strcmp(argv[i + (int)n], "-") != 0) n++;
        rc = embed_and_print(&o, (const char *const *)(argv + i), n, out);
        i += (int)n;
    }
    if (fflush(stdout) != 0) rc = 1;
    free(out);
    free(o.repair);
    aw_token_scratch_destroy(o.scratch);
    aw_encoder_destroy(enc);
    aw_jobs_destroy(jobs);
    return rc;
}

/* ---------------------------------------------------------------- semantic memory commands */

typedef struct mem_opts {
    const char *db, *model, *queries;
    uint32_t k, threads;
    bool json;
    aw_memory_query query;
    const char *text; /* query: the text; index: the documents file */
} mem_opts;

static int fail(void) {
    fprintf(stderr, "aw-rag: %s\n", aw_last_error());
    return 1;
}

/* Flags shared by index, query and eval; anything else is a usage error (exit 2). */
static int parse_mem_flags(int argc, char **argv, const char *cmd, mem_opts *o) {
    *o = (mem_opts){.k = 10, .threads = 1, .query = {.ranker = AW_RANKER_SIMILARITY}};
    bool is_query = strcmp(cmd, "query") == 0, is_eval = strcmp(cmd, "eval") == 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        bool missing = false;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0 && (is_query || is_eval)) {
            o->json = true;
        } else if (take_value(argc, argv, &i, "--db", &v, &missing)) {
            if (missing || !*v) return usage_error("%s needs a file", "--db");
            o->db = v;
        } else if (take_value(argc, argv, &i, "--model", &v, &missing)) {
            if (missing || !*v) return usage_error("%s needs a directory", "--model");
            o->model = v;
        } else if (!is_query && !is_eval && take_value(argc, argv, &i, "--threads", &v, &missing)) {
            if (missing || !parse_u32(v, 1, 256, &o->threads))
                return usage_error("--threads needs a number from 1 to 256, not '%s'", missing ? "" : v);
        } else if (is_eval && take_value(argc, argv, &i, "--queries", &v, &missing)) {
            if (missing || !*v) return usage_error("%s needs a file", "--queries");
            o->queries = v;
        } else if (is_query && (take_value(argc, argv, &i, "-k", &v, &missing) ||
                                take_value(argc, argv, &i, "--k", &v, &missing))) {
            if (missing || !parse_u32(v, 1, 1000, &o->k))
                return usage_error("-k needs a number from 1 to 1000, not '%s'", missing ? "" : v);
        } else if ((is_query || is_eval) && take_value(argc, argv, &i, "--ranker", &v, &missing)) {
            if (missing) return usage_error("%s needs embedding, memory or overlap", "--ranker");
            if (strcmp(v, "embedding") == 0) o->query.ranker = AW_RANKER_SIMILARITY;
            else if (strcmp(v, "memory") == 0) o->query.ranker = AW_RANKER_MEMORY;
            else if (strcmp(v, "overlap") == 0) o->query.ranker = AW_RANKER_OVERLAP;
            else return usage_error("unknown ranker '%s' (embedding, memory or overlap)", v);
        } else if (is_query && take_value(argc, argv, &i, "--filter", &v, &missing)) {
            aw_memory_kind kind;
            uint64_t agent;
            if (missing) return usage_error("%s needs kind=K or agent=N", "--filter");
            if (strncmp(v, "kind=", 5) == 0 && aw_memory_kind_parse(v + 5, &kind) == AW_OK) {
                o->query.filter.kinds |= 1u << kind;
            } else if (strncmp(v, "agent=", 6) == 0 && parse_u64(v + 6, 0, INT64_MAX, &agent)) {
                o->query.filter.by_agent = true;
                o->query.filter.agent = agent;
            } else {
                return usage_error("bad filter '%s' (kind=episodic|semantic|procedural|lore|example or agent=N)", v);
            }
        } else if (is_query && take_value(argc, argv, &i, "--mmr", &v, &missing)) {
            char *end = NULL;
            double l = missing ? -1 : strtod(v, &end);
            if (missing || !end || *end || !(l > 0 && l <= 1))
                return usage_error("--mmr needs a number in (0, 1], not '%s'", missing ? "" : v);
            o->query.mmr_lambda = (float)l;
        } else if (is_query && take_value(argc, argv, &i, "--now", &v, &missing)) {
            char *end = NULL;
            double t = missing ? NAN : strtod(v, &end);
            if (missing || !end || *end || !isfinite(t)) return usage_error("--now needs a number, not '%s'", missing ? "" : v);
            o->query.now = t;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else if (!o->text && (is_query || strcmp(cmd, "index") == 0)) {
            o->text = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!o->db) return usage_error("%s needs --db FILE", cmd);
    if (is_eval && !o->queries) return usage_error("%s needs --queries FILE", cmd);
    if (is_query && !o->text) return usage_error("%s", "query needs a TEXT");
    if (strcmp(cmd, "index") == 0 && !o->text) return usage_error("%s", "index needs a DOCS.jsonl file");
    return -1; /* go on */
}

typedef struct mem_ctx {
    aw_jobs *jobs;
    aw_encoder *enc;
    aw_memory *mem;
} mem_ctx;

static void mem_close(mem_ctx *c) {
    aw_memory_destroy(c->mem);
    aw_encoder_destroy(c->enc);
    aw_jobs_destroy(c->jobs);
}

static int mem_open(const mem_opts *o, bool need_encoder, mem_ctx *c) {
    *c = (mem_ctx){0};
    if (o->threads > 1 && !(c->jobs = aw_jobs_create(&(aw_jobs_desc){.threads = o->threads}))) return fail();
    if (need_encoder && !(c->enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = o->model, .jobs = c->jobs}))) {
        mem_close(c);
        return fail();
    }
    if (!(c->mem = aw_memory_create(&(aw_memory_desc){.encoder = c->enc, .jobs = c->jobs}))) {
        mem_close(c);
        return fail();
    }
    return 0;
}

static int cmd_index(int argc, char **argv) {
    mem_opts o;
    int rc = parse_mem_flags(argc, argv, "index", &o);
    if (rc >= 0) return rc;
    mem_ctx c;
    if (mem_open(&o, true, &c) != 0) return 1;
    uint32_t added = 0;
    uint64_t t0 = aw_time_ns();
    rc = aw_memory_import_jsonl(c.mem, o.text, &added) == AW_OK && aw_memory_save(c.mem, o.db) == AW_OK ? 0 : fail();
    if (rc == 0)
        fprintf(stderr, "aw-rag: indexed %u documents into %s in %.2f s\n", added, o.db,
                (double)(aw_time_ns() - t0) / 1e9);
    mem_close(&c);
    return rc;
}

static int cmd_query(int argc, char **argv) {
    mem_opts o;
    int rc = parse_mem_flags(argc, argv, "query", &o);
    if (rc >= 0) return rc;
    mem_ctx c;
    if (mem_open(&o, o.query.ranker != AW_RANKER_OVERLAP, &c) != 0) return 1;
    aw_memory_hit *hits = malloc(sizeof *hits * o.k);
    uint32_t found = 0;
    o.query.text = o.text;
    o.query.k = o.k;
    if (!hits) rc = 1;
    else if (aw_memory_load(c.mem, o.db) != AW_OK || aw_memory_retrieve(c.mem, &o.query, hits, o.k, &found) != AW_OK)
        rc = fail();
    else rc = 0;
    if (rc == 0 && o.json) {
        fputs("{\"query\":", stdout);
        print_json_string(o.text, strlen(o.text));
        fputs(",\"hits\":[", stdout);
        for (uint32_t i = 0; i < found; i++)
            printf("%s{\"id\":%llu,\"score\":%.6f}", i ? "," : "", (unsigned long long)hits[i].id, (double)hits[i].score);
        fputs("]}\n", stdout);
    } else if (rc == 0) {
        for (uint32_t i = 0; i < found; i++) {
            aw_memory_item it;
            aw_memory_get(c.mem, hits[i].id, &it);
            printf("%2u  %.4f  %6llu  %-10s  %.100s\n", i + 1, (double)hits[i].score, (unsigned long long)it.id,
                   aw_memory_kind_name(it.kind), it.text);
        }
    }
    free(hits);
    mem_close(&c);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    mem_opts o;
    int rc = parse_mem_flags(argc, argv, "eval", &o);
    if (rc >= 0) return rc;
    mem_ctx c;
    if (mem_open(&o, o.query.ranker != AW_RANKER_OVERLAP, &c) != 0) return 1;
    aw_rag_eval_result r;
    rc = aw_memory_load(c.mem, o.db) == AW_OK && aw_memory_eval_jsonl(c.mem, o.queries, &o.query, &r) == AW_OK ? 0 : fail();
    if (rc == 0 && o.json) {
        printf("{\"queries\":%u,\"recall@1\":%.6f,\"recall@5\":%.6f,\"recall@10\":%.6f,\"mrr\":%.6f,\"ndcg@10\":%.6f}\n",
               r.queries, r.recall_at_1, r.recall_at_5, r.recall_at_10, r.mrr, r.ndcg_at_10);
    } else if (rc == 0) {
        printf("queries    %u\nrecall@1   %.4f\nrecall@5   %.4f\nrecall@10  %.4f\nmrr        %.4f\nndcg@10    %.4f\n",
               r.queries, r.recall_at_1, r.recall_at_5, r.recall_at_10, r.mrr, r.ndcg_at_10);
    }
    mem_close(&c);
    return rc;
}

static int cmd_bench(int argc, char **argv) {
    aw_bench_options opt = {0};
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        bool missing = false;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (take_value(argc, argv, &i, "--reps", &v, &missing)) {
            if (missing || !parse_u32(v, 1, 1000, &opt.reps))
                return usage_error("--reps needs a number from 1 to 1000, not '%s'", missing ? "" : v);
        } else {
            return usage_error("unknown option '%s'", argv[i]);
        }
    }
    aw_bench_report report;
    aw_bench_report_init(&report, "memory");
    int rc = aw_bench_run_suite("memory", &opt, &report) == AW_OK ? 0 : fail();
    if (rc == 0) {
        if (json) rc = aw_bench_report_write_json(&report, "-") == AW_OK ? 0 : fail();
        else aw_bench_report_print(&report, stdout);
        if (report.failures) rc = 1;
    }
    aw_bench_report_destroy(&report);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "embed") == 0) return cmd_embed(argc, argv);
    if (strcmp(cmd, "index") == 0) return cmd_index(argc, argv);
    if (strcmp(cmd, "query") == 0) return cmd_query(argc, argv);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc, argv);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc, argv);
    return usage_error("unknown command '%s' (embed, index, query, eval, bench)", cmd);
}
