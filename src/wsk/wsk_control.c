/*
 * wsk_control.c - WskControlSocket: options the provider owns (address
 * sharing, IPV6_V6ONLY, conditional accept, security) and the transport
 * options passed to Linux with Windows values translated at the boundary
 * (wsk-part-b.md §8).
 */
#include "wsk_internal.h"

#include <errno.h>
#include <mstcpip.h>

#include "wsk_linux.h"

typedef struct control_result {
    NTSTATUS status;
    SIZE_T bytes; /* output bytes written */
} control_result;

static BOOLEAN read_bool(PVOID in, SIZE_T size, ULONG *out)
{
    if (in == NULL || size < sizeof(ULONG))
        return FALSE;
    __builtin_memcpy(out, in, sizeof(ULONG));
    return TRUE;
}

static control_result write_ulong(PVOID out, SIZE_T size, ULONG value)
{
    if (out == NULL || size < sizeof(ULONG))
        return (control_result){STATUS_BUFFER_TOO_SMALL, 0};
    __builtin_memcpy(out, &value, sizeof(value));
    return (control_result){STATUS_SUCCESS, sizeof(ULONG)};
}

static BOOLEAN is_before_bind_option(ULONG level, ULONG code)
{
    return (level == SOL_SOCKET && (code == SO_REUSEADDR || code == (ULONG)SO_EXCLUSIVEADDRUSE ||
                                    code == SO_CONDITIONAL_ACCEPT || code == SO_WSK_SECURITY)) ||
           (level == IPPROTO_IPV6 && code == IPV6_V6ONLY);
}

/* Options that WSK documents as needing an IRP (wsk-part-b.md §8.2). */
static BOOLEAN option_requires_irp(ULONG level, ULONG code)
{
    return level == SOL_SOCKET && (code == SO_REUSEADDR || code == (ULONG)SO_EXCLUSIVEADDRUSE ||
                                   code == SO_CONDITIONAL_ACCEPT || code == SO_WSK_SECURITY ||
                                   code == SO_KEEPALIVE || code == SO_BROADCAST || code == SO_RCVBUF);
}

/* Requests WSK documents as needing an IRP: the options above and the
 * ioctls of wsk-part-b.md §8.4 marked "required". */
static BOOLEAN request_requires_irp(WSK_CONTROL_SOCKET_TYPE type, ULONG level, ULONG code)
{
    if (type == WskSetOption || type == WskGetOption)
        return option_requires_irp(level, code);
    return type == WskIoctl && (code == SIO_WSK_QUERY_IDEAL_SEND_BACKLOG || code == SIO_WSK_SET_REMOTE_ADDRESS ||
                                code == SIO_WSK_SET_SENDTO_ADDRESS);
}

/* WskCloseSocket was called: it may still be waiting for a callback. */
static BOOLEAN socket_closing(wsk_socket *s)
{
    pthread_mutex_lock(&s->lock);
    BOOLEAN closing = s->closing;
    pthread_mutex_unlock(&s->lock);
    return closing;
}

/* IP_PKTINFO on an IPv4 / IPV6_PKTINFO on an IPv6 datagram socket: the
 * client's setting is kept here; Linux's may be on for the provider's own
 * needs too (wsk_socket.c, may_receive_broadcast). */
static BOOLEAN is_packet_info_option(const wsk_socket *s, ULONG level, ULONG code)
{
    return s->category == WSK_CATEGORY_DATAGRAM &&
           ((level == IPPROTO_IP && code == IP_PKTINFO && s->family == AF_INET) ||
            (level == IPPROTO_IPV6 && code == IPV6_PKTINFO && s->family == AF_INET6));
}

/* IP_RECVERR / IPV6_RECVERR: remembered, not passed to Linux.  Linux's
 * version queues ICMP errors on an error queue that keeps EPOLLERR raised
 * until read with MSG_ERRQUEUE; its control messages have no Windows
 * layout to be translated to, so the engine would spin on an error nobody
 * reads.  Errors still reach the client as the status of its next call. */
static BOOLEAN is_receive_errors_option(ULONG level, ULONG code)
{
    return (level == IPPROTO_IP && code == IP_RECVERR) || (level == IPPROTO_IPV6 && code == IPV6_RECVERR);
}

