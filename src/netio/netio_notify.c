/*
 * netio_notify.c - NotifyIpInterfaceChange, NotifyUnicastIpAddressChange,
 * NotifyRouteChange2 and CancelMibChangeNotify2.
 *
 * Each registration owns a netlink socket joined to the rtnetlink multicast
 * groups of its kind (links, IPv4/IPv6 addresses, IPv4/IPv6 routes) and a
 * provider thread that calls the driver's callback, at PASSIVE_LEVEL, one
 * call at a time: MibInitialNotification first (Row NULL) when asked, then
 * MibAddInstance / MibParameterNotification / MibDeleteInstance with the
 * row.  Route registrations also compare their routes with the table after
 * link and address changes, since Linux drops IPv4 routes through a link
 * that goes down without a message.  The socket joins its groups before the registration returns, so no
 * change after the call is missed.  CancelMibChangeNotify2 waits for a
 * running callback to return; after it returns no callback runs
 * ("CancelMibChangeNotify2 function", Remarks: the caller must not be the
 * callback's own thread — here that case does not deadlock, see
 * docs/decisions.md).
 */
#include "netio/netio_internal.h"

#include "kernel/ke_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NOTIFY_MAGIC 0x4e6f7469u /* "Noti" */

enum notify_kind { NOTIFY_IPINTERFACE, NOTIFY_UNICAST, NOTIFY_ROUTE };

/* What the registration has reported as present (to tell an added
 * instance from a changed one: rtnetlink sends RTM_NEW* for both). */
struct known_instance {
    int index;
    int family;
    unsigned char addr[16];
};

struct netio_notify {
    ULONG magic;
    enum notify_kind kind;
    int family; /* 0, 4 or 6 */
    PVOID callback;
    PVOID context;
    BOOLEAN initial;
    int fd;
    int wake_fd;
    pthread_t thread;
    int stop;          /* __atomic */
    int self_cancelled; /* cancelled by its own callback: the thread frees */
    struct netio_link_map map;
    struct known_instance *known;
    unsigned known_count, known_capacity;
    /* NOTIFY_ROUTE: the routes reported as present, and whether a link or
     * address change asks for a comparison with the table (Linux removes
     * IPv4 routes through a link going down without RTM_DELROUTE). */
    struct nl_route *routes;
    unsigned route_count, route_capacity;
    int resync;
};

static BOOLEAN stopping(struct netio_notify *n)
{
    return __atomic_load_n(&n->stop, __ATOMIC_ACQUIRE) != 0;
}

static void deliver(struct netio_notify *n, PVOID row, MIB_NOTIFICATION_TYPE type)
{
    if (stopping(n))
        return;
    switch (n->kind) {
    case NOTIFY_IPINTERFACE:
        ((PIPINTERFACE_CHANGE_CALLBACK)n->callback)(n->context, row, type);
        break;
    case NOTIFY_UNICAST:
        ((PUNICAST_IPADDRESS_CHANGE_CALLBACK)n->callback)(n->context, row, type);
        break;
    case NOTIFY_ROUTE:
        ((PIPFORWARD_CHANGE_CALLBACK)n->callback)(n->context, row, type);
        break;
    }
}

/* ---- known instances ---- */

static struct known_instance *known_find(struct netio_notify *n, int index, int family,
                                         const unsigned char *addr)
{
    for (unsigned i = 0; i < n->known_count; i++) {
        struct known_instance *k = &n->known[i];
        if (k->index == index && k->family == family && (!addr || memcmp(k->addr, addr, 16) == 0))
            return k;
    }
    return NULL;
}

static void known_add(struct netio_notify *n, int index, int family, const unsigned char *addr)
{
    if (n->known_count == n->known_capacity) {
        unsigned capacity = n->known_capacity ? n->known_capacity * 2 : 16;
        void *grown = realloc(n->known, capacity * sizeof *n->known);
        if (!grown)
            return;
        n->known = grown;
        n->known_capacity = capacity;
    }
    struct known_instance *k = &n->known[n->known_count++];
    memset(k, 0, sizeof *k);
    k->index = index;
    k->family = family;
    if (addr)
        memcpy(k->addr, addr, 16);
}

