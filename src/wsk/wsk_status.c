/*
 * wsk_status.c - Linux errno to the NTSTATUS Windows' transport reports
 * (wsk-part-b.md §12.3, adjusted where WSK observations differ).
 */
#include "wsk_internal.h"

#include <errno.h>

NTSTATUS wsk_status_from_errno(int err)
{
    switch (err) {
    case 0: return STATUS_SUCCESS;
    case EBADF: return STATUS_INVALID_HANDLE;
    case EPERM:
    case EACCES: return STATUS_ACCESS_DENIED;
    case EFAULT: return STATUS_ACCESS_VIOLATION;
    case EINVAL: return STATUS_INVALID_PARAMETER;
    case ENFILE:
    case EMFILE: return STATUS_TOO_MANY_OPENED_FILES;
    case ENOMEM:
    case ENOBUFS: return STATUS_INSUFFICIENT_RESOURCES;
    case EALREADY: return STATUS_NETWORK_BUSY;
    case ENOTSOCK: return STATUS_OBJECT_TYPE_MISMATCH;
    case EDESTADDRREQ: return STATUS_INVALID_CONNECTION;
    case EMSGSIZE: return STATUS_BUFFER_OVERFLOW;
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
    case EPFNOSUPPORT:
    case EAFNOSUPPORT:
    case EPROTOTYPE:
    case EOPNOTSUPP: return STATUS_NOT_SUPPORTED;
    case ENOPROTOOPT: return STATUS_NOT_SUPPORTED;
    /* Windows reports a port conflict as "already exists" (wsk-part-a.md §5.6). */
    case EADDRINUSE: return STATUS_ADDRESS_ALREADY_EXISTS;
    case EADDRNOTAVAIL: return STATUS_INVALID_ADDRESS_COMPONENT;
    case ECONNREFUSED: return STATUS_CONNECTION_REFUSED;
    case ESHUTDOWN: return STATUS_PIPE_DISCONNECTED;
    case ENOTCONN: return STATUS_INVALID_CONNECTION;
    case ETIMEDOUT: return STATUS_IO_TIMEOUT;
    case ENETUNREACH: return STATUS_NETWORK_UNREACHABLE;
    case EHOSTUNREACH: return STATUS_HOST_UNREACHABLE;
    case ENETDOWN: return STATUS_NETWORK_BUSY;
    case EPIPE:
    case ECONNRESET: return STATUS_CONNECTION_RESET;
    case ECONNABORTED: return STATUS_CONNECTION_ABORTED;
    case EISCONN: return STATUS_CONNECTION_ACTIVE;
    case ECANCELED: return STATUS_CANCELLED;
    default: return STATUS_UNSUCCESSFUL;
    }
}
