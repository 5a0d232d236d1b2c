/*
 * test_wsk_bind.c - WskBind per wsk-part-a.md §5: what binding means for
 * each category (observed from a real Linux peer), wildcard and port 0,
 * bad inputs, binding twice, retry after failure, privileged ports, and
 * Windows' address-sharing matrix (§5.6) as a table, on TCP and UDP,
 * including dual-stack sockets holding both stacks.
 */
#define _GNU_SOURCE /* setresuid, setresgid */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <string.h>
#include <signal.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wsk/wsk_internal.h"
#include "wt_wsk.h"

static USHORT port_of(const void *addr)
{
    /* sin_port and sin6_port both sit at offset 2. */
    USHORT p;
    memcpy(&p, (const UCHAR *)addr + 2, sizeof(p));
    return RtlUshortByteSwap(p);
}

static void listen_bind_starts_listening(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET l = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", 0);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = l->Dispatch;
    NTSTATUS r = d->WskBind(l, (PSOCKADDR)&addr, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING); /* Windows pends binds */
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    SOCKADDR_IN local;
    memset(&local, 0xCC, sizeof(local));
    CHECK_EQ(wt_local_address(&t, l, &local), STATUS_SUCCESS);
    CHECK_EQ(local.sin_family, AF_INET);
    USHORT port = port_of(&local);
    CHECK(port >= 49152); /* Windows' dynamic range */
    CHECK_EQ(((UCHAR *)&local.sin_addr)[0], 127);
    /* No listen call exists: a Linux client connects right away. */
    int fd = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(fd >= 0);
    peer_close(fd);
    CHECK_EQ(wt_close(&t, l), STATUS_SUCCESS);
    /* Closed: the port no longer accepts. */
    CHECK_EQ(peer_tcp_connect(4, "127.0.0.1", port), -ECONNREFUSED);
    wt_wsk_close(&t);
}

static void ipv6_sockets_are_v6only_until_told(void)
{
    if (!peer_has_ipv6()) {
        fprintf(stderr, "  (no IPv6 loopback here)\n");
        return;
    }
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    SOCKADDR_IN6 any = wt_in6("::", 0), local;
    PWSK_SOCKET v6 = wt_socket(&t, AF_INET6, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    CHECK_EQ(wt_bind(&t, v6, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, v6, &local), STATUS_SUCCESS);
    CHECK_EQ(local.sin6_family, AF_INET6);
    USHORT port = port_of(&local);
    int fd = peer_tcp_connect(6, "::1", port);
    CHECK(fd >= 0);
    peer_close(fd);
    CHECK_EQ(peer_tcp_connect(4, "127.0.0.1", port), -ECONNREFUSED);
    wt_close(&t, v6);

    PWSK_SOCKET dual = wt_socket(&t, AF_INET6, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, dual, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, dual, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, dual, &local), STATUS_SUCCESS);
    port = port_of(&local);
    fd = peer_tcp_connect(4, "127.0.0.1", port);
    CHECK(fd >= 0); /* dual stack: IPv4 peers reach it */
    peer_close(fd);
    fd = peer_tcp_connect(6, "::1", port);
    CHECK(fd >= 0);
    peer_close(fd);
    wt_close(&t, dual);
    wt_wsk_close(&t);
}

static void datagram_bind_receives_from_linux(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), local;
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = port_of(&local);
    CHECK(port >= 49152);
    static const char msg[] = "datagram to a WSK socket";
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, msg, sizeof(msg)), 0);
    /* WskReceiveFrom arrives with the datagram issue; the bytes are read
     * from the socket's own Linux descriptor to prove where they landed. */
    char buf[64];
    long n = peer_recv(((wsk_socket *)s)->fd, buf, sizeof(buf), 1000);
    CHECK_EQ(n, sizeof(msg));
    CHECK_MEM(buf, msg, sizeof(msg));
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void connection_bind_fixes_the_port(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), local;
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    CHECK(port_of(&local) >= 49152);          /* the port is chosen at bind */
    CHECK_EQ(local.sin_addr.s_addr, 0);       /* the address only at connect */
    /* Nobody listens on a connection socket. */
    CHECK_EQ(peer_tcp_connect(4, "127.0.0.1", port_of(&local)), -ECONNREFUSED);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

