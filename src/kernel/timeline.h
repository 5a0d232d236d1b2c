/*
 * timeline.h - the IRP and socket timeline: a Chrome trace-event JSON file
 * (loadable by ui.perfetto.dev and chrome://tracing) of what a driver did.
 *
 * Off unless OPENWSK_TRACE=FILE.json is set when the runtime loads, or
 * openwsk_trace_start() is called (wskhost --trace FILE.json).  Off, every
 * hook is one load of a global and a not-taken branch.  On, a hook fills
 * one record in the calling thread's current chunk (fixed size, no lock);
 * a lock is taken only when a thread starts a new chunk.  The total number
 * of records is capped (OPENWSK_TRACE_MAX_EVENTS, default 262144); records
 * past the cap are counted and the count is written in the file.  The
 * JSON is written at exit, and by openwsk_trace_flush().
 *
 * Plain C, no Windows headers: usable from every part of the runtime.
 */
#ifndef OPENWSK_TIMELINE_H
#define OPENWSK_TIMELINE_H

#include <stdint.h>

/* Non-zero while tracing.  Read through openwsk_trace_enabled(). */
extern int openwsk_trace_on;

static inline int openwsk_trace_enabled(void)
{
    return __builtin_expect(__atomic_load_n(&openwsk_trace_on, __ATOMIC_RELAXED), 0);
}

/* How an argument's value is written. */
typedef enum tl_arg_kind {
    TL_ARG_U64,    /* decimal */
    TL_ARG_I64,    /* signed decimal */
    TL_ARG_HEX,    /* "0x..." string (pointers) */
    TL_ARG_STATUS, /* "0x%08X" NTSTATUS */
    TL_ARG_STR,    /* a static string */
    TL_ARG_SYM,    /* a code address, written as its symbol name when dladdr knows it */
} tl_arg_kind;

#define TL_MAX_ARGS 4

/* One trace event.  Names, categories, keys and TL_ARG_STR values must be
 * static strings: they are written out long after the event. */
typedef struct tl_rec {
    uint64_t ts;  /* ns since the trace started */
    uint64_t dur; /* 'X': duration in ns */
    uint64_t id;  /* 'b' 'n' 'e': async id; 'C': the pool tag */
    const char *name;
    const char *cat;
    char ph; /* 'b' 'n' 'e' 'X' 'C' 'i' */
    uint8_t nargs;
    uint8_t kinds[TL_MAX_ARGS];
    const char *keys[TL_MAX_ARGS];
    uint64_t vals[TL_MAX_ARGS];
} tl_rec;

/* Nanoseconds since the trace started (monotonic clock). */
uint64_t openwsk_trace_now(void);
/* A new id for an async span (never 0). */
uint64_t openwsk_trace_new_id(void);
/* Appends a copy of *r to the calling thread's records (or counts it as
 * dropped past the cap). */
void openwsk_trace_put(const tl_rec *r);

static inline void tl_arg(tl_rec *r, const char *key, tl_arg_kind kind, uint64_t v)
{
    if (r->nargs < TL_MAX_ARGS) {
        r->keys[r->nargs] = key;
        r->kinds[r->nargs] = (uint8_t)kind;
        r->vals[r->nargs] = v;
        r->nargs++;
    }
}

/* A complete slice ('X') on the calling thread from t0 to now. */
void openwsk_trace_slice(const char *cat, const char *name, uint64_t t0, const char *key, tl_arg_kind kind,
                         uint64_t v);

/* ---- hooks ---- */

/* Event callbacks: wraps the call expression `call` (the callback's
 * invocation) in a slice named `name` with the socket and the returned
 * value, and lets the driver verifier check what the callback returned
 * and the IRQL and spin locks it returned with (callback_watch.c).  Off
 * (no tracing, no verifier): the call alone, behind one branch. */
