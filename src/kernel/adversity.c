/*
 * adversity.c - the legal-adversity switch, its decisions and its log
 * (adversity.h).
 */
#include "adversity.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ke_internal.h"
#include "perturb.h"

unsigned openwsk_adversity_flags;

static unsigned adversity_lowres = 100;
static unsigned adversity_reset = 200;
static uint64_t adversity_seed;
static FILE *adversity_log; /* log=FILE, or NULL */
static pthread_mutex_t adversity_log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long adversity_events;      /* atomic */
static unsigned long adversity_by_kind[6]; /* atomic: short receives, short indications, failed allocations, slowed sends, completions moved, resets */
static int adversity_summary_registered;

#define STDERR_EVENTS 20

static unsigned kind_index(unsigned what)
{
    return what == OPENWSK_ADVERSE_SHORT_RECEIVE        ? 0
           : what == OPENWSK_ADVERSE_SHORT_INDICATION ? 1
           : what == OPENWSK_ADVERSE_LOW_RESOURCES    ? 2
           : what == OPENWSK_ADVERSE_SLOW_SEND        ? 3
           : what == OPENWSK_ADVERSE_PENDING          ? 4
                                                      : 5;
}

static void adversity_summary(void)
{
    if (adversity_seed == 0 && __atomic_load_n(&adversity_events, __ATOMIC_RELAXED) == 0)
        return;
    openwsk_log("adversity: seed %llu: %lu events injected (%lu short receives, %lu short indications, "
                "%lu failed allocations, %lu slowed senders, %lu completions moved, %lu resets)%s",
                (unsigned long long)adversity_seed, __atomic_load_n(&adversity_events, __ATOMIC_RELAXED),
                __atomic_load_n(&adversity_by_kind[0], __ATOMIC_RELAXED),
                __atomic_load_n(&adversity_by_kind[1], __ATOMIC_RELAXED),
                __atomic_load_n(&adversity_by_kind[2], __ATOMIC_RELAXED),
                __atomic_load_n(&adversity_by_kind[3], __ATOMIC_RELAXED),
                __atomic_load_n(&adversity_by_kind[4], __ATOMIC_RELAXED),
                __atomic_load_n(&adversity_by_kind[5], __ATOMIC_RELAXED), adversity_log != NULL ? "; every event is in the log file" : "");
    if (adversity_log != NULL)
        fflush(adversity_log);
}

