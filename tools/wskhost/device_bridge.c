/*
 * device_bridge.c - the I/O manager's half of CreateFile, DeviceIoControl,
 * ReadFile, WriteFile and CloseHandle for processes outside wskhost.
 *
 * Every name the driver puts in \Device or \DosDevices gets a listening
 * SOCK_SEQPACKET socket in the abstract namespace (src/user/devproto.h);
 * a connection is a handle and owns one FILE_OBJECT.  One bridge thread
 * accepts, reads requests and builds IRPs (device_requests.c) the way the
 * I/O manager does, and each handle's dispatch thread (device_dispatch.h)
 * sends them to the driver, so callers on different handles run dispatch
 * routines at once:
 *   - IRP_MJ_CREATE with the FILE_OBJECT and Parameters.Create
 *     (SecurityContext->DesiredAccess, Options, ShareAccess);
 *   - IRP_MJ_DEVICE_CONTROL by the method bits of the code ("Buffer
 *     Descriptions for I/O Control Codes"): METHOD_BUFFERED one SystemBuffer
 *     of max(in, out), METHOD_IN/OUT_DIRECT the input in SystemBuffer and an
 *     MDL for the output buffer, METHOD_NEITHER Type3InputBuffer and
 *     UserBuffer; the code's access bits are checked against the handle's;
 *   - IRP_MJ_READ / IRP_MJ_WRITE by the device's DO_BUFFERED_IO /
 *     DO_DIRECT_IO flags ("Using Buffered I/O", "Using Direct I/O",
 *     "Using Neither Buffered Nor Direct I/O");
 *   - IRP_MJ_CLEANUP then, once every IRP of the handle completed,
 *     IRP_MJ_CLOSE ("IRP_MJ_CLEANUP", "IRP_MJ_CLOSE").
 * The user's buffers are local copies (the caller lives in another
 * process); what the driver wrote goes back in the reply.
 *
 * Each IRP carries a completion routine that returns
 * STATUS_MORE_PROCESSING_REQUIRED; once the IRP completed and its dispatch
 * routine returned, it is queued back to the bridge thread, which replies.
 * The bridge thread alone owns the handles' state (pending lists, CLEANUP
 * and CLOSE ordering), so neither a pended IRP nor a dispatch routine that
 * waits blocks other handles.  When a caller's connection ends without a
 * CloseHandle (the process died), its pending IRPs are cancelled with
 * IoCancelIrp, as thread rundown does on Windows, then CLEANUP and CLOSE
 * follow.
 */
#define _GNU_SOURCE
#include <ntddk.h>
#include <openwsk_runtime.h>

#include "device_bridge.h"
#include "device_handle.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct listener {
    int kind;
    int fd;
    int dead;
    struct listener *next;
    char dir[8];
    char name[256];
} listener;

static struct {
    int epoll_fd;
    int wake_fd;
    int wake_kind;
    pthread_t thread;
    int running;
    int serving;            /* DriverEntry returned: listeners are polled */
    pthread_mutex_t lock;   /* listeners, done queue, stopping */
    listener *listeners;
    LIST_ENTRY done;
    int stopping;
    int stop_seen;
    conn *conns;
    uint64_t *rx;           /* receive buffer, 8-byte aligned */
    size_t rx_size;
    char ns[128];
} B = {.epoll_fd = -1, .wake_fd = -1, .wake_kind = KIND_WAKE, .lock = PTHREAD_MUTEX_INITIALIZER};

static void wake(void)
{
    uint64_t one = 1;
    ssize_t n = write(B.wake_fd, &one, sizeof(one));
    (void)n;
}

/* ---- names: one listening socket per exposed name ---- */

