/*
 * timeline.c - the trace writer behind timeline.h: per-thread chunks of
 * records, the IRP and socket tables that pair a span's end with its
 * beginning, and the JSON writer (Chrome trace-event format, "JSON Object
 * Format": {"traceEvents": [...], "displayTimeUnit": "ns"}).
 *
 * Records go into fixed-size chunks owned by one thread each.  Every chunk
 * is linked into one global list when it is made (under a lock, once per
 * TL_CHUNK_RECS records) and never freed, so the writer can walk all of
 * them at any time: a thread publishes a record by a release store of its
 * chunk's count after filling it, and the writer reads only that far.
 */
#include "timeline.h"

#include <ntdef.h>
#include <openwsk_runtime.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TL_CHUNK_RECS 512u
#define TL_DEFAULT_MAX_EVENTS 262144u
#define TL_STATUS_PENDING 0x00000103

int openwsk_trace_on;

typedef struct tl_chunk {
    struct tl_chunk *next; /* older chunk; fixed once linked */
    int tid;
    char thread_name[16];
    uint32_t count; /* records published (atomic) */
    tl_rec recs[TL_CHUNK_RECS];
} tl_chunk;

static pthread_mutex_t tl_lock = PTHREAD_MUTEX_INITIALIZER; /* chunk list, path */
static pthread_mutex_t tl_flush_lock = PTHREAD_MUTEX_INITIALIZER;
static tl_chunk *tl_chunks;
static uint64_t tl_chunk_count; /* under tl_lock */
static uint64_t tl_chunk_cap;
static int tl_full; /* atomic: the cap was reached */
static uint64_t tl_dropped_events; /* atomic */
static uint64_t tl_start_ns;      /* atomic */
static uint64_t tl_next_id;       /* atomic */
static char *tl_path;             /* under tl_lock */
static __thread tl_chunk *tl_current;

static uint64_t tl_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t openwsk_trace_now(void)
{
    return tl_clock() - __atomic_load_n(&tl_start_ns, __ATOMIC_RELAXED);
}

uint64_t openwsk_trace_new_id(void)
{
    return __atomic_add_fetch(&tl_next_id, 1, __ATOMIC_RELAXED);
}

/* Past the cap, only the ends of spans already open are still recorded
 * (from a reserve of an eighth more), so that every 'b' keeps its 'e'. */
static tl_chunk *tl_new_chunk(int span_end)
{
    if (__atomic_load_n(&tl_full, __ATOMIC_RELAXED) && !span_end)
        return NULL;
    tl_chunk *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->tid = (int)gettid();
    c->count = 0;
    memset(c->thread_name, 0, sizeof c->thread_name);
    pthread_getname_np(pthread_self(), c->thread_name, sizeof c->thread_name);
    pthread_mutex_lock(&tl_lock);
    if (tl_chunk_count >= tl_chunk_cap)
        __atomic_store_n(&tl_full, 1, __ATOMIC_RELAXED);
    if (tl_chunk_count >= tl_chunk_cap + (span_end ? tl_chunk_cap / 8 + 2 : 0)) {
        pthread_mutex_unlock(&tl_lock);
        free(c);
        return NULL;
    }
    tl_chunk_count++;
    c->next = tl_chunks;
    tl_chunks = c;
    pthread_mutex_unlock(&tl_lock);
    return c;
}

void openwsk_trace_put(const tl_rec *r)
{
    if (r->ph != 'e' && __atomic_load_n(&tl_full, __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&tl_dropped_events, 1, __ATOMIC_RELAXED);
        return;
    }
    tl_chunk *c = tl_current;
    uint32_t n = c != NULL ? c->count : TL_CHUNK_RECS; /* only this thread writes it */
    if (n == TL_CHUNK_RECS) {
        c = tl_new_chunk(r->ph == 'e');
        if (c == NULL) {
            __atomic_add_fetch(&tl_dropped_events, 1, __ATOMIC_RELAXED);
            return;
        }
        tl_current = c;
        n = 0;
    }
    c->recs[n] = *r;
    __atomic_store_n(&c->count, n + 1, __ATOMIC_RELEASE);
}

