/*
 * test_wsk_matrix_ipv6.c - Windows' address-sharing matrix (wsk-part-a.md
 * §5.6) on IPv6 and across the two stacks (§5.7): v6-only sockets ("::"
 * wildcard, "::1" specific) follow the same table among themselves and never
 * meet IPv4 sockets; a dual-stack socket (IPV6_V6ONLY cleared) bound to "::"
 * holds the port in both stacks and must pass the table in each, exactly as
 * an IPv4 wildcard would in the IPv4 stack; a v4-mapped address on a
 * dual-stack socket is an IPv4 binding.  UDP, TCP connection and TCP listen
 * sockets.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>

#include "linux_peer.h"
#include "wsk/wsk_internal.h"
#include "wt_wsk.h"

enum { NONE, REUSE, EXCL };
#define W 0 /* wildcard */
#define S 1 /* the same specific address */
#define OK STATUS_SUCCESS
#define INUSE STATUS_ADDRESS_ALREADY_EXISTS
#define DENY STATUS_ACCESS_DENIED

/* wsk-part-a.md §5.6, rows = second socket, columns = first socket, the
 * CHECK cells resolved for the default security descriptor (DENY); the same
 * table test_wsk_bind.c checks on IPv4. */
static const NTSTATUS expected_matrix[6][6] = {
    /*            noneW  noneS  reuseW reuseS exclW  exclS */
    /* noneW */ {INUSE, OK, INUSE, OK, INUSE, OK},
    /* noneS */ {DENY, INUSE, DENY, DENY, DENY, INUSE},
    /* reuseW */ {DENY, OK, OK, OK, DENY, OK},
    /* reuseS */ {DENY, DENY, OK, OK, DENY, DENY},
    /* exclW */ {INUSE, INUSE, INUSE, INUSE, INUSE, INUSE},
    /* exclS */ {DENY, INUSE, DENY, INUSE, DENY, INUSE},
};

/* How a socket sits in the stacks. */
typedef enum kind { V4, V6ONLY, DUAL } kind;
static const char *const kind_name[] = {"v4", "v6only", "dual"};

/* The address a socket of that kind binds for W or S:
 *   V4      W 0.0.0.0            S 127.0.0.1          (IPv4 stack)
 *   V6ONLY  W ::                 S ::1                (IPv6 stack)
 *   DUAL    W :: (both stacks)   S ::ffff:127.0.0.1   (IPv4 stack only) */
static SOCKADDR_STORAGE address_for(kind k, int spec, USHORT port)
{
    SOCKADDR_STORAGE ss;
    memset(&ss, 0, sizeof(ss));
    if (k == V4) {
        SOCKADDR_IN a = wt_in4(spec == S ? "127.0.0.1" : "0.0.0.0", port);
        memcpy(&ss, &a, sizeof(a));
    } else {
        SOCKADDR_IN6 a = wt_in6(spec == W ? "::" : k == V6ONLY ? "::1" : "::ffff:127.0.0.1", port);
        memcpy(&ss, &a, sizeof(a));
    }
    return ss;
}

/* Which address kind (W/S) a binding has in a stack, or -1 if absent. */
static int presence(kind k, int spec, int stack)
{
    switch (k) {
    case V4: return stack == 4 ? spec : -1;
    case V6ONLY: return stack == 6 ? spec : -1;
    default: /* DUAL: "::" is in both stacks, the mapped address in IPv4 only */
        return spec == W ? W : stack == 4 ? S : -1;
    }
}

/* The outcome Windows gives: the table applied in every stack both
 * bindings share; a refusal (DENIED) is reported before a conflict. */
static NTSTATUS expected_for(kind first, int first_opt, int first_spec, kind second, int second_opt,
                             int second_spec)
{
    NTSTATUS worst = OK;
    for (int stack = 4; stack <= 6; stack += 2) {
        int f = presence(first, first_spec, stack), s = presence(second, second_spec, stack);
        if (f < 0 || s < 0)
            continue;
        NTSTATUS cell = expected_matrix[second_opt * 2 + s][first_opt * 2 + f];
        if (cell == DENY)
            return DENY;
        if (cell != OK)
            worst = cell;
    }
    return worst;
}

