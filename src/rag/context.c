/* Prompt context builder: system text, retrieved memories, few-shot examples and the current
 * situation laid out under a token budget, with the whole prompt's count checked at the end (token
 * counts of pieces do not add up exactly), in buffers that are kept between builds. */
#include "rag_internal.h"

#include <stdio.h>
#include <string.h>

#define HDR_MEMORIES  "Relevant memories:\n"
#define HDR_EXAMPLES  "Examples:\n"
#define HDR_SITUATION "Current situation:\n"
#define ELISION_LINE  "- [...]\n"
#define CUT_MARK      " [...] "
#define FIT_ROUNDS    8 /* rounds of "shrink the optional sections by the excess" before giving up on them */

typedef struct piece {
    size_t off, len; /* bytes in ctx->lines */
    uint32_t tokens;
} piece;

struct aw_context {
    aw_context_desc desc;
    aw_token_scratch *scratch;
    uint32_t hdr_memories, hdr_examples, elision; /* token counts of the fixed lines */
    uint32_t situation_min;                       /* the situation heading with an empty cut */
    char *lines;                                  /* rendered pieces, addressed by offset */
    size_t lines_cap, lines_used;
    char *out; /* the prompt */
    size_t out_cap;
    char *tmp; /* trial texts of the middle cut */
    size_t tmp_cap;
    piece *pieces; /* memories (filtered) then examples */
    size_t pieces_cap;
    uint32_t *order, *sort_tmp; /* memory ranks for KEEP_BEST */
    size_t order_cap, sort_tmp_cap;
    float *scores;
    size_t scores_cap;
    uint8_t *keep;
    size_t keep_cap;
};

static aw_status count_tokens(aw_context *ctx, const char *text, size_t len, uint32_t *n) {
    return aw_tokenizer_count(ctx->desc.tokenizer, ctx->scratch, text, len, n);
}

aw_context *aw_context_create(const aw_context_desc *desc) {
    if (!desc || !desc->tokenizer) {
        aw_error(AW_ERR_INVALID_ARG, "aw_context_create: a tokenizer is required");
        return NULL;
    }
    if (!(desc->memory_share >= 0.0f && desc->memory_share <= 1.0f)) {
        aw_error(AW_ERR_INVALID_ARG, "aw_context_create: memory_share %g is outside 0..1", (double)desc->memory_share);
        return NULL;
    }
    if (desc->overflow > AW_CONTEXT_TRUNCATE_MIDDLE) {
        aw_error(AW_ERR_INVALID_ARG, "aw_context_create: unknown overflow strategy %d", (int)desc->overflow);
        return NULL;
    }
    aw_context *ctx = aw_alloc(desc->allocator, sizeof *ctx, 64);
    if (!ctx) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_context_create: no memory");
        return NULL;
    }
    *ctx = (aw_context){.desc = *desc};
    if (ctx->desc.token_budget == 0) ctx->desc.token_budget = 1024;
    if (ctx->desc.memory_share == 0.0f) ctx->desc.memory_share = 0.5f;
    ctx->scratch = aw_token_scratch_create(desc->allocator);
    if (!ctx->scratch || count_tokens(ctx, HDR_MEMORIES, strlen(HDR_MEMORIES), &ctx->hdr_memories) != AW_OK ||
        count_tokens(ctx, HDR_EXAMPLES, strlen(HDR_EXAMPLES), &ctx->hdr_examples) != AW_OK ||
        count_tokens(ctx, ELISION_LINE, strlen(ELISION_LINE), &ctx->elision) != AW_OK ||
        count_tokens(ctx, HDR_SITUATION CUT_MARK "\n", strlen(HDR_SITUATION CUT_MARK "\n"), &ctx->situation_min) != AW_OK) {
        if (!ctx->scratch) aw_error(AW_ERR_OUT_OF_MEMORY, "aw_context_create: no memory");
        aw_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

void aw_context_destroy(aw_context *ctx) {
    if (!ctx) return;
    const aw_allocator *a = ctx->desc.allocator;
    aw_token_scratch_destroy(ctx->scratch);
    aw_free(a, ctx->lines, ctx->lines_cap);
    aw_free(a, ctx->out, ctx->out_cap);
    aw_free(a, ctx->tmp, ctx->tmp_cap);
    aw_free(a, ctx->pieces, ctx->pieces_cap * sizeof *ctx->pieces);
    aw_free(a, ctx->order, ctx->order_cap * sizeof *ctx->order);
    aw_free(a, ctx->sort_tmp, ctx->sort_tmp_cap * sizeof *ctx->sort_tmp);
    aw_free(a, ctx->scores, ctx->scores_cap * sizeof *ctx->scores);
    aw_free(a, ctx->keep, ctx->keep_cap);
    aw_free(a, ctx, sizeof *ctx);
}

/* ---------------------------------------------------------------- rendering pieces */

static aw_status lines_reserve(aw_context *ctx, size_t more) {
    return rag_grow(ctx->desc.allocator, (void **)&ctx->lines, &ctx->lines_cap, ctx->lines_used + more, 1);
}

static aw_status put_raw(aw_context *ctx, const char *s, size_t len) {
    aw_status st = lines_reserve(ctx, len);
    if (st != AW_OK) return st;
    memcpy(ctx->lines + ctx->lines_used, s, len);
    ctx->lines_used += len;
    return AW_OK;
}

/* Appends text repaired to valid UTF-8; with one_line, control characters become spaces so that a
 * memory or an example cannot break the prompt's line structure. */
static aw_status put_text(aw_context *ctx, const char *s, bool one_line) {
    size_t len = strlen(s);
    aw_status st = lines_reserve(ctx, 3 * len);
    if (st != AW_OK) return st;
    char *dst = ctx->lines + ctx->lines_used;
    size_t n = rag_utf8_sanitize(s, len, dst);
    if (one_line)
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f) dst[i] = ' ';
    ctx->lines_used += n;
    return AW_OK;
}

