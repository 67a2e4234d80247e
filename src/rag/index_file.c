/* The vector index file: one versioned file with CRC-32C checksums over the header and the body,
 * written to a temporary file that is fsynced and renamed over the target (then the directory is
 * fsynced), and read back through mmap with every count, id and link checked before use.
 *
 * Layout, little-endian. Header (64 bytes):
 *   0 magic "AWVINDEX"   8 version (2)   12 dim   16 metric   20 kind (u16)   22 element (u16:
 *   1 float32, 2 half)   24 m   28 ef_construction   32 ef_search   36 nodes   40 entry node
 *   (0xffffffff: empty)   44 entry level   48 body bytes (u64)   56 body CRC-32C   60 header CRC-32C
 *   (of bytes 0..59)
 * Body: one record per node, in node order (deleted ones too, as the graph walks through them):
 *   u64 id, meta (u32 kind, u32 reserved, u64 agent, u64 tags, i64 timestamp), u8 level,
 *   u8 deleted, 6 zero bytes, dim elements (float32 or IEEE half, normalised under cosine), layer 0
 *   list (u32 count, 2m u32), then `level` upper lists (u32 count, m u32).
 * Version 1 files (kind a u32 at 20, float32 vectors) load as before. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rag/index_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index file is written in the CPU's byte order, which must be little-endian"
#endif

#define FILE_MAGIC   "AWVINDEX"
#define FILE_VERSION 2u /* reads 1 too */
#define HEADER_SIZE  64u
#define RECORD_HEAD  48u
#define WRITE_BUF    (1u << 20)

/* ---------------------------------------------------------------- CRC-32C, slicing by 8 */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t idx_crc32c(uint32_t crc, const void *data, size_t size) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (size && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
        size--;
    }
    while (size >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^ crc_table[5][(w >> 16) & 0xff] ^
              crc_table[4][(w >> 24) & 0xff] ^ crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        size -= 8;
    }
    while (size--) crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---------------------------------------------------------------- header */

typedef struct file_header {
    uint32_t dim, metric, kind, element, m, ef_construction, ef_search, nodes, entry_node, entry_level;
    uint64_t body_size;
    uint32_t body_crc;
} file_header;

static void put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void header_encode(const file_header *h, uint8_t out[HEADER_SIZE]) {
    memset(out, 0, HEADER_SIZE);
    memcpy(out, FILE_MAGIC, 8);
    put32(out + 8, FILE_VERSION);
    put32(out + 12, h->dim);
    put32(out + 16, h->metric);
    put32(out + 20, h->kind | h->element << 16);
    put32(out + 24, h->m);
    put32(out + 28, h->ef_construction);
    put32(out + 32, h->ef_search);
    put32(out + 36, h->nodes);
    put32(out + 40, h->entry_node);
    put32(out + 44, h->entry_level);
    memcpy(out + 48, &h->body_size, 8);
    put32(out + 56, h->body_crc);
    put32(out + 60, idx_crc32c(0, out, 60));
}

static uint32_t element_bytes(uint32_t element) {
    return element == AW_INDEX_F16 ? 2 : 4;
}

static size_t record_size(const file_header *h, uint32_t level) {
    return RECORD_HEAD + element_bytes(h->element) * (size_t)h->dim + 4 * (size_t)(1 + 2 * h->m) +
           4 * (size_t)level * (1 + h->m);
}

/* ---------------------------------------------------------------- save */

typedef struct file_writer {
    int fd;
    uint8_t *buf;
    size_t used;
    uint32_t crc;
    uint64_t total;
    const char *path;
} file_writer;

