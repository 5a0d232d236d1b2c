/*
 * wsk_io.c - wsk_io.h on top of the I/O engine.  Linux side: includes the
 * engine's (glibc) socket headers, never the Windows ones.
 */
#include "wsk_io.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_engine.h"

#define WIN_AF_INET 2
#define WIN_AF_INET6 23

typedef struct wsk_io_impl {
    io_op op;
    struct msghdr msg;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    _Alignas(8) unsigned char control[160]; /* recv_from / send_to: Linux control messages */
    size_t send_control_len;               /* send_to: bytes of control[] to send */
    wsk_io_done done;
    void *context;
    /* A datagram over more segments than one call takes goes through a
     * contiguous copy (a stream is sent or received in pieces instead). */
    struct iovec bounce_iov;
    const wsk_io_segment *scatter; /* recv_from: where the bounce's bytes go */
    size_t scatter_count;
    long forced_result; /* non-zero: the op completes with it (complete_with) */
} wsk_io_impl;

/* No datagram is larger (IPv4 and IPv6 without jumbograms). */
#define DATAGRAM_MAX 65536u

_Static_assert(sizeof(wsk_io_impl) <= WSK_IO_STORAGE_SIZE, "wsk_io storage too small");
_Static_assert(sizeof(wsk_io_segment) == sizeof(struct iovec), "segments must be iovecs");

static wsk_io_impl *impl_of(wsk_io *io)
{
    return (wsk_io_impl *)(void *)io->opaque;
}

static size_t segments_length(const wsk_io_segment *seg, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += seg[i].length;
    return total;
}

/* Puts the datagram in one buffer when its segments are too many for one
 * call (the engine would split a send into several datagrams).  A send
 * longer than any datagram copies only enough to make the kernel refuse
 * it as too long.  -ENOMEM when the copy cannot be made. */
static int bounce_prepare(wsk_io_impl *impl, const wsk_io_segment *seg, size_t count, int receiving)
{
    impl->bounce_iov.iov_base = NULL;
    impl->scatter = NULL;
    if (count <= IO_MAX_IOV)
        return 0;
    size_t total = segments_length(seg, count);
    size_t cap = receiving ? DATAGRAM_MAX : DATAGRAM_MAX + 1;
    size_t size = total < cap ? total : cap;
    unsigned char *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return -ENOMEM;
    if (receiving) {
        impl->scatter = seg;
        impl->scatter_count = count;
    } else {
        for (size_t i = 0, at = 0; i < count && at < size; at += seg[i].length, i++)
            memcpy(copy + at, seg[i].base, seg[i].length < size - at ? seg[i].length : size - at);
    }
    impl->bounce_iov.iov_base = copy;
    impl->bounce_iov.iov_len = size;
    impl->msg.msg_iov = &impl->bounce_iov;
    impl->msg.msg_iovlen = 1;
    return 0;
}

/* Completes the op on an engine thread with result instead of doing it. */
static void complete_with(wsk_io_impl *impl, long result)
{
    impl->forced_result = result;
    impl->op.kind = IO_OP_CALL;
    impl->op.fd = -1;
    io_engine_post(&impl->op);
}

static void bounce_finish(wsk_io_impl *impl, long result)
{
    if (impl->bounce_iov.iov_base == NULL)
        return;
    if (impl->scatter != NULL && result > 0) {
        const unsigned char *from = impl->bounce_iov.iov_base;
        size_t left = (size_t)result;
        for (size_t i = 0; i < impl->scatter_count && left > 0; i++) {
            size_t n = impl->scatter[i].length < left ? impl->scatter[i].length : left;
            memcpy(impl->scatter[i].base, from, n);
            from += n;
            left -= n;
        }
    }
    free(impl->bounce_iov.iov_base);
    impl->bounce_iov.iov_base = NULL;
    impl->scatter = NULL;
}

static void io_done_trampoline(io_op *op, long result)
{
    wsk_io_impl *impl = (wsk_io_impl *)op;
    if (impl->forced_result != 0) {
        result = impl->forced_result;
        impl->forced_result = 0;
    }
    bounce_finish(impl, result);
    /* impl may be reused by the callee: read everything first. */
    wsk_io_done done = impl->done;
    void *context = impl->context;
    size_t transferred = op->transferred;
    done((wsk_io *)(void *)impl, context, result, transferred);
}

