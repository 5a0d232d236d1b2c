/*
 * test_mdl.c - MDLs: layout bookkeeping, chains, nonpaged-pool MDLs,
 * MmProbeAndLockPages validating the range (raising STATUS_ACCESS_VIOLATION
 * into __try/__except instead of crashing), mapping, partial MDLs.
 */
#include <ntddk.h>
#include <openwsk_runtime.h>

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "wt.h"

#define TAG_TEST TAG_FROM_CHARS('T', 'm', 'd', 'l')

static void allocate_describes_the_buffer(void)
{
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * PAGE_SIZE, TAG_TEST);
    PUCHAR va = buf + 100;
    ULONG len = 2 * PAGE_SIZE; /* starts 100 bytes into a page: spans 3 pages */
    PMDL mdl = IoAllocateMdl(va, len, FALSE, FALSE, NULL);
    CHECK(mdl != NULL);
    CHECK(mdl->Next == NULL);
    CHECK_EQ(mdl->MdlFlags, 0);
    CHECK(mdl->StartVa == PAGE_ALIGN(va));
    CHECK_EQ(mdl->ByteOffset, 100);
    CHECK_EQ(MmGetMdlByteCount(mdl), len);
    CHECK(MmGetMdlVirtualAddress(mdl) == va);
    CHECK_EQ(mdl->Size, sizeof(MDL) + 3 * sizeof(PFN_NUMBER));
    CHECK_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, len), 3);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_MDL), 1);
    IoFreeMdl(mdl);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_MDL), 0);
    CHECK(IoAllocateMdl(va, 0, FALSE, FALSE, NULL) == NULL);
    ExFreePoolWithTag(buf, TAG_TEST);
}

/* Windows 7 and later describe buffers up to 4 GB - PAGE_SIZE with one MDL
 * (IoAllocateMdl, Remarks); the CSHORT Size then wraps, as MmInitializeMdl's
 * cast makes it, and the page count comes from ByteCount. */
static void large_buffers_up_to_4_gib_less_a_page(void)
{
    const SIZE_T len = 64u << 20;
    PUCHAR va = mmap(NULL, len + PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(va != MAP_FAILED);
    PUCHAR start = va + 100;
    PMDL mdl = IoAllocateMdl(start, (ULONG)len, FALSE, FALSE, NULL);
    CHECK(mdl != NULL);
    if (mdl != NULL) {
        ULONG pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(start, len);
        CHECK_EQ(pages, len / PAGE_SIZE + 1);
        CHECK_EQ(MmGetMdlByteCount(mdl), len);
        CHECK(MmGetMdlVirtualAddress(mdl) == start);
        MmBuildMdlForNonPagedPool(mdl);
        CHECK(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == start);
        PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
        CHECK_EQ(pfn[0], (ULONG_PTR)va >> PAGE_SHIFT);
        CHECK_EQ(pfn[pages - 1], ((ULONG_PTR)va >> PAGE_SHIFT) + pages - 1);
        IoFreeMdl(mdl);
    }
    munmap(va, len + PAGE_SIZE);
    /* The largest length is 4 GB - PAGE_SIZE, at a page boundary; one byte more is refused. */
    PVOID base = (PVOID)(ULONG_PTR)0x100000000000ull;
    PMDL largest = IoAllocateMdl(base, (ULONG)(0x100000000ull - PAGE_SIZE), FALSE, FALSE, NULL);
    CHECK(largest != NULL);
    if (largest != NULL) {
        CHECK_EQ(MmGetMdlByteCount(largest), 0x100000000ull - PAGE_SIZE);
        IoFreeMdl(largest);
    }
    CHECK(IoAllocateMdl(base, (ULONG)(0x100000000ull - PAGE_SIZE + 1), FALSE, FALSE, NULL) == NULL);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_MDL), 0);
}

/* IoBuildPartialMdl into a target IoAllocateMdl made: a large one reused
 * for a small piece gets that piece's page numbers (its wrapped Size says
 * nothing of its room); a small one given a large piece is written only
 * as far as it has room (ASan would see the overflow). */
