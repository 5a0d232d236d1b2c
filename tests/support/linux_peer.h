/*
 * linux_peer.h - a real Linux socket as the other party of a WSK test.
 *
 * Test files include the Windows headers, which cannot share a translation
 * unit with glibc's socket headers; this interface uses neither.  Families
 * are given as 4 or 6, ports in host byte order, errors as -errno.
 */
#ifndef OPENWSK_TEST_LINUX_PEER_H
#define OPENWSK_TEST_LINUX_PEER_H

#include <stddef.h>

/* Blocking TCP connect with a 2 s limit; returns the fd or -errno. */
int peer_tcp_connect(int family, const char *ip, unsigned short port);
/* A Linux TCP listener / UDP socket bound to ip:port (no SO_REUSEADDR). */
int peer_tcp_listen(int family, const char *ip, unsigned short port);
int peer_udp_bind(int family, const char *ip, unsigned short port);
/* One datagram from an unbound UDP socket; returns 0 or -errno. */
int peer_udp_sendto(int family, const char *ip, unsigned short port, const void *data, size_t len);
/* recv with a timeout in ms; returns bytes, 0 at EOF, or -errno (-ETIMEDOUT). */
long peer_recv(int fd, void *buf, size_t len, int timeout_ms);
/* UDP from a given (bound) socket; returns bytes sent or -errno. */
long peer_udp_send_from(int fd, int family, const char *ip, unsigned short port, const void *data, size_t len);
/* One IPv4 datagram and its source address (host order). */
long peer_udp_recv_source4(int fd, void *buf, size_t len, unsigned int *source, int timeout_ms);
/* One datagram and its source port; -ETIMEDOUT if none arrives. */
long peer_udp_recv(int fd, void *buf, size_t len, unsigned short *from_port, int timeout_ms);
/* Port (host order) a Linux socket is bound to. */
unsigned short peer_local_port(int fd);
/* A port that is free for TCP and UDP on 127.0.0.1 and ::1 right now. */
unsigned short peer_free_port(void);
/* Is the process allowed to bind ports below 1024? */
int peer_can_bind_privileged(void);
/* May this process open raw IPv4 sockets (CAP_NET_RAW)? */
int peer_can_open_raw(void);
/* Are IPv6 loopback sockets available here? */
int peer_has_ipv6(void);
/* An integer socket option of a Linux fd, by its usual name ("TCP_NODELAY",
 * "SO_KEEPALIVE", "SO_RCVBUF", "SO_BROADCAST", "IP_TTL", "IPV6_V6ONLY",
 * "SO_REUSEPORT", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_QUICKACK"); -errno on
 * failure. */
int peer_sockopt(int fd, const char *name);
/* Sets an integer option by the same names, and IP_TOS, IP_RECVTTL,
 * IP_RECVTOS, IP_MULTICAST_LOOP, IPV6_UNICAST_HOPS, IPV6_TCLASS,
 * IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS; 0 or -errno. */
int peer_set_sockopt(int fd, const char *name, int value);
/* One datagram with the TTL / hop limit and TOS / traffic class its control
 * messages carry (-1 where absent). */
long peer_udp_recv_meta(int fd, void *buf, size_t len, int *hops, int *tclass, int timeout_ms);
/* The IPv4 address and broadcast address of an interface that is up and
 * has multicast and broadcast (not loopback); 0 if there is none. */
int peer_interface4(char address[16], char broadcast[16]);
/* IP_MULTICAST_IF on interface_ip, then (group != NULL) joins group there. */
int peer_multicast_setup4(int fd, const char *group, const char *interface_ip);
/* Index of a network interface by name ("lo"), or of the interface that
 * has an IPv4 address (dotted); 0 if there is none. */
unsigned peer_ifindex(const char *name);
unsigned peer_ifindex_of4(const char *address);
/* One UDP send from a bound socket with Linux's segmentation offload
 * (UDP_SEGMENT): the receiver gets datagrams of `segment` bytes, the last
 * shorter, or one coalesced datagram.  Returns bytes sent or -errno. */
long peer_udp_send_segmented(int fd, int family, const char *ip, unsigned short port, const void *data, size_t len,
                             unsigned short segment);
/* Bytes in a TCP socket's send queue not yet sent (SIOCOUTQNSD). */
long peer_unsent_bytes(int fd);
/* Bytes waiting in a TCP socket's receive queue, not read yet (SIOCINQ). */
long peer_unread_bytes(int fd);
/* CPU time this process has used so far (user + system), in ms. */
long peer_process_cpu_ms(void);
/* Runs fn in a child process that first drops root (to nobody); returns
 * fn's exit code, or -1 if the child could not drop privileges. */
int peer_run_unprivileged(int (*fn)(void *), void *arg);
/* net.ipv4.ip_unprivileged_port_start (1024 when unreadable). */
int peer_unprivileged_port_start(void);
/* Accepts one connection on a Linux listener (timeout in ms). */
int peer_accept(int lfd, int timeout_ms);
/* Blocking helpers on a connected Linux TCP socket. */
long peer_send_all(int fd, const void *buf, size_t len);
long peer_recv_exact(int fd, void *buf, size_t len, int timeout_ms);
int peer_shutdown_write(int fd);
/* shutdown(SHUT_RDWR); on a listening socket, later accepts fail (EINVAL). */
int peer_shutdown_both(int fd);
/* Reads until EOF or error; returns bytes read, or -errno of the error
 * (-ECONNRESET when the connection was reset). */
long peer_drain(int fd, int timeout_ms);
/* Sets SO_LINGER {1, 0}, so close() resets the connection. */
void peer_reset_on_close(int fd);

/* The deterministic byte pattern transfer tests use: byte i of a stream. */
static inline unsigned char peer_pattern(size_t i)
{
    return (unsigned char)((i * 131u + (i >> 12) + 7u) & 0xFF);
}
/* A thread that reads `len` bytes from fd and checks them against the
 * pattern, or writes `len` pattern bytes to fd. */
typedef struct peer_job peer_job;
peer_job *peer_job_verify_reader(int fd, size_t len);
peer_job *peer_job_pattern_writer(int fd, size_t len);
/* Joins; returns bytes moved with every byte matching, or -1 on any
 * mismatch / short transfer (reported on stderr). */
long peer_job_join(peer_job *job);

void peer_close(int fd);

#endif /* OPENWSK_TEST_LINUX_PEER_H */
