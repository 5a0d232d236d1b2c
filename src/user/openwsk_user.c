/*
 * openwsk_user.c - CreateFile, DeviceIoControl, ReadFile, WriteFile and
 * CloseHandle for Linux programs, against devices that wskhost exposes
 * (the wire protocol is in devproto.h; the IRPs are built by wskhost's
 * device bridge).  A handle is one SOCK_SEQPACKET connection.
 */
#define _GNU_SOURCE
#include "openwsk_user.h"

#include "devproto.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HANDLE_MAGIC 0x4F57534Bu /* "OWSK" */

/* NTSTATUS values the library itself produces or maps. */
#define S_SUCCESS ((NTSTATUS)0x00000000)
#define S_PENDING ((NTSTATUS)0x00000103)
#define S_TIMEOUT ((NTSTATUS)0x00000102)
#define S_BUFFER_OVERFLOW ((NTSTATUS)0x80000005)
#define S_DEVICE_BUSY ((NTSTATUS)0x80000011)
#define S_UNSUCCESSFUL ((NTSTATUS)0xC0000001)
#define S_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002)
#define S_INVALID_HANDLE ((NTSTATUS)0xC0000008)
#define S_INVALID_PARAMETER ((NTSTATUS)0xC000000D)
#define S_NO_SUCH_DEVICE ((NTSTATUS)0xC000000E)
#define S_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010)
#define S_END_OF_FILE ((NTSTATUS)0xC0000011)
#define S_NO_MEMORY ((NTSTATUS)0xC0000017)
#define S_ACCESS_DENIED ((NTSTATUS)0xC0000022)
#define S_BUFFER_TOO_SMALL ((NTSTATUS)0xC0000023)
#define S_OBJECT_NAME_INVALID ((NTSTATUS)0xC0000033)
#define S_OBJECT_NAME_NOT_FOUND ((NTSTATUS)0xC0000034)
#define S_OBJECT_NAME_COLLISION ((NTSTATUS)0xC0000035)
#define S_OBJECT_PATH_NOT_FOUND ((NTSTATUS)0xC000003A)
#define S_SHARING_VIOLATION ((NTSTATUS)0xC0000043)
#define S_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009A)
#define S_DEVICE_NOT_READY ((NTSTATUS)0xC00000A3)
#define S_IO_TIMEOUT ((NTSTATUS)0xC00000B5)
#define S_NOT_SUPPORTED ((NTSTATUS)0xC00000BB)
#define S_DEVICE_DOES_NOT_EXIST ((NTSTATUS)0xC00000C0)
#define S_CANCELLED ((NTSTATUS)0xC0000120)
#define S_FILE_CLOSED ((NTSTATUS)0xC0000128)
#define S_INVALID_DEVICE_STATE ((NTSTATUS)0xC0000184)
#define S_NOT_FOUND ((NTSTATUS)0xC0000225)

#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)
#define NT_ERROR(s) ((((uint32_t)(s)) >> 30) == 3)

/* A request in flight on an overlapped handle, found by its OVERLAPPED. */
typedef struct user_op {
    struct user_op *next;
    uint64_t id;
    LPOVERLAPPED ov;
    void *out;
    size_t out_n;
    int done;
} user_op;

typedef struct user_handle {
    uint32_t magic;
    int fd;
    int overlapped;       /* FILE_FLAG_OVERLAPPED */
    uint64_t next_id;
    /* Synchronous handle: held for a whole request (one at a time, as the
     * I/O manager serializes a synchronous file object).  Overlapped
     * handle: guards ops and reading only. */
    pthread_mutex_t lock;
    pthread_cond_t replied;
    int reading;          /* a thread is receiving a reply for everyone */
    user_op *ops;
} user_handle;

static _Thread_local DWORD last_error;
static _Thread_local NTSTATUS last_status;

DWORD GetLastError(void)
{
    return last_error;
}

