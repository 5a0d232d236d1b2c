/*
 * test_layout_kernel.c - sizes, offsets and alignments of the kernel
 * structures against Windows x64, plus the basic LLP64 types and the
 * constants drivers compile into their binaries.
 *
 * Ground truth: the mingw-w64 DDK headers compiled with
 * x86_64-w64-mingw32-gcc, except where mingw-w64 drops the WDK's
 * DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) on _IRP and _DEVICE_OBJECT:
 * there the WDK wins (sizeof(DEVICE_OBJECT) is 0x150 on x64, not the 328
 * mingw-w64 computes).
 */
#include <ntddk.h>

#include "wt.h"

#define SZ(type, expected) CHECK_EQ(sizeof(type), (expected))
#define AL(type, expected) CHECK_EQ(_Alignof(type), (expected))
#define OF(type, member, expected) CHECK_EQ(offsetof(type, member), (expected))

static void basic_types(void)
{
    SZ(ULONG, 4);
    SZ(LONG, 4);
    SZ(USHORT, 2);
    SZ(UCHAR, 1);
    SZ(WCHAR, 2);
    CHECK_EQ(sizeof(L'a'), 2);
    CHECK_EQ(sizeof(L"ab"), 6);
    SZ(SIZE_T, 8);
    SZ(ULONG_PTR, 8);
    SZ(LONG_PTR, 8);
    SZ(ULONGLONG, 8);
    SZ(BOOLEAN, 1);
    SZ(KIRQL, 1);
    SZ(NTSTATUS, 4);
    SZ(HANDLE, 8);
    SZ(LARGE_INTEGER, 8);
    SZ(ULARGE_INTEGER, 8);
    SZ(LUID, 8);
    SZ(GUID, 16);
    SZ(LIST_ENTRY, 16);
    SZ(SINGLE_LIST_ENTRY, 8);
    SZ(UNICODE_STRING, 16);
    OF(UNICODE_STRING, MaximumLength, 2);
    OF(UNICODE_STRING, Buffer, 8);
    SZ(ANSI_STRING, 16);
    SZ(CLIENT_ID, 16);
    SZ(PROCESSOR_NUMBER, 4);
    SZ(OBJECT_ATTRIBUTES, 48);
    OF(OBJECT_ATTRIBUTES, RootDirectory, 8);
    OF(OBJECT_ATTRIBUTES, ObjectName, 16);
    OF(OBJECT_ATTRIBUTES, Attributes, 24);
    OF(OBJECT_ATTRIBUTES, SecurityDescriptor, 32);
    OF(OBJECT_ATTRIBUTES, SecurityQualityOfService, 40);
    SZ(OSVERSIONINFOEXW, 284);
    OF(OSVERSIONINFOEXW, szCSDVersion, 20);
    OF(OSVERSIONINFOEXW, wServicePackMajor, 276);
    OF(OSVERSIONINFOEXW, wSuiteMask, 280);
    OF(OSVERSIONINFOEXW, wProductType, 282);
    SZ(RTL_OSVERSIONINFOW, 276);
    SZ(OSVERSIONINFOW, 276);
}

