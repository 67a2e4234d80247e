/* Entities: the id index (generations, recycling, lock-free reservation) and the per-entity API
 * (create, destroy, add, remove, set, get, has, bulk create). */
#include "ecs/ecs_internal.h"

#include <string.h>

#define TYPE_STACK_MAX 128

static aw_entity make_id(uint32_t index, uint32_t generation) {
    return ((aw_entity)generation << 32) | index;
}

aw_status ecs_stale(aw_entity e, const char *fn) {
    if (e == AW_ENTITY_NULL) return aw_error(AW_ERR_STALE_ENTITY, "%s: entity is null", fn);
    return aw_error(AW_ERR_STALE_ENTITY, "%s: entity %u (generation %u) is not alive", fn, AW_ENTITY_INDEX(e),
                    AW_ENTITY_GENERATION(e));
}

static aw_status check_locked(const aw_world *w, const char *fn) {
    if (AW_UNLIKELY(ecs_locked(w)))
        return aw_error(AW_ERR_LOCKED, "%s: structural change while a query iterates (use a command buffer)",
                        fn);
    return AW_OK;
}

/* ---- the id index */

aw_status ecs_grow_records(aw_world *w, uint32_t count) {
    uint32_t pages = (uint32_t)(((uint64_t)count + ECS_RECORD_PAGE_SIZE - 1) >> ECS_RECORD_PAGE_BITS);
    if (pages > w->record_page_count) {
        if (ecs_grow(&w->allocator, (void **)&w->record_pages, &w->record_page_capacity, pages,
                     sizeof(ecs_record *)))
            return AW_ERR_OUT_OF_MEMORY;
        while (w->record_page_count < pages) {
            ecs_record *page = aw_pool_acquire(&w->record_pool);
            if (!page) return AW_ERR_OUT_OF_MEMORY;
            w->record_pages[w->record_page_count++] = page;
        }
    }
    uint32_t free_pages = (uint32_t)(((uint64_t)count + ECS_FREE_PAGE_SIZE - 1) >> ECS_FREE_PAGE_BITS);
    if (free_pages > w->free_page_count) {
        if (ecs_grow(&w->allocator, (void **)&w->free_pages, &w->free_page_capacity, free_pages,
                     sizeof(uint32_t *)))
            return AW_ERR_OUT_OF_MEMORY;
        while (w->free_page_count < free_pages) {
            uint32_t *page = aw_pool_acquire(&w->record_pool);
            if (!page) return AW_ERR_OUT_OF_MEMORY;
            w->free_pages[w->free_page_count++] = page;
        }
    }
    for (uint32_t i = w->record_count; i < count; i++)
        *ecs_record_at(w, i) = (ecs_record){.generation = 1, .table = ECS_NO_TABLE};
    if (count > w->record_count) w->record_count = count;
    return AW_OK;
}

static int64_t free_top(aw_world *w) {
    int64_t top = atomic_load_explicit(&w->free_top, memory_order_relaxed);
    return top > 0 ? top : 0;
}

static void free_push(aw_world *w, uint32_t index) {
    int64_t top = free_top(w);
    *ecs_free_slot(w, (uint32_t)top) = index;
    atomic_store_explicit(&w->free_top, top + 1, memory_order_relaxed);
}

void ecs_free_entity(aw_world *w, uint32_t index) {
    ecs_record *rec = ecs_record_at(w, index);
    rec->table = ECS_NO_TABLE;
    rec->generation = rec->generation == UINT32_MAX ? 1 : rec->generation + 1;
    free_push(w, index);
}

/* Any thread may reserve while no structural change runs: the free stack is only read here,
 * and each reservation claims a distinct slot or a distinct fresh index. */
aw_entity ecs_reserve_id(aw_world *w) {
    int64_t top = atomic_fetch_sub_explicit(&w->free_top, 1, memory_order_relaxed);
    if (top > 0) {
        uint32_t index = *ecs_free_slot(w, (uint32_t)(top - 1));
        return make_id(index, ecs_record_at(w, index)->generation);
    }
    uint32_t index = atomic_fetch_add_explicit(&w->next_index, 1, memory_order_relaxed);
    return make_id(index, 1);
}

