/*
 * irp.c - I/O request packets: allocation, stack locations, completion
 * and cancellation, as the I/O manager does them.
 *
 * IofCompleteRequest walks the stack locations upward exactly like NT
 * (wsk-part-b.md §11.2): each location's completion routine runs if its
 * SL_INVOKE_* bits match the outcome, PendingReturned is propagated, and a
 * routine returning STATUS_MORE_PROCESSING_REQUIRED ends the walk at once —
 * after that the IRP may already be freed, so nothing touches it again.
 */
#include "ke_internal.h"
#include "verifier.h"
#include "adversity.h"
#include "timeline.h"

#include <stdint.h>

#include <sched.h>

/* Marks IRPs that came from IoAllocateIrp, so IoFreeIrp can refuse others. */
#define IRP_FROM_IO_ALLOCATE IRP_ALLOCATED_FIXED_SIZE

static PIO_STACK_LOCATION irp_stack_base(PIRP Irp)
{
    return (PIO_STACK_LOCATION)((PUCHAR)Irp + sizeof(IRP));
}

/* Zeroes n bytes (a constant, a multiple of 8) with plain 16- and 8-byte
 * stores; for a few hundred bytes the compiler would otherwise pick
 * `rep stos` or a memset call, both slower to start than the stores. */
typedef unsigned char irp_zero16 __attribute__((vector_size(16), may_alias, aligned(1)));
typedef unsigned long long irp_zero8 __attribute__((may_alias, aligned(1)));

static inline __attribute__((always_inline)) void irp_zero_constant(void *p, size_t n)
{
    char *c = p;
#pragma GCC unroll 32
    for (size_t i = 0; i < n / 16; i++)
        *(irp_zero16 *)(c + 16 * i) = (irp_zero16){0};
    if (n % 16 != 0)
        *(irp_zero8 *)(c + n - 8) = 0;
}

/* IoInitializeIrp's work, inline in its callers: the whole packet is
 * zeroed (a driver reading any field after IoAllocateIrp or IoReuseIrp sees
 * zero, stack locations included) and the header set.  Packets of one or
 * two stack locations, what WSK clients allocate, are cleared with a size
 * known here. */
static inline __attribute__((always_inline)) void irp_initialize(PIRP Irp, USHORT PacketSize, CCHAR StackSize)
{
    _Static_assert(IoSizeOfIrp(1) % 8 == 0 && IoSizeOfIrp(2) % 8 == 0, "IRP sizes are multiples of 8");
    if (PacketSize == IoSizeOfIrp(1))
        irp_zero_constant(Irp, IoSizeOfIrp(1));
    else if (PacketSize == IoSizeOfIrp(2))
        irp_zero_constant(Irp, IoSizeOfIrp(2));
    else
        __builtin_memset(Irp, 0, PacketSize);
    Irp->Type = IO_TYPE_IRP;
    Irp->Size = PacketSize;
    Irp->StackCount = StackSize;
    Irp->CurrentLocation = (CHAR)(StackSize + 1);
    InitializeListHead(&Irp->ThreadListEntry);
    Irp->Tail.Overlay.CurrentStackLocation = irp_stack_base(Irp) + StackSize;
}

void IoInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize)
{
    irp_initialize(Irp, PacketSize, StackSize);
}

PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    (void)ChargeQuota;
    if (StackSize < 1)
        return NULL;
    if (openwsk_adverse(OPENWSK_ADVERSE_LOW_RESOURCES) && openwsk_adversity_fail_allocation("IoAllocateIrp", 0))
        return NULL;
    USHORT size = IoSizeOfIrp(StackSize);
    PIRP irp = openwsk_pool_alloc(size, OPENWSK_TAG_IRP, FALSE);
    if (irp == NULL)
        return NULL;
    IoInitializeIrp(irp, size, StackSize);
    irp->AllocationFlags = IRP_FROM_IO_ALLOCATE;
    if (openwsk_verifying(OPENWSK_VERIFY_IRP))
        openwsk_verify_irp_allocated(irp);
    return irp;
}

PIRP IoAllocateIrpEx(PDEVICE_OBJECT DeviceObject, CCHAR StackSize, BOOLEAN ChargeQuota)
{
    (void)DeviceObject;
    return IoAllocateIrp(StackSize, ChargeQuota);
}

