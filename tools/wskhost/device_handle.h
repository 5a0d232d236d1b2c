/*
 * device_handle.h - what the device bridge keeps per handle and per
 * request, shared by device_bridge.c (connections, replies, the handle's
 * life) and device_requests.c (IRPs built the way the I/O manager does).
 * The bridge thread owns this state; only refs and cancel_flags are shared
 * with the dispatch threads.
 */
#ifndef WSKHOST_DEVICE_HANDLE_H
#define WSKHOST_DEVICE_HANDLE_H

#include <ntddk.h>
#include <openwsk_runtime.h>

#include "device_dispatch.h"
#include "devproto.h"

#include <stddef.h>
#include <stdint.h>

#define BRIDGE_TAG TAG_FROM_CHARS('B', 'r', 'd', 'g')
#define FILE_TAG TAG_FROM_CHARS('F', 'i', 'l', 'e')

enum { KIND_WAKE, KIND_LISTENER, KIND_CONN };

enum conn_state { C_NEW, C_OPENING, C_OPEN, C_CLOSING, C_DONE };

typedef struct conn {
    int kind;
    int fd;           /* -1 once the peer is gone */
    int state;
    int peer_gone;    /* end of file without CloseHandle: cancel first */
    int denied;       /* another user: every open is refused */
    int cleanup_sent, cleanup_done, close_sent;
    uint64_t close_id; /* the CLOSE request awaiting the end of CLEANUP */
    int close_requested;
    int close_reply_after_close; /* nothing was in flight at CLEANUP: CloseHandle waits for CLOSE too */
    char dir[8];
    char name[256];
    PDEVICE_OBJECT device;
    PFILE_OBJECT file;
    ACCESS_MASK granted;
    LIST_ENTRY pending; /* bridge_req.conn_entry, IRPs in flight */
    ULONG inflight;
    dispatcher *dispatcher; /* calls the driver for this handle's IRPs */
    struct conn *next;
} conn;

typedef struct bridge_req {
    LIST_ENTRY conn_entry;
    LIST_ENTRY done_entry;
    dispatch_item dispatch;
    LONG refs;           /* the IRP's completion and IoCallDriver's return */
    LONG cancel_flags;   /* REQ_RETURNED, REQ_CANCEL: see req_cancel */
    conn *c;
    PIRP irp;
    uint64_t id;
    UCHAR major;
    ULONG method;        /* METHOD_* for ioctls; for read/write the device's buffering */
    ULONG out_length;
    PVOID system_buffer;
    PVOID out_copy;      /* direct and neither: the caller's output buffer */
    PVOID in_copy;       /* neither: Type3InputBuffer */
    PMDL mdl;
    LARGE_INTEGER offset;
    IO_SECURITY_CONTEXT security;
} bridge_req;

/* Replies to request id of the handle (nothing if the caller is gone). */
void bridge_reply(conn *c, uint64_t id, NTSTATUS status, uint64_t information, const void *data, size_t n);
/* An IRP of the handle with its next stack location set for major. */
bridge_req *bridge_req_new(conn *c, UCHAR major, uint64_t id);
void bridge_req_free(bridge_req *r);
/* Hands the IRP to the handle's dispatch thread; the reply follows when it
 * completed and its dispatch routine returned. */
void bridge_req_send(bridge_req *r);

/* CreateFile, DeviceIoControl, ReadFile / WriteFile (device_requests.c). */
void bridge_open(conn *c, const struct devproto_request *q, const uint8_t *payload);
void bridge_ioctl(conn *c, const struct devproto_request *q, const uint8_t *payload);
void bridge_read_write(conn *c, const struct devproto_request *q, const uint8_t *payload);

#endif /* WSKHOST_DEVICE_HANDLE_H */