static void known_remove(struct netio_notify *n, struct known_instance *k)
{
    *k = n->known[--n->known_count];
}

static BOOLEAN same_route(const struct nl_route *a, const struct nl_route *b)
{
    return a->family == b->family && a->table == b->table && a->type == b->type &&
           a->dst_len == b->dst_len && a->oif == b->oif && a->priority == b->priority &&
           a->has_gateway == b->has_gateway && memcmp(a->dst, b->dst, 16) == 0 &&
           memcmp(a->gateway, b->gateway, 16) == 0;
}

static struct nl_route *route_find(struct nl_route *routes, unsigned count, const struct nl_route *r)
{
    for (unsigned i = 0; i < count; i++)
        if (same_route(&routes[i], r))
            return &routes[i];
    return NULL;
}

static int route_add(void *ctx, const struct nl_route *route)
{
    struct netio_notify *n = ctx;
    if (n->route_count == n->route_capacity) {
        unsigned capacity = n->route_capacity ? n->route_capacity * 2 : 16;
        void *grown = realloc(n->routes, capacity * sizeof *n->routes);
        if (!grown)
            return 0;
        n->routes = grown;
        n->route_capacity = capacity;
    }
    n->routes[n->route_count++] = *route;
    return 0;
}

static BOOLEAN wanted_family(const struct netio_notify *n, int family)
{
    return n->family == 0 || n->family == family;
}

static NET_LUID luid_of(struct netio_notify *n, int index)
{
    int type = netio_link_map_type(&n->map, index);
    return netio_luid(index, type < 0 ? 0 : (unsigned)type);
}

/* ---- events ---- */

static void on_link(void *ctx, enum nl_change change, const struct nl_link *link)
{
    struct netio_notify *n = ctx;
    netio_link_map_set(&n->map, link->index, link->arptype);
    if (n->kind == NOTIFY_ROUTE)
        n->resync = 1;
    if (n->kind != NOTIFY_IPINTERFACE)
        return;
    for (int family = 4; family <= 6; family += 2) {
        if (!wanted_family(n, family))
            continue;
        BOOLEAN present = change != NL_CHANGE_DELETE && (family == 4 || link->has_ipv6);
        struct known_instance *k = known_find(n, link->index, family, NULL);
        MIB_IPINTERFACE_ROW row;
        netio_ipinterface_row(link, family, &row);
        if (present && !k) {
            known_add(n, link->index, family, NULL);
            deliver(n, &row, MibAddInstance);
        } else if (present) {
            deliver(n, &row, MibParameterNotification);
        } else if (k) {
            known_remove(n, k);
            deliver(n, &row, MibDeleteInstance);
        }
    }
}

static void on_addr(void *ctx, enum nl_change change, const struct nl_addr *addr)
{
    struct netio_notify *n = ctx;
    if (n->kind == NOTIFY_ROUTE && change == NL_CHANGE_DELETE)
        n->resync = 1;
    if (n->kind != NOTIFY_UNICAST || !wanted_family(n, addr->family))
        return;
    MIB_UNICASTIPADDRESS_ROW row;
    netio_unicast_row(addr, luid_of(n, addr->index), &row);
    struct known_instance *k = known_find(n, addr->index, addr->family, addr->addr);
    if (change == NL_CHANGE_DELETE) {
        if (k)
            known_remove(n, k);
        deliver(n, &row, MibDeleteInstance);
    } else if (k) {
        deliver(n, &row, MibParameterNotification);
    } else {
        known_add(n, addr->index, addr->family, addr->addr);
        deliver(n, &row, MibAddInstance);
    }
}

