/*
 * wsk_linux.h - the provider's boundary to Linux sockets.
 *
 * WSK code works with Windows types (ws2def.h) and Linux code needs glibc's
 * socket headers; the two cannot share a translation unit (the same names
 * mean different things).  This interface uses neither: addresses cross it
 * as Windows SOCKADDR_IN/SOCKADDR_IN6 bytes, options as Windows (level,
 * name) numbers, errors as negative errno values.  wsk_linux.c translates.
 */
#ifndef OPENWSK_WSK_LINUX_H
#define OPENWSK_WSK_LINUX_H

#include <stddef.h>

/* Creates a non-blocking, close-on-exec socket for a Windows family value
 * (2 or 23), type and protocol.  Returns the fd or -errno. */
int lx_socket(unsigned win_family, int type, int protocol);
/* Turns on IP_PKTINFO / IPV6_RECVPKTINFO for a datagram socket. */
int lx_enable_packet_info(int fd, unsigned win_family);
int lx_close(int fd);
/* Linux's UDP_GRO (receive coalesced datagrams) on or off. */
int lx_receive_coalesced(int fd, int on);
/* Linux's IP_RECVTOS (ipv6 0) or IPV6_RECVTCLASS (ipv6 1) on or off. */
int lx_receive_tos(int fd, int ipv6, int on);

/* Applies what binding needs before bind(2): v6only sets IPV6_V6ONLY on
 * AF_INET6 sockets.  Address sharing is decided by the bind registry and
 * told to Linux only while a share needs it (wsk_linux_port.c). */
int lx_prepare_bind(int fd, unsigned win_family, int v6only);
/* Binds to a Windows-layout address of the socket's family. */
int lx_bind(int fd, const void *win_addr);
int lx_listen(int fd, int backlog);

/* Half-close: no more sends (FIN). */
int lx_shutdown_send(int fd);
/* Shuts both directions; on a listener: it accepts no more (accept fails with EINVAL). */
int lx_shutdown_both(int fd);
/* Abortive disconnect: the peer gets a reset, the socket stays open. */
int lx_abort(int fd);
/* 1 if the peer has already closed or reset the connection (checked
 * without consuming data), else 0. */
int lx_connection_gone(int fd);
/* Associates a UDP socket with one peer (Windows-layout address), or
 * dissolves the association (NULL). */
int lx_datagram_connect(int fd, const void *win_addr);
/* Makes the next close(2) send a reset instead of a FIN. */
int lx_reset_on_close(int fd);

/* Bytes worth keeping in flight (congestion window × MSS, at least the
 * send buffer's half) and bytes waiting to be read. */
int lx_ideal_send_backlog(int fd, size_t *bytes);
int lx_receive_backlog(int fd, size_t *bytes);

/* getsockname/getpeername into a Windows-layout address; *len receives its size. */
int lx_local_address(int fd, void *win_addr_out, size_t *len);
int lx_remote_address(int fd, void *win_addr_out, size_t *len);

/* Is this address one of the host's (bindable)?  Windows layout in.
 * Returns 1, 0, or -errno. */
int lx_address_is_local(const void *win_addr);

/* Sends what Nagle's algorithm holds back now (TCP_NODELAY on, then back
 * off unless it was on). */
int lx_push_pending(int fd);

/* SIO_KEEPALIVE_VALS: keep-alive on or off; when on, the idle time and
 * the probe interval (milliseconds, rounded up to Linux's seconds). */
int lx_keepalive_values(int fd, unsigned on, unsigned idle_ms, unsigned interval_ms);

/* Socket options by Windows level and name.  Returns 0 / -errno;
 * -ENOPROTOOPT means "not an option openwsk translates".  For get, *len is
 * in/out (bytes). */
int lx_set_option(int fd, unsigned win_level, unsigned win_name, const void *value, size_t len, int listening);
int lx_get_option(int fd, unsigned win_level, unsigned win_name, void *value, size_t *len);

/* ---- ports (wsk_linux_port.c) ---- */

/* A machine-wide claim on (transport, port) among openwsk processes: an
 * abstract AF_UNIX name.  Returns the claim's fd, or -EADDRINUSE when
 * another process holds the port. */
int lx_port_claim(unsigned transport, unsigned port);
/* SO_REUSEPORT on or off: lets sockets of this process (this uid) bind
 * overlapping addresses while a share the registry allowed is made. */
int lx_share_port(int fd, int on);
/* SO_REUSEADDR on or off.  A TCP listener keeps it on, so that its
 * connections (which inherit it) leave TIME_WAIT states that a later
 * listener on the port can bind over. */
int lx_reuse_address(int fd, int on);
/* 1 if TCP connections (in any state: TIME_WAIT too) use the local port
 * and no socket is merely bound to it, so that an EADDRINUSE from bind(2)
 * came from the connections rather than from a socket holding the port
 * (listeners conflict whatever the options); 0 if not; -errno. */
int lx_port_held_only_by_connections(unsigned port);
/* Linux caches per TCP port that its sockets allow SO_REUSEPORT for a uid
 * (and SO_REUSEADDR), and lets later binds through on the cache alone, even
 * once the options are off again.  A bind by a socket with neither option
 * clears it: this binds and closes one on an address that overlaps none of
 * the port's sockets (127.79.87.75, else [::1]).  Returns 0, or -errno when
 * no such address is free (a wildcard of each family holds the port). */
int lx_tcp_port_forget_sharing(unsigned port);

/* Size of the Windows sockaddr for a Windows family (16, 28) or 0. */
size_t lx_win_sockaddr_size(unsigned win_family);

/* ---- name resolution (wsk_linux_resolve.c) ---- */

/* One address getaddrinfo found, in Windows layout. */
typedef struct lx_resolved {
    int win_family;
    int socktype, protocol;
    size_t addr_len;
    unsigned char addr[28]; /* SOCKADDR_IN or SOCKADDR_IN6 */
} lx_resolved;

/* getaddrinfo with Windows flags and family; *out (count entries) and
 * *canonical (NULL unless asked for) go back to lx_resolve_free.  0, or
 * -ENOENT (no such name), -EINVAL (bad flags, service or type), -EAGAIN,
 * -ENOMEM, -EAFNOSUPPORT. */
int lx_resolve(const char *node, const char *service, int win_flags, int win_family, int socktype, int protocol,
               lx_resolved **out, size_t *count, char **canonical);
void lx_resolve_free(lx_resolved *list, char *canonical);
/* getnameinfo on a Windows-layout address with Windows NI_* flags; 0, or
 * -ENOENT, -ENOSPC (a buffer is too small), -EINVAL, -EAFNOSUPPORT. */
int lx_name_of(const void *win_addr, size_t len, int win_flags, char *host, size_t host_len, char *serv,
               size_t serv_len);

#endif /* OPENWSK_WSK_LINUX_H */
