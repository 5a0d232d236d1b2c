/*
 * tun_netns.h - opens an existing TUN device inside another network
 * namespace.  The device is looked up in the namespace the calling thread
 * is in when TUNSETIFF runs, and the descriptor stays bound to it
 * afterwards, so the relay enters the namespace, attaches and comes back.
 */
#ifndef NETIMPAIR_TUN_NETNS_H
#define NETIMPAIR_TUN_NETNS_H

/* NETNS_PATH: e.g. /run/netns/NAME (from `ip netns add NAME`).  Returns a
 * non-blocking descriptor carrying bare IP packets, or -1 (message printed). */
int tun_open_in_netns(const char *netns_path, const char *ifname);

#endif
