/*
 * wt_pattern.h - shared pieces of the driver-pattern tests
 * (tests/test_pattern_*.c).
 *
 * Those tests are small drivers written the way production WSK drivers
 * are: calls are fired and not waited for, completion routines run at
 * DISPATCH_LEVEL and hand work to a system worker thread, contexts come
 * from pool and are freed in the close completion.  What is here is not
 * under test: the round count, a byte pattern with a long period, a Linux
 * reader that checks every byte, a driver-style work queue, bounded waits,
 * and a note of the round in progress for when the process dies.
 *
 * Rounds: OPENWSK_PATTERN_ROUNDS=N overrides every test's default (which
 * is kept small so that CI stays fast); cases that move megabytes per
 * round run a fixed fraction of N.  OPENWSK_PATTERN_CASE=text runs only
 * the cases whose name contains text; OPENWSK_PATTERN_VERBOSE=1 keeps
 * the details of every failed round (by default, after five the rest of
 * the case only counts).
 */
#ifndef OPENWSK_TEST_WT_PATTERN_H
#define OPENWSK_TEST_WT_PATTERN_H

#include <ntddk.h>
#include <wsk.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

#define WP_TAG TAG_FROM_CHARS('P', 't', 'r', 'n')

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WP_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WP_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WP_ASAN)
#define WP_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(WP_TSAN)
#define WP_TSAN 1
#endif

/* ---- rounds ---- */

/* The default is divided by 4 under ThreadSanitizer, which runs these
 * drivers 5-15 times slower; the variable always wins. */
static inline int wp_rounds(int default_rounds)
{
    const char *s = getenv("OPENWSK_PATTERN_ROUNDS");
    if (s != NULL && *s != '\0') {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == '\0' && v > 0 && v <= 10000000)
            return (int)v;
        fprintf(stderr, "OPENWSK_PATTERN_ROUNDS=\"%s\" ignored\n", s);
    }
#ifdef WP_TSAN
    default_rounds = (default_rounds + 3) / 4;
#endif
    return default_rounds;
}

