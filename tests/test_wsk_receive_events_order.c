/*
 * test_wsk_receive_events_order.c - with WSK_EVENT_RECEIVE on, data reaches
 * the client in stream order across WskReceive completions and
 * WskReceiveEvent indications (PFN_WSK_RECEIVE_EVENT: a declined indication
 * leaves the data for WskReceive; docs/decisions.md "Ordering and close",
 * rule 3).
 *
 * The case: 100 bytes arrive and the first indication declines them
 * (STATUS_DATA_NOT_ACCEPTED), so they wait at the head of the stream.
 * WskReceive #1 (10 bytes) takes bytes 0..9; its completion routine posts
 * WskReceive #2 (10 bytes), the usual re-post pattern.  #2 is served with
 * bytes 10..19 while #1's completion is still running; the remaining
 * 20..99 must then be indicated only after #2 completed, never before.
 *
 * And a completion routine may close the socket: a zero-length WskReceive
 * that resumes paused indications, whose routine calls WskCloseSocket with
 * nothing else pending, must not see the provider touch the socket after
 * the close completed (caught by ASan as a use-after-free before).
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <string.h>
#include <unistd.h>

#include "linux_peer.h"
#include "wt_wsk.h"

typedef struct seen {
    const char *who;
    int first; /* first byte value, -1: none */
    int length;
} seen;

static seen log_[16];
static volatile LONG logged;
static volatile LONG indications;

static void note(const char *who, int first, int length)
{
    LONG i = InterlockedIncrement(&logged) - 1;
    if (i < 16)
        log_[i] = (seen){who, first, length};
}

static PWSK_SOCKET sock;
static UCHAR buf1[10], buf2[10];
static PMDL mdl2;
static PIRP irp2;
static KEVENT second_done;