static void bad_bind_inputs(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    const WSK_PROVIDER_LISTEN_DISPATCH *d = s->Dispatch;
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0);
    SOCKADDR_IN6 any6 = wt_in6("::", 0);
    SOCKADDR_IN foreign = wt_in4("192.0.2.1", 0); /* TEST-NET-1: never local */
    NTSTATUS r;

    CHECK_EQ(d->WskBind(s, (PSOCKADDR)&any, 0, NULL), STATUS_INVALID_PARAMETER);
    r = d->WskBind(s, (PSOCKADDR)&any, 1, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    r = d->WskBind(s, NULL, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_INVALID_PARAMETER);
    CHECK_EQ(wt_bind(&t, s, &any6), STATUS_INVALID_ADDRESS);
    CHECK_EQ(wt_bind(&t, s, &foreign), STATUS_INVALID_ADDRESS_COMPONENT);
    /* Not local beside a port the process holds: the address is what is
     * wrong, not the sharing (a listener holds the wildcard). */
    PWSK_SOCKET holder = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    CHECK_EQ(wt_bind(&t, holder, &any), STATUS_SUCCESS);
    SOCKADDR_IN held;
    CHECK_EQ(wt_local_address(&t, holder, &held), STATUS_SUCCESS);
    SOCKADDR_IN foreign_on_held = wt_in4("192.0.2.1", port_of(&held));
    PWSK_SOCKET udp = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_bind(&t, udp, &foreign), STATUS_INVALID_ADDRESS_COMPONENT);
    wt_close(&t, udp);
    CHECK_EQ(wt_bind(&t, s, &foreign_on_held), STATUS_INVALID_ADDRESS_COMPONENT);
    wt_close(&t, holder);
    /* Every failure left the socket unbound: the bind can be retried. */
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_ADDRESS_ALREADY_ASSOCIATED);
    /* Pre-bind options are refused afterwards. */
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_INVALID_DEVICE_STATE);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

static void port_held_outside_openwsk(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(lfd >= 0);
    USHORT port = peer_local_port(lfd);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", port);
    CHECK_EQ(wt_bind(&t, s, &addr), STATUS_ADDRESS_ALREADY_EXISTS);
    peer_close(lfd);
    CHECK_EQ(wt_bind(&t, s, &addr), STATUS_SUCCESS); /* retry after the conflict went away */
    wt_close(&t, s);
    wt_wsk_close(&t);
}

static int bind_privileged_port(void *arg)
{
    USHORT port = *(USHORT *)arg;
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", port);
    st = wt_bind(&t, s, &addr);
    wt_close(&t, s);
    wt_wsk_close(&t);
    return st == STATUS_ACCESS_DENIED ? 0 : 1;
}

static void privileged_port_without_capability(void)
{
    int start = peer_unprivileged_port_start();
    if (start <= 1) {
        fprintf(stderr, "  (this system has no privileged ports)\n");
        return;
    }
    USHORT port = (USHORT)(start - 1);
    if (!peer_can_bind_privileged()) {
        CHECK_EQ(bind_privileged_port(&port), 0);
        return;
    }
    int r = peer_run_unprivileged(bind_privileged_port, &port);
    if (r < 0)
        fprintf(stderr, "  (privileges cannot be dropped here)\n");
    else
        CHECK_EQ(r, 0);
}

/* ---- the sharing matrix ---- */

enum { NONE, REUSE, EXCL };
#define W 0 /* wildcard */
#define S 1 /* the same specific address */
#define OK STATUS_SUCCESS
#define INUSE STATUS_ADDRESS_ALREADY_EXISTS
#define DENY STATUS_ACCESS_DENIED