void openwsk_trace_slice(const char *cat, const char *name, uint64_t t0, const char *key, tl_arg_kind kind,
                         uint64_t v)
{
    uint64_t now = openwsk_trace_now();
    tl_rec r = {.ts = t0, .dur = now - t0, .name = name, .cat = cat, .ph = 'X'};
    if (key != NULL)
        tl_arg(&r, key, kind, v);
    openwsk_trace_put(&r);
}

/* ---- tables pairing a span's end with its beginning ---- */

typedef struct tl_entry {
    struct tl_entry *next;
    const void *key; /* the IRP or the socket */
    uint64_t id;
    const char *name;
    const char *completion_name; /* IRPs: the completion routine's slice */
    int in_call;   /* IRPs: the provider function has not returned yet */
    int completed; /* IRPs: IoCompleteRequest came while in_call */
    int32_t status;
    uint64_t information;
} tl_entry;

#define TL_BUCKETS 1024u
#define TL_STRIPES 64u

typedef struct tl_table {
    pthread_mutex_t locks[TL_STRIPES];
    tl_entry *spares[TL_STRIPES]; /* entries of ended spans, for reuse (under the stripe's lock) */
    tl_entry *buckets[TL_BUCKETS];
} tl_table;

#define TL_TABLE_INIT                                                                                         \
    {                                                                                                         \
        .locks = {[0 ... TL_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER }                                        \
    }
static tl_table tl_irps = TL_TABLE_INIT;
static tl_table tl_sockets = TL_TABLE_INIT;

static unsigned tl_bucket(const void *key)
{
    uint64_t k = (uint64_t)(uintptr_t)key;
    return (unsigned)((k >> 4) * 0x9E3779B97F4A7C15ull >> 54) % TL_BUCKETS;
}

static pthread_mutex_t *tl_stripe(tl_table *t, unsigned b)
{
    return &t->locks[b % TL_STRIPES];
}

/* An entry from the stripe's spares, or a new one; zeroed. */
static tl_entry *tl_entry_get_locked(tl_table *t, unsigned b)
{
    tl_entry *e = t->spares[b % TL_STRIPES];
    if (e == NULL)
        return calloc(1, sizeof *e);
    t->spares[b % TL_STRIPES] = e->next;
    memset(e, 0, sizeof *e);
    return e;
}

static void tl_entry_put_locked(tl_table *t, unsigned b, tl_entry *e)
{
    e->next = t->spares[b % TL_STRIPES];
    t->spares[b % TL_STRIPES] = e;
}

static void tl_unlink_locked(tl_table *t, unsigned b, tl_entry *e)
{
    for (tl_entry **p = &t->buckets[b]; *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            return;
        }
    }
}

static void tl_async(char ph, const char *cat, const char *name, uint64_t id, uint64_t ts, tl_rec *r)
{
    r->ts = ts;
    r->ph = ph;
    r->cat = cat;
    r->name = name;
    r->id = id;
    openwsk_trace_put(r);
}

/* ---- IRPs ---- */

/* "WskReceive" -> "WskReceive completion": names are static strings, so
 * the few distinct ones are made once and kept.  Looked up without a lock
 * (entries are only ever added, each published by a release store). */
#define TL_NAMES 48u
static struct {
    const char *function; /* atomic */
    char *name;
} tl_names[TL_NAMES];
static pthread_mutex_t tl_names_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *tl_completion_name(const char *function)
{
    if (function == NULL)
        return "completion routine";
    unsigned i = 0;
    for (; i < TL_NAMES; i++) {
        const char *f = __atomic_load_n(&tl_names[i].function, __ATOMIC_ACQUIRE);
        if (f == function)
            return tl_names[i].name;
        if (f == NULL)
            break;
    }
    const char *found = "completion routine";
    pthread_mutex_lock(&tl_names_lock);
    for (; i < TL_NAMES; i++) {
        const char *f = __atomic_load_n(&tl_names[i].function, __ATOMIC_ACQUIRE);
        if (f == function) {
            found = tl_names[i].name;
            break;
        }
        if (f == NULL) {
            size_t n = strlen(function) + sizeof " completion";
            char *s = malloc(n);
            if (s != NULL) {
                snprintf(s, n, "%s completion", function);
                tl_names[i].name = s;
                __atomic_store_n(&tl_names[i].function, function, __ATOMIC_RELEASE);
                found = s;
            }
            break;
        }
    }
    pthread_mutex_unlock(&tl_names_lock);
    return found;
}

