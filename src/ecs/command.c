/* Command buffers: structural changes recorded as a compact byte stream and applied later, in
 * recording order, at an explicit flush point. */
#include "ecs/ecs_internal.h"

#include <stdio.h>
#include <string.h>

enum { CMD_CREATE = 1, CMD_DESTROY, CMD_ADD, CMD_REMOVE, CMD_SET };

typedef struct cmd_header {
    uint32_t op;
    aw_component component;
    aw_entity entity;
    uint32_t size;   /* payload bytes following the header */
    uint32_t stride; /* header + payload, rounded up to 8 */
} cmd_header;

/* Provisional ids (generation 0, index = creation number in this buffer) let parallel tasks
 * create entities without touching shared state; apply assigns real ids in recording order, so
 * the ids do not depend on which thread ran which task. */
struct aw_cmd_buffer {
    aw_world *world;
    uint8_t *data;
    uint32_t size;
    uint32_t capacity;
    uint32_t count;
    bool provisional;    /* creates return provisional ids */
    bool applied;        /* `resolved` describes the last apply; cleared by the next record */
    uint32_t created;    /* provisional ids handed out since the last apply */
    aw_entity *resolved; /* provisional index - 1 -> real id after apply */
    uint32_t resolved_capacity;
};

/* First capacities: a system's piece buffers each grow on their own, so starting at 8 bytes made
 * them cross their own high-water marks (a reallocation inside a frame) long after warm-up;
 * starting at a few KiB, a piece's usual commands (a few dozen spawns) never reallocate. */
#define CMD_FIRST_BYTES 4096u
#define CMD_FIRST_CREATES 128u

aw_cmd_buffer *ecs_cmd_buffer_new(aw_world *w, bool provisional) {
    aw_cmd_buffer *b = aw_alloc(&w->allocator, sizeof *b, _Alignof(aw_cmd_buffer));
    if (!b) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_cmd_buffer_create: out of memory");
        return NULL;
    }
    *b = (aw_cmd_buffer){.world = w, .provisional = provisional};
    return b;
}

aw_cmd_buffer *aw_cmd_buffer_create(aw_world *w) {
    if (ecs_check_world(w, "aw_cmd_buffer_create")) return NULL;
    return ecs_cmd_buffer_new(w, false);
}

void aw_cmd_buffer_destroy(aw_cmd_buffer *b) {
    if (!b) return;
    aw_cmd_buffer_reset(b);
    aw_free(&b->world->allocator, b->data, b->capacity);
    aw_free(&b->world->allocator, b->resolved, (size_t)b->resolved_capacity * sizeof(aw_entity));
    aw_free(&b->world->allocator, b, sizeof *b);
}

static bool is_provisional(aw_entity e) {
    return AW_ENTITY_GENERATION(e) == 0 && AW_ENTITY_INDEX(e) != 0;
}

aw_entity aw_cmd_resolve(const aw_cmd_buffer *b, aw_entity e) {
    if (!b || !is_provisional(e)) return e;
    uint32_t i = AW_ENTITY_INDEX(e);
    return b->applied && i <= b->created ? b->resolved[i - 1] : AW_ENTITY_NULL;
}

static aw_status push(aw_cmd_buffer *b, uint32_t op, aw_entity e, aw_component c, const void *data,
                      size_t size) {
    uint64_t stride = (sizeof(cmd_header) + size + 7) & ~(uint64_t)7;
    if ((uint64_t)b->size + stride > UINT32_MAX)
        return aw_error(AW_ERR_CAPACITY, "command buffer exceeds 4 GiB");
    uint32_t need = b->size + (uint32_t)stride;
    aw_status s = ecs_grow(&b->world->allocator, (void **)&b->data, &b->capacity,
                           need > CMD_FIRST_BYTES ? need : CMD_FIRST_BYTES, 1);
    if (s) return s;
    if (b->applied) {
        b->applied = false;
        b->created = 0;
    }
    cmd_header h = {
        .op = op, .component = c, .entity = e, .size = (uint32_t)size, .stride = (uint32_t)stride};
    memcpy(b->data + b->size, &h, sizeof h);
    if (size) memcpy(b->data + b->size + sizeof h, data, size);
    b->size += (uint32_t)stride;
    b->count++;
    return AW_OK;
}

size_t aw_cmd_size(size_t payload) {
    return (sizeof(cmd_header) + payload + 7) & ~(size_t)7;
}