static PWSK_SOCKET open_with(wt_wsk *t, ULONG category, kind k, int option)
{
    BOOLEAN udp = category == WSK_FLAG_DATAGRAM_SOCKET;
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(t, k == V4 ? AF_INET : AF_INET6, udp ? SOCK_DGRAM : SOCK_STREAM,
                              udp ? IPPROTO_UDP : IPPROTO_TCP, category, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    if (s == NULL)
        return NULL;
    /* AF_INET6 sockets start v6-only (Winsock's default); DUAL clears it. */
    if (k == DUAL)
        CHECK_EQ(wt_set_ulong(t, s, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    if (option == REUSE)
        CHECK_EQ(wt_set_ulong(t, s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
    if (option == EXCL)
        CHECK_EQ(wt_set_ulong(t, s, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 1), STATUS_SUCCESS);
    return s;
}

/* Every (first option·address, second option·address) pair for one pairing
 * of socket kinds; returns how many cells were checked. */
static int run_pairing(ULONG category, kind first_kind, kind second_kind)
{
    wt_wsk t;
    wt_wsk_open(&t);
    int cells = 0;
    for (int row = 0; row < 6; row++) {
        for (int col = 0; col < 6; col++) {
            USHORT port;
            SOCKADDR_STORAGE a1, a2;
            PWSK_SOCKET first, second;
            NTSTATUS got1;
            /* The free port can be taken by another process (tests run in
             * parallel) before the first bind: then take another. */
            for (int attempt = 0;; attempt++) {
                port = peer_free_port();
                CHECK(port != 0);
                a1 = address_for(first_kind, col % 2, port);
                a2 = address_for(second_kind, row % 2, port);
                first = open_with(&t, category, first_kind, col / 2);
                second = open_with(&t, category, second_kind, row / 2);
                if (first == NULL || second == NULL)
                    return cells;
                got1 = wt_bind(&t, first, &a1);
                if (got1 != STATUS_ADDRESS_ALREADY_EXISTS || attempt == 4)
                    break;
                CHECK_EQ(wt_close(&t, second), STATUS_SUCCESS);
                CHECK_EQ(wt_close(&t, first), STATUS_SUCCESS);
            }
            if (got1 != STATUS_SUCCESS)
                WT_FAIL("first %s %d%c on port %u: 0x%x", kind_name[first_kind], col / 2, col % 2 ? 'S' : 'W',
                        port, (unsigned)got1);
            NTSTATUS want = expected_for(first_kind, col / 2, col % 2, second_kind, row / 2, row % 2);
            NTSTATUS got = wt_bind(&t, second, &a2);
            if (got != want)
                WT_FAIL("%s: second %s %d%c after first %s %d%c: 0x%x, expected 0x%x",
                        category == WSK_FLAG_DATAGRAM_SOCKET ? "udp"
                        : category == WSK_FLAG_LISTEN_SOCKET ? "tcp-listen"
                                                             : "tcp",
                        kind_name[second_kind], row / 2, row % 2 ? 'S' : 'W', kind_name[first_kind], col / 2,
                        col % 2 ? 'S' : 'W', (unsigned)got, (unsigned)want);
            CHECK_EQ(wt_close(&t, second), STATUS_SUCCESS);
            CHECK_EQ(wt_close(&t, first), STATUS_SUCCESS);
            cells++;
        }
    }
    wt_wsk_close(&t);
    return cells;
}

static int no_ipv6(void)
{
    if (peer_has_ipv6())
        return 0;
    fprintf(stderr, "  (no IPv6 loopback here: case skipped)\n");
    return 1;
}

/* ---- v6-only sockets: the IPv4 table, on "::" and "::1" ---- */

static void v6only_matrix_udp(void)
{
    if (no_ipv6())
        return;
    CHECK_EQ(run_pairing(WSK_FLAG_DATAGRAM_SOCKET, V6ONLY, V6ONLY), 36);
}

static void v6only_matrix_tcp(void)
{
    if (no_ipv6())
        return;
    CHECK_EQ(run_pairing(WSK_FLAG_CONNECTION_SOCKET, V6ONLY, V6ONLY), 36);
}

static void v6only_matrix_tcp_listeners(void)
{
    if (no_ipv6())
        return;
    CHECK_EQ(run_pairing(WSK_FLAG_LISTEN_SOCKET, V6ONLY, V6ONLY), 36);
}

/* ---- v6-only and IPv4 never conflict, whatever the options ---- */

static void v6only_and_ipv4_are_independent(void)
{
    if (no_ipv6())
        return;
    /* expected_for gives SUCCESS for every cell here: no shared stack. */
    CHECK_EQ(expected_for(V4, EXCL, W, V6ONLY, EXCL, W), OK);
    static const ULONG categories[] = {WSK_FLAG_DATAGRAM_SOCKET, WSK_FLAG_CONNECTION_SOCKET, WSK_FLAG_LISTEN_SOCKET};
    for (size_t i = 0; i < ARRAYSIZE(categories); i++) {
        CHECK_EQ(run_pairing(categories[i], V4, V6ONLY), 36);
        CHECK_EQ(run_pairing(categories[i], V6ONLY, V4), 36);
    }
}

/* ---- dual stack: the IPv4 table applies in the IPv4 stack ---- */

static void dual_after_ipv4(void)
{
    if (no_ipv6())
        return;
    /* The brief's examples, spelled out before the full sweep. */
    CHECK_EQ(expected_for(V4, NONE, S, DUAL, NONE, W), OK);    /* noneW after noneS */
    CHECK_EQ(expected_for(V4, NONE, W, DUAL, NONE, W), INUSE); /* noneW after noneW */
    CHECK_EQ(expected_for(V4, NONE, S, DUAL, EXCL, W), INUSE); /* exclW never shares */
    CHECK_EQ(run_pairing(WSK_FLAG_DATAGRAM_SOCKET, V4, DUAL), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_CONNECTION_SOCKET, V4, DUAL), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_LISTEN_SOCKET, V4, DUAL), 36);
}

static void ipv4_after_dual(void)
{
    if (no_ipv6())
        return;
    CHECK_EQ(expected_for(DUAL, EXCL, W, V4, NONE, S), DENY);  /* excl wildcard blocks a specific bind */
    CHECK_EQ(expected_for(DUAL, NONE, W, V4, NONE, S), DENY);  /* CHECK cell, default SD */
    CHECK_EQ(expected_for(DUAL, REUSE, W, V4, REUSE, W), OK);
    CHECK_EQ(run_pairing(WSK_FLAG_DATAGRAM_SOCKET, DUAL, V4), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_CONNECTION_SOCKET, DUAL, V4), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_LISTEN_SOCKET, DUAL, V4), 36);
}

static void dual_with_dual(void)
{
    if (no_ipv6())
        return;
    CHECK_EQ(run_pairing(WSK_FLAG_DATAGRAM_SOCKET, DUAL, DUAL), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_CONNECTION_SOCKET, DUAL, DUAL), 36);
}

