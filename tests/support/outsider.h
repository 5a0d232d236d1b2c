/*
 * outsider.h - another Linux process binding ports, as a test's adversary.
 *
 * An outsider is a child process forked before the test starts threads; it
 * runs as the test's uid or as another one (nobody) and binds ordinary
 * Linux sockets on request, holding each until the next request.  The
 * interface uses no socket headers (see linux_peer.h): families are 4 or 6,
 * ports in host byte order, results 0 or -errno.
 */
#ifndef OPENWSK_TEST_OUTSIDER_H
#define OPENWSK_TEST_OUTSIDER_H

enum {
    OUTSIDER_REUSEADDR = 1, /* SO_REUSEADDR */
    OUTSIDER_REUSEPORT = 2, /* SO_REUSEPORT */
    OUTSIDER_LISTEN = 4,    /* TCP: listen after binding */
    OUTSIDER_V6ONLY = 8,    /* IPv6: IPV6_V6ONLY (the default is dual-stack) */
};

typedef struct outsider {
    int pid;
    int fd; /* the request channel */
} outsider;

/* Starts an outsider running as uid (-1: this process's uid).  Returns 0,
 * or -errno (-EPERM when this process may not change uid). */
int outsider_start(outsider *o, int uid);
/* Closes what it holds, then binds a new socket: udp (0 TCP, 1 UDP),
 * family, ip text, port (0: the kernel picks; *port_out gets the port).
 * Returns 0 when bound (and listening, if asked) or -errno. */
int outsider_bind(outsider *o, int udp, int family, const char *ip, unsigned short port, int flags,
                  unsigned short *port_out);
/* Closes what it holds. */
void outsider_release(outsider *o);
void outsider_stop(outsider *o);

#endif
