/*
 * test_kernel_misc.c - smaller kernel APIs a driver meets: IoSetCompletion-
 * RoutineEx, MmInitializeMdl on caller storage, ExAllocatePoolUninitialized
 * and ExAllocatePoolWithQuotaTag, KdPrint/KdPrintEx/ASSERT/NT_ASSERT in a
 * checked (DBG=1) build, RtlCompareMemory, the byte swaps, the doubly linked
 * list inlines' return values, CONTAINING_RECORD, FIELD_OFFSET and
 * Int32x32To64 (wsk-part-b.md §11; the WDK headers and the WRK for what
 * the functions return).
 */
#define DBG 1 /* a checked build: KdPrint and ASSERT are live */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <stdint.h>

#include "kernel/dbgprint_internal.h"
#include "wt.h"

#define TAG_MISC TAG_FROM_CHARS('T', 'm', 's', 'c')
#define TAG_QUOTA TAG_FROM_CHARS('T', 'q', 'u', 'o')

/* Result types are those of the WDK declarations. */
#define IS_TYPE_SIZE_T(expr) _Generic((expr), SIZE_T: 1, default: 0)
#define IS_TYPE_LONG(expr) _Generic((expr), LONG: 1, default: 0)

/* ---- IoSetCompletionRoutineEx ---- */

typedef struct routine_log {
    int calls;
    PDEVICE_OBJECT device;
    PVOID context;
    PIRP irp;
    NTSTATUS status;
    ULONG_PTR information;
    BOOLEAN pending_returned;
    NTSTATUS result;
} routine_log;

static NTSTATUS log_routine(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    routine_log *log = Context;
    log->calls++;
    log->device = DeviceObject;
    log->context = Context;
    log->irp = Irp;
    log->status = Irp->IoStatus.Status;
    log->information = Irp->IoStatus.Information;
    log->pending_returned = Irp->PendingReturned;
    return log->result;
}