void SetLastError(DWORD dwErrCode)
{
    last_error = dwErrCode;
}

NTSTATUS OpenwskGetLastNtStatus(void)
{
    return last_status;
}

DWORD RtlNtStatusToDosError(NTSTATUS Status)
{
    static const struct {
        NTSTATUS status;
        DWORD error;
    } map[] = {
        {S_SUCCESS, ERROR_SUCCESS},
        {S_PENDING, ERROR_IO_PENDING},
        {S_TIMEOUT, 258 /* WAIT_TIMEOUT */},
        {S_BUFFER_OVERFLOW, ERROR_MORE_DATA},
        {S_DEVICE_BUSY, ERROR_BUSY},
        {S_UNSUCCESSFUL, ERROR_GEN_FAILURE},
        {S_NOT_IMPLEMENTED, ERROR_INVALID_FUNCTION},
        {S_INVALID_HANDLE, ERROR_INVALID_HANDLE},
        {S_INVALID_PARAMETER, ERROR_INVALID_PARAMETER},
        {S_NO_SUCH_DEVICE, ERROR_FILE_NOT_FOUND},
        {S_INVALID_DEVICE_REQUEST, ERROR_INVALID_FUNCTION},
        {S_END_OF_FILE, ERROR_HANDLE_EOF},
        {S_NO_MEMORY, ERROR_NOT_ENOUGH_MEMORY},
        {S_ACCESS_DENIED, ERROR_ACCESS_DENIED},
        {S_BUFFER_TOO_SMALL, ERROR_INSUFFICIENT_BUFFER},
        {S_OBJECT_NAME_INVALID, ERROR_INVALID_NAME},
        {S_OBJECT_NAME_NOT_FOUND, ERROR_FILE_NOT_FOUND},
        {S_OBJECT_NAME_COLLISION, ERROR_ALREADY_EXISTS},
        {S_OBJECT_PATH_NOT_FOUND, ERROR_PATH_NOT_FOUND},
        {S_SHARING_VIOLATION, ERROR_SHARING_VIOLATION},
        {S_INSUFFICIENT_RESOURCES, ERROR_NO_SYSTEM_RESOURCES},
        {S_DEVICE_NOT_READY, ERROR_NOT_READY},
        {S_IO_TIMEOUT, 121 /* ERROR_SEM_TIMEOUT */},
        {S_NOT_SUPPORTED, ERROR_NOT_SUPPORTED},
        {S_DEVICE_DOES_NOT_EXIST, ERROR_DEV_NOT_EXIST},
        {S_CANCELLED, ERROR_OPERATION_ABORTED},
        {S_FILE_CLOSED, ERROR_INVALID_HANDLE},
        {S_INVALID_DEVICE_STATE, 5023 /* ERROR_INVALID_STATE */},
        {S_NOT_FOUND, ERROR_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].status == Status)
            return map[i].error;
    /* Win32 errors carried in an NTSTATUS (FACILITY_WIN32). */
    if (((uint32_t)Status & 0xFFFF0000u) == 0xC0070000u)
        return (uint32_t)Status & 0xFFFFu;
    return ERROR_MR_MID_NOT_FOUND;
}

static BOOL fail_status(NTSTATUS st)
{
    last_status = st;
    last_error = RtlNtStatusToDosError(st);
    return FALSE;
}

static BOOL fail_error(DWORD error)
{
    last_error = error;
    return FALSE;
}

static user_handle *handle_of(HANDLE h)
{
    user_handle *u = h;
    if (u == NULL || h == INVALID_HANDLE_VALUE || u->magic != HANDLE_MAGIC)
        return NULL;
    return u;
}

/* ---- paths ---- */

static size_t wlen(LPCWSTR s)
{
    size_t n = 0;
    while (s[n] != 0)
        n++;
    return n;
}