/* The datagram options that report the TOS / traffic class byte or its
 * ECN bits: IP_RECVTOS, IP_RECVECN (= IP_ECN), IPV6_RECVTCLASS, IPV6_RECVECN.
 * Linux reads the byte once for both; the provider keeps what the client
 * asked for and writes the objects it wants (wsk_dgram.c).  The IPPROTO_IP
 * pair also applies to an IPv6 socket (its IPv4-mapped traffic). */
static BOOLEAN *tos_option_flag(wsk_socket *s, ULONG level, ULONG code)
{
    if (s->category != WSK_CATEGORY_DATAGRAM)
        return NULL;
    if (level == IPPROTO_IP && code == IP_RECVTOS)
        return &s->recv_tos;
    if (level == IPPROTO_IP && code == IP_RECVECN)
        return &s->recv_ecn;
    if (level == IPPROTO_IPV6 && code == IPV6_RECVTCLASS && s->family == AF_INET6)
        return &s->recv_tclass;
    if (level == IPPROTO_IPV6 && code == IPV6_RECVECN && s->family == AF_INET6)
        return &s->recv_ecn6;
    return NULL;
}

/* UDP_RECV_MAX_COALESCED_SIZE: receive coalescing, Linux's UDP_GRO.  The
 * size is kept for get; Linux coalesces up to its own limit (64 KiB). */
static BOOLEAN is_coalescing_option(const wsk_socket *s, ULONG level, ULONG code)
{
    return level == IPPROTO_UDP && code == UDP_RECV_MAX_COALESCED_SIZE &&
           (s->category == WSK_CATEGORY_DATAGRAM || s->category == WSK_CATEGORY_BASIC);
}

static control_result set_tos_option(wsk_socket *s, ULONG level, BOOLEAN *flag, SIZE_T in_size, PVOID in)
{
    ULONG v;
    if (!read_bool(in, in_size, &v))
        return (control_result){STATUS_INVALID_PARAMETER, 0};
    BOOLEAN ipv6 = level == IPPROTO_IPV6;
    BOOLEAN was = ipv6 ? (s->recv_tclass || s->recv_ecn6) : (s->recv_tos || s->recv_ecn);
    BOOLEAN old = *flag;
    *flag = v != 0;
    BOOLEAN now = ipv6 ? (s->recv_tclass || s->recv_ecn6) : (s->recv_tos || s->recv_ecn);
    if (now != was) {
        int r = lx_receive_tos(s->fd, ipv6, now);
        if (r != 0) {
            *flag = old;
            return (control_result){wsk_status_from_errno(-r), 0};
        }
    }
    return (control_result){STATUS_SUCCESS, 0};
}

