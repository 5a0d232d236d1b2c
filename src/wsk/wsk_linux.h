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
int lx_close(int fd);

/* Applies what binding needs before bind(2): address sharing is decided by
 * the bind registry, so Linux is told to allow it (SO_REUSEADDR and
 * SO_REUSEPORT); v6only sets IPV6_V6ONLY on AF_INET6 sockets. */
int lx_prepare_bind(int fd, unsigned win_family, int v6only);
/* Binds to a Windows-layout address of the socket's family. */
int lx_bind(int fd, const void *win_addr);
int lx_listen(int fd, int backlog);

/* Half-close: no more sends (FIN). */
int lx_shutdown_send(int fd);
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

/* Socket options by Windows level and name.  Returns 0 / -errno;
 * -ENOPROTOOPT means "not an option openwsk translates".  For get, *len is
 * in/out (bytes). */
int lx_set_option(int fd, unsigned win_level, unsigned win_name, const void *value, size_t len, int listening);
int lx_get_option(int fd, unsigned win_level, unsigned win_name, void *value, size_t *len);

/* A machine-wide claim on (transport, port) among openwsk processes: an
 * abstract AF_UNIX name.  Returns the claim's fd, or -EADDRINUSE when
 * another process holds the port. */
int lx_port_claim(unsigned transport, unsigned port);

/* Size of the Windows sockaddr for a Windows family (16, 28) or 0. */
size_t lx_win_sockaddr_size(unsigned win_family);

#endif /* OPENWSK_WSK_LINUX_H */