static int wprefix(LPCWSTR s, size_t n, const char *ascii)
{
    size_t k = strlen(ascii);
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        WCHAR c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (WCHAR)(c - 32);
        char a = ascii[i];
        if (a >= 'a' && a <= 'z')
            a = (char)(a - 32);
        if (c != (WCHAR)(unsigned char)a)
            return 0;
    }
    return 1;
}

/* One path component to UTF-8, ASCII letters upper-cased. */
static int component_utf8(LPCWSTR s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000)
            c = 0x10000 + ((c - 0xD800) << 10) + (uint32_t)(s[++i] - 0xDC00);
        char b[4];
        size_t m;
        if (c < 0x80) {
            b[0] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
            m = 1;
        } else if (c < 0x800) {
            b[0] = (char)(0xC0 | (c >> 6));
            b[1] = (char)(0x80 | (c & 0x3F));
            m = 2;
        } else if (c < 0x10000) {
            b[0] = (char)(0xE0 | (c >> 12));
            b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            b[2] = (char)(0x80 | (c & 0x3F));
            m = 3;
        } else {
            b[0] = (char)(0xF0 | (c >> 18));
            b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
            b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
            b[3] = (char)(0x80 | (c & 0x3F));
            m = 4;
        }
        if (k + m >= cap)
            return -1;
        memcpy(out + k, b, m);
        k += m;
    }
    out[k] = '\0';
    return k > 0 ? 0 : -1;
}

/* "\\.\NAME[\rest]" and "\\?\NAME" -> ("??", NAME); "\\.\GLOBALROOT\Device\NAME"
 * -> ("Device", NAME); "\\.\Global\NAME" -> ("??", NAME).  *rest points
 * at what follows NAME (the FILE_OBJECT's FileName). */
static int parse_path(LPCWSTR path, const char **dir, char *name, size_t cap, LPCWSTR *rest)
{
    size_t n = wlen(path);
    if (!wprefix(path, n, "\\\\.\\") && !wprefix(path, n, "\\\\?\\"))
        return -1;
    LPCWSTR p = path + 4;
    n -= 4;
    *dir = "??";
    if (wprefix(p, n, "GLOBALROOT\\Device\\")) {
        *dir = "Device";
        p += 18;
        n -= 18;
    } else if (wprefix(p, n, "GLOBALROOT\\??\\")) {
        p += 14;
        n -= 14;
    } else if (wprefix(p, n, "Global\\")) {
        p += 7;
        n -= 7;
    }
    size_t k = 0;
    while (k < n && p[k] != '\\')
        k++;
    *rest = p + k;
    return component_utf8(p, k, name, cap);
}

/* ---- requests ---- */