/* wsk-part-a.md §5.6, rows = second socket, columns = first socket, with
 * the CHECK cells resolved for the default security descriptor (DENY). */
static const NTSTATUS expected_matrix[6][6] = {
    /*            noneW  noneS  reuseW reuseS exclW  exclS */
    /* noneW */ {INUSE, OK, INUSE, OK, INUSE, OK},
    /* noneS */ {DENY, INUSE, DENY, DENY, DENY, INUSE},
    /* reuseW */ {DENY, OK, OK, OK, DENY, OK},
    /* reuseS */ {DENY, DENY, OK, OK, DENY, DENY},
    /* exclW */ {INUSE, INUSE, INUSE, INUSE, INUSE, INUSE},
    /* exclS */ {DENY, INUSE, DENY, INUSE, DENY, INUSE},
};

static PWSK_SOCKET open_with(wt_wsk *t, ULONG category, int option, BOOLEAN explicit_sd)
{
    BOOLEAN udp = category == WSK_FLAG_DATAGRAM_SOCKET;
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(t, AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, udp ? IPPROTO_UDP : IPPROTO_TCP,
                              category, &st);
    if (option == REUSE)
        CHECK_EQ(wt_set_ulong(t, s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
    if (option == EXCL)
        CHECK_EQ(wt_set_ulong(t, s, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 1), STATUS_SUCCESS);
    if (explicit_sd) {
        PSECURITY_DESCRIPTOR sd = (PSECURITY_DESCRIPTOR)(ULONG_PTR)0x5D5D5D50; /* opaque to the provider */
        const WSK_PROVIDER_BASIC_DISPATCH *d = s->Dispatch;
        NTSTATUS r = d->WskControlSocket(s, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET, sizeof(sd), &sd, 0, NULL,
                                         NULL, wt_irp_arm(&t->irp));
        CHECK_EQ(wt_irp_result(&t->irp, r), STATUS_SUCCESS);
    }
    return s;
}

static void run_matrix(ULONG first_category, ULONG second_category)
{
    wt_wsk t;
    wt_wsk_open(&t);
    for (int row = 0; row < 6; row++) {
        for (int col = 0; col < 6; col++) {
            USHORT port = peer_free_port();
            SOCKADDR_IN wild = wt_in4("0.0.0.0", port), spec = wt_in4("127.0.0.1", port);
            PWSK_SOCKET first = open_with(&t, first_category, col / 2, FALSE);
            PWSK_SOCKET second = open_with(&t, second_category, row / 2, FALSE);
            CHECK_EQ(wt_bind(&t, first, col % 2 == W ? &wild : &spec), STATUS_SUCCESS);
            NTSTATUS got = wt_bind(&t, second, row % 2 == W ? &wild : &spec);
            if (got != expected_matrix[row][col])
                WT_FAIL("second %d%c after first %d%c: 0x%x, expected 0x%x", row / 2, row % 2 ? 'S' : 'W', col / 2,
                        col % 2 ? 'S' : 'W', (unsigned)got, (unsigned)expected_matrix[row][col]);
            wt_close(&t, second);
            wt_close(&t, first);
        }
    }
    wt_wsk_close(&t);
}

static void sharing_matrix_tcp(void)
{
    run_matrix(WSK_FLAG_CONNECTION_SOCKET, WSK_FLAG_CONNECTION_SOCKET);
}

static void sharing_matrix_tcp_listeners(void)
{
    /* Allowed shares must also hold when both sockets listen. */
    run_matrix(WSK_FLAG_LISTEN_SOCKET, WSK_FLAG_LISTEN_SOCKET);
}

static void sharing_matrix_udp(void)
{
    run_matrix(WSK_FLAG_DATAGRAM_SOCKET, WSK_FLAG_DATAGRAM_SOCKET);
}

static void different_specific_addresses_never_conflict(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    for (int a = NONE; a <= EXCL; a++) {
        for (int b = NONE; b <= EXCL; b++) {
            USHORT port = peer_free_port();
            SOCKADDR_IN one = wt_in4("127.0.0.1", port), two = wt_in4("127.0.0.2", port);
            PWSK_SOCKET s1 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, a, FALSE);
            PWSK_SOCKET s2 = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, b, FALSE);
            CHECK_EQ(wt_bind(&t, s1, &one), STATUS_SUCCESS);
            CHECK_EQ(wt_bind(&t, s2, &two), STATUS_SUCCESS);
            wt_close(&t, s1);
            wt_close(&t, s2);
        }
    }
    wt_wsk_close(&t);
}

