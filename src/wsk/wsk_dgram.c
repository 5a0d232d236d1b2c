/*
 * wsk_dgram.c - datagram sockets (wsk-part-b.md §7): WskSendTo,
 * WskReceiveFrom and the fixed addresses of SIO_WSK_SET_REMOTE_ADDRESS /
 * SIO_WSK_SET_SENDTO_ADDRESS.  One call is one datagram; requests use the
 * same per-socket machinery as the connection calls (wsk_conn.c).
 */
#include "wsk_internal.h"

#include "wsk_linux.h"

/* The checks every datagram call shares; on failure the IRP is completed
 * and *result holds what the call returns. */
static wsk_socket *dgram_op_socket(PWSK_SOCKET Socket, ULONG Flags, PWSK_BUF Buffer, PIRP Irp, NTSTATUS *result)
{
    wsk_socket *s = wsk_socket_from(Socket);
    NTSTATUS refusal = s == NULL                                ? STATUS_INVALID_HANDLE
                       : s->closing                             ? STATUS_FILE_FORCED_CLOSED
                       : s->category != WSK_CATEGORY_DATAGRAM   ? STATUS_INVALID_DEVICE_REQUEST
                       : Flags != 0 || Buffer == NULL           ? STATUS_INVALID_PARAMETER
                       : !s->bound                              ? STATUS_INVALID_DEVICE_STATE
                                                                : STATUS_SUCCESS;
    if (refusal == STATUS_SUCCESS)
        return s;
    *result = wsk_irp_complete_now(Irp, refusal, 0);
    return NULL;
}

/* Takes a request with the buffer's segments; NULL with the IRP completed. */
static wsk_req *dgram_request_locked(wsk_socket *s, PWSK_BUF Buffer, PIRP Irp, wsk_req_kind kind, NTSTATUS *result)
{
    ULONG segments = 0;
    NTSTATUS status = wsk_buf_count_segments(Buffer, &segments);
    wsk_req *r = NT_SUCCESS(status) ? wsk_req_take_locked(s, segments) : NULL;
    if (NT_SUCCESS(status) && r == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (r != NULL && segments > 0 && !NT_SUCCESS(status = wsk_buf_fill_segments(Buffer, (wsk_segment *)r->seg, segments))) {
        wsk_req_release_locked(s, r);
        r = NULL;
    }
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        *result = wsk_irp_complete_now(Irp, status, 0);
        return NULL;
    }
    r->kind = kind;
    r->flags = 0;
    r->wanted = Buffer->Length;
    return r;
}

NTSTATUS WSKAPI wsk_dgram_send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                  ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS result;
    wsk_socket *s = dgram_op_socket(Socket, Flags, Buffer, Irp, &result);
    if (s == NULL)
        return result;
    if ((ControlInfoLength != 0) != (ControlInfo != NULL))
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0);
    if (ControlInfoLength != 0)
        return wsk_irp_complete_now(Irp, STATUS_NOT_SUPPORTED, 0); /* control data on sends: not yet */
    if (RemoteAddress != NULL && RemoteAddress->sa_family != s->family)
        return wsk_irp_complete_now(Irp, STATUS_INVALID_ADDRESS, 0);
    pthread_mutex_lock(&s->lock);
    /* NULL: the fixed destination; the connected peer needs no address. */
    const void *to = RemoteAddress != NULL ? (const void *)RemoteAddress
                     : s->has_remote_addr  ? NULL
                     : s->has_sendto_addr  ? (const void *)&s->sendto_addr
                                           : NULL;
    if (RemoteAddress == NULL && !s->has_remote_addr && !s->has_sendto_addr) {
        pthread_mutex_unlock(&s->lock);
        return wsk_irp_complete_now(Irp, STATUS_INVALID_PARAMETER, 0); /* nowhere to send */
    }
    wsk_req *r = dgram_request_locked(s, Buffer, Irp, WSK_REQ_SEND_TO, &result);
    if (r == NULL)
        return result;
    wsk_req_pend_locked(s, r, Irp);
    wsk_io_send_to(&r->io, s->fd, r->seg, r->seg_count, to, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

NTSTATUS WSKAPI wsk_dgram_receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                                       PULONG ControlLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    (void)ControlInfo; /* no control data is requested yet: nothing is written there */
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS result;
    wsk_socket *s = dgram_op_socket(Socket, Flags, Buffer, Irp, &result);
    if (s == NULL)
        return result;
    pthread_mutex_lock(&s->lock);
    wsk_req *r = dgram_request_locked(s, Buffer, Irp, WSK_REQ_RECEIVE_FROM, &result);
    if (r == NULL)
        return result;
    r->remote_out = RemoteAddress;
    r->control_length_out = ControlLength;
    r->control_flags_out = ControlFlags;
    wsk_req_pend_locked(s, r, Irp);
    wsk_io_recv_from(&r->io, s->fd, r->seg, r->seg_count, wsk_req_io_done, r);
    wsk_req_after_submit_locked(r);
    pthread_mutex_unlock(&s->lock);
    return STATUS_PENDING;
}

NTSTATUS wsk_dgram_set_fixed_address(wsk_socket *s, ULONG code, SIZE_T size, PVOID address)
{
    if (s->category != WSK_CATEGORY_DATAGRAM)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (!s->bound)
        return STATUS_INVALID_DEVICE_STATE; /* only after WskBind (wsk-part-b.md §7.6) */
    BOOLEAN clear = address == NULL && size == 0;
    if (!clear && (address == NULL || size < wsk_sockaddr_size(s->family) ||
                   ((PSOCKADDR)address)->sa_family != s->family))
        return STATUS_INVALID_PARAMETER;
    if (code == SIO_WSK_SET_REMOTE_ADDRESS || s->has_remote_addr) {
        /* The remote address filters what arrives: the Linux socket is
         * connected to it (or no longer connected). */
        BOOLEAN connect_it = code == SIO_WSK_SET_REMOTE_ADDRESS && !clear;
        int e = lx_datagram_connect(s->fd, connect_it ? address : NULL);
        if (e != 0 && connect_it)
            return wsk_status_from_errno(-e);
        s->has_remote_addr = connect_it;
    }
    s->has_sendto_addr = !clear;
    if (!clear)
        __builtin_memcpy(&s->sendto_addr, address, wsk_sockaddr_size(s->family));
    return STATUS_SUCCESS;
}