aw_status aw_cmd_buffer_reserve(aw_cmd_buffer *b, size_t bytes, uint32_t creates) {
    if (!b) return aw_error(AW_ERR_INVALID_ARG, "aw_cmd_buffer_reserve: buffer is NULL");
    if (bytes > UINT32_MAX) return aw_error(AW_ERR_CAPACITY, "aw_cmd_buffer_reserve: %zu bytes exceed 4 GiB", bytes);
    aw_status s = ecs_grow(&b->world->allocator, (void **)&b->data, &b->capacity, (uint32_t)bytes, 1);
    if (!s && b->provisional)
        s = ecs_grow(&b->world->allocator, (void **)&b->resolved, &b->resolved_capacity, creates, sizeof(aw_entity));
    return s;
}

aw_entity aw_cmd_create(aw_cmd_buffer *b) {
    if (!b) {
        aw_error(AW_ERR_INVALID_ARG, "aw_cmd_create: buffer is NULL");
        return AW_ENTITY_NULL;
    }
    if (b->provisional) {
        if (b->applied) b->created = 0;
        if (b->created == UINT32_MAX) {
            aw_error(AW_ERR_CAPACITY, "aw_cmd_create: too many creations in one buffer");
            return AW_ENTITY_NULL;
        }
        aw_entity e = (aw_entity)(b->created + 1);
        if (push(b, CMD_CREATE, e, 0, NULL, 0)) return AW_ENTITY_NULL;
        b->created++;
        return e;
    }
    aw_entity e = ecs_reserve_id(b->world);
    if (push(b, CMD_CREATE, e, 0, NULL, 0)) {
        ecs_release_reserved(b->world, e);
        return AW_ENTITY_NULL;
    }
    return e;
}

static aw_status record(aw_cmd_buffer *b, uint32_t op, aw_entity e, aw_component c, const void *data,
                        size_t size, const char *fn) {
    if (!b) return aw_error(AW_ERR_INVALID_ARG, "%s: buffer is NULL", fn);
    if (e == AW_ENTITY_NULL) return ecs_stale(e, fn);
    if (op != CMD_DESTROY) {
        aw_status s = ecs_check_component(b->world, c, fn);
        if (s) return s;
    }
    if (op == CMD_SET) {
        const ecs_component_info *info = &b->world->components[c];
        if (size != info->size)
            return aw_error(AW_ERR_SIZE_MISMATCH, "%s: '%s' is %u bytes, got %zu", fn, info->name, info->size,
                            size);
        if (size && !data) return aw_error(AW_ERR_INVALID_ARG, "%s: data is NULL", fn);
    }
    return push(b, op, e, c, data, size);
}

aw_status aw_cmd_destroy(aw_cmd_buffer *b, aw_entity e) {
    return record(b, CMD_DESTROY, e, 0, NULL, 0, "aw_cmd_destroy");
}
aw_status aw_cmd_add(aw_cmd_buffer *b, aw_entity e, aw_component c) {
    return record(b, CMD_ADD, e, c, NULL, 0, "aw_cmd_add");
}
aw_status aw_cmd_remove(aw_cmd_buffer *b, aw_entity e, aw_component c) {
    return record(b, CMD_REMOVE, e, c, NULL, 0, "aw_cmd_remove");
}
aw_status aw_cmd_set(aw_cmd_buffer *b, aw_entity e, aw_component c, const void *data, size_t size) {
    return record(b, CMD_SET, e, c, data, size, "aw_cmd_set");
}

uint32_t aw_cmd_buffer_count(const aw_cmd_buffer *b) {
    return b ? b->count : 0;
}

static aw_status apply_one(aw_cmd_buffer *b, const cmd_header *h, const void *payload) {
    aw_world *w = b->world;
    aw_entity e = h->entity;
    if (b->provisional && is_provisional(e)) {
        uint32_t i = AW_ENTITY_INDEX(e);
        if (h->op == CMD_CREATE) {
            b->resolved[i - 1] = aw_entity_create(w);
            return b->resolved[i - 1] ? AW_OK : aw_last_status();
        }
        e = i <= b->created ? b->resolved[i - 1] : AW_ENTITY_NULL;
    }
    switch (h->op) {
    case CMD_CREATE: {
        aw_status s = ecs_realize(w, e);
        if (s == AW_ERR_OUT_OF_MEMORY) ecs_release_reserved(w, e);
        return s;
    }
    case CMD_DESTROY:
        return aw_entity_destroy(w, e);
    case CMD_ADD:
        return aw_entity_add(w, e, h->component);
    case CMD_REMOVE:
        return aw_entity_remove(w, e, h->component);
    default:
        return aw_entity_set(w, e, h->component, payload, h->size);
    }
}