static void on_route(void *ctx, enum nl_change change, const struct nl_route *route)
{
    struct netio_notify *n = ctx;
    if (n->kind != NOTIFY_ROUTE || !wanted_family(n, route->family))
        return;
    MIB_IPFORWARD_ROW2 row;
    netio_forward_row(route, luid_of(n, route->oif), &row);
    struct nl_route *known = route_find(n->routes, n->route_count, route);
    if (change == NL_CHANGE_DELETE) {
        if (known)
            *known = n->routes[--n->route_count];
        deliver(n, &row, MibDeleteInstance);
        return;
    }
    if (!known)
        route_add(n, route);
    deliver(n, &row, known || change == NL_CHANGE_REPLACE ? MibParameterNotification : MibAddInstance);
}

/* Compares the reported routes with the table: what went silently is
 * reported deleted, what came silently added. */
static void route_resync(struct netio_notify *n)
{
    struct netio_notify now = {.family = n->family};
    if (nl_dump_routes(n->family, route_add, &now) < 0) {
        free(now.routes);
        return;
    }
    MIB_IPFORWARD_ROW2 row;
    for (unsigned i = 0; i < n->route_count;) {
        if (route_find(now.routes, now.route_count, &n->routes[i])) {
            i++;
            continue;
        }
        struct nl_route gone = n->routes[i];
        n->routes[i] = n->routes[--n->route_count];
        netio_forward_row(&gone, luid_of(n, gone.oif), &row);
        deliver(n, &row, MibDeleteInstance);
    }
    for (unsigned i = 0; i < now.route_count; i++) {
        if (route_find(n->routes, n->route_count, &now.routes[i]))
            continue;
        route_add(n, &now.routes[i]);
        netio_forward_row(&now.routes[i], luid_of(n, now.routes[i].oif), &row);
        deliver(n, &row, MibAddInstance);
    }
    free(now.routes);
}

/* ---- registration ---- */

static int seed_link(void *ctx, const struct nl_link *link)
{
    struct netio_notify *n = ctx;
    netio_link_map_set(&n->map, link->index, link->arptype);
    if (n->kind == NOTIFY_IPINTERFACE)
        for (int family = 4; family <= 6; family += 2)
            if (wanted_family(n, family) && (family == 4 || link->has_ipv6))
                known_add(n, link->index, family, NULL);
    return 0;
}

static int seed_addr(void *ctx, const struct nl_addr *addr)
{
    struct netio_notify *n = ctx;
    if (wanted_family(n, addr->family))
        known_add(n, addr->index, addr->family, addr->addr);
    return 0;
}

static void notify_free(struct netio_notify *n)
{
    nl_fd_close(n->fd);
    nl_fd_close(n->wake_fd);
    netio_link_map_free(&n->map);
    free(n->known);
    free(n->routes);
    n->magic = 0;
    openwsk_pool_free(n);
}

static void *notify_thread(void *arg)
{
    struct netio_notify *n = arg;
    if (n->initial)
        deliver(n, NULL, MibInitialNotification);
    const struct nl_watch_sink sink = {.ctx = n, .link = on_link, .addr = on_addr, .route = on_route};
    while (!stopping(n)) {
        if (nl_watch_wait(n->fd, n->wake_fd, -1))
            break;
        /* -ENOBUFS: the socket overflowed and changes were lost.  Route
         * registrations recover by comparing with the table; the others
         * go on with the next changes. */
        if (nl_watch_read(n->fd, &sink) == -ENOBUFS && n->kind == NOTIFY_ROUTE)
            n->resync = 1;
        if (n->resync) {
            n->resync = 0;
            route_resync(n);
        }
    }
    if (n->self_cancelled)
        notify_free(n);
    return NULL;
}