static void synchronization_objects(void)
{
    SZ(DISPATCHER_HEADER, 24);
    OF(DISPATCHER_HEADER, SignalState, 4);
    OF(DISPATCHER_HEADER, WaitListHead, 8);
    SZ(KEVENT, 24);
    SZ(KSEMAPHORE, 32);
    OF(KSEMAPHORE, Limit, 24);
    SZ(KWAIT_BLOCK, 48);
    SZ(KSPIN_LOCK, 8);
    SZ(EX_SPIN_LOCK, 4);
    SZ(EX_PUSH_LOCK, 8);
    SZ(KSPIN_LOCK_QUEUE, 16);
    OF(KSPIN_LOCK_QUEUE, Lock, 8);
    SZ(KLOCK_QUEUE_HANDLE, 24);
    OF(KLOCK_QUEUE_HANDLE, LockQueue, 0);
    OF(KLOCK_QUEUE_HANDLE, OldIrql, 16);
    SZ(FAST_MUTEX, 56);
    OF(FAST_MUTEX, Count, 0);
    OF(FAST_MUTEX, Owner, 8);
    OF(FAST_MUTEX, Contention, 16);
    OF(FAST_MUTEX, Event, 24);
    OF(FAST_MUTEX, OldIrql, 48);
    SZ(KGUARDED_MUTEX, 56);
    SZ(EX_RUNDOWN_REF, 8);
    SZ(KDPC, 64);
    OF(KDPC, DpcListEntry, 8);
    OF(KDPC, DeferredRoutine, 24);
    OF(KDPC, DeferredContext, 32);
    OF(KDPC, SystemArgument1, 40);
    OF(KDPC, DpcData, 56);
    OF(KDPC, SystemArgument2, 48);
    OF(KDPC, ProcessorHistory, 16);
    SZ(KTIMER, 64);
    OF(KTIMER, Header, 0);
    OF(KTIMER, DueTime, 24);
    OF(KTIMER, TimerListEntry, 32);
    OF(KTIMER, Dpc, 48);
    OF(KTIMER, Processor, 56);
    OF(KTIMER, Period, 60);
    SZ(EXT_SET_PARAMETERS, 16);
    OF(EXT_SET_PARAMETERS, NoWakeTolerance, 8);
    SZ(EXT_DELETE_PARAMETERS, 24);
    OF(EXT_DELETE_PARAMETERS, DeleteCallback, 8);
    OF(EXT_DELETE_PARAMETERS, DeleteContext, 16);
    CHECK_EQ(DpcObject, 19);
    CHECK_EQ(ThreadedDpcObject, 24);
    CHECK_EQ(TimerNotificationObject, 8);
    CHECK_EQ(TimerSynchronizationObject, 9);
    CHECK_EQ(EX_TIMER_HIGH_RESOLUTION, 0x4);
    CHECK_EQ(EX_TIMER_NO_WAKE, 0x8);
    CHECK_EQ(EX_TIMER_NOTIFICATION, 0x80000000u);
    SZ(KAPC, 88);
}

static void lists_and_lookaside(void)
{
    SZ(SLIST_HEADER, 16);
    AL(SLIST_HEADER, 16);
    SZ(SLIST_ENTRY, 16);
    AL(SLIST_ENTRY, 16);
    SZ(GENERAL_LOOKASIDE, 128);
    AL(GENERAL_LOOKASIDE, 64);
    OF(GENERAL_LOOKASIDE, ListHead, 0);
    OF(GENERAL_LOOKASIDE, Depth, 16);
    OF(GENERAL_LOOKASIDE, MaximumDepth, 18);
    OF(GENERAL_LOOKASIDE, TotalAllocates, 20);
    OF(GENERAL_LOOKASIDE, AllocateMisses, 24);
    OF(GENERAL_LOOKASIDE, TotalFrees, 28);
    OF(GENERAL_LOOKASIDE, FreeMisses, 32);
    OF(GENERAL_LOOKASIDE, Type, 36);
    OF(GENERAL_LOOKASIDE, Tag, 40);
    OF(GENERAL_LOOKASIDE, Size, 44);
    OF(GENERAL_LOOKASIDE, Allocate, 48);
    OF(GENERAL_LOOKASIDE, Free, 56);
    OF(GENERAL_LOOKASIDE, ListEntry, 64);
    OF(GENERAL_LOOKASIDE, LastTotalAllocates, 80);
    OF(GENERAL_LOOKASIDE, LastAllocateMisses, 84);
    OF(GENERAL_LOOKASIDE, Future, 88);
    SZ(GENERAL_LOOKASIDE_POOL, 96);
    AL(GENERAL_LOOKASIDE_POOL, 16);
    OF(GENERAL_LOOKASIDE_POOL, Depth, 16);
    OF(GENERAL_LOOKASIDE_POOL, Type, 36);
    OF(GENERAL_LOOKASIDE_POOL, AllocateEx, 48);
    OF(GENERAL_LOOKASIDE_POOL, FreeEx, 56);
    OF(GENERAL_LOOKASIDE_POOL, ListEntry, 64);
    OF(GENERAL_LOOKASIDE_POOL, Future, 88);
    SZ(NPAGED_LOOKASIDE_LIST, 128);
    AL(NPAGED_LOOKASIDE_LIST, 64);
    SZ(PAGED_LOOKASIDE_LIST, 128);
    SZ(LOOKASIDE_LIST_EX, 96);
    AL(LOOKASIDE_LIST_EX, 16);
    CHECK_EQ(LOOKASIDE_MINIMUM_BLOCK_SIZE, 8);
}

