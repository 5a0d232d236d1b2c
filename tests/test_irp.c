/*
 * test_irp.c - IRPs: allocation, stack locations, IoCompleteRequest's walk
 * (SL_INVOKE_* bits, PendingReturned, STATUS_MORE_PROCESSING_REQUIRED),
 * reuse, cancellation, IoCallDriver.  Expected behaviour: wsk-part-b.md
 * §1 and §11.2 (the NT I/O manager's rules).
 */
#include <ntddk.h>
#include <stddef.h>
#include <string.h>
#include <openwsk_runtime.h>

#include "wt.h"
#include "wt_bugcheck.h"

typedef struct routine_log {
    int calls;
    PDEVICE_OBJECT device;
    PVOID context;
    BOOLEAN pending_returned;
    NTSTATUS status;
    NTSTATUS result; /* what the routine returns */
    int order;
} routine_log;

static int completion_sequence;

static NTSTATUS log_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    routine_log *log = Context;
    log->calls++;
    log->device = DeviceObject;
    log->context = Context;
    log->pending_returned = Irp->PendingReturned;
    log->status = Irp->IoStatus.Status;
    log->order = ++completion_sequence;
    return log->result;
}

/* What a WSK provider does with a client's IRP: push its own location,
 * optionally mark pending, complete. */
static void provider_complete(PIRP irp, NTSTATUS status, ULONG_PTR info, BOOLEAN pend)
{
    IoSetNextIrpStackLocation(irp);
    if (pend)
        IoMarkIrpPending(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void allocate_initializes_like_nt(void)
{
    PIRP irp = IoAllocateIrp(2, FALSE);
    CHECK(irp != NULL);
    CHECK_EQ(irp->Type, IO_TYPE_IRP);
    CHECK_EQ(irp->Size, IoSizeOfIrp(2));
    CHECK_EQ(irp->Size, sizeof(IRP) + 2 * sizeof(IO_STACK_LOCATION));
    CHECK_EQ(irp->StackCount, 2);
    CHECK_EQ(irp->CurrentLocation, 3);
    PIO_STACK_LOCATION first = (PIO_STACK_LOCATION)(irp + 1);
    CHECK(IoGetCurrentIrpStackLocation(irp) == first + 2);
    CHECK(IoGetNextIrpStackLocation(irp) == first + 1);
    CHECK(irp->ThreadListEntry.Flink == &irp->ThreadListEntry);
    CHECK_EQ(irp->PendingReturned, FALSE);
    CHECK_EQ(irp->Cancel, FALSE);
    CHECK(irp->MdlAddress == NULL);
    CHECK(irp->CancelRoutine == NULL);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_IRP), 1);
    IoFreeIrp(irp);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_IRP), 0);
    CHECK(IoAllocateIrp(0, FALSE) == NULL);
}

static void client_routine_runs_once_with_null_device(void)
{
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, log_routine, &log, TRUE, TRUE, TRUE);
    CHECK(IoGetNextIrpStackLocation(irp)->CompletionRoutine == log_routine);
    CHECK_EQ(IoGetNextIrpStackLocation(irp)->Control, SL_INVOKE_ON_SUCCESS | SL_INVOKE_ON_ERROR | SL_INVOKE_ON_CANCEL);
    provider_complete(irp, STATUS_SUCCESS, 42, FALSE);
    CHECK_EQ(log.calls, 1);
    CHECK(log.device == NULL);
    CHECK(log.context == &log);
    CHECK_EQ(log.pending_returned, FALSE);
    CHECK_EQ(irp->IoStatus.Information, 42);
    IoFreeIrp(irp);
}

static void pending_returned_reaches_the_routine(void)
{
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, log_routine, &log, TRUE, TRUE, TRUE);
    provider_complete(irp, STATUS_SUCCESS, 0, TRUE);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(log.pending_returned, TRUE);
    IoFreeIrp(irp);
}

