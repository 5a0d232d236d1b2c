/*
 * test_wsk_stream.c - stream sockets (WskListen, the stream table's own
 * member order, role commitment), WskConnectEx with its first send,
 * WskSendEx/WskReceiveEx, the backlog ioctls, and a thousand concurrent
 * connections accepted and echoed with every byte checked.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

static const WSK_PROVIDER_STREAM_DISPATCH *stream(PWSK_SOCKET s)
{
    return s->Dispatch;
}

static PMDL mdl_over(void *p, ULONG n)
{
    PMDL m = IoAllocateMdl(p, n, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(m);
    return m;
}

static void stream_socket_listens_and_accepts(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    NTSTATUS r = stream(s)->WskListen(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_DEVICE_STATE); /* not bound */
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, s, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin_port);
    CHECK_EQ(peer_tcp_connect(4, "127.0.0.1", port), -ECONNREFUSED); /* bound, not listening yet */
    r = stream(s)->WskListen(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    r = stream(s)->WskListen(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_DEVICE_STATE);
    SOCKADDR_IN somewhere = wt_in4("127.0.0.1", 9);
    r = stream(s)->WskConnect(s, (PSOCKADDR)&somewhere, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_DEVICE_STATE); /* committed to listening */

    int peer = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(peer >= 0);
    SOCKADDR_IN remote;
    r = stream(s)->WskAccept(s, 0, NULL, NULL, NULL, (PSOCKADDR)&remote, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    PWSK_SOCKET a = (PWSK_SOCKET)t.irp.irp->IoStatus.Information;
    CHECK(a != NULL);
    CHECK(a->Dispatch == s->Dispatch); /* accepted from a stream listener: a stream socket */
    CHECK_EQ(RtlUshortByteSwap(remote.sin_port), peer_local_port(peer));
    char data[16] = {0};
    PMDL m = mdl_over(data, sizeof(data));
    WSK_BUF buf = {m, 0, 3};
    CHECK_EQ(peer_send_all(peer, "abc", 3), 3);
    r = stream(a)->WskReceive(a, &buf, WSK_FLAG_WAITALL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_MEM(data, "abc", 3);
    /* The receive backlog reports what is queued. */
    CHECK_EQ(peer_send_all(peer, "12345", 5), 5);
    usleep(20 * 1000);
    SIZE_T backlog = 0;
    r = stream(a)->WskControlSocket(a, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL, sizeof(backlog), &backlog,
                                    NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(backlog, 5);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(SIZE_T));
    r = stream(a)->WskControlSocket(a, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL, sizeof(backlog),
                                    &backlog, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK(backlog >= 4096);
    /* WskReceiveEx: the same data path; no control data on TCP. */
    ULONG control_length = 99, control_flags = 99;
    CMSGHDR control[4];
    buf.Length = 5;
    r = stream(a)->WskReceiveEx(a, &buf, 0, &control_length, control, &control_flags, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 5);
    CHECK_EQ(control_length, 0);
    CHECK_EQ(control_flags, 0);
    CHECK_MEM(data, "12345", 5);
    IoFreeMdl(m);
    wt_close(&t, a);
    peer_close(peer);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

static void connect_ex_sends_its_buffer(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    USHORT port = peer_local_port(lfd);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, &st);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", port);
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    static UCHAR big[65536];
    PMDL bm = mdl_over(big, sizeof(big));
    WSK_BUF too_big = {bm, 0, 65536};
    NTSTATUS r = stream(s)->WskConnectEx(s, (PSOCKADDR)&remote, &too_big, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_BUFFER_OVERFLOW);
    r = stream(s)->WskConnectEx(s, (PSOCKADDR)&remote, NULL, 1, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    char first[] = "first words";
    PMDL m = mdl_over(first, sizeof(first));
    WSK_BUF buf = {m, 6, sizeof(first) - 6}; /* "words\0", 6 bytes into the MDL */
    r = stream(s)->WskConnectEx(s, (PSOCKADDR)&remote, &buf, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(first) - 6);
    int peer = peer_accept(lfd, 2000);
    char got[16];
    CHECK_EQ(peer_recv_exact(peer, got, sizeof(first) - 6, 2000), (long)(sizeof(first) - 6));
    CHECK_MEM(got, "words", 6);
    /* Committed to connecting: listening is refused. */
    r = stream(s)->WskListen(s, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_DEVICE_STATE);
    /* WskSendEx without control data is a send; control data is refused on TCP. */
    r = stream(s)->WskSendEx(s, &buf, 0, 0, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_recv_exact(peer, got, sizeof(first) - 6, 2000), (long)(sizeof(first) - 6));
    CMSGHDR cm = {sizeof(CMSGHDR), IPPROTO_IP, IP_TOS};
    r = stream(s)->WskSendEx(s, &buf, 0, sizeof(cm), &cm, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_NOT_SUPPORTED);
    IoFreeMdl(m);
    IoFreeMdl(bm);
    wt_close(&t, s);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* ---- a thousand connections ---- */

#define MANY 1000

typedef struct conn_slot {
    PWSK_SOCKET socket;
    wt_irp irp;
    UCHAR data[32];
    PMDL mdl;
    int peer;
} conn_slot;

static void thousand_concurrent_connections(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4 * MANY) {
        rl.rlim_cur = rl.rlim_max < 4 * MANY ? rl.rlim_max : 4 * MANY;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 2 * MANY + 64) {
        fprintf(stderr, "  (only %lu descriptors allowed: skipped)\n", (unsigned long)rl.rlim_cur);
        return;
    }
    static conn_slot slots[MANY];
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, l, &addr), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, l, &local), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin_port);
    const WSK_PROVIDER_LISTEN_DISPATCH *ld = l->Dispatch;
    int accepted = 0, echoed = 0;
    for (int i = 0; i < MANY; i++) {
        conn_slot *c = &slots[i];
        memset(c, 0, sizeof(*c));
        c->peer = peer_tcp_connect(4, "127.0.0.1", port);
        NTSTATUS r = ld->WskAccept(l, 0, NULL, NULL, NULL, NULL, wt_irp_arm(&c->irp));
        if (wt_irp_result(&c->irp, r) == STATUS_SUCCESS && c->peer >= 0) {
            c->socket = (PWSK_SOCKET)c->irp.irp->IoStatus.Information;
            accepted++;
        }
    }
    CHECK_EQ(accepted, MANY);
    /* All connections open at once: a receive pending on each, then every
     * peer sends its own message. */
    for (int i = 0; i < MANY && slots[i].socket; i++) {
        conn_slot *c = &slots[i];
        c->mdl = IoAllocateMdl(c->data, sizeof(c->data), FALSE, FALSE, NULL);
        MmBuildMdlForNonPagedPool(c->mdl);
        WSK_BUF b = {c->mdl, 0, 8};
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->socket->Dispatch;
        CHECK_EQ(d->WskReceive(c->socket, &b, WSK_FLAG_WAITALL, wt_irp_arm(&c->irp)), STATUS_PENDING);
    }
    for (int i = 0; i < MANY; i++) {
        char msg[9];
        snprintf(msg, sizeof(msg), "c%07d", i);
        peer_send_all(slots[i].peer, msg, 8);
    }
    for (int i = 0; i < MANY && slots[i].socket; i++) {
        conn_slot *c = &slots[i];
        char msg[9];
        snprintf(msg, sizeof(msg), "c%07d", i);
        if (wt_irp_result(&c->irp, STATUS_PENDING) != STATUS_SUCCESS || memcmp(c->data, msg, 8) != 0)
            continue;
        WSK_BUF b = {c->mdl, 0, 8};
        const WSK_PROVIDER_CONNECTION_DISPATCH *d = c->socket->Dispatch;
        NTSTATUS r = d->WskSend(c->socket, &b, 0, wt_irp_arm(&c->irp));
        char back[8];
        if (wt_irp_result(&c->irp, r) == STATUS_SUCCESS && peer_recv_exact(c->peer, back, 8, 2000) == 8 &&
            memcmp(back, msg, 8) == 0)
            echoed++;
    }
    CHECK_EQ(echoed, MANY);
    for (int i = 0; i < MANY; i++) {
        conn_slot *c = &slots[i];
        if (c->socket) {
            const WSK_PROVIDER_BASIC_DISPATCH *d = c->socket->Dispatch;
            NTSTATUS r = d->WskCloseSocket(c->socket, wt_irp_arm(&c->irp));
            CHECK_EQ(wt_irp_result(&c->irp, r), STATUS_SUCCESS);
        }
        if (c->mdl)
            IoFreeMdl(c->mdl);
        wt_irp_free(&c->irp);
        peer_close(c->peer);
    }
    wt_close(&t, l);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(stream_socket_listens_and_accepts);
    WT_RUN(connect_ex_sends_its_buffer);
    WT_RUN(thousand_concurrent_connections);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
