/* "Is it this agent's turn?": (index + frame) % interval == 0, the staggering of perception (and any
 * every-K-frames pass), tested without a division per agent. */
#ifndef AW_AI_DUE_H
#define AW_AI_DUE_H

#include <stdbool.h>
#include <stdint.h>

/* A loop over every agent that acts on one in `interval` would otherwise divide (64-bit, frame is
 * 64-bit) once per agent: tens of cycles each. Here one division per loop, then a divisibility test
 * by one multiplication: for 32-bit n and d >= 2, with c = ceil(2^64 / d), d divides n exactly
 * when (n * c) mod 2^64 <= c - 1. */
typedef struct ai_due {
    uint32_t interval; /* <= 1: every index is due */
    uint32_t phase;    /* due when index % interval == phase */
    uint64_t inverse;  /* ceil(2^64 / interval) */
} ai_due;

static inline ai_due ai_due_make(uint32_t interval, uint64_t frame) {
    ai_due d = {.interval = interval};
    if (interval > 1) {
        uint32_t f = (uint32_t)(frame % interval);
        d.phase = f ? interval - f : 0;
        d.inverse = UINT64_MAX / interval + 1;
    }
    return d;
}

/* (index + frame) % interval == 0, for the frame ai_due_make was given (the sum as a true sum: the
 * 64-bit expression wraps only for frames within 2^32 of 2^64, which no game reaches). */
static inline bool ai_due_now(const ai_due *d, uint32_t index) {
    if (d->interval <= 1) return true;
    if (index < d->phase) return false; /* index % interval == index != phase */
    return (uint64_t)(index - d->phase) * d->inverse <= d->inverse - 1;
}

#endif /* AW_AI_DUE_H */