static int send_request(user_handle *u, struct devproto_request *q, const void *in, size_t in_n, const void *out,
                        size_t out_n)
{
    q->id = ++u->next_id;
    struct iovec iov[3] = {{q, sizeof(*q)}, {(void *)(uintptr_t)in, in_n}, {(void *)(uintptr_t)out, out_n}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
    for (;;) {
        ssize_t n = sendmsg(u->fd, &m, MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* The reply's data lands in out (up to out_n bytes). */
static int receive_reply(user_handle *u, uint64_t id, struct devproto_reply *r, void *out, size_t out_n)
{
    for (;;) {
        struct iovec iov[2] = {{r, sizeof(*r)}, {out, out_n}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = out_n ? 2 : 1};
        ssize_t n = recvmsg(u->fd, &m, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < (ssize_t)sizeof(*r))
            return -1; /* the host went away */
        if (r->id != id)
            continue;
        if (r->data_length > out_n)
            r->data_length = (uint32_t)out_n;
        return 0;
    }
}

/* One request, its reply; the status (what the IRP's IoStatus.Status was). */
static NTSTATUS transact(user_handle *u, struct devproto_request *q, const void *in, size_t in_n,
                         const void *out_send, size_t out_send_n, void *out, size_t out_n, uint64_t *information)
{
    struct devproto_reply r;
    pthread_mutex_lock(&u->lock);
    NTSTATUS st;
    if (u->fd < 0 || send_request(u, q, in, in_n, out_send, out_send_n) != 0 ||
        receive_reply(u, q->id, &r, out, out_n) != 0) {
        /* wskhost stopped (or the handle was closed under the call). */
        st = S_DEVICE_DOES_NOT_EXIST;
        *information = 0;
    } else {
        st = r.status;
        *information = r.information;
    }
    pthread_mutex_unlock(&u->lock);
    return st;
}

/* ---- overlapped handles ---- */

static user_op *find_op(user_handle *u, LPOVERLAPPED ov)
{
    for (user_op *op = u->ops; op != NULL; op = op->next)
        if (op->ov == ov)
            return op;
    return NULL;
}

static void op_done(user_op *op, NTSTATUS st, uint64_t information)
{
    op->done = 1;
    op->ov->Internal = (uintptr_t)(uint32_t)st;
    op->ov->InternalHigh = NT_ERROR(st) ? 0 : (uintptr_t)information;
}

/* Receives one reply for whichever request it answers; with the lock held
 * and no other reader.  Returns 0 if none was there (nonblocking). */
static int read_one_reply(user_handle *u, int nonblocking)
{
    struct devproto_reply r;
    u->reading = 1;
    pthread_mutex_unlock(&u->lock);
    ssize_t n;
    do
        n = recv(u->fd, &r, sizeof(r), MSG_PEEK | (nonblocking ? MSG_DONTWAIT : 0));
    while (n < 0 && errno == EINTR);
    pthread_mutex_lock(&u->lock);
    int got = 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        got = 0;
    } else if (n < (ssize_t)sizeof(r)) {
        /* wskhost went away: nothing pending will complete. */
        for (user_op *op = u->ops; op != NULL; op = op->next)
            if (!op->done)
                op_done(op, S_DEVICE_DOES_NOT_EXIST, 0);
    } else {
        user_op *op = NULL;
        for (user_op *o = u->ops; o != NULL; o = o->next)
            if (o->id == r.id && !o->done)
                op = o;
        /* The op stays in the list until it is done: its buffer is safe. */
        pthread_mutex_unlock(&u->lock);
        struct iovec iov[2] = {{&r, sizeof(r)}, {op ? op->out : NULL, op ? op->out_n : 0}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = op && op->out_n ? 2 : 1};
        do
            n = recvmsg(u->fd, &m, 0);
        while (n < 0 && errno == EINTR);
        pthread_mutex_lock(&u->lock);
        if (op != NULL)
            op_done(op, n >= (ssize_t)sizeof(r) ? r.status : S_DEVICE_DOES_NOT_EXIST, r.information);
    }
    u->reading = 0;
    pthread_cond_broadcast(&u->replied);
    return got;
}

/* Waits (or only looks, !wait) for op; with the lock held. */
static int wait_op(user_handle *u, user_op *op, int wait)
{
    while (!op->done) {
        if (u->reading) {
            if (!wait)
                return 0;
            pthread_cond_wait(&u->replied, &u->lock);
        } else if (!read_one_reply(u, !wait)) {
            return 0;
        }
    }
    return 1;
}

static void unlink_op(user_handle *u, user_op *op)
{
    for (user_op **p = &u->ops; *p != NULL; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            break;
        }
    }
    free(op);
}

/* Starts a request on an overlapped handle; its result lands in *ov. */
static NTSTATUS start_op(user_handle *u, struct devproto_request *q, const void *in, size_t in_n,
                         const void *out_send, size_t out_send_n, void *out, size_t out_n, LPOVERLAPPED ov)
{
    user_op *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return S_NO_MEMORY;
    pthread_mutex_lock(&u->lock);
    user_op *old = find_op(u, ov);
    if (old != NULL && old->done)
        unlink_op(u, old); /* reused without GetOverlappedResult */
    else if (old != NULL) {
        /* The OVERLAPPED of a request still in flight (Windows: undefined). */
        pthread_mutex_unlock(&u->lock);
        free(op);
        return S_INVALID_PARAMETER;
    }
    ov->Internal = (uintptr_t)S_PENDING;
    ov->InternalHigh = 0;
    int sent = u->fd >= 0 && send_request(u, q, in, in_n, out_send, out_send_n) == 0;
    if (!sent) {
        pthread_mutex_unlock(&u->lock);
        free(op);
        return S_DEVICE_DOES_NOT_EXIST;
    }
    op->id = q->id;
    op->ov = ov;
    op->out = out;
    op->out_n = out_n;
    op->next = u->ops;
    u->ops = op;
    pthread_mutex_unlock(&u->lock);
    return S_PENDING;
}

static BOOL complete(NTSTATUS st, uint64_t information, LPDWORD transferred, LPOVERLAPPED ov);

/* A request on either kind of handle, with Win32's results. */
static BOOL submit(user_handle *u, struct devproto_request *q, const void *in, size_t in_n, const void *out_send,
                   size_t out_send_n, void *out, size_t out_n, LPDWORD transferred, LPOVERLAPPED ov)
{
    uint64_t info;
    if (!u->overlapped) {
        NTSTATUS st = transact(u, q, in, in_n, out_send, out_send_n, out, out_n, &info);
        return complete(st, info, transferred, ov);
    }
    OVERLAPPED local = {0};
    LPOVERLAPPED use = ov != NULL ? ov : &local;
    NTSTATUS st = start_op(u, q, in, in_n, out_send, out_send_n, out, out_n, use);
    if (st != S_PENDING)
        return complete(st, 0, transferred, NULL);
    if (ov != NULL) {
        /* Always reported pending, even if the driver completed at once:
         * the caller collects the result with GetOverlappedResult. */
        last_error = ERROR_IO_PENDING;
        return FALSE;
    }
    /* No OVERLAPPED on an overlapped handle: wait here. */
    pthread_mutex_lock(&u->lock);
    user_op *op = find_op(u, &local);
    wait_op(u, op, 1);
    unlink_op(u, op);
    pthread_mutex_unlock(&u->lock);
    return complete((NTSTATUS)(uint32_t)local.Internal, local.InternalHigh, transferred, NULL);
}

BOOL GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped, LPDWORD lpNumberOfBytesTransferred, BOOL bWait)
{
    user_handle *u = handle_of(hFile);
    if (u == NULL)
        return fail_error(ERROR_INVALID_HANDLE);
    if (lpOverlapped == NULL)
        return fail_error(ERROR_INVALID_PARAMETER);
    pthread_mutex_lock(&u->lock);
    user_op *op = u->overlapped ? find_op(u, lpOverlapped) : NULL;
    if (op != NULL) {
        if (!wait_op(u, op, bWait)) {
            pthread_mutex_unlock(&u->lock);
            return fail_error(ERROR_IO_INCOMPLETE);
        }
        unlink_op(u, op);
    }
    pthread_mutex_unlock(&u->lock);
    /* Done (now or earlier): the result is in the OVERLAPPED. */
    NTSTATUS st = (NTSTATUS)(uint32_t)lpOverlapped->Internal;
    if (st == S_PENDING)
        return fail_error(ERROR_IO_INCOMPLETE);
    if (lpNumberOfBytesTransferred != NULL)
        *lpNumberOfBytesTransferred = (DWORD)lpOverlapped->InternalHigh;
    if (NT_SUCCESS(st)) {
        last_error = ERROR_SUCCESS;
        return TRUE;
    }
    return fail_status(st);
}

BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped)
{
    user_handle *u = handle_of(hFile);
    if (u == NULL)
        return fail_error(ERROR_INVALID_HANDLE);
    pthread_mutex_lock(&u->lock);
    int found = 0;
    if (u->overlapped) {
        for (user_op *op = u->ops; op != NULL; op = op->next) {
            if (op->done || (lpOverlapped != NULL && op->ov != lpOverlapped))
                continue;
            struct devproto_request q = {.op = DEVPROTO_CANCEL, .offset = op->id};
            uint64_t keep = u->next_id;
            if (u->fd >= 0)
                send_request(u, &q, NULL, 0, NULL, 0);
            u->next_id = keep; /* a cancel has no reply to wait for */
            found = 1;
        }
    }
    pthread_mutex_unlock(&u->lock);
    if (!found)
        return fail_error(ERROR_NOT_FOUND);
    last_error = ERROR_SUCCESS;
    return TRUE;
}