static aw_status finish_piece(aw_context *ctx, piece *p, size_t start) {
    p->off = start;
    p->len = ctx->lines_used - start;
    return count_tokens(ctx, ctx->lines + p->off, p->len, &p->tokens);
}

static aw_status render_memory(aw_context *ctx, const aw_context_memory *m, piece *p) {
    size_t start = ctx->lines_used;
    char score[32];
    int n = snprintf(score, sizeof score, "- [%.2f] ", (double)m->score);
    aw_status st = put_raw(ctx, score, (size_t)n);
    if (st == AW_OK) st = put_text(ctx, m->text, true);
    if (st == AW_OK && m->metadata && m->metadata[0]) {
        st = put_raw(ctx, " (", 2);
        if (st == AW_OK) st = put_text(ctx, m->metadata, true);
        if (st == AW_OK) st = put_raw(ctx, ")", 1);
    }
    if (st == AW_OK) st = put_raw(ctx, "\n", 1);
    return st == AW_OK ? finish_piece(ctx, p, start) : st;
}

static aw_status render_example(aw_context *ctx, const aw_context_example *e, piece *p) {
    size_t start = ctx->lines_used;
    aw_status st = put_raw(ctx, "Situation: ", 11);
    if (st == AW_OK) st = put_text(ctx, e->situation, true);
    if (st == AW_OK) st = put_raw(ctx, "\nPlan: ", 7);
    if (st == AW_OK) st = put_text(ctx, e->plan, true);
    if (st == AW_OK) st = put_raw(ctx, "\n", 1);
    return st == AW_OK ? finish_piece(ctx, p, start) : st;
}

/* ---------------------------------------------------------------- cutting a text in the middle */

