/*
 * wsk_irp.c - the IRP contract every WSK function follows
 * (wsk-part-b.md §1, wsk-part-a.md §2): complete exactly once through the
 * client's routine, with PendingReturned matching the returned status.
 */
#include "wsk_internal.h"

#include "kernel/verifier.h"

static inline void wsk_irp_take(PIRP irp)
{
    /* The client left us one location (IoSetCompletionRoutine wrote the
     * next one); with none left, Windows' IoCallDriver would bug-check. */
    if (irp->CurrentLocation <= 1)
        KeBugCheckEx(0x35 /* NO_MORE_IRP_STACK_LOCATIONS */, (ULONG_PTR)irp, 0, 0, 0);
    IoSetNextIrpStackLocation(irp);
}

/* A tail call: the fast path saves no register for the verifier. */
static __attribute__((noinline, cold)) void wsk_irp_take_verified(PIRP irp)
{
    openwsk_verify_irp_handed(irp);
    wsk_irp_take(irp);
}

static inline void wsk_irp_push(PIRP irp)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRP)) {
        wsk_irp_take_verified(irp);
        return;
    }
    wsk_irp_take(irp);
}

NTSTATUS wsk_irp_complete_pended_plain(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    wsk_irp_push(irp);
    IoMarkIrpPending(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
    return STATUS_PENDING;
}

NTSTATUS wsk_irp_complete_pended(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    if (openwsk_adverse(OPENWSK_ADVERSE_PENDING))
        return wsk_irp_complete_adverse(NULL, irp, status, information, "an immediate completion");
    return wsk_irp_complete_pended_plain(irp, status, information);
}

NTSTATUS wsk_irp_complete_call(wsk_client *client, PIRP irp, NTSTATUS status, ULONG_PTR information,
                               const char *call)
{
    if (openwsk_adverse(OPENWSK_ADVERSE_PENDING))
        return wsk_irp_complete_adverse(client, irp, status, information, call);
    return wsk_irp_complete_pended_plain(irp, status, information);
}

NTSTATUS wsk_irp_complete_now(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    wsk_irp_push(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
    return status;
}

/* For the wsk group a call that pends its IRP has committed: its
 * completion may come on another thread before the call returns, and a
 * close from that completion routine does not race the call (the IRP is
 * the provider's; the driver cannot know the call has not returned). */
static __attribute__((noinline, cold)) void wsk_irp_begin_pending_verified(PIRP irp)
{
    unsigned groups = openwsk_verify_groups_now();
    if (groups & OPENWSK_VERIFY_IRP)
        openwsk_verify_irp_handed(irp);
    if (groups & OPENWSK_VERIFY_WSK)
        wsk_verify_call_committed();
    wsk_irp_take(irp);
    IoMarkIrpPending(irp);
}

/* The data path's entry: the verifier's path is a tail call, so this one
 * needs no stack frame. */
void wsk_irp_begin_pending(PIRP irp)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRP | OPENWSK_VERIFY_WSK)) {
        wsk_irp_begin_pending_verified(irp);
        return;
    }
    wsk_irp_take(irp);
    IoMarkIrpPending(irp);
}

void wsk_irp_finish(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    openwsk_perturb_point(); /* schedule perturbation: callers dropped their locks just now */
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
}