static void io_structures(void)
{
    SZ(IO_STATUS_BLOCK, 16);
    OF(IO_STATUS_BLOCK, Status, 0);
    OF(IO_STATUS_BLOCK, Pointer, 0);
    OF(IO_STATUS_BLOCK, Information, 8);

    SZ(MDL, 48);
    OF(MDL, Next, 0);
    OF(MDL, Size, 8);
    OF(MDL, MdlFlags, 10);
    OF(MDL, Process, 16);
    OF(MDL, MappedSystemVa, 24);
    OF(MDL, StartVa, 32);
    OF(MDL, ByteCount, 40);
    OF(MDL, ByteOffset, 44);

    SZ(IRP, 208);
    AL(IRP, 16); /* DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) in the WDK */
    OF(IRP, Type, 0);
    OF(IRP, Size, 2);
    OF(IRP, MdlAddress, 8);
    OF(IRP, Flags, 16);
    OF(IRP, AssociatedIrp, 24);
    OF(IRP, AssociatedIrp.SystemBuffer, 24);
    OF(IRP, ThreadListEntry, 32);
    OF(IRP, IoStatus, 48);
    OF(IRP, RequestorMode, 64);
    OF(IRP, PendingReturned, 65);
    OF(IRP, StackCount, 66);
    OF(IRP, CurrentLocation, 67);
    OF(IRP, Cancel, 68);
    OF(IRP, CancelIrql, 69);
    OF(IRP, ApcEnvironment, 70);
    OF(IRP, AllocationFlags, 71);
    OF(IRP, UserIosb, 72);
    OF(IRP, UserEvent, 80);
    OF(IRP, Overlay, 88);
    OF(IRP, Overlay.AsynchronousParameters.UserApcContext, 96);
    OF(IRP, CancelRoutine, 104);
    OF(IRP, UserBuffer, 112);
    OF(IRP, Tail.Overlay.DeviceQueueEntry, 120);
    OF(IRP, Tail.Overlay.DriverContext, 120);
    OF(IRP, Tail.Overlay.Thread, 152);
    OF(IRP, Tail.Overlay.AuxiliaryBuffer, 160);
    OF(IRP, Tail.Overlay.ListEntry, 168);
    OF(IRP, Tail.Overlay.CurrentStackLocation, 184);
    OF(IRP, Tail.Overlay.PacketType, 184);
    OF(IRP, Tail.Overlay.OriginalFileObject, 192);
    OF(IRP, Tail.Apc, 120);
    OF(IRP, Tail.CompletionKey, 120);

    SZ(IO_STACK_LOCATION, 72);
    OF(IO_STACK_LOCATION, MajorFunction, 0);
    OF(IO_STACK_LOCATION, MinorFunction, 1);
    OF(IO_STACK_LOCATION, Flags, 2);
    OF(IO_STACK_LOCATION, Control, 3);
    OF(IO_STACK_LOCATION, Parameters, 8);
    OF(IO_STACK_LOCATION, DeviceObject, 40);
    OF(IO_STACK_LOCATION, FileObject, 48);
    OF(IO_STACK_LOCATION, CompletionRoutine, 56);
    OF(IO_STACK_LOCATION, Context, 64);
    OF(IO_STACK_LOCATION, Parameters.DeviceIoControl.OutputBufferLength, 8);
    OF(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength, 16);
    OF(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode, 24);
    OF(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer, 32);
    OF(IO_STACK_LOCATION, Parameters.Others.Argument1, 8);
    OF(IO_STACK_LOCATION, Parameters.Others.Argument4, 32);
    OF(IO_STACK_LOCATION, Parameters.Read.Length, 8);
    OF(IO_STACK_LOCATION, Parameters.Read.Key, 16);
    OF(IO_STACK_LOCATION, Parameters.Read.ByteOffset, 24);
    OF(IO_STACK_LOCATION, Parameters.Create.Options, 16);
    OF(IO_STACK_LOCATION, Parameters.Create.FileAttributes, 24);
    OF(IO_STACK_LOCATION, Parameters.Create.ShareAccess, 26);
    OF(IO_STACK_LOCATION, Parameters.Create.EaLength, 32);
    CHECK_EQ(IoSizeOfIrp(1), 208 + 72);

    SZ(KDEVICE_QUEUE_ENTRY, 24);
    OF(KDEVICE_QUEUE_ENTRY, SortKey, 16);
    OF(KDEVICE_QUEUE_ENTRY, Inserted, 20);
    SZ(KDEVICE_QUEUE, 40);
    OF(KDEVICE_QUEUE, DeviceListHead, 8);
    OF(KDEVICE_QUEUE, Lock, 24);
    OF(KDEVICE_QUEUE, Busy, 32);
    SZ(WAIT_CONTEXT_BLOCK, 72);
}