/* The single-threaded form of ecs_reserve_id, without atomic read-modify-writes. */
static aw_entity take_id(aw_world *w) {
    int64_t top = free_top(w);
    if (top > 0) {
        atomic_store_explicit(&w->free_top, top - 1, memory_order_relaxed);
        uint32_t index = *ecs_free_slot(w, (uint32_t)(top - 1));
        return make_id(index, ecs_record_at(w, index)->generation);
    }
    uint32_t index = atomic_load_explicit(&w->next_index, memory_order_relaxed);
    atomic_store_explicit(&w->next_index, index + 1, memory_order_relaxed);
    return make_id(index, 1);
}

void ecs_release_reserved(aw_world *w, aw_entity e) {
    uint32_t index = AW_ENTITY_INDEX(e);
    if (index == 0 || ecs_ensure_records(w, index + 1)) return; /* out of memory: the index is lost */
    ecs_record *rec = ecs_record_at(w, index);
    if (rec->table != ECS_NO_TABLE || rec->generation != AW_ENTITY_GENERATION(e)) return;
    atomic_store_explicit(&w->free_top, free_top(w), memory_order_relaxed);
    ecs_free_entity(w, index);
}

static void place(aw_entity e, ecs_record *rec, ecs_table *t) {
    rec->table = t->id;
    ecs_table_append_row(t, e, &rec->chunk, &rec->row);
}

aw_status ecs_realize(aw_world *w, aw_entity e) {
    return ecs_spawn(w, e, NULL, NULL, 0, NULL);
}

static void init_column(const ecs_component_info *info, void *dst, const void *data);

/* Creates an entity straight in the table of its initial components: one placement instead of
 * one table move per component. `reserved` is an id from ecs_reserve_id to make alive, or
 * AW_ENTITY_NULL for a new id. Components must be distinct and registered. */
aw_status ecs_spawn(aw_world *w, aw_entity reserved, const aw_component *comps, const void *const *data,
                    uint32_t n, aw_entity *out) {
    ecs_table *t = w->tables[0];
    for (uint32_t i = 0; i < n; i++)
        if (!(t = ecs_table_traverse(w, t, comps[i], false))) return AW_ERR_OUT_OF_MEMORY;
    uint32_t index = AW_ENTITY_INDEX(reserved);
    uint32_t next = atomic_load_explicit(&w->next_index, memory_order_relaxed);
    if (reserved && (index == 0 || index >= next)) return ecs_stale(reserved, "create");
    if (!reserved && next == UINT32_MAX) return aw_error(AW_ERR_CAPACITY, "entity index space exhausted");
    uint32_t records = reserved ? index + 1 : (free_top(w) ? w->record_count : next + 1);
    if (ecs_ensure_records(w, records) || ecs_table_reserve(w, t, 1))
        return aw_error(AW_ERR_OUT_OF_MEMORY, "out of memory creating an entity");
    aw_entity e = reserved;
    if (reserved) {
        ecs_record *rec = ecs_record_at(w, index);
        if (rec->table != ECS_NO_TABLE || rec->generation != AW_ENTITY_GENERATION(e))
            return ecs_stale(e, "create");
        atomic_store_explicit(&w->free_top, free_top(w), memory_order_relaxed);
    } else {
        e = take_id(w);
    }
    ecs_record *rec = ecs_record_at(w, AW_ENTITY_INDEX(e));
    place(e, rec, t);
    for (uint32_t c = 0; c < t->column_count; c++) {
        uint32_t i = 0;
        while (comps[i] != t->columns[c].component) i++;
        init_column(&w->components[comps[i]], ecs_column_ptr(t, c, rec->chunk, rec->row),
                    data ? data[i] : NULL);
    }
    w->alive_count++;
    if (out) *out = e;
    return AW_OK;
}

/* ---- row moves between tables */

/* New component values are always constructed (ctor, else zero) and, when data is given,
 * assigned (copy hook, else bytes), so ctor and dtor calls stay balanced. */
static void init_column(const ecs_component_info *info, void *dst, const void *data) {
    if (info->ctor) info->ctor(dst, 1, info->hook_user);
    if (data) {
        if (info->copy)
            info->copy(dst, data, 1, info->hook_user);
        else
            ecs_copy(dst, data, info->size);
    } else if (!info->ctor) {
        ecs_zero(dst, info->size);
    }
}

