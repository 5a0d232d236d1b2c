/*
 * test_wsk_misuse.c - WSK calls given arguments a correct client never
 * passes, each checked for the outcome docs/misuse.md lists: the NTSTATUS,
 * and for IRP-taking calls the IRP contract (completed exactly once, the
 * status returned equal to IoStatus.Status, IoStatus.Information as
 * expected).  test_wsk_irp_contract walks each call's immediate refusals
 * (flags, NULLs, wrong state, wrong category, a WSK_BUF past its chain);
 * this file covers what it does not:
 *  - client-supplied lists that loop back on themselves (MDL chains through
 *    a zero-length MDL or longer than Length, a WSK_BUF_LIST, a datagram
 *    indication list given back, an ADDRINFOEXW list given back): refused
 *    at once, where the provider used to walk them forever;
 *  - WSK_BUF extremes: Offset or Length at their limits, a Length of 0 with
 *    a garbage Mdl, chains of thousands of MDLs;
 *  - garbage socket addresses and unknown codes on every socket category;
 *  - double WskRelease, WskCaptureProviderNPI/WskReleaseProviderNPI misuse,
 *    WskDeregister with a socket open, resolver calls with bad arguments.
 * Cases where Windows bug-checks stop with its code here too (a client IRP
 * with no stack location left, a capture that waits above PASSIVE_LEVEL).
 * Every case runs under a watchdog: a call that does not return within
 * WATCHDOG_SECONDS ends the process with "hung" (how the cyclic cases failed
 * before the provider checked lists).  Calls on a socket after its close
 * completed are not made: the handle is gone, on Windows as here
 * (docs/misuse.md).
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_bugcheck.h"
#include "wt_wsk.h"

#define WATCHDOG_SECONDS 10
/* MDLs in the long chains: more than the 1024 iovecs Linux takes per call
 * (MISUSE_LONG_CHAIN=n, up to LONG_CHAIN_MAX, for another count). */
#define LONG_CHAIN_MAX 20000
static ULONG LONG_CHAIN = 3000;

static const char *current_case;

static void watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "  FAIL: the call hung (watchdog)\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    if (current_case != NULL) {
        (void)!write(2, "  in ", 5);
        (void)!write(2, current_case, strlen(current_case));
        (void)!write(2, "\n", 1);
    }
    _exit(3);
}

static void watchdog_arm(const char *name)
{
    current_case = name;
    signal(SIGALRM, watchdog_fired);
    alarm(WATCHDOG_SECONDS);
}

static void watchdog_disarm(void)
{
    alarm(0);
    current_case = NULL;
}

#define CONN_D(s) ((const WSK_PROVIDER_CONNECTION_DISPATCH *)(s)->Dispatch)
#define DGRAM_D(s) ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)(s)->Dispatch)
#define LISTEN_D(s) ((const WSK_PROVIDER_LISTEN_DISPATCH *)(s)->Dispatch)

/* ---- the environment: a connected TCP socket, a bound UDP socket ---- */

typedef struct env {
    wt_wsk t;
    PWSK_SOCKET conn, dgram, listener;
    int peer_listener, peer, udp;
    SOCKADDR_IN udp_addr;
    USHORT dgram_port;
    PUCHAR data;
    PMDL a, b, z; /* 16 bytes, 16 bytes, zero bytes */
    WSK_BUF buf;  /* the case's buffer, built from its shape */
    WSK_BUF_LIST l1, l2;
    ULONG control_length, control_flags;
    SOCKADDR_STORAGE from;
} env;

static env E;

static void env_open(void)
{
    memset(&E, 0, sizeof(E));
    wt_wsk_open(&E.t);
    E.data = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 'suiM');
    for (int i = 0; i < 64; i++)
        E.data[i] = (UCHAR)('a' + i % 26);
    E.a = IoAllocateMdl(E.data, 16, FALSE, FALSE, NULL);
    E.b = IoAllocateMdl(E.data + 16, 16, FALSE, FALSE, NULL);
    E.z = IoAllocateMdl(E.data + 32, 16, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(E.a);
    MmBuildMdlForNonPagedPool(E.b);
    MmBuildMdlForNonPagedPool(E.z);
    E.z->ByteCount = 0; /* an MDL describing nothing, as a client may build */

    NTSTATUS st;
    E.peer_listener = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(E.peer_listener >= 0);
    E.conn = wt_socket(&E.t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN local = wt_in4("127.0.0.1", 0);
    SOCKADDR_IN remote = wt_in4("127.0.0.1", peer_local_port(E.peer_listener));
    CHECK_EQ(wt_bind(&E.t, E.conn, &local), STATUS_SUCCESS);
    NTSTATUS r = CONN_D(E.conn)->WskConnect(E.conn, (PSOCKADDR)&remote, 0, wt_irp_arm(&E.t.irp));
    CHECK_EQ(wt_irp_result(&E.t.irp, r), STATUS_SUCCESS);
    E.peer = peer_accept(E.peer_listener, 2000);
    CHECK(E.peer >= 0);

    E.dgram = wt_datagram_socket(&E.t, AF_INET, "127.0.0.1", &E.dgram_port);
    E.udp = peer_udp_bind(4, "127.0.0.1", 0);
    CHECK(E.udp >= 0);
    E.udp_addr = wt_in4("127.0.0.1", peer_local_port(E.udp));

    E.listener = wt_socket(&E.t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
}

static void env_close(void)
{
    CHECK_EQ(wt_close(&E.t, E.conn), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&E.t, E.dgram), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&E.t, E.listener), STATUS_SUCCESS);
    peer_close(E.peer);
    peer_close(E.peer_listener);
    peer_close(E.udp);
    IoFreeMdl(E.a);
    IoFreeMdl(E.b);
    IoFreeMdl(E.z);
    ExFreePool(E.data);
    wt_wsk_close(&E.t);
}

