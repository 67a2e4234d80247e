/* The README's example, built and run by the test suite so the documentation stays true. */
/* clang-format off */
#include <aw/aw.h>

typedef struct { float x, y, z; } Position;
typedef struct { float x, y, z; } Velocity;

int main(void) {
    aw_world *world = aw_world_create(&(aw_world_desc){0});
    aw_component pos = AW_COMPONENT(world, Position);
    aw_component vel = AW_COMPONENT(world, Velocity);

    aw_entity e = aw_entity_create(world);
    AW_SET(world, e, pos, Position, {0, 0, 0});
    AW_SET(world, e, vel, Velocity, {1, 0, 2});

    aw_query *move = aw_query_create(world, &(aw_query_desc){AW_TERMS(AW_WRITE(pos), AW_READ(vel))});
    aw_iter it = aw_query_iter(move);
    while (aw_iter_next(&it)) {            /* one chunk at a time */
        Position *p = AW_COLUMN(&it, Position, 0);
        const Velocity *v = AW_COLUMN(&it, Velocity, 1);
        for (uint32_t i = 0; i < it.count; i++) {
            p[i].x += v[i].x; p[i].y += v[i].y; p[i].z += v[i].z;
        }
    }
    aw_world_destroy(world);
}