static control_result set_option(wsk_socket *s, ULONG level, ULONG code, SIZE_T in_size, PVOID in)
{
    ULONG v;
    if (is_before_bind_option(level, code) && s->bound)
        return (control_result){STATUS_INVALID_DEVICE_STATE, 0};
    if (level == SOL_SOCKET) {
        switch (code) {
        case SO_REUSEADDR:
            if (!read_bool(in, in_size, &v))
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            if (v && s->exclusive_addr) /* the two are mutually exclusive, as in Winsock */
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            s->reuse_addr = v != 0;
            return (control_result){STATUS_SUCCESS, 0};
        case (ULONG)SO_EXCLUSIVEADDRUSE:
            if (!read_bool(in, in_size, &v))
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            if (v && s->reuse_addr)
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            s->exclusive_addr = v != 0;
            return (control_result){STATUS_SUCCESS, 0};
        case SO_CONDITIONAL_ACCEPT:
            if (s->category != WSK_CATEGORY_LISTEN && s->category != WSK_CATEGORY_STREAM)
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            if (!read_bool(in, in_size, &v))
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            if (v != 0 && !wsk_socket_posts_ensure_locked(s)) /* its feeder may need a retry (wsk_internal.h) */
                return (control_result){STATUS_INSUFFICIENT_RESOURCES, 0};
            s->conditional_accept = v != 0;
            return (control_result){STATUS_SUCCESS, 0};
        case SO_REUSE_UNICASTPORT:
        case SO_PORT_SCALABILITY:
            /* Port allocation hints for connecting sockets (Winsock's
             * "SOL_SOCKET socket options"): accepted and remembered, with
             * no effect on the ports WskBind chooses (docs/decisions.md). */
            if (!read_bool(in, in_size, &v))
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            *(code == SO_REUSE_UNICASTPORT ? &s->reuse_unicast_port : &s->port_scalability) = v != 0;
            return (control_result){STATUS_SUCCESS, 0};
        case SO_WSK_SECURITY:
            if (in == NULL || in_size != sizeof(PSECURITY_DESCRIPTOR))
                return (control_result){STATUS_INVALID_PARAMETER, 0};
            __builtin_memcpy(&s->security, in, sizeof(PSECURITY_DESCRIPTOR));
            return (control_result){STATUS_SUCCESS, 0};
        }
    }
    if (level == IPPROTO_IPV6 && code == IPV6_V6ONLY) {
        if (s->family != AF_INET6)
            return (control_result){STATUS_INVALID_PARAMETER, 0};
        if (!read_bool(in, in_size, &v))
            return (control_result){STATUS_INVALID_PARAMETER, 0};
        s->v6only = v != 0;
        return (control_result){STATUS_SUCCESS, 0};
    }
    if (is_receive_errors_option(level, code)) {
        if (!read_bool(in, in_size, &v))
            return (control_result){STATUS_INVALID_PARAMETER, 0};
        s->recv_errors = v != 0;
        return (control_result){STATUS_SUCCESS, 0};
    }
    BOOLEAN *tos_flag = tos_option_flag(s, level, code);
    if (tos_flag != NULL)
        return set_tos_option(s, level, tos_flag, in_size, in);
    if (is_coalescing_option(s, level, code)) {
        if (!read_bool(in, in_size, &v))
            return (control_result){STATUS_INVALID_PARAMETER, 0};
        int r = lx_receive_coalesced(s->fd, v != 0);
        if (r != 0)
            return (control_result){wsk_status_from_errno(-r), 0};
        s->max_coalesced = v;
        return (control_result){STATUS_SUCCESS, 0};
    }
    if (is_packet_info_option(s, level, code)) {
        if (!read_bool(in, in_size, &v))
            return (control_result){STATUS_INVALID_PARAMETER, 0};
        if (v && !s->pktinfo_on) {
            int r = lx_enable_packet_info(s->fd, s->family);
            if (r != 0)
                return (control_result){wsk_status_from_errno(-r), 0};
            s->pktinfo_on = TRUE;
        }
        s->pktinfo_wanted = v != 0; /* off: Linux keeps it on if it was; the object is left out */
        return (control_result){STATUS_SUCCESS, 0};
    }
    if (in == NULL && in_size != 0)
        return (control_result){STATUS_INVALID_PARAMETER, 0};
    int r = lx_set_option(s->fd, level, code, in, in_size, s->listening);
    if (r == -EINVAL)
        return (control_result){STATUS_INVALID_PARAMETER, 0};
    return (control_result){r == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-r), 0};
}

