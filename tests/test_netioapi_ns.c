/*
 * test_netioapi_ns.c - the IP Helper watching real changes, in a network
 * namespace of its own (unshare(CLONE_NEWNET) before any thread starts):
 * a veth pair is created (its peer up), brought up, given 198.18.0.1/24 and a
 * route to 198.19.0.0/16, then taken down and removed, with `ip` from
 * iproute2.  The test checks the callbacks each change brings
 * (MibAddInstance, MibParameterNotification, MibDeleteInstance with the
 * right rows, MibInitialNotification first) and the tables between
 * changes (GetUnicastIpAddressTable, GetIpForwardTable2, GetBestRoute2).
 * Only addresses of the 198.18.0.0/15 benchmarking range are used, and
 * only inside the namespace.  Exits 77 (skipped) without root or
 * namespaces.
 */
#define _GNU_SOURCE
#include <ntddk.h>
#include <netioapi.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "wt.h"

#define NETIO_TAG 'oiTN'
#define IF_NAME "owsk0"
#define PEER_NAME "owsk1"

enum event_kind { EV_IPIF, EV_UNICAST, EV_ROUTE };

struct event {
    enum event_kind kind;
    MIB_NOTIFICATION_TYPE type;
    BOOLEAN has_row;
    BOOLEAN passive;
    union {
        MIB_IPINTERFACE_ROW ipif;
        MIB_UNICASTIPADDRESS_ROW unicast;
        MIB_IPFORWARD_ROW2 route;
    } row;
};

#define MAX_EVENTS 1024
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct event events[MAX_EVENTS];
    int count;
} log_ = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void record(enum event_kind kind, const void *row, size_t size, MIB_NOTIFICATION_TYPE type)
{
    pthread_mutex_lock(&log_.lock);
    if (log_.count < MAX_EVENTS) {
        struct event *e = &log_.events[log_.count++];
        memset(e, 0, sizeof *e);
        e->kind = kind;
        e->type = type;
        e->has_row = row != NULL;
        e->passive = KeGetCurrentIrql() == PASSIVE_LEVEL;
        if (row)
            memcpy(&e->row, row, size);
        pthread_cond_broadcast(&log_.changed);
    }
    pthread_mutex_unlock(&log_.lock);
}

static VOID NTAPI on_ipif(PVOID ctx, PMIB_IPINTERFACE_ROW row, MIB_NOTIFICATION_TYPE type)
{
    record(EV_IPIF, row, sizeof *row, type);
}

static VOID NTAPI on_unicast(PVOID ctx, PMIB_UNICASTIPADDRESS_ROW row, MIB_NOTIFICATION_TYPE type)
{
    record(EV_UNICAST, row, sizeof *row, type);
}

static VOID NTAPI on_route(PVOID ctx, PMIB_IPFORWARD_ROW2 row, MIB_NOTIFICATION_TYPE type)
{
    record(EV_ROUTE, row, sizeof *row, type);
}

static int log_mark(void)
{
    pthread_mutex_lock(&log_.lock);
    int n = log_.count;
    pthread_mutex_unlock(&log_.lock);
    return n;
}

typedef int (*event_match)(const struct event *e, const void *arg);

/* Waits up to 5 s for an event from index `from` on that matches; returns
 * a copy in *out.  1 if found. */
