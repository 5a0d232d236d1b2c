/*
 * wsk_bind_registry.c - Windows' address-sharing rules, decided by us.
 *
 * Linux's SO_REUSEADDR means something else, so every bind first asks this
 * registry, which applies the matrix of wsk-part-a.md §5.6 per transport
 * (TCP or UDP), per IP stack (IPv4, IPv6) and per port.  A dual-stack
 * socket bound to the IPv6 wildcard holds the port in both stacks and must
 * pass the checks in both.
 *
 * Linux is told to allow a share only while the registry makes it: the
 * Linux bind (and listen) runs under the registry lock, with SO_REUSEPORT
 * on the overlapping sockets of this process just for that moment.  Left
 * on, SO_REUSEPORT would let any process of our uid join the port, and
 * SO_REUSEADDR any process at all on UDP ("Sharing Transport Addresses":
 * Windows lets a second socket in only if the first one allowed it; the
 * isolation rules are in docs/decisions.md, "Port isolation").
 *
 * Outside those moments a socket carries no reuse option while it can be
 * joined, so Linux's own bind refuses every overlapping bind from another
 * process: that bind is the machine-wide claim.  Only a process about to
 * set a reuse option on a port also claims the port among openwsk
 * processes (an abstract AF_UNIX name, lx_port_claim), so that two of them
 * never open the same port to each other at once.
 */
#include "wsk_internal.h"

#include <errno.h>

#include <time.h>

#include "wsk_linux.h"

#define BIND_BUCKETS 1024
#define PORT_DYNAMIC_MIN 49152u
#define PORT_DYNAMIC_MAX 65535u

typedef enum bind_stack { BIND_STACK_V4 = 4, BIND_STACK_V6 = 6 } bind_stack;

typedef struct wsk_bind_entry {
    struct wsk_bind_entry *next;        /* in its bucket */
    struct wsk_bind_entry *next_of_socket;
    wsk_socket *owner;
    ULONG transport;                    /* IPPROTO_TCP or IPPROTO_UDP */
    bind_stack stack;
    USHORT port;                        /* host byte order */
    BOOLEAN wildcard;
    UCHAR addr[16];                     /* 4 bytes for IPv4 */
    BOOLEAN reuse, exclusive, explicit_sd;
} wsk_bind_entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static wsk_bind_entry *registry[BIND_BUCKETS];
static USHORT port_cursor;

/* Ports on which this process made a share (set reuse options), each with
 * its claim among openwsk processes, kept while the process binds the
 * port: another openwsk process cannot make a share there meanwhile (the
 * sharing rules apply within one process; across processes a held port is
 * in use). */
typedef struct port_claim {
    struct port_claim *next;
    ULONG transport;
    USHORT port;
    int fd;
} port_claim;
static port_claim *claims;

void wsk_bind_registry_set_port_hint(USHORT port)
{
    pthread_mutex_lock(&registry_lock);
    port_cursor = port;
    pthread_mutex_unlock(&registry_lock);
}

/* ---- the matrix ---- */

typedef enum share { SHARE_OK, SHARE_INUSE, SHARE_DENIED, SHARE_CHECK } share;

/* Rows: second socket, columns: first socket; index = option * 2 + specific,
 * option 0 = none, 1 = SO_REUSEADDR, 2 = SO_EXCLUSIVEADDRUSE. */
static const share share_matrix[6][6] = {
    /*            noneW        noneS         reuseW        reuseS        exclW         exclS */
    /* noneW */ {SHARE_INUSE, SHARE_OK, SHARE_INUSE, SHARE_OK, SHARE_INUSE, SHARE_OK},
    /* noneS */ {SHARE_CHECK, SHARE_INUSE, SHARE_CHECK, SHARE_DENIED, SHARE_DENIED, SHARE_INUSE},
    /* reuseW */ {SHARE_DENIED, SHARE_OK, SHARE_OK, SHARE_OK, SHARE_DENIED, SHARE_OK},
    /* reuseS */ {SHARE_CHECK, SHARE_DENIED, SHARE_OK, SHARE_OK, SHARE_DENIED, SHARE_DENIED},
    /* exclW */ {SHARE_INUSE, SHARE_INUSE, SHARE_INUSE, SHARE_INUSE, SHARE_INUSE, SHARE_INUSE},
    /* exclS */ {SHARE_CHECK, SHARE_INUSE, SHARE_CHECK, SHARE_INUSE, SHARE_DENIED, SHARE_INUSE},
};