static aw_status writer_flush(file_writer *w) {
    size_t off = 0;
    while (off < w->used) {
        ssize_t n = write(w->fd, w->buf + off, w->used - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return aw_error(AW_ERR_IO, "aw_index_save: write %s: %s", w->path, n < 0 ? strerror(errno) : "no progress");
        off += (size_t)n;
    }
    w->used = 0;
    return AW_OK;
}

static aw_status writer_put(file_writer *w, const void *data, size_t size) {
    w->crc = idx_crc32c(w->crc, data, size);
    w->total += size;
    const uint8_t *p = data;
    while (size) {
        size_t n = WRITE_BUF - w->used < size ? WRITE_BUF - w->used : size;
        memcpy(w->buf + w->used, p, n);
        w->used += n;
        p += n;
        size -= n;
        if (w->used == WRITE_BUF) {
            aw_status st = writer_flush(w);
            if (st != AW_OK) return st;
        }
    }
    return AW_OK;
}

static aw_status write_body(const aw_index *idx, file_writer *w) {
    uint32_t nodes = atomic_load(&((aw_index *)idx)->nodes);
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    uint32_t words[1 + 2 * 100];
    aw_status st = AW_OK;
    for (uint32_t n = 0; n < nodes && st == AW_OK; n++) {
        idx_chunk *ch = idx_chunk_at(idx, &dc, n);
        uint32_t slot = n & idx->chunk_mask;
        uint8_t head[RECORD_HEAD] = {0};
        memcpy(head, &ch->ids[slot], 8);
        memcpy(head + 8, &ch->metas[slot], sizeof(aw_index_meta));
        head[40] = ch->levels[slot];
        head[41] = atomic_load_explicit(&ch->deleted[slot], memory_order_relaxed) ? 1 : 0;
        st = writer_put(w, head, sizeof head);
        if (st == AW_OK) st = writer_put(w, idx_vector(idx, ch, n), (size_t)idx->desc.dim * idx->elem_bytes);
        for (uint32_t layer = 0; st == AW_OK && layer <= ch->levels[slot]; layer++) {
            uint32_t cap = layer == 0 ? idx->links0_w : idx->upper_w;
            memset(words, 0, cap * 4);
            words[0] = idx_read_links(idx, ch, n, layer, words + 1);
            st = writer_put(w, words, cap * 4);
        }
    }
    return st;
}

static aw_status fsync_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return aw_error(AW_ERR_IO, "aw_index_save: open directory %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL) return aw_error(AW_ERR_IO, "aw_index_save: fsync directory %s: %s", dir, strerror(err));
    return AW_OK;
}

aw_status aw_index_save(const aw_index *idx, const char *path) {
    if (!idx || !path || !*path) return aw_error(AW_ERR_INVALID_ARG, "aw_index_save: NULL index or path");
    char tmp[4096];
    int len = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (len < 0 || (size_t)len >= sizeof tmp) return aw_error(AW_ERR_CAPACITY, "aw_index_save: path too long");
    aw_index *mi = (aw_index *)idx;
    pthread_mutex_lock(&mi->writer);
    file_writer w = {.fd = -1, .path = tmp};
    aw_status st = AW_OK;
    w.buf = aw_alloc(idx->allocator, WRITE_BUF, 64);
    if (!w.buf) st = aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_save: write buffer");
    if (st == AW_OK) {
        w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w.fd < 0) st = aw_error(AW_ERR_IO, "aw_index_save: create %s: %s", tmp, strerror(errno));
    }
    uint8_t header[HEADER_SIZE] = {0};
    /* A zero header first: a file cut short before the real header is written is refused. */
    if (st == AW_OK && pwrite(w.fd, header, HEADER_SIZE, 0) != HEADER_SIZE)
        st = aw_error(AW_ERR_IO, "aw_index_save: write %s: %s", tmp, strerror(errno));
    if (st == AW_OK && lseek(w.fd, HEADER_SIZE, SEEK_SET) < 0)
        st = aw_error(AW_ERR_IO, "aw_index_save: seek %s: %s", tmp, strerror(errno));
    if (st == AW_OK) st = write_body(idx, &w);
    if (st == AW_OK) st = writer_flush(&w);
    if (st == AW_OK) {
        uint64_t entry = atomic_load(&mi->entry);
        file_header h = {idx->desc.dim,
                         (uint32_t)idx->desc.metric,
                         (uint32_t)idx->desc.kind,
                         (uint32_t)idx->desc.element,
                         idx->desc.m,
                         idx->desc.ef_construction,
                         idx->desc.ef_search,
                         atomic_load(&mi->nodes),
                         entry == UINT64_MAX ? IDX_NONE : (uint32_t)entry,
                         entry == UINT64_MAX ? 0 : (uint32_t)(entry >> 32),
                         w.total,
                         w.crc};
        header_encode(&h, header);
        if (pwrite(w.fd, header, HEADER_SIZE, 0) != HEADER_SIZE)
            st = aw_error(AW_ERR_IO, "aw_index_save: write %s: %s", tmp, strerror(errno));
    }
    if (st == AW_OK && fsync(w.fd) != 0) st = aw_error(AW_ERR_IO, "aw_index_save: fsync %s: %s", tmp, strerror(errno));
    if (w.fd >= 0 && close(w.fd) != 0 && st == AW_OK)
        st = aw_error(AW_ERR_IO, "aw_index_save: close %s: %s", tmp, strerror(errno));
    if (st == AW_OK && rename(tmp, path) != 0)
        st = aw_error(AW_ERR_IO, "aw_index_save: rename %s to %s: %s", tmp, path, strerror(errno));
    if (st == AW_OK) st = fsync_dir(path);
    else if (w.fd >= 0) unlink(tmp);
    aw_free(idx->allocator, w.buf, WRITE_BUF);
    pthread_mutex_unlock(&mi->writer);
    return st;
}