/* ---- buffer shapes ---- */

typedef enum shape {
    SHAPE_NONE,
    /* Cycles: refused with STATUS_INVALID_PARAMETER. */
    LOOP_ZERO,        /* A -> Z -> Z...: a zero-length MDL linked to itself */
    LOOP_ZERO_BACK,   /* A -> Z -> A...: back through a zero-length MDL, Length 48 */
    LOOP_HUGE,        /* A -> B -> A...: Length 2^40, far more than the chain's bytes */
    LOOP_PAST_LENGTH, /* A -> B -> B...: Length 8 ends in A, the chain still loops */
    /* Limits. */
    OFFSET_MAX,       /* Offset 0xFFFFFFFF */
    LENGTH_MAX,       /* Length SIZE_T max */
    OFFSET_END,       /* Offset == the first MDL's ByteCount, Length 1 */
    PAST_ONE_MDL,     /* A alone: Length 17 of its 16 bytes */
    PAST_ONE_OFFSET,  /* A alone: Offset 8, Length 9 of the 8 bytes left */
    ZERO_FIRST,       /* Z -> A: a first MDL describing nothing, Offset 0 */
    ZERO_GARBAGE_MDL, /* Length 0 with a Mdl no provider may touch */
} shape;

static PWSK_BUF shape_buf(shape s)
{
    E.a->Next = E.b->Next = E.z->Next = NULL;
    WSK_BUF *w = &E.buf;
    *w = (WSK_BUF){E.a, 0, 16};
    switch (s) {
    case SHAPE_NONE: break;
    case LOOP_ZERO: E.a->Next = E.z; E.z->Next = E.z; w->Length = 32; break;
    case LOOP_ZERO_BACK: E.a->Next = E.z; E.z->Next = E.a; w->Length = 48; break;
    case LOOP_HUGE: E.a->Next = E.b; E.b->Next = E.a; w->Length = (SIZE_T)1 << 40; break;
    case LOOP_PAST_LENGTH: E.a->Next = E.b; E.b->Next = E.b; w->Length = 8; break;
    case OFFSET_MAX: w->Offset = 0xFFFFFFFFu; w->Length = 1; break;
    case LENGTH_MAX: E.a->Next = E.b; w->Length = ~(SIZE_T)0; break;
    case OFFSET_END: w->Offset = 16; w->Length = 1; break;
    case PAST_ONE_MDL: w->Length = 17; break;
    case PAST_ONE_OFFSET: w->Offset = 8; w->Length = 9; break;
    case ZERO_FIRST: w->Mdl = E.z; E.z->Next = E.a; break;
    case ZERO_GARBAGE_MDL: w->Mdl = (PMDL)(ULONG_PTR)0x10; w->Offset = 12345; w->Length = 0; break;
    }
    return w;
}

static void unlink_shapes(void)
{
    E.a->Next = E.b->Next = E.z->Next = NULL;
}

/* ---- the IRP-taking table ---- */

typedef NTSTATUS (*misuse_call)(PWSK_BUF buf, PIRP irp);

typedef struct misuse_case {
    const char *name;
    misuse_call call;
    shape shape;
    NTSTATUS status;    /* the IRP's final status */
    ULONG_PTR information;
} misuse_case;

#define CALL(fn) static NTSTATUS fn(PWSK_BUF buf, PIRP irp)

CALL(send) { return CONN_D(E.conn)->WskSend(E.conn, buf, 0, irp); }
CALL(receive) { return CONN_D(E.conn)->WskReceive(E.conn, buf, 0, irp); }
CALL(disconnect_with) { return CONN_D(E.conn)->WskDisconnect(E.conn, buf, 0, irp); }
CALL(send_ex) { return CONN_D(E.conn)->WskSendEx(E.conn, buf, 0, 0, NULL, irp); }
CALL(receive_ex)
{
    return CONN_D(E.conn)->WskReceiveEx(E.conn, buf, 0, &E.control_length, NULL, &E.control_flags, irp);
}
CALL(connect_ex)
{
    SOCKADDR_IN to = wt_in4("127.0.0.1", peer_local_port(E.peer_listener));
    return CONN_D(E.conn)->WskConnectEx(E.conn, (PSOCKADDR)&to, buf, 0, irp);
}
CALL(send_to) { return DGRAM_D(E.dgram)->WskSendTo(E.dgram, buf, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, irp); }
CALL(receive_from)
{
    return DGRAM_D(E.dgram)->WskReceiveFrom(E.dgram, buf, 0, (PSOCKADDR)&E.from, NULL, NULL, NULL, irp);
}
/* A datagram list whose second element's buffer is the shape. */
CALL(send_messages_element)
{
    E.l2 = (WSK_BUF_LIST){NULL, *buf};
    E.l1 = (WSK_BUF_LIST){&E.l2, {E.b, 0, 4}};
    return DGRAM_D(E.dgram)->WskSendMessages(E.dgram, &E.l1, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, irp);
}
/* A list that loops back: l1 -> l2 -> l1, every buffer good. */
CALL(send_messages_loop)
{
    (void)buf;
    E.l1 = (WSK_BUF_LIST){&E.l2, {E.b, 0, 4}};
    E.l2 = (WSK_BUF_LIST){&E.l1, {E.b, 4, 4}};
    return DGRAM_D(E.dgram)->WskSendMessages(E.dgram, &E.l1, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, irp);
}
CALL(send_messages_self)
{
    (void)buf;
    E.l1 = (WSK_BUF_LIST){&E.l1, {E.b, 0, 4}};
    return DGRAM_D(E.dgram)->WskSendMessages(E.dgram, &E.l1, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, irp);
}

