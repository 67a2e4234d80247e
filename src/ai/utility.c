/* Utility AI: each option scores the weighted mean of its considerations (response curves over
 * the senses' numeric inputs) times its weight; the best option whose steps bind wins. */
#include "ai/ai_internal.h"

#include <math.h>

static float clamp01(float x) {
    return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; /* NaN -> 0 */
}

float ai_curve_eval(const ai_consideration *c, float x) {
    x = clamp01(x);
    float y;
    switch ((ai_curve_kind)c->curve) {
    case AI_CURVE_LINEAR: y = c->m * (x - c->c) + c->b; break;
    case AI_CURVE_POLYNOMIAL: {
        float t = x - c->c;
        /* Integer exponents (the common case) without powf. */
        float k = c->k;
        if (k == 1.0f) y = t;
        else if (k == 2.0f) y = t * t;
        else if (k == 3.0f) y = t * t * t;
        else y = powf(fabsf(t), k) * (t < 0 ? -1.0f : 1.0f);
        y = c->m * y + c->b;
        break;
    }
    case AI_CURVE_LOGISTIC: y = c->k / (1.0f + expf(-c->m * (x - c->c))) + c->b; break;
    case AI_CURVE_STEP: y = x >= c->c ? c->m : c->b; break;
    default: y = 0.0f; break;
    }
    return clamp01(y);
}

static float option_score(const ai_utility_option *o, const ai_senses *senses) {
    float sum = 0.0f, wsum = 0.0f;
    for (uint32_t i = 0; i < o->consider_count; i++) {
        const ai_consideration *c = &o->consider[i];
        float v = ai_curve_eval(c, senses->inputs[c->input]);
        /* A consideration at zero vetoes the option (the product rule's one useful property). */
        if (v <= 0.0f) return 0.0f;
        sum += c->weight * v;
        wsum += c->weight;
    }
    return o->weight * (wsum > 0.0f ? sum / wsum : 1.0f);
}

int ai_utility_select(const ai_utility_set *set, const ai_senses *senses, float *scores) {
    for (uint32_t i = 0; i < set->option_count; i++) scores[i] = option_score(&set->options[i], senses);
    return ai_utility_next(scores, set->option_count);
}

int ai_utility_next(const float *scores, uint32_t count) {
    int best = -1;
    float best_score = 0.0f;
    for (uint32_t i = 0; i < count; i++)
        if (scores[i] > best_score) best_score = scores[i], best = (int)i;
    return best;
}