static void driver_and_device_objects(void)
{
    SZ(DRIVER_EXTENSION, 40);
    OF(DRIVER_EXTENSION, AddDevice, 8);
    OF(DRIVER_EXTENSION, Count, 16);
    OF(DRIVER_EXTENSION, ServiceKeyName, 24);

    SZ(DRIVER_OBJECT, 336);
    OF(DRIVER_OBJECT, DeviceObject, 8);
    OF(DRIVER_OBJECT, Flags, 16);
    OF(DRIVER_OBJECT, DriverStart, 24);
    OF(DRIVER_OBJECT, DriverSize, 32);
    OF(DRIVER_OBJECT, DriverSection, 40);
    OF(DRIVER_OBJECT, DriverExtension, 48);
    OF(DRIVER_OBJECT, DriverName, 56);
    OF(DRIVER_OBJECT, HardwareDatabase, 72);
    OF(DRIVER_OBJECT, FastIoDispatch, 80);
    OF(DRIVER_OBJECT, DriverInit, 88);
    OF(DRIVER_OBJECT, DriverStartIo, 96);
    OF(DRIVER_OBJECT, DriverUnload, 104);
    OF(DRIVER_OBJECT, MajorFunction, 112);
    CHECK_EQ(RTL_NUMBER_OF(((DRIVER_OBJECT *)0)->MajorFunction), 28);

    /* 0x150 with the WDK's 16-byte alignment (mingw-w64 says 328). */
    SZ(DEVICE_OBJECT, 336);
    AL(DEVICE_OBJECT, 16);
    OF(DEVICE_OBJECT, ReferenceCount, 4);
    OF(DEVICE_OBJECT, DriverObject, 8);
    OF(DEVICE_OBJECT, NextDevice, 16);
    OF(DEVICE_OBJECT, AttachedDevice, 24);
    OF(DEVICE_OBJECT, CurrentIrp, 32);
    OF(DEVICE_OBJECT, Timer, 40);
    OF(DEVICE_OBJECT, Flags, 48);
    OF(DEVICE_OBJECT, Characteristics, 52);
    OF(DEVICE_OBJECT, Vpb, 56);
    OF(DEVICE_OBJECT, DeviceExtension, 64);
    OF(DEVICE_OBJECT, DeviceType, 72);
    OF(DEVICE_OBJECT, StackSize, 76);
    OF(DEVICE_OBJECT, Queue, 80);
    OF(DEVICE_OBJECT, AlignmentRequirement, 152);
    OF(DEVICE_OBJECT, DeviceQueue, 160);
    OF(DEVICE_OBJECT, Dpc, 200);
    OF(DEVICE_OBJECT, ActiveThreadCount, 264);
    OF(DEVICE_OBJECT, SecurityDescriptor, 272);
    OF(DEVICE_OBJECT, DeviceLock, 280);
    OF(DEVICE_OBJECT, SectorSize, 304);
    OF(DEVICE_OBJECT, DeviceObjectExtension, 312);
    OF(DEVICE_OBJECT, Reserved, 320);

    SZ(FILE_OBJECT, 0xD8);
    OF(FILE_OBJECT, DeviceObject, 0x08);
    OF(FILE_OBJECT, FsContext, 0x18);
    OF(FILE_OBJECT, FsContext2, 0x20);
    OF(FILE_OBJECT, FinalStatus, 0x38);
    OF(FILE_OBJECT, RelatedFileObject, 0x40);
    OF(FILE_OBJECT, ReadAccess, 0x4A);
    OF(FILE_OBJECT, Flags, 0x50);
    OF(FILE_OBJECT, FileName, 0x58);
    OF(FILE_OBJECT, CurrentByteOffset, 0x68);
    OF(FILE_OBJECT, Lock, 0x80);
    OF(FILE_OBJECT, Event, 0x98);
    OF(FILE_OBJECT, IrpList, 0xC0);
    SZ(IO_SECURITY_CONTEXT, 24);
    OF(IO_SECURITY_CONTEXT, DesiredAccess, 16);
}

