/* Resources: typed singletons owned by the world, looked up by id or name. */
#include "ecs/ecs_internal.h"

#include <string.h>

static const ecs_resource_info *resource(const aw_world *w, aw_resource r, const char *fn) {
    if (ecs_check_world(w, fn)) return NULL;
    if (r == 0 || r >= w->resource_count) {
        aw_error(AW_ERR_NOT_FOUND, "%s: resource %u is not registered", fn, r);
        return NULL;
    }
    return &w->resources[r];
}

aw_resource aw_resource_lookup(const aw_world *w, const char *name) {
    if (!w || !name) return 0;
    for (uint32_t i = 1; i < w->resource_count; i++)
        if (strcmp(w->resources[i].name, name) == 0) return i;
    return 0;
}

aw_resource aw_resource_register(aw_world *w, const aw_resource_desc *d) {
    if (ecs_check_world(w, "aw_resource_register")) return 0;
    if (!d || !d->name || !d->name[0] || d->size == 0 || d->size > UINT32_MAX / 2) {
        aw_error(AW_ERR_INVALID_ARG, "aw_resource_register: needs a name and a size > 0");
        return 0;
    }
    size_t align = d->align ? d->align : 16;
    if (!ecs_is_pow2(align) || align > ECS_COLUMN_ALIGN) {
        aw_error(AW_ERR_INVALID_ARG, "aw_resource_register: '%s' alignment %zu must be a power of two <= 64",
                 d->name, d->align);
        return 0;
    }
    if (aw_resource_lookup(w, d->name)) {
        aw_error(AW_ERR_ALREADY_PRESENT, "aw_resource_register: '%s' is already registered", d->name);
        return 0;
    }
    if (ecs_grow(&w->allocator, (void **)&w->resources, &w->resource_capacity, w->resource_count + 1,
                 sizeof(ecs_resource_info)))
        return 0;
    char *name = ecs_strdup(&w->allocator, d->name);
    void *data = aw_alloc(&w->allocator, d->size, align);
    if (!name || !data) {
        ecs_strfree(&w->allocator, name);
        aw_free(&w->allocator, data, d->size);
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_resource_register: out of memory for '%s'", d->name);
        return 0;
    }
    if (d->initial)
        memcpy(data, d->initial, d->size);
    else
        memset(data, 0, d->size);
    w->resources[w->resource_count] = (ecs_resource_info){.name = name,
                                                          .size = (uint32_t)d->size,
                                                          .align = (uint32_t)align,
                                                          .data = data,
                                                          .dtor = d->dtor,
                                                          .hook_user = d->hook_user};
    return w->resource_count++;
}

void *aw_resource_get(aw_world *w, aw_resource r) {
    const ecs_resource_info *info = resource(w, r, "aw_resource_get");
    if (!info || ECS_CHECK_RESOURCE_ACCESS(w, r, "aw_resource_get")) return NULL;
    return info->data;
}

aw_status aw_resource_set(aw_world *w, aw_resource r, const void *data, size_t size) {
    const ecs_resource_info *info = resource(w, r, "aw_resource_set");
    if (!info) return aw_last_status();
    if (ECS_CHECK_RESOURCE_ACCESS(w, r, "aw_resource_set")) return AW_ERR_ACCESS;
    if (size != info->size)
        return aw_error(AW_ERR_SIZE_MISMATCH, "aw_resource_set: '%s' is %u bytes, got %zu", info->name,
                        info->size, size);
    if (!data) return aw_error(AW_ERR_INVALID_ARG, "aw_resource_set: data is NULL");
    memcpy(info->data, data, size);
    return AW_OK;
}

void ecs_resources_free(aw_world *w) {
    for (uint32_t i = 1; i < w->resource_count; i++) {
        ecs_resource_info *r = &w->resources[i];
        if (r->dtor) r->dtor(r->data, 1, r->hook_user);
        aw_free(&w->allocator, r->data, r->size);
        ecs_strfree(&w->allocator, r->name);
    }
    aw_free(&w->allocator, w->resources, (size_t)w->resource_capacity * sizeof(ecs_resource_info));
}
