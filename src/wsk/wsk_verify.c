/*
 * wsk_verify.c - the verifier's WSK rule group (OPENWSK_VERIFY=wsk,
 * docs/verifier.md): what a WSK client must not do with sockets,
 * indications and the provider NPI.
 *
 * Every socket has a record while the group is on: where it was created
 * and where WskCloseSocket was called.  A closed socket's memory is kept
 * (the last 256 closes) with its magic changed, so a call through the
 * dangling pointer reaches the provider, which recognises it and reports
 * the call with both stacks instead of reading freed memory.
 */
#include "wsk_internal.h"

#include "kernel/verifier.h"

#include <execinfo.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const openwsk_verify_rule openwsk_rule_wsk_call_after_close = {
    0xA0301, "WskCallAfterClose", OPENWSK_VERIFY_WSK,
    "no call on a socket once WskCloseSocket was called on it (PFN_WSK_CLOSE_SOCKET, Remarks)"};
const openwsk_verify_rule openwsk_rule_wsk_close_while_running = {
    0xA0302, "WskCloseWhileCallRunning", OPENWSK_VERIFY_WSK,
    "no other call on the socket is still running in another thread when WskCloseSocket is called "
    "(PFN_WSK_CLOSE_SOCKET, Remarks; pending IRPs are fine)"};
const openwsk_verify_rule openwsk_rule_wsk_indication_at_close = {
    0xA0303, "WskIndicationNotReleasedBeforeClose", OPENWSK_VERIFY_WSK,
    "every indication retained with STATUS_PENDING is given back with WskRelease before WskCloseSocket"};
const openwsk_verify_rule openwsk_rule_wsk_wrong_category = {
    0xA0304, "WskWrongDispatchCategory", OPENWSK_VERIFY_WSK,
    "a socket's Dispatch is used as the table of the socket's own category"};
const openwsk_verify_rule openwsk_rule_wsk_deregister_holding_npi = {
    0xA0305, "WskDeregisterHoldingNpi", OPENWSK_VERIFY_WSK,
    "WskDeregister is not called by a thread that still holds a captured provider NPI "
    "(WskDeregister waits for every WskReleaseProviderNPI)"};
const openwsk_verify_rule openwsk_rule_wsk_release_not_retained = {
    0xA0306, "WskReleaseNotRetained", OPENWSK_VERIFY_WSK,
    "WskRelease gets back only an indication list the client retained, once"};
const openwsk_verify_rule openwsk_rule_wsk_npi_never_released = {
    0xA0307, "WskNpiNeverReleased", OPENWSK_VERIFY_WSK,
    "every WskCaptureProviderNPI is matched by a WskReleaseProviderNPI before WskDeregister can return"};

#define BUCKETS 4096u
#define QUARANTINE 256u

typedef struct socket_record {
    struct socket_record *next;
    const void *socket;
    BOOLEAN closed;
    int running;              /* WSK calls executing on it now, in any thread */
    const char *running_call; /* the name of the latest of them */
    openwsk_verify_stack created, closed_at;
} socket_record;

static pthread_mutex_t verify_lock = PTHREAD_MUTEX_INITIALIZER;
static socket_record *records[BUCKETS];
static wsk_socket *quarantine[QUARANTINE];
static unsigned quarantine_next;

static unsigned bucket_of(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    return (unsigned)((v >> 4) ^ (v >> 16)) % BUCKETS;
}

static socket_record *find_locked(const void *socket, int create)
{
    socket_record **head = &records[bucket_of(socket)];
    for (socket_record *r = *head; r != NULL; r = r->next)
        if (r->socket == socket)
            return r;
    if (!create)
        return NULL;
    socket_record *r = calloc(1, sizeof(*r));
    if (r != NULL) {
        r->socket = socket;
        r->next = *head;
        *head = r;
    }
    return r;
}

static void forget_locked(const void *socket)
{
    for (socket_record **link = &records[bucket_of(socket)]; *link != NULL; link = &(*link)->next)
        if ((*link)->socket == socket) {
            socket_record *gone = *link;
            *link = gone->next;
            free(gone);
            return;
        }
}

