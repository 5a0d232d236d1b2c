/*
 * wsk_io.h - the provider's asynchronous socket operations, on the I/O
 * engine (src/io/io_engine.h).
 *
 * Like wsk_linux.h this interface sits between the Windows-typed provider
 * and Linux: it uses neither set of socket headers.  Each operation lives
 * in caller-owned storage (no allocation per operation); its completion
 * runs on an engine thread at DISPATCH_LEVEL.  Addresses cross in Windows
 * layout; results are byte counts / new fds, or -errno.
 */
#ifndef OPENWSK_WSK_IO_H
#define OPENWSK_WSK_IO_H

#include <stddef.h>
#include <stdint.h>

#define WSK_IO_STORAGE_SIZE 640

typedef struct wsk_io {
    _Alignas(16) unsigned char opaque[WSK_IO_STORAGE_SIZE];
} wsk_io;

/* result: bytes, the accepted fd, 0; or -errno (-ECANCELED when cancelled).
 * transferred: bytes handed to the kernel by a send, even when it failed. */
typedef void (*wsk_io_done)(wsk_io *io, void *context, long result, size_t transferred);

/* A (base, length) piece; the same layout as struct iovec. */
typedef struct wsk_io_segment {
    void *base;
    size_t length;
} wsk_io_segment;

int wsk_io_engine_start(void);
/* Runs fn(fd, arg) while the engine does not touch fd (io_engine.h,
 * io_engine_with_fd_quiet): for connect() on a socket it may be polling. */
int wsk_io_with_fd_quiet(int fd, int (*fn)(int fd, const void *arg), const void *arg);
void wsk_io_engine_stop(void);
const char *wsk_io_engine_backend(void);

/* Receives into the segments (what is available; a peer's FIN gives 0). */
void wsk_io_recv(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done, void *context);
/* Sends all of the segments; completes when the kernel took every byte. */
void wsk_io_send(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done, void *context);
/* Accepts one connection; the result is the new (non-blocking) fd and the
 * peer address is kept for wsk_io_accepted_peer. */
void wsk_io_accept(wsk_io *io, int fd, wsk_io_done done, void *context);
/* The same for a caller that keeps one accept pending as long as it wants
 * connections (the accept-event feeder): the engine may take connections
 * ahead of the next one (io_engine.h, io_op.accept_ahead).  The caller's
 * done() calls wsk_io_accept_ahead_end when it does not submit the next. */
void wsk_io_accept_ahead(wsk_io *io, int fd, wsk_io_done done, void *context);
void wsk_io_accept_ahead_end(int fd);
/* Copies the peer address of a completed accept in Windows layout; returns its size. */
size_t wsk_io_accepted_peer(const wsk_io *io, void *win_addr);
/* Sends one datagram to a Windows-layout address (NULL: the connected
 * peer); the address is copied before the call returns. */
void wsk_io_send_to(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, const void *win_addr,
                    int with_control, wsk_io_done done, void *context);
/* Converts Windows control data (CMSGHDR objects: IP_PKTINFO, IPV6_PKTINFO,
 * the INT kinds, IP_ECN / IPV6_ECN merged with fd's TOS / traffic class)
 * for the sends of this io that pass with_control; it stays until the next
 * call.  0, or -EINVAL for malformed or unsupported objects, -EMSGSIZE if
 * too much. */
int wsk_io_set_send_control(wsk_io *io, const void *win_control, size_t len, int fd);
/* Receives one datagram and its source address. */
void wsk_io_recv_from(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done, void *context);
/* After wsk_io_recv_from: the source in Windows layout (win_addr may be
 * NULL), its size, and whether the datagram was cut to fit. */
size_t wsk_io_received_from(const wsk_io *io, void *win_addr, int *truncated);
/* What wsk_io_received_control reports besides IP_TTL / IPV6_HOPLIMIT. */
#define WSK_IO_CONTROL_PKTINFO 0x01u /* IP_PKTINFO / IPV6_PKTINFO */
#define WSK_IO_CONTROL_TOS 0x02u     /* IP_TOS */
#define WSK_IO_CONTROL_ECN 0x04u     /* IP_ECN, from the TOS byte */
#define WSK_IO_CONTROL_TCLASS 0x08u  /* IPV6_TCLASS */
#define WSK_IO_CONTROL_ECN6 0x10u    /* IPV6_ECN, from the traffic class */
/* After wsk_io_recv_from: the control data (the `wanted` kinds above,
 * IP_TTL, IPV6_HOPLIMIT) in Windows'
 * CMSGHDR layout and values, as much as fits in win_cap bytes; returns the
 * bytes written, *truncated set if something did not fit, and
 * *destination_flags = MSG_MCAST / MSG_BCAST (Windows values) from the
 * destination the packet info names. */