BOOL CancelIo(HANDLE hFile)
{
    /* Windows cancels the calling thread's requests only; here the handle's. */
    if (!CancelIoEx(hFile, NULL) && GetLastError() != ERROR_NOT_FOUND)
        return FALSE;
    last_error = ERROR_SUCCESS;
    return TRUE;
}

static void namespace_prefix(char *out, size_t cap)
{
    const char *ns = getenv(DEVPROTO_NAMESPACE_ENV);
    snprintf(out, cap, DEVPROTO_PREFIX "%s%s", ns != NULL ? ns : "", ns != NULL && ns[0] ? "/" : "");
}

HANDLE CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
{
    (void)lpSecurityAttributes;
    (void)hTemplateFile;
    if (lpFileName == NULL || dwCreationDisposition < CREATE_NEW || dwCreationDisposition > TRUNCATE_EXISTING) {
        fail_error(ERROR_INVALID_PARAMETER);
        return INVALID_HANDLE_VALUE;
    }
    const char *dir;
    char name[256];
    LPCWSTR rest;
    if (parse_path(lpFileName, &dir, name, sizeof(name), &rest) != 0) {
        /* Not a device path: there are no files here. */
        fail_status(S_OBJECT_PATH_NOT_FOUND);
        return INVALID_HANDLE_VALUE;
    }
    size_t rest_n = wlen(rest) * sizeof(WCHAR);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char prefix[160];
    namespace_prefix(prefix, sizeof(prefix));
    int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s%s/%s", prefix, dir, name);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path) - 1 || rest_n > DEVPROTO_MAX_TRANSFER) {
        fail_status(S_OBJECT_NAME_INVALID);
        return INVALID_HANDLE_VALUE;
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_status(S_INSUFFICIENT_RESOURCES);
        return INVALID_HANDLE_VALUE;
    }
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
        int err = errno;
        close(fd);
        fail_status(err == ECONNREFUSED || err == ENOENT ? S_OBJECT_NAME_NOT_FOUND : S_INSUFFICIENT_RESOURCES);
        return INVALID_HANDLE_VALUE;
    }
    user_handle *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        close(fd);
        fail_status(S_NO_MEMORY);
        return INVALID_HANDLE_VALUE;
    }
    u->magic = HANDLE_MAGIC;
    u->fd = fd;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->replied, NULL);
    /* CreateFile's dispositions as NtCreateFile's (FILE_CREATE, FILE_OVERWRITE_IF,
     * FILE_OPEN, FILE_OPEN_IF, FILE_OVERWRITE), with FILE_SYNCHRONOUS_IO_NONALERT
     * | FILE_NON_DIRECTORY_FILE. */
    static const uint32_t disposition[] = {0, 2, 5, 1, 3, 4};
    struct devproto_request q = {.op = DEVPROTO_OPEN,
                                 .code = dwDesiredAccess,
                                 .in_length = (uint32_t)rest_n,
                                 .out_length = dwShareMode & 7,
                                 .offset = ((uint64_t)disposition[dwCreationDisposition] << 24) | 0x40 |
                                           ((dwFlagsAndAttributes & FILE_FLAG_OVERLAPPED) ? 0 : 0x20)};
    uint64_t info;
    NTSTATUS st = transact(u, &q, rest, rest_n, NULL, 0, NULL, 0, &info);
    if (!NT_SUCCESS(st)) {
        u->magic = 0;
        close(u->fd);
        pthread_mutex_destroy(&u->lock);
        pthread_cond_destroy(&u->replied);
        free(u);
        fail_status(st);
        return INVALID_HANDLE_VALUE;
    }
    u->overlapped = (dwFlagsAndAttributes & FILE_FLAG_OVERLAPPED) != 0;
    last_error = ERROR_SUCCESS;
    return u;
}

