/* Component registry: run-time registration by name, size, alignment and lifecycle hooks. */
#include "ecs/ecs_internal.h"

#include <string.h>

static uint32_t natural_align(size_t size) {
    uint32_t a = 1;
    while (a < 16 && a < size && !(size & a)) a *= 2;
    return a;
}

/* Looks `name` up in a name-hash map whose values index an array of records with a `name`
 * field; hash collisions probe on with a re-mixed key. */
static uint64_t name_key(uint64_t hash, uint32_t probe) {
    uint64_t k = probe ? aw_hash_u64(hash + probe) : hash;
    return k ? k : 1;
}

aw_component aw_component_lookup(const aw_world *w, const char *name) {
    if (!w || !name) return 0;
    uint64_t h = aw_hash_str(name), v;
    for (uint32_t probe = 0; aw_map_get(&w->component_names, name_key(h, probe), &v); probe++) {
        if (strcmp(w->components[v].name, name) == 0) return (aw_component)v;
    }
    return 0;
}

aw_component aw_component_register(aw_world *w, const aw_component_desc *desc) {
    if (ecs_check_world(w, "aw_component_register")) return 0;
    if (!desc || !desc->name || !desc->name[0]) {
        aw_error(AW_ERR_INVALID_ARG, "aw_component_register: a component needs a non-empty name");
        return 0;
    }
    if (desc->size > UINT32_MAX / 2) {
        aw_error(AW_ERR_INVALID_ARG, "aw_component_register: '%s' size %zu is too large", desc->name,
                 desc->size);
        return 0;
    }
    size_t align = desc->align ? desc->align : natural_align(desc->size);
    if (!ecs_is_pow2(align) || align > ECS_COLUMN_ALIGN) {
        aw_error(AW_ERR_INVALID_ARG, "aw_component_register: '%s' alignment %zu must be a power of two <= 64",
                 desc->name, desc->align);
        return 0;
    }
    if (desc->size % align) {
        aw_error(AW_ERR_INVALID_ARG,
                 "aw_component_register: '%s' size %zu is not a multiple of its alignment %zu", desc->name,
                 desc->size, align);
        return 0;
    }
    if (aw_component_lookup(w, desc->name)) {
        aw_error(AW_ERR_ALREADY_PRESENT, "aw_component_register: '%s' is already registered", desc->name);
        return 0;
    }
    if (w->component_count >= INT16_MAX) {
        aw_error(AW_ERR_CAPACITY, "aw_component_register: too many components");
        return 0;
    }
    aw_component id = w->component_count;
    if (ecs_grow(&w->allocator, (void **)&w->components, &w->component_capacity, id + 1,
                 sizeof(ecs_component_info)))
        return 0;
    uint64_t h = aw_hash_str(desc->name);
    uint32_t probe = 0;
    while (aw_map_get(&w->component_names, name_key(h, probe), NULL)) probe++;
    char *name = ecs_strdup(&w->allocator, desc->name);
    if (!name || aw_map_set(&w->component_names, name_key(h, probe), id)) {
        ecs_strfree(&w->allocator, name);
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_component_register: out of memory registering '%s'", desc->name);
        return 0;
    }
    w->components[id] = (ecs_component_info){
        .name = name,
        .name_hash = h,
        .size = (uint32_t)desc->size,
        .align = (uint32_t)align,
        .ctor = desc->ctor,
        .dtor = desc->dtor,
        .move = desc->move,
        .copy = desc->copy,
        .hook_user = desc->hook_user,
    };
    w->component_count++;
    return id;
}

size_t aw_component_size(const aw_world *w, aw_component c) {
    const ecs_component_info *info = w ? ecs_component(w, c) : NULL;
    return info ? info->size : 0;
}

const char *aw_component_name(const aw_world *w, aw_component c) {
    const ecs_component_info *info = w ? ecs_component(w, c) : NULL;
    return info ? info->name : NULL;
}
