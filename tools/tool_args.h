/* Flag parsing shared by the command-line tools: `--name VALUE` / `--name=VALUE` and bounded
 * unsigned numbers. Header-only, since the tools are single files. */
#ifndef AW_TOOL_ARGS_H
#define AW_TOOL_ARGS_H

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number in [lo, hi], nothing else (no sign, no trailing characters). */
static inline bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static inline bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(s, lo, hi, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

/* Matches `--name VALUE` and `--name=VALUE`; advances *i past a separate value. */
static inline bool take_value(int argc, char **argv, int *i, const char *name, const char **value, bool *missing) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return false;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    if (arg[n] != '\0') return false;
    if (*i + 1 >= argc) {
        *missing = true;
        return true;
    }
    *value = argv[++*i];
    return true;
}

/* A usage error: "TOOL: <fmt with arg>" and a pointer to --help on stderr; returns exit code 2. */
static inline int tool_usage_error(const char *tool, const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", tool);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\ntry '%s --help'\n", tool);
    return 2;
}

#endif /* AW_TOOL_ARGS_H */
