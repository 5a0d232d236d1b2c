/*
 * test_verifier_irp.c - the driver verifier's IRP rules (OPENWSK_VERIFY=irp,
 * docs/verifier.md), each with a small buggy driver fragment that the rule
 * catches and the fixed fragment, which runs clean under the verifier.
 *
 * Every fragment runs in a fork()ed child that registers its own WSK client
 * (the parent never starts the provider: engine threads do not survive a
 * fork).  A caught bug prints the report with the IRP's history and stops
 * with Bug Check 0xC4 and the rule id as parameter 1.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>
#include <wsk.h>

#include <stdio.h>
#include <string.h>

#include "wt.h"
#include "wt_verifier.h"
#include "wt_wsk.h"

/* The report of `rule` with the IRP's history, and the stop 0xC4. */
static int caught(void (*fn)(void *), const char *rule, unsigned id)
{
    return wt_verifier_caught(fn, rule, id, 0xC4, "the history of IRP");
}

static int runs_clean(void (*fn)(void *))
{
    return wt_runs_clean(fn, NULL);
}

/* A client with one UDP socket and a receive that stays pending. */
typedef struct pending_receive {
    wt_wsk t;
    PWSK_SOCKET s;
    wt_irp w;
    UCHAR buffer[64];
    PMDL mdl;
    WSK_BUF buf;
} pending_receive;

static NTSTATUS start_receive(pending_receive *p, PIRP irp)
{
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = p->s->Dispatch;
    return d->WskReceiveFrom(p->s, &p->buf, 0, NULL, NULL, NULL, NULL, irp);
}

static void pending_open(pending_receive *p)
{
    memset(p, 0, sizeof(*p));
    wt_wsk_open(&p->t);
    USHORT port;
    p->s = wt_datagram_socket(&p->t, AF_INET, "127.0.0.1", &port);
    p->mdl = IoAllocateMdl(p->buffer, sizeof(p->buffer), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(p->mdl);
    p->buf.Mdl = p->mdl;
    p->buf.Offset = 0;
    p->buf.Length = sizeof(p->buffer);
    CHECK_EQ(start_receive(p, wt_irp_arm(&p->w)), STATUS_PENDING);
}

static void pending_close(pending_receive *p)
{
    IoCancelIrp(p->w.irp);
    CHECK_EQ(wt_irp_result(&p->w, STATUS_PENDING), STATUS_CANCELLED);
    wt_irp_free(&p->w);
    CHECK_EQ(wt_close(&p->t, p->s), STATUS_SUCCESS);
    IoFreeMdl(p->mdl);
    wt_wsk_close(&p->t);
}

/* IrpFreedInFlight: the driver frees the IRP of a pending receive. */
static void free_pending_receive_irp(void *unused)
{
    (void)unused;
    static pending_receive p;
    pending_open(&p);
    IoFreeIrp(p.w.irp); /* BUG: the provider still holds it */
}

/* The fix: cancel, wait for the completion routine, then free. */
static void cancel_then_free(void *unused)
{
    (void)unused;
    static pending_receive p;
    pending_open(&p);
    pending_close(&p);
}

/* IrpReusedInFlight: the same IRP for a second receive while the first is
 * pending, reinitialized with IoReuseIrp or not. */
static void reuse_pending_irp(void *unused)
{
    (void)unused;
    static pending_receive p;
    pending_open(&p);
    (void)start_receive(&p, wt_irp_arm(&p.w)); /* BUG: IoReuseIrp of an IRP in flight */
}

static void hand_pending_irp_again(void *unused)
{
    (void)unused;
    static pending_receive p;
    pending_open(&p);
    IoSetCompletionRoutine(p.w.irp, wt_irp_routine, &p.w, TRUE, TRUE, TRUE);
    (void)start_receive(&p, p.w.irp); /* BUG: still pending */
}

/* IrpUseAfterFree: IoCancelIrp on an IRP the driver already freed. */
static void cancel_freed_irp(void *unused)
{
    (void)unused;
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoFreeIrp(irp);
    IoCancelIrp(irp); /* BUG */
}

static void free_twice(void *unused)
{
    (void)unused;
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoFreeIrp(irp);
    IoFreeIrp(irp); /* BUG */
}

/* IrpNoStackLocation: an IRP allocated with one location, given a
 * completion routine and then moved down by the driver itself, as code
 * written for IoCallDriver does, leaves the provider none. */
static void irp_without_location(void *unused)
{
    (void)unused;
    static pending_receive p;
    memset(&p, 0, sizeof(p));
    wt_wsk_open(&p.t);
    USHORT port;
    p.s = wt_datagram_socket(&p.t, AF_INET, "127.0.0.1", &port);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, wt_irp_routine, &p.w, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp); /* BUG: the location was the provider's */
    SOCKADDR_IN local;
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d = p.s->Dispatch;
    (void)d->WskGetLocalAddress(p.s, (PSOCKADDR)&local, irp);
}