static control_result get_option(wsk_socket *s, ULONG level, ULONG code, SIZE_T out_size, PVOID out)
{
    if (level == SOL_SOCKET) {
        switch (code) {
        case SO_REUSEADDR:
            return write_ulong(out, out_size, s->reuse_addr);
        case (ULONG)SO_EXCLUSIVEADDRUSE:
            return write_ulong(out, out_size, s->exclusive_addr);
        case SO_CONDITIONAL_ACCEPT:
            return write_ulong(out, out_size, s->conditional_accept);
        case SO_REUSE_UNICASTPORT:
            return write_ulong(out, out_size, s->reuse_unicast_port);
        case SO_PORT_SCALABILITY:
            return write_ulong(out, out_size, s->port_scalability);
        case SO_WSK_SECURITY:
            if (out == NULL || out_size < sizeof(PSECURITY_DESCRIPTOR))
                return (control_result){STATUS_BUFFER_TOO_SMALL, 0};
            {
                /* A cached copy the client releases with WSK_RELEASE_SD (NULL: the default). */
                PSECURITY_DESCRIPTOR copy = s->security != NULL ? wsk_cache_security(s->security) : NULL;
                if (s->security != NULL && copy == NULL)
                    return (control_result){STATUS_INSUFFICIENT_RESOURCES, 0};
                __builtin_memcpy(out, &copy, sizeof(PSECURITY_DESCRIPTOR));
            }
            return (control_result){STATUS_SUCCESS, sizeof(PSECURITY_DESCRIPTOR)};
        case SO_WSK_EVENT_CALLBACK:
            return (control_result){STATUS_INVALID_PARAMETER, 0}; /* set-only */
        }
    }
    if (level == IPPROTO_IPV6 && code == IPV6_V6ONLY) {
        if (s->family != AF_INET6)
            return (control_result){STATUS_INVALID_PARAMETER, 0};
        return write_ulong(out, out_size, s->v6only);
    }
    if (is_receive_errors_option(level, code))
        return write_ulong(out, out_size, s->recv_errors);
    if (is_packet_info_option(s, level, code))
        return write_ulong(out, out_size, s->pktinfo_wanted);
    BOOLEAN *tos_flag = tos_option_flag(s, level, code);
    if (tos_flag != NULL)
        return write_ulong(out, out_size, *tos_flag);
    if (is_coalescing_option(s, level, code))
        return write_ulong(out, out_size, s->max_coalesced);
    if (out == NULL)
        return (control_result){STATUS_BUFFER_TOO_SMALL, 0};
    size_t len = out_size;
    int r = lx_get_option(s->fd, level, code, out, &len);
    if (r == -EFAULT)
        return (control_result){STATUS_BUFFER_TOO_SMALL, 0};
    if (r != 0)
        return (control_result){wsk_status_from_errno(-r), 0};
    return (control_result){STATUS_SUCCESS, len};
}

/* SIO_KEEPALIVE_VALS (Winsock's page of that name): struct tcp_keepalive
 * {onoff, keepalivetime, keepaliveinterval} in milliseconds, on a TCP
 * socket.  Times are ignored when onoff is 0. */
static NTSTATUS keepalive_values(wsk_socket *s, SIZE_T size, PVOID in)
{
    if (s->category == WSK_CATEGORY_DATAGRAM)
        return STATUS_INVALID_DEVICE_REQUEST;
    struct tcp_keepalive k;
    if (in == NULL || size < sizeof(k))
        return STATUS_INVALID_PARAMETER;
    __builtin_memcpy(&k, in, sizeof(k));
    int r = lx_keepalive_values(s->fd, k.onoff, k.keepalivetime, k.keepaliveinterval);
    return r == 0 ? STATUS_SUCCESS : wsk_status_from_errno(-r);
}