static _Noreturn void fail_with_history(const openwsk_verify_rule *rule, const char *call, const void *socket,
                                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static _Noreturn void fail_with_history(const openwsk_verify_rule *rule, const char *call, const void *socket,
                                        const char *fmt, ...)
{
    socket_record copy;
    BOOLEAN have = FALSE;
    pthread_mutex_lock(&verify_lock);
    socket_record *r = socket != NULL ? find_locked(socket, 0) : NULL;
    if (r != NULL) {
        copy = *r;
        have = TRUE;
    }
    pthread_mutex_unlock(&verify_lock);
    va_list ap;
    va_start(ap, fmt);
    openwsk_verify_vreport(rule, call, fmt, ap);
    va_end(ap);
    if (have) {
        fprintf(stderr, "  the history of socket %p (stacks innermost first):\n", socket);
        openwsk_verify_print_stack("created at", &copy.created);
        openwsk_verify_print_stack("WskCloseSocket called at", &copy.closed_at);
    }
    openwsk_verify_stop(rule, (ULONG_PTR)socket, 0, 0);
}

void wsk_verify_socket_created(wsk_socket *s)
{
    pthread_mutex_lock(&verify_lock);
    socket_record *r = find_locked(&s->pub, 1);
    if (r != NULL) {
        r->closed = FALSE;
        r->closed_at.count = 0;
        OPENWSK_VERIFY_CAPTURE(&r->created);
    }
    pthread_mutex_unlock(&verify_lock);
}

static const char *category_name(ULONG categories)
{
    switch (categories) {
    case WSK_CAT(WSK_CATEGORY_BASIC):
        return "basic";
    case WSK_CAT(WSK_CATEGORY_LISTEN):
        return "listen";
    case WSK_CAT(WSK_CATEGORY_DATAGRAM):
        return "datagram";
    case WSK_CAT(WSK_CATEGORY_CONNECTION):
        return "connection";
    case WSK_CAT(WSK_CATEGORY_STREAM):
        return "stream";
    default:
        return "another category's";
    }
}

void wsk_verify_op(PWSK_SOCKET socket, ULONG categories, const char *call)
{
    wsk_socket *s = (wsk_socket *)socket;
    if (socket == NULL)
        return;
    pthread_mutex_lock(&verify_lock);
    socket_record *r = find_locked(socket, 0);
    BOOLEAN closed = r != NULL && r->closed;
    pthread_mutex_unlock(&verify_lock);
    if (closed)
        fail_with_history(&openwsk_rule_wsk_call_after_close, call, socket,
                          "socket %p is used after WskCloseSocket%s", (void *)socket,
                          s->magic == WSK_SOCKET_MAGIC ? " (the close is still in progress)"
                                                       : " (the close completed: the pointer is dangling)");
    if (s->magic == WSK_SOCKET_MAGIC && !(categories & WSK_CAT(s->category)))
        fail_with_history(&openwsk_rule_wsk_wrong_category, call, socket,
                          "socket %p is a %s socket; this function belongs to the %s dispatch table",
                          (void *)socket, category_name(WSK_CAT(s->category)), category_name(categories));
}

void wsk_verify_close(wsk_socket *s)
{
    pthread_mutex_lock(&verify_lock);
    socket_record *r = find_locked(&s->pub, 0);
    BOOLEAN closed = r != NULL && r->closed;
    pthread_mutex_unlock(&verify_lock);
    if (closed)
        fail_with_history(&openwsk_rule_wsk_call_after_close, "WskCloseSocket", &s->pub,
                          "socket %p is closed a second time", (void *)&s->pub);
    pthread_mutex_lock(&s->lock);
    LONG retained = s->rx_retained + s->dg_retained;
    pthread_mutex_unlock(&s->lock);
    if (retained > 0)
        fail_with_history(&openwsk_rule_wsk_indication_at_close, "WskCloseSocket", &s->pub,
                          "socket %p still has %ld indication list(s) retained with STATUS_PENDING", (void *)&s->pub,
                          (long)retained);
    pthread_mutex_lock(&verify_lock);
    r = find_locked(&s->pub, 1);
    if (r != NULL) {
        r->closed = TRUE;
        OPENWSK_VERIFY_CAPTURE(&r->closed_at);
    }
    pthread_mutex_unlock(&verify_lock);
}

/* An event callback that ran while the socket's close was called returned
 * STATUS_PENDING: the client kept an indication it can no longer give
 * back (no call may follow WskCloseSocket). */
void wsk_verify_retained_while_closing(wsk_socket *s)
{
    fail_with_history(&openwsk_rule_wsk_indication_at_close, "an event callback returning STATUS_PENDING", &s->pub,
                      "socket %p: the callback retained an indication while WskCloseSocket was already called",
                      (void *)&s->pub);
}

/* The socket's memory is about to be freed: keep it a while instead, its
 * magic changed, so that a later call is recognised.  TRUE if kept. */
BOOLEAN wsk_verify_keep_closed(wsk_socket *s)
{
    s->magic = WSK_SOCKET_MAGIC_CLOSED;
    openwsk_pool_forget(s); /* no longer counted as the provider's */
    pthread_mutex_lock(&verify_lock);
    wsk_socket *old = quarantine[quarantine_next];
    quarantine[quarantine_next] = s;
    quarantine_next = (quarantine_next + 1) % QUARANTINE;
    if (old != NULL)
        forget_locked(&old->pub);
    pthread_mutex_unlock(&verify_lock);
    if (old != NULL)
        openwsk_pool_free_forgotten(old);
    return TRUE;
}

void wsk_verify_release_refused(PWSK_SOCKET socket, const void *indication)
{
    fail_with_history(&openwsk_rule_wsk_release_not_retained, "WskRelease", socket,
                      "indication %p was not retained by the client on socket %p, or was given back already",
                      indication, (void *)socket);
}

/* ---- calls running on a socket (counted by the observed dispatch tables,
 * wsk_trace_dispatch.c) ---- */

#define NEST_DEPTH 16

/* The calls this thread is inside: a close from a completion routine that
 * the call runs inline is not a close racing another thread.  A call
 * stops counting as running once the provider took its IRP (committed). */
static __thread struct {
    const void *socket;
    unsigned char committed;
} nested[NEST_DEPTH];
static __thread unsigned nested_count;

static void running_add_locked(const void *socket, int delta)
{
    socket_record *r = find_locked(socket, 0);
    if (r != NULL && (delta > 0 || r->running > 0))
        r->running += delta;
}

void wsk_verify_call_begin(PWSK_SOCKET socket, const char *name)
{
    if (nested_count < NEST_DEPTH) {
        nested[nested_count].socket = socket;
        nested[nested_count].committed = socket == NULL;
    }
    nested_count++;
    if (socket == NULL)
        return;
    pthread_mutex_lock(&verify_lock);
    running_add_locked(socket, 1);
    socket_record *r = find_locked(socket, 0);
    if (r != NULL)
        r->running_call = name;
    pthread_mutex_unlock(&verify_lock);
}

void wsk_verify_call_committed(void)
{
    if (nested_count == 0 || nested_count > NEST_DEPTH)
        return;
    unsigned top = nested_count - 1;
    if (nested[top].committed)
        return;
    nested[top].committed = 1;
    pthread_mutex_lock(&verify_lock);
    running_add_locked(nested[top].socket, -1);
    pthread_mutex_unlock(&verify_lock);
}

void wsk_verify_call_end(PWSK_SOCKET socket)
{
    if (nested_count == 0)
        return;
    unsigned top = --nested_count;
    BOOLEAN committed = top < NEST_DEPTH ? nested[top].committed : TRUE;
    if (socket == NULL || committed)
        return;
    pthread_mutex_lock(&verify_lock);
    running_add_locked(socket, -1);
    pthread_mutex_unlock(&verify_lock);
}

void wsk_verify_close_while_running(PWSK_SOCKET socket)
{
    if (socket == NULL)
        return;
    int mine = 0;
    for (unsigned i = 0; i < nested_count && i < NEST_DEPTH; i++)
        if (nested[i].socket == socket && !nested[i].committed)
            mine++;
    pthread_mutex_lock(&verify_lock);
    socket_record *r = find_locked(socket, 0);
    int others = r != NULL ? r->running - mine : 0;
    const char *call = r != NULL ? r->running_call : NULL;
    pthread_mutex_unlock(&verify_lock);
    if (others > 0)
        fail_with_history(&openwsk_rule_wsk_close_while_running, "WskCloseSocket", socket,
                          "%d call(s) on socket %p still running in another thread (the latest: %s)", others,
                          (void *)socket, call != NULL ? call : "?");
}

/* ---- captured NPIs, per thread ---- */

#define CAPTURE_SLOTS 8

static __thread struct {
    const void *registration;
    int count;
} captures[CAPTURE_SLOTS];

void wsk_verify_npi_captured(const void *registration)
{
    for (int i = 0; i < CAPTURE_SLOTS; i++)
        if (captures[i].registration == registration || captures[i].count == 0) {
            captures[i].registration = registration;
            captures[i].count++;
            return;
        }
}

void wsk_verify_npi_released(const void *registration)
{
    for (int i = 0; i < CAPTURE_SLOTS; i++)
        if (captures[i].registration == registration && captures[i].count > 0) {
            captures[i].count--;
            return;
        }
}

void wsk_verify_deregister(const void *registration)
{
    for (int i = 0; i < CAPTURE_SLOTS; i++)
        if (captures[i].registration == registration && captures[i].count > 0) {
            char what[160];
            snprintf(what, sizeof(what),
                     "this thread captured the provider NPI of registration %p %d time(s) and has not released it: "
                     "WskDeregister would wait for it forever",
                     registration, captures[i].count);
            openwsk_verify_fail(&openwsk_rule_wsk_deregister_holding_npi, "WskDeregister", (ULONG_PTR)registration,
                                (ULONG_PTR)captures[i].count, 0, "%s", what);
        }
}

void wsk_verify_deregister_stuck(const void *registration, LONG captures_left, LONG sockets_left)
{
    openwsk_verify_fail(&openwsk_rule_wsk_npi_never_released, "WskDeregister", (ULONG_PTR)registration,
                        (ULONG_PTR)captures_left, (ULONG_PTR)sockets_left,
                        "WskDeregister of registration %p has waited 5 s for %ld captured NPI(s) never released "
                        "(and %ld socket(s) not closed)",
                        registration, (long)captures_left, (long)sockets_left);
}
