/*
 * wsk_irp.c - the IRP contract every WSK function follows
 * (wsk-part-b.md §1, wsk-part-a.md §2): complete exactly once through the
 * client's routine, with PendingReturned matching the returned status.
 */
#include "wsk_internal.h"

#include "kernel/verifier.h"

static void wsk_irp_push(PIRP irp)
{
    /* The client left us one location (IoSetCompletionRoutine wrote the
     * next one); with none left, Windows' IoCallDriver would bug-check. */
    if (openwsk_verifying(OPENWSK_VERIFY_IRP))
        openwsk_verify_irp_handed(irp);
    if (irp->CurrentLocation <= 1)
        KeBugCheckEx(0x35 /* NO_MORE_IRP_STACK_LOCATIONS */, (ULONG_PTR)irp, 0, 0, 0);
    IoSetNextIrpStackLocation(irp);
}

NTSTATUS wsk_irp_complete_pended(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    wsk_irp_push(irp);
    IoMarkIrpPending(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
    return STATUS_PENDING;
}

NTSTATUS wsk_irp_complete_now(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    wsk_irp_push(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
    return status;
}

void wsk_irp_begin_pending(PIRP irp)
{
    wsk_irp_push(irp);
    IoMarkIrpPending(irp);
}

void wsk_irp_finish(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    openwsk_perturb_point(); /* schedule perturbation: callers dropped their locks just now */
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
}
