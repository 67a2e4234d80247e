/* Open-addressing u64 -> u64 map with linear probing. Removal shifts later entries back
 * instead of leaving tombstones, so probe runs stay short however many removals happen. */
#include "aw/core.h"

#include <string.h>

#define MAP_MIN_CAPACITY 16u
#define MAP_MAX_CAPACITY (1u << 31)

static inline uint32_t slot_of(uint64_t key, uint32_t mask) {
    return (uint32_t)aw_hash_u64(key) & mask;
}

/* Load factor 3/4: linear probing degrades quickly beyond it. */
static inline uint32_t max_count(uint32_t capacity) {
    return capacity - capacity / 4;
}

void aw_map_init(aw_map *map, const aw_allocator *allocator) {
    if (!map) return;
    *map = (aw_map){.allocator = allocator};
}

static void free_table(const aw_allocator *a, uint64_t *keys, uint32_t capacity) {
    /* keys and values share one allocation, values following keys. */
    if (keys) aw_free(a, keys, (size_t)capacity * 2 * sizeof(uint64_t));
}

void aw_map_destroy(aw_map *map) {
    if (!map) return;
    free_table(map->allocator, map->keys, map->capacity);
    *map = (aw_map){.allocator = map->allocator};
}

/* Moves every entry into a fresh table; the old table is kept untouched if allocation fails. */
static aw_status rehash(aw_map *map, uint32_t capacity) {
    uint64_t *keys = aw_alloc(map->allocator, (size_t)capacity * 2 * sizeof(uint64_t), 64);
    if (!keys) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_map: growing to %u slots failed", capacity);
    uint64_t *values = keys + capacity;
    memset(keys, 0, (size_t)capacity * sizeof(uint64_t));
    uint32_t mask = capacity - 1;
    for (uint32_t i = 0; i < map->capacity; ++i) {
        uint64_t k = map->keys[i];
        if (!k) continue;
        uint32_t s = slot_of(k, mask);
        while (keys[s]) s = (s + 1) & mask;
        keys[s] = k;
        values[s] = map->values[i];
    }
    free_table(map->allocator, map->keys, map->capacity);
    map->keys = keys;
    map->values = values;
    map->capacity = capacity;
    map->tombstones = 0;
    return AW_OK;
}

aw_status aw_map_reserve(aw_map *map, uint32_t count) {
    if (!map) return aw_error(AW_ERR_INVALID_ARG, "aw_map_reserve: map is NULL");
    if (count <= max_count(map->capacity)) return AW_OK;
    if (count > max_count(MAP_MAX_CAPACITY))
        return aw_error(AW_ERR_CAPACITY, "aw_map_reserve: %u entries exceed the map's limit", count);
    uint32_t capacity = map->capacity ? map->capacity : MAP_MIN_CAPACITY;
    while (max_count(capacity) < count) capacity *= 2;
    return rehash(map, capacity);
}

/* Index of key, or of the empty slot where the probe for it ended. */
static inline uint32_t find_slot(const aw_map *map, uint64_t key) {
    uint32_t mask = map->capacity - 1;
    uint32_t s = slot_of(key, mask);
    while (map->keys[s] != key && map->keys[s] != 0) s = (s + 1) & mask;
    return s;
}

aw_status aw_map_set(aw_map *map, uint64_t key, uint64_t value) {
    if (!map) return aw_error(AW_ERR_INVALID_ARG, "aw_map_set: map is NULL");
    if (key == 0) return aw_error(AW_ERR_INVALID_ARG, "aw_map_set: key 0 is reserved");
    if (map->capacity) {
        uint32_t s = find_slot(map, key);
        if (map->keys[s] == key) {
            map->values[s] = value;
            return AW_OK;
        }
        if (map->count + 1 <= max_count(map->capacity)) {
            map->keys[s] = key;
            map->values[s] = value;
            map->count++;
            return AW_OK;
        }
    }
    /* Grow only once the key is known to be new, so overwrites never allocate or fail. */
    if (map->capacity >= MAP_MAX_CAPACITY) return aw_error(AW_ERR_CAPACITY, "aw_map_set: map is full");
    aw_status st = rehash(map, map->capacity ? map->capacity * 2 : MAP_MIN_CAPACITY);
    if (st != AW_OK) return st;
    uint32_t s = find_slot(map, key);
    map->keys[s] = key;
    map->values[s] = value;
    map->count++;
    return AW_OK;
}

bool aw_map_get(const aw_map *map, uint64_t key, uint64_t *value) {
    if (!map || key == 0 || map->capacity == 0) return false;
    uint32_t s = find_slot(map, key);
    if (map->keys[s] != key) return false;
    if (value) *value = map->values[s];
    return true;
}

bool aw_map_remove(aw_map *map, uint64_t key) {
    if (!map || key == 0 || map->capacity == 0) return false;
    uint32_t mask = map->capacity - 1;
    uint32_t hole = find_slot(map, key);
    if (map->keys[hole] != key) return false;
    /* Backward-shift: pull each later entry of the run into the hole unless its home slot lies
     * cyclically after the hole, where moving it would put it before its home. */
    for (uint32_t j = (hole + 1) & mask; map->keys[j]; j = (j + 1) & mask) {
        uint32_t home = slot_of(map->keys[j], mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            map->keys[hole] = map->keys[j];
            map->values[hole] = map->values[j];
            hole = j;
        }
    }
    map->keys[hole] = 0;
    map->count--;
    return true;
}

void aw_map_clear(aw_map *map) {
    if (!map || !map->keys) return;
    memset(map->keys, 0, (size_t)map->capacity * sizeof(uint64_t));
    map->count = 0;
    map->tombstones = 0;
}