static void explicit_security_descriptor_grants_the_check(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port = peer_free_port();
    SOCKADDR_IN wild = wt_in4("0.0.0.0", port), spec = wt_in4("127.0.0.1", port);
    PWSK_SOCKET first = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, NONE, TRUE);
    PWSK_SOCKET second = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, NONE, FALSE);
    CHECK_EQ(wt_bind(&t, first, &wild), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, second, &spec), STATUS_SUCCESS); /* CHECK cell, access granted */
    /* The more specific binding gets the traffic for its address. */
    static const char msg[] = "to the specific socket";
    CHECK_EQ(peer_udp_sendto(4, "127.0.0.1", port, msg, sizeof(msg)), 0);
    char buf[64];
    CHECK_EQ(peer_recv(((wsk_socket *)second)->fd, buf, sizeof(buf), 1000), sizeof(msg));
    wt_close(&t, second);
    wt_close(&t, first);
    wt_wsk_close(&t);
}

static void closing_releases_the_address(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port = peer_free_port();
    SOCKADDR_IN wild = wt_in4("0.0.0.0", port);
    for (int round = 0; round < 3; round++) {
        PWSK_SOCKET s = open_with(&t, WSK_FLAG_LISTEN_SOCKET, NONE, FALSE);
        CHECK_EQ(wt_bind(&t, s, &wild), STATUS_SUCCESS);
        wt_close(&t, s);
    }
    CHECK_EQ(openwsk_pool_outstanding_count(WSK_TAG_BIND), 0);
    wt_wsk_close(&t);
}

static void dual_stack_holds_both_stacks(void)
{
    if (!peer_has_ipv6())
        return;
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    USHORT port = peer_free_port();
    SOCKADDR_IN6 any6 = wt_in6("::", port);
    SOCKADDR_IN any4 = wt_in4("0.0.0.0", port);

    PWSK_SOCKET dual = wt_socket(&t, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, dual, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, dual, &any6), STATUS_SUCCESS);
    PWSK_SOCKET v4 = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_bind(&t, v4, &any4), STATUS_ADDRESS_ALREADY_EXISTS);
    wt_close(&t, dual);
    CHECK_EQ(wt_bind(&t, v4, &any4), STATUS_SUCCESS);

    /* The WireGuard pattern: IPv4 on port 0, then a v6-only socket on the same port. */
    PWSK_SOCKET v4b = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    SOCKADDR_IN zero4 = wt_in4("0.0.0.0", 0), got4;
    CHECK_EQ(wt_bind(&t, v4b, &zero4), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, v4b, &got4), STATUS_SUCCESS);
    PWSK_SOCKET v6only = wt_socket(&t, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    SOCKADDR_IN6 same6 = wt_in6("::", port_of(&got4));
    CHECK_EQ(wt_bind(&t, v6only, &same6), STATUS_SUCCESS);
    /* A dual-stack socket on that port now conflicts in both stacks. */
    PWSK_SOCKET dual2 = wt_socket(&t, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, dual2, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, dual2, &same6), STATUS_ADDRESS_ALREADY_EXISTS);
    /* A v4-mapped address on a dual-stack socket is an IPv4 binding. */
    SOCKADDR_IN6 mapped = wt_in6("::ffff:127.0.0.1", port_of(&got4));
    CHECK_EQ(wt_bind(&t, dual2, &mapped), STATUS_ACCESS_DENIED); /* specific after wildcard, default SD */
    wt_close(&t, dual2);
    wt_close(&t, v6only);
    wt_close(&t, v4b);
    wt_close(&t, v4);
    wt_wsk_close(&t);
}