static wsk_io_impl *io_prepare(wsk_io *io, io_op_kind kind, int fd, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = impl_of(io);
    memset(&impl->op, 0, sizeof(impl->op));
    impl->op.kind = kind;
    impl->op.fd = fd;
    impl->op.complete = io_done_trampoline;
    impl->done = done;
    impl->context = context;
    impl->bounce_iov.iov_base = NULL;
    impl->scatter = NULL;
    impl->forced_result = 0;
    return impl;
}

int wsk_io_engine_start(void)
{
    return io_engine_start(0);
}

int wsk_io_with_fd_quiet(int fd, int (*fn)(int fd, const void *arg), const void *arg)
{
    return io_engine_with_fd_quiet(fd, fn, arg);
}

void wsk_io_engine_stop(void)
{
    io_engine_stop();
}

const char *wsk_io_engine_backend(void)
{
    return io_engine_backend();
}

static void io_data(wsk_io *io, io_op_kind kind, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done,
                    void *context)
{
    wsk_io_impl *impl = io_prepare(io, kind, fd, done, context);
    memset(&impl->msg, 0, sizeof(impl->msg));
    /* A stream receive takes what the first IO_MAX_IOV segments hold (it
     * may complete with less than asked); a send goes in pieces (engine). */
    if (kind == IO_OP_RECVMSG && count > IO_MAX_IOV)
        count = IO_MAX_IOV;
    impl->msg.msg_iov = (struct iovec *)(void *)seg;
    impl->msg.msg_iovlen = count;
    impl->op.msg = &impl->msg;
    io_submit(&impl->op);
}

void wsk_io_recv(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done, void *context)
{
    io_data(io, IO_OP_RECVMSG, fd, seg, count, done, context);
}

void wsk_io_send(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done, void *context)
{
    io_data(io, IO_OP_SENDMSG, fd, seg, count, done, context);
}

static void accept_submit(wsk_io *io, int fd, unsigned char ahead, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = io_prepare(io, IO_OP_ACCEPT, fd, done, context);
    impl->addr_len = sizeof(impl->addr);
    impl->op.addr = (struct sockaddr *)&impl->addr;
    impl->op.addrlen = &impl->addr_len;
    impl->op.addr_len_in = sizeof(impl->addr);
    impl->op.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    impl->op.accept_ahead = ahead;
    io_submit(&impl->op);
}

void wsk_io_accept(wsk_io *io, int fd, wsk_io_done done, void *context)
{
    accept_submit(io, fd, 0, done, context);
}

void wsk_io_accept_ahead(wsk_io *io, int fd, wsk_io_done done, void *context)
{
    accept_submit(io, fd, 1, done, context);
}

void wsk_io_accept_ahead_end(int fd)
{
    io_engine_accept_ahead_end(fd);
}

/* Linux address -> Windows layout (the family value differs for IPv6). */
static size_t addr_to_windows(const struct sockaddr_storage *addr, void *win_addr)
{
    unsigned short fam;
    size_t size;
    if (addr->ss_family == AF_INET) {
        fam = WIN_AF_INET;
        size = sizeof(struct sockaddr_in);
    } else if (addr->ss_family == AF_INET6) {
        fam = WIN_AF_INET6;
        size = sizeof(struct sockaddr_in6);
    } else {
        return 0;
    }
    memcpy(win_addr, addr, size);
    memcpy(win_addr, &fam, sizeof(fam));
    return size;
}

/* Windows layout -> Linux; returns the Linux length (0: not IPv4/IPv6). */
static socklen_t addr_from_windows(const void *win_addr, struct sockaddr_storage *addr)
{
    unsigned short fam;
    memcpy(&fam, win_addr, sizeof(fam));
    if (fam != WIN_AF_INET && fam != WIN_AF_INET6)
        return 0;
    size_t size = fam == WIN_AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memset(addr, 0, sizeof(*addr));
    memcpy(addr, win_addr, size);
    addr->ss_family = fam == WIN_AF_INET ? AF_INET : AF_INET6;
    return (socklen_t)size;
}

size_t wsk_io_accepted_peer(const wsk_io *io, void *win_addr)
{
    const wsk_io_impl *impl = (const wsk_io_impl *)(const void *)io->opaque;
    return addr_to_windows(&impl->addr, win_addr);
}