NTSTATUS WSKAPI wsk_control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType, ULONG ControlCode,
                                   ULONG Level, SIZE_T InputSize, PVOID InputBuffer, SIZE_T OutputSize,
                                   PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
    if (openwsk_verifying(OPENWSK_VERIFY_WSK))
        wsk_verify_op(Socket, ~0u, "WskControlSocket");
    wsk_socket *s = wsk_socket_from(Socket);
    control_result res;
    if (s != NULL && Irp == NULL && request_requires_irp(RequestType, Level, ControlCode))
        return STATUS_INVALID_PARAMETER; /* documented: IRP required */
    if (s == NULL) {
        res = (control_result){STATUS_INVALID_HANDLE, 0};
    } else if (socket_closing(s)) {
        /* A call after WskCloseSocket, which the PFN_WSK_CLOSE_SOCKET page
         * forbids, while the close still waits: refused as on a socket that
         * no longer works, like every other call (docs/decisions.md). */
        res = (control_result){STATUS_FILE_FORCED_CLOSED, 0};
    } else if (RequestType == WskSetOption || RequestType == WskGetOption) {
        if (RequestType == WskSetOption && Level == SOL_SOCKET && ControlCode == SO_WSK_EVENT_CALLBACK) {
            /* Takes the socket lock itself; a disable may hold the IRP until a running callback returns. */
            if (InputBuffer == NULL || InputSize < sizeof(WSK_EVENT_CALLBACK_CONTROL)) {
                res = (control_result){STATUS_INVALID_PARAMETER, 0};
            } else {
                res = (control_result){wsk_conn_set_event_callbacks(s, InputBuffer, Irp), 0};
                if (res.status == STATUS_PENDING)
                    return STATUS_PENDING;
            }
        } else {
            pthread_mutex_lock(&s->lock);
            res = RequestType == WskSetOption ? set_option(s, Level, ControlCode, InputSize, InputBuffer)
                                              : get_option(s, Level, ControlCode, OutputSize, OutputBuffer);
            pthread_mutex_unlock(&s->lock);
        }
    } else if (RequestType == WskIoctl) {
        if (ControlCode == SIO_WSK_QUERY_IDEAL_SEND_BACKLOG || ControlCode == SIO_WSK_QUERY_RECEIVE_BACKLOG) {
            SIZE_T value = 0;
            if (OutputBuffer == NULL || OutputSize < sizeof(SIZE_T)) {
                res = (control_result){STATUS_BUFFER_TOO_SMALL, 0};
            } else {
                pthread_mutex_lock(&s->lock);
                res.status = wsk_conn_query_backlog(s, ControlCode, &value);
                pthread_mutex_unlock(&s->lock);
                res.bytes = NT_SUCCESS(res.status) ? sizeof(SIZE_T) : 0;
                if (NT_SUCCESS(res.status))
                    __builtin_memcpy(OutputBuffer, &value, sizeof(value));
            }
        } else if (ControlCode == SIO_WSK_SET_REMOTE_ADDRESS || ControlCode == SIO_WSK_SET_SENDTO_ADDRESS) {
            pthread_mutex_lock(&s->lock);
            res = (control_result){wsk_dgram_set_fixed_address(s, ControlCode, InputSize, InputBuffer), 0};
            pthread_mutex_unlock(&s->lock);
        } else if (ControlCode == SIO_QUERY_RSS_SCALABILITY_INFO) {
            /* RssEnabled FALSE: datagram indications come from the provider's
             * I/O threads, not from per-processor receive queues, so a client
             * gains nothing from one socket per processor (MsQuic then uses
             * one) (docs/decisions.md). */
            RSS_SCALABILITY_INFO info = {FALSE};
            if (OutputBuffer == NULL || OutputSize < sizeof(info)) {
                res = (control_result){STATUS_BUFFER_TOO_SMALL, 0};
            } else {
                __builtin_memcpy(OutputBuffer, &info, sizeof(info));
                res = (control_result){STATUS_SUCCESS, sizeof(info)};
            }
        } else if (ControlCode == SIO_KEEPALIVE_VALS) {
            pthread_mutex_lock(&s->lock);
            res = (control_result){keepalive_values(s, InputSize, InputBuffer), 0};
            pthread_mutex_unlock(&s->lock);
        } else if (ControlCode == SIO_WSK_QUERY_INSPECT_ID && Irp != NULL) {
            /* Documented to take no IRP (SIO_WSK_QUERY_INSPECT_ID).  One given
             * anyway fails the call, and a failed call completes its IRP
             * (PFN_WSK_CONTROL_SOCKET): completed below. */
            res = (control_result){STATUS_INVALID_PARAMETER, 0};
        } else if (ControlCode == SIO_WSK_QUERY_INSPECT_ID) {
            /* The size comes back through OutputSizeReturned. */
            if (OutputSizeReturned == NULL)
                return STATUS_INVALID_PARAMETER;
            if (!s->has_inspect_id)
                return STATUS_INVALID_DEVICE_REQUEST;
            if (OutputBuffer == NULL || OutputSize < sizeof(WSK_INSPECT_ID))
                return STATUS_BUFFER_TOO_SMALL;
            __builtin_memcpy(OutputBuffer, &s->inspect_id, sizeof(WSK_INSPECT_ID));
            *OutputSizeReturned = sizeof(WSK_INSPECT_ID);
            return STATUS_SUCCESS;
        } else {
            res = (control_result){STATUS_NOT_SUPPORTED, 0}; /* other SIO_WSK_* ioctls: issue 5 */
        }
    } else {
        res = (control_result){STATUS_INVALID_PARAMETER, 0};
    }
    if (Irp == NULL) {
        if (OutputSizeReturned != NULL)
            *OutputSizeReturned = res.bytes;
        return res.status;
    }
    return wsk_irp_complete_call(s != NULL ? s->client : NULL, Irp, res.status, res.bytes, "WskControlSocket");
}