static void constants(void)
{
    CHECK_EQ(PASSIVE_LEVEL, 0);
    CHECK_EQ(APC_LEVEL, 1);
    CHECK_EQ(DISPATCH_LEVEL, 2);
    CHECK_EQ(HIGH_LEVEL, 15);

    CHECK_EQ(IO_TYPE_IRP, 6);
    CHECK_EQ(IO_TYPE_DEVICE, 3);
    CHECK_EQ(IO_TYPE_DRIVER, 4);
    CHECK_EQ(SL_PENDING_RETURNED, 0x01);
    CHECK_EQ(SL_ERROR_RETURNED, 0x02);
    CHECK_EQ(SL_INVOKE_ON_CANCEL, 0x20);
    CHECK_EQ(SL_INVOKE_ON_SUCCESS, 0x40);
    CHECK_EQ(SL_INVOKE_ON_ERROR, 0x80);
    CHECK_EQ(IRP_MJ_DEVICE_CONTROL, 0x0e);
    CHECK_EQ(IRP_MJ_MAXIMUM_FUNCTION, 0x1b);

    /* wsk-part-b.md section 11.1 */
    CHECK_EQ(MDL_MAPPED_TO_SYSTEM_VA, 0x0001);
    CHECK_EQ(MDL_PAGES_LOCKED, 0x0002);
    CHECK_EQ(MDL_SOURCE_IS_NONPAGED_POOL, 0x0004);
    CHECK_EQ(MDL_ALLOCATED_FIXED_SIZE, 0x0008);
    CHECK_EQ(MDL_PARTIAL, 0x0010);
    CHECK_EQ(MDL_PARTIAL_HAS_BEEN_MAPPED, 0x0020);
    CHECK_EQ(MDL_IO_PAGE_READ, 0x0040);
    CHECK_EQ(MDL_WRITE_OPERATION, 0x0080);
    CHECK_EQ(MDL_PARENT_MAPPED_SYSTEM_VA, 0x0100);
    CHECK_EQ(MDL_FREE_EXTRA_PTES, 0x0200);
    CHECK_EQ(MDL_DESCRIBES_AWE, 0x0400);
    CHECK_EQ(MDL_IO_SPACE, 0x0800);
    CHECK_EQ(MDL_NETWORK_HEADER, 0x1000);
    CHECK_EQ(MDL_MAPPING_CAN_FAIL, 0x2000);
    CHECK_EQ(MDL_ALLOCATED_MUST_SUCCEED, 0x4000);
    CHECK_EQ(MDL_INTERNAL, 0x8000);

    /* wsk-part-b.md section 11.4 */
    CHECK_EQ(POOL_FLAG_USE_QUOTA, 0x1);
    CHECK_EQ(POOL_FLAG_UNINITIALIZED, 0x2);
    CHECK_EQ(POOL_FLAG_SESSION, 0x4);
    CHECK_EQ(POOL_FLAG_CACHE_ALIGNED, 0x8);
    CHECK_EQ(POOL_FLAG_RESERVED1, 0x10);
    CHECK_EQ(POOL_FLAG_RAISE_ON_FAILURE, 0x20);
    CHECK_EQ(POOL_FLAG_NON_PAGED, 0x40);
    CHECK_EQ(POOL_FLAG_NON_PAGED_EXECUTE, 0x80);
    CHECK_EQ(POOL_FLAG_PAGED, 0x100);
    CHECK_EQ(POOL_FLAG_RESERVED2, 0x200);
    CHECK_EQ(POOL_FLAG_RESERVED3, 0x400);
    CHECK_EQ(POOL_FLAG_SPECIAL_POOL, 0x100000000ULL);
    CHECK_EQ(sizeof(POOL_FLAGS), 8);
    CHECK_EQ(NonPagedPool, 0);
    CHECK_EQ(PagedPool, 1);
    CHECK_EQ(NonPagedPoolMustSucceed, 2);
    CHECK_EQ(NonPagedPoolCacheAligned, 4);
    CHECK_EQ(PagedPoolCacheAligned, 5);
    CHECK_EQ(NonPagedPoolNx, 512);
    CHECK_EQ(NonPagedPoolNxCacheAligned, 516);
    CHECK_EQ(POOL_RAISE_IF_ALLOCATION_FAILURE, 16);
    CHECK_EQ(POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, 8);
    CHECK_EQ(POOL_NX_ALLOCATION, 512);
    CHECK_EQ(EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL, 1);
    CHECK_EQ(EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE, 2);
    CHECK_EQ(EX_MAXIMUM_LOOKASIDE_DEPTH_BASE, 256);
    CHECK_EQ(PAGE_SIZE, 4096);
    CHECK_EQ(MEMORY_ALLOCATION_ALIGNMENT, 16);

    CHECK_EQ(IRQL_NOT_GREATER_OR_EQUAL, 0x09);
    CHECK_EQ(IRQL_NOT_LESS_OR_EQUAL, 0x0A);
    CHECK_EQ(KMODE_EXCEPTION_NOT_HANDLED, 0x1E);
    CHECK_EQ(BAD_POOL_CALLER, 0xC2);
    CHECK_EQ(EventNotificationObject, 0);
    CHECK_EQ(EventSynchronizationObject, 1);
    CHECK_EQ(NotificationEvent, 0);
    CHECK_EQ(SynchronizationEvent, 1);
}