/* Fills the op's message for one datagram; -ENOMEM if the bounce copy
 * could not be made. */
static int send_to_fill(wsk_io_impl *impl, const wsk_io_segment *seg, size_t count, const void *win_addr,
                        int with_control)
{
    memset(&impl->msg, 0, sizeof(impl->msg));
    impl->msg.msg_iov = (struct iovec *)(void *)seg;
    impl->msg.msg_iovlen = count;
    if (bounce_prepare(impl, seg, count, 0) != 0)
        return -ENOMEM;
    if (win_addr != NULL) {
        /* Copied: the caller's address need not outlive the call. */
        impl->msg.msg_name = &impl->addr;
        impl->msg.msg_namelen = addr_from_windows(win_addr, &impl->addr);
    }
    if (with_control && impl->send_control_len > 0) {
        impl->msg.msg_control = impl->control;
        impl->msg.msg_controllen = impl->send_control_len;
    }
    impl->op.msg = &impl->msg;
    return 0;
}

void wsk_io_send_to(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, const void *win_addr,
                    int with_control, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = io_prepare(io, IO_OP_SENDMSG, fd, done, context);
    if (send_to_fill(impl, seg, count, win_addr, with_control) != 0) {
        complete_with(impl, -ENOMEM);
        return;
    }
    io_submit(&impl->op);
}

int wsk_io_send_to_prepare(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, const void *win_addr,
                           int with_control, wsk_io_done done, void *context)
{
    if (count > IO_MAX_IOV)
        return -1; /* needs the bounce copy: the engine path sends it */
    wsk_io_impl *impl = io_prepare(io, IO_OP_SENDMSG, fd, done, context);
    return send_to_fill(impl, seg, count, win_addr, with_control);
}

void wsk_io_submit_prepared(wsk_io *io)
{
    io_submit(&impl_of(io)->op);
}

size_t wsk_io_send_list(wsk_io *io, int fd, wsk_io_segment *const *dgrams, const size_t *counts, size_t n,
                        const void *win_addr, int with_control, size_t *lengths)
{
    wsk_io_impl *impl = impl_of(io);
    struct sockaddr_storage to;
    socklen_t to_len = win_addr != NULL ? addr_from_windows(win_addr, &to) : 0;
    struct mmsghdr m[WSK_IO_BATCH_MAX];
    if (n > WSK_IO_BATCH_MAX)
        n = WSK_IO_BATCH_MAX;
    for (size_t i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof(m[i]));
        m[i].msg_hdr.msg_iov = (struct iovec *)(void *)dgrams[i];
        m[i].msg_hdr.msg_iovlen = counts[i];
        if (win_addr != NULL) {
            m[i].msg_hdr.msg_name = &to;
            m[i].msg_hdr.msg_namelen = to_len;
        }
        if (with_control && impl->send_control_len > 0) {
            m[i].msg_hdr.msg_control = impl->control;
            m[i].msg_hdr.msg_controllen = impl->send_control_len;
        }
    }
    int sent;
    do
        sent = sendmmsg(fd, m, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent <= 0)
        return 0;
    for (int i = 0; i < sent; i++)
        lengths[i] = m[i].msg_len;
    return (size_t)sent;
}

size_t wsk_io_send_batch(int fd, wsk_io *const *ios, size_t n, size_t *lengths)
{
    struct mmsghdr m[WSK_IO_BATCH_MAX];
    if (n > WSK_IO_BATCH_MAX)
        n = WSK_IO_BATCH_MAX;
    for (size_t i = 0; i < n; i++) {
        m[i].msg_hdr = impl_of(ios[i])->msg;
        m[i].msg_len = 0;
    }
    int sent;
    do
        sent = sendmmsg(fd, m, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent <= 0)
        return 0; /* the engine sends them and reports the error (or waits for room) */
    for (int i = 0; i < sent; i++)
        lengths[i] = m[i].msg_len;
    return (size_t)sent;
}

void wsk_io_recv_from(wsk_io *io, int fd, const wsk_io_segment *seg, size_t count, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = io_prepare(io, IO_OP_RECVMSG, fd, done, context);
    memset(&impl->msg, 0, sizeof(impl->msg));
    memset(&impl->addr, 0, sizeof(impl->addr));
    impl->msg.msg_iov = (struct iovec *)(void *)seg;
    impl->msg.msg_iovlen = count;
    if (bounce_prepare(impl, seg, count, 1) != 0) {
        complete_with(impl, -ENOMEM);
        return;
    }
    impl->msg.msg_name = &impl->addr;
    impl->msg.msg_namelen = sizeof(impl->addr);
    impl->msg.msg_control = impl->control;
    impl->msg.msg_controllen = sizeof(impl->control);
    impl->op.msg = &impl->msg;
    io_submit(&impl->op);
}