HANDLE CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
{
    if (lpFileName == NULL) {
        fail_error(ERROR_INVALID_PARAMETER);
        return INVALID_HANDLE_VALUE;
    }
    /* The ANSI code page here is UTF-8. */
    size_t n = strlen(lpFileName);
    WCHAR *w = calloc(n + 1, sizeof(WCHAR));
    if (w == NULL) {
        fail_error(ERROR_NOT_ENOUGH_MEMORY);
        return INVALID_HANDLE_VALUE;
    }
    size_t k = 0;
    const unsigned char *s = (const unsigned char *)lpFileName;
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i];
        size_t m = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (m > 1) {
            c &= 0xFFu >> (m + 1);
            for (size_t j = 1; j < m && i + j < n; j++)
                c = (c << 6) | (s[i + j] & 0x3F);
        }
        i += m;
        if (c >= 0x10000) {
            c -= 0x10000;
            w[k++] = (WCHAR)(0xD800 + (c >> 10));
            w[k++] = (WCHAR)(0xDC00 + (c & 0x3FF));
        } else {
            w[k++] = (WCHAR)c;
        }
    }
    w[k] = 0;
    HANDLE h = CreateFileW(w, dwDesiredAccess, dwShareMode, lpSecurityAttributes, dwCreationDisposition,
                           dwFlagsAndAttributes, hTemplateFile);
    DWORD err = last_error;
    free(w);
    last_error = err;
    return h;
}