#define BAD(fn, sh) {#fn "/" #sh, fn, sh, STATUS_INVALID_PARAMETER, 0}
#define EACH_BUF_CALL(sh)                                                                                            \
    BAD(send, sh), BAD(receive, sh), BAD(disconnect_with, sh), BAD(send_ex, sh), BAD(receive_ex, sh),               \
        BAD(send_to, sh), BAD(receive_from, sh), BAD(send_messages_element, sh)
/* WskConnectEx refuses a Length over 65,535 first (PFN_WSK_CONNECT_EX). */
#define CONNECT_EX_TOO_BIG(sh) {"connect_ex/" #sh, connect_ex, sh, STATUS_BUFFER_OVERFLOW, 0}

/* Refused, nothing sent or received: the connection and the datagram
 * socket go on working (checked after the table). */
static const misuse_case cycle_cases[] = {
    EACH_BUF_CALL(LOOP_ZERO), BAD(connect_ex, LOOP_ZERO),
    EACH_BUF_CALL(LOOP_ZERO_BACK), BAD(connect_ex, LOOP_ZERO_BACK),
    EACH_BUF_CALL(LOOP_HUGE), CONNECT_EX_TOO_BIG(LOOP_HUGE),
    EACH_BUF_CALL(LOOP_PAST_LENGTH), BAD(connect_ex, LOOP_PAST_LENGTH),
    {"send_messages_loop", send_messages_loop, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"send_messages_self", send_messages_self, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
};

static const misuse_case limit_cases[] = {
    EACH_BUF_CALL(OFFSET_MAX), BAD(connect_ex, OFFSET_MAX),
    EACH_BUF_CALL(LENGTH_MAX), CONNECT_EX_TOO_BIG(LENGTH_MAX),
    EACH_BUF_CALL(OFFSET_END), BAD(connect_ex, OFFSET_END),
    /* One MDL, no chain: a Length beyond it is refused like one beyond a chain. */
    EACH_BUF_CALL(PAST_ONE_MDL), BAD(connect_ex, PAST_ONE_MDL),
    EACH_BUF_CALL(PAST_ONE_OFFSET), BAD(connect_ex, PAST_ONE_OFFSET),
    /* A zero-length first MDL: Offset 0 is not inside it (wsk-part-b.md §3.1). */
    EACH_BUF_CALL(ZERO_FIRST), BAD(connect_ex, ZERO_FIRST),
    /* Length 0: the Mdl is not looked at ("WSK_BUF", Mdl may be NULL when
     * Length is 0).  A zero-byte send completes at once with nothing sent. */
    {"send/ZERO_GARBAGE_MDL", send, ZERO_GARBAGE_MDL, STATUS_SUCCESS, 0},
    {"send_ex/ZERO_GARBAGE_MDL", send_ex, ZERO_GARBAGE_MDL, STATUS_SUCCESS, 0},
    {"receive/ZERO_GARBAGE_MDL", receive, ZERO_GARBAGE_MDL, STATUS_SUCCESS, 0},
};

/* Garbage addresses, unknown codes and requests on every category (the
 * contract test makes them on basic sockets; docs/decisions.md
 * "WskControlSocket": what openwsk does not translate is
 * STATUS_NOT_SUPPORTED). */
static SOCKADDR garbage_family(void)
{
    SOCKADDR a;
    memset(&a, 0xA5, sizeof(a));
    a.sa_family = 0xFFFF;
    return a;
}

CALL(send_to_garbage_family)
{
    SOCKADDR a = garbage_family();
    return DGRAM_D(E.dgram)->WskSendTo(E.dgram, buf, 0, &a, 0, NULL, irp);
}
CALL(send_messages_garbage_family)
{
    SOCKADDR a = garbage_family();
    E.l1 = (WSK_BUF_LIST){NULL, *buf};
    return DGRAM_D(E.dgram)->WskSendMessages(E.dgram, &E.l1, 0, &a, 0, NULL, irp);
}
CALL(connect_ex_garbage_family)
{
    SOCKADDR a = garbage_family();
    return CONN_D(E.conn)->WskConnectEx(E.conn, &a, buf, 0, irp);
}
/* A zero-length datagram is a datagram (checked at the peer below). */
CALL(send_to_zero_length) { return DGRAM_D(E.dgram)->WskSendTo(E.dgram, buf, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, irp); }

static NTSTATUS control_on(PWSK_SOCKET s, WSK_CONTROL_SOCKET_TYPE type, ULONG code, ULONG level, PIRP irp)
{
    ULONG value = 1;
    SIZE_T returned = 0;
    PFN_WSK_CONTROL_SOCKET fn = ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)->WskControlSocket;
    return fn(s, type, code, level, sizeof(value), &value, 0, NULL, &returned, irp);
}
CALL(dgram_control_unknown_type) { (void)buf; return control_on(E.dgram, (WSK_CONTROL_SOCKET_TYPE)77, SO_REUSEADDR, SOL_SOCKET, irp); }
CALL(conn_control_unknown_type) { (void)buf; return control_on(E.conn, (WSK_CONTROL_SOCKET_TYPE)77, SO_REUSEADDR, SOL_SOCKET, irp); }
CALL(listen_control_unknown_type) { (void)buf; return control_on(E.listener, (WSK_CONTROL_SOCKET_TYPE)77, SO_REUSEADDR, SOL_SOCKET, irp); }
CALL(dgram_control_unknown_level) { (void)buf; return control_on(E.dgram, WskSetOption, SO_REUSEADDR, 0x7777, irp); }
CALL(conn_control_unknown_level) { (void)buf; return control_on(E.conn, WskSetOption, SO_REUSEADDR, 0x7777, irp); }
CALL(listen_control_unknown_level) { (void)buf; return control_on(E.listener, WskSetOption, SO_REUSEADDR, 0x7777, irp); }
CALL(dgram_control_unknown_ioctl) { (void)buf; return control_on(E.dgram, WskIoctl, 0x7FFF0000u, 0, irp); }
CALL(conn_control_unknown_ioctl) { (void)buf; return control_on(E.conn, WskIoctl, 0x7FFF0000u, 0, irp); }
CALL(listen_control_unknown_ioctl) { (void)buf; return control_on(E.listener, WskIoctl, 0x7FFF0000u, 0, irp); }
CALL(conn_control_unknown_option) { (void)buf; return control_on(E.conn, WskSetOption, 0x7777, SOL_SOCKET, irp); }
CALL(dgram_control_unknown_option) { (void)buf; return control_on(E.dgram, WskSetOption, 0x7777, IPPROTO_IP, irp); }