/* A dual-stack "::" also holds the IPv6 stack: it meets v6-only sockets
 * there, while its mapped (IPv4) bindings never do. */
static void dual_and_v6only(void)
{
    if (no_ipv6())
        return;
    CHECK_EQ(expected_for(DUAL, NONE, W, V6ONLY, NONE, S), DENY);
    CHECK_EQ(expected_for(DUAL, EXCL, S, V6ONLY, EXCL, W), OK);
    CHECK_EQ(run_pairing(WSK_FLAG_DATAGRAM_SOCKET, DUAL, V6ONLY), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_DATAGRAM_SOCKET, V6ONLY, DUAL), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_CONNECTION_SOCKET, DUAL, V6ONLY), 36);
    CHECK_EQ(run_pairing(WSK_FLAG_CONNECTION_SOCKET, V6ONLY, DUAL), 36);
}

/* ---- what the bindings mean for traffic ---- */

static void shared_port_delivers_to_the_right_socket(void)
{
    if (no_ipv6())
        return;
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port = peer_free_port();
    /* IPv4 none·S 127.0.0.1:P, then dual none·W [::]:P (SUCCESS per the table). */
    PWSK_SOCKET v4 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, V4, NONE);
    PWSK_SOCKET dual = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, DUAL, NONE);
    SOCKADDR_STORAGE a4 = address_for(V4, S, port), a6 = address_for(DUAL, W, port);
    CHECK_EQ(wt_bind(&t, v4, &a4), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, dual, &a6), STATUS_SUCCESS);
    /* The more specific binding keeps its address's traffic ... */
    static const char to_v4[] = "to 127.0.0.1";
    static const char to_v6[] = "to ::1";
    char buf[64];
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, to_v4, sizeof(to_v4)), 0);
    CHECK_EQ(peer_recv(((wsk_socket *)v4)->fd, buf, sizeof(buf), 1000), sizeof(to_v4));
    CHECK_MEM(buf, to_v4, sizeof(to_v4));
    /* ... and the dual-stack wildcard gets the IPv6 traffic. */
    CHECK_EQ(peer_udp_sendto(6, "::1", port, to_v6, sizeof(to_v6)), 0);
    CHECK_EQ(peer_recv(((wsk_socket *)dual)->fd, buf, sizeof(buf), 1000), sizeof(to_v6));
    CHECK_MEM(buf, to_v6, sizeof(to_v6));
    CHECK_EQ(peer_recv(((wsk_socket *)v4)->fd, buf, sizeof(buf), 50), -ETIMEDOUT);
    CHECK_EQ(wt_close(&t, dual), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, v4), STATUS_SUCCESS);

    /* v6-only "::" and IPv4 "0.0.0.0" on one port, both exclusive: each
     * stack's traffic reaches its own socket. */
    PWSK_SOCKET x4 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, V4, EXCL);
    PWSK_SOCKET x6 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, V6ONLY, EXCL);
    a4 = address_for(V4, W, port);
    a6 = address_for(V6ONLY, W, port);
    CHECK_EQ(wt_bind(&t, x4, &a4), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, x6, &a6), STATUS_SUCCESS);
    CHECK_EQ(peer_udp_sendto(6, "::1", port, to_v6, sizeof(to_v6)), 0);
    CHECK_EQ(peer_recv(((wsk_socket *)x6)->fd, buf, sizeof(buf), 1000), sizeof(to_v6));
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, to_v4, sizeof(to_v4)), 0);
    CHECK_EQ(peer_recv(((wsk_socket *)x4)->fd, buf, sizeof(buf), 1000), sizeof(to_v4));
    CHECK_EQ(wt_close(&t, x6), STATUS_SUCCESS);
    CHECK_EQ(wt_close(&t, x4), STATUS_SUCCESS);
    CHECK_EQ(openwsk_pool_outstanding_count(WSK_TAG_BIND), 0);
    wt_wsk_close(&t);
}

