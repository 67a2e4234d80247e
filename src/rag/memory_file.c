/* Memory files: every memory (text, embedding, metadata) in one versioned, checksummed file,
 * written to a temporary file, fsynced and renamed so a failed save keeps the previous one.
 *
 *   header (40 bytes, little-endian): "AWMEMORY", u32 version, u32 dim, u64 count,
 *                                     u64 payload bytes, u64 aw_hash_bytes(payload, seed 0x4d454d)
 *   payload, per memory: u64 id, u64 agent, f64 time, f32 importance, u32 kind, u32 merged,
 *                        u32 text bytes, text (no NUL), dim x f32 embedding */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory_internal.h"
#include "rag_internal.h"

#define FILE_MAGIC   "AWMEMORY"
#define FILE_VERSION 1u
#define HEADER_BYTES 40u
#define FIXED_BYTES  40u /* per memory, before text and embedding */
#define HASH_SEED    0x4d454dull

static void put(unsigned char **p, const void *v, size_t n) {
    memcpy(*p, v, n);
    *p += n;
}

aw_status aw_memory_save(const aw_memory *m, const char *path) {
    if (!m || !path || !*path) return aw_error(AW_ERR_INVALID_ARG, "memory: save needs a memory and a path");
    size_t payload = 0;
    for (uint32_t r = 0; r < m->count; r++) payload += FIXED_BYTES + m->text_len[r] + sizeof(float) * MEM_DIM;
    size_t total = HEADER_BYTES + payload;
    unsigned char *data = aw_alloc(m->allocator, total, 64);
    if (!data) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to save %u memories", m->count);
    unsigned char *p = data + HEADER_BYTES;
    for (uint32_t r = 0; r < m->count; r++) {
        const aw_store_meta *x = &m->meta[r];
        put(&p, &m->ids[r], 8);
        put(&p, &x->agent, 8);
        put(&p, &x->time, 8);
        put(&p, &x->importance, 4);
        put(&p, &x->kind, 4);
        put(&p, &m->merged[r], 4);
        put(&p, &m->text_len[r], 4);
        put(&p, m->texts[r], m->text_len[r]);
        put(&p, m->vec[r], sizeof(float) * MEM_DIM);
    }
    uint32_t version = FILE_VERSION, dim = MEM_DIM;
    uint64_t count = m->count, bytes = payload, sum = aw_hash_bytes(data + HEADER_BYTES, payload, HASH_SEED);
    p = data;
    put(&p, FILE_MAGIC, 8);
    put(&p, &version, 4);
    put(&p, &dim, 4);
    put(&p, &count, 8);
    put(&p, &bytes, 8);
    put(&p, &sum, 8);

    char tmp[4096];
    aw_status st = AW_OK;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        st = aw_error(AW_ERR_INVALID_ARG, "memory: path too long");
    } else {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            st = aw_error(AW_ERR_IO, "memory: cannot create %s: %s", tmp, strerror(errno));
        } else {
            size_t done = 0;
            while (done < total && st == AW_OK) {
                ssize_t w = write(fd, data + done, total - done);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) st = aw_error(AW_ERR_IO, "memory: writing %s: %s", tmp, strerror(errno));
                else done += (size_t)w;
            }
            if (st == AW_OK && fsync(fd) != 0) st = aw_error(AW_ERR_IO, "memory: fsync %s: %s", tmp, strerror(errno));
            if (close(fd) != 0 && st == AW_OK) st = aw_error(AW_ERR_IO, "memory: closing %s: %s", tmp, strerror(errno));
            if (st == AW_OK && rename(tmp, path) != 0)
                st = aw_error(AW_ERR_IO, "memory: renaming %s to %s: %s", tmp, path, strerror(errno));
            if (st != AW_OK) unlink(tmp);
        }
    }
    aw_free(m->allocator, data, total);
    return st;
}

static bool take(const unsigned char **p, const unsigned char *end, void *v, size_t n) {
    if ((size_t)(end - *p) < n) return false;
    memcpy(v, *p, n);
    *p += n;
    return true;
}