static void generic_tables_and_error_log(void)
{
    SZ(RTL_SPLAY_LINKS, 24);
    OF(RTL_SPLAY_LINKS, LeftChild, 8);
    OF(RTL_SPLAY_LINKS, RightChild, 16);
    SZ(RTL_BALANCED_LINKS, 32);
    OF(RTL_BALANCED_LINKS, Balance, 24);
    OF(RTL_BALANCED_LINKS, Reserved, 25);
    SZ(RTL_GENERIC_TABLE, 0x48);
    OF(RTL_GENERIC_TABLE, InsertOrderList, 0x08);
    OF(RTL_GENERIC_TABLE, OrderedPointer, 0x18);
    OF(RTL_GENERIC_TABLE, WhichOrderedElement, 0x20);
    OF(RTL_GENERIC_TABLE, NumberGenericTableElements, 0x24);
    OF(RTL_GENERIC_TABLE, CompareRoutine, 0x28);
    OF(RTL_GENERIC_TABLE, AllocateRoutine, 0x30);
    OF(RTL_GENERIC_TABLE, FreeRoutine, 0x38);
    OF(RTL_GENERIC_TABLE, TableContext, 0x40);
    SZ(RTL_AVL_TABLE, 0x68);
    OF(RTL_AVL_TABLE, OrderedPointer, 0x20);
    OF(RTL_AVL_TABLE, WhichOrderedElement, 0x28);
    OF(RTL_AVL_TABLE, NumberGenericTableElements, 0x2C);
    OF(RTL_AVL_TABLE, DepthOfTree, 0x30);
    OF(RTL_AVL_TABLE, RestartKey, 0x38);
    OF(RTL_AVL_TABLE, DeleteCount, 0x40);
    OF(RTL_AVL_TABLE, CompareRoutine, 0x48);
    OF(RTL_AVL_TABLE, AllocateRoutine, 0x50);
    OF(RTL_AVL_TABLE, FreeRoutine, 0x58);
    OF(RTL_AVL_TABLE, TableContext, 0x60);
    CHECK_EQ(TableEmptyTree, 0);
    CHECK_EQ(TableFoundNode, 1);
    CHECK_EQ(TableInsertAsLeft, 2);
    CHECK_EQ(TableInsertAsRight, 3);
    CHECK_EQ(GenericLessThan, 0);
    CHECK_EQ(GenericGreaterThan, 1);
    CHECK_EQ(GenericEqual, 2);

    SZ(IO_ERROR_LOG_PACKET, 0x30);
    OF(IO_ERROR_LOG_PACKET, RetryCount, 0x01);
    OF(IO_ERROR_LOG_PACKET, DumpDataSize, 0x02);
    OF(IO_ERROR_LOG_PACKET, NumberOfStrings, 0x04);
    OF(IO_ERROR_LOG_PACKET, StringOffset, 0x06);
    OF(IO_ERROR_LOG_PACKET, EventCategory, 0x08);
    OF(IO_ERROR_LOG_PACKET, ErrorCode, 0x0C);
    OF(IO_ERROR_LOG_PACKET, UniqueErrorValue, 0x10);
    OF(IO_ERROR_LOG_PACKET, FinalStatus, 0x14);
    OF(IO_ERROR_LOG_PACKET, SequenceNumber, 0x18);
    OF(IO_ERROR_LOG_PACKET, IoControlCode, 0x1C);
    OF(IO_ERROR_LOG_PACKET, DeviceOffset, 0x20);
    OF(IO_ERROR_LOG_PACKET, DumpData, 0x28);
    SZ(IO_ERROR_LOG_MESSAGE, 0x48);
    OF(IO_ERROR_LOG_MESSAGE, TimeStamp, 0x08);
    OF(IO_ERROR_LOG_MESSAGE, DriverNameOffset, 0x10);
    OF(IO_ERROR_LOG_MESSAGE, EntryData, 0x18);
    CHECK_EQ(ERROR_LOG_MAXIMUM_SIZE, 240);
}

int main(void)
{
    WT_RUN(basic_types);
    WT_RUN(synchronization_objects);
    WT_RUN(lists_and_lookaside);
    WT_RUN(io_structures);
    WT_RUN(driver_and_device_objects);
    WT_RUN(constants);
    WT_RUN(generic_tables_and_error_log);
    return wt_finish();
}