void openwsk_trace_irp_call_begin(tl_irp_call *c, const char *name, const void *socket, const void *irp,
                                  uint64_t length)
{
    c->entry = NULL;
    c->name = name;
    c->t0 = 0;
    if (!openwsk_trace_enabled())
        return;
    c->t0 = openwsk_trace_now() + 1;
    if (irp == NULL || __atomic_load_n(&tl_full, __ATOMIC_RELAXED))
        return; /* a call without an IRP, or past the cap: the slice alone */
    const char *completion_name = tl_completion_name(name);
    uint64_t id = openwsk_trace_new_id();
    unsigned b = tl_bucket(irp);
    pthread_mutex_lock(tl_stripe(&tl_irps, b));
    tl_entry *e = tl_entry_get_locked(&tl_irps, b);
    if (e == NULL) {
        pthread_mutex_unlock(tl_stripe(&tl_irps, b));
        return;
    }
    e->key = irp;
    e->id = id;
    e->name = name;
    e->in_call = 1;
    e->completion_name = completion_name;
    e->next = tl_irps.buckets[b];
    tl_irps.buckets[b] = e;
    pthread_mutex_unlock(tl_stripe(&tl_irps, b));
    c->entry = e;
    tl_rec r = {0};
    tl_arg(&r, "socket", TL_ARG_HEX, (uint64_t)(uintptr_t)socket);
    tl_arg(&r, "irp", TL_ARG_HEX, (uint64_t)(uintptr_t)irp);
    tl_arg(&r, "length", TL_ARG_U64, length);
    tl_async('b', "irp", name, id, c->t0 - 1, &r);
}

static void tl_irp_end(const tl_entry *e, uint64_t ts, int completed)
{
    tl_rec r = {0};
    tl_arg(&r, "status", TL_ARG_STATUS, (uint64_t)(uint32_t)e->status);
    tl_arg(&r, "information", TL_ARG_U64, e->information);
    if (!completed)
        tl_arg(&r, "completed", TL_ARG_STR, (uint64_t)(uintptr_t) "no: returned without completing the IRP");
    tl_async('e', "irp", e->name, e->id, ts, &r);
}

void openwsk_trace_irp_call_end(tl_irp_call *c, int32_t returned)
{
    if (c->t0 == 0)
        return;
    uint64_t t0 = c->t0 - 1;
    uint64_t now = openwsk_trace_now(); /* the call's end, and the span's if it ends here */
    tl_rec x = {.ts = t0, .dur = now - t0, .name = c->name, .cat = "wsk_call", .ph = 'X'};
    tl_arg(&x, "returned", TL_ARG_STATUS, (uint64_t)(uint32_t)returned);
    openwsk_trace_put(&x);
    tl_entry *e = c->entry;
    if (e == NULL)
        return;
    unsigned b = tl_bucket(e->key);
    pthread_mutex_lock(tl_stripe(&tl_irps, b));
    e->in_call = 0;
    if (returned == TL_STATUS_PENDING) {
        tl_rec r = {0};
        tl_async('n', "irp", "pending", e->id, now, &r);
    }
    int finished = e->completed || returned != TL_STATUS_PENDING;
    if (finished) {
        if (!e->completed) {
            /* A provider that refused the call without completing the IRP
             * (no client, say): the span ends with what it returned. */
            e->status = returned;
            e->information = 0;
        }
        tl_irp_end(e, now, e->completed);
        tl_unlink_locked(&tl_irps, b, e);
        tl_entry_put_locked(&tl_irps, b, e);
    }
    pthread_mutex_unlock(tl_stripe(&tl_irps, b));
}