size_t wsk_io_received_control(const wsk_io *io, unsigned wanted, void *win_out, size_t win_cap, int *truncated,
                               unsigned *destination_flags);
/* Whether an IPv4 address (network order) is the limited broadcast or the
 * broadcast address of a local interface. */
int wsk_io_is_broadcast4(uint32_t address);
/* ---- batches of datagrams (the engine thread calls these in a
 * completion, without waiting: the socket is non-blocking) ---- */

#define WSK_IO_BATCH_MAX 32 /* datagrams per recvmmsg / sendmmsg */

/* Completes (result = the revents, or -errno) once fd is readable. */
void wsk_io_poll_readable(wsk_io *io, int fd, wsk_io_done done, void *context);
/* One datagram of a batch receive: the caller's buffers in, what came out. */
typedef struct wsk_io_dgram_in {
    void *data;                 /* in: room for the datagram */
    size_t capacity;
    void *win_from;             /* in: the source, Windows layout */
    void *win_control;          /* in: control data, Windows layout (wsk_io_received_control) */
    size_t control_capacity;
    size_t length;              /* out: bytes received (at most capacity) */
    int truncated;              /* out: the datagram was longer */
    size_t control_length;      /* out */
    int control_cut;            /* out */
    unsigned destination_flags; /* out: MSG_MCAST / MSG_BCAST (Windows values) */
} wsk_io_dgram_in;
/* Reads up to n (<= WSK_IO_BATCH_MAX) datagrams already waiting on fd with
 * one recvmmsg; returns how many (>= 1), or -errno (-EAGAIN: none waits). */
long wsk_io_recv_batch(int fd, wsk_io_dgram_in *d, size_t n, unsigned wanted);
/* wsk_io_send_to in two steps: prepare (0; or -1 when this datagram cannot
 * go in a batch, and nothing was prepared), then either start it in the
 * engine with wsk_io_submit_prepared or send it with others in one
 * wsk_io_send_batch. */
int wsk_io_send_to_prepare(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, const void *win_addr,
                           int with_control, wsk_io_done done, void *context);
void wsk_io_submit_prepared(wsk_io *io);
/* Sends prepared datagrams ios[0..n) (n <= WSK_IO_BATCH_MAX) with one
 * sendmmsg: returns how many the kernel took, in order; those after were
 * not sent (they go to the engine) and their done is not called.  The
 * sizes sent are in *lengths. */
size_t wsk_io_send_batch(int fd, wsk_io *const *ios, size_t n, size_t *lengths);

/* Sends n (<= WSK_IO_BATCH_MAX) datagrams, datagram i made of counts[i]
 * segments at dgrams[i], to one Windows-layout address (NULL: the connected
 * peer) with io's control data (wsk_io_set_send_control) when with_control,
 * in one non-blocking sendmmsg; returns how many the kernel took (0: none,
 * full or an error for the first), their sizes in *lengths. */
size_t wsk_io_send_list(wsk_io *io, int fd, wsk_io_segment *const *dgrams, const size_t *counts, size_t n,
                        const void *win_addr, int with_control, size_t *lengths);

/* Connects to a Windows-layout address. */
void wsk_io_connect(wsk_io *io, int fd, const void *win_addr, wsk_io_done done, void *context);
/* Runs done(io, context, 0, 0) on an engine thread. */
void wsk_io_post(wsk_io *io, wsk_io_done done, void *context);

/* A block for posts alone (no I/O), far smaller than a wsk_io: for objects
 * that keep one for good.  wsk_io_post_block runs done(NULL, context, 0,
 * 0) on an engine thread, as wsk_io_post does; one post at a time per
 * block. */
#define WSK_POST_STORAGE_SIZE 240
typedef struct wsk_post {
    _Alignas(16) unsigned char opaque[WSK_POST_STORAGE_SIZE];
} wsk_post;
void wsk_io_post_block(wsk_post *post, wsk_io_done done, void *context);
/* Requests cancellation; done still runs exactly once.  The caller keeps io
 * valid during the call (its done takes the same lock before freeing). */
int wsk_io_cancel(wsk_io *io);
/* Before close(fd), after every operation on fd completed. */
void wsk_io_forget_fd(int fd);

#endif /* OPENWSK_WSK_IO_H */
