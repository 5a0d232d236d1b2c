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

/* The behaviours, in the order of the specification; `odds` is the "one in
 * N" of those that take =N. */
typedef struct adversity_kind {
    const char *option;
    unsigned flag;
    const char *label;   /* in the start line and the summary */
    unsigned odds;       /* the default "one in N"; 0: the option takes no =N */
    const char *meaning; /* with the odds: "the driver's allocations fail 1 in %u" */
    unsigned char bare;  /* turned on by a seed alone */
} adversity_kind;

static const adversity_kind adversity_kinds[] = {
    {"short", OPENWSK_ADVERSE_SHORT_RECEIVE, "short receives", 0, NULL, 1},
    {"events", OPENWSK_ADVERSE_SHORT_INDICATION, "short indications", 0, NULL, 1},
    {"slowsend", OPENWSK_ADVERSE_SLOW_SEND, "slowed senders", 0, NULL, 1},
    {"pending", OPENWSK_ADVERSE_PENDING, "completions moved", 0, NULL, 1},
    {"lowres", OPENWSK_ADVERSE_LOW_RESOURCES, "failed allocations", 100, "the driver's allocations fail 1 in %u", 1},
    {"reset", OPENWSK_ADVERSE_RESET, "resets", 200, "1 data operation in %u resets its connection", 0},
    {"deadlisten", OPENWSK_ADVERSE_DEAD_LISTENER, "dead listeners", 50,
     "1 accept in %u finds its listener dead", 0},
};
#define ADVERSITY_KINDS (sizeof(adversity_kinds) / sizeof(adversity_kinds[0]))
/* The odds in force, per kind (set by configure, while traffic is off). */
static unsigned adversity_odds[ADVERSITY_KINDS];
#define ADVERSITY_SPEC "<seed>[,short][,events][,slowsend][,pending][,lowres[=N]][,reset[=N]][,deadlisten[=N]][,log=FILE]"

static uint64_t adversity_seed;
static FILE *adversity_log; /* log=FILE, or NULL */
static pthread_mutex_t adversity_log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long adversity_events;                    /* atomic */
static unsigned long adversity_by_kind[ADVERSITY_KINDS]; /* atomic */
static int adversity_summary_registered;

#define STDERR_EVENTS 20

static const adversity_kind *kind_of(unsigned what)
{
    for (size_t i = 0; i < ADVERSITY_KINDS; i++)
        if (adversity_kinds[i].flag == what)
            return &adversity_kinds[i];
    return &adversity_kinds[0];
}

static unsigned odds_of(unsigned what)
{
    return adversity_odds[kind_of(what) - adversity_kinds];
}

static void adversity_summary(void)
{
    if (adversity_seed == 0 && __atomic_load_n(&adversity_events, __ATOMIC_RELAXED) == 0)
        return;
    char counts[512];
    size_t used = 0;
    for (size_t i = 0; i < ADVERSITY_KINDS && used < sizeof(counts); i++)
        used += (size_t)snprintf(counts + used, sizeof(counts) - used, "%s%lu %s", i ? ", " : "",
                                 __atomic_load_n(&adversity_by_kind[i], __ATOMIC_RELAXED), adversity_kinds[i].label);
    openwsk_log("adversity: seed %llu: %lu events injected (%s)%s", (unsigned long long)adversity_seed,
                __atomic_load_n(&adversity_events, __ATOMIC_RELAXED), counts,
                adversity_log != NULL ? "; every event is in the log file" : "");
    if (adversity_log != NULL)
        fflush(adversity_log);
}

/* One "name" or "name=N" option; 1 if it is one of the behaviours, -1 if
 * its N is bad, 0 if it is something else. */