static int wait_event(int from, event_match match, const void *arg, struct event *out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    int found = 0;
    pthread_mutex_lock(&log_.lock);
    for (;;) {
        for (int i = from; i < log_.count && !found; i++) {
            if (match(&log_.events[i], arg)) {
                *out = log_.events[i];
                found = 1;
            }
        }
        if (found || pthread_cond_timedwait(&log_.changed, &log_.lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (!found)
        for (int i = from; i < log_.count && !found; i++)
            if (match(&log_.events[i], arg)) {
                *out = log_.events[i];
                found = 1;
            }
    pthread_mutex_unlock(&log_.lock);
    return found;
}

static int run(const char *command)
{
    int rc = system(command);
    if (rc != 0)
        WT_FAIL("`%s` exited with %d", command, rc);
    return rc;
}

static ULONG ipv4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return RtlUlongByteSwap((a << 24) | (b << 16) | (c << 8) | d);
}

static NET_IFINDEX if_index_named(const char *name)
{
    PMIB_IF_TABLE2 table = NULL;
    NET_IFINDEX index = 0;
    if (GetIfTable2(&table) != STATUS_SUCCESS)
        return 0;
    for (ULONG i = 0; i < table->NumEntries; i++) {
        const WCHAR *alias = table->Table[i].Alias;
        size_t n = 0;
        while (name[n] && alias[n] == (WCHAR)name[n])
            n++;
        if (!name[n] && !alias[n])
            index = table->Table[i].InterfaceIndex;
    }
    FreeMibTable(table);
    return index;
}

/* ---- matchers ---- */

struct want {
    enum event_kind kind;
    MIB_NOTIFICATION_TYPE type;
    NET_IFINDEX index;
    ULONG addr;          /* unicast address or route prefix */
    UINT8 prefix_length;
    int connected;       /* ipif: -1 = any */
};

static int match_want(const struct event *e, const void *arg)
{
    const struct want *w = arg;
    if (e->kind != w->kind || e->type != w->type || !e->has_row)
        return 0;
    switch (e->kind) {
    case EV_IPIF:
        return e->row.ipif.InterfaceIndex == w->index && e->row.ipif.Family == AF_INET &&
               (w->connected < 0 || e->row.ipif.Connected == (BOOLEAN)w->connected);
    case EV_UNICAST:
        return e->row.unicast.InterfaceIndex == w->index &&
               e->row.unicast.Address.Ipv4.sin_addr.s_addr == w->addr;
    case EV_ROUTE:
        return e->row.route.InterfaceIndex == w->index &&
               e->row.route.DestinationPrefix.Prefix.Ipv4.sin_addr.s_addr == w->addr &&
               e->row.route.DestinationPrefix.PrefixLength == w->prefix_length;
    }
    return 0;
}

static int match_initial(const struct event *e, const void *arg)
{
    return e->kind == *(const enum event_kind *)arg && e->type == MibInitialNotification;
}

static const struct event *first_event_of(enum event_kind kind)
{
    for (int i = 0; i < log_.count; i++)
        if (log_.events[i].kind == kind)
            return &log_.events[i];
    return NULL;
}

static HANDLE ipif_handle, unicast_handle, route_handle, unicast6_handle;

static void test_register(void)
{
    CHECK_EQ(NotifyIpInterfaceChange(AF_INET, on_ipif, NULL, FALSE, &ipif_handle), STATUS_SUCCESS);
    CHECK_EQ(NotifyUnicastIpAddressChange(AF_INET, on_unicast, NULL, TRUE, &unicast_handle),
             STATUS_SUCCESS);
    CHECK_EQ(NotifyRouteChange2(AF_INET, on_route, NULL, TRUE, &route_handle), STATUS_SUCCESS);
    CHECK_EQ(NotifyUnicastIpAddressChange(AF_INET6, on_unicast, NULL, FALSE, &unicast6_handle),
             STATUS_SUCCESS);
    struct event e;
    enum event_kind kinds[2] = {EV_UNICAST, EV_ROUTE};
    for (int i = 0; i < 2; i++) {
        CHECK(wait_event(0, match_initial, &kinds[i], &e));
        CHECK(!e.has_row);
        pthread_mutex_lock(&log_.lock);
        const struct event *first = first_event_of(kinds[i]);
        CHECK(first && first->type == MibInitialNotification);
        pthread_mutex_unlock(&log_.lock);
    }
}

static NET_IFINDEX dummy; /* the veth end the test configures */

static void test_interface_add_and_up(void)
{
    int mark = log_mark();
    if (run("ip link add " IF_NAME " type veth peer name " PEER_NAME " && ip link set " PEER_NAME " up"))
        return;
    dummy = if_index_named(IF_NAME);
    CHECK(dummy != 0);
    struct event e;
    struct want added = {EV_IPIF, MibAddInstance, dummy, 0, 0, -1};
    CHECK(wait_event(mark, match_want, &added, &e));
    CHECK_EQ(e.passive, TRUE);
    CHECK_EQ(e.row.ipif.InterfaceLuid.Info.IfType, IF_TYPE_ETHERNET_CSMACD);
    CHECK_EQ(e.row.ipif.Connected, FALSE);

    MIB_IF_ROW2 row;
    memset(&row, 0, sizeof row);
    row.InterfaceIndex = dummy;
    CHECK_EQ(GetIfEntry2(&row), STATUS_SUCCESS);
    CHECK_EQ(row.Type, IF_TYPE_ETHERNET_CSMACD);
    CHECK_EQ(row.AdminStatus, NET_IF_ADMIN_STATUS_DOWN);
    CHECK_EQ(row.OperStatus, IfOperStatusDown);
    CHECK_EQ(row.PhysicalAddressLength, 6);

    mark = log_mark();
    if (run("ip link set " IF_NAME " up"))
        return;
    struct want up = {EV_IPIF, MibParameterNotification, dummy, 0, 0, TRUE};
    CHECK(wait_event(mark, match_want, &up, &e));
    CHECK_EQ(GetIfEntry2(&row), STATUS_SUCCESS);
    CHECK_EQ(row.AdminStatus, NET_IF_ADMIN_STATUS_UP);
    CHECK_EQ(row.OperStatus, IfOperStatusUp);
    MIB_IPINTERFACE_ROW ipif;
    InitializeIpInterfaceEntry(&ipif);
    ipif.Family = AF_INET;
    ipif.InterfaceLuid = row.InterfaceLuid;
    CHECK_EQ(GetIpInterfaceEntry(&ipif), STATUS_SUCCESS);
    CHECK_EQ(ipif.InterfaceIndex, dummy);
    CHECK_EQ(ipif.Connected, TRUE);
}

static int match_link_local(const struct event *e, const void *arg)
{
    const MIB_UNICASTIPADDRESS_ROW *r = &e->row.unicast;
    return e->kind == EV_UNICAST && e->type == MibAddInstance && e->has_row &&
           r->Address.si_family == AF_INET6 && r->InterfaceIndex == *(const NET_IFINDEX *)arg &&
           r->Address.Ipv6.sin6_addr.u.Byte[0] == 0xfe && (r->Address.Ipv6.sin6_addr.u.Byte[1] & 0xc0) == 0x80;
}

/* The IPv6 side: the link-local address Linux gives a link going up. */
static void test_ipv6_link_local(void)
{
    MIB_IPINTERFACE_ROW ipif;
    InitializeIpInterfaceEntry(&ipif);
    ipif.Family = AF_INET6;
    ipif.InterfaceIndex = dummy;
    if (GetIpInterfaceEntry(&ipif) == STATUS_NOT_FOUND) {
        printf("IPv6 disabled on the link: IPv6 checks not run\n");
        return;
    }
    CHECK_EQ(ipif.InterfaceLuid.Info.IfType, IF_TYPE_ETHERNET_CSMACD);
    struct event e;
    CHECK(wait_event(0, match_link_local, &dummy, &e));
    const MIB_UNICASTIPADDRESS_ROW *r = &e.row.unicast;
    CHECK_EQ(r->ScopeId.Value, dummy);
    CHECK_EQ(r->Address.Ipv6.sin6_scope_id, dummy);
    CHECK_EQ(r->OnLinkPrefixLength, 64);
    CHECK_EQ(r->PrefixOrigin, IpPrefixOriginWellKnown);
    CHECK_EQ(r->SuffixOrigin, IpSuffixOriginLinkLayerAddress);

    MIB_UNICASTIPADDRESS_ROW entry;
    InitializeUnicastIpAddressEntry(&entry);
    entry.Address = r->Address;
    entry.InterfaceLuid = r->InterfaceLuid;
    CHECK_EQ(GetUnicastIpAddressEntry(&entry), STATUS_SUCCESS);
    CHECK_EQ(entry.InterfaceIndex, dummy);

    /* fe80::/64 through the link, in the IPv6 routing table. */
    PMIB_IPFORWARD_TABLE2 table = NULL;
    CHECK_EQ(GetIpForwardTable2(AF_INET6, &table), STATUS_SUCCESS);
    int found = 0;
    for (ULONG i = 0; table && i < table->NumEntries; i++) {
        const MIB_IPFORWARD_ROW2 *row = &table->Table[i];
        CHECK_EQ(row->DestinationPrefix.Prefix.si_family, AF_INET6);
        if (row->InterfaceIndex == dummy && row->DestinationPrefix.PrefixLength == 64 &&
            row->DestinationPrefix.Prefix.Ipv6.sin6_addr.u.Byte[0] == 0xfe)
            found++;
    }
    CHECK_EQ(found, 1);
    FreeMibTable(table);
}

static void test_address_add(void)
{
    int mark = log_mark();
    if (run("ip addr add 198.18.0.1/24 dev " IF_NAME))
        return;
    struct event e;
    struct want added = {EV_UNICAST, MibAddInstance, dummy, ipv4(198, 18, 0, 1), 0, -1};
    CHECK(wait_event(mark, match_want, &added, &e));
    CHECK_EQ(e.passive, TRUE);
    CHECK_EQ(e.row.unicast.OnLinkPrefixLength, 24);
    CHECK_EQ(e.row.unicast.Address.si_family, AF_INET);
    CHECK_EQ(e.row.unicast.InterfaceLuid.Info.IfType, IF_TYPE_ETHERNET_CSMACD);
    /* The stack's own routes for the address: the subnet and the host. */
    struct want subnet = {EV_ROUTE, MibAddInstance, dummy, ipv4(198, 18, 0, 0), 24, -1};
    CHECK(wait_event(mark, match_want, &subnet, &e));
    CHECK_EQ(e.row.route.Protocol, MIB_IPPROTO_LOCAL);
    CHECK_EQ(e.row.route.NextHop.Ipv4.sin_addr.s_addr, 0);
    struct want host = {EV_ROUTE, MibAddInstance, dummy, ipv4(198, 18, 0, 1), 32, -1};
    CHECK(wait_event(mark, match_want, &host, &e));
    CHECK_EQ(e.row.route.Loopback, TRUE);

    PMIB_UNICASTIPADDRESS_TABLE table = NULL;
    CHECK_EQ(GetUnicastIpAddressTable(AF_UNSPEC, &table), STATUS_SUCCESS);
    int found = 0;
    for (ULONG i = 0; table && i < table->NumEntries; i++) {
        const MIB_UNICASTIPADDRESS_ROW *row = &table->Table[i];
        if (row->Address.si_family != AF_INET || row->Address.Ipv4.sin_addr.s_addr != ipv4(198, 18, 0, 1))
            continue;
        found++;
        CHECK_EQ(row->InterfaceIndex, dummy);
        CHECK_EQ(row->OnLinkPrefixLength, 24);
        CHECK_EQ(row->PrefixOrigin, IpPrefixOriginManual);
        CHECK_EQ(row->SuffixOrigin, IpSuffixOriginManual);
        CHECK_EQ(row->DadState, IpDadStatePreferred);
    }
    CHECK_EQ(found, 1);
    FreeMibTable(table);
}

static void test_route_add_and_best_route(void)
{
    SOCKADDR_INET dst, src;
    MIB_IPFORWARD_ROW2 best;
    memset(&dst, 0, sizeof dst);
    dst.Ipv4.sin_family = AF_INET;
    dst.Ipv4.sin_addr.s_addr = ipv4(198, 19, 5, 5);
    /* No default route in the namespace yet. */
    CHECK_EQ(GetBestRoute2(NULL, 0, NULL, &dst, 0, &best, &src), STATUS_NETWORK_UNREACHABLE);

    int mark = log_mark();
    if (run("ip route add 198.19.0.0/16 via 198.18.0.2 dev " IF_NAME " metric 7"))
        return;
    struct event e;
    struct want added = {EV_ROUTE, MibAddInstance, dummy, ipv4(198, 19, 0, 0), 16, -1};
    CHECK(wait_event(mark, match_want, &added, &e));
    CHECK_EQ(e.row.route.NextHop.Ipv4.sin_addr.s_addr, ipv4(198, 18, 0, 2));
    CHECK_EQ(e.row.route.Metric, 7);
    CHECK_EQ(e.row.route.Protocol, MIB_IPPROTO_NETMGMT);

    PMIB_IPFORWARD_TABLE2 table = NULL;
    CHECK_EQ(GetIpForwardTable2(AF_INET, &table), STATUS_SUCCESS);
    int found = 0;
    for (ULONG i = 0; table && i < table->NumEntries; i++) {
        const MIB_IPFORWARD_ROW2 *row = &table->Table[i];
        if (row->DestinationPrefix.Prefix.Ipv4.sin_addr.s_addr == ipv4(198, 19, 0, 0) &&
            row->DestinationPrefix.PrefixLength == 16) {
            found++;
            CHECK_EQ(row->InterfaceIndex, dummy);
            CHECK_EQ(row->NextHop.Ipv4.sin_addr.s_addr, ipv4(198, 18, 0, 2));
            CHECK_EQ(row->Metric, 7);
            CHECK_EQ(row->Loopback, FALSE);
        }
    }
    CHECK_EQ(found, 1);
    FreeMibTable(table);

    memset(&best, 0, sizeof best);
    CHECK_EQ(GetBestRoute2(NULL, 0, NULL, &dst, 0, &best, &src), STATUS_SUCCESS);
    CHECK_EQ(best.InterfaceIndex, dummy);
    CHECK_EQ(best.DestinationPrefix.PrefixLength, 16);
    CHECK_EQ(best.DestinationPrefix.Prefix.Ipv4.sin_addr.s_addr, ipv4(198, 19, 0, 0));
    CHECK_EQ(best.NextHop.Ipv4.sin_addr.s_addr, ipv4(198, 18, 0, 2));
    CHECK_EQ(src.si_family, AF_INET);
    CHECK_EQ(src.Ipv4.sin_addr.s_addr, ipv4(198, 18, 0, 1));

    /* On the subnet itself: the on-link route, no next hop. */
    dst.Ipv4.sin_addr.s_addr = ipv4(198, 18, 0, 9);
    CHECK_EQ(GetBestRoute2(&best.InterfaceLuid, 0, NULL, &dst, 0, &best, &src), STATUS_SUCCESS);
    CHECK_EQ(best.DestinationPrefix.PrefixLength, 24);
    CHECK_EQ(best.NextHop.si_family, AF_INET);
    CHECK_EQ(best.NextHop.Ipv4.sin_addr.s_addr, 0);
}

static void test_down_and_removal(void)
{
    int mark = log_mark();
    if (run("ip link set " IF_NAME " down"))
        return;
    struct event e;
    struct want down = {EV_IPIF, MibParameterNotification, dummy, 0, 0, FALSE};
    CHECK(wait_event(mark, match_want, &down, &e));
    /* Linux drops the routes through a link that goes down. */
    struct want gone = {EV_ROUTE, MibDeleteInstance, dummy, ipv4(198, 19, 0, 0), 16, -1};
    CHECK(wait_event(mark, match_want, &gone, &e));

    mark = log_mark();
    if (run("ip addr del 198.18.0.1/24 dev " IF_NAME))
        return;
    struct want removed = {EV_UNICAST, MibDeleteInstance, dummy, ipv4(198, 18, 0, 1), 0, -1};
    CHECK(wait_event(mark, match_want, &removed, &e));
    CHECK_EQ(e.row.unicast.OnLinkPrefixLength, 24);

    mark = log_mark();
    if (run("ip link del " IF_NAME))
        return;
    struct want deleted = {EV_IPIF, MibDeleteInstance, dummy, 0, 0, -1};
    CHECK(wait_event(mark, match_want, &deleted, &e));
    MIB_IF_ROW2 row;
    memset(&row, 0, sizeof row);
    row.InterfaceIndex = dummy;
    CHECK_EQ(GetIfEntry2(&row), STATUS_NOT_FOUND);
}

static void test_cancel(void)
{
    CHECK_EQ(CancelMibChangeNotify2(ipif_handle), STATUS_SUCCESS);
    CHECK_EQ(CancelMibChangeNotify2(unicast_handle), STATUS_SUCCESS);
    CHECK_EQ(CancelMibChangeNotify2(route_handle), STATUS_SUCCESS);
    CHECK_EQ(CancelMibChangeNotify2(unicast6_handle), STATUS_SUCCESS);
    /* Nothing arrives after the cancels returned. */
    int mark = log_mark();
    run("ip link add " IF_NAME " type veth peer name " PEER_NAME " && ip link del " IF_NAME);
    usleep(100 * 1000);
    CHECK_EQ(log_mark(), mark);
    pthread_mutex_lock(&log_.lock);
    for (int i = 0; i < log_.count; i++)
        CHECK_EQ(log_.events[i].passive, TRUE);
    pthread_mutex_unlock(&log_.lock);
    CHECK_EQ(openwsk_pool_outstanding_count(NETIO_TAG), 0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("not root: skipped\n");
        return 77;
    }
    /* Before any thread: the namespace is the calling thread's, and every
     * thread and child started later inherits it. */
    if (unshare(CLONE_NEWNET) != 0) {
        printf("unshare(CLONE_NEWNET): %s: skipped\n", strerror(errno));
        return 77;
    }
    if (system("ip link set lo up") != 0) {
        printf("no working `ip` (iproute2): skipped\n");
        return 77;
    }
    WT_RUN(test_register);
    WT_RUN(test_interface_add_and_up);
    WT_RUN(test_ipv6_link_local);
    WT_RUN(test_address_add);
    WT_RUN(test_route_add_and_best_route);
    WT_RUN(test_down_and_removal);
    WT_RUN(test_cancel);
    return wt_finish();
}