static int share_index(BOOLEAN reuse, BOOLEAN exclusive, BOOLEAN wildcard)
{
    int option = exclusive ? 2 : reuse ? 1 : 0;
    return option * 2 + (wildcard ? 0 : 1);
}

/* Whether two bindings meet: the same transport, stack and port, and a
 * wildcard on either side or the same address (different specific
 * addresses never interact, on Windows or Linux). */
static BOOLEAN entries_overlap(const wsk_bind_entry *a, const wsk_bind_entry *b)
{
    return a->transport == b->transport && a->stack == b->stack && a->port == b->port &&
           (a->wildcard || b->wildcard ||
            __builtin_memcmp(a->addr, b->addr, a->stack == BIND_STACK_V4 ? 4 : 16) == 0);
}

/* One decision between a new binding and an existing one. */
static NTSTATUS share_decide(const wsk_bind_entry *want, const wsk_bind_entry *have)
{
    if (!entries_overlap(want, have))
        return STATUS_SUCCESS;
    share s = share_matrix[share_index(want->reuse, want->exclusive, want->wildcard)]
                          [share_index(have->reuse, have->exclusive, have->wildcard)];
    switch (s) {
    case SHARE_OK:
        return STATUS_SUCCESS;
    case SHARE_INUSE:
        return STATUS_ADDRESS_ALREADY_EXISTS;
    case SHARE_DENIED:
        return STATUS_ACCESS_DENIED;
    case SHARE_CHECK:
        /* An access check of the second socket against the first one's
         * security descriptor.  Every driver here runs as System; the
         * default descriptor refuses sharing, an explicit one (WskSocket's
         * SecurityDescriptor or SO_WSK_SECURITY) is taken to grant it. */
        return have->explicit_sd ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    }
    return STATUS_ACCESS_DENIED;
}

static unsigned bucket_of(ULONG transport, USHORT port)
{
    return ((unsigned)port * 31u + transport) % BIND_BUCKETS;
}

/* Checks one candidate against everything registered; worst outcome wins:
 * a refusal (DENIED) is reported before a plain conflict (INUSE). */
static NTSTATUS registry_check_locked(const wsk_bind_entry *want)
{
    NTSTATUS result = STATUS_SUCCESS;
    for (wsk_bind_entry *e = registry[bucket_of(want->transport, want->port)]; e != NULL; e = e->next) {
        NTSTATUS s = share_decide(want, e); /* bindings that do not meet share */
        if (s == STATUS_ACCESS_DENIED)
            return s;
        if (s != STATUS_SUCCESS)
            result = s;
    }
    return result;
}

static BOOLEAN registry_port_unused_locked(ULONG transport, USHORT port)
{
    for (wsk_bind_entry *e = registry[bucket_of(transport, port)]; e != NULL; e = e->next)
        if (e->transport == transport && e->port == port)
            return FALSE;
    return TRUE;
}

/* ---- building the candidate entries for a bind ---- */