/* Windows values and layout (ws2def.h, ws2ipdef.h): a 16-byte header
 * {SIZE_T len; INT level; INT type}, objects 8-byte aligned, IP_PKTINFO and
 * IPV6_PKTINFO both 19, IN_PKTINFO = {address, ifindex}. */
#define WIN_IP_OPTIONS 1
#define WIN_IPV6_RTHDR 32
#define WIN_IP_ECN 50 /* IP_ECN and IPV6_ECN */
#define WIN_IPPROTO_UDP 17
#define WIN_UDP_SEND_MSG_SIZE 2
#define WIN_UDP_COALESCED_INFO 3
#define WIN_IP_PKTINFO 19
#define WIN_IPV6_PKTINFO 19
#define WIN_CMSG_HDR 16u
#define WIN_CMSG_ALIGN(n) (((n) + 7u) & ~(size_t)7u)
#define WIN_MSG_BCAST 0x0400
#define WIN_MSG_MCAST 0x0800

/* The control objects that carry one INT on Windows (as Wine converts
 * them, docs/decisions.md): type of service, TTL, hop limit, traffic class. */
typedef struct int_control {
    int level; /* same number on both systems: IPPROTO_IP 0, IPPROTO_IPV6 41 */
    int win_type;
    int lx_type;
} int_control;

static const int_control int_controls[] = {
    {IPPROTO_IP, 3, IP_TOS},
    {IPPROTO_IP, 4, IP_TTL},
    {IPPROTO_IPV6, 21, IPV6_HOPLIMIT},
    {IPPROTO_IPV6, 39, IPV6_TCLASS},
};

static const int_control *int_control_by_win(int level, int type)
{
    for (size_t i = 0; i < sizeof(int_controls) / sizeof(int_controls[0]); i++)
        if (int_controls[i].level == level && int_controls[i].win_type == type)
            return &int_controls[i];
    return NULL;
}

static const int_control *int_control_by_linux(int level, int type)
{
    for (size_t i = 0; i < sizeof(int_controls) / sizeof(int_controls[0]); i++)
        if (int_controls[i].level == level && int_controls[i].lx_type == type)
            return &int_controls[i];
    return NULL;
}

static size_t put_control(unsigned char *out, size_t cap, size_t at, int level, int type, const void *data,
                          size_t len, int *truncated)
{
    size_t need = WIN_CMSG_HDR + len;
    if (at + need > cap) {
        *truncated = 1;
        return at;
    }
    size_t cmsg_len = need;
    int lv = level, ty = type;
    memcpy(out + at, &cmsg_len, sizeof(cmsg_len));
    memcpy(out + at + 8, &lv, sizeof(lv));
    memcpy(out + at + 12, &ty, sizeof(ty));
    memcpy(out + at + WIN_CMSG_HDR, data, len);
    size_t next = at + WIN_CMSG_ALIGN(need);
    return next < cap ? next : cap;
}

/* Appends one Linux control message; NULL if it does not fit. */
static struct cmsghdr *add_linux_control(wsk_io_impl *impl, size_t *out, int level, int type, const void *data,
                                         size_t len)
{
    if (*out + CMSG_SPACE(len) > sizeof(impl->control))
        return NULL;
    struct cmsghdr *c = (struct cmsghdr *)(void *)(impl->control + *out);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    *out += CMSG_SPACE(len);
    return c;
}

/* The ECN codepoint of an IP_ECN / IPV6_ECN send object goes into the low
 * two bits of the TOS / traffic class; the DSCP bits come from an IP_TOS /
 * IPV6_TCLASS object of the same send, else from the socket's setting
 * (Linux has no per-datagram ECN message, only the whole byte). */
typedef struct ecn_send {
    int codepoint;          /* -1: none given */
    size_t byte_at;         /* where the Linux TOS / TCLASS message's value is, when there is one */
    int has_byte;
} ecn_send;

