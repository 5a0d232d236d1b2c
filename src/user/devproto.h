/*
 * devproto.h - the messages between openwsk's user-mode library
 * (libopenwsk_user, CreateFile/DeviceIoControl/...) and wskhost's device
 * bridge.  Plain C types only: both ends are on the same host.
 *
 * Transport: one Unix-domain SOCK_SEQPACKET listening socket per exposed
 * name, in the abstract namespace:
 *     "openwsk/" [namespace "/"] "Device/" NAME     for \Device\NAME
 *     "openwsk/" [namespace "/"] "??/" NAME         for \DosDevices\NAME (\??\NAME)
 * NAME upper-cased (ASCII letters), UTF-8; namespace from the environment
 * variable OPENWSK_DEVICE_NAMESPACE (empty: none).  One connection is one
 * handle (one FILE_OBJECT): the first message is OPEN, the last CLOSE (or
 * the peer's end of file).  A request gets one reply; requests on one
 * connection are answered in the order their IRPs complete, matched by id.
 */
#ifndef OPENWSK_DEVPROTO_H
#define OPENWSK_DEVPROTO_H

#include <stdint.h>

#define DEVPROTO_PREFIX "openwsk/"
#define DEVPROTO_NAMESPACE_ENV "OPENWSK_DEVICE_NAMESPACE"
/* Largest input + output carried by one request: a SOCK_SEQPACKET message
 * must fit the socket's send buffer (net.core.wmem_max bounds it). */
#define DEVPROTO_MAX_TRANSFER (128u * 1024u)

enum devproto_op {
    DEVPROTO_OPEN = 1,  /* code: desired access; out_length: share access; offset: create options;
                           input: the rest of the path (UTF-16LE, e.g. "\sub"), may be empty */
    DEVPROTO_IOCTL = 2, /* code: I/O control code; input: in_length bytes, then for the methods
                           other than METHOD_BUFFERED the caller's out_length output bytes */
    DEVPROTO_READ = 3,  /* out_length: bytes to read; offset if DEVPROTO_F_OFFSET */
    DEVPROTO_WRITE = 4, /* input: the bytes; offset if DEVPROTO_F_OFFSET */
    DEVPROTO_CLOSE = 5, /* CloseHandle: the reply comes once IRP_MJ_CLEANUP completed */
    DEVPROTO_CANCEL = 6, /* CancelIoEx: offset = the id of the request to cancel, 0 for all;
                            no reply (the cancelled request's own reply follows) */
};

#define DEVPROTO_F_OFFSET 1u

struct devproto_request {
    uint32_t op;
    uint32_t code;
    uint32_t in_length;
    uint32_t out_length;
    uint64_t offset;
    uint64_t id;
    uint32_t flags;
    uint32_t reserved;
};

/* Followed by data_length bytes: the output buffer's new contents. */
struct devproto_reply {
    uint64_t id;
    int32_t status; /* NTSTATUS */
    uint32_t data_length;
    uint64_t information;
};

#endif /* OPENWSK_DEVPROTO_H */