const char *openwsk_trace_irp_completing(const void *irp, int32_t status, uint64_t information)
{
    unsigned b = tl_bucket(irp);
    const char *name = NULL;
    pthread_mutex_lock(tl_stripe(&tl_irps, b));
    for (tl_entry *e = tl_irps.buckets[b]; e != NULL; e = e->next) {
        if (e->key != irp || e->completed)
            continue;
        name = e->completion_name;
        e->status = status;
        e->information = information;
        if (e->in_call) {
            e->completed = 1; /* the call's return ends the span */
        } else {
            tl_irp_end(e, openwsk_trace_now(), 1);
            tl_unlink_locked(&tl_irps, b, e);
            tl_entry_put_locked(&tl_irps, b, e);
        }
        break;
    }
    pthread_mutex_unlock(tl_stripe(&tl_irps, b));
    return name;
}

void openwsk_trace_completion_routine(const char *function, const void *routine, uint64_t t0, int32_t returned)
{
    uint64_t now = openwsk_trace_now();
    tl_rec r = {.ts = t0,
                .dur = now - t0,
                .name = function != NULL ? function : "completion routine",
                .cat = "completion",
                .ph = 'X'};
    tl_arg(&r, "routine", TL_ARG_SYM, (uint64_t)(uintptr_t)routine);
    tl_arg(&r, "returned", TL_ARG_STATUS, (uint64_t)(uint32_t)returned);
    openwsk_trace_put(&r);
}

/* ---- event callbacks ---- */

void openwsk_trace_callback_done(const char *name, const void *socket, uint64_t t0, int64_t returned)
{
    uint64_t now = openwsk_trace_now();
    tl_rec r = {.ts = t0, .dur = now - t0, .name = name, .cat = "event", .ph = 'X'};
    tl_arg(&r, "socket", TL_ARG_HEX, (uint64_t)(uintptr_t)socket);
    tl_arg(&r, "returned", TL_ARG_STATUS, (uint64_t)(uint32_t)returned);
    openwsk_trace_put(&r);
}

/* ---- sockets ---- */

void openwsk_trace_socket_created_slow(const void *socket, const char *kind)
{
    if (__atomic_load_n(&tl_full, __ATOMIC_RELAXED))
        return; /* past the cap: no new span */
    tl_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return;
    e->key = socket;
    e->id = openwsk_trace_new_id();
    unsigned b = tl_bucket(socket);
    pthread_mutex_lock(tl_stripe(&tl_sockets, b));
    e->next = tl_sockets.buckets[b];
    tl_sockets.buckets[b] = e;
    pthread_mutex_unlock(tl_stripe(&tl_sockets, b));
    tl_rec r = {0};
    tl_arg(&r, "socket", TL_ARG_HEX, (uint64_t)(uintptr_t)socket);
    tl_arg(&r, "kind", TL_ARG_STR, (uint64_t)(uintptr_t)kind);
    tl_async('b', "socket", "socket", e->id, openwsk_trace_now(), &r);
}

uint64_t openwsk_trace_socket_take_slow(const void *socket)
{
    unsigned b = tl_bucket(socket);
    tl_entry *found = NULL;
    pthread_mutex_lock(tl_stripe(&tl_sockets, b));
    for (tl_entry *e = tl_sockets.buckets[b]; e != NULL; e = e->next) {
        if (e->key == socket) {
            tl_unlink_locked(&tl_sockets, b, e);
            found = e;
            break;
        }
    }
    pthread_mutex_unlock(tl_stripe(&tl_sockets, b));
    uint64_t id = found != NULL ? found->id : 0;
    free(found);
    return id;
}

void openwsk_trace_socket_end_slow(uint64_t id)
{
    tl_rec r = {0};
    tl_async('e', "socket", "socket", id, openwsk_trace_now(), &r);
}

/* ---- pool counters ---- */

static uint64_t tl_pool_last; /* atomic: when the pool was last sampled */

