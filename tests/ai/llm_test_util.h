/* Shared by the LLM orchestrator tests: a snapshot with known contacts (E1 alive, E2 down, A1 down,
 * A2 alive, a commander) inside bounds of +-50 m. */
#ifndef AW_TESTS_AI_LLM_TEST_UTIL_H
#define AW_TESTS_AI_LLM_TEST_UTIL_H

#include "aw/ai_llm.h"

static inline aw_world_snapshot llm_test_snapshot(void) {
    aw_world_snapshot s = {0};
    s.time = 12.5;
    s.self = (aw_ai_self){.id = 100, .position = {1, 0, 2}, .hp = 40, .max_hp = 100, .morale = 0.6f,
                          .ammo = 3, .max_ammo = 30, .reserve_ammo = 60, .explosives = 1};
    s.self.cooldowns[AW_COOLDOWN_ATTACK] = 0.5f;
    s.enemies[0] = (aw_ai_contact){.id = 201, .position = {10, 0, 5}, .hp = 80, .distance = 9.5f, .last_seen = 12.5f,
                                   .visible = true, .in_cover = true};
    s.enemies[1] = (aw_ai_contact){.id = 202, .position = {-20, 0, 5}, .hp = 0, .distance = 21, .last_seen = 10,
                                   .downed = true};
    s.enemy_count = 2;
    s.allies[0] = (aw_ai_contact){.id = 301, .position = {2, 0, 3}, .hp = 0, .distance = 1.4f, .last_seen = 12.5f,
                                  .downed = true, .visible = true};
    s.allies[1] = (aw_ai_contact){.id = 302, .position = {5, 0, -3}, .hp = 90, .distance = 6, .last_seen = 12.5f,
                                  .visible = true};
    s.ally_count = 2;
    s.commander = (aw_ai_commander){.id = 400, .position = {0, 0, 0}, .order = AW_ORDER_ADVANCE,
                                    .order_position = {30, 0, 10}};
    s.objective = (aw_ai_objective){.kind = AW_OBJECTIVE_HOLD, .position = {0, 0, 20}, .radius = 8};
    s.pois[0] = (aw_ai_poi){.kind = AW_POI_COVER, .position = {4, 0, -2}};
    s.poi_count = 1;
    s.bounds = (aw_aabb){{-50, -10, -50}, {50, 10, 50}};
    return s;
}

#endif /* AW_TESTS_AI_LLM_TEST_UTIL_H */