static const UCHAR v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Fills up to two entries (IPv4 and/or IPv6 stacks) for the address; returns how many. */
static int bind_candidates(const wsk_socket *s, const SOCKADDR *addr, wsk_bind_entry out[2])
{
    __builtin_memset(out, 0, 2 * sizeof(out[0]));
    for (int i = 0; i < 2; i++) {
        out[i].owner = (wsk_socket *)s;
        out[i].transport = s->protocol;
        out[i].reuse = s->reuse_addr;
        out[i].exclusive = s->exclusive_addr;
        out[i].explicit_sd = s->security != NULL;
    }
    if (addr->sa_family == AF_INET) {
        const SOCKADDR_IN *in = (const SOCKADDR_IN *)addr;
        out[0].stack = BIND_STACK_V4;
        out[0].port = RtlUshortByteSwap(in->sin_port);
        __builtin_memcpy(out[0].addr, &in->sin_addr, 4);
        out[0].wildcard = in->sin_addr.s_addr == 0;
        return 1;
    }
    const SOCKADDR_IN6 *in6 = (const SOCKADDR_IN6 *)addr;
    const UCHAR *a = in6->sin6_addr.u.Byte;
    USHORT port = RtlUshortByteSwap(in6->sin6_port);
    static const UCHAR zero[16];
    if (!s->v6only && __builtin_memcmp(a, v4_mapped_prefix, 12) == 0) {
        /* A v4-mapped address on a dual-stack socket is an IPv4 binding. */
        out[0].stack = BIND_STACK_V4;
        out[0].port = port;
        __builtin_memcpy(out[0].addr, a + 12, 4);
        out[0].wildcard = __builtin_memcmp(a + 12, zero, 4) == 0;
        return 1;
    }
    out[0].stack = BIND_STACK_V6;
    out[0].port = port;
    __builtin_memcpy(out[0].addr, a, 16);
    out[0].wildcard = __builtin_memcmp(a, zero, 16) == 0;
    if (out[0].wildcard && !s->v6only) {
        out[1] = out[0];
        out[1].stack = BIND_STACK_V4;
        __builtin_memset(out[1].addr, 0, sizeof(out[1].addr));
        return 2;
    }
    return 1;
}

static NTSTATUS registry_check_all_locked(wsk_bind_entry *cand, int n)
{
    NTSTATUS worst = STATUS_SUCCESS;
    for (int i = 0; i < n; i++) {
        NTSTATUS st = registry_check_locked(&cand[i]);
        if (st == STATUS_ACCESS_DENIED)
            return st;
        if (st != STATUS_SUCCESS)
            worst = st;
    }
    return worst;
}

/* Makes sure this process holds the claim on the port among openwsk
 * processes, before it sets a reuse option there; 0, -EADDRINUSE when
 * another openwsk process holds it, or -errno. */
static int claim_port_locked(ULONG transport, USHORT port)
{
    for (port_claim *c = claims; c != NULL; c = c->next)
        if (c->transport == transport && c->port == port)
            return 0;
    port_claim *c = openwsk_pool_alloc(sizeof(*c), WSK_TAG_BIND, FALSE);
    if (c == NULL)
        return -ENOMEM;
    int fd = lx_port_claim(transport, port);
    if (fd < 0) {
        openwsk_pool_free(c);
        return fd;
    }
    c->transport = transport;
    c->port = port;
    c->fd = fd;
    c->next = claims;
    claims = c;
    return 0;
}

static void unclaim_port_locked(ULONG transport, USHORT port)
{
    if (claims == NULL || !registry_port_unused_locked(transport, port))
        return;
    for (port_claim **link = &claims; *link != NULL; link = &(*link)->next) {
        port_claim *c = *link;
        if (c->transport == transport && c->port == port) {
            *link = c->next;
            lx_close(c->fd);
            openwsk_pool_free(c);
            return;
        }
    }
}