/* What the driver below does: push its location, maybe pend, complete. */
static void lower_driver_completes(PIRP irp, NTSTATUS status, ULONG_PTR info, BOOLEAN pend)
{
    IoSetNextIrpStackLocation(irp);
    if (pend)
        IoMarkIrpPending(irp);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void completion_routine_ex_runs_like_the_plain_one(void)
{
    SIZE_T pool_before = openwsk_pool_outstanding_count(0);
    routine_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    PIRP irp = IoAllocateIrp(1, FALSE);
    CHECK(irp != NULL);
    /* Returns STATUS_SUCCESS when the routine was set. */
    CHECK_EQ(IoSetCompletionRoutineEx(NULL, irp, log_routine, &log, TRUE, TRUE, TRUE), STATUS_SUCCESS);
    lower_driver_completes(irp, STATUS_SUCCESS, 77, TRUE);
    CHECK_EQ(log.calls, 1);
    CHECK(log.context == &log);
    CHECK(log.irp == irp);
    CHECK(log.device == NULL); /* past the top of a driver-allocated IRP */
    CHECK_EQ(log.status, STATUS_SUCCESS);
    CHECK_EQ(log.information, 77);
    CHECK_EQ(log.pending_returned, TRUE);

    /* The same IRP again, reused, completing with an error. */
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    memset(&log, 0, sizeof(log));
    log.result = STATUS_MORE_PROCESSING_REQUIRED;
    CHECK_EQ(IoSetCompletionRoutineEx(NULL, irp, log_routine, &log, TRUE, TRUE, TRUE), STATUS_SUCCESS);
    lower_driver_completes(irp, STATUS_CONNECTION_RESET, 0, FALSE);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(log.status, STATUS_CONNECTION_RESET);
    CHECK_EQ(log.pending_returned, FALSE);
    IoFreeIrp(irp);
    /* Whatever the call set up is gone once the routine ran. */
    CHECK_EQ(openwsk_pool_outstanding_count(0), pool_before);
}

static void completion_routine_ex_honours_invoke_flags(void)
{
    static const struct {
        BOOLEAN on_success, on_error, on_cancel, cancel;
        NTSTATUS status;
        int calls;
    } cases[] = {
        {TRUE, FALSE, FALSE, FALSE, STATUS_SUCCESS, 1},
        {TRUE, FALSE, FALSE, FALSE, STATUS_INSUFFICIENT_RESOURCES, 0},
        {FALSE, TRUE, FALSE, FALSE, STATUS_INSUFFICIENT_RESOURCES, 1},
        {FALSE, TRUE, FALSE, FALSE, STATUS_SUCCESS, 0},
        {FALSE, FALSE, TRUE, TRUE, STATUS_CANCELLED, 1},
        {FALSE, FALSE, TRUE, FALSE, STATUS_CANCELLED, 0},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        routine_log ex = {.result = STATUS_MORE_PROCESSING_REQUIRED};
        routine_log plain = {.result = STATUS_MORE_PROCESSING_REQUIRED};
        PIRP a = IoAllocateIrp(1, FALSE), b = IoAllocateIrp(1, FALSE);
        CHECK_EQ(IoSetCompletionRoutineEx(NULL, a, log_routine, &ex, cases[i].on_success, cases[i].on_error,
                                          cases[i].on_cancel),
                 STATUS_SUCCESS);
        IoSetCompletionRoutine(b, log_routine, &plain, cases[i].on_success, cases[i].on_error, cases[i].on_cancel);
        a->Cancel = b->Cancel = cases[i].cancel;
        lower_driver_completes(a, cases[i].status, 0, FALSE);
        lower_driver_completes(b, cases[i].status, 0, FALSE);
        if (ex.calls != cases[i].calls || plain.calls != cases[i].calls)
            WT_FAIL("case %zu: Ex routine ran %d times, plain %d, expected %d", i, ex.calls, plain.calls,
                    cases[i].calls);
        IoFreeIrp(a);
        IoFreeIrp(b);
    }
}

/* A routine that does not stop the walk lets the IRP finish: the I/O
 * manager then sets UserIosb and UserEvent. */
static void completion_routine_ex_lets_the_irp_finish(void)
{
    routine_log log = {.result = STATUS_SUCCESS};
    IO_STATUS_BLOCK iosb = {.Information = 0xBAD};
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    PIRP irp = IoAllocateIrp(1, FALSE);
    irp->UserIosb = &iosb;
    irp->UserEvent = &done;
    CHECK_EQ(IoSetCompletionRoutineEx(NULL, irp, log_routine, &log, TRUE, TRUE, TRUE), STATUS_SUCCESS);
    lower_driver_completes(irp, STATUS_SUCCESS, 5, FALSE);
    CHECK_EQ(log.calls, 1);
    CHECK_EQ(iosb.Status, STATUS_SUCCESS);
    CHECK_EQ(iosb.Information, 5);
    CHECK_EQ(KeReadStateEvent(&done), 1);
    IoFreeIrp(irp);
}

/* ---- MmInitializeMdl ---- */

static void initialize_mdl_on_caller_storage(void)
{
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, 4 * PAGE_SIZE, TAG_MISC);
    CHECK(buf != NULL);
    static const struct {
        ULONG offset, length, pages;
    } cases[] = {
        {0, 1, 1},
        {0, PAGE_SIZE, 1},
        {0, PAGE_SIZE + 1, 2},
        {100, 2 * PAGE_SIZE, 3},
        {PAGE_SIZE - 1, 2, 2},
        {PAGE_SIZE + 17, 100, 1},
    };
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        PUCHAR va = buf + cases[i].offset;
        SIZE_T size = MmSizeOfMdl(va, cases[i].length);
        CHECK_EQ(size, sizeof(MDL) + cases[i].pages * sizeof(PFN_NUMBER));
        /* Exactly MmSizeOfMdl bytes of the driver's own memory, dirty. */
        PMDL mdl = ExAllocatePoolWithTag(NonPagedPoolNx, size, TAG_MISC);
        memset(mdl, 0xCC, size);
        MmInitializeMdl(mdl, va, cases[i].length);
        CHECK(mdl->Next == NULL);
        CHECK_EQ(mdl->Size, size);
        CHECK_EQ(mdl->MdlFlags, 0);
        CHECK(mdl->StartVa == PAGE_ALIGN(va));
        CHECK_EQ(mdl->ByteOffset, BYTE_OFFSET(va));
        CHECK_EQ(mdl->ByteOffset, ((ULONG_PTR)va) & (PAGE_SIZE - 1));
        CHECK_EQ(mdl->ByteCount, cases[i].length);
        CHECK_EQ(MmGetMdlByteCount(mdl), cases[i].length);
        CHECK_EQ(MmGetMdlByteOffset(mdl), BYTE_OFFSET(va));
        CHECK(MmGetMdlVirtualAddress(mdl) == va);
        /* Such an MDL is then built for nonpaged memory and mapped as usual. */
        MmBuildMdlForNonPagedPool(mdl);
        CHECK(mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL);
        CHECK(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == va);
        ExFreePoolWithTag(mdl, TAG_MISC);
    }
    /* On the stack, as drivers do for small fixed buffers. */
    UCHAR data[64];
    struct {
        MDL mdl;
        PFN_NUMBER pfn[2];
    } on_stack;
    MmInitializeMdl(&on_stack.mdl, data + 3, 40);
    CHECK(MmGetMdlVirtualAddress(&on_stack.mdl) == data + 3);
    CHECK_EQ(on_stack.mdl.ByteCount, 40);
    CHECK_EQ(on_stack.mdl.Size, sizeof(MDL) + ADDRESS_AND_SIZE_TO_SPAN_PAGES(data + 3, 40) * sizeof(PFN_NUMBER));
    CHECK(on_stack.mdl.Size <= (CSHORT)sizeof(on_stack));
    ExFreePoolWithTag(buf, TAG_MISC);
}