int openwsk_adversity_configure(const char *spec)
{
    if (spec == NULL || *spec == '\0') {
        if (__atomic_exchange_n(&openwsk_adversity_flags, 0, __ATOMIC_RELAXED) != 0)
            openwsk_perturb_configure(0, 0); /* it was ours */
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(spec, &end, 10);
    if (errno != 0 || end == spec || (*end != '\0' && *end != ',')) {
        openwsk_log("OPENWSK_ADVERSITY=\"%s\": expected <seed>[,short][,events][,slowsend][,pending][,lowres=N][,reset=N][,log=FILE]", spec);
        return -1;
    }
    unsigned flags = 0;
    unsigned lowres = 100, reset = 200;
    const char *log_path = NULL;
    char path[512];
    const char *p = end;
    while (*p == ',') {
        p++;
        size_t n = strcspn(p, ",");
        if (n == 5 && strncmp(p, "short", 5) == 0) {
            flags |= OPENWSK_ADVERSE_SHORT_RECEIVE;
        } else if (n == 6 && strncmp(p, "events", 6) == 0) {
            flags |= OPENWSK_ADVERSE_SHORT_INDICATION;
        } else if (n == 8 && strncmp(p, "slowsend", 8) == 0) {
            flags |= OPENWSK_ADVERSE_SLOW_SEND;
        } else if (n == 7 && strncmp(p, "pending", 7) == 0) {
            flags |= OPENWSK_ADVERSE_PENDING;
        } else if (n > 7 && strncmp(p, "lowres=", 7) == 0) {
            char *e;
            unsigned long v = strtoul(p + 7, &e, 10);
            if (e != p + n || v < 1 || v > 1000000) {
                openwsk_log("OPENWSK_ADVERSITY: lowres=N needs 1 <= N <= 1000000");
                return -1;
            }
            lowres = (unsigned)v;
            flags |= OPENWSK_ADVERSE_LOW_RESOURCES;
        } else if (n >= 5 && strncmp(p, "reset", 5) == 0 && (n == 5 || p[5] == '=')) {
            if (n > 6) {
                char *e;
                unsigned long v = strtoul(p + 6, &e, 10);
                if (e != p + n || v < 1 || v > 1000000) {
                    openwsk_log("OPENWSK_ADVERSITY: reset=N needs 1 <= N <= 1000000");
                    return -1;
                }
                reset = (unsigned)v;
            } else if (n == 6) {
                openwsk_log("OPENWSK_ADVERSITY: reset=N needs 1 <= N <= 1000000");
                return -1;
            }
            flags |= OPENWSK_ADVERSE_RESET;
        } else if (n > 4 && n - 4 < sizeof(path) && strncmp(p, "log=", 4) == 0) {
            memcpy(path, p + 4, n - 4);
            path[n - 4] = '\0';
            log_path = path;
        } else {
            openwsk_log("OPENWSK_ADVERSITY: unknown option \"%.*s\" (short, events, slowsend, pending, lowres=N, reset=N, log=FILE)", (int)n, p);
            return -1;
        }
        p += n;
    }
    if (flags == 0)
        flags = OPENWSK_ADVERSE_SHORT_RECEIVE | OPENWSK_ADVERSE_SHORT_INDICATION | OPENWSK_ADVERSE_LOW_RESOURCES |
                OPENWSK_ADVERSE_SLOW_SEND | OPENWSK_ADVERSE_PENDING;
    if (adversity_log != NULL) {
        fclose(adversity_log);
        adversity_log = NULL;
    }
    if (log_path != NULL) {
        FILE *f = fopen(log_path, "w");
        if (f == NULL) {
            openwsk_log("OPENWSK_ADVERSITY: cannot write %s", log_path);
            return -1;
        }
        setvbuf(f, NULL, _IOLBF, 0);
        adversity_log = f;
    }
    adversity_seed = seed;
    adversity_lowres = lowres;
    adversity_reset = reset;
    /* One mechanism: the schedule perturbation of the same seed. */
    openwsk_perturb_configure(1, seed);
    __atomic_store_n(&openwsk_adversity_flags, flags, __ATOMIC_RELEASE);
    if (!adversity_summary_registered) {
        adversity_summary_registered = 1;
        atexit(adversity_summary);
    }
    openwsk_log("adversity on, seed %llu:%s%s%s%s%s%s, with schedule perturbation (replay: the same OPENWSK_ADVERSITY)",
                seed, (flags & OPENWSK_ADVERSE_SHORT_RECEIVE) ? " short-receives" : "",
                (flags & OPENWSK_ADVERSE_SHORT_INDICATION) ? " short-indications" : "",
                (flags & OPENWSK_ADVERSE_SLOW_SEND) ? " slow-sends" : "",
                (flags & OPENWSK_ADVERSE_PENDING) ? " moved-completions" : "",
                (flags & OPENWSK_ADVERSE_RESET) ? " resets" : "",
                (flags & OPENWSK_ADVERSE_LOW_RESOURCES) ? " low-resources" : "");
    if (flags & OPENWSK_ADVERSE_LOW_RESOURCES)
        openwsk_log("adversity: the driver's allocations fail 1 in %u", lowres);
    if (flags & OPENWSK_ADVERSE_RESET)
        openwsk_log("adversity: 1 data operation in %u resets its connection", reset);
    return 0;
}

__attribute__((constructor)) static void adversity_from_environment(void)
{
    const char *spec = getenv("OPENWSK_ADVERSITY");
    if (spec != NULL && *spec != '\0' && openwsk_adversity_configure(spec) != 0)
        _exit(2);
}

static unsigned adversity_ordinals; /* atomic */

static uint64_t stream_next(openwsk_adversity_stream *st)
{
    if (!st->seeded) {
        openwsk_perturb_rng r;
        if (st->ordinal == 0)
            st->ordinal = __atomic_add_fetch(&adversity_ordinals, 1, __ATOMIC_RELAXED);
        openwsk_perturb_rng_seed(&r, adversity_seed ^ 0x616476657273ull /* "advers" */, st->ordinal);
        st->state = r.state;
        st->seeded = 1;
    }
    openwsk_perturb_rng r = {st->state};
    uint64_t v = openwsk_perturb_rng_next(&r);
    st->state = r.state;
    return v;
}

int openwsk_adversity_stream_one_in(openwsk_adversity_stream *st, unsigned n)
{
    return n <= 1 || stream_next(st) % n == 0;
}

uint32_t openwsk_adversity_stream_pick(openwsk_adversity_stream *st, uint32_t max)
{
    return max <= 1 ? 1 : 1 + (uint32_t)(stream_next(st) % max);
}

int openwsk_adversity_one_in(unsigned n)
{
    return openwsk_perturb_one_in(n);
}

void openwsk_adversity_event(unsigned what, const char *fmt, ...)
{
    unsigned long n = __atomic_add_fetch(&adversity_events, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&adversity_by_kind[kind_index(what)], 1, __ATOMIC_RELAXED);
    if (adversity_log == NULL && n > STDERR_EVENTS)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (adversity_log != NULL) {
        pthread_mutex_lock(&adversity_log_lock);
        fprintf(adversity_log, "#%lu %s\n", n, text);
        pthread_mutex_unlock(&adversity_log_lock);
    } else {
        openwsk_log("adversity #%lu: %s%s", n, text,
                    n == STDERR_EVENTS ? " (later events: counted only; log=FILE keeps them all)" : "");
    }
}

int openwsk_adversity_reset_now(openwsk_adversity_stream *st)
{
    return !st->reset && openwsk_adversity_stream_one_in(st, adversity_reset);
}

int openwsk_adversity_fail_allocation(const char *call, uint64_t bytes)
{
    if (!openwsk_adversity_one_in(adversity_lowres))
        return 0;
    openwsk_adversity_event(OPENWSK_ADVERSE_LOW_RESOURCES, "%s(%llu bytes) fails (low resources)", call,
                            (unsigned long long)bytes);
    return 1;
}