/* IoReuseIrp keeps AllocationFlags (IoFreeIrp still knows the packet). */
static inline __attribute__((always_inline)) void irp_reuse_sized(PIRP Irp, NTSTATUS Iostatus, USHORT PacketSize)
{
    UCHAR flags = Irp->AllocationFlags;
    irp_initialize(Irp, PacketSize, Irp->StackCount);
    Irp->AllocationFlags = flags;
    Irp->IoStatus.Status = Iostatus;
}

static __attribute__((noinline)) void irp_reuse_any(PIRP Irp, NTSTATUS Iostatus)
{
    irp_reuse_sized(Irp, Iostatus, Irp->Size);
}

/* The debugging tools' paths are whole functions reached by a tail call,
 * so that the fast path saves no register for them (measured: checks
 * inline in these hot functions cost ~100 instructions per echoed
 * request with every tool off). */
static __attribute__((noinline, cold)) void irp_reuse_verified(PIRP Irp, NTSTATUS Iostatus)
{
    openwsk_verify_irp_touched(Irp, "IoReuseIrp", TRUE);
    irp_reuse_any(Irp, Iostatus);
}

void IoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRP)) {
        irp_reuse_verified(Irp, Iostatus);
        return;
    }
    /* The usual sizes with a constant clear and no call; others (and the
     * memset they need) in a function of their own. */
    if (Irp->Size == IoSizeOfIrp(1))
        irp_reuse_sized(Irp, Iostatus, IoSizeOfIrp(1));
    else if (Irp->Size == IoSizeOfIrp(2))
        irp_reuse_sized(Irp, Iostatus, IoSizeOfIrp(2));
    else
        irp_reuse_any(Irp, Iostatus);
}

void IoFreeIrp(PIRP Irp)
{
    if (Irp != NULL && openwsk_verifying(OPENWSK_VERIFY_IRP))
        openwsk_verify_irp_freeing(Irp);
    if (Irp == NULL || Irp->Type != IO_TYPE_IRP || !(Irp->AllocationFlags & IRP_FROM_IO_ALLOCATE))
        KeBugCheckEx(BAD_POOL_CALLER, 0x46, (ULONG_PTR)Irp, 0, 0);
    Irp->Type = 0; /* a second IoFreeIrp of the same packet is caught above (or by ASan) */
    openwsk_pool_free(Irp);
}

void IoCleanupIrp(PIRP Irp)
{
    /* Nothing is queued to the thread for driver-initialized IRPs. */
    (void)Irp;
}

NTSTATUS IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                  PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                  BOOLEAN InvokeOnCancel)
{
    /* The Ex form exists to keep a driver loaded until its routine ran;
     * drivers are never unloaded under a running routine here. */
    (void)DeviceObject;
    IoSetCompletionRoutine(Irp, CompletionRoutine, Context, InvokeOnSuccess, InvokeOnError, InvokeOnCancel);
    return STATUS_SUCCESS;
}

static void irp_clear_stack_location(PIO_STACK_LOCATION sl)
{
    sl->MinorFunction = 0;
    sl->Flags = 0;
    sl->Control &= SL_ERROR_RETURNED;
    sl->Parameters.Others.Argument1 = NULL;
    sl->Parameters.Others.Argument2 = NULL;
    sl->Parameters.Others.Argument3 = NULL;
    sl->Parameters.Others.Argument4 = NULL;
    sl->FileObject = NULL;
}

/* A completion routine returns at the IRQL it was called at, holding no
 * spin lock it took (IoSetCompletionRoutine, Remarks: it runs in an
 * arbitrary thread context at IRQL <= DISPATCH_LEVEL and must not change
 * it). */
static NTSTATUS irp_call_completion_verified(PIO_COMPLETION_ROUTINE routine, PDEVICE_OBJECT device, PIRP Irp,
                                             PVOID context)
{
    KIRQL irql = KeGetCurrentIrql();
    unsigned held = openwsk_verify_spin_locks_held();
    NTSTATUS returned = routine(device, Irp, context);
    KIRQL after = KeGetCurrentIrql();
    char a[8], b[8];
    if (after != irql)
        openwsk_verify_fail(&openwsk_rule_completion_irql, "IoCompleteRequest -> completion routine", (ULONG_PTR)Irp,
                            irql, after, "routine %p of IRP %p was called at %s and returned at %s",
                            (void *)(uintptr_t)routine, (void *)Irp, openwsk_irql_name(irql, a),
                            openwsk_irql_name(after, b));
    if (openwsk_verify_spin_locks_held() > held)
        openwsk_verify_fail(&openwsk_rule_completion_spin_lock, "IoCompleteRequest -> completion routine",
                            (ULONG_PTR)Irp, held, openwsk_verify_spin_locks_held(),
                            "routine %p of IRP %p returned holding %u spin lock(s) it acquired",
                            (void *)(uintptr_t)routine, (void *)Irp, openwsk_verify_spin_locks_held() - held);
    return returned;
}