/* A row's data in one chunk: base pointer and tier, so each column costs one multiply-add. */
typedef struct row_ref {
    uint8_t *base;
    uint32_t tier;
    uint32_t row;
} row_ref;

static row_ref row_at(const ecs_table *t, uint32_t chunk, uint32_t row) {
    return (row_ref){.base = t->chunks[chunk], .tier = ecs_chunk_tier(t, chunk), .row = row};
}

static uint8_t *column_at(const ecs_column *c, row_ref r) {
    return r.base + c->offset[r.tier] + (size_t)r.row * c->size;
}

/* Moves entity e from its table to dst (room already reserved): shared columns move, new ones
 * are initialised (from `data` for `added`), dropped ones are destroyed. Each destination column
 * finds its source through the source table's column_of map, so there is no merge to branch on. */
static void move_entity(aw_world *w, aw_entity e, ecs_record *rec, ecs_table *dst, aw_component added,
                        const void *data) {
    ecs_table *src = w->tables[rec->table];
    uint32_t dk, dr;
    ecs_table_append_row(dst, e, &dk, &dr);
    row_ref from = row_at(src, rec->chunk, rec->row), to = row_at(dst, dk, dr);
    const ecs_column *sc = src->columns, *dc = dst->columns;
    bool hooks = src->has_hooks || dst->has_hooks;
    for (uint32_t i = 0; i < dst->column_count; i++) {
        int j = ecs_table_column(src, dc[i].component);
        uint8_t *out = column_at(&dc[i], to);
        if (j < 0) {
            init_column(&w->components[dc[i].component], out, dc[i].component == added ? data : NULL);
        } else if (hooks && w->components[dc[i].component].move) {
            const ecs_component_info *info = &w->components[dc[i].component];
            info->move(out, column_at(&sc[j], from), 1, info->hook_user);
        } else {
            ecs_copy(out, column_at(&sc[j], from), dc[i].size);
        }
    }
    if (src->has_hooks) {
        for (uint32_t j = 0; j < src->column_count; j++) {
            const ecs_component_info *info = &w->components[sc[j].component];
            if (info->dtor && ecs_table_column(dst, sc[j].component) < 0)
                info->dtor(column_at(&sc[j], from), 1, info->hook_user);
        }
    }
    ecs_table_delete_row(w, src, rec->chunk, rec->row);
    rec->table = dst->id;
    rec->chunk = dk;
    rec->row = dr;
}

aw_status ecs_entity_add_data(aw_world *w, aw_entity e, ecs_record *rec, aw_component c, const void *data) {
    ecs_table *dst = ecs_table_traverse(w, w->tables[rec->table], c, false);
    if (!dst || ecs_table_reserve(w, dst, 1)) return AW_ERR_OUT_OF_MEMORY;
    move_entity(w, e, rec, dst, c, data);
    return AW_OK;
}

/* ---- public API */

aw_entity aw_entity_create(aw_world *w) {
    if (ecs_check_world(w, "aw_entity_create") || check_locked(w, "aw_entity_create")) return AW_ENTITY_NULL;
    aw_entity e = AW_ENTITY_NULL;
    ecs_spawn(w, AW_ENTITY_NULL, NULL, NULL, 0, &e);
    return e;
}

bool aw_entity_alive(const aw_world *w, aw_entity e) {
    return w && ecs_record_of(w, e) != NULL;
}

aw_status aw_entity_destroy(aw_world *w, aw_entity e) {
    aw_status s = ecs_check_world(w, "aw_entity_destroy");
    if (s) return s;
    ecs_record *rec = ecs_record_of(w, e);
    if (!rec) return ecs_stale(e, "aw_entity_destroy");
    if ((s = check_locked(w, "aw_entity_destroy"))) return s;
    ecs_table *t = w->tables[rec->table];
    ecs_table_destruct_row(w, t, rec->chunk, rec->row);
    ecs_table_delete_row(w, t, rec->chunk, rec->row);
    ecs_free_entity(w, AW_ENTITY_INDEX(e));
    w->alive_count--;
    return AW_OK;
}