/* Largest UTF-8 boundary <= i (continuation bytes are 10xxxxxx). */
static size_t boundary_down(const char *s, size_t i) {
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

/* Writes prefix + head + CUT_MARK + tail + suffix of text (keeping `keep` bytes of it) into tmp. */
static aw_status compose_cut(aw_context *ctx, const char *prefix, const char *text, size_t len, size_t keep,
                             const char *suffix, size_t *out_len) {
    size_t head = boundary_down(text, keep / 2);
    size_t tail_start = len - (keep - head);
    while (tail_start < len && ((unsigned char)text[tail_start] & 0xC0) == 0x80) tail_start++;
    size_t pl = strlen(prefix), sl = strlen(suffix), ml = strlen(CUT_MARK);
    size_t total = pl + head + ml + (len - tail_start) + sl;
    aw_status st = rag_grow(ctx->desc.allocator, (void **)&ctx->tmp, &ctx->tmp_cap, total + 1, 1);
    if (st != AW_OK) return st;
    char *o = ctx->tmp;
    memcpy(o, prefix, pl);
    memcpy(o + pl, text, head);
    memcpy(o + pl + head, CUT_MARK, ml);
    memcpy(o + pl + head + ml, text + tail_start, len - tail_start);
    memcpy(o + pl + head + ml + (len - tail_start), suffix, sl);
    *out_len = total;
    return AW_OK;
}

/* Writes into *dst the longest middle cut of piece src (prefix + text + suffix) whose count is at
 * most `limit`. Binary search over the bytes kept; counts are close to, not
 * exactly, monotonic in them, so the result is re-checked. AW_ERR_CAPACITY if not even the prefix,
 * the mark and the suffix fit. */
static aw_status cut_piece(aw_context *ctx, const piece *src, piece *dst, const char *prefix, const char *suffix,
                           uint32_t limit) {
    size_t pl = strlen(prefix), sl = strlen(suffix);
    size_t text_off = src->off + pl, len = src->len - pl - sl;
    size_t lo = 0, hi = len, best = SIZE_MAX, n;
    uint32_t tokens = 0, best_tokens = 0;
    while (lo <= hi) {
        size_t mid = lo + (hi - lo) / 2;
        aw_status st = compose_cut(ctx, prefix, ctx->lines + text_off, len, mid, suffix, &n);
        if (st == AW_OK) st = count_tokens(ctx, ctx->tmp, n, &tokens);
        if (st != AW_OK) return st;
        if (tokens <= limit) {
            best = mid;
            best_tokens = tokens;
            lo = mid + 1;
        } else {
            if (mid == 0) break;
            hi = mid - 1;
        }
    }
    if (best == SIZE_MAX)
        return aw_error(AW_ERR_CAPACITY, "aw_context_build: a token budget of %u cannot hold the situation",
                        ctx->desc.token_budget);
    /* The cut text goes to the end of lines (tmp is reused by the next call). */
    aw_status st = compose_cut(ctx, prefix, ctx->lines + text_off, len, best, suffix, &n);
    size_t start = ctx->lines_used;
    if (st == AW_OK) st = put_raw(ctx, ctx->tmp, n);
    if (st != AW_OK) return st;
    dst->off = start;
    dst->len = n;
    dst->tokens = best_tokens;
    return AW_OK;
}

/* ---------------------------------------------------------------- choosing what fits */

/* Stable merge sort of memory indices by score, highest first (ties keep list order). */
static void sort_by_score(uint32_t *idx, uint32_t *tmp, const float *score, uint32_t n) {
    for (uint32_t width = 1; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            uint32_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) tmp[o++] = score[idx[j]] > score[idx[i]] ? idx[j++] : idx[i++];
            while (i < mid) tmp[o++] = idx[i++];
            while (j < hi) tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

/* Marks the memories that fit in `room` tokens (heading included); returns the tokens they take and
 * sets *elided when TRUNCATE_MIDDLE dropped some from the middle. */
static uint32_t choose_memories(aw_context *ctx, uint32_t nm, int64_t room, bool *elided) {
    const piece *m = ctx->pieces;
    uint8_t *keep = ctx->keep;
    *elided = false;
    if (nm == 0) return 0;
    memset(keep, 0, nm);
    int64_t all = ctx->hdr_memories;
    for (uint32_t i = 0; i < nm; i++) all += m[i].tokens;
    if (nm == 0 || room <= (int64_t)ctx->hdr_memories) return 0;
    if (all <= room) {
        memset(keep, 1, nm);
        return (uint32_t)all;
    }
    int64_t used = ctx->hdr_memories;
    switch (ctx->desc.overflow) {
    case AW_CONTEXT_KEEP_BEST:
        for (uint32_t r = 0; r < nm && used + m[ctx->order[r]].tokens <= room; r++) {
            keep[ctx->order[r]] = 1;
            used += m[ctx->order[r]].tokens;
        }
        break;
    case AW_CONTEXT_SLIDING_WINDOW:
        for (uint32_t i = nm; i-- > 0 && used + m[i].tokens <= room;) {
            keep[i] = 1;
            used += m[i].tokens;
        }
        break;
    case AW_CONTEXT_TRUNCATE_MIDDLE: {
        used += ctx->elision;
        uint32_t head = 0, tail = nm; /* [head, tail) not yet taken */
        bool from_head = true, head_open = true, tail_open = true;
        while (head < tail && (head_open || tail_open)) {
            if (from_head ? !head_open : !tail_open) from_head = !from_head;
            uint32_t i = from_head ? head : tail - 1;
            if (used + m[i].tokens <= room) {
                keep[i] = 1;
                used += m[i].tokens;
                if (from_head) head++;
                else tail--;
            } else if (from_head) {
                head_open = false;
            } else {
                tail_open = false;
            }
            from_head = !from_head;
        }
        *elided = true;
        break;
    }
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < nm; i++) kept += keep[i];
    if (kept == 0) {
        *elided = false;
        return 0;
    }
    return (uint32_t)used;
}

/* ---------------------------------------------------------------- assembling */

static aw_status out_put(aw_context *ctx, size_t *len, const char *s, size_t n) {
    aw_status st = rag_grow(ctx->desc.allocator, (void **)&ctx->out, &ctx->out_cap, *len + n + 1, 1);
    if (st != AW_OK) return st;
    memcpy(ctx->out + *len, s, n);
    *len += n;
    return AW_OK;
}

static aw_status assemble(aw_context *ctx, const piece *sys, const piece *sit, uint32_t nm, uint32_t ne_used,
                          bool elided, size_t *len) {
    *len = 0;
    aw_status st = AW_OK;
    if (sys->len) st = out_put(ctx, len, ctx->lines + sys->off, sys->len);
    bool any = false;
    for (uint32_t i = 0; i < nm; i++) any = any || ctx->keep[i];
    if (st == AW_OK && any) {
        st = out_put(ctx, len, HDR_MEMORIES, strlen(HDR_MEMORIES));
        /* TRUNCATE_MIDDLE's mark goes where the first dropped memory was. */
        bool marked = false;
        for (uint32_t i = 0; i < nm && st == AW_OK; i++) {
            if (ctx->keep[i]) {
                st = out_put(ctx, len, ctx->lines + ctx->pieces[i].off, ctx->pieces[i].len);
            } else if (elided && !marked) {
                st = out_put(ctx, len, ELISION_LINE, strlen(ELISION_LINE));
                marked = true;
            }
        }
    }
    if (st == AW_OK && ne_used) {
        st = out_put(ctx, len, HDR_EXAMPLES, strlen(HDR_EXAMPLES));
        for (uint32_t i = 0; i < ne_used && st == AW_OK; i++)
            st = out_put(ctx, len, ctx->lines + ctx->pieces[nm + i].off, ctx->pieces[nm + i].len);
    }
    if (st == AW_OK) st = out_put(ctx, len, ctx->lines + sit->off, sit->len);
    if (st == AW_OK) ctx->out[*len] = '\0';
    return st;
}

/* ---------------------------------------------------------------- build */

static aw_status reserve_items(aw_context *ctx, uint32_t n) {
    const aw_allocator *a = ctx->desc.allocator;
    aw_status st = rag_grow(a, (void **)&ctx->pieces, &ctx->pieces_cap, n, sizeof *ctx->pieces);
    if (st == AW_OK) st = rag_grow(a, (void **)&ctx->order, &ctx->order_cap, n, sizeof *ctx->order);
    if (st == AW_OK) st = rag_grow(a, (void **)&ctx->sort_tmp, &ctx->sort_tmp_cap, n, sizeof *ctx->sort_tmp);
    if (st == AW_OK) st = rag_grow(a, (void **)&ctx->scores, &ctx->scores_cap, n, sizeof *ctx->scores);
    if (st == AW_OK) st = rag_grow(a, (void **)&ctx->keep, &ctx->keep_cap, n, 1);
    return st;
}

static aw_status check_input(const aw_context_input *in) {
    if (!in->situation) return aw_error(AW_ERR_INVALID_ARG, "aw_context_build: the situation is required");
    if ((in->memory_count && !in->memories) || (in->example_count && !in->examples))
        return aw_error(AW_ERR_INVALID_ARG, "aw_context_build: memory or example array missing for its count");
    for (uint32_t i = 0; i < in->memory_count; i++)
        if (!in->memories[i].text) return aw_error(AW_ERR_INVALID_ARG, "aw_context_build: memory %u has no text", i);
    for (uint32_t i = 0; i < in->example_count; i++)
        if (!in->examples[i].situation || !in->examples[i].plan)
            return aw_error(AW_ERR_INVALID_ARG, "aw_context_build: example %u lacks its situation or plan", i);
    if (in->memory_count > UINT32_MAX - in->example_count)
        return aw_error(AW_ERR_INVALID_ARG, "aw_context_build: too many items");
    return AW_OK;
}

aw_status aw_context_build(aw_context *ctx, const aw_context_input *in, aw_context_result *out) {
    if (!ctx || !in || !out) return aw_error(AW_ERR_INVALID_ARG, "aw_context_build: context, input and result are required");
    *out = (aw_context_result){0};
    aw_status st = check_input(in);
    if (st != AW_OK) return st;
    const int64_t budget = ctx->desc.token_budget;
    st = reserve_items(ctx, in->memory_count + in->example_count);
    if (st != AW_OK) return st;
    ctx->lines_used = 0;

    /* Mandatory parts: "system\n\n" and "Current situation:\nsituation\n". */
    piece sys = {0}, sit = {0};
    bool has_system = in->system && in->system[0];
    if (has_system) {
        size_t start = ctx->lines_used;
        st = put_text(ctx, in->system, false);
        if (st == AW_OK) st = put_raw(ctx, "\n\n", 2);
        if (st == AW_OK) st = finish_piece(ctx, &sys, start);
    }
    size_t start = ctx->lines_used;
    if (st == AW_OK) st = put_raw(ctx, HDR_SITUATION, strlen(HDR_SITUATION));
    if (st == AW_OK) st = put_text(ctx, in->situation, false);
    if (st == AW_OK) st = put_raw(ctx, "\n", 1);
    if (st == AW_OK) st = finish_piece(ctx, &sit, start);
    const piece sit_full = sit;

    /* Memories above min_score, then examples (up to max_examples), rendered and counted. */
    uint32_t nm = 0, ne = 0;
    for (uint32_t i = 0; i < in->memory_count && st == AW_OK; i++) {
        const aw_context_memory *m = &in->memories[i];
        if (ctx->desc.min_score != 0.0f && !(m->score >= ctx->desc.min_score)) continue;
        ctx->scores[nm] = m->score == m->score ? m->score : -3.4e38f; /* NaN ranks last */
        ctx->order[nm] = nm;
        st = render_memory(ctx, m, &ctx->pieces[nm]);
        nm++;
    }
    uint32_t max_ex = ctx->desc.max_examples ? ctx->desc.max_examples : UINT32_MAX;
    for (uint32_t i = 0; i < in->example_count && i < max_ex && st == AW_OK; i++, ne++)
        st = render_example(ctx, &in->examples[i], &ctx->pieces[nm + i]);
    if (st != AW_OK) return st;
    if (ctx->desc.overflow == AW_CONTEXT_KEEP_BEST) sort_by_score(ctx->order, ctx->sort_tmp, ctx->scores, nm);

    /* The mandatory parts alone over budget: the system text gives way first, down to half. */
    bool truncated = false;
    if ((int64_t)sys.tokens + sit.tokens > budget) {
        truncated = true;
        if (has_system) {
            int64_t room = budget - sit.tokens;
            if (room < budget / 2) room = budget / 2;
            if (room > budget - ctx->situation_min) room = budget - ctx->situation_min; /* the situation first */
            if (room <= 0) {
                sys = (piece){0};
            } else if (sys.tokens > room) {
                piece full = sys;
                st = cut_piece(ctx, &full, &sys, "", "\n\n", (uint32_t)room);
                if (st == AW_ERR_CAPACITY) { /* not even the mark: leave the system text out */
                    sys = (piece){0};
                    st = AW_OK;
                }
                if (st != AW_OK) return st;
            }
        }
        st = cut_piece(ctx, &sit_full, &sit, HDR_SITUATION, "\n",
                       (uint32_t)(budget - sys.tokens > 0 ? budget - sys.tokens : 0));
        if (st != AW_OK) return st;
    }

    /* Optional parts share what is left. Counts of pieces do not add up exactly (each piece counted
     * alone gets its own word-boundary marker), so the whole prompt is counted after each try: an
     * excess shrinks the room for the next try, slack grows it while something was left out, and
     * the last room that fitted is used again if growing overshot. */
    int64_t room = budget - sys.tokens - sit.tokens, fit_room = -1;
    uint32_t total = 0, ne_used = 0, last_total = UINT32_MAX;
    size_t len = 0;
    bool elided = false, settle = false;
    for (int round = 0;; round++) {
        bool exhausted = round >= FIT_ROUNDS && !settle;
        if (exhausted) {
            if (fit_room >= 0) {
                room = fit_room;
                settle = true;
            } else {
                room = 0;
            }
        }
        if (room < 0) room = 0;
        int64_t mem_all = ctx->hdr_memories;
        for (uint32_t i = 0; i < nm; i++) mem_all += ctx->pieces[i].tokens;
        int64_t mem_room = (int64_t)((double)room * ctx->desc.memory_share);
        int64_t mem_reserved = nm == 0 ? 0 : mem_all < mem_room ? mem_all : mem_room;
        int64_t ex_room = room - mem_reserved, ex_used = ctx->hdr_examples;
        ne_used = 0;
        while (ne_used < ne && ex_used + ctx->pieces[nm + ne_used].tokens <= ex_room)
            ex_used += ctx->pieces[nm + ne_used++].tokens;
        if (ne_used == 0) ex_used = 0;
        uint32_t mem_tokens = choose_memories(ctx, nm, room - ex_used, &elided);
        st = assemble(ctx, &sys, &sit, nm, ne_used, elided, &len);
        if (st == AW_OK) st = count_tokens(ctx, ctx->out, len, &total);
        if (st != AW_OK) return st;
        if (total <= budget) {
            bool all_in = ne_used == ne && (nm == 0 || (mem_tokens == mem_all && !elided));
            if (settle || all_in || total == budget || total == last_total || round >= FIT_ROUNDS) break;
            fit_room = room;
            last_total = total;
            room += (int64_t)budget - total;
            continue;
        }
        if (fit_room >= 0) { /* growing overshot: go back to the room that fitted */
            room = fit_room;
            settle = true;
            continue;
        }
        if (exhausted) {
            /* Only the mandatory parts are left and together they count more than apart. */
            uint32_t limit = sit.tokens > total - budget ? (uint32_t)(sit.tokens - (total - budget)) : 0;
            st = cut_piece(ctx, &sit_full, &sit, HDR_SITUATION, "\n", limit);
            if (st != AW_OK) return st;
            truncated = true;
            continue;
        }
        room -= (int64_t)total - budget;
    }
    uint32_t used = 0;
    for (uint32_t i = 0; i < nm; i++) used += ctx->keep[i];
    *out = (aw_context_result){
        .text = ctx->out,
        .length = len,
        .tokens = total,
        .memories_used = used,
        .examples_used = ne_used,
        .memories_dropped = nm - used,
        .truncated = truncated,
    };
    return AW_OK;
}