aw_status aw_memory_load_bytes(aw_memory *m, const void *bytes, size_t size) {
    if (!m || (!bytes && size)) return aw_error(AW_ERR_INVALID_ARG, "memory: load needs a memory and data");
    const unsigned char *p = bytes, *end = p + size;
    uint32_t version, dim;
    uint64_t count, payload, sum;
    if (size < 8 || memcmp(p, FILE_MAGIC, 8) != 0) return aw_error(AW_ERR_PARSE, "memory: not a memory file");
    p += 8;
    if (!take(&p, end, &version, 4) || !take(&p, end, &dim, 4) || !take(&p, end, &count, 8) ||
        !take(&p, end, &payload, 8) || !take(&p, end, &sum, 8))
        return aw_error(AW_ERR_CORRUPT, "memory: the file is truncated inside its header");
    if (version != FILE_VERSION)
        return aw_error(AW_ERR_PARSE, "memory: file version %u (this build reads %u)", version, FILE_VERSION);
    if (dim != MEM_DIM) return aw_error(AW_ERR_PARSE, "memory: file holds %u-d embeddings, not %d-d", dim, MEM_DIM);
    if (payload != (uint64_t)(end - p))
        return aw_error(AW_ERR_CORRUPT, "memory: the file has %llu payload bytes, its header says %llu (truncated?)",
                        (unsigned long long)(end - p), (unsigned long long)payload);
    if (aw_hash_bytes(p, (size_t)payload, HASH_SEED) != sum)
        return aw_error(AW_ERR_CORRUPT, "memory: checksum mismatch: the file is corrupted");
    uint64_t min_each = FIXED_BYTES + sizeof(float) * MEM_DIM;
    if (count > payload / min_each || count >= UINT32_MAX)
        return aw_error(AW_ERR_CORRUPT, "memory: %llu memories cannot fit in %llu bytes", (unsigned long long)count,
                        (unsigned long long)payload);
    if (count == 0) return p == end ? AW_OK : aw_error(AW_ERR_CORRUPT, "memory: bytes after the last memory");

    /* Items point into the bytes, except texts, which need a NUL: copied into one block. */
    aw_memory_item *items = aw_alloc(m->allocator, sizeof *items * count, 64);
    char *texts = aw_alloc(m->allocator, (size_t)payload, 1);
    float *vecs = aw_alloc(m->allocator, sizeof(float) * MEM_DIM * count, 64);
    aw_status st = AW_OK;
    if (!items || !texts || !vecs) st = aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to load %llu memories",
                                                 (unsigned long long)count);
    size_t tpos = 0;
    for (uint64_t i = 0; i < count && st == AW_OK; i++) {
        aw_memory_item *it = &items[i];
        uint32_t kind, len;
        *it = (aw_memory_item){0};
        if (!take(&p, end, &it->id, 8) || !take(&p, end, &it->agent, 8) || !take(&p, end, &it->time, 8) ||
            !take(&p, end, &it->importance, 4) || !take(&p, end, &kind, 4) || !take(&p, end, &it->merged, 4) ||
            !take(&p, end, &len, 4) || (size_t)(end - p) < (size_t)len + sizeof(float) * MEM_DIM) {
            st = aw_error(AW_ERR_CORRUPT, "memory: memory %llu is cut off", (unsigned long long)i);
            break;
        }
        if (kind >= AW_MEMORY_KIND_COUNT || memchr(p, 0, len)) {
            st = aw_error(AW_ERR_CORRUPT, "memory: memory %llu has kind %u or a NUL in its text", (unsigned long long)i, kind);
            break;
        }
        it->kind = (aw_memory_kind)kind;
        memcpy(texts + tpos, p, len);
        texts[tpos + len] = '\0';
        it->text = texts + tpos;
        tpos += len + 1;
        p += len;
        memcpy(vecs + i * MEM_DIM, p, sizeof(float) * MEM_DIM);
        p += sizeof(float) * MEM_DIM;
        it->embedding = vecs + i * MEM_DIM;
    }
    if (st == AW_OK && p != end) st = aw_error(AW_ERR_CORRUPT, "memory: bytes after the last memory");
    if (st == AW_OK) {
        /* aw_memory_add checks ids, kinds, times, importance and embeddings; it reports the first bad one. */
        st = aw_memory_add(m, items, (uint32_t)count);
        if (st == AW_ERR_INVALID_ARG) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", aw_last_error());
            st = aw_error(AW_ERR_CORRUPT, "memory file: %s", msg);
        }
    }
    if (items) aw_free(m->allocator, items, sizeof *items * count);
    if (texts) aw_free(m->allocator, texts, (size_t)payload);
    if (vecs) aw_free(m->allocator, vecs, sizeof(float) * MEM_DIM * count);
    return st;
}

aw_status aw_memory_load(aw_memory *m, const char *path) {
    if (!m || !path) return aw_error(AW_ERR_INVALID_ARG, "memory: load needs a memory and a path");
    char *data = NULL;
    size_t size = 0;
    aw_status st = rag_read_file(m->allocator, path, "write it with aw_memory_save (aw-rag index)", &data, &size);
    if (st != AW_OK) return st;
    st = aw_memory_load_bytes(m, data, size);
    rag_free_file(m->allocator, data, size);
    return st;
}