static NTSTATUS registry_insert_locked(wsk_socket *s, wsk_bind_entry *cand, int n)
{
    wsk_bind_entry *made[2] = {NULL, NULL};
    for (int i = 0; i < n; i++) {
        made[i] = openwsk_pool_alloc(sizeof(wsk_bind_entry), WSK_TAG_BIND, FALSE);
        if (made[i] == NULL) {
            if (i == 1)
                openwsk_pool_free(made[0]);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    for (int i = 0; i < n; i++) {
        *made[i] = cand[i];
        unsigned b = bucket_of(made[i]->transport, made[i]->port);
        made[i]->next = registry[b];
        registry[b] = made[i];
        made[i]->next_of_socket = s->bindings;
        s->bindings = made[i];
    }
    return STATUS_SUCCESS;
}

static USHORT next_dynamic_port_locked(void)
{
    if (port_cursor < PORT_DYNAMIC_MIN) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        port_cursor = (USHORT)(PORT_DYNAMIC_MIN + (ULONG)(ts.tv_nsec ^ ts.tv_sec) % (PORT_DYNAMIC_MAX - PORT_DYNAMIC_MIN + 1));
    }
    USHORT p = port_cursor;
    port_cursor = p == PORT_DYNAMIC_MAX ? PORT_DYNAMIC_MIN : (USHORT)(p + 1);
    return p;
}

/* Checks and records the binding; for port 0, on the next dynamic port
 * that no socket of this process uses on the transport. */
static NTSTATUS reserve_locked(wsk_socket *s, wsk_bind_entry cand[2], int n)
{
    if (cand[0].port != 0) {
        NTSTATUS status = registry_check_all_locked(cand, n);
        return NT_SUCCESS(status) ? registry_insert_locked(s, cand, n) : status;
    }
    for (ULONG tries = 0; tries <= PORT_DYNAMIC_MAX - PORT_DYNAMIC_MIN; tries++) {
        USHORT p = next_dynamic_port_locked();
        if (!registry_port_unused_locked(s->protocol, p))
            continue;
        for (int i = 0; i < n; i++)
            cand[i].port = p;
        return registry_insert_locked(s, cand, n);
    }
    return STATUS_ADDRESS_ALREADY_EXISTS;
}

/* Turns SO_REUSEPORT on or off on every other socket of this process whose
 * binding overlaps one of s's, the ones Linux would otherwise refuse s
 * beside.  Returns whether there is any. */
static BOOLEAN share_overlapping_locked(wsk_socket *s, int on)
{
    BOOLEAN any = FALSE;
    for (wsk_bind_entry *mine = s->bindings; mine != NULL; mine = mine->next_of_socket) {
        for (wsk_bind_entry *e = registry[bucket_of(mine->transport, mine->port)]; e != NULL; e = e->next) {
            if (e->owner == s || !entries_overlap(mine, e))
                continue;
            lx_share_port(e->owner->fd, on);
            any = TRUE;
        }
    }
    return any;
}

/* Whether another socket of this process overlaps one of s's bindings,
 * so that the Linux bind or listen needs SO_REUSEPORT. */
static BOOLEAN share_wanted_locked(const wsk_socket *s)
{
    for (const wsk_bind_entry *mine = s->bindings; mine != NULL; mine = mine->next_of_socket)
        for (const wsk_bind_entry *e = registry[bucket_of(mine->transport, mine->port)]; e != NULL; e = e->next)
            if (e->owner != s && entries_overlap(mine, e))
                return TRUE;
    return FALSE;
}

/* Takes back what a share told Linux: SO_REUSEPORT everywhere, and
 * SO_REUSEADDR on s unless it listens; then the TCP port's cache of them. */
static void end_share_locked(wsk_socket *s, USHORT port, BOOLEAN listening)
{
    share_overlapping_locked(s, 0);
    lx_share_port(s->fd, 0);
    if (!listening)
        lx_reuse_address(s->fd, 0);
    if (s->protocol == IPPROTO_TCP)
        lx_tcp_port_forget_sharing(port);
}

/* listen(2), then SO_REUSEADDR on, which the listener's connections
 * inherit: their TIME_WAIT states can then be bound over later.  In that
 * order no other socket can bind beside it meanwhile: Linux lets two
 * SO_REUSEADDR sockets share an address unless one of them listens. */
static int listen_keeping_reuse(int fd, int backlog)
{
    int r = lx_listen(fd, backlog);
    return r == 0 ? lx_reuse_address(fd, 1) : r;
}

/* The Linux bind, and listen when backlog > 0.  A listener binds without
 * SO_REUSEADDR first: only if the port is in use and TCP connections on it
 * could be why (TIME_WAIT states of an earlier listener, which Windows
 * binds over unless the listener asks for exclusive use: "Using
 * SO_REUSEADDR and SO_EXCLUSIVEADDRUSE") is the bind retried with it. */
static int linux_bind_locked(wsk_socket *s, const SOCKADDR *addr, USHORT port, int backlog)
{
    BOOLEAN sharing = share_wanted_locked(s);
    int r = sharing ? claim_port_locked(s->protocol, port) : 0;
    if (r != 0)
        return r;
    BOOLEAN shared = sharing && share_overlapping_locked(s, 1);
    r = lx_prepare_bind(s->fd, s->family, s->v6only);
    if (r == 0 && shared) {
        r = lx_share_port(s->fd, 1);
        if (r == 0) /* for the overlapped listeners' connections */
            r = lx_reuse_address(s->fd, 1);
    }
    if (r == 0)
        r = lx_bind(s->fd, addr);
    if (r == -EADDRINUSE && backlog > 0 && !shared && !s->exclusive_addr && lx_port_held_only_by_connections(port) == 1) {
        r = claim_port_locked(s->protocol, port);
        if (r == 0)
            r = lx_reuse_address(s->fd, 1);
        if (r == 0)
            r = lx_bind(s->fd, addr);
    }
    if (r == 0 && backlog > 0)
        r = listen_keeping_reuse(s->fd, backlog);
    if (shared)
        end_share_locked(s, port, backlog > 0);
    return r;
}

static void release_locked(wsk_socket *s);

NTSTATUS wsk_bind_registry_bind(wsk_socket *s, SOCKADDR *addr, int backlog)
{
    USHORT *port = addr->sa_family == AF_INET ? &((SOCKADDR_IN *)addr)->sin_port
                                             : &((SOCKADDR_IN6 *)addr)->sin6_port;
    BOOLEAN ephemeral = *port == 0;
    NTSTATUS status = STATUS_ADDRESS_ALREADY_EXISTS;
    pthread_mutex_lock(&registry_lock);
    /* A port we chose can still be held outside openwsk; then take
     * another one, boundedly. */
    for (int attempt = 0; attempt < 1024; attempt++) {
        wsk_bind_entry cand[2];
        int n = bind_candidates(s, addr, cand);
        status = reserve_locked(s, cand, n);
        if (!NT_SUCCESS(status))
            break;
        *port = RtlUshortByteSwap(cand[0].port);
        int r = linux_bind_locked(s, addr, cand[0].port, backlog);
        if (r == 0)
            break;
        release_locked(s);
        status = wsk_status_from_errno(-r);
        if (!ephemeral || r != -EADDRINUSE)
            break;
        /* Linux hands out its ephemeral ports in long runs (every other
         * port towards one destination, then the rest), and their TIME_WAIT
         * states hold them a minute: the next try starts somewhere else. */
        port_cursor = 0;
        *port = 0;
    }
    pthread_mutex_unlock(&registry_lock);
    return status;
}

NTSTATUS wsk_bind_registry_listen(wsk_socket *s, int backlog)
{
    pthread_mutex_lock(&registry_lock);
    BOOLEAN sharing = share_wanted_locked(s);
    int r = sharing ? claim_port_locked(s->protocol, s->bindings->port) : 0;
    BOOLEAN shared = r == 0 && sharing && share_overlapping_locked(s, 1);
    if (r == 0 && shared)
        r = lx_share_port(s->fd, 1);
    if (r == 0)
        r = listen_keeping_reuse(s->fd, backlog);
    if (shared)
        end_share_locked(s, s->bindings->port, TRUE);
    pthread_mutex_unlock(&registry_lock);
    return r == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-r);
}

static void release_locked(wsk_socket *s)
{
    while (s->bindings != NULL) {
        wsk_bind_entry *e = s->bindings;
        s->bindings = e->next_of_socket;
        for (wsk_bind_entry **link = &registry[bucket_of(e->transport, e->port)]; *link != NULL;
             link = &(*link)->next) {
            if (*link == e) {
                *link = e->next;
                break;
            }
        }
        ULONG transport = e->transport;
        USHORT port = e->port;
        openwsk_pool_free(e);
        unclaim_port_locked(transport, port);
    }
}

void wsk_bind_registry_release(wsk_socket *s)
{
    /* Only the socket's own bind and listen add entries, and they are
     * over when it is released: an accepted connection holds none, and
     * takes no process-wide lock to say so. */
    if (s->bindings == NULL)
        return;
    pthread_mutex_lock(&registry_lock);
    release_locked(s);
    pthread_mutex_unlock(&registry_lock);
}