/* Success, a warning (data, FALSE, the error) or an error (no data). */
static BOOL complete(NTSTATUS st, uint64_t information, LPDWORD transferred, LPOVERLAPPED ov)
{
    DWORD count = NT_ERROR(st) ? 0 : (DWORD)information;
    if (transferred != NULL)
        *transferred = count;
    if (ov != NULL) {
        ov->Internal = (uintptr_t)(uint32_t)st;
        ov->InternalHigh = count;
    }
    if (NT_SUCCESS(st)) {
        last_error = ERROR_SUCCESS;
        return TRUE;
    }
    return fail_status(st);
}

BOOL DeviceIoControl(HANDLE hDevice, DWORD dwIoControlCode, LPVOID lpInBuffer, DWORD nInBufferSize,
                     LPVOID lpOutBuffer, DWORD nOutBufferSize, LPDWORD lpBytesReturned, LPOVERLAPPED lpOverlapped)
{
    user_handle *u = handle_of(hDevice);
    if (u == NULL)
        return fail_error(ERROR_INVALID_HANDLE);
    if ((lpInBuffer == NULL && nInBufferSize) || (lpOutBuffer == NULL && nOutBufferSize) ||
        (uint64_t)nInBufferSize + nOutBufferSize > DEVPROTO_MAX_TRANSFER)
        return fail_status(S_INVALID_PARAMETER);
    struct devproto_request q = {
        .op = DEVPROTO_IOCTL, .code = dwIoControlCode, .in_length = nInBufferSize, .out_length = nOutBufferSize};
    /* Outside METHOD_BUFFERED the driver sees the output buffer as it is. */
    int buffered = METHOD_FROM_CTL_CODE(dwIoControlCode) == METHOD_BUFFERED;
    return submit(u, &q, lpInBuffer, nInBufferSize, buffered ? NULL : lpOutBuffer, buffered ? 0 : nOutBufferSize,
                  lpOutBuffer, nOutBufferSize, lpBytesReturned, lpOverlapped);
}

