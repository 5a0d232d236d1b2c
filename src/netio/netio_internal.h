/*
 * netio_internal.h - what the IP Helper's modules (src/netio/) share: the
 * conversion of rtnetlink records (netio_linux.h) into netioapi.h rows, and
 * the link map that gives every interface index its LUID.
 */
#ifndef OPENWSK_NETIO_INTERNAL_H
#define OPENWSK_NETIO_INTERNAL_H

#include <ntddk.h>
#include <netioapi.h>

#include "netio/netio_linux.h"

#define NETIO_POOL_TAG 'oiTN'

/* Windows family (AF_INET 2, AF_INET6 23, AF_UNSPEC 0) <-> 4, 6, 0; -1 for
 * anything else. */
int netio_family_from_windows(ADDRESS_FAMILY family);
ADDRESS_FAMILY netio_family_to_windows(int family);

/* Interface index -> ARPHRD type, loaded from a link dump and updated by
 * link events; types stay known after a link goes (its last routes and
 * addresses are reported after it). */
struct netio_link_map {
    struct { int index; unsigned arptype; } *entries;
    unsigned count, capacity;
};
int netio_link_map_load(struct netio_link_map *map);
void netio_link_map_set(struct netio_link_map *map, int index, unsigned arptype);
/* The type of an index, reloading the map once on a miss; -1 if unknown. */
int netio_link_map_type(struct netio_link_map *map, int index);
void netio_link_map_free(struct netio_link_map *map);

NET_LUID netio_luid(int index, unsigned arptype);
IFTYPE netio_iftype(unsigned arptype);

void netio_if_row(const struct nl_link *link, MIB_IF_ROW2 *row);
void netio_ipinterface_row(const struct nl_link *link, int family, MIB_IPINTERFACE_ROW *row);
void netio_unicast_row(const struct nl_addr *addr, NET_LUID luid, MIB_UNICASTIPADDRESS_ROW *row);
void netio_forward_row(const struct nl_route *route, NET_LUID luid, MIB_IPFORWARD_ROW2 *row);
void netio_sockaddr(int family, const unsigned char *addr, int scope_index, SOCKADDR_INET *out);

/* Finds the link a row names: by LUID if nonzero, else by index.  Fills
 * *link.  STATUS_INVALID_PARAMETER if neither is set, STATUS_NOT_FOUND. */
NTSTATUS netio_find_link(const NET_LUID *luid, NET_IFINDEX index, struct nl_link *link);

NTSTATUS netio_status_from_errno(int negative_errno);

#endif /* OPENWSK_NETIO_INTERNAL_H */