void openwsk_trace_pool_changed_slow(void)
{
    uint64_t now = openwsk_trace_now();
    uint64_t last = __atomic_load_n(&tl_pool_last, __ATOMIC_RELAXED);
    if (now - last < 1000000u)
        return;
    if (__atomic_compare_exchange_n(&tl_pool_last, &last, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        openwsk_pool_trace_sample(0);
}

/* ---- starting ---- */

static int tl_atexit_registered;

static void tl_flush_at_exit(void)
{
    (void)openwsk_trace_flush();
}

int openwsk_trace_start(const char *Path)
{
    if (Path == NULL || Path[0] == '\0')
        return -1;
    char *copy = strdup(Path);
    if (copy == NULL)
        return -1;
    pthread_mutex_lock(&tl_lock);
    free(tl_path);
    tl_path = copy;
    int first = !tl_atexit_registered;
    tl_atexit_registered = 1;
    if (first) {
        uint64_t cap = TL_DEFAULT_MAX_EVENTS;
        const char *max = getenv("OPENWSK_TRACE_MAX_EVENTS");
        if (max != NULL && strtoull(max, NULL, 10) > 0)
            cap = strtoull(max, NULL, 10);
        tl_chunk_cap = (cap + TL_CHUNK_RECS - 1) / TL_CHUNK_RECS;
        __atomic_store_n(&tl_start_ns, tl_clock(), __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&tl_lock);
    if (first)
        atexit(tl_flush_at_exit);
    __atomic_store_n(&openwsk_trace_on, 1, __ATOMIC_RELEASE);
    openwsk_pool_trace_sample(1);
    return 0;
}

int openwsk_trace_stop(void)
{
    int rc = openwsk_trace_flush();
    __atomic_store_n(&openwsk_trace_on, 0, __ATOMIC_RELEASE);
    return rc;
}

BOOLEAN openwsk_trace_active(void)
{
    return openwsk_trace_enabled() ? TRUE : FALSE;
}

__attribute__((constructor)) static void tl_start_from_env(void)
{
    const char *path = getenv("OPENWSK_TRACE");
    if (path != NULL && path[0] != '\0')
        (void)openwsk_trace_start(path);
}

uint64_t openwsk_trace_recorded(void)
{
    uint64_t total = 0;
    pthread_mutex_lock(&tl_lock);
    for (tl_chunk *c = tl_chunks; c != NULL; c = c->next)
        total += __atomic_load_n(&c->count, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&tl_lock);
    return total;
}

uint64_t openwsk_trace_dropped(void)
{
    return __atomic_load_n(&tl_dropped_events, __ATOMIC_RELAXED);
}

/* ---- the JSON writer ---- */

static void tl_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void tl_put_us(FILE *f, const char *key, uint64_t ns)
{
    fprintf(f, ",\"%s\":%llu.%03llu", key, (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

static void tl_put_arg(FILE *f, uint8_t kind, uint64_t v)
{
    char buf[64];
    switch (kind) {
    case TL_ARG_U64: fprintf(f, "%llu", (unsigned long long)v); break;
    case TL_ARG_I64: fprintf(f, "%lld", (long long)v); break;
    case TL_ARG_HEX: fprintf(f, "\"0x%llx\"", (unsigned long long)v); break;
    case TL_ARG_STATUS: fprintf(f, "\"0x%08X\"", (unsigned)v); break;
    case TL_ARG_STR: tl_put_string(f, (const char *)(uintptr_t)v); break;
    case TL_ARG_SYM: {
        /* A driver's own functions are hidden: dladdr would name the
         * nearest exported one.  An exact match is written as its name,
         * anything else as module+offset (for addr2line -e module). */
        Dl_info info;
        void *p = (void *)(uintptr_t)v;
        if (p != NULL && dladdr(p, &info) != 0 && info.dli_sname != NULL && info.dli_saddr == p) {
            tl_put_string(f, info.dli_sname);
        } else if (p != NULL && dladdr(p, &info) != 0 && info.dli_fname != NULL) {
            const char *base = strrchr(info.dli_fname, '/');
            snprintf(buf, sizeof buf, "%s+0x%llx", base != NULL ? base + 1 : info.dli_fname,
                     (unsigned long long)((uintptr_t)p - (uintptr_t)info.dli_fbase));
            tl_put_string(f, buf);
        } else {
            fprintf(f, "\"0x%llx\"", (unsigned long long)v);
        }
        break;
    }
    default: fputs("null", f); break;
    }
}

static void tl_put_record(FILE *f, int pid, int tid, const tl_rec *r)
{
    fputs(",\n{\"ph\":\"", f);
    fputc(r->ph, f);
    fputs("\",\"name\":", f);
    if (r->ph == 'C') {
        char name[16] = "pool ....";
        for (int i = 0; i < 4; i++) {
            unsigned char ch = (unsigned char)(r->id >> (8 * i));
            name[5 + i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '.';
        }
        tl_put_string(f, name);
    } else {
        tl_put_string(f, r->name);
    }
    if (r->cat != NULL) {
        fputs(",\"cat\":", f);
        tl_put_string(f, r->cat);
    }
    fprintf(f, ",\"pid\":%d,\"tid\":%d", pid, tid);
    tl_put_us(f, "ts", r->ts);
    if (r->ph == 'X')
        tl_put_us(f, "dur", r->dur);
    if (r->ph == 'b' || r->ph == 'n' || r->ph == 'e')
        fprintf(f, ",\"id\":\"0x%llx\"", (unsigned long long)r->id);
    if (r->ph == 'i')
        fputs(",\"s\":\"t\"", f);
    fputs(",\"args\":{", f);
    for (unsigned i = 0; i < r->nargs; i++) {
        if (i > 0)
            fputc(',', f);
        tl_put_string(f, r->keys[i]);
        fputc(':', f);
        tl_put_arg(f, r->kinds[i], r->vals[i]);
    }
    fputs("}}", f);
}

static int tl_seen_tid(const tl_chunk *newest, const tl_chunk *c)
{
    for (const tl_chunk *o = newest; o != c; o = o->next) {
        if (o->tid == c->tid)
            return 1;
    }
    return 0;
}

int openwsk_trace_flush(void)
{
    if (!openwsk_trace_enabled())
        return -1;
    openwsk_pool_trace_sample(1);
    pthread_mutex_lock(&tl_flush_lock);
    pthread_mutex_lock(&tl_lock);
    tl_chunk *newest = tl_chunks; /* older chunks' links never change */
    char *path = tl_path != NULL ? strdup(tl_path) : NULL;
    pthread_mutex_unlock(&tl_lock);
    int rc = -1;
    size_t tmp_len = path != NULL ? strlen(path) + 16 : 0;
    char *tmp = path != NULL ? malloc(tmp_len) : NULL;
    FILE *f = NULL;
    if (tmp != NULL) {
        snprintf(tmp, tmp_len, "%s.tmp%d", path, (int)getpid());
        f = fopen(tmp, "w");
    }
    if (f != NULL) {
        int pid = (int)getpid();
        uint64_t written = 0;
        fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
        fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"openwsk\"}}",
                pid, pid);
        /* Names from each thread's newest chunk: a thread may rename itself. */
        for (tl_chunk *c = newest; c != NULL; c = c->next) {
            if (tl_seen_tid(newest, c))
                continue;
            fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":", pid,
                    c->tid);
            tl_put_string(f, c->thread_name[0] != '\0' ? c->thread_name : "thread");
            fputs("}}", f);
        }
        for (tl_chunk *c = newest; c != NULL; c = c->next) {
            uint32_t n = __atomic_load_n(&c->count, __ATOMIC_ACQUIRE);
            for (uint32_t i = 0; i < n; i++)
                tl_put_record(f, pid, c->tid, &c->recs[i]);
            written += n;
        }
        uint64_t dropped = openwsk_trace_dropped();
        fprintf(f, "\n],\"otherData\":{\"openwsk_events\":\"%llu\",\"openwsk_dropped_events\":\"%llu\"}}\n",
                (unsigned long long)written, (unsigned long long)dropped);
        rc = ferror(f) ? -1 : 0;
        if (fclose(f) != 0)
            rc = -1;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = -1;
        if (rc != 0) {
            unlink(tmp);
            fprintf(stderr, "openwsk: trace: cannot write %s\n", path);
        }
    } else if (path != NULL) {
        fprintf(stderr, "openwsk: trace: cannot write %s\n", path);
    }
    free(tmp);
    free(path);
    pthread_mutex_unlock(&tl_flush_lock);
    return rc;
}
