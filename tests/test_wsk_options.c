/*
 * test_wsk_options.c - WskControlSocket: the options that must precede bind
 * and their defaults, transport options with Windows values translated to
 * Linux (observed on the socket's Linux descriptor), the NULL-IRP path,
 * sizes and bad requests (wsk-part-b.md §8).
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include "linux_peer.h"
#include "wsk/wsk_internal.h"
#include "wt_wsk.h"

static int lx_fd(PWSK_SOCKET s)
{
    return ((wsk_socket *)s)->fd;
}

static NTSTATUS get_ulong(wt_wsk *t, PWSK_SOCKET s, ULONG level, ULONG option, ULONG *value)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
    *value = 0xFFFFFFFF;
    NTSTATUS r = d->WskControlSocket(s, WskGetOption, option, level, 0, NULL, sizeof(*value), value, NULL,
                                     wt_irp_arm(&t->irp));
    NTSTATUS st = wt_irp_result(&t->irp, r);
    if (NT_SUCCESS(st))
        CHECK_EQ(t->irp.irp->IoStatus.Information, sizeof(ULONG));
    return st;
}

static void pre_bind_options_and_defaults(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    ULONG v;
    PWSK_SOCKET s = wt_socket(&t, AF_INET6, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IPV6, IPV6_V6ONLY, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1); /* v6-only by default, as on Windows */
    CHECK_EQ(get_ulong(&t, s, SOL_SOCKET, SO_REUSEADDR, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(get_ulong(&t, s, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, s, IPPROTO_IPV6, IPV6_V6ONLY, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 0);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
    /* SO_REUSEADDR and SO_EXCLUSIVEADDRUSE exclude each other (as in Winsock). */
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 1), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_REUSEADDR, 0), STATUS_SUCCESS);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 1), STATUS_SUCCESS);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1);

    SOCKADDR_IN6 any = wt_in6("::", 0);
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(s), "IPV6_V6ONLY"), 0); /* what Linux was told */
    /* After bind these are fixed. */
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IPV6, IPV6_V6ONLY, 1), STATUS_INVALID_DEVICE_STATE);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 0), STATUS_INVALID_DEVICE_STATE);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 0), STATUS_INVALID_DEVICE_STATE);
    wt_close(&t, s);

    PWSK_SOCKET v4 = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, v4, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_set_ulong(&t, v4, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_INVALID_PARAMETER);
    wt_close(&t, v4);
    wt_wsk_close(&t);
}

static void transport_options_reach_linux(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    ULONG v;
    PWSK_SOCKET c = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, c, IPPROTO_TCP, TCP_NODELAY, 1), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(c), "TCP_NODELAY"), 1);
    CHECK_EQ(get_ulong(&t, c, IPPROTO_TCP, TCP_NODELAY, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 1);
    CHECK_EQ(wt_set_ulong(&t, c, SOL_SOCKET, SO_KEEPALIVE, 1), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(c), "SO_KEEPALIVE"), 1);
    CHECK_EQ(wt_set_ulong(&t, c, SOL_SOCKET, SO_RCVBUF, 65536), STATUS_SUCCESS);
    CHECK_EQ(get_ulong(&t, c, SOL_SOCKET, SO_RCVBUF, &v), STATUS_SUCCESS);
    CHECK_EQ(v, 65536); /* Windows reports what was set (Linux doubles internally) */
    CHECK_EQ(peer_sockopt(lx_fd(c), "SO_RCVBUF"), 2 * 65536);
    CHECK_EQ(wt_set_ulong(&t, c, IPPROTO_IP, IP_TTL, 33), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(c), "IP_TTL"), 33);
    CHECK_EQ(get_ulong(&t, c, SOL_SOCKET, SO_TYPE, &v), STATUS_SUCCESS);
    CHECK_EQ(v, SOCK_STREAM);
    wt_close(&t, c);

    PWSK_SOCKET d = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, d, SOL_SOCKET, SO_BROADCAST, 1), STATUS_SUCCESS);
    CHECK_EQ(peer_sockopt(lx_fd(d), "SO_BROADCAST"), 1);
    /* Windows' struct linger is two USHORTs. */
    USHORT linger[2] = {1, 7};
    const WSK_PROVIDER_BASIC_DISPATCH *b = d->Dispatch;
    NTSTATUS r = b->WskControlSocket(d, WskSetOption, SO_LINGER, SOL_SOCKET, sizeof(linger), linger, 0, NULL, NULL,
                                     wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    USHORT back[2] = {0, 0};
    r = b->WskControlSocket(d, WskGetOption, SO_LINGER, SOL_SOCKET, 0, NULL, sizeof(back), back, NULL,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, sizeof(back));
    CHECK_EQ(back[0], 1);
    CHECK_EQ(back[1], 7);
    wt_close(&t, d);
    wt_wsk_close(&t);
}

static void null_irp_path(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    const WSK_PROVIDER_BASIC_DISPATCH *b = s->Dispatch;
    ULONG ttl = 77, got = 0;
    SIZE_T returned = 12345;
    CHECK_EQ(b->WskControlSocket(s, WskSetOption, IP_TTL, IPPROTO_IP, sizeof(ttl), &ttl, 0, NULL, NULL, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(b->WskControlSocket(s, WskGetOption, IP_TTL, IPPROTO_IP, 0, NULL, sizeof(got), &got, &returned, NULL),
             STATUS_SUCCESS);
    CHECK_EQ(got, 77);
    CHECK_EQ(returned, sizeof(ULONG));
    /* Options WSK documents as needing an IRP refuse a NULL one. */
    ULONG one = 1;
    CHECK_EQ(b->WskControlSocket(s, WskSetOption, SO_REUSEADDR, SOL_SOCKET, sizeof(one), &one, 0, NULL, NULL, NULL),
             STATUS_INVALID_PARAMETER);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

static void bad_requests(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    const WSK_PROVIDER_BASIC_DISPATCH *b = s->Dispatch;
    ULONG v = 1;
    USHORT small = 0;
    NTSTATUS r;
    /* Unknown option: not supported. */
    r = b->WskControlSocket(s, WskSetOption, 0x7777, SOL_SOCKET, sizeof(v), &v, 0, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_NOT_SUPPORTED);
    /* Short or missing input. */
    r = b->WskControlSocket(s, WskSetOption, SO_REUSEADDR, SOL_SOCKET, 2, &small, 0, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = b->WskControlSocket(s, WskSetOption, TCP_NODELAY, IPPROTO_TCP, sizeof(v), NULL, 0, NULL, NULL,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    /* Short output. */
    r = b->WskControlSocket(s, WskGetOption, TCP_NODELAY, IPPROTO_TCP, 0, NULL, sizeof(small), &small, NULL,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    r = b->WskControlSocket(s, WskGetOption, SO_REUSEADDR, SOL_SOCKET, 0, NULL, 0, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_BUFFER_TOO_SMALL);
    /* Unknown request type. */
    r = b->WskControlSocket(s, (WSK_CONTROL_SOCKET_TYPE)7, 0, 0, 0, NULL, 0, NULL, NULL, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    /* SO_WSK_EVENT_CALLBACK is set-only. */
    r = b->WskControlSocket(s, WskGetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0, NULL, sizeof(v), &v, NULL,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    /* SO_WSK_SECURITY takes exactly one pointer. */
    r = b->WskControlSocket(s, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET, sizeof(v), &v, 0, NULL, NULL,
                            wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(pre_bind_options_and_defaults);
    WT_RUN(transport_options_reach_linux);
    WT_RUN(null_irp_path);
    WT_RUN(bad_requests);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