/* ---- pool ---- */

static void pool_uninitialized_and_quota_are_accounted(void)
{
    SIZE_T count0 = openwsk_pool_outstanding_count(TAG_MISC);
    SIZE_T bytes0 = openwsk_pool_outstanding_bytes(TAG_MISC);
    SIZE_T qcount0 = openwsk_pool_outstanding_count(TAG_QUOTA);
    SIZE_T qbytes0 = openwsk_pool_outstanding_bytes(TAG_QUOTA);

    PUCHAR u = ExAllocatePoolUninitialized(NonPagedPoolNx, 100, TAG_MISC);
    CHECK(u != NULL);
    CHECK_EQ((ULONG_PTR)u % 16, 0);
    memset(u, 0x5A, 100); /* all of it is the caller's */
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_MISC), count0 + 1);
    CHECK_EQ(openwsk_pool_outstanding_bytes(TAG_MISC), bytes0 + 100);
    PUCHAR big = ExAllocatePoolUninitialized(PagedPool, 2 * PAGE_SIZE, TAG_MISC);
    CHECK(big != NULL);
    CHECK_EQ((ULONG_PTR)big % PAGE_SIZE, 0); /* a page or more: page-aligned */
    memset(big, 0, 2 * PAGE_SIZE);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_MISC), count0 + 2);

    PUCHAR q = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, 200, TAG_QUOTA);
    CHECK(q != NULL);
    CHECK_EQ((ULONG_PTR)q % 16, 0);
    memset(q, 0xA5, 200);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_QUOTA), qcount0 + 1);
    CHECK_EQ(openwsk_pool_outstanding_bytes(TAG_QUOTA), qbytes0 + 200);
    PUCHAR q2 = ExAllocatePoolWithQuotaTag(PagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, 24, TAG_QUOTA);
    CHECK(q2 != NULL);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_QUOTA), qcount0 + 2);

    ExFreePoolWithTag(u, TAG_MISC);
    ExFreePool(big); /* any allocator's block frees with ExFreePool */
    ExFreePoolWithTag(q, TAG_QUOTA);
    ExFreePool(q2);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_MISC), count0);
    CHECK_EQ(openwsk_pool_outstanding_bytes(TAG_MISC), bytes0);
    CHECK_EQ(openwsk_pool_outstanding_count(TAG_QUOTA), qcount0);
}