static socklen_t socket_address(struct sockaddr_un *sa, const char *dir, const char *name)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, DEVPROTO_PREFIX "%s%s%s/%s", B.ns,
                     B.ns[0] ? "/" : "", dir, name);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1)
        return 0;
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static NTSTATUS name_added(PVOID context, const char *dir, const char *name)
{
    (void)context;
    struct sockaddr_un sa;
    socklen_t len = socket_address(&sa, dir, name);
    if (len == 0 || strlen(name) >= sizeof(((listener *)0)->name))
        return STATUS_OBJECT_NAME_INVALID;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        int err = errno;
        close(fd);
        /* Another process (another wskhost) holds the name. */
        return err == EADDRINUSE ? STATUS_OBJECT_NAME_COLLISION : STATUS_INSUFFICIENT_RESOURCES;
    }
    listener *l = calloc(1, sizeof(*l));
    if (l == NULL || listen(fd, 64) != 0) {
        free(l);
        close(fd);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    l->kind = KIND_LISTENER;
    l->fd = fd;
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    snprintf(l->name, sizeof(l->name), "%s", name);
    pthread_mutex_lock(&B.lock);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (B.running && B.serving)
        epoll_ctl(B.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    l->next = B.listeners;
    B.listeners = l;
    pthread_mutex_unlock(&B.lock);
    return STATUS_SUCCESS;
}

/* The socket goes at once (no new opens); the memory when the bridge
 * thread is past any event that may name it. */
static void name_removed(PVOID context, const char *dir, const char *name)
{
    (void)context;
    pthread_mutex_lock(&B.lock);
    for (listener *l = B.listeners; l != NULL; l = l->next) {
        if (!l->dead && strcmp(l->dir, dir) == 0 && strcmp(l->name, name) == 0) {
            if (B.running && B.serving)
                epoll_ctl(B.epoll_fd, EPOLL_CTL_DEL, l->fd, NULL);
            close(l->fd);
            l->fd = -1;
            l->dead = 1;
            break;
        }
    }
    pthread_mutex_unlock(&B.lock);
}

static void free_dead_listeners(int all)
{
    pthread_mutex_lock(&B.lock);
    for (listener **p = &B.listeners; *p != NULL;) {
        listener *l = *p;
        if (l->dead || all) {
            if (l->fd >= 0)
                close(l->fd);
            *p = l->next;
            free(l);
        } else {
            p = &l->next;
        }
    }
    pthread_mutex_unlock(&B.lock);
}

/* ---- replies ---- */

static void conn_gone(conn *c);
static void conn_free(conn *c);

void bridge_reply(conn *c, uint64_t id, NTSTATUS status, uint64_t information, const void *data, size_t n)
{
    if (c->fd < 0)
        return;
    struct devproto_reply r = {.id = id, .status = status, .data_length = (uint32_t)n, .information = information};
    struct iovec iov[2] = {{&r, sizeof(r)}, {(void *)(uintptr_t)data, n}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    if (sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* A caller that does not read its replies is treated as gone. */
        conn_gone(c);
    }
}

/* ---- IRPs ---- */

/* The bridge thread finishes a request once its IRP completed and the
 * dispatch routine that received it returned: only then may the IRP, its
 * buffers and (after CLOSE) the FILE_OBJECT go.  A caller on Windows, whose
 * own thread runs the dispatch routine, does not return before it either. */
static void req_release(bridge_req *r)
{
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    pthread_mutex_lock(&B.lock);
    InsertTailList(&B.done, &r->done_entry);
    pthread_mutex_unlock(&B.lock);
    wake();
}

static NTSTATUS irp_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    req_release(context);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

enum { REQ_RETURNED = 1, REQ_CANCEL = 2 };

static void dispatch_returned(dispatch_item *item)
{
    bridge_req *r = CONTAINING_RECORD(item, bridge_req, dispatch);
    if (__atomic_fetch_or(&r->cancel_flags, REQ_RETURNED, __ATOMIC_ACQ_REL) & REQ_CANCEL)
        IoCancelIrp(r->irp);
    req_release(r);
}

/* IoCancelIrp for a request of the handle (bridge thread).  One still
 * queued or in its dispatch routine is cancelled by its dispatch thread as
 * soon as the routine returned: never while the routine runs, so a driver
 * reading Irp->Cancel there does not race the bridge thread (a driver that
 * pends sets its cancel routine and checks Irp->Cancel, and gets the same
 * result either way). */
static void req_cancel(bridge_req *r)
{
    if (__atomic_fetch_or(&r->cancel_flags, REQ_CANCEL, __ATOMIC_ACQ_REL) & REQ_RETURNED)
        IoCancelIrp(r->irp);
}

bridge_req *bridge_req_new(conn *c, UCHAR major, uint64_t id)
{
    bridge_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->irp = IoAllocateIrp(c->device->StackSize, FALSE);
    if (r->irp == NULL) {
        free(r);
        return NULL;
    }
    r->c = c;
    r->id = id;
    r->major = major;
    PIRP irp = r->irp;
    irp->RequestorMode = UserMode;
    irp->Tail.Overlay.OriginalFileObject = c->file;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->MajorFunction = major;
    sl->FileObject = c->file;
    return r;
}

void bridge_req_free(bridge_req *r)
{
    if (r->mdl != NULL)
        IoFreeMdl(r->mdl);
    if (r->system_buffer != NULL)
        ExFreePool(r->system_buffer);
    if (r->out_copy != NULL)
        ExFreePool(r->out_copy);
    if (r->in_copy != NULL)
        ExFreePool(r->in_copy);
    if (r->irp != NULL)
        IoFreeIrp(r->irp);
    free(r);
}

void bridge_req_send(bridge_req *r)
{
    conn *c = r->c;
    IoSetCompletionRoutine(r->irp, irp_done, r, TRUE, TRUE, TRUE);
    InsertTailList(&c->pending, &r->conn_entry);
    c->inflight++;
    r->refs = 2;
    r->dispatch.device = c->device;
    r->dispatch.irp = r->irp;
    r->dispatch.returned = dispatch_returned;
    dispatcher_submit(c->dispatcher, &r->dispatch);
}

/* ---- the handle's life: open, close, the process's death ---- */

static void send_simple(conn *c, UCHAR major)
{
    bridge_req *r = bridge_req_new(c, major, 0);
    if (r == NULL) {
        /* Out of memory for a CLEANUP or CLOSE: the handle's state moves on
         * without it (logged; Windows would not fail here). */
        fprintf(stderr, "wskhost: no memory for IRP_MJ_%s on %s\n", major == IRP_MJ_CLEANUP ? "CLEANUP" : "CLOSE",
                c->name);
        if (major == IRP_MJ_CLEANUP) {
            c->cleanup_done = 1;
            if (c->close_requested)
                bridge_reply(c, c->close_id, STATUS_SUCCESS, 0, NULL, 0);
        } else {
            conn_free(c);
        }
        return;
    }
    bridge_req_send(r);
}

static void cancel_pending(conn *c)
{
    for (PLIST_ENTRY e = c->pending.Flink; e != &c->pending; e = e->Flink) {
        bridge_req *r = CONTAINING_RECORD(e, bridge_req, conn_entry);
        if (r->major != IRP_MJ_CLEANUP && r->major != IRP_MJ_CLOSE)
            req_cancel(r);
    }
}

/* The connection is finished with; its memory goes in sweep_conns, after
 * the current batch of events (which may still name it). */
static void conn_free(conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(B.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    /* Idle: every IRP of the handle completed and its dispatch returned. */
    dispatcher_stop(c->dispatcher);
    c->dispatcher = NULL;
    if (c->file != NULL) {
        if (c->file->FileName.Buffer != NULL)
            ExFreePool(c->file->FileName.Buffer);
        ExFreePool(c->file);
        c->file = NULL;
    }
    if (c->device != NULL)
        openwsk_device_dereference(c->device);
    c->device = NULL;
    c->state = C_DONE;
}

static void sweep_conns(void)
{
    for (conn **p = &B.conns; *p != NULL;) {
        conn *c = *p;
        if (c->state == C_DONE) {
            *p = c->next;
            free(c);
        } else {
            p = &c->next;
        }
    }
}

/* Moves a closing handle on: CLEANUP, then CLOSE once nothing is in flight. */
static void conn_advance(conn *c)
{
    if (c->state != C_CLOSING)
        return;
    if (!c->cleanup_sent) {
        c->cleanup_sent = 1;
        if (c->peer_gone)
            cancel_pending(c); /* thread rundown cancels before the handle closes */
        send_simple(c, IRP_MJ_CLEANUP);
    }
    if (c->cleanup_done && c->inflight == 0 && !c->close_sent) {
        c->close_sent = 1;
        send_simple(c, IRP_MJ_CLOSE);
    }
}

static void conn_begin_close(conn *c)
{
    if (c->state == C_OPEN) {
        c->state = C_CLOSING;
        conn_advance(c);
    } else if (c->state == C_NEW) {
        conn_free(c);
    }
    /* C_OPENING: decided when the CREATE completes; C_CLOSING: under way. */
}

/* End of file, an error, or a caller that does not read: the process died
 * or closed the descriptor without CloseHandle. */
static void conn_gone(conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(B.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->peer_gone)
        return;
    c->peer_gone = 1;
    if (c->state == C_CLOSING && c->cleanup_sent)
        cancel_pending(c);
    conn_begin_close(c);
}


/* An IRP came back from the driver (on the bridge thread). */
static void finish(bridge_req *r)
{
    conn *c = r->c;
    RemoveEntryList(&r->conn_entry);
    c->inflight--;
    NTSTATUS st = r->irp->IoStatus.Status;
    ULONG_PTR info = r->irp->IoStatus.Information;
    switch (r->major) {
    case IRP_MJ_CREATE:
        bridge_reply(c, r->id, st, info, NULL, 0);
        bridge_req_free(r);
        if (NT_SUCCESS(st)) {
            c->file->Flags |= FO_HANDLE_CREATED;
            c->state = C_OPEN;
            if (c->peer_gone || B.stopping)
                conn_begin_close(c);
        } else {
            /* A failed create is not followed by CLEANUP or CLOSE. */
            c->state = C_NEW;
            if (c->file->FileName.Buffer != NULL)
                ExFreePool(c->file->FileName.Buffer);
            ExFreePool(c->file);
            c->file = NULL;
            openwsk_device_dereference(c->device);
            c->device = NULL;
            if (c->peer_gone || B.stopping)
                conn_free(c);
        }
        return;
    case IRP_MJ_CLEANUP:
        bridge_req_free(r);
        c->cleanup_done = 1;
        c->file->Flags |= FO_CLEANUP_COMPLETE;
        if (c->close_requested) {
            /* On Windows CloseHandle sends CLEANUP, and CLOSE too when no
             * IRP holds the file object any more; then it returns.  With
             * IRPs still in flight, CLOSE comes once they complete. */
            if (c->inflight == 0)
                c->close_reply_after_close = 1;
            else
                bridge_reply(c, c->close_id, STATUS_SUCCESS, 0, NULL, 0);
            /* The handle is gone: nothing can wait for what is still pending. */
            cancel_pending(c);
        }
        conn_advance(c);
        return;
    case IRP_MJ_CLOSE:
        bridge_req_free(r);
        if (c->close_reply_after_close)
            bridge_reply(c, c->close_id, STATUS_SUCCESS, 0, NULL, 0);
        conn_free(c);
        return;
    default:
        break;
    }
    /* DEVICE_CONTROL, READ, WRITE.  Information is the byte count, capped
     * at the output length; buffered output is copied back unless the
     * status is an error (warnings such as STATUS_BUFFER_OVERFLOW carry
     * data), direct and neither output is the caller's buffer itself. */
    ULONG out = r->out_length;
    ULONG_PTR count = info > out ? out : info;
    const void *data = NULL;
    size_t n = 0;
    if (r->major == IRP_MJ_WRITE) {
        count = info;
    } else if (r->method == METHOD_BUFFERED) {
        if (!NT_ERROR(st)) {
            data = r->system_buffer;
            n = count;
        }
    } else if (r->major == IRP_MJ_READ) {
        if (!NT_ERROR(st)) {
            data = r->out_copy;
            n = count;
        }
    } else {
        data = r->out_copy;
        n = out;
    }
    if (NT_ERROR(st))
        count = 0;
    if ((r->major == IRP_MJ_READ || r->major == IRP_MJ_WRITE) && NT_SUCCESS(st) &&
        (c->file->Flags & FO_SYNCHRONOUS_IO))
        c->file->CurrentByteOffset.QuadPart = r->offset.QuadPart + (LONGLONG)info;
    bridge_reply(c, r->id, st, count, data, n);
    bridge_req_free(r);
    conn_advance(c);
}

static void drain_done(void)
{
    for (;;) {
        pthread_mutex_lock(&B.lock);
        PLIST_ENTRY e = IsListEmpty(&B.done) ? NULL : RemoveHeadList(&B.done);
        pthread_mutex_unlock(&B.lock);
        if (e == NULL)
            return;
        finish(CONTAINING_RECORD(e, bridge_req, done_entry));
    }
}

static void handle_message(conn *c, size_t n)
{
    const struct devproto_request *q = (const struct devproto_request *)B.rx;
    const uint8_t *payload = (const uint8_t *)(q + 1);
    if (n < sizeof(*q)) {
        conn_gone(c);
        return;
    }
    size_t body = n - sizeof(*q);
    size_t want = q->in_length;
    if (q->op == DEVPROTO_IOCTL && METHOD_FROM_CTL_CODE(q->code) != METHOD_BUFFERED)
        want += q->out_length;
    if (body != want || q->in_length > DEVPROTO_MAX_TRANSFER || q->out_length > DEVPROTO_MAX_TRANSFER) {
        bridge_reply(c, q->id, STATUS_INVALID_PARAMETER, 0, NULL, 0);
        return;
    }
    if (q->op == DEVPROTO_OPEN) {
        bridge_open(c, q, payload);
        return;
    }
    if (c->state != C_OPEN) {
        bridge_reply(c, q->id, c->state == C_CLOSING ? STATUS_FILE_CLOSED : STATUS_INVALID_HANDLE, 0, NULL, 0);
        return;
    }
    switch (q->op) {
    case DEVPROTO_IOCTL:
        bridge_ioctl(c, q, payload);
        break;
    case DEVPROTO_READ:
    case DEVPROTO_WRITE:
        bridge_read_write(c, q, payload);
        break;
    case DEVPROTO_CANCEL:
        for (PLIST_ENTRY e = c->pending.Flink; e != &c->pending; e = e->Flink) {
            bridge_req *r = CONTAINING_RECORD(e, bridge_req, conn_entry);
            if ((q->offset == 0 || r->id == q->offset) && r->major != IRP_MJ_CLEANUP && r->major != IRP_MJ_CLOSE)
                req_cancel(r);
        }
        break;
    case DEVPROTO_CLOSE:
        c->close_requested = 1;
        c->close_id = q->id;
        conn_begin_close(c);
        break;
    default:
        bridge_reply(c, q->id, STATUS_INVALID_PARAMETER, 0, NULL, 0);
        break;
    }
}

static void conn_readable(conn *c)
{
    while (c->fd >= 0) {
        ssize_t n = recv(c->fd, B.rx, B.rx_size, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            conn_gone(c);
            return;
        }
        if ((size_t)n > B.rx_size) {
            const struct devproto_request *q = (const struct devproto_request *)B.rx;
            bridge_reply(c, q->id, STATUS_INVALID_PARAMETER, 0, NULL, 0);
            continue;
        }
        handle_message(c, (size_t)n);
        if (c->state == C_CLOSING || c->state == C_DONE || c->peer_gone)
            return; /* no requests after CloseHandle */
    }
}

static void accept_all(listener *l)
{
    for (;;) {
        char dir[8], name[256];
        pthread_mutex_lock(&B.lock);
        int fd = l->dead ? -1 : accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        snprintf(dir, sizeof(dir), "%s", l->dir);
        snprintf(name, sizeof(name), "%s", l->name);
        int stopping = B.stopping;
        pthread_mutex_unlock(&B.lock);
        if (fd < 0)
            return;
        conn *c = stopping ? NULL : calloc(1, sizeof(*c));
        if (c != NULL && (c->dispatcher = dispatcher_start()) == NULL) {
            free(c);
            c = NULL;
        }
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->kind = KIND_CONN;
        c->fd = fd;
        c->state = C_NEW;
        memcpy(c->dir, dir, sizeof(dir));
        memcpy(c->name, name, sizeof(name));
        InitializeListHead(&c->pending);
        /* Like a device's default security: its owner (and root) only. */
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != getuid() && cred.uid != 0))
            c->denied = 1;
        c->next = B.conns;
        B.conns = c;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(B.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void *bridge_thread(void *arg)
{
    (void)arg;
    struct epoll_event evs[32];
    time_t warned = 0, stop_started = 0;
    for (;;) {
        int n = epoll_wait(B.epoll_fd, evs, 32, B.stop_seen ? 1000 : -1);
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == KIND_WAKE) {
                uint64_t v;
                ssize_t k = read(B.wake_fd, &v, sizeof(v));
                (void)k;
            } else if (kind == KIND_LISTENER) {
                accept_all(evs[i].data.ptr);
            } else {
                conn *c = evs[i].data.ptr;
                if (c->state == C_DONE || c->fd < 0)
                    continue;
                if (evs[i].events & EPOLLIN)
                    conn_readable(c);
                else if (evs[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                    conn_gone(c);
            }
        }
        drain_done();
        sweep_conns();
        free_dead_listeners(0);
        pthread_mutex_lock(&B.lock);
        int stopping = B.stopping;
        pthread_mutex_unlock(&B.lock);
        if (stopping && !B.stop_seen) {
            B.stop_seen = 1;
            stop_started = time(NULL);
            /* As if every caller had died, except that replies (the
             * cancelled IRPs' STATUS_CANCELLED) still reach them. */
            for (conn *c = B.conns; c != NULL; c = c->next) {
                if (c->fd >= 0)
                    epoll_ctl(B.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
                if (c->state == C_DONE || c->peer_gone)
                    continue;
                c->peer_gone = 1;
                if (c->state == C_CLOSING && c->cleanup_sent)
                    cancel_pending(c);
                conn_begin_close(c);
            }
        }
        sweep_conns();
        if (B.stop_seen) {
            if (B.conns == NULL)
                return NULL;
            time_t now = time(NULL);
            if (now - stop_started >= 5 && now - warned >= 5) {
                warned = now;
                fprintf(stderr, "wskhost: unload waits for the driver to complete IRPs of %s\n", B.conns->name);
            }
        }
    }
}

int device_bridge_start(void)
{
    const char *ns = getenv(DEVPROTO_NAMESPACE_ENV);
    snprintf(B.ns, sizeof(B.ns), "%s", ns != NULL ? ns : "");
    InitializeListHead(&B.done);
    B.rx_size = sizeof(struct devproto_request) + 2 * (size_t)DEVPROTO_MAX_TRANSFER;
    B.rx = malloc(B.rx_size);
    B.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    B.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (B.rx == NULL || B.epoll_fd < 0 || B.wake_fd < 0) {
        fprintf(stderr, "wskhost: device bridge: %s\n", strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &B.wake_kind};
    epoll_ctl(B.epoll_fd, EPOLL_CTL_ADD, B.wake_fd, &ev);
    B.running = 1;
    if (pthread_create(&B.thread, NULL, bridge_thread, NULL) != 0) {
        B.running = 0;
        fprintf(stderr, "wskhost: device bridge: cannot start its thread\n");
        return -1;
    }
    openwsk_namespace_observer o = {.added = name_added, .removed = name_removed};
    openwsk_namespace_set_observer(&o);
    return 0;
}

void device_bridge_serve(void)
{
    pthread_mutex_lock(&B.lock);
    if (B.running && !B.serving) {
        B.serving = 1;
        for (listener *l = B.listeners; l != NULL; l = l->next) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
            if (!l->dead)
                epoll_ctl(B.epoll_fd, EPOLL_CTL_ADD, l->fd, &ev);
        }
    }
    pthread_mutex_unlock(&B.lock);
}

void device_bridge_stop(void)
{
    if (!B.running)
        return;
    pthread_mutex_lock(&B.lock);
    B.stopping = 1;
    pthread_mutex_unlock(&B.lock);
    wake();
    pthread_join(B.thread, NULL);
    pthread_mutex_lock(&B.lock);
    B.running = 0;
    pthread_mutex_unlock(&B.lock);
}

void device_bridge_finish(void)
{
    device_bridge_stop();
    openwsk_namespace_set_observer(NULL);
    free_dead_listeners(1);
    if (B.wake_fd >= 0)
        close(B.wake_fd);
    if (B.epoll_fd >= 0)
        close(B.epoll_fd);
    B.wake_fd = B.epoll_fd = -1;
    free(B.rx);
    B.rx = NULL;
}