/* The completion; `verify` and `trace` are constant 0 in the fast copy,
 * where every branch of the debugging tools folds away. */
static inline __attribute__((always_inline)) void irp_complete(PIRP Irp, CCHAR PriorityBoost, unsigned verify,
                                                              int trace)
{
    if (verify & OPENWSK_VERIFY_IRP)
        openwsk_verify_irp_completing(Irp);
    if (Irp->CurrentLocation > Irp->StackCount + 1 || Irp->Type != IO_TYPE_IRP)
        KeBugCheckEx(MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)Irp, 0, 0, 0);
    if (Irp->IoStatus.Status == STATUS_PENDING)
        openwsk_log("IoCompleteRequest: IRP %p completed with STATUS_PENDING", (void *)Irp);

    /* Timeline: the end of the IRP's span, and its routines as slices. */
    const char *traced = NULL;
    if (trace)
        traced = openwsk_trace_irp_completing(Irp, Irp->IoStatus.Status, Irp->IoStatus.Information);

    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    Irp->CurrentLocation++;
    Irp->Tail.Overlay.CurrentStackLocation++;
    for (; Irp->CurrentLocation <= Irp->StackCount + 1;
         sl++, Irp->CurrentLocation++, Irp->Tail.Overlay.CurrentStackLocation++) {
        Irp->PendingReturned = (BOOLEAN)(sl->Control & SL_PENDING_RETURNED);
        BOOLEAN ok = NT_SUCCESS(Irp->IoStatus.Status);
        BOOLEAN invoke = (ok && (sl->Control & SL_INVOKE_ON_SUCCESS)) ||
                         (!ok && (sl->Control & SL_INVOKE_ON_ERROR)) ||
                         (Irp->Cancel && (sl->Control & SL_INVOKE_ON_CANCEL));
        if (invoke) {
            PIO_COMPLETION_ROUTINE routine = sl->CompletionRoutine;
            PVOID context = sl->Context;
            irp_clear_stack_location(sl);
            PDEVICE_OBJECT device = Irp->CurrentLocation == Irp->StackCount + 1
                                        ? NULL
                                        : IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
            uint64_t t0 = trace ? openwsk_trace_now() + 1 : 0;
            NTSTATUS returned;
            if (verify & OPENWSK_VERIFY_IRQL)
                returned = irp_call_completion_verified(routine, device, Irp, context);
            else
                returned = routine(device, Irp, context);
            if (t0 != 0) /* Irp may be gone now */
                openwsk_trace_completion_routine(traced, *(void **)&routine, t0 - 1, returned);
            if (returned == STATUS_MORE_PROCESSING_REQUIRED)
                return;
        } else {
            if (Irp->CurrentLocation <= Irp->StackCount && Irp->PendingReturned)
                IoMarkIrpPending(Irp);
            irp_clear_stack_location(sl);
        }
    }

    /* The packet reached the I/O manager: report to whoever waits on it. */
    if (verify & OPENWSK_VERIFY_IRP)
        openwsk_verify_irp_reached_io_manager(Irp);
    if (Irp->UserIosb != NULL)
        *Irp->UserIosb = Irp->IoStatus;
    if (Irp->UserEvent != NULL)
        KeSetEvent(Irp->UserEvent, PriorityBoost, FALSE);
}

static __attribute__((noinline, cold)) void irp_complete_observed(PIRP Irp, CCHAR PriorityBoost, unsigned verify,
                                                                   int trace)
{
    irp_complete(Irp, PriorityBoost, verify, trace);
}

void IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    unsigned verify = openwsk_verify_groups_now();
    int trace = openwsk_trace_enabled();
    if (__builtin_expect((verify | (unsigned)trace) != 0, 0)) {
        irp_complete_observed(Irp, PriorityBoost, verify, trace);
        return;
    }
    irp_complete(Irp, PriorityBoost, 0, 0);
}

