/*
 * test_wsk_connection.c - connections against real Linux peers: WskAccept
 * and WskConnect, WskSend/WskReceive over chained MDLs with a non-zero
 * Offset, WAITALL, graceful and abortive disconnect, the peer's FIN and
 * reset, close cancelling pending IRPs and resetting the connection, and
 * IoCancelIrp racing completion (wsk-part-a.md §6–§7, wsk-part-b.md §5, §10).
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

#define TAG_DATA TAG_FROM_CHARS('T', 'd', 'a', 't')

/* A WSK_BUF over `len` bytes of pool memory split into `pieces` MDLs, with
 * the data starting `offset` bytes into the first MDL. */
typedef struct chain {
    PUCHAR memory;
    SIZE_T size;
    WSK_BUF buf;
} chain;

static void chain_make(chain *c, SIZE_T len, ULONG pieces, ULONG offset)
{
    c->size = len + offset;
    c->memory = ExAllocatePoolWithTag(NonPagedPoolNx, c->size, TAG_DATA);
    SIZE_T piece = c->size / pieces;
    PMDL *link = &c->buf.Mdl;
    for (ULONG i = 0; i < pieces; i++) {
        SIZE_T start = i * piece;
        SIZE_T n = i == pieces - 1 ? c->size - start : piece;
        PMDL m = IoAllocateMdl(c->memory + start, (ULONG)n, FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(m);
        *link = m;
        link = &m->Next;
    }
    *link = NULL;
    c->buf.Offset = offset;
    c->buf.Length = len;
}

static void chain_free(chain *c)
{
    for (PMDL m = c->buf.Mdl, next; m != NULL; m = next) {
        next = m->Next;
        IoFreeMdl(m);
    }
    ExFreePoolWithTag(c->memory, TAG_DATA);
}

static PUCHAR chain_data(chain *c)
{
    return c->memory + c->buf.Offset;
}

/* ---- small synchronous wrappers ---- */

static const WSK_PROVIDER_CONNECTION_DISPATCH *conn(PWSK_SOCKET s)
{
    return s->Dispatch;
}

static NTSTATUS do_send(wt_wsk *t, PWSK_SOCKET s, WSK_BUF *b, ULONG flags)
{
    NTSTATUS r = conn(s)->WskSend(s, b, flags, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

static NTSTATUS do_receive(wt_wsk *t, PWSK_SOCKET s, WSK_BUF *b, ULONG flags)
{
    NTSTATUS r = conn(s)->WskReceive(s, b, flags, wt_irp_arm(&t->irp));
    return wt_irp_result(&t->irp, r);
}

/* A WSK listener on 127.0.0.1 or ::1, port chosen by the provider. */
static PWSK_SOCKET make_listener(wt_wsk *t, ADDRESS_FAMILY family, USHORT *port)
{
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket(t, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_STORAGE local;
    if (family == AF_INET) {
        SOCKADDR_IN a = wt_in4("127.0.0.1", 0);
        CHECK_EQ(wt_bind(t, l, &a), STATUS_SUCCESS);
    } else {
        SOCKADDR_IN6 a = wt_in6("::1", 0);
        CHECK_EQ(wt_bind(t, l, &a), STATUS_SUCCESS);
    }
    CHECK_EQ(wt_local_address(t, l, &local), STATUS_SUCCESS);
    *port = RtlUshortByteSwap(family == AF_INET ? ((SOCKADDR_IN *)&local)->sin_port
                                                : ((SOCKADDR_IN6 *)&local)->sin6_port);
    return l;
}

static PWSK_SOCKET do_accept(wt_wsk *t, PWSK_SOCKET l, SOCKADDR_STORAGE *local, SOCKADDR_STORAGE *remote)
{
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    NTSTATUS r = d->WskAccept(l, 0, NULL, NULL, (PSOCKADDR)local, (PSOCKADDR)remote, wt_irp_arm(&t->irp));
    NTSTATUS st = wt_irp_result(&t->irp, r);
    CHECK_EQ(st, STATUS_SUCCESS);
    PWSK_SOCKET s = NT_SUCCESS(st) ? (PWSK_SOCKET)t->irp.irp->IoStatus.Information : NULL;
    for (int i = 0; s != NULL && i < 64; i++)
        if (t->made[i].socket == NULL) {
            t->made[i].socket = s;
            t->made[i].flags = WSK_FLAG_CONNECTION_SOCKET;
            break;
        }
    return s;
}

static void accept_and_echo(ADDRESS_FAMILY family)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = make_listener(&t, family, &port);
    int peer = peer_tcp_connect(family == AF_INET ? 4 : 6, family == AF_INET ? "127.0.0.1" : "::1", port);
    CHECK(peer >= 0);
    SOCKADDR_STORAGE local, remote;
    memset(&local, 0, sizeof(local));
    memset(&remote, 0, sizeof(remote));
    PWSK_SOCKET s = do_accept(&t, l, &local, &remote);
    CHECK(s != NULL);
    CHECK(s->Dispatch == conn(s)); /* an accepted socket is a connection socket */
    CHECK_EQ(local.ss_family, family);
    CHECK_EQ(remote.ss_family, family);
    USHORT peer_port = RtlUshortByteSwap(family == AF_INET ? ((SOCKADDR_IN *)&remote)->sin_port
                                                           : ((SOCKADDR_IN6 *)&remote)->sin6_port);
    CHECK_EQ(peer_port, peer_local_port(peer));

    static const char hello[] = "hello over WSK";
    CHECK_EQ(peer_send_all(peer, hello, sizeof(hello)), sizeof(hello));
    chain in;
    chain_make(&in, 256, 3, 5);
    CHECK_EQ(do_receive(&t, s, &in.buf, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(hello)); /* what was available, not 256 */
    CHECK_MEM(chain_data(&in), hello, sizeof(hello));

    WSK_BUF echo = in.buf;
    echo.Length = sizeof(hello);
    CHECK_EQ(do_send(&t, s, &echo, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(hello));
    char back[64];
    CHECK_EQ(peer_recv_exact(peer, back, sizeof(hello), 2000), sizeof(hello));
    CHECK_MEM(back, hello, sizeof(hello));

    /* The peer closes gracefully: a receive completes with 0 bytes and success. */
    peer_shutdown_write(peer);
    CHECK_EQ(do_receive(&t, s, &in.buf, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    /* Graceful disconnect: the peer sees EOF, not a reset. */
    NTSTATUS r = conn(s)->WskDisconnect(s, NULL, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_drain(peer, 2000), 0);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    peer_close(peer);
    chain_free(&in);
    wt_close(&t, l);
    wt_wsk_close(&t);
}

static void accept_and_echo_ipv4(void)
{
    accept_and_echo(AF_INET);
}

static void accept_and_echo_ipv6(void)
{
    if (peer_has_ipv6())
        accept_and_echo(AF_INET6);
}

static PWSK_SOCKET connect_to(wt_wsk *t, USHORT port, NTSTATUS *status)
{
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", port);
    CHECK_EQ(wt_bind(t, s, &any), STATUS_SUCCESS);
    NTSTATUS r = conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t->irp));
    CHECK_EQ(r, STATUS_PENDING);
    *status = wt_irp_result(&t->irp, r);
    CHECK_EQ(t->irp.irp->IoStatus.Information, 0);
    return s;
}

static void connect_and_stream_16_mib(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    USHORT port = peer_local_port(lfd);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, port, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    CHECK(peer >= 0);
    SOCKADDR_IN remote;
    NTSTATUS r = conn(s)->WskGetRemoteAddress(s, (PSOCKADDR)&remote, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(RtlUshortByteSwap(remote.sin_port), port);
    CHECK_EQ(conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp)), STATUS_CONNECTION_ACTIVE);
    wt_irp_result(&t.irp, STATUS_CONNECTION_ACTIVE);

    /* 16 MiB out through a 37-MDL chain starting 3 bytes into the first MDL. */
    const SIZE_T total = 16u << 20;
    chain out;
    chain_make(&out, total, 37, 3);
    for (SIZE_T i = 0; i < total; i++)
        chain_data(&out)[i] = peer_pattern(i);
    peer_job *reader = peer_job_verify_reader(peer, total);
    CHECK_EQ(do_send(&t, s, &out.buf, WSK_FLAG_NODELAY), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, total); /* completes only when all was taken */
    CHECK_EQ(peer_job_join(reader), (long)total);

    /* 4 MiB in, WAITALL into a 5-MDL chain: one completion with every byte. */
    const SIZE_T in_total = 4u << 20;
    chain in;
    chain_make(&in, in_total, 5, 11);
    peer_job *writer = peer_job_pattern_writer(peer, in_total);
    CHECK_EQ(do_receive(&t, s, &in.buf, WSK_FLAG_WAITALL), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, in_total);
    CHECK_EQ(peer_job_join(writer), (long)in_total);
    SIZE_T bad = 0;
    for (SIZE_T i = 0; i < in_total; i++)
        bad += chain_data(&in)[i] != peer_pattern(i);
    CHECK_EQ(bad, 0);

    chain_free(&in);
    chain_free(&out);
    wt_close(&t, s);
    /* Closed without a disconnect: the peer sees a reset. */
    CHECK_EQ(peer_drain(peer, 2000), -ECONNRESET);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* One MDL over 24 MiB (Windows 7 and later allow 4 GB - PAGE_SIZE per MDL:
 * IoAllocateMdl, Remarks): the send takes it all, the peer gets every byte. */
static void send_from_one_24_mib_mdl(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    const SIZE_T total = 24u << 20;
    PUCHAR data = ExAllocatePoolWithTag(NonPagedPoolNx, total, TAG_DATA);
    WSK_BUF out = {IoAllocateMdl(data, (ULONG)total, FALSE, FALSE, NULL), 0, total};
    CHECK(out.Mdl != NULL);
    if (out.Mdl != NULL) {
        MmBuildMdlForNonPagedPool(out.Mdl);
        for (SIZE_T i = 0; i < total; i++)
            data[i] = peer_pattern(i);
        peer_job *reader = peer_job_verify_reader(peer, total);
        CHECK_EQ(do_send(&t, s, &out, 0), STATUS_SUCCESS);
        CHECK_EQ(t.irp.irp->IoStatus.Information, total);
        CHECK_EQ(peer_job_join(reader), (long)total);
        IoFreeMdl(out.Mdl);
    }
    ExFreePoolWithTag(data, TAG_DATA);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void connect_refused(void)
{
    USHORT port = peer_free_port();
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, port, &st);
    CHECK_EQ(st, STATUS_CONNECTION_REFUSED);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

static void data_calls_check_their_inputs(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    /* Not connected yet. */
    PWSK_SOCKET idle = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    chain c;
    chain_make(&c, 100, 2, 0);
    CHECK_EQ(do_send(&t, idle, &c.buf, 0), STATUS_INVALID_CONNECTION);
    CHECK_EQ(do_receive(&t, idle, &c.buf, 0), STATUS_INVALID_CONNECTION);
    wt_close(&t, idle);

    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    WSK_BUF too_long = c.buf;
    too_long.Length = 101; /* more than the chain holds: Windows crashes, we refuse */
    CHECK_EQ(do_send(&t, s, &too_long, 0), STATUS_INVALID_PARAMETER);
    CHECK_EQ(do_receive(&t, s, &too_long, 0), STATUS_INVALID_PARAMETER);
    WSK_BUF bad_offset = c.buf;
    bad_offset.Offset = 60; /* beyond the first MDL's 50 bytes */
    CHECK_EQ(do_send(&t, s, &bad_offset, 0), STATUS_INVALID_PARAMETER);
    WSK_BUF no_mdl = {NULL, 0, 10};
    CHECK_EQ(do_send(&t, s, &no_mdl, 0), STATUS_INVALID_PARAMETER);
    CHECK_EQ(do_receive(&t, s, &c.buf, WSK_FLAG_WAITALL | WSK_FLAG_DRAIN), STATUS_INVALID_PARAMETER);
    CHECK_EQ(do_send(&t, s, NULL, 0), STATUS_INVALID_PARAMETER);
    CHECK_EQ(conn(s)->WskSend(s, &c.buf, 0, NULL), STATUS_INVALID_PARAMETER);
    WSK_BUF empty = {NULL, 0, 0};
    CHECK_EQ(do_send(&t, s, &empty, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    NTSTATUS r = conn(s)->WskDisconnect(s, NULL, 0x40, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    wt_close(&t, s);
    peer_close(peer);
    chain_free(&c);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void receives_complete_in_order(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    enum { N = 4 };
    wt_irp irps[N];
    chain bufs[N];
    memset(irps, 0, sizeof(irps));
    for (int i = 0; i < N; i++) {
        chain_make(&bufs[i], 4, 1, 0);
        NTSTATUS r = conn(s)->WskReceive(s, &bufs[i].buf, WSK_FLAG_WAITALL, wt_irp_arm(&irps[i]));
        CHECK_EQ(r, STATUS_PENDING);
    }
    static const char data[] = "AAAABBBBCCCCDDDD";
    CHECK_EQ(peer_send_all(peer, data, 16), 16);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(wt_irp_result(&irps[i], STATUS_PENDING), STATUS_SUCCESS);
        CHECK_EQ(irps[i].irp->IoStatus.Information, 4);
        CHECK_MEM(chain_data(&bufs[i]), data + 4 * i, 4);
        wt_irp_free(&irps[i]);
        chain_free(&bufs[i]);
    }
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void peer_reset_fails_the_receive(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    chain c;
    chain_make(&c, 64, 1, 0);
    NTSTATUS r = conn(s)->WskReceive(s, &c.buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    peer_reset_on_close(peer);
    peer_close(peer);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CONNECTION_RESET);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    wt_close(&t, s);
    chain_free(&c);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void abortive_disconnect_resets_the_peer(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    NTSTATUS r = conn(s)->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_drain(peer, 2000), -ECONNRESET);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void graceful_disconnect_with_final_buffer(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    chain c;
    chain_make(&c, 10, 2, 1);
    memcpy(chain_data(&c), "last words", 10);
    NTSTATUS r = conn(s)->WskDisconnect(s, &c.buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    char got[16];
    CHECK_EQ(peer_recv_exact(peer, got, 10, 2000), 10);
    CHECK_MEM(got, "last words", 10);
    CHECK_EQ(peer_drain(peer, 2000), 0); /* then FIN */
    /* Sending after the disconnect is refused. */
    CHECK_EQ(do_send(&t, s, &c.buf, 0), STATUS_PIPE_DISCONNECTED);
    /* Both directions shut: the close is graceful (no reset). */
    peer_shutdown_write(peer);
    CHECK_EQ(do_receive(&t, s, &c.buf, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    wt_close(&t, s);
    chain_free(&c);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void close_cancels_pending_irps(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = make_listener(&t, AF_INET, &port);
    wt_irp accept_irp = {0};
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    CHECK_EQ(d->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&accept_irp)), STATUS_PENDING);
    usleep(20 * 1000);
    CHECK_EQ(accept_irp.completions, 0);
    NTSTATUS r = d->WskCloseSocket(l, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS); /* close never fails */
    CHECK_EQ(wt_irp_result(&accept_irp, STATUS_PENDING), STATUS_CANCELLED);
    CHECK_EQ(accept_irp.irp->IoStatus.Information, 0);
    wt_irp_free(&accept_irp);
    wt_wsk_close(&t);
}

static void cancel_irp_on_pending_receive(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    chain c;
    chain_make(&c, 64, 1, 0);
    NTSTATUS r = conn(s)->WskReceive(s, &c.buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(IoCancelIrp(t.irp.irp), TRUE);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_CANCELLED);
    /* The connection is still usable afterwards. */
    CHECK_EQ(peer_send_all(peer, "x", 1), 1);
    CHECK_EQ(do_receive(&t, s, &c.buf, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 1);
    wt_close(&t, s);
    chain_free(&c);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

typedef struct race_arg {
    PIRP irp;
    int peer;
    int round;
} race_arg;

static void *race_cancel(void *p)
{
    race_arg *a = p;
    if (a->round % 2)
        IoCancelIrp(a->irp);
    else
        peer_send_all(a->peer, "y", 1);
    return NULL;
}

static void cancel_races_completion(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    chain c;
    chain_make(&c, 1, 1, 0);
    int cancelled = 0, received = 0;
    for (int round = 0; round < 400; round++) {
        NTSTATUS r = conn(s)->WskReceive(s, &c.buf, 0, wt_irp_arm(&t.irp));
        race_arg a = {t.irp.irp, peer, round};
        pthread_t th;
        pthread_create(&th, NULL, race_cancel, &a);
        /* The other event, from this thread, at nearly the same time. */
        if (round % 2)
            peer_send_all(peer, "y", 1);
        else
            IoCancelIrp(t.irp.irp);
        pthread_join(th, NULL);
        NTSTATUS got = wt_irp_result(&t.irp, r); /* checks: exactly one completion */
        if (got == STATUS_CANCELLED)
            cancelled++;
        else if (got == STATUS_SUCCESS && t.irp.irp->IoStatus.Information == 1)
            received++;
        else
            WT_FAIL("round %d: status 0x%x", round, (unsigned)got);
    }
    /* Every byte sent is either received or still queued: drain the rest. */
    int leftover = 400 - received;
    long queued = 0;
    for (int i = 0; i < leftover; i++) {
        if (do_receive(&t, s, &c.buf, 0) != STATUS_SUCCESS || t.irp.irp->IoStatus.Information != 1)
            break;
        queued++;
    }
    CHECK_EQ(received + queued, 400); /* no data lost */
    CHECK(cancelled + received == 400);
    wt_close(&t, s);
    chain_free(&c);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

static void drain_discards_until_the_peer_closes(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = connect_to(&t, peer_local_port(lfd), &st);
    int peer = peer_accept(lfd, 2000);
    WSK_BUF none = {NULL, 0, 0};
    chain c;
    chain_make(&c, 16, 1, 0);
    CHECK_EQ(do_receive(&t, s, &c.buf, WSK_FLAG_DRAIN), STATUS_INVALID_PARAMETER); /* Length must be 0 */
    NTSTATUS r = conn(s)->WskReceive(s, &none, WSK_FLAG_DRAIN, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    peer_job *writer = peer_job_pattern_writer(peer, 300000);
    CHECK_EQ(peer_job_join(writer), 300000);
    peer_shutdown_write(peer);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 300000); /* everything discarded, counted */
    /* After the FIN a receive completes at once with 0 bytes. */
    CHECK_EQ(do_receive(&t, s, &c.buf, 0), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    chain_free(&c);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* An IRP cancelled before the call (IoCancelIrp found no cancel routine
 * and only set Cancel) behind another request: a receive queued behind a
 * pending receive, a disconnect queued behind a pending send.  Each
 * completes at once with STATUS_CANCELLED rather than waiting for its
 * turn, the requests ahead of it are unaffected, and the close after them
 * completes (docs/decisions.md, "Ordering and close", rule 7). */
static void cancelled_before_the_call_does_not_wait(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port;
    PWSK_SOCKET l = make_listener(&t, AF_INET, &port);
    int peer = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(peer >= 0);
    PWSK_SOCKET s = do_accept(&t, l, NULL, NULL);
    CHECK(s != NULL);
    chain first, second;
    chain_make(&first, 64, 1, 0);
    chain_make(&second, 64, 1, 0);
    wt_irp r1 = {0}, r2 = {0};
    NTSTATUS a = conn(s)->WskReceive(s, &first.buf, 0, wt_irp_arm(&r1));
    CHECK_EQ(a, STATUS_PENDING);
    PIRP irp = wt_irp_arm(&r2);
    CHECK(!IoCancelIrp(irp)); /* no cancel routine yet: only Cancel is set */
    NTSTATUS b = conn(s)->WskReceive(s, &second.buf, 0, irp);
    CHECK_EQ(wt_irp_result(&r2, b), STATUS_CANCELLED);
    CHECK_EQ(InterlockedCompareExchange(&r1.completions, 0, 0), 0); /* the first receive still waits for data */
    CHECK_EQ(peer_send_all(peer, "abc", 3), 3);
    CHECK_EQ(wt_irp_result(&r1, a), STATUS_SUCCESS);
    CHECK_EQ(r1.irp->IoStatus.Information, 3);

    /* A send the peer does not read stays pending; a pre-cancelled
     * disconnect behind it completes at once. */
    chain big;
    chain_make(&big, 32u << 20, 4, 0);
    memset(chain_data(&big), 0x5a, big.buf.Length);
    a = conn(s)->WskSend(s, &big.buf, 0, wt_irp_arm(&r1));
    CHECK_EQ(a, STATUS_PENDING);
    irp = wt_irp_arm(&r2);
    CHECK(!IoCancelIrp(irp));
    b = conn(s)->WskDisconnect(s, NULL, 0, irp);
    CHECK_EQ(wt_irp_result(&r2, b), STATUS_CANCELLED);
    CHECK_EQ(InterlockedCompareExchange(&r1.completions, 0, 0), 0);
    /* It sent no FIN, so sends still work (a zero-length one completes at once). */
    WSK_BUF none = first.buf;
    none.Length = 0;
    CHECK_EQ(wt_irp_result(&r2, conn(s)->WskSend(s, &none, 0, wt_irp_arm(&r2))), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS); /* cancels the send; the close completes */
    CHECK_EQ(wt_irp_result(&r1, a), STATUS_CANCELLED);
    peer_close(peer);
    wt_irp_free(&r1);
    wt_irp_free(&r2);
    chain_free(&first);
    chain_free(&second);
    chain_free(&big);
    wt_close(&t, l);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(accept_and_echo_ipv4);
    WT_RUN(accept_and_echo_ipv6);
    WT_RUN(connect_and_stream_16_mib);
    WT_RUN(send_from_one_24_mib_mdl);
    WT_RUN(connect_refused);
    WT_RUN(data_calls_check_their_inputs);
    WT_RUN(receives_complete_in_order);
    WT_RUN(peer_reset_fails_the_receive);
    WT_RUN(abortive_disconnect_resets_the_peer);
    WT_RUN(graceful_disconnect_with_final_buffer);
    WT_RUN(close_cancels_pending_irps);
    WT_RUN(cancel_irp_on_pending_receive);
    WT_RUN(cancel_races_completion);
    WT_RUN(drain_discards_until_the_peer_closes);
    WT_RUN(cancelled_before_the_call_does_not_wait);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
