/* Behavior trees defined in data: sequence, selector, parallel, inverter, repeat and cooldown over
 * action and condition leaves. A tick builds a plan: action leaves append steps, and a branch that
 * fails takes its steps back. */
#include "ai/ai_internal.h"

typedef struct bt_run {
    const ai_bt *tree;
    const aw_world_snapshot *snap;
    const ai_senses *senses;
    const aw_agent_type *type;
    float *memory;
    aw_plan_intent *out;
} bt_run;

static ai_bt_status tick(const bt_run *r, uint32_t index, uint32_t depth) {
    const ai_bt_node *n = &r->tree->nodes[index];
    if (depth > AI_MAX_BT_DEPTH) return AI_BT_FAILURE;
    uint8_t mark = r->out->step_count;
    ai_bt_status st = AI_BT_FAILURE;
    switch ((ai_bt_kind)n->kind) {
    case AI_BT_SEQUENCE:
        st = AI_BT_SUCCESS;
        for (uint32_t i = 0; i < n->child_count && st == AI_BT_SUCCESS; i++) st = tick(r, n->children[i], depth + 1);
        break;
    case AI_BT_SELECTOR:
        for (uint32_t i = 0; i < n->child_count && st == AI_BT_FAILURE; i++) st = tick(r, n->children[i], depth + 1);
        break;
    case AI_BT_PARALLEL: {
        uint32_t ok = 0, need = n->param > 0 ? (uint32_t)n->param : n->child_count;
        for (uint32_t i = 0; i < n->child_count; i++) ok += tick(r, n->children[i], depth + 1) == AI_BT_SUCCESS;
        st = ok >= need ? AI_BT_SUCCESS : AI_BT_FAILURE;
        break;
    }
    case AI_BT_INVERTER:
        st = n->child_count && tick(r, n->children[0], depth + 1) == AI_BT_SUCCESS ? AI_BT_FAILURE : AI_BT_SUCCESS;
        break;
    case AI_BT_REPEAT: {
        uint32_t times = n->param > 0 ? (uint32_t)n->param : 1;
        st = n->child_count ? AI_BT_SUCCESS : AI_BT_FAILURE;
        for (uint32_t i = 0; i < times && st == AI_BT_SUCCESS; i++) st = tick(r, n->children[0], depth + 1);
        break;
    }
    case AI_BT_COOLDOWN: {
        /* memory[slot] holds the time the child last succeeded, plus one (0: never). */
        float *last = r->memory && n->slot < AW_AI_MEMORY_SLOTS ? &r->memory[n->slot] : NULL;
        double now = r->snap->time;
        if (last && *last > 0.0f && now + 1.0 - (double)*last < (double)n->param) break;
        st = n->child_count ? tick(r, n->children[0], depth + 1) : AI_BT_FAILURE;
        if (st == AI_BT_SUCCESS && last) *last = (float)(now + 1.0);
        break;
    }
    case AI_BT_ACTION:
        if (r->out->step_count < AW_AI_MAX_STEPS &&
            ai_bind_step(&n->step, r->snap, r->senses, r->type, &r->out->steps[r->out->step_count])) {
            r->out->step_count++;
            st = AI_BT_SUCCESS;
        }
        break;
    case AI_BT_CONDITION: {
        bool value = (r->senses->facts >> n->fact) & 1u;
        st = value == (n->param != 0.0f) ? AI_BT_SUCCESS : AI_BT_FAILURE;
        break;
    }
    default: break;
    }
    if (st == AI_BT_FAILURE) r->out->step_count = mark;
    return st;
}

ai_bt_status ai_bt_tick(const ai_bt *tree, const aw_world_snapshot *snap, const ai_senses *senses,
                        const aw_agent_type *type, float *memory, aw_plan_intent *out) {
    if (!tree->node_count) return AI_BT_FAILURE;
    bt_run r = {tree, snap, senses, type, memory, out};
    return tick(&r, 0, 0);
}