/* The child half of ports_are_exclusive_across_processes. */
static int bind_in_child(int port_pipe)
{
    USHORT port = 0;
    if (read(port_pipe, &port, sizeof(port)) != sizeof(port))
        return 10;
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
    SOCKADDR_IN addr = wt_in4("127.0.0.1", port);
    st = wt_bind(&t, s, &addr);
    wt_close(&t, s);
    wt_wsk_close(&t);
    return st == STATUS_ADDRESS_ALREADY_EXISTS ? 0 : 1;
}

static void ports_are_exclusive_across_processes(void)
{
    /* Sharing rules apply among one process's sockets; a port another
     * openwsk process holds is in use, whatever the options (Linux alone
     * would let two SO_REUSEPORT sockets of the same user share it). */
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork(); /* before this process starts engine threads */
    if (pid == 0) {
        close(fds[1]);
        _exit(bind_in_child(fds[0]));
    }
    close(fds[0]);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &st);
    CHECK_EQ(wt_set_ulong(&t, s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
    SOCKADDR_IN any = wt_in4("127.0.0.1", 0), local;
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = RtlUshortByteSwap(local.sin_port);
    CHECK_EQ(write(fds[1], &port, sizeof(port)), sizeof(port));
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[1]);
    wt_close(&t, s);
    wt_wsk_close(&t);
}

/* ---- two openwsk processes ---- */

/* A child process forked before this one starts engine threads; it waits
 * for a port, runs `fn` on it in its own openwsk instance and exits with
 * its result (0: as expected).  `ready`, if not NULL, receives the read end
 * of a pipe the child may write to while it still runs. */
typedef struct child {
    pid_t pid;
    int port_pipe;   /* parent writes the port */
    int ready_pipe;  /* parent reads the child's progress */
} child;

#define NOBODY 65534

/* uid: the child's uid (NOBODY needs root), or -1 for ours. */
static child child_start_as(int (*fn)(USHORT port, int ready), int uid)
{
    int to_child[2], from_child[2];
    CHECK_EQ(pipe(to_child), 0);
    CHECK_EQ(pipe(from_child), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        if (uid >= 0 && (setgroups(0, NULL) != 0 || setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) != 0 ||
                         setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0))
            _exit(12);
        close(to_child[1]);
        close(from_child[0]);
        USHORT port = 0;
        if (read(to_child[0], &port, sizeof(port)) != sizeof(port))
            _exit(10);
        _exit(fn(port, from_child[1]));
    }
    close(to_child[0]);
    close(from_child[1]);
    return (child){pid, to_child[1], from_child[0]};
}

static child child_start(int (*fn)(USHORT port, int ready))
{
    return child_start_as(fn, -1);
}

/* Whether children of another uid can be started (root only). */
static BOOLEAN other_uid_possible(void)
{
    return geteuid() == 0;
}

static void child_go(child *c, USHORT port)
{
    CHECK_EQ(write(c->port_pipe, &port, sizeof(port)), sizeof(port));
}