static int merge_ecn(wsk_io_impl *impl, size_t *out, int fd, int level, const ecn_send *e)
{
    if (e->codepoint < 0)
        return 0;
    int lx_type = level == IPPROTO_IP ? IP_TOS : IPV6_TCLASS;
    int value = 0;
    if (e->has_byte) {
        memcpy(&value, impl->control + e->byte_at, sizeof(value));
    } else {
        socklen_t sl = sizeof(value);
        if (fd < 0 || getsockopt(fd, level, lx_type, &value, &sl) != 0 || value < 0)
            value = 0;
    }
    value = (value & ~3) | e->codepoint;
    if (e->has_byte) {
        memcpy(impl->control + e->byte_at, &value, sizeof(value));
        return 0;
    }
    return add_linux_control(impl, out, level, lx_type, &value, sizeof(value)) != NULL ? 0 : -EMSGSIZE;
}

int wsk_io_set_send_control(wsk_io *io, const void *win_control, size_t len, int fd)
{
    wsk_io_impl *impl = impl_of(io);
    const unsigned char *in = win_control;
    size_t at = 0, out = 0;
    ecn_send ecn4 = {-1, 0, 0}, ecn6 = {-1, 0, 0};
    impl->send_control_len = 0;
    memset(impl->control, 0, sizeof(impl->control));
    while (at < len) {
        size_t cmsg_len;
        int level, type;
        if (len - at < WIN_CMSG_HDR)
            return -EINVAL;
        memcpy(&cmsg_len, in + at, sizeof(cmsg_len));
        memcpy(&level, in + at + 8, sizeof(level));
        memcpy(&type, in + at + 12, sizeof(type));
        if (cmsg_len < WIN_CMSG_HDR || cmsg_len > len - at)
            return -EINVAL;
        const unsigned char *data = in + at + WIN_CMSG_HDR;
        size_t data_len = cmsg_len - WIN_CMSG_HDR;
        const int_control *ic = int_control_by_win(level, type);
        struct cmsghdr *c;
        if (data_len == 0 && ((level == IPPROTO_IP && type == WIN_IP_OPTIONS) ||
                              (level == IPPROTO_IPV6 && type == WIN_IPV6_RTHDR))) {
            /* Empty IP options / routing header: nothing to add to the
             * packet.  WireGuard-NT ends every send's control data with
             * one (docs/decisions.md, "Datagram sockets"). */
            at += WIN_CMSG_ALIGN(cmsg_len);
            continue;
        }
        if (level == IPPROTO_IP && type == WIN_IP_PKTINFO && data_len == 8) {
            struct in_pktinfo lin;
            unsigned int ifindex;
            memset(&lin, 0, sizeof(lin));
            memcpy(&lin.ipi_spec_dst, data, 4); /* Windows' ipi_addr: the source to use */
            memcpy(&ifindex, data + 4, 4);
            lin.ipi_ifindex = (int)ifindex;
            c = add_linux_control(impl, &out, IPPROTO_IP, IP_PKTINFO, &lin, sizeof(lin));
        } else if (level == IPPROTO_IPV6 && type == WIN_IPV6_PKTINFO && data_len == 20) {
            struct in6_pktinfo lin;
            unsigned int ifindex;
            memcpy(&lin.ipi6_addr, data, 16);
            memcpy(&ifindex, data + 16, 4);
            lin.ipi6_ifindex = ifindex;
            c = add_linux_control(impl, &out, IPPROTO_IPV6, IPV6_PKTINFO, &lin, sizeof(lin));
        } else if (type == WIN_IP_ECN && (level == IPPROTO_IP || level == IPPROTO_IPV6) && data_len == sizeof(int)) {
            int value;
            memcpy(&value, data, sizeof(value));
            if (value < 0 || value > 3)
                return -EINVAL; /* a codepoint is two bits */
            (level == IPPROTO_IP ? &ecn4 : &ecn6)->codepoint = value;
            at += WIN_CMSG_ALIGN(cmsg_len);
            continue; /* merged into the TOS / TCLASS below */
        } else if (level == WIN_IPPROTO_UDP && type == WIN_UDP_SEND_MSG_SIZE && data_len == sizeof(unsigned)) {
            /* Segmentation offload: the buffer leaves as datagrams of this
             * size (the last shorter); Linux's UDP_SEGMENT takes a u16. */
            unsigned size;
            memcpy(&size, data, sizeof(size));
            if (size == 0 || size > 0xFFFFu)
                return -EINVAL;
            uint16_t gso = (uint16_t)size;
            c = add_linux_control(impl, &out, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso));
        } else if (ic != NULL && data_len == sizeof(int)) {
            int value;
            memcpy(&value, data, sizeof(value));
            c = add_linux_control(impl, &out, ic->level, ic->lx_type, &value, sizeof(value));
            if (c != NULL && (ic->lx_type == IP_TOS || ic->lx_type == IPV6_TCLASS)) {
                ecn_send *e = ic->level == IPPROTO_IP ? &ecn4 : &ecn6;
                e->byte_at = (size_t)((unsigned char *)CMSG_DATA(c) - impl->control);
                e->has_byte = 1;
            }
        } else {
            return -EINVAL; /* a kind not translated, or a wrong size */
        }
        if (c == NULL)
            return -EMSGSIZE;
        at += WIN_CMSG_ALIGN(cmsg_len);
    }
    int e = merge_ecn(impl, &out, fd, IPPROTO_IP, &ecn4);
    if (e == 0)
        e = merge_ecn(impl, &out, fd, IPPROTO_IPV6, &ecn6);
    if (e != 0)
        return e;
    impl->send_control_len = out;
    return 0;
}