/* OPENWSK_PATTERN_CASE=substring runs only the cases whose name has it. */
static inline int wp_selected(const char *name)
{
    const char *only = getenv("OPENWSK_PATTERN_CASE");
    return only == NULL || *only == '\0' || strstr(name, only) != NULL;
}
#define WP_RUN(fn)             \
    do {                       \
        if (wp_selected(#fn))  \
            WT_RUN(fn);        \
    } while (0)

/* n / divisor rounds, at least one. */
static inline int wp_fraction(int n, int divisor)
{
    return n / divisor > 0 ? n / divisor : 1;
}

/* ---- where we are, for a process that dies (bug check, crash, ASan) ---- */

static char wp_where[192] = "(setup)";
static int wp_stderr_saved = -1; /* the real stderr while details are muted */

static inline void wp_at(const char *what, int round, int rounds)
{
    snprintf(wp_where, sizeof(wp_where), "%s, round %d of %d", what, round, rounds);
}

static void wp_say_where(void)
{
    static const char head[] = "\n*** the pattern test died in ";
    int fd = wp_stderr_saved >= 0 ? wp_stderr_saved : 2;
    ssize_t ignored = write(fd, head, sizeof(head) - 1);
    ignored = write(fd, wp_where, strnlen(wp_where, sizeof(wp_where)));
    ignored = write(fd, "\n", 1);
    (void)ignored;
}

static void wp_on_signal(int sig)
{
    wp_say_where();
    signal(sig, SIG_DFL);
    raise(sig);
}

#ifdef WP_ASAN
void __asan_set_death_callback(void (*callback)(void));
#endif

/* Call first in main(): a bug check (SIGABRT), a crash or a sanitizer
 * report then names the case and round it happened in. */
static inline void wp_install_crash_note(void)
{
    signal(SIGABRT, wp_on_signal);
#if defined(WP_ASAN)
    __asan_set_death_callback(wp_say_where);
#elif !defined(WP_TSAN)
    signal(SIGSEGV, wp_on_signal);
    signal(SIGBUS, wp_on_signal);
#endif
}

/* ---- the byte pattern ---- */

/* Byte i of round r's stream.  Not (i * 7 + r) & 0xff: its period of 256
 * bytes would hide a misordering by any multiple of 256 bytes (a whole
 * 64 KiB block, say).  This is a hash of (i, r), so any stretch of 16
 * bytes identifies its offset in the stream. */
static inline UCHAR wp_byte(ULONG64 i, ULONG round)
{
    ULONG64 x = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((ULONG64)round + 1) * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (UCHAR)(x >> 24);
}

static inline void wp_fill(PUCHAR p, SIZE_T len, ULONG64 offset, ULONG round)
{
    for (SIZE_T i = 0; i < len; i++)
        p[i] = wp_byte(offset + i, round);
}

/* Where in the stream [0, limit) the 16 bytes at p come from; -1 if
 * nowhere (len < 16 compares what there is). */
static inline long long wp_locate(const UCHAR *p, SIZE_T len, ULONG round, ULONG64 limit)
{
    SIZE_T n = len < 16 ? len : 16;
    if (n == 0)
        return -1;
    for (ULONG64 j = 0; j + n <= limit; j++) {
        if (wp_byte(j, round) != p[0])
            continue;
        SIZE_T k = 1;
        while (k < n && wp_byte(j + k, round) == p[k])
            k++;
        if (k == n)
            return (long long)j;
    }
    return -1;
}

/* Checks len bytes at p against stream offset `offset`; on a mismatch
 * reports it (with where the bytes found there really come from, if that
 * can be found within `limit`) and returns FALSE. */
#define wp_check_bytes(p, len, offset, round, limit, ...) \
    wp_check_bytes_at(__FILE__, __LINE__, (p), (len), (offset), (round), (limit), __VA_ARGS__)
static inline BOOLEAN wp_check_bytes_at(const char *file, int line, const UCHAR *p, SIZE_T len, ULONG64 offset,
                                        ULONG round, ULONG64 limit, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static inline BOOLEAN wp_check_bytes_at(const char *file, int line, const UCHAR *p, SIZE_T len, ULONG64 offset,
                                        ULONG round, ULONG64 limit, const char *fmt, ...)
{
    for (SIZE_T i = 0; i < len; i++) {
        if (p[i] == wp_byte(offset + i, round))
            continue;
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        long long from = wp_locate(p + i, len - i, round, limit);
        fprintf(stderr,
                "  FAIL %s:%d: %s: byte at stream offset %llu is 0x%02x, expected 0x%02x (%zu bytes checked from "
                "offset %llu); the bytes there are stream offset %lld%s\n",
                file, line, what, (unsigned long long)(offset + i), p[i], wp_byte(offset + i, round), len,
                (unsigned long long)offset, from, from < 0 ? " (not found)" : "");
        wt_case_failed = 1;
        return FALSE;
    }
    return TRUE;
}

/* ---- time and bounded waits ---- */

#define WP_TIMEOUT_MS 10000

/* Microseconds of interrupt time. */
static inline LONGLONG wp_now_us(void)
{
    return (LONGLONG)(KeQueryInterruptTime() / 10);
}

static inline BOOLEAN wp_wait(PKEVENT e, int ms)
{
    LARGE_INTEGER t = {.QuadPart = -(LONGLONG)ms * 10000};
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

static inline void wp_sleep_us(LONGLONG us)
{
    LARGE_INTEGER t = {.QuadPart = -us * 10};
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

/* Spins until *flag is non-zero or ms elapse (for DISPATCH_LEVEL code,
 * which must not wait). */
static inline BOOLEAN wp_spin_until(volatile LONG *flag, int ms)
{
    LONGLONG end = wp_now_us() + (LONGLONG)ms * 1000;
    while (InterlockedCompareExchange((LONG *)flag, 0, 0) == 0) {
        if (wp_now_us() > end)
            return FALSE;
        KeStallExecutionProcessor(50);
    }
    return TRUE;
}

/* ---- the Linux side: a reader that checks every byte ---- */

typedef struct wp_reader {
    pthread_t thread;
    int fd;
    ULONG round;
    ULONG64 limit;        /* how far wp_locate searches */
    int timeout_ms;       /* for each recv */
    LONGLONG delay_us;    /* sleep before the first recv (lets the sender run ahead) */
    /* results */
    ULONG64 total;        /* bytes read */
    long end;             /* 0: EOF; -errno: error (-ETIMEDOUT: nothing for timeout_ms) */
    long long bad_at;     /* first offset whose byte is wrong, -1 if none */
    UCHAR bad_got, bad_want;
    long long bad_from;   /* where the bytes at bad_at come from (-1: not found) */
} wp_reader;

static void *wp_reader_main(void *p)
{
    wp_reader *r = p;
    enum { CHUNK = 256 * 1024 };
    UCHAR *buf = malloc(CHUNK);
    if (r->delay_us > 0)
        usleep((useconds_t)r->delay_us);
    for (;;) {
        long n = peer_recv(r->fd, buf, CHUNK, r->timeout_ms);
        if (n <= 0) {
            r->end = n;
            break;
        }
        for (long i = 0; r->bad_at < 0 && i < n; i++) {
            UCHAR want = wp_byte(r->total + (ULONG64)i, r->round);
            if (buf[i] != want) {
                r->bad_at = (long long)(r->total + (ULONG64)i);
                r->bad_got = buf[i];
                r->bad_want = want;
                r->bad_from = wp_locate(buf + i, (SIZE_T)(n - i), r->round, r->limit);
            }
        }
        r->total += (ULONG64)n;
    }
    free(buf);
    return NULL;
}

static inline void wp_reader_start(wp_reader *r, int fd, ULONG round, ULONG64 limit, LONGLONG delay_us)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->round = round;
    r->limit = limit;
    r->timeout_ms = WP_TIMEOUT_MS;
    r->delay_us = delay_us;
    r->bad_at = -1;
    r->bad_from = -1;
    pthread_create(&r->thread, NULL, wp_reader_main, r);
}

static inline void wp_reader_join(wp_reader *r)
{
    pthread_join(r->thread, NULL);
}

/* The reader must have seen exactly `expected` pattern bytes, then EOF. */
#define wp_reader_expect(r, expected, ...) wp_reader_expect_at(__FILE__, __LINE__, (r), (expected), __VA_ARGS__)
static inline void wp_reader_expect_at(const char *file, int line, const wp_reader *r, ULONG64 expected,
                                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline void wp_reader_expect_at(const char *file, int line, const wp_reader *r, ULONG64 expected,
                                       const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (r->bad_at >= 0) {
        fprintf(stderr,
                "  FAIL %s:%d: %s: the peer read byte 0x%02x at stream offset %lld, expected 0x%02x (those bytes "
                "are stream offset %lld%s)\n",
                file, line, what, r->bad_got, r->bad_at, r->bad_want, r->bad_from,
                r->bad_from < 0 ? ", not found" : "");
        wt_case_failed = 1;
    }
    if (r->total != expected || r->end != 0) {
        fprintf(stderr, "  FAIL %s:%d: %s: the peer read %llu bytes then %s%s (%ld), expected %llu bytes then EOF\n",
                file, line, what, (unsigned long long)r->total,
                r->end == 0 ? "EOF" : r->end == -ECONNRESET ? "a reset" : r->end == -ETIMEDOUT ? "nothing" : "an error",
                r->end == -ETIMEDOUT ? " for 10 s" : "", r->end, (unsigned long long)expected);
        wt_case_failed = 1;
    }
}

/* ---- a driver's work queue: a spin lock, a list and a system thread ---- */

typedef struct WP_WORK WP_WORK;
typedef VOID WP_WORK_ROUTINE(WP_WORK *Work);
struct WP_WORK {
    LIST_ENTRY Link;
    WP_WORK_ROUTINE *Routine;
};

typedef struct WP_WORKER {
    KSPIN_LOCK Lock;
    LIST_ENTRY Queue;
    KEVENT Ready; /* synchronization event: work was queued, or stop */
    BOOLEAN Stop;
    PETHREAD Thread;
} WP_WORKER;

static VOID wp_worker_main(PVOID Context)
{
    WP_WORKER *w = Context;
    for (;;) {
        KIRQL irql;
        BOOLEAN stop;
        KeWaitForSingleObject(&w->Ready, Executive, KernelMode, FALSE, NULL);
        for (;;) {
            WP_WORK *work = NULL;
            KeAcquireSpinLock(&w->Lock, &irql);
            stop = w->Stop;
            if (!IsListEmpty(&w->Queue))
                work = CONTAINING_RECORD(RemoveHeadList(&w->Queue), WP_WORK, Link);
            KeReleaseSpinLock(&w->Lock, irql);
            if (work == NULL)
                break;
            work->Routine(work);
        }
        if (stop)
            break;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static inline NTSTATUS wp_worker_start(WP_WORKER *w)
{
    HANDLE h;
    KeInitializeSpinLock(&w->Lock);
    InitializeListHead(&w->Queue);
    KeInitializeEvent(&w->Ready, SynchronizationEvent, FALSE);
    w->Stop = FALSE;
    NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, wp_worker_main, w);
    if (!NT_SUCCESS(st))
        return st;
    st = ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &w->Thread, NULL);
    ZwClose(h);
    return st;
}

/* Callable at DISPATCH_LEVEL (from completion routines and callbacks). */
static inline VOID wp_worker_queue(WP_WORKER *w, WP_WORK *work, WP_WORK_ROUTINE *routine)
{
    KIRQL irql;
    work->Routine = routine;
    KeAcquireSpinLock(&w->Lock, &irql);
    InsertTailList(&w->Queue, &work->Link);
    KeReleaseSpinLock(&w->Lock, irql);
    KeSetEvent(&w->Ready, IO_NO_INCREMENT, FALSE);
}

/* Runs what is queued, then ends the thread. */
static inline VOID wp_worker_stop(WP_WORKER *w)
{
    KIRQL irql;
    KeAcquireSpinLock(&w->Lock, &irql);
    w->Stop = TRUE;
    KeReleaseSpinLock(&w->Lock, irql);
    KeSetEvent(&w->Ready, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(w->Thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(w->Thread);
}

/* ---- setup (synchronous; not what these tests are about) ---- */

/* A WSK connection socket with the given context and event table,
 * connected to a fresh Linux listener on 127.0.0.1; *peer is the Linux
 * end.  NULL on failure (reported). */
static inline PWSK_SOCKET wp_connect(wt_wsk *t, PVOID context, const WSK_CLIENT_CONNECTION_DISPATCH *dispatch,
                                     int *peer)
{
    wt_irp w = {0};
    *peer = -1;
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    if (lfd < 0) {
        WT_FAIL("Linux listener: %d", lfd);
        return NULL;
    }
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                 WSK_FLAG_CONNECTION_SOCKET, context, dispatch, NULL, NULL, NULL,
                                                 wt_irp_arm(&w));
    NTSTATUS st = wt_irp_result(&w, r);
    PWSK_SOCKET s = NT_SUCCESS(st) ? (PWSK_SOCKET)w.irp->IoStatus.Information : NULL;
    if (s == NULL) {
        WT_FAIL("WskSocket: 0x%x", (unsigned)st);
    } else {
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
        SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(lfd));
        r = d->WskBind(s, (PSOCKADDR)&any, 0, wt_irp_arm(&w));
        CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
        r = d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&w));
        st = wt_irp_result(&w, r);
        CHECK_EQ(st, STATUS_SUCCESS);
        *peer = peer_accept(lfd, 2000);
        if (*peer < 0)
            WT_FAIL("Linux accept: %d (connect 0x%x)", *peer, (unsigned)st);
    }
    peer_close(lfd);
    wt_irp_free(&w);
    return s;
}

/* A connection socket accepted with WskAccept (so without events) from a
 * WSK listener on 127.0.0.1, which is closed again; *peer is the Linux
 * end that connected. */
static inline PWSK_SOCKET wp_accept(wt_wsk *t, PVOID context, const WSK_CLIENT_CONNECTION_DISPATCH *dispatch,
                                    int *peer)
{
    wt_irp w = {0};
    PWSK_SOCKET s = NULL;
    *peer = -1;
    NTSTATUS r = t->provider.Dispatch->WskSocket(t->provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                                 WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL, wt_irp_arm(&w));
    NTSTATUS st = wt_irp_result(&w, r);
    PWSK_SOCKET l = NT_SUCCESS(st) ? (PWSK_SOCKET)w.irp->IoStatus.Information : NULL;
    if (l == NULL) {
        WT_FAIL("WskSocket (listener): 0x%x", (unsigned)st);
        wt_irp_free(&w);
        return NULL;
    }
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 0), local;
    r = d->WskBind(l, (PSOCKADDR)&a, 0, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    r = d->WskGetLocalAddress(l, (PSOCKADDR)&local, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    *peer = peer_tcp_connect(4, "127.0.0.1", RtlUshortByteSwap(local.sin_port));
    if (*peer < 0) {
        WT_FAIL("Linux connect: %d", *peer);
    } else {
        r = d->WskAccept(l, 0, context, dispatch, NULL, NULL, wt_irp_arm(&w));
        st = wt_irp_result(&w, r);
        CHECK_EQ(st, STATUS_SUCCESS);
        s = NT_SUCCESS(st) ? (PWSK_SOCKET)w.irp->IoStatus.Information : NULL;
    }
    r = d->WskCloseSocket(l, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    wt_irp_free(&w);
    return s;
}

/* SO_WSK_EVENT_CALLBACK without an IRP (enabling takes none). */
static inline NTSTATUS wp_events(PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    return d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                               NULL, NULL, NULL);
}

/* A one-MDL WSK_BUF over pool memory. */
static inline PMDL wp_mdl(PVOID p, SIZE_T len)
{
    PMDL m = IoAllocateMdl(p, (ULONG)len, FALSE, FALSE, NULL);
    if (m != NULL)
        MmBuildMdlForNonPagedPool(m);
    return m;
}

static inline const char *wp_status_name(NTSTATUS s)
{
    switch (s) {
    case STATUS_SUCCESS: return "STATUS_SUCCESS";
    case STATUS_PENDING: return "STATUS_PENDING";
    case STATUS_CANCELLED: return "STATUS_CANCELLED";
    case STATUS_CONNECTION_RESET: return "STATUS_CONNECTION_RESET";
    case STATUS_CONNECTION_ABORTED: return "STATUS_CONNECTION_ABORTED";
    case STATUS_CONNECTION_DISCONNECTED: return "STATUS_CONNECTION_DISCONNECTED";
    case STATUS_PIPE_DISCONNECTED: return "STATUS_PIPE_DISCONNECTED";
    case STATUS_FILE_FORCED_CLOSED: return "STATUS_FILE_FORCED_CLOSED";
    case STATUS_INVALID_DEVICE_STATE: return "STATUS_INVALID_DEVICE_STATE";
    case STATUS_INVALID_PARAMETER: return "STATUS_INVALID_PARAMETER";
    case STATUS_INVALID_CONNECTION: return "STATUS_INVALID_CONNECTION";
    case STATUS_UNSUCCESSFUL: return "STATUS_UNSUCCESSFUL (never completed?)";
    default: return "another status";
    }
}

/* ---- what happened to one IRP ---- */

/* Filled by the driver's completion routine (wp_log_enter at its start,
 * wp_log_leave as its last touch of the driver's context) and by the
 * issuer (wp_log_issued with what the call returned).  It lives outside
 * the context, which the close completion frees. */
typedef struct WP_IRP_LOG {
    volatile LONG Completions;
    volatile LONG Ended;
    NTSTATUS Status;
    ULONG_PTR Information;
    BOOLEAN PendingReturned;
    volatile LONG Issued; /* the call has returned; Returned is valid */
    NTSTATUS Returned;
    LONGLONG CompletedUs; /* wp_now_us() at wp_log_enter */
} WP_IRP_LOG;

static inline VOID wp_log_reset(WP_IRP_LOG *l)
{
    memset(l, 0, sizeof(*l));
}

static inline VOID wp_log_enter(WP_IRP_LOG *l, PIRP Irp)
{
    l->Status = Irp->IoStatus.Status;
    l->Information = Irp->IoStatus.Information;
    l->PendingReturned = Irp->PendingReturned;
    l->CompletedUs = wp_now_us();
    InterlockedIncrement(&l->Completions);
}

static inline VOID wp_log_leave(WP_IRP_LOG *l)
{
    InterlockedIncrement(&l->Ended);
}

static inline VOID wp_log_issued(WP_IRP_LOG *l, NTSTATUS returned)
{
    l->Returned = returned;
    InterlockedExchange(&l->Issued, 1);
}

/* The issuing thread may note what the call returned after the IRP has
 * completed (and the test woke up): wait for that note. */
static inline BOOLEAN wp_log_wait_issued(WP_IRP_LOG *l, int ms)
{
    LONGLONG until = wp_now_us() + (LONGLONG)ms * 1000;
    while (InterlockedCompareExchange(&l->Issued, 0, 0) == 0) {
        if (wp_now_us() > until)
            return FALSE;
        usleep(50);
    }
    return TRUE;
}

/* Exactly one completion whose routine ran to its end, and the IRP
 * contract (STATUS_PENDING returned <=> PendingReturned; otherwise the
 * IRP carries the returned status).  Returns the IRP's final status. */
#define wp_log_check(l, ...) wp_log_check_at(__FILE__, __LINE__, (l), __VA_ARGS__)
static inline NTSTATUS wp_log_check_at(const char *file, int line, const WP_IRP_LOG *l, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline NTSTATUS wp_log_check_at(const char *file, int line, const WP_IRP_LOG *l, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (!wp_log_wait_issued((WP_IRP_LOG *)l, 2000)) {
        fprintf(stderr, "  FAIL %s:%d: %s: the call never returned\n", file, line, what);
        wt_case_failed = 1;
        return STATUS_UNSUCCESSFUL;
    }
    LONG completions = InterlockedCompareExchange((LONG *)&l->Completions, 0, 0);
    LONG ended = InterlockedCompareExchange((LONG *)&l->Ended, 0, 0);
    if (completions != 1 || ended != 1) {
        fprintf(stderr,
                "  FAIL %s:%d: %s: completed %d times, routine finished %d times (returned 0x%x, last status 0x%x "
                "%s)\n",
                file, line, what, (int)completions, (int)ended, (unsigned)l->Returned, (unsigned)l->Status,
                wp_status_name(l->Status));
        wt_case_failed = 1;
        return completions == 0 ? STATUS_PENDING : l->Status;
    }
    if (l->Returned == STATUS_PENDING ? !l->PendingReturned
                                      : (l->PendingReturned || l->Status != l->Returned)) {
        fprintf(stderr, "  FAIL %s:%d: %s: returned 0x%x but completed with 0x%x, PendingReturned %d\n", file, line,
                what, (unsigned)l->Returned, (unsigned)l->Status, l->PendingReturned);
        wt_case_failed = 1;
    }
    return l->Status;
}

/* ---- rounds: failures are counted; details for the first few only ---- */

static int wp_failed_rounds, wp_first_failed = -1, wp_outer_failed;

#if defined(WP_ASAN) || defined(WP_TSAN)
void __sanitizer_set_report_fd(void *fd);
#endif

static inline void wp_case_begin(void)
{
    wp_failed_rounds = 0;
    wp_first_failed = -1;
}

static inline void wp_round_begin(const char *what, int round, int rounds)
{
    wp_at(what, round, rounds);
    wp_outer_failed |= wt_case_failed;
    wt_case_failed = 0;
}

/* After 5 failed rounds, stderr is muted for the rest of the case (set
 * OPENWSK_PATTERN_VERBOSE=1 to see everything); sanitizer reports and the
 * crash note still go to the real stderr. */
static inline void wp_round_end(int round)
{
    if (wt_case_failed) {
        if (wp_failed_rounds++ == 0)
            wp_first_failed = round;
        fprintf(stderr, "  ^ %s\n", wp_where);
        const char *verbose = getenv("OPENWSK_PATTERN_VERBOSE");
        if (wp_failed_rounds == 5 && (verbose == NULL || *verbose == '\0' || *verbose == '0') &&
            wp_stderr_saved < 0) {
            fprintf(stderr, "  (5 rounds failed: further details muted)\n");
            fflush(stderr);
            wp_stderr_saved = dup(2);
#if defined(WP_ASAN) || defined(WP_TSAN)
            __sanitizer_set_report_fd((void *)(long)wp_stderr_saved);
#endif
            FILE *null = fopen("/dev/null", "w");
            if (null != NULL) {
                dup2(fileno(null), 2);
                fclose(null);
            }
        }
    }
    wt_case_failed |= wp_outer_failed;
    wp_outer_failed = 0;
}

static inline void wp_case_end(const char *what, int rounds)
{
    if (wp_stderr_saved >= 0) {
        fflush(stderr);
        dup2(wp_stderr_saved, 2);
#if defined(WP_ASAN) || defined(WP_TSAN)
        __sanitizer_set_report_fd((void *)2L);
#endif
        int saved = wp_stderr_saved;
        wp_stderr_saved = -1;
        close(saved);
    }
    if (wp_failed_rounds > 0) {
        fprintf(stderr, "  %s: %d of %d rounds failed (first: round %d)\n", what, wp_failed_rounds, rounds,
                wp_first_failed);
        wt_case_failed = 1;
    }
    snprintf(wp_where, sizeof(wp_where), "(between cases, after %s)", what);
}

/* ---- unloading without hanging the test ---- */

typedef struct wp_unload {
    wt_wsk *t;
    volatile LONG done;
} wp_unload;

static void *wp_unload_main(void *p)
{
    wp_unload *u = p;
    wt_irp_free(&u->t->irp);
    WskReleaseProviderNPI(&u->t->registration);
    WskDeregister(&u->t->registration);
    InterlockedExchange(&u->done, 1);
    return NULL;
}

/* WskReleaseProviderNPI + WskDeregister, failing (and leaving the thread
 * blocked) if WskDeregister has not returned after ms: a socket or IRP of
 * the client is still open. Returns TRUE if it returned. */
static inline BOOLEAN wp_wsk_close(wt_wsk *t, int ms)
{
    static wp_unload u;
    pthread_t th;
    u.t = t;
    u.done = 0;
    pthread_create(&th, NULL, wp_unload_main, &u);
    for (int waited = 0; waited < ms; waited += 5) {
        if (InterlockedCompareExchange((LONG *)&u.done, 0, 0)) {
            pthread_join(th, NULL);
            return TRUE;
        }
        usleep(5000);
    }
    WT_FAIL("WskDeregister has not returned after %d ms: something of the client is still open", ms);
    pthread_detach(th);
    return FALSE;
}

#endif /* OPENWSK_TEST_WT_PATTERN_H */