static void invoke_bits_select_outcomes(void)
{
    static const struct {
        BOOLEAN on_success, on_error, on_cancel, cancel;
        NTSTATUS status;
        int expect_calls;
    } cases[] = {
        {TRUE, FALSE, FALSE, FALSE, STATUS_SUCCESS, 1},
        {TRUE, FALSE, FALSE, FALSE, STATUS_UNSUCCESSFUL, 0},
        {FALSE, TRUE, FALSE, FALSE, STATUS_UNSUCCESSFUL, 1},
        {FALSE, TRUE, FALSE, FALSE, STATUS_SUCCESS, 0},
        {FALSE, TRUE, FALSE, FALSE, STATUS_BUFFER_OVERFLOW, 1}, /* a warning is not NT_SUCCESS */
        {TRUE, FALSE, FALSE, FALSE, STATUS_TIMEOUT, 1},         /* an informational code is */
        {FALSE, FALSE, TRUE, TRUE, STATUS_CANCELLED, 1},
        {FALSE, FALSE, TRUE, FALSE, STATUS_CANCELLED, 0},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(irp, log_routine, &log, cases[i].on_success, cases[i].on_error, cases[i].on_cancel);
        irp->Cancel = cases[i].cancel;
        provider_complete(irp, cases[i].status, 0, FALSE);
        if (log.calls != cases[i].expect_calls)
            WT_FAIL("case %zu: routine called %d times, expected %d", i, log.calls, cases[i].expect_calls);
        IoFreeIrp(irp);
    }
}

/* Two drivers: the top one's routine sits in stack[1], the lower one's in
 * stack[0]; completion calls the lower routine first. */
typedef struct two_level {
    PIRP irp;
    DEVICE_OBJECT lower_dev, upper_dev;
} two_level;

static void two_level_setup(two_level *t, routine_log *outer, routine_log *inner)
{
    t->irp = IoAllocateIrp(2, FALSE);
    IoSetCompletionRoutine(t->irp, log_routine, outer, TRUE, TRUE, TRUE); /* top: into stack[1] */
    IoSetNextIrpStackLocation(t->irp);                                    /* "IoCallDriver" to upper */
    IoGetCurrentIrpStackLocation(t->irp)->DeviceObject = &t->upper_dev;
    if (inner != NULL)
        IoSetCompletionRoutine(t->irp, log_routine, inner, TRUE, TRUE, TRUE); /* upper: into stack[0] */
    IoSetNextIrpStackLocation(t->irp);                                        /* to lower */
    IoGetCurrentIrpStackLocation(t->irp)->DeviceObject = &t->lower_dev;
}

static void more_processing_required_stops_the_walk(void)
{
    routine_log outer = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    routine_log inner = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    two_level t;
    two_level_setup(&t, &outer, &inner);
    t.irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(t.irp, IO_NO_INCREMENT);
    CHECK_EQ(inner.calls, 1);
    CHECK_EQ(outer.calls, 0);
    CHECK(inner.device == &t.upper_dev); /* a routine gets its own driver's device */
    IoFreeIrp(t.irp);
}

static void success_continues_upward_in_order(void)
{
    routine_log outer = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    routine_log inner = {.result = STATUS_SUCCESS};
    two_level t;
    two_level_setup(&t, &outer, &inner);
    IoMarkIrpPending(t.irp);
    t.irp->IoStatus.Status = STATUS_UNSUCCESSFUL;
    completion_sequence = 0;
    IoCompleteRequest(t.irp, IO_NO_INCREMENT);
    CHECK_EQ(inner.calls, 1);
    CHECK_EQ(outer.calls, 1);
    CHECK_EQ(inner.order, 1);
    CHECK_EQ(outer.order, 2);
    CHECK_EQ(inner.pending_returned, TRUE);
    /* The inner routine did not re-mark pending, so the flag stops there. */
    CHECK_EQ(outer.pending_returned, FALSE);
    CHECK(outer.device == NULL);
    CHECK_EQ(outer.status, STATUS_UNSUCCESSFUL);
    IoFreeIrp(t.irp);
}

static void pending_propagates_past_locations_without_routine(void)
{
    routine_log outer = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    two_level t;
    two_level_setup(&t, &outer, NULL);
    IoMarkIrpPending(t.irp);
    t.irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(t.irp, IO_NO_INCREMENT);
    CHECK_EQ(outer.calls, 1);
    CHECK_EQ(outer.pending_returned, TRUE);
    IoFreeIrp(t.irp);
}

static void reuse_reinitializes_and_sets_status(void)
{
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    PIRP irp = IoAllocateIrp(1, FALSE);
    for (int round = 0; round < 3; round++) {
        IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
        CHECK_EQ(irp->IoStatus.Status, STATUS_UNSUCCESSFUL);
        CHECK_EQ(irp->CurrentLocation, 2);
        CHECK_EQ(irp->Cancel, FALSE);
        CHECK_EQ(irp->PendingReturned, FALSE);
        IoSetCompletionRoutine(irp, log_routine, &log, TRUE, TRUE, TRUE);
        provider_complete(irp, STATUS_SUCCESS, (ULONG_PTR)round, round == 1);
    }
    CHECK_EQ(log.calls, 3);
    IoFreeIrp(irp); /* still recognised as an IoAllocateIrp packet */
}