/* ---------------------------------------------------------------- load */

#define CORRUPT(...) aw_error(AW_ERR_CORRUPT, "aw_index_load: " __VA_ARGS__)

static aw_status parse_header(const uint8_t *data, size_t size, bool check_crc, file_header *h) {
    if (size < HEADER_SIZE) return CORRUPT("file of %zu bytes is shorter than the %u-byte header (truncated)", size, HEADER_SIZE);
    if (memcmp(data, FILE_MAGIC, 8) != 0) return CORRUPT("not an index file (bad magic)");
    uint32_t version = get32(data + 8);
    if (version != 1 && version != FILE_VERSION)
        return CORRUPT("file version %u, this build reads versions 1 and %u", version, FILE_VERSION);
    if (check_crc && get32(data + 60) != idx_crc32c(0, data, 60)) return CORRUPT("header checksum mismatch");
    h->dim = get32(data + 12);
    h->metric = get32(data + 16);
    h->kind = get32(data + 20);
    h->element = AW_INDEX_F32;
    if (version >= 2) {
        h->element = h->kind >> 16;
        h->kind &= 0xffffu;
        if (h->element != AW_INDEX_F32 && h->element != AW_INDEX_F16) return CORRUPT("unknown element type %u", h->element);
    }
    h->m = get32(data + 24);
    h->ef_construction = get32(data + 28);
    h->ef_search = get32(data + 32);
    h->nodes = get32(data + 36);
    h->entry_node = get32(data + 40);
    h->entry_level = get32(data + 44);
    memcpy(&h->body_size, data + 48, 8);
    h->body_crc = get32(data + 56);
    if (h->dim == 0 || h->dim > 65536) return CORRUPT("dim %u is outside 1..65536", h->dim);
    if (h->metric >= AW_INDEX_METRIC_COUNT) return CORRUPT("unknown metric %u", h->metric);
    if (h->kind >= AW_INDEX_KIND_COUNT) return CORRUPT("unknown kind %u", h->kind);
    if (h->m < 2 || h->m > 100) return CORRUPT("m %u is outside 2..100", h->m);
    if (h->ef_construction == 0 || h->ef_search == 0) return CORRUPT("ef_construction or ef_search is 0");
    if (h->nodes > IDX_MAX_NODES) return CORRUPT("%u nodes is over the limit", h->nodes);
    if (h->body_size != size - HEADER_SIZE)
        return CORRUPT("the header gives %llu body bytes, the file has %zu (truncated or extended)",
                       (unsigned long long)h->body_size, size - HEADER_SIZE);
    if ((uint64_t)h->nodes * record_size(h, 0) > h->body_size)
        return CORRUPT("%u nodes do not fit in %llu bytes", h->nodes, (unsigned long long)h->body_size);
    if (h->nodes == 0 ? h->entry_node != IDX_NONE : (h->kind == AW_INDEX_HNSW && h->entry_node >= h->nodes))
        return CORRUPT("entry node %u with %u nodes", h->entry_node, h->nodes);
    if (check_crc && idx_crc32c(0, data + HEADER_SIZE, (size_t)h->body_size) != h->body_crc)
        return CORRUPT("body checksum mismatch");
    return AW_OK;
}