static const misuse_case address_cases[] = {
    {"send_to_garbage_family", send_to_garbage_family, SHAPE_NONE, STATUS_INVALID_ADDRESS, 0},
    {"send_messages_garbage_family", send_messages_garbage_family, SHAPE_NONE, STATUS_INVALID_ADDRESS, 0},
    {"connect_ex_garbage_family", connect_ex_garbage_family, SHAPE_NONE, STATUS_CONNECTION_ACTIVE, 0},
    {"send_to_zero_length", send_to_zero_length, ZERO_GARBAGE_MDL, STATUS_SUCCESS, 0},
    {"dgram_control_unknown_type", dgram_control_unknown_type, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"conn_control_unknown_type", conn_control_unknown_type, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"listen_control_unknown_type", listen_control_unknown_type, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"dgram_control_unknown_level", dgram_control_unknown_level, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"conn_control_unknown_level", conn_control_unknown_level, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"listen_control_unknown_level", listen_control_unknown_level, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"dgram_control_unknown_ioctl", dgram_control_unknown_ioctl, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"conn_control_unknown_ioctl", conn_control_unknown_ioctl, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"listen_control_unknown_ioctl", listen_control_unknown_ioctl, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"conn_control_unknown_option", conn_control_unknown_option, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
    {"dgram_control_unknown_option", dgram_control_unknown_option, SHAPE_NONE, STATUS_NOT_SUPPORTED, 0},
};

static void run_one(const misuse_case *c)
{
    /* MISUSE_ONLY=text runs only the table cases whose name contains it. */
    const char *only = getenv("MISUSE_ONLY");
    if (only != NULL && strstr(c->name, only) == NULL)
        return;
    wt_irp w = {0};
    PIRP irp = wt_irp_arm(&w);
    PWSK_BUF buf = shape_buf(c->shape);
    watchdog_arm(c->name);
    NTSTATUS r = c->call(buf, irp);
    NTSTATUS st = wt_irp_result(&w, r);
    watchdog_disarm();
    unlink_shapes();
    if (st != c->status || irp->IoStatus.Information != c->information) {
        WT_FAIL("%s: status 0x%x information %lu, expected 0x%x %lu", c->name, (unsigned)st,
                (unsigned long)irp->IoStatus.Information, (unsigned)c->status, (unsigned long)c->information);
    }
    wt_irp_free(&w);
}

/* After refused calls: the connection and the datagram socket still carry
 * exactly what a good call sends, and nothing the refused ones described. */
static void sockets_still_work(void)
{
    WSK_BUF good = {E.b, 0, 16};
    wt_irp w = {0};
    NTSTATUS r = CONN_D(E.conn)->WskSend(E.conn, &good, 0, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    CHECK_EQ(w.irp->IoStatus.Information, 16);
    UCHAR got[64];
    CHECK_EQ(peer_recv_exact(E.peer, got, 16, 2000), 16);
    CHECK_MEM(got, E.data + 16, 16);
    CHECK(peer_recv(E.peer, got, sizeof(got), 100) < 0); /* nothing else arrived */

    r = DGRAM_D(E.dgram)->WskSendTo(E.dgram, &good, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_recv(E.udp, got, sizeof(got), NULL, 2000), 16);
    CHECK_MEM(got, E.data + 16, 16);
    CHECK(peer_udp_recv(E.udp, got, sizeof(got), NULL, 100) < 0);
    wt_irp_free(&w);
}

static void cyclic_lists_refused(void)
{
    for (size_t i = 0; i < sizeof(cycle_cases) / sizeof(cycle_cases[0]); i++)
        run_one(&cycle_cases[i]);
    sockets_still_work();
}

static void buffer_limits(void)
{
    for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++)
        run_one(&limit_cases[i]);
    sockets_still_work();
}

static void addresses_and_codes(void)
{
    for (size_t i = 0; i < sizeof(address_cases) / sizeof(address_cases[0]); i++)
        run_one(&address_cases[i]);
    UCHAR got[16];
    CHECK_EQ(peer_udp_recv(E.udp, got, sizeof(got), NULL, 2000), 0); /* the zero-length datagram */
    sockets_still_work();
}

/* ---- chains of thousands of MDLs ---- */

typedef struct long_chain {
    PUCHAR bytes;
    PMDL mdl[LONG_CHAIN_MAX];
    WSK_BUF buf;
} long_chain;

/* LONG_CHAIN one-byte MDLs over one buffer, linked in order. */
static void long_chain_make(long_chain *c, BOOLEAN pattern)
{
    c->bytes = ExAllocatePool2(POOL_FLAG_NON_PAGED, LONG_CHAIN, 'suiM');
    for (ULONG i = 0; i < LONG_CHAIN; i++) {
        c->bytes[i] = pattern ? peer_pattern(i) : 0;
        c->mdl[i] = IoAllocateMdl(c->bytes + i, 1, FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(c->mdl[i]);
        if (i > 0)
            c->mdl[i - 1]->Next = c->mdl[i];
    }
    c->buf = (WSK_BUF){c->mdl[0], 0, LONG_CHAIN};
}

static void long_chain_free(long_chain *c)
{
    for (ULONG i = 0; i < LONG_CHAIN; i++)
        IoFreeMdl(c->mdl[i]);
    ExFreePool(c->bytes);
}

/* Windows takes a chain of any length; Linux takes 1024 iovecs a call. */
static void long_chains(void)
{
    static long_chain c;
    UCHAR *got = malloc(LONG_CHAIN);
    wt_irp w = {0};
    long_chain_make(&c, TRUE);

    watchdog_arm("WskSend of a long chain");
    NTSTATUS r = CONN_D(E.conn)->WskSend(E.conn, &c.buf, 0, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    CHECK_EQ(w.irp->IoStatus.Information, LONG_CHAIN);
    CHECK_EQ(peer_recv_exact(E.peer, got, LONG_CHAIN, 2000), LONG_CHAIN);
    CHECK_MEM(got, c.bytes, LONG_CHAIN);

    watchdog_arm("WskSendTo of a long chain");
    r = DGRAM_D(E.dgram)->WskSendTo(E.dgram, &c.buf, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    CHECK_EQ(w.irp->IoStatus.Information, LONG_CHAIN);
    CHECK_EQ(peer_udp_recv(E.udp, got, LONG_CHAIN, NULL, 2000), LONG_CHAIN);
    CHECK_MEM(got, c.bytes, LONG_CHAIN);

    /* Receives: whatever arrives lands in order across the chain. */
    memset(c.bytes, 0, LONG_CHAIN);
    CHECK_EQ(peer_send_all(E.peer, got, LONG_CHAIN), LONG_CHAIN);
    watchdog_arm("WskReceive into a long chain");
    c.buf.Length = LONG_CHAIN;
    ULONG_PTR total = 0;
    while (total < LONG_CHAIN && !wt_case_failed) {
        /* The rest of the chain: from the first MDL not yet filled. */
        c.buf = (WSK_BUF){c.mdl[total], 0, LONG_CHAIN - total};
        r = CONN_D(E.conn)->WskReceive(E.conn, &c.buf, WSK_FLAG_WAITALL, wt_irp_arm(&w));
        CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
        CHECK(w.irp->IoStatus.Information > 0);
        total += w.irp->IoStatus.Information;
    }
    CHECK_EQ(total, LONG_CHAIN);
    CHECK_MEM(c.bytes, got, LONG_CHAIN);

    memset(c.bytes, 0, LONG_CHAIN);
    c.buf = (WSK_BUF){c.mdl[0], 0, LONG_CHAIN};
    watchdog_arm("WskReceiveFrom into a long chain");
    r = DGRAM_D(E.dgram)->WskReceiveFrom(E.dgram, &c.buf, 0, (PSOCKADDR)&E.from, NULL, NULL, NULL, wt_irp_arm(&w));
    CHECK_EQ(peer_udp_send_from(E.udp, 4, "127.0.0.1", E.dgram_port, got, LONG_CHAIN), LONG_CHAIN);
    CHECK_EQ(wt_irp_result(&w, r), STATUS_SUCCESS);
    CHECK_EQ(w.irp->IoStatus.Information, LONG_CHAIN);
    CHECK_MEM(c.bytes, got, LONG_CHAIN);
    watchdog_disarm();
    wt_irp_free(&w);
    long_chain_free(&c);
    free(got);
}

/* A datagram over more MDLs than one call takes and longer than any
 * datagram: refused whole as too long, never sent as pieces. */
static void long_chain_datagram_too_long(void)
{
    enum { PIECES = 1100, PIECE = 60 }; /* the first 1024 would fit one datagram */
    PUCHAR bytes = ExAllocatePool2(POOL_FLAG_NON_PAGED, PIECES * PIECE, 'suiM');
    static PMDL mdl[PIECES];
    for (ULONG i = 0; i < PIECES; i++) {
        mdl[i] = IoAllocateMdl(bytes + i * PIECE, PIECE, FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(mdl[i]);
        if (i > 0)
            mdl[i - 1]->Next = mdl[i];
    }
    WSK_BUF buf = {mdl[0], 0, PIECES * PIECE};
    wt_irp w = {0};
    watchdog_arm("WskSendTo of a long chain too long for a datagram");
    NTSTATUS r = DGRAM_D(E.dgram)->WskSendTo(E.dgram, &buf, 0, (PSOCKADDR)&E.udp_addr, 0, NULL, wt_irp_arm(&w));
    CHECK_EQ(wt_irp_result(&w, r), STATUS_INVALID_BUFFER_SIZE); /* docs/decisions.md, Datagram sockets */
    CHECK_EQ(w.irp->IoStatus.Information, 0);
    watchdog_disarm();
    UCHAR got[16];
    CHECK(peer_udp_recv(E.udp, got, sizeof(got), NULL, 100) < 0); /* no piece of it went out */
    wt_irp_free(&w);
    for (ULONG i = 0; i < PIECES; i++)
        IoFreeMdl(mdl[i]);
    ExFreePool(bytes);
}

/* ---- lists given back ---- */

typedef struct held_log {
    KEVENT arrived;
    PWSK_DATAGRAM_INDICATION held;
} held_log;

static NTSTATUS WSKAPI hold_datagram(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
    held_log *log = SocketContext;
    (void)Flags;
    if (DataIndication == NULL || log->held != NULL)
        return STATUS_SUCCESS;
    log->held = DataIndication;
    KeSetEvent(&log->arrived, IO_NO_INCREMENT, FALSE);
    return STATUS_PENDING; /* kept until WskRelease */
}

static const WSK_CLIENT_DATAGRAM_DISPATCH hold_events = {hold_datagram};

/* A datagram indication the client relinks into a loop before giving it
 * back: refused, the datagram still held; then released properly, and a
 * second release of it refused. */
static void datagram_release_loop_and_double(void)
{
    held_log log;
    memset(&log, 0, sizeof(log));
    KeInitializeEvent(&log.arrived, NotificationEvent, FALSE);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&E.t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &log,
                                   &hold_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN local = wt_in4("127.0.0.1", 0), bound;
    CHECK_EQ(wt_bind(&E.t, s, &local), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&E.t, s, &bound), STATUS_SUCCESS);
    WSK_EVENT_CALLBACK_CONTROL on = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM};
    CHECK_EQ(DGRAM_D(s)->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(on), &on, 0,
                                          NULL, NULL, NULL),
             STATUS_SUCCESS);
    CHECK(peer_udp_sendto(4, "127.0.0.1", RtlUshortByteSwap(bound.sin_port), "x", 1) == 0);
    LARGE_INTEGER t = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&log.arrived, Executive, KernelMode, FALSE, &t), STATUS_SUCCESS);
    if (log.held != NULL) {
        PWSK_DATAGRAM_INDICATION d = log.held;
        watchdog_arm("datagram WskRelease of a loop");
        d->Next = d;
        CHECK_EQ(DGRAM_D(s)->WskRelease(s, d), STATUS_INVALID_PARAMETER);
        watchdog_disarm();
        d->Next = NULL;
        CHECK_EQ(DGRAM_D(s)->WskRelease(s, d), STATUS_SUCCESS);
        /* The block went back to the socket's cache: a second release is
         * recognised.  (Once freed it could not be: see docs/misuse.md.) */
        CHECK_EQ(DGRAM_D(s)->WskRelease(s, d), STATUS_INVALID_PARAMETER);
    }
    CHECK_EQ(DGRAM_D(s)->WskRelease(s, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_close(&E.t, s), STATUS_SUCCESS);
}

typedef struct stream_hold {
    KEVENT arrived;
    PWSK_DATA_INDICATION held;
} stream_hold;

static NTSTATUS WSKAPI hold_data(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
                                 SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
    stream_hold *h = SocketContext;
    (void)Flags;
    (void)BytesIndicated;
    (void)BytesAccepted;
    if (DataIndication == NULL || h->held != NULL)
        return STATUS_SUCCESS;
    h->held = DataIndication;
    KeSetEvent(&h->arrived, IO_NO_INCREMENT, FALSE);
    return STATUS_PENDING;
}

static const WSK_CLIENT_CONNECTION_DISPATCH hold_conn_events = {hold_data, NULL, NULL};

/* WskRelease of a data indication twice, and with a looped list: only the
 * head is the provider's to take back (the client may reuse Next). */
static void stream_release_double(void)
{
    stream_hold h;
    memset(&h, 0, sizeof(h));
    KeInitializeEvent(&h.arrived, NotificationEvent, FALSE);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&E.t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &h,
                                   &hold_conn_events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN local = wt_in4("127.0.0.1", 0);
    SOCKADDR_IN remote = wt_in4("127.0.0.1", peer_local_port(E.peer_listener));
    CHECK_EQ(wt_bind(&E.t, s, &local), STATUS_SUCCESS);
    NTSTATUS r = CONN_D(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&E.t.irp));
    CHECK_EQ(wt_irp_result(&E.t.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(E.peer_listener, 2000);
    CHECK(peer >= 0);
    WSK_EVENT_CALLBACK_CONTROL on = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    CHECK_EQ(CONN_D(s)->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(on), &on, 0,
                                         NULL, NULL, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    LARGE_INTEGER t = {.QuadPart = -2000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&h.arrived, Executive, KernelMode, FALSE, &t), STATUS_SUCCESS);
    usleep(200 * 1000); /* the callback returns STATUS_PENDING: the indication is retained from then on */
    if (h.held != NULL) {
        watchdog_arm("stream WskRelease of a loop");
        h.held->Next = h.held;
        CHECK_EQ(CONN_D(s)->WskRelease(s, h.held), STATUS_SUCCESS);
        watchdog_disarm();
        CHECK_EQ(CONN_D(s)->WskRelease(s, h.held), STATUS_INVALID_PARAMETER);
    }
    CHECK_EQ(CONN_D(s)->WskRelease(s, NULL), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_close(&E.t, s), STATUS_SUCCESS);
    peer_close(peer);
}

/* WskFreeAddressInfo given a list relinked into a loop: logged and left
 * alone (freeing it would free an element twice); the real list then
 * frees cleanly. */
static void free_address_info_loop(void)
{
    UNICODE_STRING node;
    RtlInitUnicodeString(&node, L"127.0.0.1");
    PADDRINFOEXW result = NULL;
    ADDRINFOEXW hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    const WSK_PROVIDER_DISPATCH *pd = E.t.provider.Dispatch;
    NTSTATUS r = pd->WskGetAddressInfo(E.t.provider.Client, &node, NULL, NS_ALL, NULL, &hints, &result, NULL, NULL,
                                       wt_irp_arm(&E.t.irp));
    CHECK_EQ(wt_irp_result(&E.t.irp, r), STATUS_SUCCESS);
    if (result == NULL)
        return;
    PADDRINFOEXW last = result;
    while (last->ai_next != NULL)
        last = last->ai_next;
    watchdog_arm("WskFreeAddressInfo of a loop");
    last->ai_next = result;
    pd->WskFreeAddressInfo(E.t.provider.Client, result);
    watchdog_disarm();
    last->ai_next = NULL;
    pd->WskFreeAddressInfo(E.t.provider.Client, result); /* the pool reports a leak if this did not free */
}

/* ---- resolver calls with bad arguments ---- */

static WCHAR name_buf[64], service_buf[16];
static UNICODE_STRING name_out, service_out;
static PADDRINFOEXW resolved;

static NTSTATUS name_info(const void *addr, ULONG length, PIRP irp)
{
    name_out = (UNICODE_STRING){0, sizeof(name_buf), name_buf};
    service_out = (UNICODE_STRING){0, sizeof(service_buf), service_buf};
    const WSK_PROVIDER_DISPATCH *pd = E.t.provider.Dispatch;
    return pd->WskGetNameInfo(E.t.provider.Client, (PSOCKADDR)addr, length, &name_out, &service_out,
                              NI_NUMERICHOST | NI_NUMERICSERV, NULL, NULL, irp);
}

static NTSTATUS address_info(const WCHAR *node, const ADDRINFOEXW *hints, PIRP irp)
{
    static UNICODE_STRING name;
    RtlInitUnicodeString(&name, node);
    const WSK_PROVIDER_DISPATCH *pd = E.t.provider.Dispatch;
    resolved = NULL;
    return pd->WskGetAddressInfo(E.t.provider.Client, &name, NULL, NS_ALL, NULL, (PADDRINFOEXW)hints, &resolved,
                                 NULL, NULL, irp);
}

CALL(nameinfo_garbage_family)
{
    (void)buf;
    SOCKADDR_STORAGE a;
    memset(&a, 0, sizeof(a));
    a.ss_family = 0x7777;
    return name_info(&a, sizeof(SOCKADDR_IN), irp);
}
CALL(nameinfo_ipv6_short)
{
    (void)buf;
    SOCKADDR_IN6 a = wt_in6("::1", 80);
    return name_info(&a, sizeof(SOCKADDR_IN), irp); /* 16 bytes of a 28-byte address */
}
CALL(nameinfo_ipv4_short)
{
    (void)buf;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 80);
    return name_info(&a, 4, irp);
}
CALL(nameinfo_name_too_small)
{
    (void)buf;
    SOCKADDR_IN a = wt_in4("127.0.0.1", 80);
    NTSTATUS r = name_info(&a, sizeof(a), NULL);
    (void)r;
    name_out.MaximumLength = 4; /* room for one character and the NUL */
    const WSK_PROVIDER_DISPATCH *pd = E.t.provider.Dispatch;
    return pd->WskGetNameInfo(E.t.provider.Client, (PSOCKADDR)&a, sizeof(a), &name_out, NULL,
                              NI_NUMERICHOST, NULL, NULL, irp);
}
CALL(addrinfo_hints_bad_family)
{
    (void)buf;
    ADDRINFOEXW h;
    memset(&h, 0, sizeof(h));
    h.ai_family = 0x7777;
    return address_info(L"127.0.0.1", &h, irp);
}
CALL(addrinfo_hints_bad_socktype)
{
    (void)buf;
    ADDRINFOEXW h;
    memset(&h, 0, sizeof(h));
    h.ai_socktype = 0x7777;
    return address_info(L"127.0.0.1", &h, irp);
}
CALL(addrinfo_hints_unknown_flags)
{
    (void)buf;
    ADDRINFOEXW h;
    memset(&h, 0, sizeof(h));
    h.ai_flags = 0x40000000;
    return address_info(L"127.0.0.1", &h, irp);
}

CALL(addrinfo_hints_fqdn_and_canonname)
{
    (void)buf;
    ADDRINFOEXW h;
    memset(&h, 0, sizeof(h));
    h.ai_flags = AI_FQDN | AI_CANONNAME;
    return address_info(L"localhost", &h, irp);
}

static const misuse_case resolver_cases[] = {
    {"nameinfo_garbage_family", nameinfo_garbage_family, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"nameinfo_ipv6_short", nameinfo_ipv6_short, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"nameinfo_ipv4_short", nameinfo_ipv4_short, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"nameinfo_name_too_small", nameinfo_name_too_small, SHAPE_NONE, STATUS_BUFFER_TOO_SMALL, 0},
    {"addrinfo_hints_bad_family", addrinfo_hints_bad_family, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    {"addrinfo_hints_bad_socktype", addrinfo_hints_bad_socktype, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
    /* Decision: flags openwsk does not know are ignored (a driver built for
     * a newer Windows may pass them). */
    {"addrinfo_hints_unknown_flags", addrinfo_hints_unknown_flags, SHAPE_NONE, STATUS_SUCCESS, 0},
    /* GetAddrInfoW, ai_flags: AI_FQDN with AI_CANONNAME is EAI_BADFLAGS (WSAEINVAL). */
    {"addrinfo_hints_fqdn_and_canonname", addrinfo_hints_fqdn_and_canonname, SHAPE_NONE, STATUS_INVALID_PARAMETER, 0},
};

static void resolver_bad_arguments(void)
{
    for (size_t i = 0; i < sizeof(resolver_cases) / sizeof(resolver_cases[0]); i++) {
        run_one(&resolver_cases[i]);
        if (resolved != NULL) {
            E.t.provider.Dispatch->WskFreeAddressInfo(E.t.provider.Client, resolved);
            resolved = NULL;
        }
    }
}

/* ---- registration misuse ---- */

static const WSK_CLIENT_DISPATCH client_v1 = {MAKE_WSK_VERSION(1, 0), 0, NULL};

static void registration_misuse(void)
{
    WSK_PROVIDER_NPI npi;
    WSK_PROVIDER_CHARACTERISTICS chars;
    CHECK_EQ(WskCaptureProviderNPI(NULL, WSK_NO_WAIT, &npi), STATUS_INVALID_PARAMETER);

    /* A block WskRegister never filled: refused, nothing waits or frees. */
    WSK_REGISTRATION never;
    memset(&never, 0, sizeof(never));
    CHECK_EQ(WskCaptureProviderNPI(&never, WSK_NO_WAIT, &npi), STATUS_INVALID_PARAMETER);
    CHECK_EQ(WskQueryProviderCharacteristics(&never, &chars), STATUS_DEVICE_NOT_READY);
    WskReleaseProviderNPI(&never);
    WskDeregister(&never);

    /* A release without a capture is ignored (logged): it must not let
     * WskDeregister run ahead of a real capture's release. */
    WSK_CLIENT_NPI client = {NULL, &client_v1};
    WSK_REGISTRATION reg;
    CHECK_EQ(WskRegister(&client, &reg), STATUS_SUCCESS);
    watchdog_arm("registration misuse");
    WskReleaseProviderNPI(&reg);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &npi), STATUS_SUCCESS);
    WskReleaseProviderNPI(&reg);
    WskReleaseProviderNPI(&reg); /* one release too many */
    WskDeregister(&reg);
    /* After deregistration: captures fail, the rest does nothing. */
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &npi), STATUS_DEVICE_NOT_READY);
    WskReleaseProviderNPI(&reg);
    WskDeregister(&reg);
    watchdog_disarm();
}