/* The packet as IoInitializeIrp leaves it: all zero but the header
 * (Type, Size, StackCount, CurrentLocation, ThreadListEntry, the stack
 * pointer); IoReuseIrp also keeps AllocationFlags and sets the status. */
static void expected_packet(PIRP expect, PIRP at, USHORT size, CCHAR stack, UCHAR flags, NTSTATUS status)
{
    memset(expect, 0, size);
    expect->Type = IO_TYPE_IRP;
    expect->Size = size;
    expect->StackCount = stack;
    expect->CurrentLocation = (CHAR)(stack + 1);
    expect->AllocationFlags = flags;
    expect->IoStatus.Status = status;
    expect->ThreadListEntry.Flink = expect->ThreadListEntry.Blink = &at->ThreadListEntry;
    expect->Tail.Overlay.CurrentStackLocation = (PIO_STACK_LOCATION)(at + 1) + stack;
}

/* Every byte of a used packet, stack locations included, is cleared again
 * on reuse, whatever the stack count (the fast sizes and the others). */
static void reuse_clears_every_byte(void)
{
    for (CCHAR stack = 1; stack <= 4; stack++) {
        PIRP irp = IoAllocateIrp(stack, FALSE);
        USHORT size = irp->Size;
        UCHAR flags = irp->AllocationFlags;
        _Alignas(16) UCHAR expect[IoSizeOfIrp(4)];
        expected_packet((PIRP)expect, irp, size, stack, flags, STATUS_SUCCESS);
        CHECK(memcmp(irp, expect, size) == 0); /* IoAllocateIrp's packet */
        for (int round = 0; round < 2; round++) {
            /* A driver used it all, but for what the packet keeps about itself. */
            memset(&irp->MdlAddress, 0xA5, size - offsetof(IRP, MdlAddress));
            irp->StackCount = stack;
            irp->AllocationFlags = flags;
            IoReuseIrp(irp, STATUS_NOT_SUPPORTED);
            expected_packet((PIRP)expect, irp, size, stack, flags, STATUS_NOT_SUPPORTED);
            CHECK(memcmp(irp, expect, size) == 0);
        }
        IoFreeIrp(irp);
    }
    /* IoInitializeIrp on dirty storage, with room past the stack locations. */
    _Alignas(16) UCHAR storage[IoSizeOfIrp(3)], expect[IoSizeOfIrp(3)];
    for (CCHAR stack = 1; stack <= 2; stack++) {
        memset(storage, 0x5A, sizeof(storage));
        IoInitializeIrp((PIRP)storage, IoSizeOfIrp(stack), stack);
        expected_packet((PIRP)expect, (PIRP)storage, IoSizeOfIrp(stack), stack, 0, STATUS_SUCCESS);
        CHECK(memcmp(storage, expect, IoSizeOfIrp(stack)) == 0);
        CHECK_EQ(storage[IoSizeOfIrp(stack)], 0x5A); /* nothing past PacketSize */
    }
    memset(storage, 0x5A, sizeof(storage));
    IoInitializeIrp((PIRP)storage, IoSizeOfIrp(3), 1); /* a packet larger than its stack needs */
    expected_packet((PIRP)expect, (PIRP)storage, IoSizeOfIrp(3), 1, 0, STATUS_SUCCESS);
    CHECK(memcmp(storage, expect, IoSizeOfIrp(3)) == 0);
}

static void embedded_irp_with_initialize(void)
{
    _Alignas(16) UCHAR storage[sizeof(IRP) + sizeof(IO_STACK_LOCATION)];
    PIRP irp = (PIRP)storage;
    IoInitializeIrp(irp, IoSizeOfIrp(1), 1);
    CHECK_EQ(irp->Size, IoSizeOfIrp(1));
    CHECK_EQ(irp->CurrentLocation, 2);
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    IoSetCompletionRoutine(irp, log_routine, &log, TRUE, TRUE, TRUE);
    provider_complete(irp, STATUS_CONNECTION_RESET, 0, FALSE);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(log.status, STATUS_CONNECTION_RESET);
    IoCleanupIrp(irp);
}

static void free_of_embedded_irp(void *arg)
{
    IoFreeIrp((PIRP)arg);
}

static void ioFreeIrp_refuses_packets_it_did_not_allocate(void)
{
    _Alignas(16) UCHAR storage[sizeof(IRP) + sizeof(IO_STACK_LOCATION)];
    IoInitializeIrp((PIRP)storage, IoSizeOfIrp(1), 1);
    CHECK(wt_bugchecks(free_of_embedded_irp, storage, BAD_POOL_CALLER));
}

