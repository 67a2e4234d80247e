/* Shared helpers for the AI tests: a world with physics and AI, hand-made snapshots, and the path of
 * the example data files. Header-only (static inline). */
#ifndef AW_AI_TEST_UTIL_H
#define AW_AI_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aw/aw.h"

#define ASSERT_OK(expr)                                                                                  \
    do {                                                                                                 \
        aw_status st__ = (expr);                                                                         \
        if (st__ != AW_OK) fail_msg("%s -> %s: %s", #expr, aw_status_str(st__), aw_last_error());        \
    } while (0)

typedef struct ai_fixture {
    aw_world *world;
    aw_physics *physics;
    aw_ai *ai;
} ai_fixture;

static inline void fixture_init(ai_fixture *f, uint32_t threads) {
    f->world = aw_world_create(&(aw_world_desc){.threads = threads});
    assert_non_null(f->world);
    f->physics = aw_physics_create(f->world, &(aw_physics_desc){.min_x = -100, .min_z = -100, .max_x = 100,
                                                               .max_z = 100, .no_response = true});
    assert_non_null(f->physics);
    f->ai = aw_ai_create(f->world, &(aw_ai_desc){.bounds = {{-100, -100, -100}, {100, 100, 100}}});
    if (!f->ai) fail_msg("aw_ai_create: %s", aw_last_error());
}

static inline void fixture_fini(ai_fixture *f) {
    aw_world_destroy(f->world);
}

/* Where data/ai lives: beside tests/ in the source tree (__FILE__ is the full path in our builds). */
static inline void data_path(char *out, size_t size, const char *name) {
    const char *file = __FILE__;
    const char *cut = strstr(file, "tests/ai/");
    int base = cut ? (int)(cut - file) : 0;
    snprintf(out, size, "%.*sdata/ai/%s", base, file, name);
}

/* A healthy agent of `type` at the origin, team 0, with nobody around. */
static inline void base_snapshot(aw_world_snapshot *s, uint16_t type) {
    memset(s, 0, sizeof *s);
    s->time = 10.0;
    s->frame = 600;
    s->self.id = ((aw_entity)1 << 32) | 1u;
    s->self.hp = s->self.max_hp = 100.0f;
    s->self.morale = 1.0f;
    s->self.ammo = 30;
    s->self.max_ammo = 30;
    s->self.reserve_ammo = 90;
    s->self.explosives = 2;
    s->self.medkits = 1;
    s->self.agent_type = type;
    s->bounds = (aw_aabb){{-100, -100, -100}, {100, 100, 100}};
}

static inline aw_ai_contact *add_contact(aw_world_snapshot *s, bool enemy, aw_entity id, aw_vec3 pos, float hp) {
    aw_ai_contact *c = enemy ? &s->enemies[s->enemy_count++] : &s->allies[s->ally_count++];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->position = pos;
    c->hp = hp;
    float dx = pos.x - s->self.position.x, dy = pos.y - s->self.position.y, dz = pos.z - s->self.position.z;
    c->distance = sqrtf(dx * dx + dy * dy + dz * dz);
    c->last_seen = (float)s->time;
    c->visible = true;
    c->downed = hp <= 0.0f;
    return c;
}

static inline uint16_t type_index(const aw_ai *ai, const char *name) {
    int32_t i = aw_ai_type_find(ai, name);
    if (i < 0) fail_msg("type %s not loaded", name);
    return (uint16_t)i;
}

static inline void load_example(aw_ai *ai, const char *name) {
    char path[1024];
    data_path(path, sizeof path, name);
    ASSERT_OK(aw_ai_load_file(ai, path));
}

#endif /* AW_AI_TEST_UTIL_H */