/* Reads the records into idx (made from the header); links are checked in a second pass. */
static aw_status load_records(aw_index *idx, const file_header *h, const uint8_t *p, const uint8_t *end) {
    uint32_t dim = h->dim, eb = element_bytes(h->element);
    for (uint32_t n = 0; n < h->nodes; n++) {
        if ((size_t)(end - p) < record_size(h, 0)) return CORRUPT("node %u: record cut short", n);
        uint64_t id;
        memcpy(&id, p, 8);
        aw_index_meta meta;
        memcpy(&meta, p + 8, sizeof meta);
        uint32_t level = p[40], deleted = p[41];
        if (deleted > 1) return CORRUPT("node %u: deleted flag %u", n, deleted);
        if (level > IDX_MAX_LEVEL || (h->kind == AW_INDEX_FLAT && level)) return CORRUPT("node %u: level %u", n, level);
        if ((size_t)(end - p) < record_size(h, level)) return CORRUPT("node %u: record cut short", n);
        for (int i = 42; i < 48; i++)
            if (p[i]) return CORRUPT("node %u: padding is not zero", n);
        p += RECORD_HEAD;
        aw_status st = idx_reserve_node(idx, n);
        if (st != AW_OK) return st;
        const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
        idx_chunk *ch = idx_chunk_at(idx, &dc, n);
        uint32_t slot = n & idx->chunk_mask;
        void *v = idx_vector_mut(idx, ch, n);
        memcpy(v, p, (size_t)dim * eb);
        for (uint32_t i = 0; i < dim; i++) {
            /* All ones in the exponent: infinity or NaN, in either type. */
            bool finite = eb == 2 ? (((const uint16_t *)v)[i] & 0x7c00u) != 0x7c00u : isfinite(((const float *)v)[i]);
            if (!finite) return CORRUPT("node %u: element %u is not finite", n, i);
        }
        p += (size_t)dim * eb;
        ch->ids[slot] = id;
        ch->metas[slot] = meta;
        ch->levels[slot] = (uint8_t)level;
        atomic_store_explicit(&ch->deleted[slot], (uint8_t)deleted, memory_order_relaxed);
        if (level) {
            size_t bytes = (size_t)level * idx->upper_w * 4;
            _Atomic uint32_t *up = aw_alloc(idx->allocator, bytes, 64);
            if (!up) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_load: links of node %u", n);
            ch->upper[slot] = up;
            atomic_fetch_add(&idx->upper_bytes, bytes);
        }
        for (uint32_t layer = 0; layer <= level; layer++) {
            uint32_t words = layer == 0 ? idx->links0_w : idx->upper_w;
            _Atomic uint32_t *list = layer == 0 ? idx_links0(idx, ch, n)
                                                : ch->upper[slot] + (size_t)(layer - 1) * idx->upper_w;
            uint32_t count = get32(p);
            if (count > words - 1) return CORRUPT("node %u layer %u: %u links, at most %u", n, layer, count, words - 1);
            if (h->kind == AW_INDEX_FLAT && count) return CORRUPT("node %u: links in a flat index", n);
            for (uint32_t i = 0; i < words; i++) atomic_store_explicit(&list[i], get32(p + 4 * i), memory_order_relaxed);
            p += (size_t)words * 4;
        }
        if (!deleted) {
            uint32_t old;
            bool dup = id == 0 ? idx->zero_node != IDX_NONE : aw_map_get(&idx->id_map, id, NULL);
            (void)old;
            if (dup) return CORRUPT("node %u: id %llu is stored twice", n, (unsigned long long)id);
            if (id == 0) idx->zero_node = n;
            else if (aw_map_set(&idx->id_map, id, n) != AW_OK) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_load: id map");
            atomic_fetch_add(&idx->live, 1);
        }
        atomic_store(&idx->nodes, n + 1);
    }
    if (p != end) return CORRUPT("%zu bytes after the last node", (size_t)(end - p));
    return AW_OK;
}