static void partial_mdls_and_large_targets(void)
{
    const SIZE_T len = 32u << 20; /* 8,192 pages: Size 48 + 65,536 wraps to 48 */
    PUCHAR va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(va != MAP_FAILED);
    PMDL src = IoAllocateMdl(va, (ULONG)len, FALSE, FALSE, NULL);
    PMDL large = IoAllocateMdl(va, (ULONG)len, FALSE, FALSE, NULL);
    PMDL small = IoAllocateMdl(va, PAGE_SIZE, FALSE, FALSE, NULL);
    CHECK(src != NULL && large != NULL && small != NULL);
    if (src != NULL && large != NULL && small != NULL) {
        MmBuildMdlForNonPagedPool(src);
        PPFN_NUMBER pfn = MmGetMdlPfnArray(large);
        memset(pfn, 0, 16 * sizeof(PFN_NUMBER));
        IoBuildPartialMdl(src, large, va + 5 * PAGE_SIZE, 16 * PAGE_SIZE);
        ULONG_PTR first = ((ULONG_PTR)va >> PAGE_SHIFT) + 5;
        CHECK_EQ(pfn[0], first);
        CHECK_EQ(pfn[15], first + 15);
        IoBuildPartialMdl(src, small, va, 0); /* the whole source into room for one page */
        CHECK_EQ(MmGetMdlByteCount(small), len);
        CHECK_EQ(MmGetMdlPfnArray(small)[0], (ULONG_PTR)va >> PAGE_SHIFT);
    }
    if (small != NULL)
        IoFreeMdl(small);
    if (large != NULL)
        IoFreeMdl(large);
    if (src != NULL)
        IoFreeMdl(src);
    munmap(va, len);
    CHECK_EQ(openwsk_pool_outstanding_count(OPENWSK_TAG_MDL), 0);
}

static void irp_gets_primary_and_secondary_mdls(void)
{
    UCHAR a[64], b[64], c[64];
    PIRP irp = IoAllocateIrp(1, FALSE);
    PMDL m1 = IoAllocateMdl(a, sizeof(a), FALSE, FALSE, irp);
    PMDL m2 = IoAllocateMdl(b, sizeof(b), TRUE, FALSE, irp);
    PMDL m3 = IoAllocateMdl(c, sizeof(c), TRUE, FALSE, irp);
    CHECK(irp->MdlAddress == m1);
    CHECK(m1->Next == m2);
    CHECK(m2->Next == m3);
    CHECK(m3->Next == NULL);
    /* IoFreeIrp does not free attached MDLs: the driver walks the chain. */
    for (PMDL m = irp->MdlAddress, next; m != NULL; m = next) {
        next = m->Next;
        IoFreeMdl(m);
    }
    IoFreeIrp(irp);
}

static void nonpaged_pool_mdl_maps_to_itself(void)
{
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, 256, TAG_TEST);
    PMDL mdl = IoAllocateMdl(buf, 256, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    CHECK_EQ(mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL, MDL_SOURCE_IS_NONPAGED_POOL);
    CHECK(mdl->MappedSystemVa == buf);
    CHECK(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute) == buf);
    CHECK_EQ(MmGetMdlPfnArray(mdl)[0], (ULONG_PTR)buf >> PAGE_SHIFT);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG_TEST);
}

static void probe_and_lock_valid_memory(void)
{
    UCHAR stack_buf[300];
    PMDL mdl = IoAllocateMdl(stack_buf, sizeof(stack_buf), FALSE, FALSE, NULL);
    volatile NTSTATUS caught = STATUS_SUCCESS;
    __try {
        MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        caught = GetExceptionCode();
    }
    CHECK_EQ(caught, STATUS_SUCCESS);
    CHECK_EQ(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_WRITE_OPERATION), MDL_PAGES_LOCKED | MDL_WRITE_OPERATION);
    CHECK(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == stack_buf);
    CHECK_EQ(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA, MDL_MAPPED_TO_SYSTEM_VA);
    MmUnlockPages(mdl);
    CHECK_EQ(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA), 0);
    IoFreeMdl(mdl);
}