#define SPAWN_MAX 16

/* A create followed by adds and sets of the same entity (the usual spawn) becomes one placement
 * in the final table instead of a table move per component. Returns the bytes consumed, or 0
 * when the run does not qualify (then the commands apply one by one). */
static uint32_t apply_spawn(aw_cmd_buffer *b, uint32_t at, aw_status *status) {
    aw_world *w = b->world;
    cmd_header h;
    memcpy(&h, b->data + at, sizeof h);
    aw_component comps[SPAWN_MAX];
    const void *data[SPAWN_MAX];
    uint32_t n = 0, end = at + h.stride;
    while (end < b->size && n < SPAWN_MAX) {
        cmd_header next;
        memcpy(&next, b->data + end, sizeof next);
        if (next.entity != h.entity || (next.op != CMD_ADD && next.op != CMD_SET)) break;
        for (uint32_t i = 0; i < n; i++)
            if (comps[i] == next.component) return 0; /* repeated component: keep exact order semantics */
        comps[n] = next.component;
        data[n++] = next.op == CMD_SET ? b->data + end + sizeof next : NULL;
        end += next.stride;
    }
    if (n == 0) return 0;
    bool provisional = b->provisional && is_provisional(h.entity);
    aw_entity e = AW_ENTITY_NULL;
    *status = ecs_spawn(w, provisional ? AW_ENTITY_NULL : h.entity, comps, data, n, &e);
    if (provisional)
        b->resolved[AW_ENTITY_INDEX(h.entity) - 1] = *status ? AW_ENTITY_NULL : e;
    else if (*status == AW_ERR_OUT_OF_MEMORY)
        ecs_release_reserved(w, h.entity);
    return end - at;
}

aw_status aw_cmd_buffer_apply(aw_cmd_buffer *b) {
    if (!b) return aw_error(AW_ERR_INVALID_ARG, "aw_cmd_buffer_apply: buffer is NULL");
    aw_world *w = b->world;
    if (ecs_locked(w)) return aw_error(AW_ERR_LOCKED, "aw_cmd_buffer_apply: a query is iterating");
    if (b->provisional && b->created > b->resolved_capacity &&
        ecs_grow(&w->allocator, (void **)&b->resolved, &b->resolved_capacity,
                 b->created > CMD_FIRST_CREATES ? b->created : CMD_FIRST_CREATES, sizeof(aw_entity)))
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_cmd_buffer_apply: out of memory (nothing applied)");
    if (b->provisional && b->created) memset(b->resolved, 0, (size_t)b->created * sizeof(aw_entity));
    aw_status first = AW_OK;
    char first_message[256] = "";
    uint32_t failed = 0, total = b->count;
    for (uint32_t at = 0; at < b->size;) {
        cmd_header h;
        memcpy(&h, b->data + at, sizeof h);
        aw_status s = AW_OK;
        uint32_t used = h.op == CMD_CREATE ? apply_spawn(b, at, &s) : 0;
        if (!used) {
            s = apply_one(b, &h, b->data + at + sizeof h);
            used = h.stride;
        }
        if (s != AW_OK && failed++ == 0) {
            first = s;
            snprintf(first_message, sizeof first_message, "%s", aw_last_error());
        }
        at += used;
    }
    b->size = 0;
    b->count = 0;
    b->applied = true;
    if (failed)
        return aw_error(first, "aw_cmd_buffer_apply: %u of %u commands skipped; first: %s", failed, total,
                        first_message);
    return AW_OK;
}

void aw_cmd_buffer_reset(aw_cmd_buffer *b) {
    if (!b) return;
    for (uint32_t at = 0; at < b->size;) {
        cmd_header h;
        memcpy(&h, b->data + at, sizeof h);
        if (h.op == CMD_CREATE && !is_provisional(h.entity)) ecs_release_reserved(b->world, h.entity);
        at += h.stride;
    }
    b->size = 0;
    b->count = 0;
    b->created = 0;
    b->applied = false;
}