static void pool_failures(void)
{
    SIZE_T count0 = openwsk_pool_outstanding_count(0);
    /* ExAllocatePoolUninitialized reports failure with NULL. */
    openwsk_fault_fail_allocation(1);
    CHECK(ExAllocatePoolUninitialized(NonPagedPoolNx, 64, TAG_MISC) == NULL);
    /* The quota allocator returns NULL only when told not to raise. */
    openwsk_fault_fail_allocation(1);
    CHECK(ExAllocatePoolWithQuotaTag(NonPagedPoolNx | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, 64, TAG_QUOTA) == NULL);
    /* Otherwise it raises; a failed pool allocation raises
     * STATUS_INSUFFICIENT_RESOURCES (WRK ExAllocatePoolWithQuotaTag: quota
     * is never charged to System, so no quota error arises). */
    volatile int raised = 0, after = 0;
    volatile NTSTATUS code = 0;
    openwsk_fault_fail_allocation(1);
    __try {
        PVOID p = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, 64, TAG_QUOTA);
        after = 1;
        if (p != NULL)
            ExFreePool(p);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        raised = 1;
        code = GetExceptionCode();
    }
    openwsk_fault_fail_allocation(0);
    CHECK_EQ(raised, 1);
    CHECK_EQ(after, 0);
    CHECK_EQ(code, STATUS_INSUFFICIENT_RESOURCES);
    CHECK_EQ(openwsk_pool_outstanding_count(0), count0);
}

/* ---- KdPrint, ASSERT (checked build) ---- */

static char dbg_text[1024];
static size_t dbg_len;
static int dbg_calls;

static void dbg_capture(const char *text, size_t len)
{
    if (dbg_len + len < sizeof(dbg_text)) {
        memcpy(dbg_text + dbg_len, text, len);
        dbg_len += len;
        dbg_text[dbg_len] = '\0';
    }
    dbg_calls++;
}

static void dbg_reset(void)
{
    dbg_text[0] = '\0';
    dbg_len = 0;
    dbg_calls = 0;
}

static void kdprint_prints_in_a_checked_build(void)
{
    ULONG saved = openwsk_dbg_get_mask();
    openwsk_dbg_set_sink(dbg_capture);
    openwsk_dbg_set_mask(0xFFFFFFFFu);
    dbg_reset();
    KdPrint(("kd %d %s\n", 42, "hello"));
    CHECK_EQ(dbg_calls, 1);
    CHECK_STR(dbg_text, "kd 42 hello\n");
    dbg_reset();
    KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "kdex %u %ls\n", 7u, L"wide"));
    CHECK_EQ(dbg_calls, 1);
    CHECK_STR(dbg_text, "kdex 7 wide\n");

    /* Under Windows' default filter only error-level messages appear:
     * KdPrint is DbgPrint, i.e. DPFLTR_INFO_LEVEL, and is filtered. */
    openwsk_dbg_set_mask(1u << DPFLTR_ERROR_LEVEL);
    dbg_reset();
    KdPrint(("filtered\n"));
    KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "filtered too\n"));
    CHECK_EQ(dbg_calls, 0);
    KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "shown\n"));
    CHECK_EQ(dbg_calls, 1);
    CHECK_STR(dbg_text, "shown\n");

    openwsk_dbg_set_sink(NULL);
    openwsk_dbg_set_mask(saved);
}