/* MSG_MCAST / MSG_BCAST for a datagram sent to this IPv4 address.  A
 * unicast datagram names the local address it reached twice in Linux's
 * in_pktinfo (ipi_addr == ipi_spec_dst); only the others need the list. */
static unsigned destination_flags4(const struct in_addr *a, const struct in_addr *local)
{
    uint32_t host = ntohl(a->s_addr);
    if (IN_MULTICAST(host))
        return WIN_MSG_MCAST;
    if (local != NULL && local->s_addr == a->s_addr)
        return 0;
    return wsk_io_is_broadcast4(a->s_addr) ? WIN_MSG_BCAST : 0;
}

/* wsk_io_received_control for one received message. */
static size_t received_control_of(const struct msghdr *received, unsigned wanted, void *win_out, size_t win_cap,
                                  int *truncated, unsigned *destination_flags)
{
    int keep_pktinfo = (wanted & WSK_IO_CONTROL_PKTINFO) != 0;
    struct msghdr msg = *received; /* the CMSG macros want a non-const header */
    int cut = 0; /* something did not fit in win_out (Linux's own MSG_CTRUNC is separate) */
    *destination_flags = 0;
    unsigned char *out = win_out;
    size_t cap = win_out != NULL ? win_cap : 0;
    size_t at = 0, used = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        const int_control *ic = int_control_by_linux(c->cmsg_level, c->cmsg_type);
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo lin;
            if (c->cmsg_len < CMSG_LEN(sizeof(lin)))
                continue; /* cut short by the kernel */
            memcpy(&lin, CMSG_DATA(c), sizeof(lin));
            *destination_flags = destination_flags4(&lin.ipi_addr, &lin.ipi_spec_dst);
            if (!keep_pktinfo)
                continue; /* read for the flags only: the client did not ask */
            unsigned char win[8]; /* ipi_addr, ipi_ifindex */
            unsigned int ifindex = (unsigned int)lin.ipi_ifindex;
            memcpy(win, &lin.ipi_addr, 4);
            memcpy(win + 4, &ifindex, 4);
            at = put_control(out, cap, at, IPPROTO_IP, WIN_IP_PKTINFO, win, sizeof(win), &cut);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo lin;
            if (c->cmsg_len < CMSG_LEN(sizeof(lin)))
                continue;
            memcpy(&lin, CMSG_DATA(c), sizeof(lin));
            if (IN6_IS_ADDR_MULTICAST(&lin.ipi6_addr)) {
                *destination_flags = WIN_MSG_MCAST;
            } else if (IN6_IS_ADDR_V4MAPPED(&lin.ipi6_addr)) {
                struct in_addr v4;
                memcpy(&v4, &lin.ipi6_addr.s6_addr[12], 4);
                *destination_flags = destination_flags4(&v4, NULL);
            }
            if (!keep_pktinfo)
                continue;
            unsigned char win[20]; /* ipi6_addr, ipi6_ifindex */
            unsigned int ifindex = lin.ipi6_ifindex;
            memcpy(win, &lin.ipi6_addr, 16);
            memcpy(win + 16, &ifindex, 4);
            at = put_control(out, cap, at, IPPROTO_IPV6, WIN_IPV6_PKTINFO, win, sizeof(win), &cut);
        } else if (ic != NULL) {
            /* Linux gives IP_TOS as one byte and the others as an int;
             * Windows has an INT for each. */
            int value = 0;
            if (c->cmsg_len == CMSG_LEN(1))
                value = *(const unsigned char *)CMSG_DATA(c);
            else if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
                memcpy(&value, CMSG_DATA(c), sizeof(value));
            /* The TOS / traffic class byte is read for the client's
             * IP_RECVTOS / IPV6_RECVTCLASS, its IP_RECVECN / IPV6_RECVECN
             * (the low two bits, as an IP_ECN / IPV6_ECN object), or both. */
            int is_v4 = ic->lx_type == IP_TOS, is_v6 = ic->lx_type == IPV6_TCLASS;
            if ((!is_v4 || (wanted & WSK_IO_CONTROL_TOS)) && (!is_v6 || (wanted & WSK_IO_CONTROL_TCLASS)))
                at = put_control(out, cap, at, ic->level, ic->win_type, &value, sizeof(value), &cut);
            if (!cut && ((is_v4 && (wanted & WSK_IO_CONTROL_ECN)) || (is_v6 && (wanted & WSK_IO_CONTROL_ECN6)))) {
                used = at; /* the TOS object, if any, fitted */
                int codepoint = value & 3;
                at = put_control(out, cap, at, ic->level, WIN_IP_ECN, &codepoint, sizeof(codepoint), &cut);
            }
        } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            /* A coalesced datagram: Windows' UDP_COALESCED_INFO holds the
             * size of the datagrams it was made of, as a DWORD. */
            int gso;
            memcpy(&gso, CMSG_DATA(c), sizeof(gso));
            unsigned size = (unsigned)gso;
            at = put_control(out, cap, at, WIN_IPPROTO_UDP, WIN_UDP_COALESCED_INFO, &size, sizeof(size), &cut);
        } else {
            continue; /* kinds without a Windows counterpart are left out */
        }
        if (!cut)
            used = at; /* whole objects only: after the first that did not fit, nothing more */
    }
    *truncated = cut || (received->msg_flags & MSG_CTRUNC) != 0;
    return used;
}