/* IrpCompletedTwice. */
static IO_COMPLETION_ROUTINE keep_irp;
static NTSTATUS keep_irp(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    (void)context;
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void complete_twice(void *unused)
{
    (void)unused;
    PIRP irp = IoAllocateIrp(2, FALSE);
    IoSetCompletionRoutine(irp, keep_irp, NULL, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp);
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    IoCompleteRequest(irp, IO_NO_INCREMENT); /* BUG */
}

static void complete_reuse_complete(void *unused)
{
    (void)unused;
    PIRP irp = IoAllocateIrp(2, FALSE);
    for (int i = 0; i < 2; i++) {
        IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
        IoSetCompletionRoutine(irp, keep_irp, NULL, TRUE, TRUE, TRUE);
        IoSetNextIrpStackLocation(irp);
        irp->IoStatus.Status = STATUS_SUCCESS;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
    IoFreeIrp(irp);
}

/* AllocatedIrpNotReclaimed: the driver's own IRP, whose routine lets the
 * packet go on to the I/O manager. */
static KEVENT socket_done;
static IO_COMPLETION_ROUTINE lets_it_go, reclaims_it;
static NTSTATUS lets_it_go(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    (void)context;
    KeSetEvent(&socket_done, IO_NO_INCREMENT, FALSE);
    return STATUS_SUCCESS; /* BUG for an IRP from IoAllocateIrp */
}

static NTSTATUS reclaims_it(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)irp;
    (void)context;
    KeSetEvent(&socket_done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void socket_with_routine(PIO_COMPLETION_ROUTINE routine)
{
    static wt_wsk t;
    wt_wsk_open(&t);
    KeInitializeEvent(&socket_done, NotificationEvent, FALSE);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, routine, NULL, TRUE, TRUE, TRUE);
    (void)t.provider.Dispatch->WskSocket(t.provider.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP,
                                         WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, NULL, irp);
    KeWaitForSingleObject(&socket_done, Executive, KernelMode, FALSE, NULL);
    PWSK_SOCKET s = (PWSK_SOCKET)irp->IoStatus.Information;
    IoFreeIrp(irp);
    CHECK(s != NULL);
    if (s != NULL)
        CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    wt_wsk_close(&t);
}

static void socket_irp_not_reclaimed(void *unused)
{
    (void)unused;
    socket_with_routine(lets_it_go);
}

static void socket_irp_reclaimed(void *unused)
{
    (void)unused;
    socket_with_routine(reclaims_it);
}

/* ---- cases ---- */

static void irp_freed_in_flight(void)
{
    CHECK(caught(free_pending_receive_irp, "IrpFreedInFlight", 0xA0101));
    CHECK(runs_clean(cancel_then_free));
}

static void irp_reused_in_flight(void)
{
    CHECK(caught(reuse_pending_irp, "IrpReusedInFlight", 0xA0102));
    CHECK(caught(hand_pending_irp_again, "IrpReusedInFlight", 0xA0102));
}

static void irp_use_after_free(void)
{
    CHECK(caught(cancel_freed_irp, "IrpUseAfterFree", 0xA0103));
    CHECK(caught(free_twice, "IrpUseAfterFree", 0xA0103));
}

static void irp_no_stack_location(void)
{
    CHECK(caught(irp_without_location, "IrpNoStackLocation", 0xA0106));
}

static void irp_completed_twice(void)
{
    CHECK(caught(complete_twice, "IrpCompletedTwice", 0xA0104));
    CHECK(runs_clean(complete_reuse_complete));
}

static void allocated_irp_not_reclaimed(void)
{
    CHECK(caught(socket_irp_not_reclaimed, "AllocatedIrpNotReclaimed", 0xA0105));
    CHECK(runs_clean(socket_irp_reclaimed));
}

int main(void)
{
    if (openwsk_verify_configure("irp") != 0)
        return 1;
    WT_RUN(irp_freed_in_flight);
    WT_RUN(irp_reused_in_flight);
    WT_RUN(irp_use_after_free);
    WT_RUN(irp_no_stack_location);
    WT_RUN(irp_completed_twice);
    WT_RUN(allocated_irp_not_reclaimed);
    openwsk_verify_configure("");
    return wt_finish();
}