static int child_wait(child *c)
{
    int status = -1;
    waitpid(c->pid, &status, 0);
    close(c->port_pipe);
    close(c->ready_pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static USHORT bound_port(wt_wsk *t, PWSK_SOCKET s)
{
    SOCKADDR_STORAGE local;
    CHECK_EQ(wt_local_address(t, s, &local), STATUS_SUCCESS);
    return port_of(&local);
}

static const ULONG cross_categories[] = {WSK_FLAG_DATAGRAM_SOCKET, WSK_FLAG_CONNECTION_SOCKET,
                                         WSK_FLAG_LISTEN_SOCKET};

/* The child half of different_addresses_across_processes: for each
 * category, a socket of every option on 127.0.0.2 binds beside the
 * parent's 127.0.0.1; the wildcard and 127.0.0.1 itself are in use. */
static int bind_beside_parent(USHORT first_port, int ready)
{
    (void)ready;
    int failures = 0;
    wt_wsk t;
    wt_wsk_open(&t);
    for (size_t ci = 0; ci < sizeof(cross_categories) / sizeof(cross_categories[0]); ci++) {
        USHORT port = (USHORT)(first_port + ci);
        SOCKADDR_IN other = wt_in4("127.0.0.2", port), same = wt_in4("127.0.0.1", port),
                    wild = wt_in4("0.0.0.0", port);
        for (int option = NONE; option <= EXCL; option++) {
            PWSK_SOCKET s = open_with(&t, cross_categories[ci], option, FALSE);
            NTSTATUS got = wt_bind(&t, s, &other);
            if (got != STATUS_SUCCESS) {
                fprintf(stderr, "  child: category %lu option %d on 127.0.0.2:%u: 0x%x\n",
                        (unsigned long)cross_categories[ci], option, port, (unsigned)got);
                failures++;
            }
            wt_close(&t, s);
            for (int w = 0; w < 2; w++) {
                s = open_with(&t, cross_categories[ci], option, FALSE);
                got = wt_bind(&t, s, w ? &wild : &same);
                if (got != STATUS_ADDRESS_ALREADY_EXISTS) {
                    fprintf(stderr, "  child: category %lu option %d on %s:%u: 0x%x\n",
                            (unsigned long)cross_categories[ci], option, w ? "0.0.0.0" : "127.0.0.1", port,
                            (unsigned)got);
                    failures++;
                }
                wt_close(&t, s);
            }
        }
    }
    wt_wsk_close(&t);
    return failures == 0 ? 0 : 1;
}

/* Different specific addresses never interact, inside one process, with
 * an outsider, and between two openwsk processes; an overlapping address
 * is in use across processes whatever the options. */
static void different_addresses_across_processes_as(int uid)
{
    child c = child_start_as(bind_beside_parent, uid);
    wt_wsk t;
    wt_wsk_open(&t);
    PWSK_SOCKET held[3];
    USHORT first_port = 0;
    /* Three consecutive ports, one per category, all free. */
    for (int attempt = 0; attempt < 50 && first_port == 0; attempt++) {
        USHORT p = peer_free_port();
        int ok = p < 65530;
        for (size_t ci = 0; ci < 3 && ok; ci++) {
            SOCKADDR_IN one = wt_in4("127.0.0.1", (USHORT)(p + ci));
            held[ci] = open_with(&t, cross_categories[ci], REUSE, FALSE);
            if (wt_bind(&t, held[ci], &one) != STATUS_SUCCESS) {
                for (size_t j = 0; j <= ci; j++)
                    wt_close(&t, held[j]);
                ok = 0;
            }
        }
        if (ok)
            first_port = p;
    }
    if (first_port == 0) {
        /* Loopback ports exhausted (another test churning connections):
         * nothing is held; the child is stopped before it binds. */
        WT_FAIL("no three consecutive free ports in 50 attempts");
        kill(c.pid, SIGKILL);
        child_wait(&c);
        wt_wsk_close(&t);
        return;
    }
    child_go(&c, first_port);
    CHECK_EQ(child_wait(&c), 0);
    for (size_t ci = 0; ci < 3; ci++)
        wt_close(&t, held[ci]);
    wt_wsk_close(&t);
}

/* The other process of our uid, then of another uid (Linux's refusal and
 * the claim do not depend on it). */
static void different_addresses_across_processes(void)
{
    different_addresses_across_processes_as(-1);
    if (other_uid_possible())
        different_addresses_across_processes_as(NOBODY);
    else
        fprintf(stderr, "  (not root: no openwsk process of another uid)\n");
}

/* Two SO_REUSEADDR sockets of the category on 127.0.0.2:port (a share the
 * matrix allows); writes the outcome of the second bind to `ready`, then
 * waits to be killed when `hold` says so. */
static int share_in_child(USHORT port, int ready, ULONG category, BOOLEAN hold)
{
    wt_wsk t;
    wt_wsk_open(&t);
    SOCKADDR_IN two = wt_in4("127.0.0.2", port);
    PWSK_SOCKET a = open_with(&t, category, REUSE, FALSE), b = open_with(&t, category, REUSE, FALSE);
    NTSTATUS first = wt_bind(&t, a, &two);
    NTSTATUS second = wt_bind(&t, b, &two);
    NTSTATUS report[2] = {first, second};
    if (write(ready, report, sizeof(report)) != sizeof(report))
        return 11;
    if (hold)
        for (;;)
            pause(); /* killed: the claim dies with the process */
    wt_close(&t, b);
    wt_close(&t, a);
    wt_wsk_close(&t);
    return 0;
}

static int share_udp_in_child(USHORT port, int ready)
{
    return share_in_child(port, ready, WSK_FLAG_DATAGRAM_SOCKET, FALSE);
}

static int share_udp_and_die(USHORT port, int ready)
{
    return share_in_child(port, ready, WSK_FLAG_DATAGRAM_SOCKET, TRUE);
}

static void child_report(child *c, NTSTATUS report[2])
{
    CHECK_EQ(read(c->ready_pipe, report, 2 * sizeof(NTSTATUS)), (long)(2 * sizeof(NTSTATUS)));
}

/* A process that shares a port with itself holds it among openwsk
 * processes: another one binds beside it on a different address, but
 * cannot make a share of its own on the port meanwhile (Linux could not
 * keep the two apart while both sets of reuse options are on).  The hold
 * ends with the process, even a killed one. */
static void shares_stay_inside_one_process(void)
{
    child c = child_start(share_udp_in_child);
    child other = child_start_as(share_udp_in_child, other_uid_possible() ? NOBODY : -1);
    child dying = child_start(share_udp_and_die);
    child after = child_start(share_udp_in_child);
    wt_wsk t;
    wt_wsk_open(&t);
    USHORT port = 0;
    PWSK_SOCKET a = NULL, b = NULL;
    for (int attempt = 0; attempt < 20 && port == 0; attempt++) {
        SOCKADDR_IN one = wt_in4("127.0.0.1", 0);
        a = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, REUSE, FALSE);
        CHECK_EQ(wt_bind(&t, a, &one), STATUS_SUCCESS);
        USHORT p = bound_port(&t, a);
        SOCKADDR_IN same = wt_in4("127.0.0.1", p);
        b = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, REUSE, FALSE);
        if (wt_bind(&t, b, &same) == STATUS_SUCCESS) {
            port = p;
        } else {
            wt_close(&t, b);
            wt_close(&t, a);
        }
    }
    CHECK(port != 0);
    NTSTATUS report[2];
    child_go(&c, port);
    child_report(&c, report);
    CHECK_EQ(report[0], STATUS_SUCCESS);                /* a different address */
    CHECK_EQ(report[1], STATUS_ADDRESS_ALREADY_EXISTS); /* its own share: refused */
    CHECK_EQ(child_wait(&c), 0);
    child_go(&other, port); /* of another uid when root */
    child_report(&other, report);
    CHECK_EQ(report[0], STATUS_SUCCESS);
    CHECK_EQ(report[1], STATUS_ADDRESS_ALREADY_EXISTS);
    CHECK_EQ(child_wait(&other), 0);
    wt_close(&t, b);
    wt_close(&t, a);

    /* The other way round, with a holder that is killed: the port opens. */
    child_go(&dying, port);
    child_report(&dying, report);
    CHECK_EQ(report[0], STATUS_SUCCESS);
    CHECK_EQ(report[1], STATUS_SUCCESS);
    SOCKADDR_IN one = wt_in4("127.0.0.1", port);
    a = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, REUSE, FALSE);
    b = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, REUSE, FALSE);
    CHECK_EQ(wt_bind(&t, a, &one), STATUS_SUCCESS);
    CHECK_EQ(wt_bind(&t, b, &one), STATUS_ADDRESS_ALREADY_EXISTS); /* the child's share holds it */
    wt_close(&t, b);
    kill(dying.pid, SIGKILL);
    CHECK_EQ(child_wait(&dying), 100 + SIGKILL);
    b = open_with(&t, WSK_FLAG_DATAGRAM_SOCKET, REUSE, FALSE);
    CHECK_EQ(wt_bind(&t, b, &one), STATUS_SUCCESS); /* no stale hold */
    wt_close(&t, b);
    wt_close(&t, a);
    /* Closing the sockets ends the hold too. */
    child_go(&after, port);
    child_report(&after, report);
    CHECK_EQ(report[0], STATUS_SUCCESS);
    CHECK_EQ(report[1], STATUS_SUCCESS);
    CHECK_EQ(child_wait(&after), 0);
    wt_wsk_close(&t);
}