void openwsk_trace_callback_done(const char *name, const void *socket, uint64_t t0, int64_t returned);
typedef struct openwsk_callback_watch {
    uint64_t t0;       /* trace start + 1, or 0 */
    unsigned verify;   /* the verifier's groups at the call */
    unsigned spins;    /* spin locks the thread held */
    unsigned char irql;
} openwsk_callback_watch;
extern unsigned openwsk_verify_groups;
void openwsk_callback_enter(openwsk_callback_watch *w);
void openwsk_callback_leave(const openwsk_callback_watch *w, const char *name, const void *socket, int64_t returned);
#define OPENWSK_TRACE_CALLBACK(name, socket, call)                                                            \
    __extension__({                                                                                         \
        __typeof__(call) tl_r_;                                                                             \
        if (__builtin_expect((__atomic_load_n(&openwsk_trace_on, __ATOMIC_RELAXED) |                        \
                              (int)__atomic_load_n(&openwsk_verify_groups, __ATOMIC_RELAXED)) != 0,         \
                             0)) {                                                                          \
            openwsk_callback_watch tl_w_;                                                                   \
            openwsk_callback_enter(&tl_w_);                                                                 \
            tl_r_ = (call);                                                                                 \
            openwsk_callback_leave(&tl_w_, (name), (socket), (int64_t)tl_r_);                               \
        } else {                                                                                            \
            tl_r_ = (call);                                                                                 \
        }                                                                                                   \
        tl_r_;                                                                                              \
    })

/* Sockets: a span (cat "socket") from creation to destruction, which is
 * when the close IRP completes.  created() returns nothing; take() removes
 * the socket from the table before its memory goes and returns the id to
 * hand to end() after the close IRP completed (0: not traced). */
void openwsk_trace_socket_created_slow(const void *socket, const char *kind);
uint64_t openwsk_trace_socket_take_slow(const void *socket);
void openwsk_trace_socket_end_slow(uint64_t id);
static inline void openwsk_trace_socket_created(const void *socket, const char *kind)
{
    if (openwsk_trace_enabled())
        openwsk_trace_socket_created_slow(socket, kind);
}
static inline uint64_t openwsk_trace_socket_take(const void *socket)
{
    return openwsk_trace_enabled() ? openwsk_trace_socket_take_slow(socket) : 0;
}
static inline void openwsk_trace_socket_end(uint64_t id)
{
    if (id != 0)
        openwsk_trace_socket_end_slow(id);
}

/* IRPs handed to the provider (wsk_trace_dispatch.c): begin() before the
 * provider function runs, end() with what it returned.  The span ends at
 * the IRP's completion, or when the call returns if that is later. */
typedef struct tl_irp_call {
    void *entry; /* NULL: not traced */
    uint64_t t0;
    const char *name;
} tl_irp_call;
void openwsk_trace_irp_call_begin(tl_irp_call *c, const char *name, const void *socket, const void *irp,
                                  uint64_t length);
void openwsk_trace_irp_call_end(tl_irp_call *c, int32_t returned);

/* IofCompleteRequest: the IRP reached its completion; returns the name of
 * its completion routine's slice ("WskReceive completion"), or NULL if it
 * was not traced. */
const char *openwsk_trace_irp_completing(const void *irp, int32_t status, uint64_t information);
/* A completion routine ran from t0 to now; `name` from irp_completing. */
void openwsk_trace_completion_routine(const char *function, const void *routine, uint64_t t0, int32_t returned);

/* Pool: called after each allocation and free; samples bytes by tag at
 * most once a millisecond (pool.c writes the counters). */
void openwsk_trace_pool_changed_slow(void);
static inline void openwsk_trace_pool_changed(void)
{
    if (openwsk_trace_enabled())
        openwsk_trace_pool_changed_slow();
}
/* pool.c: emits a counter for each tag whose bytes changed since the last
 * sample (all tags when `all`). */
void openwsk_pool_trace_sample(int all);

/* Statistics for tests. */
uint64_t openwsk_trace_recorded(void);
uint64_t openwsk_trace_dropped(void);

#endif /* OPENWSK_TIMELINE_H */