static int cancel_calls;
static KIRQL cancel_irql_seen;

static void test_cancel_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    cancel_calls++;
    cancel_irql_seen = KeGetCurrentIrql();
    CHECK(Irp->CancelRoutine == NULL);
    CHECK_EQ(Irp->Cancel, TRUE);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    Irp->IoStatus.Status = STATUS_CANCELLED;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

static void cancel_calls_the_routine_exactly_once(void)
{
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, log_routine, &log, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp); /* queued by a "provider" */
    IoMarkIrpPending(irp);
    CHECK(IoSetCancelRoutine(irp, test_cancel_routine) == NULL);
    cancel_calls = 0;
    CHECK_EQ(IoCancelIrp(irp), TRUE);
    CHECK_EQ(cancel_calls, 1);
    CHECK_EQ(cancel_irql_seen, DISPATCH_LEVEL);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(log.status, STATUS_CANCELLED);
    CHECK_EQ(log.pending_returned, TRUE);
    CHECK_EQ(IoCancelIrp(irp), FALSE); /* no routine any more */
    CHECK_EQ(cancel_calls, 1);
    IoFreeIrp(irp);
}

static void cancel_without_routine_only_marks(void)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    CHECK_EQ(IoCancelIrp(irp), FALSE);
    CHECK_EQ(irp->Cancel, TRUE);
    CHECK_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    IoFreeIrp(irp);
}

static void completion_at_top_reports_to_user_iosb_and_event(void)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    IO_STATUS_BLOCK iosb = {.Status = STATUS_PENDING};
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    irp->UserIosb = &iosb;
    irp->UserEvent = &done;
    provider_complete(irp, STATUS_SUCCESS, 7, FALSE);
    CHECK_EQ(iosb.Status, STATUS_SUCCESS);
    CHECK_EQ(iosb.Information, 7);
    CHECK_EQ(KeReadStateEvent(&done), 1);
    IoFreeIrp(irp);
}

static PDEVICE_OBJECT dispatch_device_seen;
static NTSTATUS test_dispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    dispatch_device_seen = IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
    CHECK(DeviceObject == dispatch_device_seen);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static void call_driver_reaches_major_function(void)
{
    DRIVER_OBJECT driver = {0};
    driver.MajorFunction[IRP_MJ_DEVICE_CONTROL] = test_dispatch;
    PDEVICE_OBJECT dev = NULL;
    CHECK_EQ(IoCreateDevice(&driver, 32, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev), STATUS_SUCCESS);
    CHECK(driver.DeviceObject == dev);
    CHECK(dev->DeviceExtension != NULL);
    CHECK_EQ(dev->Flags & DO_DEVICE_INITIALIZING, DO_DEVICE_INITIALIZING);
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    PIRP irp = IoAllocateIrp(dev->StackSize, FALSE);
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.IoControlCode = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS);
    IoSetCompletionRoutine(irp, log_routine, &log, TRUE, TRUE, TRUE);
    CHECK_EQ(IoCallDriver(dev, irp), STATUS_SUCCESS);
    CHECK(dispatch_device_seen == dev);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(irp->IoStatus.Information, 0x222000);
    IoFreeIrp(irp);
    IoDeleteDevice(dev);
    CHECK(driver.DeviceObject == NULL);
}

static void allocation_failure_gives_null(void)
{
    openwsk_fault_fail_allocation(1);
    CHECK(IoAllocateIrp(1, FALSE) == NULL);
    PIRP irp = IoAllocateIrp(1, FALSE); /* injection is one-shot */
    CHECK(irp != NULL);
    IoFreeIrp(irp);
}

int main(void)
{
    WT_RUN(allocate_initializes_like_nt);
    WT_RUN(client_routine_runs_once_with_null_device);
    WT_RUN(pending_returned_reaches_the_routine);
    WT_RUN(invoke_bits_select_outcomes);
    WT_RUN(more_processing_required_stops_the_walk);
    WT_RUN(success_continues_upward_in_order);
    WT_RUN(pending_propagates_past_locations_without_routine);
    WT_RUN(reuse_reinitializes_and_sets_status);
    WT_RUN(reuse_clears_every_byte);
    WT_RUN(embedded_irp_with_initialize);
    WT_RUN(ioFreeIrp_refuses_packets_it_did_not_allocate);
    WT_RUN(cancel_calls_the_routine_exactly_once);
    WT_RUN(cancel_without_routine_only_marks);
    WT_RUN(completion_at_top_reports_to_user_iosb_and_event);
    WT_RUN(call_driver_reaches_major_function);
    WT_RUN(allocation_failure_gives_null);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