static void port_zero_gives_distinct_ports(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    PWSK_SOCKET s[8];
    USHORT ports[8];
    for (int i = 0; i < 8; i++) {
        NTSTATUS st;
        s[i] = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &st);
        SOCKADDR_IN any = wt_in4("0.0.0.0", 0), local;
        CHECK_EQ(wt_bind(&t, s[i], &any), STATUS_SUCCESS);
        CHECK_EQ(wt_local_address(&t, s[i], &local), STATUS_SUCCESS);
        ports[i] = port_of(&local);
        for (int j = 0; j < i; j++)
            CHECK(ports[j] != ports[i]);
    }
    for (int i = 0; i < 8; i++)
        wt_close(&t, s[i]);
    wt_wsk_close(&t);
}

/* Linux hands out its ephemeral ports in long runs, and TIME_WAIT holds
 * them a minute: port 0 must get past a run of busy ports longer than its
 * bound on tries. */
static void port_zero_escapes_a_long_run_of_busy_ports(void)
{
    enum { RUN = 1100, START = 60000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < RUN + 256 && rl.rlim_max >= RUN + 256) {
        rl.rlim_cur = RUN + 256;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < RUN + 256) {
        fprintf(stderr, "  (descriptor limit too low for this case)\n");
        return;
    }
    static int fds[RUN];
    for (int i = 0; i < RUN; i++) /* a port someone else holds is busy anyway */
        fds[i] = peer_tcp_listen(4, "127.0.0.1", (unsigned short)(START + i));
    wsk_bind_registry_set_port_hint(START);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &st);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), local;
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    CHECK_EQ(wt_local_address(&t, s, &local), STATUS_SUCCESS);
    USHORT port = port_of(&local);
    CHECK(port >= 49152 && (port < START || port >= START + RUN));
    wt_close(&t, s);
    wt_wsk_close(&t);
    wsk_bind_registry_set_port_hint(0);
    for (int i = 0; i < RUN; i++)
        if (fds[i] >= 0)
            peer_close(fds[i]);
}

int main(void)
{
    WT_RUN(listen_bind_starts_listening);
    WT_RUN(ipv6_sockets_are_v6only_until_told);
    WT_RUN(datagram_bind_receives_from_linux);
    WT_RUN(connection_bind_fixes_the_port);
    WT_RUN(bad_bind_inputs);
    WT_RUN(port_held_outside_openwsk);
    WT_RUN(privileged_port_without_capability);
    WT_RUN(sharing_matrix_tcp);
    WT_RUN(sharing_matrix_tcp_listeners);
    WT_RUN(sharing_matrix_udp);
    WT_RUN(different_specific_addresses_never_conflict);
    WT_RUN(explicit_security_descriptor_grants_the_check);
    WT_RUN(closing_releases_the_address);
    WT_RUN(dual_stack_holds_both_stacks);
    WT_RUN(port_zero_gives_distinct_ports);
    WT_RUN(port_zero_escapes_a_long_run_of_busy_ports);
    WT_RUN(ports_are_exclusive_across_processes);
    WT_RUN(different_addresses_across_processes);
    WT_RUN(shares_stay_inside_one_process);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