static void assert_on_true_expression_does_nothing(void)
{
    openwsk_dbg_set_sink(dbg_capture);
    dbg_reset();
    int evaluated = 0;
    /* DBG=1: the expression is evaluated (once) ... */
    ASSERT(++evaluated == 1);
    CHECK_EQ(evaluated, 1);
    NT_ASSERT(++evaluated == 2);
    CHECK_EQ(evaluated, 2);
    NT_ASSERTMSG("never shown", ++evaluated == 3);
    ASSERTMSG("never shown", ++evaluated == 4);
    CHECK_EQ(evaluated, 4);
    /* ... and, being true, yields TRUE with no output and no stop. */
    CHECK_EQ(ASSERT(evaluated == 4), TRUE);
    CHECK_EQ(NT_ASSERT(evaluated != 0), TRUE);
    CHECK_EQ(dbg_calls, 0);
    openwsk_dbg_set_sink(NULL);
}

/* ---- Rtl helpers and macros ---- */

static void rtl_compare_memory_counts_the_matching_prefix(void)
{
    UCHAR a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = b[i] = (UCHAR)(i * 7);
    CHECK_EQ(RtlCompareMemory(a, b, 32), 32); /* equal: the whole length */
    CHECK_EQ(RtlCompareMemory(a, b, 0), 0);
    b[13] ^= 1;
    CHECK_EQ(RtlCompareMemory(a, b, 32), 13); /* bytes before the first difference */
    CHECK_EQ(RtlCompareMemory(a, b, 10), 10);
    b[0] ^= 0x80;
    CHECK_EQ(RtlCompareMemory(a, b, 32), 0);
    /* Unaligned starts and lengths. */
    CHECK_EQ(RtlCompareMemory(a + 1, a + 1, 31), 31);
    CHECK_EQ(RtlCompareMemory(a + 3, b + 3, 20), 10);
    CHECK(IS_TYPE_SIZE_T(RtlCompareMemory(a, b, 1)));
}

static void byte_swaps(void)
{
    CHECK_EQ(RtlUlongByteSwap(0x12345678u), 0x78563412u);
    CHECK_EQ(RtlUlongByteSwap(0xFF000001u), 0x010000FFu);
    CHECK_EQ(RtlUshortByteSwap(0x1234), 0x3412);
    CHECK_EQ(RtlUshortByteSwap(0x00FF), 0xFF00);
    CHECK_EQ(RtlUlonglongByteSwap(0x0102030405060708ull), 0x0807060504030201ull);
    /* Network order for a port: 80 is 0x0050, on the wire 00 50. */
    USHORT port = RtlUshortByteSwap(80);
    UCHAR wire[2];
    memcpy(wire, &port, 2);
    CHECK_EQ(wire[0], 0x00);
    CHECK_EQ(wire[1], 0x50);
    CHECK_EQ(sizeof(RtlUshortByteSwap(1)), 2);
    CHECK_EQ(sizeof(RtlUlongByteSwap(1)), 4);
}

typedef struct item {
    int id;
    LIST_ENTRY link;
    char tail[5];
} item;

static int id_of(PLIST_ENTRY e)
{
    return CONTAINING_RECORD(e, item, link)->id;
}

static void list_inlines_return_values(void)
{
    LIST_ENTRY head;
    item it[4];
    for (int i = 0; i < 4; i++)
        it[i].id = i + 1;
    InitializeListHead(&head);
    CHECK(head.Flink == &head && head.Blink == &head);
    CHECK_EQ(IsListEmpty(&head), TRUE);
    /* RemoveHeadList of an empty list returns the head itself. */
    CHECK(RemoveHeadList(&head) == &head);
    CHECK_EQ(IsListEmpty(&head), TRUE);

    InsertTailList(&head, &it[0].link);
    InsertTailList(&head, &it[1].link);
    InsertTailList(&head, &it[2].link);
    InsertHeadList(&head, &it[3].link); /* 4 1 2 3 */
    CHECK_EQ(IsListEmpty(&head), FALSE);
    int order[4], n = 0;
    for (PLIST_ENTRY e = head.Flink; e != &head && n < 4; e = e->Flink)
        order[n++] = id_of(e);
    CHECK_EQ(n, 4);
    CHECK(order[0] == 4 && order[1] == 1 && order[2] == 2 && order[3] == 3);
    CHECK_EQ(id_of(head.Blink), 3);

    /* RemoveHeadList returns the removed entry. */
    PLIST_ENTRY first = RemoveHeadList(&head);
    CHECK(first == &it[3].link);
    /* RemoveEntryList returns TRUE only when the list became empty. */
    CHECK_EQ(RemoveEntryList(&it[1].link), FALSE); /* 1 3 left */
    CHECK(RemoveTailList(&head) == &it[2].link);   /* 1 left */
    CHECK_EQ(head.Flink, &it[0].link);
    CHECK_EQ(head.Blink, &it[0].link);
    CHECK_EQ(RemoveEntryList(&it[0].link), TRUE);
    CHECK_EQ(IsListEmpty(&head), TRUE);
    CHECK(head.Flink == &head && head.Blink == &head);
}