static int parse_kind(const char *p, size_t n, unsigned *flags, unsigned odds[ADVERSITY_KINDS])
{
    for (size_t i = 0; i < ADVERSITY_KINDS; i++) {
        const adversity_kind *k = &adversity_kinds[i];
        size_t len = strlen(k->option);
        if (n < len || strncmp(p, k->option, len) != 0 || (n > len && p[len] != '='))
            continue;
        if (n > len) {
            char *e = NULL;
            unsigned long v = p[len + 1] >= '0' && p[len + 1] <= '9' ? strtoul(p + len + 1, &e, 10) : 0;
            if (k->odds == 0 || e != p + n || v < 1 || v > 1000000) {
                openwsk_log("OPENWSK_ADVERSITY: %.*s: %s", (int)n, p,
                            k->odds == 0 ? "takes no =N" : "=N needs 1 <= N <= 1000000");
                return -1;
            }
            odds[i] = (unsigned)v;
        }
        *flags |= k->flag;
        return 1;
    }
    return 0;
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
        openwsk_log("OPENWSK_ADVERSITY=\"%s\": expected " ADVERSITY_SPEC, spec);
        return -1;
    }
    unsigned flags = 0;
    unsigned odds[ADVERSITY_KINDS] = {0};
    const char *log_path = NULL;
    char path[512];
    const char *p = end;
    while (*p == ',') {
        p++;
        size_t n = strcspn(p, ",");
        int kind = parse_kind(p, n, &flags, odds);
        if (kind < 0)
            return -1;
        if (kind == 0 && n > 4 && n - 4 < sizeof(path) && strncmp(p, "log=", 4) == 0) {
            memcpy(path, p + 4, n - 4);
            path[n - 4] = '\0';
            log_path = path;
        } else if (kind == 0) {
            openwsk_log("OPENWSK_ADVERSITY: unknown option \"%.*s\" (expected " ADVERSITY_SPEC ")", (int)n, p);
            return -1;
        }
        p += n;
    }
    if (flags == 0)
        for (size_t i = 0; i < ADVERSITY_KINDS; i++)
            if (adversity_kinds[i].bare)
                flags |= adversity_kinds[i].flag;
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
    for (size_t i = 0; i < ADVERSITY_KINDS; i++)
        adversity_odds[i] = odds[i] != 0 ? odds[i] : adversity_kinds[i].odds;
    /* One mechanism: the schedule perturbation of the same seed. */
    openwsk_perturb_configure(1, seed);
    __atomic_store_n(&openwsk_adversity_flags, flags, __ATOMIC_RELEASE);
    if (!adversity_summary_registered) {
        adversity_summary_registered = 1;
        atexit(adversity_summary);
    }
    char on[256];
    size_t used = 0;
    for (size_t i = 0; i < ADVERSITY_KINDS && used < sizeof(on); i++)
        if (flags & adversity_kinds[i].flag)
            used += (size_t)snprintf(on + used, sizeof(on) - used, "%s %s", used ? "," : "", adversity_kinds[i].label);
    openwsk_log("adversity on, seed %llu:%s, with schedule perturbation (replay: the same OPENWSK_ADVERSITY)", seed, on);
    for (size_t i = 0; i < ADVERSITY_KINDS; i++)
        if ((flags & adversity_kinds[i].flag) && adversity_kinds[i].meaning != NULL) {
            char line[128];
            snprintf(line, sizeof(line), adversity_kinds[i].meaning, adversity_odds[i]);
            openwsk_log("adversity: %s", line);
        }
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
    __atomic_add_fetch(&adversity_by_kind[kind_of(what) - adversity_kinds], 1, __ATOMIC_RELAXED);
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
    return !st->reset && openwsk_adversity_stream_one_in(st, odds_of(OPENWSK_ADVERSE_RESET));
}

int openwsk_adversity_listener_dies_now(openwsk_adversity_stream *st)
{
    return !st->reset && openwsk_adversity_stream_one_in(st, odds_of(OPENWSK_ADVERSE_DEAD_LISTENER));
}

int openwsk_adversity_fail_allocation(const char *call, uint64_t bytes)
{
    if (!openwsk_adversity_one_in(odds_of(OPENWSK_ADVERSE_LOW_RESOURCES)))
        return 0;
    openwsk_adversity_event(OPENWSK_ADVERSE_LOW_RESOURCES, "%s(%llu bytes) fails (low resources)", call,
                            (unsigned long long)bytes);
    return 1;
}