/* A v4-mapped address on a v6-only socket is refused (Linux EINVAL ->
 * STATUS_INVALID_PARAMETER, docs/decisions.md), and the socket stays
 * unbound: the option can still be changed and the bind retried. */
static void mapped_address_on_v6only_socket(void)
{
    if (no_ipv6())
        return;
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port = peer_free_port();
    PWSK_SOCKET s = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, V6ONLY, NONE);
    SOCKADDR_IN6 mapped = wt_in6("::ffff:127.0.0.1", port);
    CHECK_EQ(wt_bind(&t, s, &mapped), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_set_ulong(&t, s, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, s, &mapped), STATUS_SUCCESS);
    /* It now holds 127.0.0.1:P in the IPv4 stack only. */
    PWSK_SOCKET v4 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, V4, NONE);
    SOCKADDR_IN same = wt_in4("127.0.0.1", port);
    CHECK_EQ(wt_bind(&t, v4, &same), STATUS_ADDRESS_ALREADY_EXISTS);
    PWSK_SOCKET v6 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, V6ONLY, EXCL);
    SOCKADDR_IN6 any6 = wt_in6("::", port);
    CHECK_EQ(wt_bind(&t, v6, &any6), STATUS_SUCCESS);
    wt_close(&t, v6);
    wt_close(&t, v4);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(v6only_matrix_udp);
    WT_RUN(v6only_matrix_tcp);
    WT_RUN(v6only_matrix_tcp_listeners);
    WT_RUN(v6only_and_ipv4_are_independent);
    WT_RUN(dual_after_ipv4);
    WT_RUN(ipv4_after_dual);
    WT_RUN(dual_with_dual);
    WT_RUN(dual_and_v6only);
    WT_RUN(shared_port_delivers_to_the_right_socket);
    WT_RUN(mapped_address_on_v6only_socket);
    return wt_finish();
}