static void containing_record_and_field_offset(void)
{
    item x = {.id = 99};
    PLIST_ENTRY e = &x.link;
    CHECK(CONTAINING_RECORD(e, item, link) == &x);
    CHECK(CONTAINING_RECORD(&x.tail[0], item, tail) == &x);
    CHECK_EQ(FIELD_OFFSET(item, id), 0);
    CHECK_EQ(FIELD_OFFSET(item, link), 8);
    CHECK_EQ(FIELD_OFFSET(item, tail), 24);
    CHECK(IS_TYPE_LONG(FIELD_OFFSET(item, tail)));
    /* The x64 layouts drivers hard-code. */
    CHECK_EQ(FIELD_OFFSET(MDL, ByteCount), 0x28);
    CHECK_EQ(FIELD_OFFSET(MDL, ByteOffset), 0x2C);
    CHECK_EQ(FIELD_OFFSET(LIST_ENTRY, Blink), 8);
    CHECK_EQ(FIELD_OFFSET(IO_STATUS_BLOCK, Information), 8);
}

static void int32x32to64_multiplies_signed(void)
{
    CHECK_EQ(Int32x32To64(0x7FFFFFFF, 0x7FFFFFFF), 0x3FFFFFFF00000001LL);
    CHECK_EQ(Int32x32To64(-2, 0x40000000), -0x80000000LL);
    CHECK_EQ(Int32x32To64(-0x80000000LL, -0x80000000LL), 0x4000000000000000LL);
    /* Operands are taken as 32-bit signed: 0xFFFFFFFF is -1. */
    CHECK_EQ(Int32x32To64(0xFFFFFFFFu, 2), -2);
    CHECK_EQ(Int32x32To64(0x100000003LL, 5), 15); /* the high bits are cut off */
    CHECK_EQ(UInt32x32To64(0xFFFFFFFFu, 0xFFFFFFFFu), 0xFFFFFFFE00000001ull);
    /* The 100 ns arithmetic drivers do with it: 3000 ms as a relative timeout. */
    LARGE_INTEGER t;
    t.QuadPart = Int32x32To64(3000, -10000);
    CHECK_EQ(t.QuadPart, -30000000LL);
}

int main(void)
{
    WT_RUN(completion_routine_ex_runs_like_the_plain_one);
    WT_RUN(completion_routine_ex_honours_invoke_flags);
    WT_RUN(completion_routine_ex_lets_the_irp_finish);
    WT_RUN(initialize_mdl_on_caller_storage);
    WT_RUN(pool_uninitialized_and_quota_are_accounted);
    WT_RUN(pool_failures);
    WT_RUN(kdprint_prints_in_a_checked_build);
    WT_RUN(assert_on_true_expression_does_nothing);
    WT_RUN(rtl_compare_memory_counts_the_matching_prefix);
    WT_RUN(byte_swaps);
    WT_RUN(list_inlines_return_values);
    WT_RUN(containing_record_and_field_offset);
    WT_RUN(int32x32to64_multiplies_signed);
    return wt_finish();
}