/* Every link names a node that exists on that layer; the entry is a node of the top level. */
static aw_status check_graph(aw_index *idx, const file_header *h) {
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    uint32_t links[1 + 2 * 100], max_level = 0;
    for (uint32_t n = 0; n < h->nodes; n++) {
        idx_chunk *ch = idx_chunk_at(idx, &dc, n);
        uint32_t level = ch->levels[n & idx->chunk_mask];
        if (level > max_level) max_level = level;
        for (uint32_t layer = 0; layer <= level; layer++) {
            uint32_t c = idx_read_links(idx, ch, n, layer, links);
            for (uint32_t i = 0; i < c; i++) {
                if (links[i] >= h->nodes) return CORRUPT("node %u layer %u links to node %u of %u", n, layer, links[i], h->nodes);
                if (idx_chunk_at(idx, &dc, links[i])->levels[links[i] & idx->chunk_mask] < layer)
                    return CORRUPT("node %u layer %u links to node %u, which is not on that layer", n, layer, links[i]);
            }
        }
    }
    if (h->nodes && h->kind == AW_INDEX_HNSW) {
        uint32_t e = h->entry_node;
        if (h->entry_level != max_level || idx_chunk_at(idx, &dc, e)->levels[e & idx->chunk_mask] != max_level)
            return CORRUPT("entry node %u at level %u, the top level is %u", e, h->entry_level, max_level);
        atomic_store(&idx->entry, (uint64_t)max_level << 32 | e);
    }
    return AW_OK;
}

aw_index *idx_load_memory(const void *data, size_t size, const aw_allocator *allocator, bool check_crc) {
    file_header h;
    if (!data) size = 0;
    if (parse_header(data, size, check_crc, &h) != AW_OK) return NULL;
    aw_index_desc d = {.dim = h.dim,
                       .metric = (aw_index_metric)h.metric,
                       .kind = (aw_index_kind)h.kind,
                       .element = (aw_index_element)h.element,
                       .m = h.m,
                       .ef_construction = h.ef_construction,
                       .ef_search = h.ef_search,
                       .capacity = h.nodes ? h.nodes : 1,
                       .allocator = allocator};
    aw_index *idx = aw_index_create(&d);
    if (!idx) return NULL;
    /* The level draws go on from where a build of this many nodes would be. */
    if (h.kind == AW_INDEX_HNSW)
        for (uint32_t i = 0; i < h.nodes; i++) (void)idx_hnsw_draw_level(idx);
    const uint8_t *body = (const uint8_t *)data + HEADER_SIZE;
    aw_status st = load_records(idx, &h, body, body + h.body_size);
    if (st == AW_OK) st = check_graph(idx, &h);
    if (st != AW_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        aw_index_destroy(idx);
        aw_error(st, "%s", msg);
        return NULL;
    }
    return idx;
}

aw_index *aw_index_load_memory(const void *data, size_t size, const aw_allocator *allocator) {
    return idx_load_memory(data, size, allocator, true);
}

aw_index *aw_index_load(const char *path, const aw_allocator *allocator) {
    if (!path) {
        aw_error(AW_ERR_INVALID_ARG, "aw_index_load: path is NULL");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        aw_error(errno == ENOENT ? AW_ERR_NOT_FOUND : AW_ERR_IO, "aw_index_load: open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        aw_error(AW_ERR_IO, "aw_index_load: stat %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    if (size < HEADER_SIZE) {
        close(fd);
        aw_error(AW_ERR_CORRUPT, "aw_index_load: %s: %zu bytes, shorter than the %u-byte header (truncated)", path, size,
                 HEADER_SIZE);
        return NULL;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        aw_error(AW_ERR_IO, "aw_index_load: mmap %s: %s", path, strerror(errno));
        return NULL;
    }
    aw_index *idx = idx_load_memory(map, size, allocator, true);
    if (!idx) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        aw_error(aw_last_status(), "%s (%s)", msg, path);
    }
    munmap(map, size);
    return idx;
}
