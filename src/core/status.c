/* Status codes and the thread-local last error: failing calls record a message here so the
 * caller can report it without every API threading an error buffer through. */
#include "aw/core.h"

#include <stdio.h>
#include <string.h>

#define AW_ERROR_MESSAGE_SIZE 512

static const char *const status_strings[AW_STATUS_COUNT] = {
    [AW_OK] = "ok",
    [AW_ERR_INVALID_ARG] = "invalid argument",
    [AW_ERR_OUT_OF_MEMORY] = "out of memory",
    [AW_ERR_STALE_ENTITY] = "stale entity",
    [AW_ERR_UNKNOWN_COMPONENT] = "unknown component",
    [AW_ERR_SIZE_MISMATCH] = "size mismatch",
    [AW_ERR_ALREADY_PRESENT] = "already present",
    [AW_ERR_NOT_PRESENT] = "not present",
    [AW_ERR_TOO_MANY_TERMS] = "too many query terms",
    [AW_ERR_LOCKED] = "locked during iteration",
    [AW_ERR_CAPACITY] = "capacity reached",
    [AW_ERR_NOT_FOUND] = "not found",
    [AW_ERR_IO] = "i/o error",
    [AW_ERR_PARSE] = "parse error",
    [AW_ERR_UNSUPPORTED] = "unsupported",
    [AW_ERR_ACCESS] = "undeclared access",
    [AW_ERR_CYCLE] = "ordering cycle",
    [AW_ERR_UNAVAILABLE] = "unavailable",
    [AW_ERR_TIMEOUT] = "timed out",
    [AW_ERR_PENDING] = "pending",
    [AW_ERR_CORRUPT] = "corrupt data",
    [AW_ERR_DEVICE] = "device error",
};
/* A new enum value without a string would return NULL; this catches it at compile time. */
_Static_assert(sizeof(status_strings) / sizeof(status_strings[0]) == AW_STATUS_COUNT,
               "status_strings must cover every aw_status");

static _Thread_local aw_status tl_status = AW_OK;
static _Thread_local char tl_message[AW_ERROR_MESSAGE_SIZE];

const char *aw_status_str(aw_status status) {
    /* The cast folds negative values (from a bad cast by the caller) into the range check. */
    if ((unsigned)status >= (unsigned)AW_STATUS_COUNT || !status_strings[status]) return "unknown status";
    return status_strings[status];
}

const char *aw_last_error(void) {
    return tl_message;
}

aw_status aw_last_status(void) {
    return tl_status;
}

void aw_clear_error(void) {
    tl_status = AW_OK;
    tl_message[0] = '\0';
}

aw_status aw_error_set(aw_status status, const char *fmt, ...) {
    /* Format into a separate buffer first: callers may pass aw_last_error() as an argument to
     * wrap an inner error, and vsnprintf into its own source is undefined. */
    char buf[AW_ERROR_MESSAGE_SIZE];
    int n = -1;
    if (fmt && fmt[0]) {
        va_list args;
        va_start(args, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, args);
        va_end(args);
    }
    if (n < 0) {
        snprintf(buf, sizeof(buf), "%s", aw_status_str(status));
    } else if ((size_t)n >= sizeof(buf)) {
        /* Make truncation visible rather than letting a cut message read as complete. */
        memcpy(buf + sizeof(buf) - 4, "...", 4);
    }
    memcpy(tl_message, buf, sizeof(buf));
    tl_status = status;
    return status;
}
