/* Finding the model directory and reading its small files, with messages that say how to get the
 * model when it is missing. */
#include "rag_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

aw_status aw_rag_model_dir(const char *dir, char *buf, size_t cap) {
    if (!buf || cap == 0) return aw_error(AW_ERR_INVALID_ARG, "aw_rag_model_dir: buf is NULL or cap is 0");
    int n;
    if (dir && *dir) {
        n = snprintf(buf, cap, "%s", dir);
    } else {
        const char *env = getenv(AW_RAG_MODEL_ENV);
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (env && *env)
            n = snprintf(buf, cap, "%s", env);
        else if (xdg && *xdg)
            n = snprintf(buf, cap, "%s/%s", xdg, AW_RAG_MODEL_SUBDIR);
        else if (home && *home)
            n = snprintf(buf, cap, "%s/.cache/%s", home, AW_RAG_MODEL_SUBDIR);
        else
            return aw_error(AW_ERR_NOT_FOUND,
                            "no model directory: pass one, or set " AW_RAG_MODEL_ENV " or HOME");
    }
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return aw_error(AW_ERR_CAPACITY, "aw_rag_model_dir: the path needs %d bytes, buf has %zu", n, cap);
    }
    return AW_OK;
}

aw_status rag_join_path(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return aw_error(AW_ERR_CAPACITY, "path too long: %s/%s", dir, name);
    return AW_OK;
}

aw_status rag_grow(const aw_allocator *a, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return AW_OK;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return aw_error(AW_ERR_OUT_OF_MEMORY, "rag: %zu elements of %zu bytes", need, elem);
        n *= 2;
    }
    void *q = *p ? aw_realloc(a, *p, *cap * elem, n * elem, 64) : aw_alloc(a, n * elem, 64);
    if (!q) return aw_error(AW_ERR_OUT_OF_MEMORY, "rag: no memory for %zu bytes of scratch", n * elem);
    *p = q;
    *cap = n;
    return AW_OK;
}

aw_status rag_read_file(const aw_allocator *a, const char *path, const char *hint, char **data,
                        size_t *size) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return aw_error(AW_ERR_NOT_FOUND, "%s not found%s%s", path, hint ? ": " : "", hint ? hint : "");
        return aw_error(AW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return aw_error(AW_ERR_IO, "%s is not a readable regular file", path);
    }
    /* The files read whole (model.json, vocab.json) are hundreds of KiB; a huge one is not ours. */
    if (st.st_size > (off_t)256 << 20) {
        close(fd);
        return aw_error(AW_ERR_PARSE, "%s is %lld bytes, more than any model file this loader reads", path,
                        (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    char *buf = aw_alloc(a, n + 1, 1);
    if (!buf) {
        close(fd);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "no memory to read %s (%zu bytes)", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        aw_free(a, buf, n + 1);
        return aw_error(AW_ERR_IO, "short read of %s: %zu of %zu bytes", path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return AW_OK;
}

void rag_free_file(const aw_allocator *a, char *data, size_t size) {
    if (data) aw_free(a, data, size + 1);
}