static NTSTATUS notify_register(enum notify_kind kind, ADDRESS_FAMILY Family, PVOID Callback,
                                PVOID CallerContext, BOOLEAN InitialNotification,
                                HANDLE *NotificationHandle)
{
    int family = netio_family_from_windows(Family);
    if (!Callback || !NotificationHandle || family < 0)
        return STATUS_INVALID_PARAMETER;
    struct netio_notify *n = openwsk_pool_alloc(sizeof *n, NETIO_POOL_TAG, TRUE);
    if (!n)
        return STATUS_INSUFFICIENT_RESOURCES;
    n->magic = NOTIFY_MAGIC;
    n->kind = kind;
    n->family = family;
    n->callback = Callback;
    n->context = CallerContext;
    n->initial = InitialNotification;
    n->wake_fd = -1;
    /* Links are watched by every kind: the map gives rows their LUIDs. */
    unsigned what = NL_WATCH_LINKS | (kind == NOTIFY_UNICAST ? NL_WATCH_ADDRS : 0) |
                    (kind == NOTIFY_ROUTE ? NL_WATCH_ROUTES | NL_WATCH_ADDRS : 0);
    n->fd = nl_watch_open(what, family);
    int rc = n->fd < 0 ? n->fd : 0;
    if (rc == 0) {
        n->wake_fd = nl_wake_open();
        rc = n->wake_fd < 0 ? n->wake_fd : 0;
    }
    if (rc == 0)
        rc = nl_dump_links(seed_link, n);
    if (rc == 0 && kind == NOTIFY_UNICAST)
        rc = nl_dump_addrs(family, seed_addr, n);
    if (rc == 0 && kind == NOTIFY_ROUTE)
        rc = nl_dump_routes(family, route_add, n);
    if (rc == 0) {
        *NotificationHandle = n;
        rc = -pthread_create(&n->thread, NULL, notify_thread, n);
        if (rc != 0)
            *NotificationHandle = NULL;
    }
    if (rc != 0) {
        notify_free(n);
        return rc == -ENOMEM || rc == -EAGAIN ? STATUS_INSUFFICIENT_RESOURCES
                                              : netio_status_from_errno(rc);
    }
    return STATUS_SUCCESS;
}

NETIOAPI_API NotifyIpInterfaceChange(ADDRESS_FAMILY Family, PIPINTERFACE_CHANGE_CALLBACK Callback,
    PVOID CallerContext, BOOLEAN InitialNotification, HANDLE *NotificationHandle)
{
    return notify_register(NOTIFY_IPINTERFACE, Family, (PVOID)Callback, CallerContext,
                           InitialNotification, NotificationHandle);
}

NETIOAPI_API NotifyUnicastIpAddressChange(ADDRESS_FAMILY Family,
    PUNICAST_IPADDRESS_CHANGE_CALLBACK Callback, PVOID CallerContext,
    BOOLEAN InitialNotification, HANDLE *NotificationHandle)
{
    return notify_register(NOTIFY_UNICAST, Family, (PVOID)Callback, CallerContext,
                           InitialNotification, NotificationHandle);
}

NETIOAPI_API NotifyRouteChange2(ADDRESS_FAMILY AddressFamily, PIPFORWARD_CHANGE_CALLBACK Callback,
    PVOID CallerContext, BOOLEAN InitialNotification, HANDLE *NotificationHandle)
{
    return notify_register(NOTIFY_ROUTE, AddressFamily, (PVOID)Callback, CallerContext,
                           InitialNotification, NotificationHandle);
}

NETIOAPI_API CancelMibChangeNotify2(HANDLE NotificationHandle)
{
    struct netio_notify *n = NotificationHandle;
    if (!n || n->magic != NOTIFY_MAGIC)
        return STATUS_INVALID_PARAMETER;
    __atomic_store_n(&n->stop, 1, __ATOMIC_RELEASE);
    if (pthread_equal(pthread_self(), n->thread)) {
        /* From the registration's own callback: Windows would deadlock;
         * the thread ends after the callback returns and frees itself. */
        n->self_cancelled = 1;
        pthread_detach(n->thread);
        return STATUS_SUCCESS;
    }
    nl_wake_signal(n->wake_fd);
    pthread_join(n->thread, NULL);
    notify_free(n);
    return STATUS_SUCCESS;
}