/* Common checks of the per-entity calls: world, live entity, registered component. */
static ecs_record *entity_checks(const aw_world *w, aw_entity e, aw_component c, const char *fn) {
    if (ecs_check_world(w, fn)) return NULL;
    ecs_record *rec = ecs_record_of(w, e);
    if (!rec) {
        ecs_stale(e, fn);
        return NULL;
    }
    if (ecs_check_component(w, c, fn)) return NULL;
    return rec;
}

aw_status aw_entity_add(aw_world *w, aw_entity e, aw_component c) {
    ecs_record *rec = entity_checks(w, e, c, "aw_entity_add");
    if (!rec) return aw_last_status();
    if (ecs_table_column(w->tables[rec->table], c) >= 0)
        return aw_error(AW_ERR_ALREADY_PRESENT, "aw_entity_add: entity already has '%s'",
                        w->components[c].name);
    aw_status s = check_locked(w, "aw_entity_add");
    return s ? s : ecs_entity_add_data(w, e, rec, c, NULL);
}

aw_status aw_entity_remove(aw_world *w, aw_entity e, aw_component c) {
    ecs_record *rec = entity_checks(w, e, c, "aw_entity_remove");
    if (!rec) return aw_last_status();
    ecs_table *src = w->tables[rec->table];
    if (ecs_table_column(src, c) < 0)
        return aw_error(AW_ERR_NOT_PRESENT, "aw_entity_remove: entity lacks '%s'", w->components[c].name);
    aw_status s = check_locked(w, "aw_entity_remove");
    if (s) return s;
    ecs_table *dst = ecs_table_traverse(w, src, c, true);
    if (!dst || ecs_table_reserve(w, dst, 1)) return AW_ERR_OUT_OF_MEMORY;
    move_entity(w, e, rec, dst, 0, NULL);
    return AW_OK;
}

aw_status aw_entity_set(aw_world *w, aw_entity e, aw_component c, const void *data, size_t size) {
    ecs_record *rec = entity_checks(w, e, c, "aw_entity_set");
    if (!rec) return aw_last_status();
    const ecs_component_info *info = &w->components[c];
    if (size != info->size)
        return aw_error(AW_ERR_SIZE_MISMATCH, "aw_entity_set: '%s' is %u bytes, got %zu", info->name,
                        info->size, size);
    if (!data && size)
        return aw_error(AW_ERR_INVALID_ARG, "aw_entity_set: data is NULL for '%s'", info->name);
    if (ECS_CHECK_ACCESS(w, c, true, "aw_entity_set")) return AW_ERR_ACCESS;
    ecs_table *t = w->tables[rec->table];
    int col = ecs_table_column(t, c);
    if (col == ECS_TAG_PRESENT) return AW_OK;
    if (col >= 0) {
        void *dst = ecs_column_ptr(t, (uint32_t)col, rec->chunk, rec->row);
        if (info->copy)
            info->copy(dst, data, 1, info->hook_user);
        else
            ecs_copy(dst, data, (uint32_t)size);
        return AW_OK;
    }
    aw_status s = check_locked(w, "aw_entity_set");
    return s ? s : ecs_entity_add_data(w, e, rec, c, data);
}

static const void *entity_get(const aw_world *w, aw_entity e, aw_component c, bool write) {
    ecs_record *rec = entity_checks(w, e, c, "aw_entity_get");
    if (!rec || ECS_CHECK_ACCESS(w, c, write, "aw_entity_get")) return NULL;
    const ecs_table *t = w->tables[rec->table];
    int col = ecs_table_column(t, c);
    if (AW_UNLIKELY(col < 0 || col == ECS_TAG_PRESENT)) {
        if (col < 0)
            aw_error(AW_ERR_NOT_PRESENT, "aw_entity_get: entity lacks '%s'", w->components[c].name);
        else
            aw_error(AW_ERR_INVALID_ARG, "aw_entity_get: '%s' is a tag and has no data",
                     w->components[c].name);
        return NULL;
    }
    return ecs_column_ptr(t, (uint32_t)col, rec->chunk, rec->row);
}

const void *aw_entity_get_const(const aw_world *w, aw_entity e, aw_component c) {
    return entity_get(w, e, c, false);
}

void *aw_entity_get(aw_world *w, aw_entity e, aw_component c) {
    return (void *)entity_get(w, e, c, true);
}