static NTSTATUS probe_status(PVOID va, ULONG len, LOCK_OPERATION op, PMDL *out_mdl)
{
    PMDL mdl = IoAllocateMdl(va, len, FALSE, FALSE, NULL);
    volatile NTSTATUS status = STATUS_SUCCESS;
    __try {
        MmProbeAndLockPages(mdl, KernelMode, op);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    *out_mdl = mdl;
    return status;
}

static void probe_rejects_unmapped_and_readonly_memory(void)
{
    PUCHAR region = mmap(NULL, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED);
    mprotect(region + PAGE_SIZE, PAGE_SIZE, PROT_NONE);
    mprotect(region + 2 * PAGE_SIZE, PAGE_SIZE, PROT_READ);
    PMDL mdl;

    CHECK_EQ(probe_status(region + PAGE_SIZE + 8, 16, IoReadAccess, &mdl), STATUS_ACCESS_VIOLATION);
    CHECK_EQ(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
    IoFreeMdl(mdl);

    /* Starts on a good page, runs into the inaccessible one. */
    CHECK_EQ(probe_status(region + PAGE_SIZE - 10, 20, IoReadAccess, &mdl), STATUS_ACCESS_VIOLATION);
    IoFreeMdl(mdl);

    CHECK_EQ(probe_status(region + 2 * PAGE_SIZE, 64, IoWriteAccess, &mdl), STATUS_ACCESS_VIOLATION);
    IoFreeMdl(mdl);
    CHECK_EQ(probe_status(region + 2 * PAGE_SIZE, 64, IoReadAccess, &mdl), STATUS_SUCCESS);
    CHECK_EQ(mdl->MdlFlags & MDL_PAGES_LOCKED, MDL_PAGES_LOCKED);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);

    region[5] = 0x5A; /* a write probe keeps the contents */
    CHECK_EQ(probe_status(region, 16, IoModifyAccess, &mdl), STATUS_SUCCESS);
    CHECK_EQ(region[5], 0x5A);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    munmap(region, 3 * PAGE_SIZE);
}

static void unlocked_mdl_has_no_system_address(void)
{
    UCHAR buf[32];
    PMDL mdl = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    CHECK(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == NULL);
    IoFreeMdl(mdl);
}

static void partial_mdl_describes_a_subrange(void)
{
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_TEST);
    PMDL src = IoAllocateMdl(buf, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(src);
    PMDL part = IoAllocateMdl(buf + 1000, 500, FALSE, FALSE, NULL);
    IoBuildPartialMdl(src, part, buf + 1000, 500);
    CHECK_EQ(part->MdlFlags & MDL_PARTIAL, MDL_PARTIAL);
    CHECK(MmGetMdlVirtualAddress(part) == buf + 1000);
    CHECK_EQ(MmGetMdlByteCount(part), 500);
    CHECK(MmGetSystemAddressForMdlSafe(part, NormalPagePriority) == buf + 1000);
    /* Length 0 means "to the end of the source". */
    IoBuildPartialMdl(src, part, buf + PAGE_SIZE, 0);
    CHECK_EQ(MmGetMdlByteCount(part), PAGE_SIZE);
    IoFreeMdl(part);
    IoFreeMdl(src);
    ExFreePoolWithTag(buf, TAG_TEST);
}

static void probe_for_read_and_write(void)
{
    UCHAR buf[16];
    volatile NTSTATUS s = STATUS_SUCCESS;
    __try {
        ProbeForRead(buf + 1, 4, 4);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        s = GetExceptionCode();
    }
    CHECK_EQ(s, ((ULONG_PTR)(buf + 1) & 3) ? STATUS_DATATYPE_MISALIGNMENT : STATUS_SUCCESS);
    s = STATUS_SUCCESS;
    __try {
        ProbeForWrite((PVOID)(ULONG_PTR)0x10, 8, 1);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        s = GetExceptionCode();
    }
    CHECK_EQ(s, STATUS_ACCESS_VIOLATION);
    CHECK_EQ(MmIsAddressValid(buf), TRUE);
    CHECK_EQ(MmIsAddressValid((PVOID)(ULONG_PTR)0x10), FALSE);
}

typedef struct writer_arg {
    volatile LONG *word;
    LONG volatile stop;
    LONG lost;
} writer_arg;

static void *store_and_check(void *p)
{
    writer_arg *a = p;
    for (LONG i = 1; !ReadAcquire(&a->stop); i++) {
        WriteNoFence(a->word, i);
        if (ReadNoFence(a->word) != i)
            a->lost++;
    }
    return NULL;
}

static void write_probe_never_undoes_a_store(void)
{
    /* Probing for write access must not write: a concurrent store to the
     * same page would be lost. */
    static _Alignas(PAGE_SIZE) LONG page[PAGE_SIZE / sizeof(LONG)];
    writer_arg a = {&page[0], 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, store_and_check, &a);
    for (int i = 0; i < 20000; i++) {
        PMDL mdl = IoAllocateMdl(page, sizeof(page), FALSE, FALSE, NULL);
        MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
        MmUnlockPages(mdl);
        IoFreeMdl(mdl);
    }
    InterlockedExchange(&a.stop, 1);
    pthread_join(t, NULL);
    CHECK_EQ(a.lost, 0);
}

static void allocation_failure_gives_null(void)
{
    UCHAR buf[8];
    openwsk_fault_fail_allocation(1);
    CHECK(IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL) == NULL);
}

int main(void)
{
    WT_RUN(allocate_describes_the_buffer);
    WT_RUN(large_buffers_up_to_4_gib_less_a_page);
    WT_RUN(partial_mdls_and_large_targets);
    WT_RUN(irp_gets_primary_and_secondary_mdls);
    WT_RUN(nonpaged_pool_mdl_maps_to_itself);
    WT_RUN(probe_and_lock_valid_memory);
    WT_RUN(probe_rejects_unmapped_and_readonly_memory);
    WT_RUN(unlocked_mdl_has_no_system_address);
    WT_RUN(partial_mdl_describes_a_subrange);
    WT_RUN(probe_for_read_and_write);
    WT_RUN(write_probe_never_undoes_a_store);
    WT_RUN(allocation_failure_gives_null);
    CHECK_EQ(openwsk_pool_outstanding_count(0), 0);
    return wt_finish();
}
