/* aw-rag: sentence embeddings from the command line (src/rag). Only flag parsing and printing live
 * here. Exit codes: 0 ok, 1 the model or an embedding failed, 2 bad usage.
 *
 *   aw-rag embed [--model DIR] [--json] [--threads N] TEXT...    (TEXT "-": one text per stdin line)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/jobs.h"
#include "aw/rag.h"

#define CHUNK 256 /* stdin lines embedded per batch */

static void usage(FILE *out) {
    fprintf(out, "usage: aw-rag embed [--model DIR] [--json] [--threads N] TEXT...\n"
                 "\n"
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

static int usage_error(const char *fmt, const char *arg) {
    fputs("aw-rag: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\ntry 'aw-rag --help'\n", stderr);
    return 2;
}

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

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "embed") != 0) return usage_error("unknown command '%s'", argv[1]);
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