size_t wsk_io_received_control(const wsk_io *io, unsigned wanted, void *win_out, size_t win_cap, int *truncated,
                               unsigned *destination_flags)
{
    const wsk_io_impl *impl = (const wsk_io_impl *)(const void *)io->opaque;
    return received_control_of(&impl->msg, wanted, win_out, win_cap, truncated, destination_flags);
}

void wsk_io_poll_readable(wsk_io *io, int fd, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = io_prepare(io, IO_OP_POLL, fd, done, context);
    impl->op.poll_events = POLLIN;
    io_submit(&impl->op);
}

/* The Linux side of a batch receive: per engine thread, used only inside
 * one wsk_io_recv_batch call. */
typedef struct recv_batch_scratch {
    struct mmsghdr m[WSK_IO_BATCH_MAX];
    struct iovec iov[WSK_IO_BATCH_MAX];
    struct sockaddr_storage from[WSK_IO_BATCH_MAX];
    _Alignas(8) unsigned char control[WSK_IO_BATCH_MAX][160];
} recv_batch_scratch;

static _Thread_local recv_batch_scratch batch_scratch;

long wsk_io_recv_batch(int fd, wsk_io_dgram_in *d, size_t n, unsigned wanted)
{
    recv_batch_scratch *x = &batch_scratch;
    if (n > WSK_IO_BATCH_MAX)
        n = WSK_IO_BATCH_MAX;
    for (size_t i = 0; i < n; i++) {
        x->iov[i].iov_base = d[i].data;
        x->iov[i].iov_len = d[i].capacity;
        memset(&x->m[i], 0, sizeof(x->m[i]));
        x->m[i].msg_hdr.msg_iov = &x->iov[i];
        x->m[i].msg_hdr.msg_iovlen = 1;
        x->m[i].msg_hdr.msg_name = &x->from[i];
        x->m[i].msg_hdr.msg_namelen = sizeof(x->from[i]);
        x->m[i].msg_hdr.msg_control = x->control[i];
        x->m[i].msg_hdr.msg_controllen = sizeof(x->control[i]);
    }
    int got;
    do
        got = recvmmsg(fd, x->m, (unsigned)n, MSG_DONTWAIT, NULL);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    for (int i = 0; i < got; i++) {
        const struct msghdr *h = &x->m[i].msg_hdr;
        d[i].length = x->m[i].msg_len;
        d[i].truncated = (h->msg_flags & MSG_TRUNC) != 0;
        if (d[i].win_from != NULL)
            addr_to_windows(&x->from[i], d[i].win_from);
        d[i].control_length = received_control_of(h, wanted, d[i].win_control, d[i].control_capacity,
                                                  &d[i].control_cut, &d[i].destination_flags);
    }
    return got;
}