/* WskDeregister with a socket open and a receive pending on it: it waits
 * (WskDeregister page) until the client closes the socket; the close
 * cancels the receive, whose IRP completes once. */
static volatile LONG deregistered;

static void *deregister_thread(void *p)
{
    WskDeregister(p);
    InterlockedExchange(&deregistered, 1);
    return NULL;
}

static void deregister_with_socket_open(void)
{
    wt_wsk t2;
    wt_wsk_open(&t2);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t2, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN local = wt_in4("127.0.0.1", 0);
    SOCKADDR_IN remote = wt_in4("127.0.0.1", peer_local_port(E.peer_listener));
    CHECK_EQ(wt_bind(&t2, s, &local), STATUS_SUCCESS);
    NTSTATUS r = CONN_D(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t2.irp));
    CHECK_EQ(wt_irp_result(&t2.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(E.peer_listener, 2000);
    CHECK(peer >= 0);
    UCHAR space[16];
    PMDL mdl = IoAllocateMdl(space, sizeof(space), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    WSK_BUF buf = {mdl, 0, sizeof(space)};
    wt_irp rx = {0};
    CHECK_EQ(CONN_D(s)->WskReceive(s, &buf, 0, wt_irp_arm(&rx)), STATUS_PENDING);

    WskReleaseProviderNPI(&t2.registration);
    deregistered = 0;
    pthread_t th;
    pthread_create(&th, NULL, deregister_thread, &t2.registration);
    usleep(100 * 1000);
    CHECK_EQ(deregistered, 0); /* the socket is open */
    CHECK_EQ(rx.completions, 0);
    watchdog_arm("WskDeregister with a socket open");
    PIRP close_irp = wt_irp_arm(&t2.irp);
    r = CONN_D(s)->WskCloseSocket(s, close_irp);
    CHECK_EQ(wt_irp_result(&t2.irp, r), STATUS_SUCCESS);
    CHECK_EQ(wt_irp_result(&rx, STATUS_PENDING), STATUS_CANCELLED);
    CHECK_EQ(rx.irp->IoStatus.Information, 0);
    pthread_join(th, NULL);
    watchdog_disarm();
    CHECK_EQ(deregistered, 1);
    wt_irp_free(&rx);
    wt_irp_free(&t2.irp);
    IoFreeMdl(mdl);
    peer_close(peer);
}

/* ---- bug checks ---- */

/* WskCaptureProviderNPI may wait only at PASSIVE_LEVEL (its page: with
 * WSK_NO_WAIT it may run at DISPATCH_LEVEL). */
static void capture_waiting_at_dispatch(void *arg)
{
    (void)arg;
    WSK_CLIENT_NPI client = {NULL, &client_v1};
    WSK_REGISTRATION reg;
    WSK_PROVIDER_NPI npi;
    if (WskRegister(&client, &reg) != STATUS_SUCCESS)
        return;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    CHECK_EQ(WskCaptureProviderNPI(&reg, WSK_NO_WAIT, &npi), STATUS_SUCCESS); /* allowed */
    WskCaptureProviderNPI(&reg, 1000, &npi);
}

/* An IRP whose only stack location the client already used: nothing is
 * left for the provider, as IoCallDriver would find. */
static void irp_without_location(void *arg)
{
    (void)arg;
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetNextIrpStackLocation(irp);
    CONN_D(E.conn)->WskSend(E.conn, NULL, 0, irp);
}

static void bug_checks(void)
{
    CHECK(wt_bugchecks(capture_waiting_at_dispatch, NULL, IRQL_NOT_LESS_OR_EQUAL));
    CHECK(wt_bugchecks(irp_without_location, NULL, 0x35 /* NO_MORE_IRP_STACK_LOCATIONS */));
}

int main(void)
{
    const char *n = getenv("MISUSE_LONG_CHAIN");
    if (n != NULL && atoi(n) > 0 && atoi(n) <= LONG_CHAIN_MAX)
        LONG_CHAIN = (ULONG)atoi(n);
    env_open();
    WT_RUN(cyclic_lists_refused);
    WT_RUN(buffer_limits);
    WT_RUN(long_chains);
    WT_RUN(long_chain_datagram_too_long);
    WT_RUN(addresses_and_codes);
    WT_RUN(datagram_release_loop_and_double);
    WT_RUN(stream_release_double);
    WT_RUN(free_address_info_loop);
    WT_RUN(resolver_bad_arguments);
    WT_RUN(registration_misuse);
    WT_RUN(deregister_with_socket_open);
    WT_RUN(bug_checks);
    env_close();
    return wt_finish();
}
