/* Events: typed, double-buffered queues. A frame's events stay visible for that frame and the
 * next; sequence numbers let cursors read each event exactly once. */
#include "ecs/ecs_internal.h"

#include <stdint.h>
#include <string.h>

static ecs_event_info *event_type(const aw_world *w, aw_event_type type, const char *fn) {
    if (ecs_check_world(w, fn)) return NULL;
    if (type == 0 || type >= w->event_count) {
        aw_error(AW_ERR_NOT_FOUND, "%s: event type %u is not registered", fn, type);
        return NULL;
    }
    return &w->events[type];
}

aw_event_type aw_event_register(aw_world *w, const aw_event_desc *d) {
    if (ecs_check_world(w, "aw_event_register")) return 0;
    if (!d || !d->name || !d->name[0] || d->size == 0 || d->size > UINT32_MAX / 4) {
        aw_error(AW_ERR_INVALID_ARG, "aw_event_register: needs a name and a size > 0");
        return 0;
    }
    size_t align = d->align ? d->align : 8;
    if (!ecs_is_pow2(align) || align > ECS_COLUMN_ALIGN) {
        aw_error(AW_ERR_INVALID_ARG, "aw_event_register: '%s' alignment %zu must be a power of two <= 64",
                 d->name, d->align);
        return 0;
    }
    for (uint32_t i = 1; i < w->event_count; i++) {
        if (strcmp(w->events[i].name, d->name) == 0) {
            aw_error(AW_ERR_ALREADY_PRESENT, "aw_event_register: '%s' is already registered", d->name);
            return 0;
        }
    }
    if (ecs_grow(&w->allocator, (void **)&w->events, &w->event_capacity, w->event_count + 1,
                 sizeof(ecs_event_info)))
        return 0;
    char *name = ecs_strdup(&w->allocator, d->name);
    if (!name) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_event_register: out of memory");
        return 0;
    }
    w->events[w->event_count] = (ecs_event_info){.name = name,
                                                 .size = (uint32_t)d->size,
                                                 .stride = ecs_align_up((uint32_t)d->size, (uint32_t)align),
                                                 .align = (uint32_t)align};
    return w->event_count++;
}

/* Grows a queue by doubling (from 16) until it holds `need` events. */
static aw_status queue_grow(aw_world *w, ecs_event_info *ev, ecs_event_buffer *b, uint64_t need, const char *fn) {
    if (need <= b->capacity) return AW_OK;
    uint64_t cap = b->capacity ? b->capacity : 16;
    while (cap < need) cap *= 2;
    if (cap > UINT32_MAX || cap * ev->stride > SIZE_MAX / 2)
        return aw_error(AW_ERR_CAPACITY, "%s: %llu '%s' events do not fit a queue", fn, (unsigned long long)need,
                        ev->name);
    void *p = aw_realloc(&w->allocator, b->data, (size_t)b->capacity * ev->stride, (size_t)cap * ev->stride,
                         ev->align > 16 ? ev->align : 16);
    if (!p) return aw_error(AW_ERR_OUT_OF_MEMORY, "%s: out of memory queueing '%s'", fn, ev->name);
    b->data = p;
    b->capacity = (uint32_t)cap;
    return AW_OK;
}

aw_status aw_event_reserve(aw_world *w, aw_event_type type, uint32_t count) {
    ecs_event_info *ev = event_type(w, type, "aw_event_reserve");
    if (!ev) return aw_last_status();
    return queue_grow(w, ev, &ev->buffers[ev->older ^ 1], count, "aw_event_reserve");
}

aw_status aw_event_send(aw_world *w, aw_event_type type, const void *data, size_t size) {
    ecs_event_info *ev = event_type(w, type, "aw_event_send");
    if (!ev) return aw_last_status();
    if (!data) return aw_error(AW_ERR_INVALID_ARG, "aw_event_send: data is NULL");
    if (size != ev->size)
        return aw_error(AW_ERR_SIZE_MISMATCH, "aw_event_send: '%s' events are %u bytes, got %zu", ev->name,
                        ev->size, size);
    ecs_event_buffer *b = &ev->buffers[ev->older ^ 1];
    aw_status st = queue_grow(w, ev, b, (uint64_t)b->count + 1, "aw_event_send");
    if (st) return st;
    memcpy(b->data + (size_t)b->count * ev->stride, data, size);
    b->count++;
    return AW_OK;
}

uint32_t aw_event_count(const aw_world *w, aw_event_type type) {
    if (!w || type == 0 || type >= w->event_count) return 0;
    const ecs_event_info *ev = &w->events[type];
    return ev->buffers[0].count + ev->buffers[1].count;
}

const void *aw_event_get(const aw_world *w, aw_event_type type, uint32_t index) {
    const ecs_event_info *ev = event_type(w, type, "aw_event_get");
    if (!ev) return NULL;
    const ecs_event_buffer *older = &ev->buffers[ev->older], *current = &ev->buffers[ev->older ^ 1];
    if (index < older->count) return older->data + (size_t)index * ev->stride;
    index -= older->count;
    if (index < current->count) return current->data + (size_t)index * ev->stride;
    aw_error(AW_ERR_INVALID_ARG, "aw_event_get: index out of range");
    return NULL;
}

const void *aw_event_read(const aw_world *w, aw_event_type type, aw_event_cursor *cursor) {
    if (!cursor || !w || type == 0 || type >= w->event_count) return NULL;
    const ecs_event_info *ev = &w->events[type];
    if (cursor->next_seq < ev->older_seq) cursor->next_seq = ev->older_seq;
    uint64_t index = cursor->next_seq - ev->older_seq;
    if (index >= aw_event_count(w, type)) return NULL;
    cursor->next_seq++;
    return aw_event_get(w, type, (uint32_t)index);
}

void aw_world_end_frame(aw_world *w) {
    if (!w) return;
    for (uint32_t i = 1; i < w->event_count; i++) {
        ecs_event_info *ev = &w->events[i];
        ev->older_seq += ev->buffers[ev->older].count;
        ev->buffers[ev->older].count = 0;
        ev->older ^= 1;
    }
}

void ecs_events_free(aw_world *w) {
    for (uint32_t i = 1; i < w->event_count; i++) {
        ecs_event_info *ev = &w->events[i];
        for (int k = 0; k < 2; k++)
            aw_free(&w->allocator, ev->buffers[k].data, (size_t)ev->buffers[k].capacity * ev->stride);
        ecs_strfree(&w->allocator, ev->name);
    }
    aw_free(&w->allocator, w->events, (size_t)w->event_capacity * sizeof(ecs_event_info));
}