bool aw_entity_has(const aw_world *w, aw_entity e, aw_component c) {
    if (!w) return false;
    const ecs_record *rec = ecs_record_of(w, e);
    return rec && ecs_table_column(w->tables[rec->table], c) >= 0;
}

/* ---- bulk creation */

static aw_status sort_type(const aw_world *w, const aw_bulk_desc *d, aw_component *type) {
    for (uint32_t i = 0; i < d->component_count; i++) {
        aw_component c = d->components[i];
        aw_status s = ecs_check_component(w, c, "aw_entity_create_bulk");
        if (s) return s;
        uint32_t k = i;
        while (k > 0 && type[k - 1] > c) {
            type[k] = type[k - 1];
            k--;
        }
        if (k > 0 && type[k - 1] == c)
            return aw_error(AW_ERR_INVALID_ARG, "aw_entity_create_bulk: component '%s' listed twice",
                            w->components[c].name);
        type[k] = c;
    }
    return AW_OK;
}

static void bulk_fill(aw_world *w, ecs_table *t, uint32_t first_row, const aw_bulk_desc *d) {
    for (uint32_t i = 0; i < d->component_count; i++) {
        aw_component c = d->components[i];
        const ecs_component_info *info = &w->components[c];
        if (!info->size) continue;
        uint32_t col = (uint32_t)ecs_table_column(t, c);
        const uint8_t *src = d->data ? d->data[i] : NULL;
        for (uint32_t done = 0; done < d->count;) {
            uint32_t row = first_row + done;
            uint32_t k, r;
            ecs_table_locate(t, row, &k, &r);
            uint32_t n = t->rows[ecs_chunk_tier(t, k)] - r;
            if (n > d->count - done) n = d->count - done;
            uint8_t *dst = ecs_column_ptr(t, col, k, r);
            if (info->ctor) info->ctor(dst, n, info->hook_user);
            if (src && info->copy)
                info->copy(dst, src + (size_t)done * info->size, n, info->hook_user);
            else if (src)
                memcpy(dst, src + (size_t)done * info->size, (size_t)n * info->size);
            else if (!info->ctor)
                memset(dst, 0, (size_t)n * info->size);
            done += n;
        }
    }
}

aw_status aw_entity_create_bulk(aw_world *w, const aw_bulk_desc *d) {
    aw_status s = ecs_check_world(w, "aw_entity_create_bulk");
    if (s) return s;
    if (!d || d->count == 0 || (d->component_count && !d->components))
        return aw_error(AW_ERR_INVALID_ARG, "aw_entity_create_bulk: needs a count and a component list");
    if ((s = check_locked(w, "aw_entity_create_bulk"))) return s;
    int64_t recycled = free_top(w);
    uint32_t fresh = d->count > recycled ? (uint32_t)(d->count - recycled) : 0;
    uint32_t next = atomic_load_explicit(&w->next_index, memory_order_relaxed);
    if ((uint64_t)next + fresh >= UINT32_MAX)
        return aw_error(AW_ERR_CAPACITY, "aw_entity_create_bulk: entity index space exhausted");

    aw_component stack[TYPE_STACK_MAX] = {0};
    aw_component *type = stack;
    if (d->component_count > TYPE_STACK_MAX) {
        type = aw_alloc(&w->allocator, d->component_count * sizeof *type, _Alignof(aw_component));
        if (!type) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_entity_create_bulk: out of memory");
    }
    s = sort_type(w, d, type);
    ecs_table *t = s ? NULL : ecs_table_for_type(w, type, d->component_count);
    if (type != stack) aw_free(&w->allocator, type, d->component_count * sizeof *type);
    if (s) return s;
    if (!t || ecs_ensure_records(w, fresh ? next + fresh : w->record_count) ||
        ecs_table_reserve(w, t, d->count))
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_entity_create_bulk: out of memory creating %u entities",
                        d->count);

    uint32_t first_row = t->count;
    for (uint32_t i = 0; i < d->count; i++) {
        aw_entity e = take_id(w);
        place(e, ecs_record_at(w, AW_ENTITY_INDEX(e)), t);
        if (d->out_entities) d->out_entities[i] = e;
    }
    bulk_fill(w, t, first_row, d);
    w->alive_count += d->count;
    return AW_OK;
}