static NTSTATUS WSKAPI on_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION ind, SIZE_T n, SIZE_T *taken)
{
    (void)context;
    (void)flags;
    (void)taken;
    PUCHAR va = MmGetSystemAddressForMdlSafe(ind->Buffer.Mdl, NormalPagePriority);
    int first = va[ind->Buffer.Offset];
    if (InterlockedIncrement(&indications) == 1) {
        note("declined", first, (int)n);
        return STATUS_DATA_NOT_ACCEPTED;
    }
    note("indicated", first, (int)n);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH events = {on_receive, NULL, NULL};

static NTSTATUS second_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)context;
    note("receive #2", buf2[0], (int)irp->IoStatus.Information);
    KeSetEvent(&second_done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS first_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)context;
    note("receive #1", buf1[0], (int)irp->IoStatus.Information);
    WSK_BUF b = {mdl2, 0, sizeof(buf2)};
    IoReuseIrp(irp2, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp2, second_routine, NULL, TRUE, TRUE, TRUE);
    ((const WSK_PROVIDER_CONNECTION_DISPATCH *)sock->Dispatch)->WskReceive(sock, &b, 0, irp2);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void reposted_receive_comes_before_the_next_indication(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    KeInitializeEvent(&second_done, NotificationEvent, FALSE);
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    NTSTATUS st;
    sock = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, &events, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(lfd));
    CHECK_EQ(wt_bind(&t, sock, &any), STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = sock->Dispatch;
    NTSTATUS r = d->WskConnect(sock, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    UCHAR data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (UCHAR)i;
    CHECK_EQ(peer_send_all(peer, data, sizeof(data)), 100);
    usleep(100 * 1000); /* all 100 bytes are in one read */
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    CHECK_EQ(d->WskControlSocket(sock, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                 NULL, NULL, NULL),
             STATUS_SUCCESS);
    for (int i = 0; i < 200 && InterlockedCompareExchange(&indications, 0, 0) == 0; i++)
        usleep(10 * 1000);
    CHECK_EQ(InterlockedCompareExchange(&indications, 0, 0), 1);

    PMDL mdl1 = IoAllocateMdl(buf1, sizeof(buf1), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl1);
    mdl2 = IoAllocateMdl(buf2, sizeof(buf2), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl2);
    PIRP irp1 = IoAllocateIrp(1, FALSE);
    irp2 = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp1, first_routine, NULL, TRUE, TRUE, TRUE);
    WSK_BUF b = {mdl1, 0, sizeof(buf1)};
    CHECK_EQ(d->WskReceive(sock, &b, 0, irp1), STATUS_PENDING);
    LARGE_INTEGER timeout = {.QuadPart = -20000000LL};
    CHECK_EQ(KeWaitForSingleObject(&second_done, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    for (int i = 0; i < 200 && InterlockedCompareExchange(&logged, 0, 0) < 4; i++)
        usleep(10 * 1000);

    /* The order the client saw: declined 0..99, #1 0..9, #2 10..19, then 20..99. */
    CHECK_EQ(InterlockedCompareExchange(&logged, 0, 0), 4);
    static const seen want[4] = {{"declined", 0, 100}, {"receive #1", 0, 10}, {"receive #2", 10, 10},
                                 {"indicated", 20, 80}};
    for (int i = 0; i < 4; i++) {
        if (strcmp(log_[i].who, want[i].who) != 0 || log_[i].first != want[i].first ||
            log_[i].length != want[i].length)
            WT_FAIL("step %d: %s first byte %d length %d, expected %s first byte %d length %d", i, log_[i].who,
                    log_[i].first, log_[i].length, want[i].who, want[i].first, want[i].length);
    }
    CHECK_EQ(wt_close(&t, sock), STATUS_SUCCESS);
    IoFreeIrp(irp1);
    IoFreeIrp(irp2);
    IoFreeMdl(mdl1);
    IoFreeMdl(mdl2);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* ---- closing from a zero-length receive's completion ---- */

static PIRP close_irp;
static KEVENT closed;
static volatile NTSTATUS zero_status, close_status;

static NTSTATUS WSKAPI decline_all(PVOID context, ULONG flags, PWSK_DATA_INDICATION ind, SIZE_T n, SIZE_T *taken)
{
    (void)context;
    (void)flags;
    (void)ind;
    (void)n;
    (void)taken;
    InterlockedIncrement(&indications);
    return STATUS_DATA_NOT_ACCEPTED;
}

static const WSK_CLIENT_CONNECTION_DISPATCH declining = {decline_all, NULL, NULL};

static NTSTATUS close_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)context;
    close_status = irp->IoStatus.Status;
    KeSetEvent(&closed, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS zero_routine(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)context;
    zero_status = irp->IoStatus.Status;
    IoSetCompletionRoutine(close_irp, close_routine, NULL, TRUE, TRUE, TRUE);
    ((const WSK_PROVIDER_BASIC_DISPATCH *)sock->Dispatch)->WskCloseSocket(sock, close_irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void close_from_zero_length_receive_completion(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    indications = 0;
    zero_status = close_status = STATUS_PENDING;
    KeInitializeEvent(&closed, NotificationEvent, FALSE);
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL,
                                   &declining, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(lfd));
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    CHECK_EQ(d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                 NULL, NULL, NULL),
             STATUS_SUCCESS);
    for (int i = 0; i < 200 && InterlockedCompareExchange(&indications, 0, 0) == 0; i++)
        usleep(10 * 1000);
    usleep(50 * 1000); /* declined: indications paused, nothing pending */
    sock = s;
    close_irp = IoAllocateIrp(1, FALSE);
    PIRP zero_irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(zero_irp, zero_routine, NULL, TRUE, TRUE, TRUE);
    static UCHAR byte;
    PMDL mdl = IoAllocateMdl(&byte, 1, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    WSK_BUF zero = {mdl, 0, 0};
    CHECK_EQ(d->WskReceive(s, &zero, 0, zero_irp), STATUS_PENDING);
    LARGE_INTEGER timeout = {.QuadPart = -20000000LL};
    CHECK_EQ(KeWaitForSingleObject(&closed, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    CHECK_EQ(zero_status, STATUS_SUCCESS);
    CHECK_EQ(close_status, STATUS_SUCCESS);
    for (int i = 0; i < 64; i++) /* closed by the driver: not the harness's to close */
        if (t.made[i].socket == s)
            t.made[i].socket = NULL;
    IoFreeIrp(zero_irp);
    IoFreeIrp(close_irp);
    IoFreeMdl(mdl);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

/* A WskReceive whose IRP was cancelled before the call (IoCancelIrp found
 * no cancel routine) on a socket with receive events: it completes at
 * once with STATUS_CANCELLED and takes none of the waiting bytes, which
 * the next receive gets (docs/decisions.md "Ordering and close", rule 7). */
static void cancelled_before_the_call_takes_no_data(void)
{
    wt_wsk t;
    wt_wsk_open(&t);
    indications = 0;
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL,
                                   &declining, &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", peer_local_port(lfd));
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    const WSK_PROVIDER_CONNECTION_DISPATCH *d = s->Dispatch;
    NTSTATUS r = d->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    CHECK_EQ(d->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0,
                                 NULL, NULL, NULL),
             STATUS_SUCCESS);
    for (int i = 0; i < 200 && InterlockedCompareExchange(&indications, 0, 0) == 0; i++)
        usleep(10 * 1000);
    UCHAR got[8];
    memset(got, 0, sizeof(got));
    PMDL mdl = IoAllocateMdl(got, sizeof(got), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    WSK_BUF b = {mdl, 0, sizeof(got)};
    PIRP irp = wt_irp_arm(&t.irp);
    CHECK(!IoCancelIrp(irp)); /* no cancel routine yet: only Cancel is set */
    CHECK_EQ(wt_irp_result(&t.irp, d->WskReceive(s, &b, 0, irp)), STATUS_CANCELLED);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 0);
    CHECK_EQ(wt_irp_result(&t.irp, d->WskReceive(s, &b, 0, wt_irp_arm(&t.irp))), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 5);
    CHECK_MEM(got, "hello", 5);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    IoFreeMdl(mdl);
    peer_close(peer);
    peer_close(lfd);
    wt_wsk_close(&t);
}

int main(void)
{
    WT_RUN(reposted_receive_comes_before_the_next_indication);
    WT_RUN(close_from_zero_length_receive_completion);
    WT_RUN(cancelled_before_the_call_takes_no_data);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