static BOOL read_write(HANDLE h, int write, void *buffer, DWORD length, LPDWORD transferred, LPOVERLAPPED ov)
{
    user_handle *u = handle_of(h);
    if (u == NULL)
        return fail_error(ERROR_INVALID_HANDLE);
    if (transferred != NULL)
        *transferred = 0;
    if ((buffer == NULL && length) || length > DEVPROTO_MAX_TRANSFER)
        return fail_status(S_INVALID_PARAMETER);
    struct devproto_request q = {.op = write ? DEVPROTO_WRITE : DEVPROTO_READ};
    if (write)
        q.in_length = length;
    else
        q.out_length = length;
    if (ov != NULL) {
        /* On a synchronous handle the OVERLAPPED only gives the offset. */
        q.flags = DEVPROTO_F_OFFSET;
        q.offset = ((uint64_t)ov->OffsetHigh << 32) | ov->Offset;
    }
    return submit(u, &q, write ? buffer : NULL, write ? length : 0, NULL, 0, write ? NULL : buffer,
                  write ? 0 : length, transferred, ov);
}

BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
              LPOVERLAPPED lpOverlapped)
{
    return read_write(hFile, 0, lpBuffer, nNumberOfBytesToRead, lpNumberOfBytesRead, lpOverlapped);
}

BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite, LPDWORD lpNumberOfBytesWritten,
               LPOVERLAPPED lpOverlapped)
{
    return read_write(hFile, 1, (void *)(uintptr_t)lpBuffer, nNumberOfBytesToWrite, lpNumberOfBytesWritten,
                      lpOverlapped);
}

BOOL CloseHandle(HANDLE hObject)
{
    user_handle *u = handle_of(hObject);
    if (u == NULL)
        return fail_error(ERROR_INVALID_HANDLE);
    if (u->overlapped) {
        /* CLOSE is answered once IRP_MJ_CLEANUP completed; replies of
         * requests still in flight land in their OVERLAPPEDs meanwhile. */
        OVERLAPPED close_ov = {0};
        struct devproto_request q = {.op = DEVPROTO_CLOSE};
        if (start_op(u, &q, NULL, 0, NULL, 0, NULL, 0, &close_ov) == S_PENDING) {
            pthread_mutex_lock(&u->lock);
            user_op *op = find_op(u, &close_ov);
            wait_op(u, op, 1);
            pthread_mutex_unlock(&u->lock);
        }
        pthread_mutex_lock(&u->lock);
        /* wskhost cancels what is left after CLEANUP; the OVERLAPPEDs say so
         * now, since nothing reads this handle's replies any more. */
        while (u->ops != NULL) {
            if (!u->ops->done)
                op_done(u->ops, S_CANCELLED, 0);
            unlink_op(u, u->ops);
        }
    } else if (pthread_mutex_trylock(&u->lock) != 0) {
        /* Another thread waits in a call on this handle: the host sees the
         * connection end, cancels what is pending, and that call returns. */
        shutdown(u->fd, SHUT_RDWR);
        pthread_mutex_lock(&u->lock);
    } else {
        /* CLOSE is answered once the driver completed IRP_MJ_CLEANUP. */
        struct devproto_request q = {.op = DEVPROTO_CLOSE};
        struct devproto_reply r;
        if (send_request(u, &q, NULL, 0, NULL, 0) == 0)
            (void)receive_reply(u, q.id, &r, NULL, 0);
    }
    u->magic = 0;
    close(u->fd);
    u->fd = -1;
    pthread_mutex_unlock(&u->lock);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->replied);
    free(u);
    last_error = ERROR_SUCCESS;
    return TRUE;
}