size_t wsk_io_received_from(const wsk_io *io, void *win_addr, int *truncated)
{
    const wsk_io_impl *impl = (const wsk_io_impl *)(const void *)io->opaque;
    *truncated = (impl->msg.msg_flags & MSG_TRUNC) != 0;
    return win_addr != NULL ? addr_to_windows(&impl->addr, win_addr) : 0;
}

void wsk_io_connect(wsk_io *io, int fd, const void *win_addr, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = io_prepare(io, IO_OP_CONNECT, fd, done, context);
    impl->op.addr = (struct sockaddr *)&impl->addr;
    impl->op.addr_len_in = addr_from_windows(win_addr, &impl->addr);
    io_submit(&impl->op);
}

void wsk_io_post(wsk_io *io, wsk_io_done done, void *context)
{
    wsk_io_impl *impl = io_prepare(io, IO_OP_CALL, -1, done, context);
    io_engine_post(&impl->op);
}

typedef struct wsk_post_impl {
    io_op op;
    wsk_io_done done;
    void *context;
} wsk_post_impl;

_Static_assert(sizeof(wsk_post_impl) <= WSK_POST_STORAGE_SIZE, "wsk_post storage too small");

static void post_block_trampoline(io_op *op, long result)
{
    (void)result;
    wsk_post_impl *p = (wsk_post_impl *)op;
    /* p may be reused by the callee: read everything first. */
    wsk_io_done done = p->done;
    void *context = p->context;
    done(NULL, context, 0, 0);
}

void wsk_io_post_block(wsk_post *post, wsk_io_done done, void *context)
{
    wsk_post_impl *p = (wsk_post_impl *)(void *)post->opaque;
    memset(&p->op, 0, sizeof(p->op));
    p->op.kind = IO_OP_CALL;
    p->op.fd = -1;
    p->op.complete = post_block_trampoline;
    p->done = done;
    p->context = context;
    io_engine_post(&p->op);
}

int wsk_io_cancel(wsk_io *io)
{
    return io_cancel(&impl_of(io)->op);
}

void wsk_io_forget_fd(int fd)
{
    io_engine_forget_fd(fd);
}

/* Interface broadcast addresses, read with getifaddrs at most once a
 * second: received datagrams are classified with them (MSG_BCAST) and a
 * netlink dump per datagram would cost more than the datagram. */
static pthread_mutex_t broadcast_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t broadcast_addresses[32];
static size_t broadcast_count;
static struct timespec broadcast_read_at;
static int broadcast_read;

static void broadcast_refresh_locked(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (broadcast_read && now.tv_sec - broadcast_read_at.tv_sec < 1)
        return;
    broadcast_read = 1;
    broadcast_read_at = now;
    broadcast_count = 0;
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *i = list; i != NULL && broadcast_count < 32; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_BROADCAST) ||
            i->ifa_broadaddr == NULL)
            continue;
        struct sockaddr_in b;
        memcpy(&b, i->ifa_broadaddr, sizeof(b));
        broadcast_addresses[broadcast_count++] = b.sin_addr.s_addr;
    }
    freeifaddrs(list);
}

int wsk_io_is_broadcast4(uint32_t address)
{
    if (address == htonl(INADDR_BROADCAST))
        return 1;
    int found = 0;
    pthread_mutex_lock(&broadcast_lock);
    broadcast_refresh_locked();
    for (size_t i = 0; i < broadcast_count && !found; i++)
        found = broadcast_addresses[i] == address;
    pthread_mutex_unlock(&broadcast_lock);
    return found;
}