NTSTATUS IofCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRP))
        openwsk_verify_irp_sent(Irp);
    IoSetNextIrpStackLocation(Irp);
    if (Irp->CurrentLocation <= 0)
        KeBugCheckEx(0x35 /* NO_MORE_IRP_STACK_LOCATIONS */, (ULONG_PTR)Irp, 0, 0, 0);
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    sl->DeviceObject = DeviceObject;
    PDRIVER_DISPATCH dispatch = DeviceObject->DriverObject->MajorFunction[sl->MajorFunction];
    return dispatch(DeviceObject, Irp);
}

/* ---- cancellation ---- */

static volatile LONG cancel_lock;

void IoAcquireCancelSpinLock(PKIRQL Irql)
{
    KeRaiseIrql(DISPATCH_LEVEL, Irql);
    /* The holder may be descheduled (user mode): spin briefly, then yield. */
    for (unsigned spins = 0; __atomic_exchange_n(&cancel_lock, 1, __ATOMIC_ACQUIRE); spins++) {
        while (__atomic_load_n(&cancel_lock, __ATOMIC_RELAXED)) {
            if (++spins % 128 == 0)
                sched_yield();
            else
                YieldProcessor();
        }
    }
}

void IoReleaseCancelSpinLock(KIRQL Irql)
{
    __atomic_store_n(&cancel_lock, 0, __ATOMIC_RELEASE);
    KeLowerIrql(Irql);
}

BOOLEAN IoCancelIrp(PIRP Irp)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRP))
        openwsk_verify_irp_touched(Irp, "IoCancelIrp", FALSE);
    KIRQL irql;
    IoAcquireCancelSpinLock(&irql);
    __atomic_store_n(&Irp->Cancel, TRUE, __ATOMIC_SEQ_CST);
    PDRIVER_CANCEL routine = IoSetCancelRoutine(Irp, NULL);
    if (routine == NULL) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    /* The cancel routine releases the cancel spin lock itself. */
    Irp->CancelIrql = irql;
    PDEVICE_OBJECT device =
        Irp->CurrentLocation <= Irp->StackCount ? IoGetCurrentIrpStackLocation(Irp)->DeviceObject : NULL;
    routine(device, Irp);
    return TRUE;
}

/* ---- device objects ---- */

/* Device objects are reference-counted objects (object.c), as on Windows:
 * ObReferenceObject works on them, and one that IoDeleteDevice unlinked
 * stays in memory while a queued work item still holds a reference. */
static struct _OBJECT_TYPE io_device_type = {"Device"};

NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                        DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject)
{
    SIZE_T ext = ALIGN_UP_BY(DeviceExtensionSize, 16);
    PDEVICE_OBJECT dev = openwsk_object_create(sizeof(DEVICE_OBJECT) + ext, &io_device_type, NULL);
    if (dev == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    dev->Type = IO_TYPE_DEVICE;
    dev->Size = (USHORT)(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
    dev->ReferenceCount = 0;
    dev->DriverObject = DriverObject;
    dev->DeviceExtension = DeviceExtensionSize ? (PUCHAR)dev + sizeof(DEVICE_OBJECT) : NULL;
    dev->DeviceType = DeviceType;
    dev->Characteristics = DeviceCharacteristics;
    dev->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0);
    dev->StackSize = 1;
    dev->AlignmentRequirement = 0;
    KeInitializeEvent(&dev->DeviceLock, SynchronizationEvent, TRUE);
    InitializeListHead(&dev->Queue.ListEntry);
    if (DeviceName != NULL || (DeviceCharacteristics & FILE_AUTOGENERATED_DEVICE_NAME)) {
        NTSTATUS st = openwsk_namespace_add_device(dev, DeviceName,
                                                   (DeviceCharacteristics & FILE_AUTOGENERATED_DEVICE_NAME) != 0);
        if (!NT_SUCCESS(st)) {
            ObfDereferenceObject(dev);
            return st;
        }
    }
    dev->NextDevice = DriverObject->DeviceObject;
    DriverObject->DeviceObject = dev;
    *DeviceObject = dev;
    return STATUS_SUCCESS;
}

void IoDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    PDRIVER_OBJECT drv = DeviceObject->DriverObject;
    for (PDEVICE_OBJECT *link = &drv->DeviceObject; *link != NULL; link = &(*link)->NextDevice) {
        if (*link == DeviceObject) {
            *link = DeviceObject->NextDevice;
            break;
        }
    }
    /* A device with open files stays until the last one is closed; its
     * memory goes with the object's last reference (a work item's too). */
    if (openwsk_namespace_remove_device(DeviceObject))
        ObfDereferenceObject(DeviceObject);
}
