/* What the machine charges for sharing data between threads (a cache line passed back and forth
 * between two threads on different CPUs), and what it takes from each CPU (stalls). On a virtual
 * machine the first moves by 3x from one host placement of its vCPUs to the next, even within a
 * run, and every figure measured with two threads moves with it; the second puts late frames into
 * every p99. So the benchmark tools print them beside their tables. */
#define _GNU_SOURCE /* sched_getaffinity, pthread_setaffinity_np */
#include "core/profile_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { BATCHES = 5, ROUNDS = 2000 };
#define GIVE_UP_NS 50000000ull /* a batch this slow means the two threads share one CPU */

typedef struct pingpong {
    _Alignas(64) _Atomic uint32_t ball; /* odd: the peer's turn; even: the caller's */
    _Alignas(64) cpu_set_t peer_cpu;
    uint32_t throws;
    _Atomic bool give_up;
} pingpong;

static void *peer_main(void *arg) {
    pingpong *pp = arg;
    pthread_setaffinity_np(pthread_self(), sizeof pp->peer_cpu, &pp->peer_cpu);
    for (uint32_t k = 0; k < pp->throws; k++) {
        uint32_t want = 2 * k + 1;
        while (atomic_load_explicit(&pp->ball, memory_order_acquire) != want)
            if (atomic_load_explicit(&pp->give_up, memory_order_relaxed)) return NULL;
        atomic_store_explicit(&pp->ball, want + 1, memory_order_release);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double prof_median(double *values, uint32_t count) {
    if (!count) return 0.0;
    qsort(values, count, sizeof values[0], cmp_double);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2.0;
}

double aw_profile_core_roundtrip_ns(void) {
    cpu_set_t mine, here, there;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0 || CPU_COUNT(&mine) < 2) return 0.0;
    /* The first two CPUs this thread may use: one for each side. */
    int a = -1, b = -1;
    for (int c = 0; c < CPU_SETSIZE && b < 0; c++) {
        if (!CPU_ISSET(c, &mine)) continue;
        if (a < 0)
            a = c;
        else
            b = c;
    }
    CPU_ZERO(&here);
    CPU_SET(a, &here);
    CPU_ZERO(&there);
    CPU_SET(b, &there);
    pingpong *pp = aligned_alloc(64, sizeof *pp);
    if (!pp) return 0.0;
    atomic_init(&pp->ball, 0);
    atomic_init(&pp->give_up, false);
    pp->peer_cpu = there;
    pp->throws = BATCHES * ROUNDS;
    pthread_t peer;
    if (pthread_setaffinity_np(pthread_self(), sizeof here, &here) != 0 ||
        pthread_create(&peer, NULL, peer_main, pp) != 0) {
        pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
        free(pp);
        return 0.0;
    }
    double batch[BATCHES];
    uint32_t done = 0;
    for (uint32_t k = 0, i = 0; i < BATCHES; i++) {
        uint64_t t0 = aw_time_ns();
        bool slow = false;
        for (uint32_t r = 0; r < ROUNDS && !slow; r++, k++) {
            atomic_store_explicit(&pp->ball, 2 * k + 1, memory_order_release);
            for (uint32_t spins = 0; atomic_load_explicit(&pp->ball, memory_order_acquire) != 2 * k + 2;)
                if (++spins % 4096 == 0 && aw_time_ns() - t0 > GIVE_UP_NS) {
                    slow = true;
                    break;
                }
        }
        if (slow) break;
        batch[done++] = (double)(aw_time_ns() - t0) / ROUNDS;
    }
    atomic_store_explicit(&pp->give_up, true, memory_order_relaxed);
    pthread_join(peer, NULL);
    pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
    free(pp);
    if (done < BATCHES) return 0.0;
    return prof_median(batch, BATCHES);
}

/* ---- stalls: one spinning thread per CPU, each counting the gaps in its own clock readings */

typedef struct stall_probe {
    cpu_set_t cpu;
    uint64_t ns, min_ns;
    uint32_t count;
    uint64_t max_ns, total_ns;
    bool pinned;
} stall_probe;

static void *stall_main(void *arg) {
    stall_probe *sp = arg;
    sp->pinned = pthread_setaffinity_np(pthread_self(), sizeof sp->cpu, &sp->cpu) == 0;
    uint64_t start = aw_time_ns(), last = start;
    for (uint64_t t = start; t - start < sp->ns; t = aw_time_ns()) {
        uint64_t gap = t - last;
        if (gap >= sp->min_ns) {
            sp->count++;
            sp->total_ns += gap;
            if (gap > sp->max_ns) sp->max_ns = gap;
        }
        last = t;
    }
    return NULL;
}

aw_profile_stalls aw_profile_host_stalls(uint32_t ms, uint32_t min_us) {
    aw_profile_stalls out = {.ms = ms, .min_us = min_us};
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) return out;
    stall_probe probes[AW_PROFILE_STALL_CPUS];
    pthread_t threads[AW_PROFILE_STALL_CPUS];
    bool started[AW_PROFILE_STALL_CPUS] = {false};
    uint32_t n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < AW_PROFILE_STALL_CPUS; c++) {
        if (!CPU_ISSET(c, &mine)) continue;
        probes[n] = (stall_probe){.ns = (uint64_t)ms * 1000000u, .min_ns = (uint64_t)min_us * 1000u};
        CPU_ZERO(&probes[n].cpu);
        CPU_SET(c, &probes[n].cpu);
        out.cpu[n++] = (uint32_t)c;
    }
    for (uint32_t i = 0; i < n; i++) started[i] = pthread_create(&threads[i], NULL, stall_main, &probes[i]) == 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!started[i] || pthread_join(threads[i], NULL) != 0 || !probes[i].pinned) continue;
        uint32_t k = out.cpus++;
        out.cpu[k] = out.cpu[i];
        out.count[k] = probes[i].count;
        out.max_ms[k] = (double)probes[i].max_ns / 1e6;
        out.total_ms[k] = (double)probes[i].total_ns / 1e6;
    }
    return out;
}
